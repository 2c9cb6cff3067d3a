#pragma once

// The broker's life on shard 0: start every shard's services, log the layout, serve until
// SIGINT or SIGTERM, then stop every shard in order and return the exit code. A second signal
// during the stop exits at once.

#include "core/config/broker_config.h"
#include "reactor/task.h"

namespace wharf {

// REQUIRES: runs on shard 0 of a running smp; cfg outlives it.
task<int> run_broker(const broker_config& cfg);

}  // namespace wharf
