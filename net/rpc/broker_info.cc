#include "net/rpc/broker_info.h"

#include <cstring>

#include "net/rpc/errc.h"
#include "net/rpc/wire.h"
#include "reactor/base/assert.h"

namespace wharf::rpc {

namespace {
constexpr size_t fixed_bytes = 10;
}  // namespace

std::vector<std::byte> encode_broker_info(const broker_info& b) {
    WHARF_ASSERT(b.node.value() >= 0, "negative node id");
    WHARF_ASSERT(!b.kafka_host.empty() && b.kafka_host.size() <= max_broker_host_bytes &&
                     !b.rpc_host.empty() && b.rpc_host.size() <= max_broker_host_bytes,
                 "broker host lengths");
    std::vector<std::byte> out(fixed_bytes + 2 + b.kafka_host.size() + b.rpc_host.size());
    std::span<std::byte> s(out);
    wire::put<uint16_t>(s, 0, broker_info_version);
    wire::put<int32_t>(s, 2, b.node.value());
    wire::put<uint16_t>(s, 6, b.kafka_port);
    wire::put<uint16_t>(s, 8, b.rpc_port);
    size_t off = fixed_bytes;
    for (const std::string* host : {&b.kafka_host, &b.rpc_host}) {
        wire::put<uint8_t>(s, off, static_cast<uint8_t>(host->size()));
        std::memcpy(out.data() + off + 1, host->data(), host->size());
        off += 1 + host->size();
    }
    return out;
}

result<broker_info> decode_broker_info(const iobuf& payload) {
    auto bad = [] { return result<broker_info>(make_error_code(rpc_errc::malformed_broker_info)); };
    if (payload.size() < fixed_bytes + 2 || payload.size() > fixed_bytes + 2 * 256) return bad();
    std::vector<std::byte> bytes(payload.size());
    payload.copy_to(0, bytes.data(), bytes.size());
    std::span<const std::byte> s(bytes);
    if (wire::get<uint16_t>(s, 0) != broker_info_version) return bad();
    broker_info b;
    int32_t node = wire::get<int32_t>(s, 2);
    if (node < 0) return bad();
    b.node = node_id(node);
    b.kafka_port = wire::get<uint16_t>(s, 6);
    b.rpc_port = wire::get<uint16_t>(s, 8);
    size_t off = fixed_bytes;
    for (std::string* host : {&b.kafka_host, &b.rpc_host}) {
        if (off >= s.size()) return bad();
        size_t len = wire::get<uint8_t>(s, off);
        if (len == 0 || off + 1 + len > s.size()) return bad();
        host->assign(reinterpret_cast<const char*>(s.data() + off + 1), len);
        off += 1 + len;
    }
    if (off != s.size()) return bad();
    return b;
}

}  // namespace wharf::rpc
