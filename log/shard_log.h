#pragma once

// shard_log: the log of one shard (DESIGN.md section 4). All partitions of the shard append to one
// stream of entries, written once and made durable once per group commit, so the cost of
// durability does not grow with the number of partitions. The same log is the shard's raft log:
// every entry has a raft index and a term.
//
// What it keeps:
//   - segments <data-dir>/shard-<k>/<first-raft-index>.log, the last one active (appended to),
//     the others closed, each with an index file (index_file.h);
//   - per partition: the batch index (partition_index.h), its log start offset, the next offset to
//     assign and its end offset (everything below the end is durable and readable);
//   - the tail cache of recent batches (tail_cache.h).
//
// Lifecycle: open() recovers the directory (recovery.cc) and returns the log; appends and reads
// run concurrently on the owning shard; close() waits for appends in flight and closes the files.
// Everything is called on the shard that opened the log.
//
// Group commit (group_commit.cc): an append assigns its raft index and Kafka offsets and queues
// its entry without suspending, so concurrent appends keep their order. The first append of a
// group leads it: it waits for the end of the reactor turn (or flush_interval_us), then writes
// every queued entry with one write and one fdatasync linked in io_uring, and completes them all.
// Appends made while that write is in flight form the next group (one write in flight at a time).
// A failed write fails its group and everything queued behind it, rolls offsets and indexes back
// to the last durable entry and cuts the file back, so the log stays consistent; a full disk
// (ENOSPC) is reported as disk_full and later appends may succeed.
//
// Raft operations (truncate.cc, entry_read.cc): a follower whose log conflicts with its leader's
// removes its suffix (truncate_suffix); a leader reads entries to send (read_entries), finding
// them through each segment's sparse raft index (raft_index.h). Appends made while a truncation
// runs wait for it, then take their indexes in the order they were made.
//
// Raft snapshots (snapshot.cc): the prefix checkpoint that retention writes is the snapshot. A
// leader sends it (read_snapshot) to a follower behind its first index, which replaces its whole
// log by it (install_snapshot), with the same exclusion as a truncation.

#include <coroutine>
#include <cstddef>
#include <cstdint>
#include <deque>
#include <memory>
#include <optional>
#include <span>
#include <string>
#include <unordered_map>
#include <vector>

#include "log/entry.h"
#include "log/index_file.h"
#include "log/log_config.h"
#include "log/log_observer.h"
#include "log/partition_index.h"
#include "log/segment.h"
#include "log/tail_cache.h"
#include "reactor/base/ids.h"
#include "reactor/base/result.h"
#include "reactor/iobuf.h"
#include "reactor/metrics/histogram.h"
#include "reactor/shard.h"
#include "reactor/sync.h"
#include "reactor/task.h"

namespace wharf {

struct log_stats {
    // Group commits by the time of their write + fdatasync (microseconds; the two are linked in
    // io_uring, so this is what an append waits for) and by their bytes.
    using fsync_latency_histogram = log2_histogram<20, 4>;  // 16 us .. ~8 s
    using fsync_bytes_histogram = log2_histogram<18, 9>;    // 512 B .. 64 MiB

    uint64_t corruption_cuts = 0;    // corrupt acknowledged data cut off at open (repair)
    uint64_t appends = 0;            // entries made durable
    uint64_t append_bytes = 0;       // their payload bytes
    uint64_t rejected_batches = 0;   // batches refused by validation
    uint64_t writes = 0;             // segment writes (one per group commit)
    uint64_t syncs = 0;              // fdatasyncs (one per group commit unless fsync is never)
    uint64_t flushes = 0;            // group commits that succeeded
    uint64_t group_entries = 0;      // entries those group commits carried (÷ flushes = group size)
    uint64_t failed_flushes = 0;
    uint64_t rolls = 0;
    uint64_t segments_deleted = 0;
    uint64_t reads = 0;
    uint64_t cache_batches = 0;      // batches served from the tail cache
    uint64_t disk_batches = 0;       // batches read from segments
    uint64_t disk_reads = 0;         // read calls (adjacent batches share one)
    uint64_t disk_read_bytes = 0;
    // Recovery at open.
    uint64_t index_files_loaded = 0;
    uint64_t index_files_rebuilt = 0;
    uint64_t entries_replayed = 0;
    uint64_t truncated_bytes = 0;
    // Raft: suffix truncations and the entries they removed; read_entries calls, the entries
    // they returned, and the bytes they scanned before their first entry (what the sparse raft
    // index bounds).
    uint64_t suffix_truncations = 0;
    uint64_t suffix_truncated_entries = 0;
    uint64_t entry_reads = 0;
    uint64_t entries_read = 0;
    uint64_t entry_skipped_bytes = 0;
    // Raft snapshots installed (install_snapshot).
    uint64_t snapshot_installs = 0;
    // Only group commits that synced (fsync=always).
    fsync_latency_histogram fsync_latency_us;
    fsync_bytes_histogram fsync_bytes;
};

// What append_batch assigned to a durable batch.
struct append_result {
    kafka_offset base_offset{0};
    kafka_offset last_offset{0};
    raft_index index{0};
    // The time the log stamped, when the partition uses LogAppendTime.
    std::optional<timestamp_ms> log_append_time;
};

// A batch found by offset or timestamp.
struct batch_info {
    kafka_offset base_offset{0};
    kafka_offset last_offset{0};
    // The running maximum described in partition_index.h.
    timestamp_ms max_timestamp{0};
    uint32_t size_bytes = 0;
};

// What a partition's leader epochs say about one epoch (OffsetForLeaderEpoch, KIP-101/279): the
// offset where that epoch ended, and the epoch the answer is for (see end_offset_for_epoch).
struct epoch_end {
    int32_t epoch = -1;
    kafka_offset end_offset{0};
};

// A raft snapshot: the prefix checkpoint's bytes and the point they describe (Raft paper,
// section 7): every entry up to `index` (whose term is `term`) is applied to the partitions'
// state the rows of `data` record.
struct log_snapshot {
    raft_index index{0};
    term_id term{0};
    // An encoded index file of kind prefix_checkpoint (index_file.h).
    std::vector<std::byte> data;
};

class shard_log {
public:
    // Opens (creating it if needed) <cfg.data_dir>/shard-<cfg.shard>/ and recovers it. On
    // failure, *error_detail (when given) names the file and byte offset at fault.
    static task<result<std::unique_ptr<shard_log>>> open(log_config cfg,
                                                         std::string* error_detail = nullptr);
    ~shard_log();
    shard_log(const shard_log&) = delete;
    shard_log& operator=(const shard_log&) = delete;

    // Refuses new appends (shutting_down), waits for those in flight, closes the files.
    task<status> close();

    // Creates the partition or changes its settings. Partitions found on disk exist after open
    // with default settings.
    void configure_partition(partition_id p, const partition_config& cfg);
    bool has_partition(partition_id p) const noexcept;

    // Leader append of one Kafka v2 record batch: validates it (a bad batch is refused with the
    // precise error and nothing is stored), assigns the partition's next offsets and the next raft
    // index, stamps base offset, leader epoch and (per the partition's settings) LogAppendTime,
    // and completes once the entry is durable.
    task<result<append_result>> append_batch(partition_id p, term_id term, iobuf batch,
                                             int32_t leader_epoch);
    // Append of an entry as it is (raft: followers, no-ops, configuration). A data entry's batch
    // must already carry its offsets, which must continue the partition; a control entry must
    // decode. A partition the log does not have yet is created with default settings (a follower
    // may replicate a partition before its metadata configures it). Returns the entry's raft
    // index once durable.
    // REQUIRES: term >= the term of the last entry.
    task<result<raft_index>> append_entry(entry_type type, partition_id p, term_id term,
                                          iobuf payload);

    // The partition's batches from the one containing `from` on, whole, until max_bytes is
    // reached (at least one batch). Empty at the end offset; offset_out_of_range below the start
    // offset or past the end.
    task<result<iobuf>> read(partition_id p, kafka_offset from, size_t max_bytes);

    result<kafka_offset> start_offset(partition_id p) const;
    // The offset after the last durable batch (the log end offset).
    result<kafka_offset> end_offset(partition_id p) const;
    // The batch containing o or the first after it; nullopt when there is none.
    result<std::optional<batch_info>> find_offset(partition_id p, kafka_offset o) const;
    // The first batch whose max timestamp is >= t; nullopt when there is none.
    result<std::optional<batch_info>> find_timestamp(partition_id p, timestamp_ms t) const;

    // The end of leader epoch `epoch` in partition p, as Kafka's leader epoch cache answers it.
    // Every batch carries the epoch of the leader that appended it (raft's term: consensus stamps
    // it), so epochs never decrease along a partition: the answer is the base offset of the first
    // batch whose epoch exceeds `epoch` (the log end offset when none; the start offset when that
    // batch straddles it), for the largest epoch at or below `epoch` that a batch holds (`epoch`
    // itself when every batch held is later). Reads a few batches (cache or disk, checksums
    // verified) in a binary search; none when `epoch` is at or after the last batch's epoch.
    // Errors: partition_unknown, read errors, shutting_down.
    task<result<epoch_end>> end_offset_for_epoch(partition_id p, int32_t epoch);

    // DeleteRecords: the partition's log start offset becomes `offset` through a control entry.
    // offset_out_of_range past the end offset; nothing to do at or below the start offset.
    task<status> set_start_offset(partition_id p, kafka_offset offset, term_id term);
    // Applies retention.ms and retention.bytes of every partition (control entries in `term`),
    // then deletes the segments no live batch needs.
    task<status> apply_retention(term_id term);
    // Deletes the segments no live batch needs, without appending anything: a follower, whose
    // start offsets move with the control entries it replicates.
    task<status> delete_dead_segments();

    // Raft's view. last_index/last_term: the last durable entry (0 when the log is empty).
    raft_index last_index() const noexcept { return _durable_index; }
    term_id last_term() const noexcept { return _durable_term; }
    // The index the next append gets (appends in flight included).
    raft_index next_index() const noexcept { return _next_index; }
    // The term of the entry at `index` while the log still holds it (or of the last entry that
    // retention removed, raft's snapshot point).
    std::optional<term_id> term_at(raft_index index) const noexcept;
    // The first raft index still held.
    raft_index first_index() const noexcept;

    // Raft (Figure 2, AppendEntries step 3): removes every entry after last_kept, as if it had
    // never been appended: raft positions, segment files (cut and fdatasynced; later segments
    // deleted), every partition's batch index, end and next offsets, start offset (recomputed
    // where a removed control entry had moved it; truncate.cc says how) and the tail cache.
    // Appends continue at last_kept + 1 with any term >= term_at(last_kept). Waits for appends,
    // segment deletions and read_entries calls in flight; appends made meanwhile wait for it.
    // Nothing to do when last_kept >= last_index(). Errors: out_of_range when last_kept is below
    // the last index retention removed (raft's snapshot point), or when it would remove the
    // control entry that let retention delete segments still needed below the start offset it
    // would restore; io_error when the log has failed, or when cutting the files failed (the
    // log then refuses writes until it is reopened); shutting_down.
    task<status> truncate_suffix(raft_index last_kept);
    // Raft: the durable entries from `from` on, in order and whole, with their payloads (entry
    // checksums verified), until max_bytes of payload is reached or the next entry would pass it
    // (at least one entry when `from` exists). Empty past last_index(); out_of_range below
    // first_index(): retention removed the entry, the follower needs a snapshot.
    task<result<std::vector<stored_entry>>> read_entries(raft_index from, size_t max_bytes);
    // Raft (leader): the snapshot a follower behind first_index() needs, the current prefix
    // checkpoint as read from disk (retention replaces the file atomically, so any version read
    // is a valid snapshot; its index is at most first_index() - 1). Errors: out_of_range when
    // retention has removed nothing yet; corrupt_segment when the file does not decode;
    // io_error; shutting_down.
    task<result<log_snapshot>> read_snapshot();
    // Raft (Figure 13, InstallSnapshot; follower): replaces the whole log by the snapshot `data`
    // (an encoded prefix checkpoint, as read_snapshot returns it). Afterwards the log holds no
    // entry: first_index() and next_index() are I + 1, last_index() and the snapshot point are
    // (I, T), the partitions of the rows have the rows' offsets and no batches, every other
    // partition keeps its settings and is empty at offset 0, and appends continue at I + 1 with
    // any term >= T. The observer is not told (the caller updates raft's view itself). Waits like
    // truncate_suffix; appends made meanwhile wait for it, and Kafka reads that raced it answer
    // offset_out_of_range. Crash safe: the data is written durably under
    // snapshot_marker_file_name before any segment goes, and recovery finishes an install the
    // marker shows interrupted. Errors: corrupt_segment when `data` is not a prefix checkpoint of
    // one term run and last index >= 1 (nothing changes); io_error when the log has failed, or
    // when replacing the files failed half way (the log then refuses writes until it is
    // reopened, which finishes the install); disk_full when the marker could not be written
    // (nothing changes); shutting_down.
    // REQUIRES: data stays valid until the task completes.
    task<status> install_snapshot(std::span<const std::byte> data);

    // Protocol-aware recovery (log_config::repair_corruption): true from the open that cut corrupt
    // acknowledged data off until end_repair(), across restarts. The replica must not vote, nor
    // stand for election, meanwhile: it may have acknowledged entries it no longer holds.
    bool repairing() const noexcept { return _repairing; }
    // Raft has repaired the log from its leader: removes the marker durably.
    task<status> end_repair();

    // Raft's view of the log follows every assignment, durable point and rollback through this
    // (log_observer.h); nullptr detaches. The observer must outlive the log's use of it.
    void set_observer(log_observer* o) noexcept { _observer = o; }
    const log_stats& stats() const noexcept { return _stats; }
    // What append_batch accepts (validate_batch), for callers that rewrite a batch before its
    // append (recompression on the produce path).
    const batch_limits& limits() const noexcept { return _cfg.limits; }
    size_t segment_count() const noexcept { return _segments.size(); }
    // The bytes of every segment file (what the log holds on disk, index files aside).
    uint64_t segment_bytes() const noexcept {
        uint64_t n = 0;
        for (const auto& s : _segments) n += s->size_bytes();
        return n;
    }
    size_t partition_count() const noexcept { return _partitions.size(); }
    const std::string& directory() const noexcept { return _dir; }
    // Memory of the batch indexes, for accounting and tests.
    size_t index_memory_bytes() const noexcept;
    size_t cache_bytes() const noexcept { return _cache.bytes(); }
    // Changes the tail cache's budget (log_config::tail_cache_bytes), evicting what no longer
    // fits: the shard's groups share one budget.
    void set_tail_cache_bytes(size_t bytes) { _cache.set_budget(bytes); }
    // Bytes of the sparse raft index points of closed segments (what raft_index_memory_bytes
    // bounds), and of the active segment's.
    size_t closed_points_bytes() const noexcept;
    size_t active_points_bytes() const noexcept {
        return _segments.empty() ? 0 : _segments.back()->points().size() * sizeof(index_point);
    }

private:
    friend class log_recovery;

    struct partition_state {
        partition_config config;
        partition_index index;
        kafka_offset start_offset{0};
        // The next offset to assign: end_offset plus the batches in flight.
        kafka_offset next_offset{0};
        // The end offset: every batch below it is durable and indexed.
        kafka_offset end_offset{0};
        // The raft index of the entry that last moved start_offset (at most: an index file only
        // says which segment did). A truncation below it recomputes the partition.
        raft_index start_index{0};
        // The leader epoch of the last batch, as appends since open tell it; unknown after open,
        // a truncation or a snapshot until end_offset_for_epoch reads it (epochs.cc).
        static constexpr int32_t unknown_epoch = INT32_MIN;
        int32_t last_epoch = unknown_epoch;
    };

    // Where an appending coroutine waits for its entry to become durable, in its own frame.
    struct append_slot {
        std::coroutine_handle<> waiter;
        // Set once the entry is durable (success) or failed.
        std::optional<status> outcome;
        // Set when the appender must lead the queued entries (group_commit.cc).
        bool lead = false;
    };

    // An entry assigned its raft index (and offsets) and waiting for its group commit.
    struct pending_entry {
        // write_position and checksum are filled in when the write is formed.
        entry_header header;
        entry_header_buffer encoded{};
        iobuf payload;
        append_slot* slot = nullptr;
        // For data entries, what the batch index needs once the entry is durable.
        int32_t last_offset_delta = 0;
        int64_t max_timestamp = 0;
        kafka_offset base_offset{0};
        // For control entries, the decoded change.
        std::optional<control_entry> control;
    };

    explicit shard_log(log_config cfg);
    // A log belongs to the shard that opened it (STYLE.md rule 10); checked in debug builds.
    void check_shard() const noexcept {
#ifndef NDEBUG
        WHARF_ASSERT(this_shard() == _owner, "shard_log of shard {} used on shard {}", _owner,
                     this_shard());
#endif
    }

    partition_state* find_partition(partition_id p) noexcept;
    const partition_state* find_partition(partition_id p) const noexcept;
    partition_state& ensure_partition(partition_id p);
    static batch_info to_info(const batch_entry& e) noexcept;
    std::shared_ptr<segment> segment_by_seq(uint32_t seq) const noexcept;

    // The entry the next append makes: the next raft index, header filled in.
    pending_entry new_entry(entry_type type, partition_id p, term_id term,
                            size_t payload_bytes) const;

    // group_commit.cc
    status check_can_append() const;
    void enqueue(pending_entry&& e);
    task<status> await_durable(append_slot& slot);
    task<void> lead_group();
    task<void> flush_group(std::vector<pending_entry> group);
    task<status> write_group(std::vector<pending_entry>& group);
    void apply_durable(pending_entry& e, uint64_t end_position);
    void fail_all_pending(std::vector<pending_entry>& group, std::error_code ec);
    // Hands raft indexes and offsets out again from the last durable entry.
    void rewind_to_durable();
    std::vector<pending_entry> take_group();
    task<status> maybe_roll();
    task<status> roll();
    std::vector<partition_state_row> state_rows() const;

    // read.cc
    struct read_plan;
    task<status> read_from_disk(partition_id p, read_plan& plan);
    // Whether the partition still holds every batch of the plan where the plan found it.
    bool still_indexed(partition_id p, const read_plan& plan) const;
    // One batch of p, whole (cache or disk): offset_out_of_range when a truncation removed it.
    task<result<iobuf>> read_batch(partition_id p, batch_entry e);

    // epochs.cc
    // The partitionLeaderEpoch field of a stored batch. REQUIRES: a whole batch.
    static int32_t leader_epoch_of(const iobuf& batch);
    task<result<int32_t>> batch_epoch(partition_id p, batch_entry e);
    task<result<epoch_end>> search_epoch(partition_id p, int32_t epoch);

    // retention.cc
    task<status> append_control(partition_id p, term_id term, kafka_offset start);
    // The control entry at raft index `at` moves the start offset (and the tail cache).
    void apply_start_offset(partition_id p, partition_state& ps, kafka_offset start, raft_index at);
    // The same, without the cache: returns whether the start moved.
    static bool advance_start(partition_state& ps, kafka_offset start, raft_index at);
    task<status> write_checkpoint(const segment& last_removed);

    // entry_read.cc
    struct entry_read;
    std::shared_ptr<segment> segment_containing(raft_index index) const noexcept;
    task<status> read_segment_entries(entry_read& r);
    // Notes that the entry at (index, position) of seg was read: maybe a new point of its sparse
    // raft index, within the memory bound of closed segments' points.
    void note_read_point(segment& seg, raft_index index, uint64_t position);
    // A roll closed seg: its points now count against the bound of closed segments' points.
    void note_segment_closed(segment& seg);
    // Drops the points of the closed segments read least recently (never keep's) until
    // extra_bytes more fit the bound; false when they cannot.
    bool make_point_room(const segment* keep, size_t extra_bytes);
    // The entry at (index, position) joined the segment (append, replay): maybe a point of its
    // sparse raft index.
    void note_append_point(segment& seg, raft_index index, uint64_t position);

    // truncate.cc
    struct truncation_plan;
    task<void> wait_for_truncation();
    task<status> truncate_locked(raft_index last_kept);
    task<status> plan_truncation(truncation_plan& plan);
    task<status> rebuild_before_cut(truncation_plan& plan);
    task<status> scan_cut_segment(truncation_plan& plan);
    status check_rebuilt(const truncation_plan& plan) const;
    void commit_truncation(truncation_plan& plan);
    void roll_back_partition(partition_id p, partition_state& ps, const truncation_plan& plan);
    task<status> cut_files(truncation_plan& plan);

    // snapshot.cc
    // `data` as a snapshot: a prefix checkpoint with one term run and a last index >= 1;
    // corrupt_segment otherwise, with the reason in *why.
    static result<index_file_data> decode_snapshot(std::span<const std::byte> data,
                                                   std::string* why);
    task<status> install_locked(std::span<const std::byte> data, const index_file_data& snap);
    // Once the marker is durable: the segment and index files out, the marker made the
    // checkpoint, the new active segment (at snap's last index + 1) created as `active`.
    task<status> replace_files(const index_file_data& snap, std::shared_ptr<segment>& active);
    // The memory side, synchronous; returns the old segments.
    std::vector<std::shared_ptr<segment>> commit_snapshot(const index_file_data& snap,
                                                          std::shared_ptr<segment> active);

    log_config _cfg;
    log_observer* _observer = nullptr;
    shard_id _owner;
    std::string _dir;
    std::unordered_map<partition_id, std::unique_ptr<partition_state>> _partitions;
    // Oldest first; the last one is active. seq numbers are consecutive from _segments.front().
    std::deque<std::shared_ptr<segment>> _segments;
    uint32_t _next_seq = 0;
    tail_cache _cache;

    // Raft positions: durable, and assigned (in flight included).
    raft_index _durable_index{0};
    term_id _durable_term{0};
    raft_index _next_index{1};
    term_id _next_term{0};
    // The last entry retention removed (raft's snapshot point); 0 when none.
    raft_index _removed_index{0};
    term_id _removed_term{0};

    // Group commit state (group_commit.cc).
    std::vector<pending_entry> _pending;
    size_t _pending_bytes = 0;
    bool _group_led = false;   // an append has taken the lead of the queued entries
    bool _flushing = false;    // a write is in flight
    // Notified when a write ends (and when a deletion or an entry read ends during a truncation,
    // which waits for all of them); waiters check their condition again.
    event _flush_done;
    gate _gate;                // appends and reads in flight, for close()
    bool _failed = false;      // an I/O error left the file in doubt: refuse writes until reopen
    bool _closing = false;
    bool _repairing = false;   // the repair marker is on disk
    bool _deleting = false;    // retention is deleting segments

    // Raft operations (truncate.cc, entry_read.cc).
    // A truncation or a snapshot install runs: appends and read_entries wait.
    bool _truncating = false;
    size_t _held_appends = 0;  // appends waiting for a truncation to end
    event _truncation_done;
    size_t _entry_reads = 0;    // read_entries calls in flight, which a truncation waits for
    uint64_t _truncations = 0;  // truncations so far: reads in flight notice one
    uint64_t _point_clock = 0;  // logical time of reads, for the points' least recently used

    log_stats _stats;
};

}  // namespace wharf
