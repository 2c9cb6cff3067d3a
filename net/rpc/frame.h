#pragma once

// RPC frames: the unit of the internal RPC protocol between brokers (DESIGN.md sections 2 and
// 5). After the handshake (handshake.h) both directions of a connection are a stream of frames,
// each a fixed header followed by its payload. This file defines the format once, for the
// writer (encode_frame) and the reader (frame_decoder).
//
// Frame header, 24 bytes, little-endian:
//
//   offset size field
//        0    1 magic           frame_magic (0x57, 'W')
//        1    1 version         the protocol version the handshake negotiated
//        2    2 type            frame_type: what the payload is (the decoder does not judge it)
//        4    4 payload_bytes   bytes of payload after the header
//        8    8 correlation_id  chosen by the sender: a per-connection sequence number for
//                               one-way messages (raft), echoed by replies of request/reply RPCs
//       16    8 checksum        XXH3_64bits of bytes [0, 16) of the header, then the payload
//
// The checksum sits last so that what it covers is one prefix of the header plus the payload.
// TCP's own checksum misses some corruptions that a NIC, a middlebox or a memory error can add;
// a raft replica must never apply an entry whose bytes changed on the way.
//
// A corrupt payload_bytes that still lies under max_frame_bytes is only detected by the checksum
// once that many bytes have arrived: the decoder cannot tell it from a genuine long frame before.

#include <array>
#include <cstddef>
#include <cstdint>
#include <optional>
#include <span>
#include <system_error>

#include "net/rpc/errc.h"
#include "reactor/base/result.h"
#include "reactor/iobuf.h"

namespace wharf::rpc {

// Protocol versions this build speaks; the handshake settles on one per connection. A frame
// carries its version in one byte, so versions stay below 256.
inline constexpr uint16_t min_protocol_version = 1;
inline constexpr uint16_t max_protocol_version = 1;
static_assert(min_protocol_version >= 1 && min_protocol_version <= max_protocol_version);
static_assert(max_protocol_version <= 0xff, "a frame header stores the version in one byte");

inline constexpr uint8_t frame_magic = 0x57;
inline constexpr size_t frame_header_bytes = 24;
// The part of the header that the checksum covers (everything before the checksum).
inline constexpr size_t frame_checksummed_header_bytes = 16;
static_assert(frame_checksummed_header_bytes + sizeof(uint64_t) == frame_header_bytes,
              "the checksum is the header's last field");
static_assert(frame_header_bytes % 8 == 0, "payloads start 8-byte aligned after a header");

// The largest payload the header can describe (payload_bytes is 32 bits).
inline constexpr size_t max_frame_payload_bytes = 0xffffffffu;
// A frame is bounded by its receiver's max_frame_bytes (header included). The default leaves
// room for an append request carrying one entry of the log's largest payload (64 MiB, see
// log/entry.h) plus the message's own fields; core checks that relation where it sees both.
inline constexpr size_t default_max_frame_bytes = 128u << 20;
static_assert(default_max_frame_bytes <= frame_header_bytes + max_frame_payload_bytes,
              "the default maximum must be describable by a header");

// What a frame's payload is. The set is open: the decoder passes any value on, and whoever
// dispatches frames refuses the types it does not know.
enum class frame_type : uint16_t {
    // One raft message (raft/message_codec.h) of the shard group the connection serves.
    raft_message = 1,
    // broker_info.h: sent by the dialer right after the handshake of a shard-0 connection (its
    // own hello), and later on it to relay another broker's hello to the controller (a broker
    // that dialed only the seeds is registered by a controller that is not one).
    broker_info = 2,
    // group_leaders.h: the groups of fixed replica sets the sender leads on this connection's
    // shard, told to a broker outside them; version 1, from brokers before group_members.
    group_leaders = 3,
    // group_leaders.h version 2: the same with each group's members. A type of its own, so
    // that a broker that only knows version 1 drops it rather than refusing its version.
    group_members = 4,
};

struct frame {
    frame_type type = frame_type::raft_message;
    uint64_t correlation_id = 0;
    // Shares the decoder's receive buffer (no copy).
    iobuf payload;
};

// The bytes of one frame: a 24-byte header chunk followed by the payload's own fragments (the
// payload is moved in, not copied).
// REQUIRES: min_protocol_version <= version <= max_protocol_version,
//           payload.size() <= max_frame_payload_bytes.
iobuf encode_frame(uint16_t version, frame_type type, uint64_t correlation_id, iobuf payload);

// A streaming decoder of one connection's frames (after the handshake). Bytes are fed in pieces
// split anywhere; next() returns complete frames in order. The header is judged as soon as its
// 24 bytes are present (magic, version, size against max_frame_bytes), before any payload byte
// is needed, and the checksum once the whole payload is. bytes_needed() says how much more the
// reader must receive to make progress, so a reader that reads no further than that never
// buffers more of a frame than a valid header allowed.
//
// Errors are sticky: once failed, the decoder drops what it buffered, ignores further bytes and
// returns the same error from every call; the connection is then closed with the error logged.
//
// Lives on the shard of its connection; not thread-safe.
class frame_decoder {
public:
    // REQUIRES: version is a supported protocol version, and
    //           frame_header_bytes <= max_frame_bytes <= header + max_frame_payload_bytes.
    explicit frame_decoder(uint16_t version, size_t max_frame_bytes = default_max_frame_bytes);

    // Appends received bytes: an iobuf's fragments are taken over (no copy), a span is copied.
    // Returns the decoder's error when it is failed (now or before), so a reader learns of a bad
    // header without asking next().
    status feed(iobuf bytes);
    status feed(std::span<const std::byte> bytes);

    // The next complete frame, nullopt when more bytes are needed, or the decoder's error.
    result<std::optional<frame>> next();

    // Bytes that must still arrive before next() can return another frame (0 when one is ready
    // or the decoder has failed).
    size_t bytes_needed() const noexcept;
    // Bytes held: the part of the current frame received so far and anything after it.
    size_t buffered_bytes() const noexcept { return _buffer.size(); }
    bool failed() const noexcept { return static_cast<bool>(_error); }
    std::error_code error() const noexcept { return _error; }
    size_t max_frame_bytes() const noexcept { return _max_frame_bytes; }

private:
    struct header {
        // The checksummed prefix as received, for the checksum over it and the payload.
        std::array<std::byte, frame_checksummed_header_bytes> prefix;
        frame_type type;
        uint32_t payload_bytes;
        uint64_t correlation_id;
        uint64_t checksum;
    };

    // Parses and judges the header once its bytes are buffered; fails the decoder if it is bad.
    void check_header();
    void fail(rpc_errc e) noexcept;

    uint8_t _version;
    size_t _max_frame_bytes;
    iobuf _buffer;
    // The current frame's header, once buffered and judged sound.
    std::optional<header> _header;
    std::error_code _error;
};

}  // namespace wharf::rpc
