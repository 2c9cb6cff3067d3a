// DescribeCluster (key 60, v0-1) and InitProducerId (key 22, v0-4).

#include <fmt/format.h>

#include "core/cluster/metadata_service.h"
#include "core/kafka/cluster_view.h"
#include "core/kafka/errors.h"
#include "core/kafka/handlers.h"
#include "reactor/submit_to.h"

namespace wharf::kafka {

task<describe_cluster_response> handle_describe_cluster(request_context&,
                                                        describe_cluster_request req) {
    const cluster_view& view = local_cluster_view();
    describe_cluster_response resp;
    resp.endpoint_type = req.endpoint_type;
    if (req.endpoint_type != 1) {
        // Kafka (AuthHelper.computeDescribeClusterResponse): a known type that this listener is
        // not (2, controller: Wharf's listener is a broker endpoint) is MISMATCHED_ENDPOINT_TYPE;
        // a type Kafka does not know is UNSUPPORTED_ENDPOINT_TYPE.
        resp.error_code = code(req.endpoint_type == 2 ? error_code::mismatched_endpoint_type
                                                      : error_code::unsupported_endpoint_type);
        resp.error_message = req.endpoint_type == 2
                                 ? "The request was sent to an endpoint of type BROKER, but we "
                                   "wanted an endpoint of type CONTROLLER"
                                 : fmt::format("Unsupported endpoint type {}", req.endpoint_type);
        co_return resp;
    }
    resp.cluster_id = local_cluster_id();
    resp.controller_id = view.controller_id;
    for (const auto& known : view.brokers) {
        auto& b = resp.brokers.emplace_back();
        b.broker_id = known.node_id;
        b.host = known.kafka.host;
        b.port = known.kafka.port;
    }
    co_return resp;
}

// Idempotent producers get a fresh producer id (epoch 0) on every call, as Kafka's producer id
// manager hands them out; a producer that asks again with its id and epoch (v3+, KIP-360)
// simply gets a new id, which also resets its sequences. Transactional ids need the transaction
// coordinator, which Wharf does not have yet.
task<init_producer_id_response> handle_init_producer_id(request_context&,
                                                        init_producer_id_request req) {
    init_producer_id_response resp;
    if (req.transactional_id && !req.transactional_id->empty()) {
        resp.error_code = code(error_code::transactional_id_authorization_failed);
        co_return resp;
    }
    auto fn = []() -> task<result<int64_t>> {
        auto* m = local_metadata_service();
        if (m == nullptr) co_return std::make_error_code(std::errc::not_connected);
        co_return co_await m->allocate_producer_id();
    };
    auto id = co_await submit_to(shard_id(0), std::move(fn));
    if (!id) {
        resp.error_code = code(error_code::coordinator_not_available);
        co_return resp;
    }
    resp.error_code = 0;
    resp.producer_id = *id;
    resp.producer_epoch = 0;
    co_return resp;
}

}  // namespace wharf::kafka
