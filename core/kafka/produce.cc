// Produce (key 0), versions 3-10, advertised from 0 (librdkafka enables compression only when v0
// is advertised) and answered UNSUPPORTED_VERSION for v0-2. Each partition's batch goes to its
// owning shard (the buffer moves with the message); acks=0 gets no response, acks=1 and acks=-1
// an answer once the batch is committed (with one broker, committed is durable).

#include "core/cluster/metadata_service.h"
#include "core/kafka/cluster_view.h"
#include "core/kafka/errors.h"
#include "core/kafka/handlers.h"
#include "core/kafka/leader_hint.h"
#include "core/kafka/partition_ops.h"
#include "core/kafka/scatter.h"
#include "core/metrics/kafka_metrics.h"
#include "reactor/logger.h"

namespace wharf::kafka {

namespace {

using partition_response = produce_response::partition_produce_response;

// Answers every partition of the request with one error.
produce_response answer_all(const produce_request& req, error_code e) {
    produce_response resp;
    for (const auto& t : req.topic_data) {
        auto& rt = resp.responses.emplace_back();
        rt.name = t.name;
        for (const auto& p : t.partition_data) {
            auto& rp = rt.partition_responses.emplace_back();
            rp.index = p.index;
            rp.error_code = code(e);
            rp.base_offset = -1;
        }
    }
    return resp;
}

task<produce_response> handle_produce(request_context& ctx, produce_request req) {
    if (ctx.version() < 3) co_return answer_all(req, error_code::unsupported_version);
    if (req.acks != 0 && req.acks != 1 && req.acks != -1) {
        co_return answer_all(req, error_code::invalid_required_acks);
    }
    if (req.transactional_id) {
        co_return answer_all(req, error_code::transactional_id_authorization_failed);
    }
    // Auto-create unknown topics first (this suspends, so it happens before any append of the
    // request is queued, keeping the request's appends together and in order).
    for (const auto& t : req.topic_data) {
        if (metadata_snapshot()->find(t.name) == nullptr && ctx.config.auto_create_topics &&
            validate_topic_name(t.name) == topic_name_check::ok) {
            co_await auto_create_topic(t.name);
        }
    }
    auto snapshot = metadata_snapshot();
    produce_response resp;
    std::vector<std::pair<shard_id, produce_part>> parts;
    // (topic, partition) positions in resp of the routed partitions, in the order of parts.
    std::vector<std::pair<size_t, size_t>> routed;
    // For /metrics: the records' bytes of each routed partition, and per topic those appended.
    std::vector<size_t> part_bytes;
    std::vector<uint64_t> appended_bytes(req.topic_data.size(), 0);
    for (auto& t : req.topic_data) {
        auto& rt = resp.responses.emplace_back();
        rt.name = t.name;
        const topic_metadata* md = snapshot->find(t.name);
        for (auto& p : t.partition_data) {
            auto& rp = rt.partition_responses.emplace_back();
            rp.index = p.index;
            rp.base_offset = -1;
            if (md == nullptr) {
                rp.error_code = code(validate_topic_name(t.name) == topic_name_check::ok
                                         ? error_code::unknown_topic_or_partition
                                         : error_code::invalid_topic_exception);
                continue;
            }
            if (md->internal) {
                // Kafka: clients cannot append to internal topics (__consumer_offsets).
                rp.error_code = code(error_code::invalid_topic_exception);
                rp.error_message = "Cannot append to internal topic " + t.name;
                continue;
            }
            if (p.index < 0 || size_t(p.index) >= md->partitions.size()) {
                rp.error_code = code(error_code::unknown_topic_or_partition);
                continue;
            }
            const partition_assignment& a = md->partitions[size_t(p.index)];
            part_bytes.push_back(p.records ? p.records->size() : 0);
            parts.emplace_back(a.shard,
                               produce_part{.log_partition = a.log_partition,
                                            .group = a.group,
                                            .records = p.records ? std::move(*p.records) : iobuf(),
                                            .max_message_bytes = md->config.max_message_bytes(),
                                            .compression = md->config.compression(),
                                            .await_commit = req.acks == -1});
            routed.emplace_back(resp.responses.size() - 1, rt.partition_responses.size() - 1);
        }
    }
    std::vector<std::pair<shard_id, raft_group_id>> routed_groups;
    for (const auto& part : parts) routed_groups.emplace_back(part.first, part.second.group);
    auto append = [](std::vector<produce_part> items) { return produce_on_shard(std::move(items)); };
    auto results = co_await scatter(std::move(parts), append);
    for (size_t i = 0; i < routed.size(); ++i) {
        partition_response& rp =
            resp.responses[routed[i].first].partition_responses[routed[i].second];
        produce_part_result& r = results[i];
        if (r.error_code == 0) appended_bytes[routed[i].first] += part_bytes[i];
        rp.error_code = r.error_code;
        rp.base_offset = r.base_offset;
        rp.log_append_time_ms = r.log_append_time_ms;
        rp.log_start_offset = r.log_start_offset;
        rp.error_message = std::move(r.error_message);
        if (r.error_code == code(error_code::not_leader_or_follower)) {
            // v10+ (KIP-951): where the client should go instead.
            const auto& [shard, group] = routed_groups[i];
            add_leader_hint(local_cluster_view().leader_of(shard, group), rp.current_leader,
                            resp.node_endpoints);
        }
    }
    for (size_t t = 0; t < appended_bytes.size(); ++t) {
        if (appended_bytes[t] == 0) continue;
        metrics::add_topic_bytes_in(resp.responses[t].name, appended_bytes[t]);
    }
    co_return resp;
}

}  // namespace

task<handler_result> handle_produce_frame(request_context& ctx, protocol_reader& r) {
    produce_request req;
    if (!req.decode(r, ctx.version()) || !r.ok()) {
        co_return std::make_error_code(std::errc::bad_message);
    }
    const bool no_response = req.acks == 0;
    produce_response resp = co_await handle_produce(ctx, std::move(req));
    ctx.response_error = count_error_codes(resp) > 0;
    if (!no_response) co_return std::optional<iobuf>(encode_response(ctx, resp));
    for (const auto& t : resp.responses) {
        for (const auto& p : t.partition_responses) {
            if (p.error_code != 0) {
                shard_logger().info("closing connection {} from {}: acks=0 produce to {}-{} "
                                    "failed with {}", ctx.connection.id, ctx.connection.peer,
                                    t.name, p.index,
                                    error_name(static_cast<error_code>(p.error_code)));
                co_return std::make_error_code(std::errc::connection_aborted);
            }
        }
    }
    co_return std::optional<iobuf>{};
}

}  // namespace wharf::kafka
