#pragma once

// broker_info: what a broker tells a peer about itself right after the handshake of its shard-0
// connection (frame_type::broker_info): its node id and the addresses that Kafka clients and
// peers should use. Peers keep it as soft state (core/cluster/cluster_members.h) and list the
// broker in Metadata; nothing of it is persisted.
//
// Layout (little-endian):
//   offset size field
//        0    2 version        1
//        2    4 node_id        >= 0
//        6    2 kafka port
//        8    2 rpc port
//       10    1 kafka host length (1..255), then its bytes
//        .    1 rpc host length (1..255), then its bytes
// A payload with bytes after the rpc host is refused (a newer version would raise `version`).

#include <cstdint>
#include <string>
#include <vector>

#include "reactor/base/ids.h"
#include "reactor/base/result.h"
#include "reactor/iobuf.h"

namespace wharf::rpc {

inline constexpr uint16_t broker_info_version = 1;
inline constexpr size_t max_broker_host_bytes = 255;

struct broker_info {
    node_id node{0};
    std::string kafka_host;
    uint16_t kafka_port = 0;
    std::string rpc_host;
    uint16_t rpc_port = 0;
    bool operator==(const broker_info&) const = default;
};

// REQUIRES: node >= 0; both hosts 1..max_broker_host_bytes long.
std::vector<std::byte> encode_broker_info(const broker_info& b);
// Errors: rpc_errc::malformed_broker_info for anything but one well-formed version-1 record.
result<broker_info> decode_broker_info(const iobuf& payload);

}  // namespace wharf::rpc
