#pragma once

// The cluster settings of a broker (DESIGN.md sections 5 and 6): --node-id, --rpc-addr,
// --advertise-rpc-addr, --seeds and --leader-balancing. A broker without --seeds is a cluster of
// one (node 0, the only voter of every group), which is what `make run` starts.
//
// With --seeds, the seeds are every broker of the cluster: each is a voter of the controller
// group (shard 0) and of every data group (group k spans shard k of every seed), so every
// partition is replicated on all of them (replication factor = the number of seeds). Seeds are
// written as Kafka's controller.quorum.voters are, `ID@HOST:PORT`; a seed without `ID@` gets
// its position in the list as its id. Every broker of a cluster must be given the same list.

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "reactor/base/result.h"

namespace wharf {

// A host and port, as given to --kafka-addr ("127.0.0.1:9092", "[::1]:9092").
struct host_port {
    std::string host;
    uint16_t port = 0;
    std::string to_string() const;
    bool operator==(const host_port&) const = default;
};

// "HOST:PORT" with an IPv6 host in brackets. Errors: std::errc::invalid_argument.
result<host_port> parse_host_port(std::string_view text);

// Whether `host` is "localhost" or a numeric IPv4 or IPv6 address (no name lookup needed).
bool is_numeric_host(const std::string& host);
// A node id: a decimal number from 0 to INT32_MAX. Errors: std::errc::invalid_argument.
result<int32_t> parse_node_id(std::string_view text);

// Node ids of a cluster are below this (producer ids embed them, metadata_service.h).
inline constexpr int32_t max_cluster_node_ids = 1024;

struct seed_broker {
    int32_t node = 0;
    host_port rpc;
    bool operator==(const seed_broker&) const = default;
};

struct cluster_config {
    int32_t node_id = 0;
    // --rpc-addr: where internal RPC (raft) connections are accepted.
    host_port rpc_addr{"127.0.0.1", 33145};
    // What peers are told to dial; empty host = rpc_addr.
    host_port advertise_rpc_addr;
    // Every broker of the cluster, sorted by node id; empty for a cluster of one.
    std::vector<seed_broker> seeds;
    // A group's leadership goes to its preferred broker (group k: the (k mod N)-th seed).
    bool leader_balancing = true;

    bool is_cluster() const noexcept { return !seeds.empty(); }
    // The voters' node ids, in seed order (sorted); {0} for a cluster of one.
    std::vector<int32_t> voters() const;
    // The broker that group `k` (shard k) prefers as its leader.
    int32_t preferred_leader(unsigned k) const;
};

// Parses --seeds: "ID@HOST:PORT,..." (or "HOST:PORT,...", ids by position). Ids are unique and
// >= 0, addresses unique, and there are 1, 3 or 5 seeds (an even count adds a voter without
// adding a failure it survives). On error *why says what is wrong.
result<std::vector<seed_broker>> parse_seeds(std::string_view text, std::string* why);

}  // namespace wharf
