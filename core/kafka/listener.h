#pragma once

// The Kafka listener of the broker: one net::server per shard on --kafka-addr (SO_REUSEPORT),
// every frame handed to the dispatcher. Started after the shards' logs, the metadata service and
// the producer state are ready, stopped before them.

#include <cstdint>

#include "core/config/broker_config.h"
#include "net/server.h"
#include "reactor/base/result.h"
#include "reactor/task.h"

namespace wharf::kafka {

// Starts the listeners (shard 0 first, so that a port of 0 becomes one port for every shard) and
// sets every shard's cluster_view. Returns the bound port.
task<result<uint16_t>> start_listeners(const broker_config& cfg);
// Stops every shard's listener: no new connections, open ones closed, handlers finished.
task<void> stop_listeners();

// The calling shard's listener (for its counters), or null before start / after stop.
const net::server* local_kafka_server() noexcept;

}  // namespace wharf::kafka
