#include "core/cluster/cluster_rpc.h"

#include <cstring>

#include <fmt/format.h>
#include <xxhash.h>

#include "net/rpc/broker_info.h"

namespace wharf {

rpc::cluster_id derive_cluster_id(const cluster_config& c) {
    std::string canonical = "wharf-cluster-v1";
    for (const auto& s : c.seeds) canonical += fmt::format(",{}@{}", s.node, s.rpc.to_string());
    XXH128_hash_t h = XXH3_128bits(canonical.data(), canonical.size());
    rpc::cluster_id id;
    std::memcpy(id.bytes.data(), &h.high64, 8);
    std::memcpy(id.bytes.data() + 8, &h.low64, 8);
    return id;
}

std::string kafka_cluster_id(const std::array<uint8_t, 16>& bytes) {
    static constexpr char alphabet[] =
        "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_";
    std::string out;
    uint32_t acc = 0;
    int bits = 0;
    for (uint8_t b : bytes) {
        acc = (acc << 8) | b;
        bits += 8;
        while (bits >= 6) {
            out += alphabet[(acc >> (bits - 6)) & 0x3f];
            bits -= 6;
        }
    }
    if (bits > 0) out += alphabet[(acc << (6 - bits)) & 0x3f];
    return out;
}

result<raft_rpc::raft_transport_config> transport_config(const broker_config& cfg, unsigned k,
                                                         std::string* why) {
    const cluster_config& c = cfg.cluster;
    raft_rpc::raft_transport_config t;
    t.cluster = derive_cluster_id(c);
    t.self = node_id(c.node_id);
    auto listen = raft_rpc::parse_rpc_address(c.rpc_addr.to_string());
    if (!listen) {
        if (why) *why = "--rpc-addr " + c.rpc_addr.to_string() + " is no numeric address";
        return listen.error();
    }
    t.listen_address = *listen;
    if (k == 0) {
        const host_port& kafka =
            cfg.advertise_kafka_addr.host.empty() ? cfg.kafka_addr : cfg.advertise_kafka_addr;
        const host_port& rpc_addr =
            c.advertise_rpc_addr.host.empty() ? c.rpc_addr : c.advertise_rpc_addr;
        if (kafka.host.size() > rpc::max_broker_host_bytes ||
            rpc_addr.host.size() > rpc::max_broker_host_bytes) {
            if (why) *why = "an advertised host name is longer than 255 bytes";
            return std::make_error_code(std::errc::invalid_argument);
        }
        t.hello = rpc::encode_broker_info(rpc::broker_info{.node = node_id(c.node_id),
                                                           .kafka_host = kafka.host,
                                                           .kafka_port = kafka.port,
                                                           .rpc_host = rpc_addr.host,
                                                           .rpc_port = rpc_addr.port});
    }
    if (auto v = raft_rpc::validate_config(t, why); !v) return v.error();
    return t;
}

result<raft_rpc::peer_addresses> peer_addresses_of(const cluster_config& c, std::string* why) {
    raft_rpc::peer_addresses peers;
    for (const auto& s : c.seeds) {
        if (s.node == c.node_id) continue;
        auto a = raft_rpc::parse_rpc_address(s.rpc.to_string());
        if (!a) {
            if (why) *why = fmt::format("seed {}@{} is no numeric address", s.node,
                                        s.rpc.to_string());
            return a.error();
        }
        peers.emplace(node_id(s.node), *a);
    }
    return peers;
}

result<raft_rpc::peer_addresses> peer_addresses_of(
    const cluster_config& c, const std::map<int32_t, broker_registration>& registered,
    std::string* why) {
    auto peers = peer_addresses_of(c, why);
    if (!peers) return peers;
    for (const auto& [node, r] : registered) {
        if (node == c.node_id) continue;
        auto a = raft_rpc::parse_rpc_address(r.rpc.to_string());
        if (!a) {
            if (why) *why = fmt::format("broker {}@{} is no numeric address", node,
                                        r.rpc.to_string());
            return a.error();
        }
        peers->insert_or_assign(node_id(node), *a);
    }
    return peers;
}

}  // namespace wharf
