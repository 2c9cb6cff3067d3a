// Raft's truncation of the log's suffix (shard_log::truncate_suffix). Raft paper, Figure 2,
// AppendEntries step 3: a follower whose entry conflicts with the leader's deletes it and all that
// follow it. Afterwards nothing may tell that the removed entries were ever appended.
//
// Three steps:
//   1. Plan (suspends, changes nothing): find the cut segment C, the one holding last_kept + 1,
//      and the byte position P of that entry in it, scanning from the nearest point of C's
//      sparse raft index; rebuild from disk the partitions whose start offset a removed entry may
//      have moved (below); open C for writing when it is a closed segment.
//   2. Commit (synchronous, so that no reader sees half of it): the segments after C leave the
//      table; C is cut to P and is the active segment again (a closed C is replaced by a writable
//      copy with the same sequence number); each partition drops its batches at or after (C, P),
//      which are the back of its index, and takes its end offset from what remains; the tail
//      cache drops them too; the raft positions and the offsets to assign go back to last_kept
//      as after a failed group commit (rewind_to_durable).
//   3. Files: the later segments are deleted newest first, the directory synced after each, so
//      that a crash at any point leaves a prefix of the old log; then C is cut back to P and
//      fdatasynced (segment::cut_back, the failed write's path). A crash before that leaves the
//      longer log, still a valid raft log: the caller had no answer yet.
//
// Start offsets. A data entry only adds a batch at the back of its partition, so undoing it is
// popping that batch. A control entry moves the start offset and trims the index, which popping
// cannot undo. Each partition remembers the raft index of the entry that last moved its start
// (start_index); a partition whose start_index is after last_kept is rebuilt from what remains
// exactly as recovery builds it: the prefix checkpoint's row, then the index files of the segments
// before C (their batches, then their rows), then C's own entries up to last_kept, read on the way
// to P. Every other partition keeps its start offset. If retention has already deleted segments
// because of a control entry the truncation would remove (a rebuilt start below the next offset
// the checkpoint records), the truncation is refused: the batches that start would expose are
// gone. Raft avoids this by deleting only what committed entries released.
//
// Concurrency: _truncating makes appends (and retention's control entries) and read_entries wait,
// and segment deletion skip; the truncation then waits for the group commit, the deletion and the
// entry reads in flight. Kafka reads are not waited for: one that raced the cut sees that a
// truncation happened (_truncations) and answers offset_out_of_range.

#include <fcntl.h>

#include <algorithm>

#include "log/durable_file.h"
#include "log/errc.h"
#include "log/segment_scanner.h"
#include "log/shard_log.h"
#include "reactor/logger.h"

namespace wharf {

struct shard_log::truncation_plan {
    raft_index last_kept{0};
    term_id last_term{0};
    // C: its place in _segments, the segment itself and where last_kept + 1 begins in it.
    size_t cut = 0;
    std::shared_ptr<segment> cut_segment;
    uint64_t cut_position = 0;
    // C's writable copy, when C is closed.
    std::shared_ptr<segment> reopened;
    // Partitions whose start offset must be recomputed, as rebuilt; the checkpoint's rows of them.
    std::unordered_map<partition_id, std::unique_ptr<partition_state>> rebuilt;
    std::unordered_map<partition_id, partition_state_row> checkpoint_rows;
    // The segments after C, out of the table once committed.
    std::vector<std::shared_ptr<segment>> removed;
};

task<void> shard_log::wait_for_truncation() {
    ++_held_appends;
    do {
        co_await _truncation_done.wait();
    } while (_truncating);
    --_held_appends;
    // An append made after the truncation ended but before the held ones resumed waits behind
    // them (it saw _held_appends): wake it once the appends ahead of it have gone.
    if (_held_appends > 0 && _truncation_done.waiters() > 0) _truncation_done.notify_all();
}

task<status> shard_log::truncate_suffix(raft_index last_kept) {
    auto hold = _gate.hold();
    if (!hold) co_return log_errc::shutting_down;
    check_shard();
    while (_truncating) co_await _truncation_done.wait();
    _truncating = true;
    auto s = co_await truncate_locked(last_kept);
    _truncating = false;
    _truncation_done.notify_all();
    co_return s;
}

task<status> shard_log::truncate_locked(raft_index last_kept) {
    // Nothing new starts meanwhile (appends wait, deletion skips).
    while (!_pending.empty() || _flushing || _deleting || _entry_reads > 0) {
        co_await _flush_done.wait();
    }
    if (auto s = check_can_append(); !s) co_return s;
    if (last_kept < _removed_index || last_kept.value() < 0) {
        shard_logger().warn("log {}: no truncation after raft index {}: retention removed up to {}",
                            _dir, last_kept, _removed_index);
        co_return log_errc::out_of_range;
    }
    if (last_kept >= _durable_index) co_return status{};
    truncation_plan plan;
    plan.last_kept = last_kept;
    if (auto s = co_await plan_truncation(plan); !s) co_return s;
    commit_truncation(plan);
    co_return co_await cut_files(plan);
}

task<status> shard_log::plan_truncation(truncation_plan& plan) {
    const raft_index first_removed = plan.last_kept + 1;
    auto it = std::partition_point(_segments.begin(), _segments.end(),
                                   [&](const auto& s) { return s->base_index() <= first_removed; });
    WHARF_ASSERT(it != _segments.begin(), "no segment holds raft index {}", first_removed);
    plan.cut = static_cast<size_t>(std::prev(it) - _segments.begin());
    plan.cut_segment = _segments[plan.cut];
    WHARF_ASSERT(first_removed <= plan.cut_segment->last_index(),
                 "durable raft index {} is past segment {}", first_removed,
                 plan.cut_segment->path());
    auto term = term_at(plan.last_kept);
    WHARF_ASSERT(term || plan.last_kept.value() == 0, "no term for kept raft index {}",
                 plan.last_kept);
    plan.last_term = term.value_or(term_id(0));

    for (const auto& [p, ps] : _partitions) {
        if (ps->start_index <= plan.last_kept) continue;
        auto fresh = std::make_unique<partition_state>();
        fresh->config = ps->config;
        plan.rebuilt.emplace(p, std::move(fresh));
    }
    if (!plan.rebuilt.empty()) {
        if (auto s = co_await rebuild_before_cut(plan); !s) co_return s;
    }
    if (auto s = co_await scan_cut_segment(plan); !s) co_return s;
    if (auto s = check_rebuilt(plan); !s) co_return s;

    if (plan.cut_segment->closed()) {
        const segment& old = *plan.cut_segment;
        std::string path = old.path();
        auto f = co_await file::open(path, O_RDWR);
        if (!f) {
            shard_logger().error("log {}: cannot open {} to truncate it: {}", _dir, path,
                                 f.error().message());
            co_return as_log_error(f.error());
        }
        auto copy = std::make_shared<segment>(old.seq(), old.base_index(), _dir, std::move(*f),
                                              old.size_bytes());
        copy->set_term_runs(old.term_runs(), old.last_index(), old.size_bytes());
        copy->points() = old.points();
        plan.reopened = std::move(copy);
    }
    co_return status{};
}

task<status> shard_log::rebuild_before_cut(truncation_plan& plan) {
    if (_removed_index.value() > 0) {
        std::string path = _dir + "/" + std::string(checkpoint_file_name);
        auto bytes = co_await read_whole_file(path);
        if (!bytes) co_return as_log_error(bytes.error());
        auto d = decode_index_file(*bytes);
        if (!d || d->kind != index_file_kind::prefix_checkpoint) {
            shard_logger().error("log {}: {} is damaged", _dir, path);
            co_return log_errc::corrupt_segment;
        }
        for (const auto& row : d->partitions) {
            auto r = plan.rebuilt.find(row.partition);
            if (r == plan.rebuilt.end()) continue;
            partition_state& ps = *r->second;
            ps.start_offset = row.start_offset;
            ps.end_offset = row.next_offset;
            ps.start_index = _removed_index;
            ps.index.set_max_timestamp(row.max_timestamp);
            plan.checkpoint_rows.emplace(row.partition, row);
        }
    }
    // The segments before C are closed, and neither retention nor a roll changes them meanwhile.
    for (size_t i = 0; i < plan.cut; ++i) {
        std::shared_ptr<segment> seg = _segments[i];
        std::string path = seg->index_path();
        auto bytes = co_await read_whole_file(path);
        if (!bytes) co_return as_log_error(bytes.error());
        auto d = decode_index_file(*bytes);
        if (!d || d->kind != index_file_kind::segment_index || d->base_index != seg->base_index() ||
            d->last_index != seg->last_index()) {
            shard_logger().error("log {}: {} is damaged or stale", _dir, path);
            co_return log_errc::corrupt_segment;
        }
        for (const auto& b : d->batches) {
            auto r = plan.rebuilt.find(b.partition);
            if (r == plan.rebuilt.end()) continue;
            partition_state& ps = *r->second;
            if (b.entry.base() < ps.end_offset) {
                shard_logger().error("log {}: {} goes back in partition {}", _dir, path,
                                     b.partition);
                co_return log_errc::corrupt_segment;
            }
            batch_entry e = b.entry;
            e.segment = seg->seq();
            ps.index.push_back(e);
            ps.end_offset = e.last() + 1;
        }
        for (const auto& row : d->partitions) {
            auto r = plan.rebuilt.find(row.partition);
            if (r == plan.rebuilt.end()) continue;
            partition_state& ps = *r->second;
            advance_start(ps, row.start_offset, seg->last_index());
            ps.end_offset = row.next_offset;
        }
    }
    co_return status{};
}

task<status> shard_log::scan_cut_segment(truncation_plan& plan) {
    segment& seg = *plan.cut_segment;
    const raft_index target = plan.last_kept + 1;
    if (target == seg.base_index()) {
        plan.cut_position = 0;
        co_return status{};
    }
    // Rebuilt partitions need every entry of C before the cut; otherwise only the cut's position.
    index_point start{seg.base_index(), 0};
    if (plan.rebuilt.empty()) {
        if (auto p = seg.points().floor(target)) start = *p;
    }
    segment_scanner scan(seg.handle(), seg.size_bytes(), size_t{1} << 20, start.position);
    for (raft_index expected = start.index;; ++expected) {
        auto e = co_await scan.next();
        if (!e) co_return as_log_error(e.error());
        if (!*e || (*e)->header.index != expected) {
            shard_logger().error("log {}: {} has no intact entry {} at byte {}", _dir, seg.path(),
                                 expected, scan.position());
            co_return log_errc::corrupt_entry;
        }
        const scanned_entry& se = **e;
        note_read_point(seg, expected, se.position);
        if (expected == target) {
            plan.cut_position = se.position;
            co_return status{};
        }
        auto r = plan.rebuilt.find(se.header.partition);
        if (r == plan.rebuilt.end()) continue;
        partition_state& ps = *r->second;
        if (se.header.type == entry_type::data) {
            std::string why;
            auto b = indexed_batch(se, seg.seq(), &why);
            if (!b || b->base() < ps.end_offset) {
                shard_logger().error("log {}: {}: bad entry at byte {}: {}", _dir, seg.path(),
                                     se.position, b ? "offsets go back" : why);
                co_return log_errc::corrupt_entry;
            }
            ps.index.push_back(*b);
            ps.end_offset = b->last() + 1;
        } else if (se.header.type == entry_type::control) {
            auto c = decode_control(se.payload);
            if (!c) co_return c.error();
            advance_start(ps, kafka_offset(c->value), expected);
        }
    }
}

status shard_log::check_rebuilt(const truncation_plan& plan) const {
    for (const auto& [p, ps] : plan.rebuilt) {
        auto row = plan.checkpoint_rows.find(p);
        if (row == plan.checkpoint_rows.end()) continue;
        const partition_state_row& r = row->second;
        if (r.start_offset < r.next_offset && ps->start_offset < r.next_offset) {
            // Retention deleted the segments holding that partition's batches below next_offset.
            shard_logger().warn("log {}: truncating after {} would move partition {} back to {}",
                                _dir, plan.last_kept, p, ps->start_offset);
            return log_errc::out_of_range;
        }
    }
    return status{};
}

void shard_log::commit_truncation(truncation_plan& plan) {
    const uint32_t cut_seq = plan.cut_segment->seq();
    const auto after = _segments.begin() + static_cast<ptrdiff_t>(plan.cut) + 1;
    plan.removed.assign(after, _segments.end());
    _segments.erase(after, _segments.end());
    if (plan.reopened) _segments[plan.cut] = plan.reopened;
    segment& active = *_segments.back();
    active.cut_to(plan.last_kept, plan.cut_position);
    active.partitions().clear();
    _next_seq = cut_seq + 1;

    for (auto& [p, ps] : _partitions) {
        auto r = plan.rebuilt.find(p);
        if (r == plan.rebuilt.end()) {
            roll_back_partition(p, *ps, plan);
        } else {
            partition_state& fresh = *r->second;
            fresh.index.trim_before(fresh.start_offset);
            ps->index = std::move(fresh.index);
            ps->start_offset = fresh.start_offset;
            ps->end_offset = fresh.end_offset;
            ps->start_index = fresh.start_index;
        }
        _cache.drop_from(p, ps->end_offset);
        ps->last_epoch = partition_state::unknown_epoch;
        if (!ps->index.empty() && ps->index.back().segment == cut_seq) {
            active.partitions().push_back(p);
        }
    }
    ++_stats.suffix_truncations;
    _stats.suffix_truncated_entries += static_cast<uint64_t>(_durable_index - plan.last_kept);
    ++_truncations;
    _durable_index = plan.last_kept;
    _durable_term = plan.last_term;
    rewind_to_durable();
    shard_logger().info("log {}: truncated after raft index {} (term {}): {} cut at byte {}", _dir,
                        plan.last_kept, plan.last_term, active.path(), plan.cut_position);
}

void shard_log::roll_back_partition(partition_id p, partition_state& ps,
                                    const truncation_plan& plan) {
    const uint32_t cut_seq = plan.cut_segment->seq();
    size_t keep = ps.index.size();
    while (keep > 0) {
        const batch_entry& b = ps.index[keep - 1];
        bool removed =
            b.segment > cut_seq || (b.segment == cut_seq && b.position >= plan.cut_position);
        if (!removed) break;
        --keep;
    }
    if (keep == ps.index.size()) return;
    ps.index.drop_from(keep);
    // The start offset stands (no removed entry moved it), and every batch kept that ends below
    // it was trimmed: the end is after the last batch left, or the start when none is left.
    ps.end_offset = ps.index.empty() ? ps.start_offset : ps.index.back().last() + 1;
    WHARF_ASSERT(ps.end_offset >= ps.start_offset, "partition {} ends at {} before its start {}", p,
                 ps.end_offset, ps.start_offset);
}

task<status> shard_log::cut_files(truncation_plan& plan) {
    status s;
    // Newest first, each deletion durable before the next: a crash leaves a prefix of the log.
    for (auto it = plan.removed.rbegin(); s && it != plan.removed.rend(); ++it) {
        std::string index_path = (*it)->index_path();
        std::string path = (*it)->path();
        (void)co_await remove_file(index_path);  // the old active segment has none
        s = co_await remove_file(path);
        if (s) s = co_await sync_directory(_dir);
    }
    std::shared_ptr<segment> active = _segments.back();
    if (s && plan.reopened) {
        // C is the active segment again: its index file would be stale once it grows.
        std::string index_path = active->index_path();
        (void)co_await remove_file(index_path);
        s = co_await sync_directory(_dir);
    }
    if (s) s = co_await active->cut_back();
    if (s) s = co_await active->handle().datasync();
    // Reads in flight keep what they hold open; the last of them closes it.
    for (auto& seg : plan.removed) {
        if (seg.use_count() == 1) (void)co_await seg->close();
    }
    if (plan.reopened && plan.cut_segment.use_count() == 1) {
        (void)co_await plan.cut_segment->close();
    }
    if (!s) {
        // Memory already says truncated while the files may not: refuse writes until reopen.
        _failed = true;
        shard_logger().error("log {}: truncation after raft index {} failed: {}", _dir,
                             plan.last_kept, s.error().message());
        co_return as_log_error(s.error());
    }
    co_return status{};
}

}  // namespace wharf
