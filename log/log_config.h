#pragma once

// Configuration of one shard's log and of the partitions in it. Read-only after open.

#include <chrono>
#include <cstddef>
#include <cstdint>
#include <functional>
#include <optional>
#include <string>
#include <system_error>

#include "log/entry.h"
#include "log/record_batch.h"
#include "reactor/base/ids.h"

namespace wharf {

// Whether a group commit ends with fdatasync. `never` is the broker's --fsync=never, for
// benchmarks only: an acknowledged append may then be lost by a power failure (not by a crash of
// the process: the bytes are in the page cache).
enum class fsync_policy { always, never };

// Per-partition settings that the log applies (Kafka topic configs).
struct partition_config {
    // message.timestamp.type: log_append_time makes the log stamp each batch with the time it is
    // appended.
    timestamp_type message_timestamp_type = timestamp_type::create_time;
    // retention.ms: batches whose timestamps are all older are dropped; none keeps them forever.
    std::optional<std::chrono::milliseconds> retention_ms;
    // retention.bytes: the oldest batches are dropped while the partition holds more; none means
    // no limit.
    std::optional<uint64_t> retention_bytes;
};

// Which write a fault hook is asked about.
enum class disk_op { write, allocate };

// Tests only: called for each segment preallocation (before it) and write (after it, so that the
// failure looks like a write whose bytes partly landed) with its size; a non-zero error makes
// that operation fail with it, as if the kernel had returned it (ENOSPC for a full disk). Real
// faults (EIO, ENOSPC) take exactly the same path.
using disk_fault_fn = std::function<std::error_code(disk_op op, uint64_t bytes)>;

// Segment positions are stored in 32 bits (batch_entry, index files): a segment stays below this.
inline constexpr uint64_t max_segment_file_bytes = uint64_t{1} << 32;

struct log_config {
    // The broker's --data-dir; the shard's files live in <data_dir>/shard-<shard>/, those of
    // its raft group g > 0 (a fixed replica set) in <data_dir>/shard-<shard>-group-<g>/.
    std::string data_dir;
    shard_id shard{0};
    raft_group_id group{0};
    // A segment is closed and a new one started once it holds this many bytes.
    uint64_t segment_bytes = uint64_t{512} << 20;
    // ... or once it is this old (and not empty).
    std::chrono::milliseconds segment_ms = std::chrono::hours(24 * 7);
    // Appends wait this long for company before their group commit; 0 means the end of the
    // reactor turn in which they were made.
    std::chrono::microseconds flush_interval_us{0};
    fsync_policy fsync = fsync_policy::always;
    // Bytes of recently appended batches kept in memory for reads (the tail cache).
    size_t tail_cache_bytes = size_t{64} << 20;
    // What a produced batch may be (validate_batch).
    batch_limits limits{.max_batch_bytes = size_t{1} << 20,
                        .max_uncompressed_bytes = size_t{64} << 20,
                        .max_timestamp_skew_ms = int64_t{-1}};
    // One group commit writes at most this many bytes; more pending entries wait for the next.
    size_t max_write_bytes = size_t{8} << 20;
    // Segment space is reserved ahead of writes in steps of this size (fallocate, keeping the
    // file size), so that a full disk shows as a failed reservation before any byte is written.
    uint64_t preallocate_bytes = uint64_t{16} << 20;
    // The sparse raft index (raft_index.h): a point every this many bytes of a segment, so that
    // reading entries from a raft index scans about this much before the first entry it returns.
    uint64_t raft_index_interval_bytes = uint64_t{64} << 10;
    // Memory for the points of closed segments (16 bytes each, one per interval: the default
    // covers 4 GiB of closed segments); beyond it the least recently read segment's points go.
    // The active segment's points are not counted: at most segment_bytes / interval of them.
    size_t raft_index_memory_bytes = size_t{1} << 20;
    // The log of a raft replica whose group has other voters. A bit flip in acknowledged data (a
    // corrupt entry that later intact entries follow, or any corrupt entry of a closed segment
    // being scanned) is then cut off with everything after it, behind a durable marker that
    // shard_log::repairing() reports until end_repair(): raft must not let the replica vote
    // before its leader has repaired the log (protocol-aware recovery). Without other voters
    // nothing could repair it, and open refuses the log, naming the damage.
    bool repair_corruption = false;
    // Tests only; see disk_fault_fn.
    disk_fault_fn disk_fault;
};

// A segment can exceed segment_bytes by one write, and one entry can exceed max_write_bytes by
// its own size: both must keep positions within 32 bits.
inline constexpr uint64_t max_configurable_segment_bytes = uint64_t{1} << 31;
inline constexpr size_t max_configurable_write_bytes = size_t{256} << 20;
static_assert(max_configurable_segment_bytes + max_configurable_write_bytes +
                      entry_header_bytes + max_entry_payload_bytes <
                  max_segment_file_bytes,
              "a full segment plus one write must stay addressable with 32-bit positions");

}  // namespace wharf
