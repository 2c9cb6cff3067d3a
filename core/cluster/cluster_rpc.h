#pragma once

// How a broker of a cluster (cluster_config.h) is wired to its peers: the cluster's id, the raft
// transport's settings and the peers' internal RPC addresses. Pure functions of the
// configuration; core/shard_services.cc and core/broker.cc use them at start-up.

#include <array>
#include <cstdint>
#include <map>
#include <string>

#include "core/cluster/topic_table.h"
#include "core/config/broker_config.h"
#include "core/raft_transport/config.h"
#include "net/rpc/handshake.h"
#include "reactor/base/result.h"

namespace wharf {

// The cluster's id, the same on every broker given the same --seeds: a 128-bit hash of the
// seeds (node ids and addresses, sorted). A broker started with another list (a typo, a stale
// config) is refused by its peers' handshakes. A cluster of one gets a random id instead
// (metadata_service keeps it in the data directory).
rpc::cluster_id derive_cluster_id(const cluster_config& c);
// Kafka's form of a cluster id: 22 characters of URL-safe base64 without padding.
std::string kafka_cluster_id(const std::array<uint8_t, 16>& bytes);

// The raft transport's settings for this broker on shard `k` (shard 0's carries the
// broker_info hello: the advertised Kafka and RPC addresses). Errors: invalid_argument with
// *why for an address that is no numeric HOST:PORT.
result<raft_rpc::raft_transport_config> transport_config(const broker_config& cfg, unsigned k,
                                                         std::string* why);
// Every seed but this broker, by node id.
result<raft_rpc::peer_addresses> peer_addresses_of(const cluster_config& c, std::string* why);
// The same, and every broker registered beyond the seeds (topic_table_snapshot).
result<raft_rpc::peer_addresses> peer_addresses_of(
    const cluster_config& c, const std::map<int32_t, broker_registration>& registered,
    std::string* why);

}  // namespace wharf
