#pragma once

// What every shard knows about the cluster as Kafka clients see it: this broker's node id and
// advertised address, every broker that Metadata lists, and the leader and leader epoch (the
// raft term) of each shard's raft group, which lead every partition placed on that shard.
//
// Shard 0 builds the view: the brokers from the configuration and from the broker_info of
// peers (note_peer_broker) whose connection from shard 0 is up, the leaders by asking every
// shard. It republishes it to every shard
// whenever it changes, checking every refresh_interval; the view is a copy on each shard,
// read-only between refreshes (Metadata answers may be up to one interval stale, which Kafka
// clients handle: a NOT_LEADER_OR_FOLLOWER makes them ask again).

#include <chrono>
#include <cstdint>
#include <map>
#include <string>
#include <utility>
#include <vector>

#include "core/config/broker_config.h"
#include "net/rpc/broker_info.h"
#include "reactor/base/ids.h"
#include "reactor/task.h"

namespace wharf::kafka {

struct broker_endpoint {
    int32_t node_id = 0;
    host_port kafka;
    bool operator==(const broker_endpoint&) const = default;
};

struct group_leader {
    // -1 while the group has no known leader.
    int32_t leader = -1;
    int32_t epoch = -1;
    bool operator==(const group_leader&) const = default;
};

struct cluster_view {
    int32_t node_id = 0;
    host_port advertised;
    // The brokers of the cluster that are up, by node id (this one included): those that told
    // their address (broker_info) and to which shard 0's connection is established now. A
    // broker that goes down leaves the list within a refresh of its connection breaking.
    std::vector<broker_endpoint> brokers;
    // The replicas of every partition: the voters of every group (shard 0's group's membership
    // stands for all), and those of them up now
    // (Metadata's ISR; a replica that is up catches up by itself) and down.
    std::vector<int32_t> replicas;
    std::vector<int32_t> live_replicas;
    std::vector<int32_t> offline_replicas;
    // groups[k]: shard k's group 0 (the group of every broker).
    std::vector<group_leader> groups;
    // The groups of fixed replica sets, by (shard, group): from raft where this broker is a
    // replica, from the leaders' notices elsewhere (core/cluster/group_leaders.h).
    std::map<std::pair<uint32_t, uint16_t>, group_leader> fixed_groups;
    // The controller: the leader of shard 0's group; -1 when unknown.
    int32_t controller_id = -1;

    bool operator==(const cluster_view&) const = default;
    // The broker with this node id, or null when it is not known (yet).
    const broker_endpoint* broker(int32_t node) const noexcept;
    // The leader of shard k's group `g`, or {} when unknown.
    group_leader leader_of(shard_id k, raft_group_id g = raft_group_id(0)) const noexcept;
};

inline constexpr std::chrono::milliseconds cluster_view_refresh_interval{100};

const cluster_view& local_cluster_view() noexcept;

// Publishes the first view (the listener's bound port is known) and starts refreshing it.
// On shard 0.
task<void> start_cluster_view(const broker_config& cfg, host_port advertised);
// Stops refreshing. On shard 0.
task<void> stop_cluster_view();
// A peer's broker_info, on shard 0 (the RPC listener's handler): the broker is listed from the
// next refresh on.
void note_peer_broker(const rpc::broker_info& b);

// Creates `name` with the broker's default partition count when it does not exist (through the
// metadata service on shard 0). Returns the Kafka error for the topic: none when it exists now,
// INVALID_TOPIC_EXCEPTION for a name Kafka refuses.
task<int16_t> auto_create_topic(std::string name);

}  // namespace wharf::kafka
