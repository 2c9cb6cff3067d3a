// Raft snapshots in the shard log (shard_log::read_snapshot, install_snapshot). Raft paper,
// section 7 (log compaction) and Figure 13 (InstallSnapshot).
//
// The prefix checkpoint that retention writes (retention.cc) is already a snapshot: the last
// raft index it removed, that entry's term, and every partition's start offset, next offset and
// running max timestamp as of that entry. A leader whose follower needs an entry it no longer
// holds sends the checkpoint file as it is; the follower replaces its whole log by it.
//
// Install, in this order, so that a crash at any point leaves either the old log or the new one:
//   1. The data is written durably as snapshot_marker_file_name (write_file_durably: a temporary
//      name, fdatasync, rename, directory fsync), so a marker that exists is complete. Until it
//      exists nothing has changed; a failure here removes it again and changes nothing.
//   2. Every segment and index file is removed, and the directory synced.
//   3. The marker is renamed over prefix.checkpoint, and the directory synced.
//   4. The new active segment, <I + 1>.log, is created empty, and the directory synced.
//   5. Memory, synchronously: the segment table is that one segment, the partitions take the
//      rows' offsets with empty batch indexes, the tail cache is emptied, and the raft positions
//      are (I, T) with appends continuing at I + 1.
// Recovery (recovery.cc) that finds the marker finishes steps 2 and 3 and goes on as usual (it
// creates the active segment of an empty log itself). A failure after step 1 leaves memory on
// the old log and the disk part way: the log is marked failed and refuses writes until reopened,
// which finishes the install.
//
// Concurrency is a truncation's (truncate.cc): _truncating makes appends, retention's control
// entries and read_entries wait and segment deletion skip; the install waits for the group
// commit, the deletion and the entry reads in flight. Kafka reads are not waited for: they keep
// reading the old segments through the shared_ptrs they hold (unlinked files stay readable until
// the last reader closes them), and one that raced the install notices _truncations and answers
// offset_out_of_range (read.cc).
//
// The observer (log_observer.h) hears nothing of it: the snapshot's entries were never assigned
// here, and raft, which asked for the install, updates its own view.

#include <fcntl.h>

#include "log/durable_file.h"
#include "log/errc.h"
#include "log/shard_log.h"
#include "reactor/logger.h"

namespace wharf {

namespace {

// Removes a file that may already be gone (a previous, interrupted attempt).
task<status> remove_if_present(std::string path) {
    auto s = co_await remove_file(path);
    if (!s && s.error() == std::errc::no_such_file_or_directory) co_return status{};
    co_return s;
}

}  // namespace

result<index_file_data> shard_log::decode_snapshot(std::span<const std::byte> data,
                                                   std::string* why) {
    auto d = decode_index_file(data);
    if (!d) {
        *why = "not an index file (bad size, checksum or records)";
        return log_errc::corrupt_segment;
    }
    if (d->kind != index_file_kind::prefix_checkpoint) {
        *why = "an index file, but not a prefix checkpoint";
        return log_errc::corrupt_segment;
    }
    if (d->terms.size() != 1 || !d->batches.empty()) {
        *why = fmt::format("a checkpoint must have one term run and no batches, not {} and {}",
                           d->terms.size(), d->batches.size());
        return log_errc::corrupt_segment;
    }
    if (d->last_index.value() < 1) {
        *why = fmt::format("a checkpoint at raft index {}, term {}", d->last_index,
                           d->terms.front().term);
        return log_errc::corrupt_segment;
    }
    return d;
}

task<result<log_snapshot>> shard_log::read_snapshot() {
    auto hold = _gate.hold();
    if (!hold) co_return log_errc::shutting_down;
    check_shard();
    // An install in progress replaces the checkpoint: read the one it leaves.
    while (_truncating) co_await _truncation_done.wait();
    if (_removed_index.value() == 0) co_return log_errc::out_of_range;
    std::string path = _dir + "/" + std::string(checkpoint_file_name);
    auto bytes = co_await read_whole_file(path);
    if (!bytes) {
        shard_logger().error("log {}: cannot read {}: {}", _dir, path, bytes.error().message());
        co_return as_log_error(bytes.error());
    }
    std::string why;
    auto d = decode_snapshot(*bytes, &why);
    if (!d) {
        shard_logger().error("log {}: {} is damaged: {}", _dir, path, why);
        co_return d.error();
    }
    log_snapshot out;
    out.index = d->last_index;
    out.term = d->terms.front().term;
    out.data = std::move(*bytes);
    co_return out;
}

task<status> shard_log::install_snapshot(std::span<const std::byte> data) {
    auto hold = _gate.hold();
    if (!hold) co_return log_errc::shutting_down;
    check_shard();
    std::string why;
    auto snap = decode_snapshot(data, &why);
    if (!snap) {
        shard_logger().warn("log {}: refusing a snapshot of {} bytes: {}", _dir, data.size(), why);
        co_return snap.error();
    }
    while (_truncating) co_await _truncation_done.wait();
    _truncating = true;
    auto s = co_await install_locked(data, *snap);
    _truncating = false;
    _truncation_done.notify_all();
    co_return s;
}

task<status> shard_log::install_locked(std::span<const std::byte> data,
                                       const index_file_data& snap) {
    // Nothing new starts meanwhile (appends wait, deletion skips).
    while (!_pending.empty() || _flushing || _deleting || _entry_reads > 0) {
        co_await _flush_done.wait();
    }
    if (auto s = check_can_append(); !s) co_return s;

    std::string marker(snapshot_marker_file_name);
    if (auto w = co_await write_file_durably(_dir, marker, data); !w) {
        // The rename may have happened before the failure: a marker left would make the next
        // open install a snapshot this call reports as not installed.
        std::string path = _dir + "/" + marker;
        auto r = co_await remove_if_present(path);
        if (r) r = co_await sync_directory(_dir);
        if (!r) _failed = true;
        shard_logger().error("log {}: cannot write the snapshot at raft index {}: {}", _dir,
                             snap.last_index, w.error().message());
        co_return as_log_error(w.error());
    }
    std::shared_ptr<segment> active;
    if (auto s = co_await replace_files(snap, active); !s) {
        _failed = true;
        shard_logger().error(
            "log {}: installing the snapshot at raft index {} failed half way "
            "({}); refusing writes until reopened",
            _dir, snap.last_index, s.error().message());
        co_return as_log_error(s.error());
    }
    auto old = commit_snapshot(snap, std::move(active));
    // Reads in flight keep what they hold open; the last of them closes it.
    for (auto& seg : old) {
        if (seg.use_count() == 1) (void)co_await seg->close();
    }
    co_return status{};
}

task<status> shard_log::replace_files(const index_file_data& snap,
                                      std::shared_ptr<segment>& active) {
    // The table does not change meanwhile: no roll, deletion or truncation runs.
    std::vector<std::shared_ptr<segment>> segments(_segments.begin(), _segments.end());
    for (auto it = segments.rbegin(); it != segments.rend(); ++it) {
        std::string index_path = (*it)->index_path();
        std::string path = (*it)->path();
        if (auto s = co_await remove_if_present(index_path); !s) co_return s;
        if (auto s = co_await remove_if_present(path); !s) co_return s;
    }
    if (auto s = co_await sync_directory(_dir); !s) co_return s;
    std::string marker = _dir + "/" + std::string(snapshot_marker_file_name);
    std::string checkpoint = _dir + "/" + std::string(checkpoint_file_name);
    if (auto s = co_await rename_file(marker, checkpoint); !s) co_return s;
    if (auto s = co_await sync_directory(_dir); !s) co_return s;

    const raft_index base = snap.last_index + 1;
    std::string path = _dir + "/" + segment_file_name(base);
    auto f = co_await file::open(path, O_RDWR | O_CREAT | O_TRUNC);
    if (!f) {
        shard_logger().error("log {}: cannot create {}: {}", _dir, path, f.error().message());
        co_return f.error();
    }
    active = std::make_shared<segment>(_next_seq++, base, _dir, std::move(*f), 0);
    // Entries written to the new file must not outlive its name (as after a roll).
    co_return co_await sync_directory(_dir);
}

std::vector<std::shared_ptr<segment>> shard_log::commit_snapshot(const index_file_data& snap,
                                                                 std::shared_ptr<segment> active) {
    const raft_index at = snap.last_index;
    const term_id term = snap.terms.front().term;
    std::vector<std::shared_ptr<segment>> old(_segments.begin(), _segments.end());
    _segments.clear();
    _segments.push_back(std::move(active));

    // Partitions the rows do not name held nothing at the snapshot point.
    for (auto& [p, ps] : _partitions) {
        ps->index = partition_index();
        ps->last_epoch = partition_state::unknown_epoch;
        ps->start_offset = kafka_offset(0);
        ps->end_offset = kafka_offset(0);
        ps->start_index = at;
    }
    for (const auto& row : snap.partitions) {
        partition_state& ps = ensure_partition(row.partition);
        ps.start_offset = row.start_offset;
        ps.end_offset = row.next_offset;
        ps.start_index = at;
        ps.index.set_max_timestamp(row.max_timestamp);
    }
    _cache.clear();
    ++_truncations;
    ++_stats.snapshot_installs;
    _removed_index = at;
    _removed_term = term;
    _durable_index = at;
    _durable_term = term;
    // The offsets to assign follow the ends, and raft indexes continue at at + 1.
    rewind_to_durable();
    shard_logger().info(
        "log {}: installed the snapshot at raft index {} (term {}), {} partitions;"
        " {} segments replaced",
        _dir, at, term, snap.partitions.size(), old.size());
    return old;
}

}  // namespace wharf
