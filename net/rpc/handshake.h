#pragma once

// The RPC handshake: the first bytes of every internal RPC connection. The dialer sends a
// request naming its cluster, itself, the protocol versions it speaks and the shard of the
// acceptor that is to own the connection (shard k of a broker talks only to shard k of its
// peers: the acceptor hands the connection to that shard). The acceptor answers with one reply,
// accepted with the version both will speak, or refused with a status, after which it closes
// the connection. Frames (frame.h) follow an accepted reply in both directions.
//
// Request (dialer -> acceptor), 40 bytes, little-endian:
//
//   offset size field
//        0    4 magic         "WRPC" (0x57 0x52 0x50 0x43)
//        4    2 min_version   the oldest protocol version the dialer speaks
//        6    2 max_version   the newest
//        8   16 cluster_id
//       24    4 node_id       the dialer's node id (>= 0)
//       28    4 target_shard  the acceptor's shard that is to own the connection
//       32    8 checksum      XXH3_64bits of bytes [0, 32)
//
// Reply (acceptor -> dialer), 24 bytes, little-endian:
//
//   offset size field
//        0    4 magic         "WRPR" (0x57 0x52 0x50 0x52)
//        4    2 status        handshake_status
//        6    2 version       accepted: the version both speak from now on; refused: the
//                             acceptor's newest version (a hint for the log)
//        8    4 node_id       the acceptor's node id
//       12    4 shard_count   the acceptor's number of shards
//       16    8 checksum      XXH3_64bits of bytes [0, 16)
//
// Both layouts are fixed across protocol versions, since they are how a version is agreed on;
// a later version that needs to exchange more sends it in frames after the handshake. The two
// magics differ so that a reply reflected back (or a request sent to a dialer) is refused.

#include <array>
#include <cstddef>
#include <cstdint>
#include <span>
#include <system_error>

#include "net/rpc/errc.h"
#include "net/rpc/frame.h"
#include "reactor/base/ids.h"
#include "reactor/base/result.h"

namespace wharf::rpc {

inline constexpr size_t handshake_request_bytes = 40;
inline constexpr size_t handshake_reply_bytes = 24;

// The id of one Wharf cluster, 128 bits, chosen when the cluster is created; brokers of another
// cluster are refused even when their addresses are reachable (a stale or copied config).
struct cluster_id {
    std::array<uint8_t, 16> bytes{};

    auto operator<=>(const cluster_id&) const noexcept = default;
    bool operator==(const cluster_id&) const noexcept = default;
};

struct handshake_request {
    uint16_t min_version = min_protocol_version;
    uint16_t max_version = max_protocol_version;
    cluster_id cluster;
    node_id node{0};
    shard_id target_shard{0};
};

// The reply's status. The numbers are part of the wire format: never renumber.
enum class handshake_status : uint16_t {
    accepted = 0,
    bad_magic = 1,            // the request is no RPC handshake
    unsupported_version = 2,  // no version in common
    wrong_cluster = 3,        // the dialer's cluster id is not the acceptor's
    no_such_shard = 4,        // target_shard >= the acceptor's shard count
    checksum_mismatch = 5,    // the request's bytes changed on the way
    malformed = 6,            // impossible fields: min_version > max_version, version 0,
                              // a negative node id
};
inline constexpr uint16_t max_handshake_status = 6;
const char* to_string(handshake_status s) noexcept;

struct handshake_reply {
    handshake_status status = handshake_status::accepted;
    uint16_t version = 0;
    node_id node{0};
    uint32_t shard_count = 0;
};

// What the acceptor compares a request with.
struct acceptor_identity {
    cluster_id cluster;
    node_id node{0};
    uint32_t shard_count = 0;
    uint16_t min_version = min_protocol_version;
    uint16_t max_version = max_protocol_version;
};

// REQUIRES (encode_handshake): 1 <= r.min_version <= r.max_version, r.node >= 0.
std::array<std::byte, handshake_request_bytes> encode_handshake(const handshake_request& r);
// Errors: bad_magic, checksum_mismatch, malformed_handshake (the fields encode_handshake
// requires do not hold).
result<handshake_request> decode_handshake(std::span<const std::byte, handshake_request_bytes> in);

// The acceptor's answer to what decode_handshake made of the request: accepted with the newest
// version both sides speak, or the first refusal in the order magic, checksum, malformed,
// version, cluster, shard.
handshake_reply answer_handshake(const result<handshake_request>& request,
                                 const acceptor_identity& self);

// REQUIRES: r.status is a handshake_status value.
std::array<std::byte, handshake_reply_bytes> encode_handshake_reply(const handshake_reply& r);
// Errors: bad_magic, checksum_mismatch, malformed_handshake (an unknown status).
result<handshake_reply> decode_handshake_reply(
    std::span<const std::byte, handshake_reply_bytes> in);

// The dialer's verdict on the reply to the request it sent: the protocol version to speak, or
// the refusal as the rpc_errc of the same name (malformed -> malformed_handshake), or
// malformed_handshake when an accepting reply names a version outside the request's range.
result<uint16_t> handshake_outcome(const handshake_reply& reply, const handshake_request& sent);

}  // namespace wharf::rpc
