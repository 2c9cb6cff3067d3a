#pragma once

// Forwarding of controller writes (KIP-590's idea, without its envelope). In a cluster only the
// controller (the leader of the metadata log, cluster_view.h) writes topics and their configs;
// any other broker sends such a request on to the controller over the Kafka protocol, as it
// came, and answers with the controller's response, so that clients may send CreateTopics,
// DeleteTopics, CreatePartitions and config changes to any broker.
//
// The forwarding connection announces itself with forward_client_id, and a request that
// arrives under it is never forwarded again: a controller that has just lost its leadership
// answers NOT_CONTROLLER. The forwarding broker then tries again, as it does while the cluster
// has no controller or the controller cannot be reached, for a few seconds (the dispatcher's
// controller_wait); after that the answer is NOT_CONTROLLER, and the client retries after
// refreshing its metadata.
//
// Each shard keeps its own connection to the controller, opened on first use and reopened when
// the controller changes or the connection breaks; stop_forwarding() closes it.

#include <cstdint>
#include <string>

#include "core/kafka/request_context.h"
#include "reactor/iobuf.h"
#include "reactor/task.h"

namespace wharf::kafka {

inline constexpr const char* forward_client_id = "wharf-forward";

// Whether a request to the controller must go on to another broker: in a cluster, on a broker
// that is not the controller, for a request that was not forwarded already.
bool must_forward(const request_context& ctx) noexcept;
// Whether the API writes through the controller (and is forwarded).
bool is_controller_write(api_key key) noexcept;

// Sends the request body to the controller in ctx's API and version and returns the response
// frame for ctx (its header and the controller's body), or an error when the controller cannot
// be reached or refused everything with NOT_CONTROLLER.
task<result<iobuf>> forward_to_controller(const request_context& ctx, iobuf body);

// Auto-creation on a broker that is not the controller: a CreateTopics of `name` with the
// controller's defaults. Returns the topic's Kafka error code (0 once it exists).
task<int16_t> forward_create_topic(std::string name);

// Closes the calling shard's forwarding connection.
task<void> stop_forwarding();

}  // namespace wharf::kafka
