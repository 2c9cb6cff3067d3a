#pragma once

// The sparse raft index of a segment: a few (raft index, byte position) points, so that reading
// the entries from some raft index on (shard_log::read_entries, the truncation's search for its
// cut) scans at most about one interval of a segment instead of the segment from its start.
//
// A point is taken for the first entry that starts `interval_bytes` or more past the previous
// point (or past the segment's start, which needs no point). Points of the active segment are
// taken as its entries become durable (and when recovery replays it); points of a closed segment
// are taken lazily, by the reads that scan it, and may be dropped to bound memory (shard_log keeps
// the points of closed segments within log_config::raft_index_memory_bytes, least recently used
// out first). Without points a reader starts at the segment's start: points only save work.
//
// Lives inside its segment, on the shard that owns the log.

#include <cstddef>
#include <cstdint>
#include <optional>
#include <vector>

#include "reactor/base/ids.h"

namespace wharf {

// Where an entry starts in its segment file.
struct index_point {
    raft_index index{0};
    uint64_t position = 0;
};

class segment_points {
public:
    // Whether an entry starting at `position` should become a point.
    bool due(uint64_t position, uint64_t interval_bytes) const noexcept {
        uint64_t last = _points.empty() ? 0 : _points.back().position;
        return position > last && position - last >= interval_bytes;
    }
    // REQUIRES: index and position are after the last point's.
    void add(raft_index index, uint64_t position);
    // The last point at or before `index`; nullopt when there is none (start at the segment's
    // start).
    std::optional<index_point> floor(raft_index index) const noexcept;
    // Drops the points of entries after `last` (a truncation of the segment's tail).
    void cut_after(raft_index last) noexcept;
    // Drops every point and gives the memory back.
    void clear() noexcept;

    size_t size() const noexcept { return _points.size(); }
    bool empty() const noexcept { return _points.empty(); }
    size_t memory_bytes() const noexcept { return _points.capacity() * sizeof(index_point); }

    // A logical clock value of the last read that used these points (least recently used out
    // first).
    uint64_t last_used = 0;

private:
    std::vector<index_point> _points;
};

}  // namespace wharf
