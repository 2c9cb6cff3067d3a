#pragma once

// The admin API: an HTTP server (net/http/) on shard 0 at --admin-addr with Prometheus
// /metrics and JSON endpoints for operators and load balancers:
//
//   /metrics            every shard's counters, gauges and histograms (core/metrics/)
//   /v1/status/ready    200 {"ready":true} once every shard serves Kafka, 503 before and while
//                       stopping
//   /v1/health          200 when ready and every shard runs, 503 otherwise, with the details
//   /v1/brokers         this broker (a single broker is a cluster of one)
//   /v1/shards          per shard: partitions, log bytes, utilization, raft state, connections
//   /v1/partitions      every partition: shard, start offset, high watermark
//   /v1/config          the effective broker configuration
//   PUT /v1/brokers/{id}/decommission
//                       (the controller only; others answer 503 naming it) every raft group
//                       removes the broker's replica; 200, 404 for a broker the cluster does not
//                       have, 400 for its last broker
//   GET /v1/brokers/{id}/decommission
//                       how far that decommission has got, as this broker knows it: finished,
//                       the partitions and (shard, group)s that still have the broker; 400 for
//                       a broker not decommissioned, 404 for one the cluster does not have
//   POST /v1/raft/{group}/transfer_leadership?target={node}
//                       (the group's leader only; others answer 503 naming it) group k, shard k's
//                       raft group, hands leadership to that voter; 200 once begun, 400 for a
//                       node that is not a voter, 404 for a group the broker does not have
//   POST /v1/partitions/kafka/{topic}/{partition}/transfer_leadership?target={node}
//                       the same for the raft group that replicates the partition (whose leader
//                       only takes it; others answer 503 naming it when they know it); 404 for
//                       a partition the cluster does not have
//
// Lifecycle (core/broker.cc): start_admin_api() right after the signals are set up, so that
// readiness can be watched during recovery; set_ready(true) once the Kafka listeners accept;
// set_ready(false) when a stop begins; stop_admin_api() before the shards stop. Everything here
// runs on shard 0; routes reach the other shards with submit_to.

#include <cstdint>
#include <optional>

#include "core/config/broker_config.h"
#include "reactor/base/result.h"
#include "reactor/task.h"

namespace wharf::admin {

// Starts the API when cfg.admin_addr is set and logs "admin API on HOST:PORT". Returns the bound
// port, nullopt when disabled, or the listen error (address in use, bad address).
// REQUIRES: on shard 0; cfg outlives stop_admin_api().
task<result<std::optional<uint16_t>>> start_admin_api(const broker_config& cfg);
// Stops the server, waiting for requests in flight. Idempotent.
task<void> stop_admin_api();
// What /v1/status/ready answers. REQUIRES: on shard 0.
void set_ready(bool ready);

}  // namespace wharf::admin
