#include "log/partition_index.h"

#include <algorithm>

#include "reactor/base/assert.h"

namespace wharf {

void partition_index::push_back(batch_entry e) {
    WHARF_ASSERT(e.last_offset_delta >= 0, "batch with last offset delta {}", e.last_offset_delta);
    WHARF_ASSERT(empty() || e.base_offset > back().last().value(),
                 "batch at offset {} appended after a batch ending at {}", e.base_offset,
                 back().last());
    _max_timestamp = std::max(_max_timestamp, e.max_timestamp);
    e.max_timestamp = _max_timestamp;
    _bytes += e.batch_bytes;
    _entries.push_back(e);
}

size_t partition_index::find_offset(kafka_offset o) const noexcept {
    auto live = entries();
    auto it = std::partition_point(live.begin(), live.end(),
                                   [o](const batch_entry& e) { return e.last() < o; });
    return static_cast<size_t>(it - live.begin());
}

size_t partition_index::find_timestamp(timestamp_ms t) const noexcept {
    auto live = entries();
    auto it = std::partition_point(live.begin(), live.end(), [t](const batch_entry& e) {
        return e.max_timestamp < t.value();
    });
    return static_cast<size_t>(it - live.begin());
}

void partition_index::trim_before(kafka_offset start) {
    size_t n = find_offset(start);
    for (size_t i = 0; i < n; ++i) _bytes -= _entries[_head + i].batch_bytes;
    if (n > 0) _base_max_timestamp = _entries[_head + n - 1].max_timestamp;
    _head += n;
    compact();
}

void partition_index::drop_from(size_t i) {
    WHARF_ASSERT(i <= size(), "drop from batch {} of {}", i, size());
    for (size_t k = _head + i; k < _entries.size(); ++k) _bytes -= _entries[k].batch_bytes;
    _entries.resize(_head + i);
    // Entries hold the running maximum, so the last one left has it.
    _max_timestamp = empty() ? _base_max_timestamp : back().max_timestamp;
    compact();
}

void partition_index::compact() {
    if (_head == _entries.size()) {
        _entries.clear();
        _head = 0;
    } else if (_head >= 64 && _head * 2 >= _entries.size()) {
        _entries.erase(_entries.begin(), _entries.begin() + static_cast<ptrdiff_t>(_head));
        _head = 0;
    }
    // Give memory back after a large retention pass, but not on every small trim.
    if (_entries.capacity() > 1024 && _entries.size() * 4 < _entries.capacity()) {
        _entries.shrink_to_fit();
    }
}

}  // namespace wharf
