#pragma once

// The wire encoding of raft messages (messages.h), which the RPC transport carries as the
// payload of one frame (net/rpc/frame.h, frame_type::raft_message). Encoding is little-endian
// and versioned; decoding never trusts its input (a peer's bug, a bit flip that the frame
// checksum did not see, or a fuzzer) and returns raft_errc values, never asserts.
//
// Message, little-endian:
//
//   offset size field
//        0    1 version        raft_codec_version
//        1    1 type           1 vote_request, 2 vote_reply, 3 append_request, 4 append_reply,
//                              5 timeout_now, 6 install_snapshot (the variant's index + 1)
//        2    2 group          the raft group on the shard (raft_message::group); version 2
//                              has no groups and requires zero here
//        4    4 from           node id
//        8    4 to             node id
//       12      body, by type; every byte of the input belongs to the message (no trailing bytes)
//
//   vote_request   i64 term, i64 last_index, i64 last_term, u8 flags (1 pre_vote,
//                  2 leadership_transfer)
//   vote_reply     i64 term, u8 flags (1 granted, 2 pre_vote)
//   append_request i64 term, i64 prev_index, i64 prev_term, i64 leader_commit, u32 entry_count,
//                  then entry_count entries: i64 index, i64 term, u32 partition,
//                  u32 payload_bytes, u8 entry_type, then payload_bytes of payload
//   append_reply   i64 term, i64 match_index, i64 last_index, u8 flags (1 success)
//   timeout_now    i64 term
//   install_snapshot i64 term, i64 last_index, i64 last_term, i64 leader_commit,
//                  u32 data_bytes, then data_bytes of data, u8 has_config (0 or 1), and when
//                  1: i64 config_index, i64 config_term, u32 config_bytes, then config_bytes of
//                  membership (raft/membership.h)
//
// Flag bits other than those listed must be zero.
//
// What a message must satisfy (validate_raft_message; encoding asserts it, decoding refuses
// anything else): node ids, terms and indexes are not negative; an append request carries at
// most max_entries_per_message entries, whose indexes follow prev_index one by one and whose
// terms never decrease, starting at or above prev_term and ending at or below the request's
// term (Raft paper section 5.3: a leader sends a contiguous run of its own log, whose terms
// never exceed its current one); each entry's type is one the log defines and its payload is at
// most max_entry_payload_bytes, and a raft_configuration entry's payload is a valid membership
// (so is a snapshot's, whose index and term are not negative). Decoding checks every count and length against the bytes left
// before it allocates anything, so a message can never make the decoder allocate more than a
// small multiple of its own size.

#include <cstddef>
#include <cstdint>

#include "log/entry.h"
#include "raft/messages.h"
#include "reactor/base/result.h"
#include "reactor/iobuf.h"

namespace wharf {

// 2: install_snapshot carries the membership.
// 3: the group field (a shard holds one group per replica set). Messages of group 0 are still
//    written as version 2, which brokers from before groups read.
inline constexpr uint8_t raft_codec_version = 3;
inline constexpr uint8_t raft_codec_version_without_groups = 2;

// The most entries one append request carries; a leader that has more to send splits them
// over several requests (whoever reads an append_plan's entries out of the log must stop at
// this count as well as at the plan's max_bytes). The bound keeps the work of decoding one
// message, and its one allocation of raft_entry values, small enough for a reactor turn. It is
// high enough that a 1 MiB append of the smallest Kafka batches (61 bytes, 86 with the entry
// header) is not cut by count first.
inline constexpr uint32_t max_entries_per_message = 32768;

// The largest snapshot (a prefix checkpoint: 32 bytes per partition of the shard, two million
// partitions).
inline constexpr uint32_t max_snapshot_bytes = 64u << 20;

inline constexpr size_t raft_message_header_bytes = 12;
inline constexpr size_t raft_entry_header_bytes = 25;
inline constexpr size_t append_request_fixed_bytes = raft_message_header_bytes + 36;

// The encoded size of an append request carrying `entries` entries with `payload_bytes` of
// payload in all. Transports compare it with their maximum frame size.
constexpr uint64_t append_request_bytes(uint64_t entries, uint64_t payload_bytes) noexcept {
    return append_request_fixed_bytes + entries * raft_entry_header_bytes + payload_bytes;
}
// A request of the most entries, without payloads, stays well inside a small frame.
static_assert(append_request_bytes(max_entries_per_message, 0) < (1u << 20));

// Whether m satisfies the rules above. Errors: malformed_message.
status validate_raft_message(const raft_message& m);

// The bytes of m. Payloads of more than a few bytes are shared into the result, not copied.
// REQUIRES: validate_raft_message(m) succeeds.
iobuf encode_raft_message(const raft_message& m);
// The encoded size of m, without encoding it.
uint64_t encoded_raft_message_bytes(const raft_message& m) noexcept;

// Decodes exactly one message from all of `in`. Entry payloads share in's chunks (no copy).
// Errors: unsupported_message_version for another codec version, malformed_message for
// anything else that is wrong (truncation, trailing bytes, unknown type or flags, a count or
// length that does not fit in the bytes left, a rule above broken).
result<raft_message> decode_raft_message(const iobuf& in);

}  // namespace wharf
