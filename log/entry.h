#pragma once

// The entry: the unit of a shard's log (DESIGN.md section 4). Every entry is a fixed 48-byte
// header followed by its payload; a segment file is nothing but entries back to back. The writer
// (group_commit.cc) and every reader (recovery, reads, index rebuilds) share this file, so the
// format is defined exactly once.
//
// On disk, little-endian:
//
//   offset size field
//        0    8 checksum        XXH3_64bits of bytes [8, 48) of the header, then the payload
//        8    8 raft_index      position of the entry in the shard's raft log
//       16    8 term            raft term of the leader that created the entry
//       24    8 write_position  segment byte position where the write carrying this entry began
//       32    4 partition       partition id (0 for entries that belong to no partition)
//       36    4 payload_bytes
//       40    1 type            entry_type
//       41    1 version         entry_format_version
//       42    6 reserved        zero
//
// write_position tells recovery which entries were written by the same group commit: only the
// last write can be torn (a write starts only after the previous one was made durable), so a bad
// entry followed by a valid entry of a *later* write is corruption of acknowledged data, while
// one followed only by entries of its own write is a torn, never-acknowledged tail.

#include <array>
#include <cstddef>
#include <cstdint>
#include <optional>
#include <span>

#include "reactor/base/ids.h"
#include "reactor/base/result.h"
#include "reactor/iobuf.h"

namespace wharf {

// The kinds of entry. The set is open: values the log does not interpret (raft's own entries and
// any added later) are stored, replayed and counted like any other entry.
enum class entry_type : uint8_t {
    // One Kafka v2 record batch with its base offset and leader epoch filled in.
    data = 1,
    // A change of a partition's state made through the log (control_entry below).
    control = 2,
    // Reserved for raft: a configuration change and the no-op a new leader appends.
    raft_configuration = 3,
    raft_noop = 4,
};

inline constexpr uint8_t entry_format_version = 1;
inline constexpr size_t entry_header_bytes = 48;
// The largest payload one entry may carry. A record batch is capped far lower by batch_limits;
// this bounds what recovery trusts a length field to ask it to read.
inline constexpr uint32_t max_entry_payload_bytes = 64u << 20;

struct entry_header {
    uint64_t checksum = 0;
    raft_index index{0};
    term_id term{0};
    byte_position write_position{0};
    partition_id partition{0};
    uint32_t payload_bytes = 0;
    entry_type type = entry_type::data;

    uint64_t entry_bytes() const noexcept { return entry_header_bytes + payload_bytes; }
};

using entry_header_buffer = std::array<std::byte, entry_header_bytes>;

// Writes every field but the checksum (bytes [0, 8) are left zero).
void encode_entry_header(const entry_header& h, std::span<std::byte, entry_header_bytes> out);
// Decodes the fields without judging them; see check_entry_header.
entry_header decode_entry_header(std::span<const std::byte, entry_header_bytes> in);
// Whether a decoded header could describe a real entry (version, reserved bytes, payload length
// bound). Cheap; recovery uses it to skip garbage before computing checksums.
bool entry_header_plausible(std::span<const std::byte, entry_header_bytes> in) noexcept;

// The checksum over an encoded header (its first 8 bytes are ignored) and the payload.
uint64_t entry_checksum(std::span<const std::byte, entry_header_bytes> header,
                        std::span<const std::byte> payload) noexcept;
uint64_t entry_checksum(std::span<const std::byte, entry_header_bytes> header,
                        const iobuf& payload) noexcept;
// Stores the checksum into bytes [0, 8) of an encoded header.
void store_entry_checksum(std::span<std::byte, entry_header_bytes> header, uint64_t checksum);

// An entry read back from the log (shard_log::read_entries): what raft sends to a follower, which
// the follower appends with shard_log::append_entry.
struct stored_entry {
    raft_index index{0};
    term_id term{0};
    entry_type type = entry_type::data;
    partition_id partition{0};
    iobuf payload;
};

// Verifies one complete entry held contiguously (header then payload_bytes of payload). Returns
// the decoded header, or corrupt_entry when the header is implausible, the length disagrees with
// the bytes given, or the checksum is wrong.
result<entry_header> verify_entry(std::span<const std::byte> bytes);

// Payload of a control entry: a change of one partition's state. The partition is the entry's.
// Layout: u16 kind, u16 reserved (0), u32 reserved (0), i64 value.
enum class control_kind : uint16_t {
    // The partition's log start offset is now `value` (retention, DeleteRecords).
    set_start_offset = 1,
};
inline constexpr size_t control_payload_bytes = 16;

struct control_entry {
    control_kind kind = control_kind::set_start_offset;
    int64_t value = 0;
};

std::array<std::byte, control_payload_bytes> encode_control(const control_entry& c);
// corrupt_entry when the payload is not a control entry this version understands.
result<control_entry> decode_control(std::span<const std::byte> payload);

}  // namespace wharf
