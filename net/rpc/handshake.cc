#include "net/rpc/handshake.h"

#include <algorithm>

#include "net/rpc/wire.h"

namespace wharf::rpc {

namespace {

// "WRPC" and "WRPR" as they appear on the wire, read as little-endian u32s.
constexpr uint32_t request_magic = 0x43505257;
constexpr uint32_t reply_magic = 0x52505257;

namespace request_off {
constexpr size_t magic = 0;
constexpr size_t min_version = 4;
constexpr size_t max_version = 6;
constexpr size_t cluster = 8;
constexpr size_t node = 24;
constexpr size_t target_shard = 28;
constexpr size_t checksum = 32;
// The layout above fills the request exactly; a field added must grow the request.
static_assert(checksum + 8 == handshake_request_bytes);
}  // namespace request_off

namespace reply_off {
constexpr size_t magic = 0;
constexpr size_t status = 4;
constexpr size_t version = 6;
constexpr size_t node = 8;
constexpr size_t shard_count = 12;
constexpr size_t checksum = 16;
static_assert(checksum + 8 == handshake_reply_bytes);
}  // namespace reply_off

static_assert(sizeof(cluster_id{}.bytes) == request_off::node - request_off::cluster);

bool plausible(const handshake_request& r) noexcept {
    return r.min_version >= 1 && r.min_version <= r.max_version && r.node.value() >= 0;
}

template <size_t N>
uint64_t checksum_of(std::span<const std::byte, N> in) noexcept {
    return wire::checksum(in.first(N - sizeof(uint64_t)));
}

handshake_reply refusal(handshake_status s, const acceptor_identity& self) noexcept {
    return {s, self.max_version, self.node, self.shard_count};
}

}  // namespace

const char* to_string(handshake_status s) noexcept {
    switch (s) {
        case handshake_status::accepted:
            return "accepted";
        case handshake_status::bad_magic:
            return "bad_magic";
        case handshake_status::unsupported_version:
            return "unsupported_version";
        case handshake_status::wrong_cluster:
            return "wrong_cluster";
        case handshake_status::no_such_shard:
            return "no_such_shard";
        case handshake_status::checksum_mismatch:
            return "checksum_mismatch";
        case handshake_status::malformed:
            return "malformed";
    }
    return "unknown";
}

std::array<std::byte, handshake_request_bytes> encode_handshake(const handshake_request& r) {
    WHARF_ASSERT(plausible(r), "encoding an impossible handshake: versions [{}, {}], node {}",
                 r.min_version, r.max_version, r.node);
    std::array<std::byte, handshake_request_bytes> out{};
    wire::put<uint32_t>(out, request_off::magic, request_magic);
    wire::put<uint16_t>(out, request_off::min_version, r.min_version);
    wire::put<uint16_t>(out, request_off::max_version, r.max_version);
    std::memcpy(out.data() + request_off::cluster, r.cluster.bytes.data(), r.cluster.bytes.size());
    wire::put<int32_t>(out, request_off::node, r.node.value());
    wire::put<uint32_t>(out, request_off::target_shard, r.target_shard.value());
    wire::put<uint64_t>(out, request_off::checksum,
                        checksum_of(std::span<const std::byte, handshake_request_bytes>(out)));
    return out;
}

result<handshake_request> decode_handshake(std::span<const std::byte, handshake_request_bytes> in) {
    if (wire::get<uint32_t>(in, request_off::magic) != request_magic) return rpc_errc::bad_magic;
    if (wire::get<uint64_t>(in, request_off::checksum) != checksum_of(in)) {
        return rpc_errc::checksum_mismatch;
    }
    handshake_request r;
    r.min_version = wire::get<uint16_t>(in, request_off::min_version);
    r.max_version = wire::get<uint16_t>(in, request_off::max_version);
    std::memcpy(r.cluster.bytes.data(), in.data() + request_off::cluster, r.cluster.bytes.size());
    r.node = node_id(wire::get<int32_t>(in, request_off::node));
    r.target_shard = shard_id(wire::get<uint32_t>(in, request_off::target_shard));
    if (!plausible(r)) return rpc_errc::malformed_handshake;
    return r;
}

handshake_reply answer_handshake(const result<handshake_request>& request,
                                 const acceptor_identity& self) {
    WHARF_ASSERT(self.min_version >= 1 && self.min_version <= self.max_version,
                 "acceptor versions [{}, {}]", self.min_version, self.max_version);
    if (!request) {
        auto ec = request.error();
        if (ec == rpc_errc::bad_magic) return refusal(handshake_status::bad_magic, self);
        if (ec == rpc_errc::checksum_mismatch) {
            return refusal(handshake_status::checksum_mismatch, self);
        }
        return refusal(handshake_status::malformed, self);
    }
    const handshake_request& r = *request;
    uint16_t version = std::min(r.max_version, self.max_version);
    if (version < std::max(r.min_version, self.min_version)) {
        return refusal(handshake_status::unsupported_version, self);
    }
    if (r.cluster != self.cluster) return refusal(handshake_status::wrong_cluster, self);
    if (r.target_shard.value() >= self.shard_count) {
        return refusal(handshake_status::no_such_shard, self);
    }
    return {handshake_status::accepted, version, self.node, self.shard_count};
}

std::array<std::byte, handshake_reply_bytes> encode_handshake_reply(const handshake_reply& r) {
    WHARF_ASSERT(static_cast<uint16_t>(r.status) <= max_handshake_status,
                 "encoding handshake status {}", static_cast<uint16_t>(r.status));
    std::array<std::byte, handshake_reply_bytes> out{};
    wire::put<uint32_t>(out, reply_off::magic, reply_magic);
    wire::put<uint16_t>(out, reply_off::status, static_cast<uint16_t>(r.status));
    wire::put<uint16_t>(out, reply_off::version, r.version);
    wire::put<int32_t>(out, reply_off::node, r.node.value());
    wire::put<uint32_t>(out, reply_off::shard_count, r.shard_count);
    wire::put<uint64_t>(out, reply_off::checksum,
                        checksum_of(std::span<const std::byte, handshake_reply_bytes>(out)));
    return out;
}

result<handshake_reply> decode_handshake_reply(
    std::span<const std::byte, handshake_reply_bytes> in) {
    if (wire::get<uint32_t>(in, reply_off::magic) != reply_magic) return rpc_errc::bad_magic;
    if (wire::get<uint64_t>(in, reply_off::checksum) != checksum_of(in)) {
        return rpc_errc::checksum_mismatch;
    }
    auto status = wire::get<uint16_t>(in, reply_off::status);
    if (status > max_handshake_status) return rpc_errc::malformed_handshake;
    handshake_reply r;
    r.status = static_cast<handshake_status>(status);
    r.version = wire::get<uint16_t>(in, reply_off::version);
    r.node = node_id(wire::get<int32_t>(in, reply_off::node));
    r.shard_count = wire::get<uint32_t>(in, reply_off::shard_count);
    return r;
}

result<uint16_t> handshake_outcome(const handshake_reply& reply, const handshake_request& sent) {
    switch (reply.status) {
        case handshake_status::accepted:
            if (reply.version < sent.min_version || reply.version > sent.max_version) {
                return rpc_errc::malformed_handshake;
            }
            return reply.version;
        case handshake_status::bad_magic:
            return rpc_errc::bad_magic;
        case handshake_status::unsupported_version:
            return rpc_errc::unsupported_version;
        case handshake_status::wrong_cluster:
            return rpc_errc::wrong_cluster;
        case handshake_status::no_such_shard:
            return rpc_errc::no_such_shard;
        case handshake_status::checksum_mismatch:
            return rpc_errc::checksum_mismatch;
        case handshake_status::malformed:
            return rpc_errc::malformed_handshake;
    }
    return rpc_errc::malformed_handshake;
}

}  // namespace wharf::rpc
