#pragma once

// KIP-951 leader discovery, shared by Produce (v10+) and Fetch (v16+): a partition refused
// because this broker does not lead it (NOT_LEADER_OR_FOLLOWER; for Fetch also
// FENCED_LEADER_EPOCH) names the leader in its CurrentLeader, and the response's NodeEndpoints
// lists that broker's address once, so that the client can go there without first asking for
// Metadata. Runs on the handler's shard and reads that shard's copy of the cluster view.

#include "core/kafka/cluster_view.h"

namespace wharf::kafka {

// Sets `current_leader` (a generated LeaderIdAndEpoch) to `g`, and lists g's broker in
// `node_endpoints` (a generated []NodeEndpoint) unless it is there already. A leader that is
// unknown (-1) or whose address the view does not know (yet) is named without an endpoint.
template <typename LeaderIdAndEpoch, typename NodeEndpoints>
void add_leader_hint(group_leader g, LeaderIdAndEpoch& current_leader,
                     NodeEndpoints& node_endpoints) {
    current_leader.leader_id = g.leader;
    current_leader.leader_epoch = g.epoch;
    if (g.leader < 0) return;
    const broker_endpoint* b = local_cluster_view().broker(g.leader);
    if (b == nullptr) return;
    for (const auto& e : node_endpoints) {
        if (e.node_id == b->node_id) return;
    }
    auto& e = node_endpoints.emplace_back();
    e.node_id = b->node_id;
    e.host = b->kafka.host;
    e.port = b->kafka.port;
}

}  // namespace wharf::kafka
