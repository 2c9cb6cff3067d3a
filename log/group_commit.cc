// Group commit: many appends, one write, one fdatasync (DESIGN.md section 4; the design note is
// in shard_log.h).
//
// There is no flusher task. The append that finds no leader for the queued entries becomes the
// leader: it waits for the end of the reactor turn (or flush_interval_us) and for the write in
// flight, takes the queue, writes it and completes every entry of it. Appends made meanwhile wait
// in their own frames (append_slot); the first of them to arrive once the queue has been taken
// leads the next group. A leader that could not take the whole queue (max_write_bytes, segment
// boundary) hands the lead to the oldest entry left.

#include <fcntl.h>

#include <algorithm>
#include <cerrno>
#include <chrono>
#include <cstdint>
#include <utility>

#include "log/errc.h"
#include "log/shard_log.h"
#include "reactor/clock.h"
#include "reactor/logger.h"
#include "reactor/reactor.h"
#include "reactor/timer.h"

namespace wharf {

namespace {

// Suspends until the slot has an outcome or the lead.
struct slot_awaiter {
    bool& lead;
    bool done;
    std::coroutine_handle<>& waiter;
    bool await_ready() const noexcept { return done || lead; }
    void await_suspend(std::coroutine_handle<> h) noexcept { waiter = h; }
    void await_resume() const noexcept {}
};

// Resumes the slot's coroutine if it waits; at most once per suspension.
void wake(std::coroutine_handle<>& waiter) {
    if (waiter) reactor::local().schedule(std::exchange(waiter, nullptr));
}

}  // namespace

status shard_log::check_can_append() const {
    if (_closing) return log_errc::shutting_down;
    if (_failed) return log_errc::io_error;
    return status{};
}

void shard_log::enqueue(pending_entry&& e) {
    _next_term = e.header.term;
    ++_next_index;
    _pending_bytes += e.header.entry_bytes();
    _pending.push_back(std::move(e));
    if (_observer) {
        // Last, so that the observer sees the log consistent (it must not append; see
        // log_observer.h).
        const pending_entry& q = _pending.back();
        assigned_entry a{q.header.index, q.header.term, q.header.type, q.header.partition, {},
                         &q.payload};
        if (q.header.type == entry_type::data) {
            a.end_offset = q.base_offset + (static_cast<int64_t>(q.last_offset_delta) + 1);
        }
        _observer->on_assigned(a);
    }
}

task<status> shard_log::await_durable(append_slot& slot) {
    if (!_group_led) {
        _group_led = true;
        co_await lead_group();
    }
    while (!slot.outcome) {
        co_await slot_awaiter{slot.lead, slot.outcome.has_value(), slot.waiter};
        if (slot.lead) {
            slot.lead = false;
            co_await lead_group();
        }
    }
    co_return *slot.outcome;
}

task<void> shard_log::lead_group() {
    // Gather company: the rest of this turn's appends, or those of the flush interval.
    if (_cfg.flush_interval_us.count() > 0) {
        co_await sleep_for(_cfg.flush_interval_us);
    } else {
        co_await reactor::local().turn_end();
    }
    // One write in flight at a time; appends keep gathering meanwhile.
    while (_flushing) {
        co_await _flush_done.wait();
        co_await reactor::local().turn_end();
    }
    if (_pending.empty()) {
        _group_led = false;
        co_return;
    }
    if (_failed) {
        std::vector<pending_entry> none;
        fail_all_pending(none, log_errc::io_error);
        _group_led = false;
        // A truncation may wait for the queue to empty.
        _flush_done.notify_all();
        co_return;
    }
    _flushing = true;
    if (auto r = co_await maybe_roll(); !r) {
        shard_logger().warn("log {}: segment roll failed ({}); appending to the current segment",
                            _dir, r.error().message());
    }
    if (_failed) {
        // The roll left the directory in doubt (its fsync failed): nothing more is written.
        std::vector<pending_entry> none;
        fail_all_pending(none, log_errc::io_error);
        _group_led = false;
    } else {
        auto group = take_group();
        _group_led = false;
        co_await write_group(group);
    }
    _flushing = false;
    _flush_done.notify_all();
    if (!_pending.empty() && !_group_led) {
        _group_led = true;
        append_slot* next = _pending.front().slot;
        next->lead = true;
        wake(next->waiter);
    }
    // The appenders this group completed resume through the run queue, in the next turn. Without
    // this the leader alone would continue at once, append again and lead a group of one in the
    // current turn: groups would alternate between everyone and a single entry, doubling the
    // fdatasyncs for the same bytes.
    co_await reactor::local().yield();
}

std::vector<shard_log::pending_entry> shard_log::take_group() {
    std::vector<pending_entry> group;
    const segment& active = *_segments.back();
    uint64_t bytes = 0;
    size_t n = 0;
    // Stop at max_write_bytes and at the segment's size limit, after at least one entry.
    while (n < _pending.size()) {
        uint64_t next = _pending[n].header.entry_bytes();
        if (n > 0 && (bytes + next > _cfg.max_write_bytes ||
                      active.size_bytes() + bytes + next > _cfg.segment_bytes)) {
            break;
        }
        bytes += next;
        ++n;
    }
    group.reserve(n);
    std::move(_pending.begin(), _pending.begin() + static_cast<ptrdiff_t>(n),
              std::back_inserter(group));
    _pending.erase(_pending.begin(), _pending.begin() + static_cast<ptrdiff_t>(n));
    _pending_bytes -= bytes;
    return group;
}

task<status> shard_log::write_group(std::vector<pending_entry>& group) {
    segment& seg = *_segments.back();
    const uint64_t start = seg.size_bytes();
    std::vector<iovec> iov;
    iov.reserve(group.size() * 2);
    uint64_t total = 0;
    for (auto& e : group) {
        e.header.write_position = byte_position(start);
        encode_entry_header(e.header, e.encoded);
        store_entry_checksum(e.encoded, entry_checksum(e.encoded, e.payload));
        iov.push_back(iovec{e.encoded.data(), e.encoded.size()});
        size_t covered = e.payload.to_iovecs(0, e.payload.size(), iov, SIZE_MAX);
        WHARF_ASSERT(covered == e.payload.size(), "payload of {} bytes gave iovecs for {}",
                     e.payload.size(), covered);
        total += e.header.entry_bytes();
    }

    std::error_code ec;
    // Rolls that keep failing must not let positions outgrow 32 bits.
    if (start + total >= max_segment_file_bytes) {
        shard_logger().error("log {}: {} cannot grow past {} bytes", _dir, seg.path(), start);
        ec = log_errc::io_error;
    }
    if (!ec && _cfg.disk_fault) ec = _cfg.disk_fault(disk_op::allocate, total);
    if (!ec) {
        auto r = co_await seg.reserve(start + total, _cfg.preallocate_bytes);
        // Filesystems without fallocate still take the write; only a full disk counts here.
        if (!r && r.error() == std::errc::no_space_on_device) ec = r.error();
    }
    if (!ec) {
        ++_stats.writes;
        result<size_t> w = 0;
        if (_cfg.fsync == fsync_policy::always) {
            ++_stats.syncs;
            auto sync_start = steady_now();
            w = co_await seg.handle().write_and_sync(iov, start);
            auto took =
                std::chrono::duration_cast<std::chrono::microseconds>(steady_now() - sync_start);
            _stats.fsync_latency_us.record(static_cast<uint64_t>(took.count()));
            _stats.fsync_bytes.record(total);
        } else {
            w = co_await seg.handle().write_at(iov, start);
        }
        if (!w) ec = w.error();
        // The test hook fails a write after its bytes landed, as a real one may.
        if (!ec && _cfg.disk_fault) ec = _cfg.disk_fault(disk_op::write, total);
    }
    if (ec) {
        ++_stats.failed_flushes;
        // Nothing of this write may survive as entries: cut the file back to the last durable one.
        if (auto c = co_await seg.cut_back(); !c) _failed = true;
        bool full = ec == std::errc::no_space_on_device || ec == log_errc::disk_full;
        if (!full) _failed = true;
        shard_logger().error("log {}: write of {} bytes at {} of {} failed: {}", _dir, total, start,
                             seg.path(), ec.message());
        fail_all_pending(group, full ? make_error_code(log_errc::disk_full)
                                     : make_error_code(log_errc::io_error));
        co_return ec;
    }
    ++_stats.flushes;
    _stats.group_entries += group.size();
    uint64_t end = start;
    for (auto& e : group) {
        end += e.header.entry_bytes();
        apply_durable(e, end);
    }
    if (_observer && !group.empty()) _observer->on_durable(_durable_index, _durable_term);
    co_return status{};
}

void shard_log::apply_durable(pending_entry& e, uint64_t end_position) {
    segment& seg = *_segments.back();
    note_append_point(seg, e.header.index, end_position - e.header.entry_bytes());
    seg.note_entry(e.header.index, e.header.term, end_position);
    _durable_index = e.header.index;
    _durable_term = e.header.term;
    ++_stats.appends;
    _stats.append_bytes += e.header.payload_bytes;
    partition_id p = e.header.partition;
    if (e.header.type == entry_type::data) {
        partition_state& ps = *find_partition(p);
        if (ps.index.empty() || ps.index.back().segment != seg.seq()) seg.partitions().push_back(p);
        batch_entry b;
        b.base_offset = e.base_offset.value();
        b.last_offset_delta = e.last_offset_delta;
        b.max_timestamp = e.max_timestamp;
        b.segment = seg.seq();
        b.position = static_cast<uint32_t>(end_position - e.header.entry_bytes());
        b.batch_bytes = e.header.payload_bytes;
        ps.index.push_back(b);
        ps.end_offset = b.last() + 1;
        ps.last_epoch = leader_epoch_of(e.payload);
        _cache.insert(p, b.base(), b.last(), std::move(e.payload));
    } else if (e.header.type == entry_type::control) {
        apply_start_offset(p, *find_partition(p), kafka_offset(e.control->value), e.header.index);
    }
    append_slot* slot = e.slot;
    slot->outcome = status{};
    wake(slot->waiter);
}

void shard_log::fail_all_pending(std::vector<pending_entry>& group, std::error_code ec) {
    // Everything queued was assigned indexes and offsets after the failed entries: fail it too
    // and hand the numbers out again from the last durable entry, so nothing leaves a gap.
    auto fail = [&](pending_entry& e) {
        e.slot->outcome = status(ec);
        wake(e.slot->waiter);
    };
    for (auto& e : group) fail(e);
    for (auto& e : _pending) fail(e);
    _pending.clear();
    _pending_bytes = 0;
    rewind_to_durable();
    if (_observer) _observer->on_rolled_back(_durable_index, ec);
}

void shard_log::rewind_to_durable() {
    // A truncation (truncate.cc) rewinds the same way once it has moved the durable state back.
    for (auto& [p, ps] : _partitions) ps->next_offset = ps->end_offset;
    _next_index = _durable_index + 1;
    _next_term = _durable_term;
}

}  // namespace wharf
