#pragma once

// Index files: what a closed segment holds, so that opening a log never scans closed segments
// (DESIGN.md section 4). Written once when the segment closes (write to a temporary name,
// fdatasync, rename, fsync the directory) and read at open; a missing or damaged index file is
// rebuilt by scanning its segment, because it is derived data.
//
// The same format carries the prefix checkpoint (`prefix.checkpoint`): the partitions' state as of
// the end of the last segment that retention deleted, so that deleting old segments never loses a
// partition's start or next offset.
//
// Layout, little-endian:
//   header (64 bytes):
//     u32 magic "WXIX"   u16 version   u16 kind (1 segment index, 2 prefix checkpoint)
//     i64 base_index     i64 last_index    u64 segment_bytes
//     u32 term_runs      u32 partitions    u32 batches     u32 reserved (0)
//     u64 checksum       (XXH3_64bits of the whole file with this field zero)   u64 reserved (0)
//   term runs   (16 bytes each): i64 first_index, i64 term
//   partitions  (32 bytes each, sorted by id): u32 id, u32 reserved, i64 start_offset,
//               i64 next_offset, i64 max_timestamp (the running maximum)
//   batches     (32 bytes each, sorted by partition then offset): u32 partition, u32 position,
//               u32 batch_bytes, i32 last_offset_delta, i64 base_offset, i64 max_timestamp
//               (the running maximum)

#include <cstddef>
#include <cstdint>
#include <span>
#include <string_view>
#include <vector>

#include "log/partition_index.h"
#include "log/segment.h"
#include "reactor/base/ids.h"
#include "reactor/base/result.h"

namespace wharf {

// The prefix checkpoint's file name in the shard directory.
inline constexpr std::string_view checkpoint_file_name = "prefix.checkpoint";
// A raft snapshot being installed (shard_log::install_snapshot): the new checkpoint, written
// durably before the old segments go; present at open, it makes recovery finish the install.
inline constexpr std::string_view snapshot_marker_file_name = "snapshot.install";
// A log cut at corrupt acknowledged data (log_config::repair_corruption): written durably before
// the cut, removed by shard_log::end_repair once raft has repaired the log from its leader.
inline constexpr std::string_view repair_marker_file_name = "repair.marker";

enum class index_file_kind : uint16_t { segment_index = 1, prefix_checkpoint = 2 };

inline constexpr size_t index_header_bytes = 64;
inline constexpr size_t index_term_run_bytes = 16;
inline constexpr size_t index_partition_bytes = 32;
inline constexpr size_t index_batch_bytes = 32;

// A partition's state as of the end of a segment.
struct partition_state_row {
    partition_id partition{0};
    kafka_offset start_offset{0};
    kafka_offset next_offset{0};
    int64_t max_timestamp = INT64_MIN;
};

struct index_file_batch {
    partition_id partition{0};
    // entry.segment is not stored: it is the file's.
    batch_entry entry;
};

struct index_file_data {
    index_file_kind kind = index_file_kind::segment_index;
    // The raft indexes the segment holds (for a checkpoint: base unused, last is the last
    // index removed).
    raft_index base_index{0};
    raft_index last_index{0};
    // The size of the segment file the index describes; a mismatch means the index is stale.
    uint64_t segment_bytes = 0;
    std::vector<term_run> terms;
    std::vector<partition_state_row> partitions;
    std::vector<index_file_batch> batches;
};

std::vector<std::byte> encode_index_file(const index_file_data& d);
// Checks the checksum, the counts against the size, and the orders and bounds of every record:
// corrupt_segment when anything is off (the caller rebuilds a segment index by scanning).
result<index_file_data> decode_index_file(std::span<const std::byte> bytes);

}  // namespace wharf
