#pragma once

// What every shard knows about this broker as Kafka clients see it: its node id, the address
// Metadata advertises, and each shard's leader epoch (the term of its raft group). Set on every
// shard when the Kafka listener starts; read-only afterwards.

#include <cstdint>
#include <string>
#include <vector>

#include "core/config/broker_config.h"
#include "reactor/base/ids.h"
#include "reactor/task.h"

namespace wharf::kafka {

struct cluster_view {
    int32_t node_id = 0;
    host_port advertised;
    // leader_epochs[k]: the leader epoch of shard k's raft group.
    std::vector<int32_t> leader_epochs;
};

const cluster_view& local_cluster_view() noexcept;
void set_local_cluster_view(cluster_view v);

// Creates `name` with the broker's default partition count when it does not exist (through the
// metadata service on shard 0). Returns the Kafka error for the topic: none when it exists now,
// INVALID_TOPIC_EXCEPTION for a name Kafka refuses.
task<int16_t> auto_create_topic(std::string name);

}  // namespace wharf::kafka
