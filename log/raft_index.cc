#include "log/raft_index.h"

#include <algorithm>

#include "reactor/base/assert.h"

namespace wharf {

void segment_points::add(raft_index index, uint64_t position) {
    WHARF_ASSERT(
        _points.empty() || (index > _points.back().index && position > _points.back().position),
        "raft index point ({}, {}) after ({}, {})", index, position, _points.back().index,
        _points.back().position);
    _points.push_back(index_point{index, position});
}

std::optional<index_point> segment_points::floor(raft_index index) const noexcept {
    auto it = std::partition_point(_points.begin(), _points.end(),
                                   [index](const index_point& p) { return p.index <= index; });
    if (it == _points.begin()) return std::nullopt;
    return *std::prev(it);
}

void segment_points::cut_after(raft_index last) noexcept {
    while (!_points.empty() && _points.back().index > last) _points.pop_back();
}

void segment_points::clear() noexcept {
    std::vector<index_point>().swap(_points);
}

}  // namespace wharf
