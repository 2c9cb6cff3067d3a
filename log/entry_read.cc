// Raft's reads of whole entries (shard_log::read_entries): what a leader sends to a follower.
//
// An entry is found through its segment's sparse raft index (raft_index.h): the read starts at the
// last point at or before the first index it wants and scans forward with the segment scanner,
// which verifies every entry's checksum, so it reads at most about one point interval it does not
// return. Entries come from the segment files (the page cache keeps recent ones in memory); the
// tail cache holds record batches by partition and offset, not entries by raft index.
//
// Points of closed segments are taken by the reads that scan them and stay within
// log_config::raft_index_memory_bytes, counted as 16 bytes per point: when a new point would pass
// the bound, the points of the closed segment read least recently go (all of them), and when
// nothing else can go the point is not taken. The active segment's points are taken on append and
// are not counted (at most segment_bytes / raft_index_interval_bytes of them).

#include <algorithm>

#include "log/durable_file.h"
#include "log/errc.h"
#include "log/segment_scanner.h"
#include "log/shard_log.h"
#include "reactor/logger.h"

namespace wharf {

// One read_entries call in progress.
struct shard_log::entry_read {
    // The next index to return, and the last durable index when the read began.
    raft_index next{0};
    raft_index last{0};
    size_t max_bytes = 0;
    size_t bytes = 0;
    std::vector<stored_entry> entries;
    // No more entries: max_bytes reached, or what is left was removed meanwhile.
    bool done = false;
};

task<result<std::vector<stored_entry>>> shard_log::read_entries(raft_index from, size_t max_bytes) {
    auto hold = _gate.hold();
    if (!hold) co_return log_errc::shutting_down;
    check_shard();
    // A truncation changes what `from` means; read the log it leaves.
    while (_truncating) co_await _truncation_done.wait();
    if (from < first_index()) co_return log_errc::out_of_range;
    ++_stats.entry_reads;
    entry_read r;
    r.next = from;
    r.last = _durable_index;
    r.max_bytes = max_bytes;
    // A truncation waits for this read to end, so the segments it reads are not cut under it.
    ++_entry_reads;
    status s;
    while (s && !r.done && r.next <= r.last) s = co_await read_segment_entries(r);
    --_entry_reads;
    if (_entry_reads == 0 && _truncating) _flush_done.notify_all();
    if (!s) co_return s.error();
    _stats.entries_read += r.entries.size();
    co_return std::move(r.entries);
}

std::shared_ptr<segment> shard_log::segment_containing(raft_index index) const noexcept {
    auto it = std::partition_point(_segments.begin(), _segments.end(),
                                   [index](const auto& s) { return s->base_index() <= index; });
    if (it == _segments.begin()) return nullptr;
    const auto& seg = *std::prev(it);
    if (index > seg->last_index()) return nullptr;
    return seg;
}

task<status> shard_log::read_segment_entries(entry_read& r) {
    std::shared_ptr<segment> seg = segment_containing(r.next);
    if (!seg) {
        // Retention deleted the segment after the read began: return what was read.
        r.done = true;
        co_return status{};
    }
    seg->points().last_used = ++_point_clock;
    index_point start{seg->base_index(), 0};
    if (auto p = seg->points().floor(r.next)) start = *p;
    const raft_index seg_last = std::min(seg->last_index(), r.last);
    // Read about what is wanted at once: the scan to the first entry, then max_bytes.
    size_t chunk = std::clamp<size_t>(r.max_bytes + _cfg.raft_index_interval_bytes,
                                      size_t{64} << 10, size_t{1} << 20);
    segment_scanner scan(seg->handle(), seg->size_bytes(), chunk, start.position);
    for (raft_index expected = start.index; expected <= seg_last; ++expected) {
        auto e = co_await scan.next();
        if (!e) {
            shard_logger().error("log {}: read of {} failed: {}", _dir, seg->path(),
                                 e.error().message());
            co_return as_log_error(e.error());
        }
        // Every entry up to the last durable one was written whole and synced: a missing or bad
        // one is damage, never a torn write.
        if (!*e || (*e)->header.index != expected) {
            shard_logger().error("log {}: {} has no intact entry {} at byte {}", _dir, seg->path(),
                                 expected, scan.position());
            co_return log_errc::corrupt_entry;
        }
        const scanned_entry& se = **e;
        note_read_point(*seg, expected, se.position);
        if (expected < r.next) {
            _stats.entry_skipped_bytes += se.header.entry_bytes();
            continue;
        }
        size_t n = se.payload.size();
        if (!r.entries.empty() && r.bytes + n > r.max_bytes) {
            r.done = true;
            co_return status{};
        }
        stored_entry out;
        out.index = se.header.index;
        out.term = se.header.term;
        out.type = se.header.type;
        out.partition = se.header.partition;
        out.payload = iobuf::copy_of(se.payload);
        r.entries.push_back(std::move(out));
        r.bytes += n;
        ++r.next;
        // Full: stop before reading (and judging) an entry that will not be returned.
        if (r.bytes >= r.max_bytes) {
            r.done = true;
            co_return status{};
        }
    }
    co_return status{};
}

void shard_log::note_append_point(segment& seg, raft_index index, uint64_t position) {
    if (seg.points().due(position, _cfg.raft_index_interval_bytes)) {
        seg.points().add(index, position);
    }
}

void shard_log::note_read_point(segment& seg, raft_index index, uint64_t position) {
    if (!seg.points().due(position, _cfg.raft_index_interval_bytes)) return;
    if (seg.closed() && !make_point_room(&seg, sizeof(index_point))) return;
    seg.points().add(index, position);
}

void shard_log::note_segment_closed(segment& seg) {
    // The segment just closed is the one lagging followers read next: the last to lose its points.
    seg.points().last_used = ++_point_clock;
    make_point_room(nullptr, 0);
}

size_t shard_log::closed_points_bytes() const noexcept {
    size_t used = 0;
    for (const auto& s : _segments) {
        if (s->closed()) used += s->points().size() * sizeof(index_point);
    }
    return used;
}

bool shard_log::make_point_room(const segment* keep, size_t extra_bytes) {
    size_t used = closed_points_bytes();
    while (used + extra_bytes > _cfg.raft_index_memory_bytes) {
        segment* victim = nullptr;
        for (const auto& s : _segments) {
            if (!s->closed() || s.get() == keep || s->points().empty()) continue;
            if (victim == nullptr || s->points().last_used < victim->points().last_used) {
                victim = s.get();
            }
        }
        if (victim == nullptr) return false;
        used -= victim->points().size() * sizeof(index_point);
        victim->points().clear();
    }
    return true;
}

}  // namespace wharf
