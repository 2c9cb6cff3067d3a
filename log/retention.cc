// Retention and DeleteRecords (DESIGN.md section 4). A partition's log start offset only moves
// through a control entry appended to the log, so the move survives a restart (recovery applies
// control entries) and, later, replicates with raft. Segments are then deleted oldest first while
// no live batch of any partition remains in them.
//
// Only a prefix of segments is ever deleted, never one in the middle: the log is also the raft
// log, whose entries must stay a contiguous range of indexes. A dead segment behind a live one
// waits for it (or for the cleaner, which will rewrite pinned segments).

#include <algorithm>

#include "log/durable_file.h"
#include "log/errc.h"
#include "log/shard_log.h"
#include "reactor/clock.h"
#include "reactor/logger.h"
#include "reactor/when_all.h"

namespace wharf {

namespace {

// The start offset retention wants for a partition; `current` when it keeps everything.
kafka_offset retention_start(const partition_config& cfg, const partition_index& index,
                             kafka_offset current, kafka_offset end, timestamp_ms now) {
    kafka_offset start = current;
    auto start_at = [&](size_t i) { return i < index.size() ? index[i].base() : end; };
    if (cfg.retention_ms) {
        timestamp_ms cutoff = now - cfg.retention_ms->count();
        // Batches before the first whose (running) max timestamp reaches the cutoff are expired.
        start = std::max(start, start_at(index.find_timestamp(cutoff)));
    }
    if (cfg.retention_bytes) {
        uint64_t held = index.bytes();
        size_t i = 0;
        while (i < index.size() && held > *cfg.retention_bytes) held -= index[i++].batch_bytes;
        start = std::max(start, start_at(i));
    }
    return start;
}

}  // namespace

task<status> shard_log::append_control(partition_id p, term_id term, kafka_offset start) {
    auto hold = _gate.hold();
    if (!hold) co_return log_errc::shutting_down;
    if (_truncating || _held_appends > 0) co_await wait_for_truncation();
    if (auto s = check_can_append(); !s) co_return s;
    if (find_partition(p) == nullptr) co_return log_errc::partition_unknown;
    WHARF_ASSERT(term >= _next_term, "append in term {} after term {}", term, _next_term);
    control_entry c{control_kind::set_start_offset, start.value()};
    auto payload = encode_control(c);
    pending_entry e;
    e.header.index = _next_index;
    e.header.term = term;
    e.header.partition = p;
    e.header.type = entry_type::control;
    e.header.payload_bytes = static_cast<uint32_t>(payload.size());
    e.payload = iobuf::copy_of(payload.data(), payload.size());
    e.control = c;
    append_slot slot;
    e.slot = &slot;
    enqueue(std::move(e));
    co_return co_await await_durable(slot);
}

void shard_log::apply_start_offset(partition_id p, partition_state& ps, kafka_offset start,
                                   raft_index at) {
    if (advance_start(ps, start, at)) _cache.drop_before(p, start);
}

bool shard_log::advance_start(partition_state& ps, kafka_offset start, raft_index at) {
    if (start <= ps.start_offset) return false;
    ps.start_offset = start;
    ps.start_index = at;
    // A start past the end (a follower applying the leader's decision) empties the partition.
    if (ps.end_offset < start) ps.end_offset = start;
    if (ps.next_offset < start) ps.next_offset = start;
    ps.index.trim_before(start);
    return true;
}

task<status> shard_log::set_start_offset(partition_id p, kafka_offset offset, term_id term) {
    auto hold = _gate.hold();
    if (!hold) co_return log_errc::shutting_down;
    check_shard();
    // Judge the offset against the log as a truncation in progress leaves it.
    if (_truncating || _held_appends > 0) co_await wait_for_truncation();
    const partition_state* ps = find_partition(p);
    if (ps == nullptr) co_return log_errc::partition_unknown;
    if (offset > ps->end_offset || offset.value() < 0) co_return log_errc::offset_out_of_range;
    if (offset <= ps->start_offset) co_return status{};
    if (auto s = co_await append_control(p, term, offset); !s) co_return s;
    co_return co_await delete_dead_segments();
}

task<status> shard_log::apply_retention(term_id term) {
    auto hold = _gate.hold();
    if (!hold) co_return log_errc::shutting_down;
    check_shard();
    if (_truncating || _held_appends > 0) co_await wait_for_truncation();
    timestamp_ms now = wall_now();
    std::vector<task<status>> controls;
    for (const auto& [p, ps] : _partitions) {
        const auto& cfg = ps->config;
        if (!cfg.retention_ms && !cfg.retention_bytes) continue;
        kafka_offset start =
            retention_start(cfg, ps->index, ps->start_offset, ps->end_offset, now);
        if (start > ps->start_offset) controls.push_back(append_control(p, term, start));
    }
    // when_all starts them in order without suspending between them: one group commit.
    auto results = co_await when_all(std::move(controls));
    for (auto& r : results) {
        if (!r) co_return r;
    }
    co_return co_await delete_dead_segments();
}

task<status> shard_log::delete_dead_segments() {
    // During a truncation the segment table is the truncation's; the next retention pass deletes.
    if (_deleting || _truncating || _segments.size() < 2) co_return status{};
    // The oldest segment a live batch needs; the active segment is never deleted.
    uint32_t live = _segments.back()->seq();
    for (const auto& [p, ps] : _partitions) {
        if (!ps->index.empty()) live = std::min(live, ps->index.front().segment);
    }
    std::vector<std::shared_ptr<segment>> dead;
    for (const auto& s : _segments) {
        if (s->seq() >= live || !s->closed()) break;
        dead.push_back(s);
    }
    if (dead.empty()) co_return status{};
    _deleting = true;
    auto s = co_await write_checkpoint(*dead.back());
    if (s) {
        for (const auto& d : dead) {
            (void)co_await remove_file(d->index_path());
            if (auto r = co_await remove_file(d->path()); !r && s) s = r;
        }
        if (auto r = co_await sync_directory(_dir); !r && s) s = r;
        for (const auto& d : dead) {
            WHARF_ASSERT(_segments.front() == d, "segment {} deleted out of order", d->path());
            _segments.pop_front();
            if (d.use_count() == 1) (void)co_await d->close();  // else the last reader closes it
            ++_stats.segments_deleted;
        }
    }
    _deleting = false;
    // A truncation may wait for the deletion to end.
    _flush_done.notify_all();
    if (!s) {
        shard_logger().error("log {}: deleting old segments failed: {}", _dir, s.error().message());
        co_return as_log_error(s.error());
    }
    co_return status{};
}

task<status> shard_log::write_checkpoint(const segment& last_removed) {
    // The partitions' state at the end of the newest segment to go is in its index file.
    auto bytes = co_await read_whole_file(last_removed.index_path());
    if (!bytes) co_return bytes.error();
    auto idx = decode_index_file(*bytes);
    if (!idx) co_return idx.error();
    index_file_data ck;
    ck.kind = index_file_kind::prefix_checkpoint;
    ck.base_index = last_removed.last_index();
    ck.last_index = last_removed.last_index();
    ck.terms.push_back(term_run{last_removed.last_index(), *last_removed.last_term()});
    ck.partitions = std::move(idx->partitions);
    auto encoded = encode_index_file(ck);
    if (auto w = co_await write_file_durably(_dir, std::string(checkpoint_file_name), encoded);
        !w) {
        co_return w;
    }
    _removed_index = last_removed.last_index();
    _removed_term = *last_removed.last_term();
    co_return status{};
}

}  // namespace wharf
