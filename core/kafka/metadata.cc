// Metadata (key 3), versions 0-12: the brokers of the cluster, the cluster id, and the requested topics (all of
// them for a null list, or an empty one before v1), auto-creating unknown topics when the broker
// and the request allow it.

#include "core/cluster/metadata_service.h"
#include "core/kafka/cluster_view.h"
#include "core/kafka/errors.h"
#include "core/kafka/handlers.h"

namespace wharf::kafka {

namespace {

using response_topic = metadata_response::metadata_response_topic;

response_topic describe(const topic_metadata& t, const cluster_view& view,
                        const topic_table_snapshot& table) {
    response_topic out;
    out.error_code = 0;
    out.name = t.name;
    out.topic_id = uuid{t.id.bytes};
    out.is_internal = t.internal;
    for (const auto& a : t.partitions) {
        auto& p = out.partitions.emplace_back();
        group_leader g = view.leader_of(a.shard, a.group);
        // A group between leaders (an election in progress), or led by a broker this one cannot
        // reach right now, answers LEADER_NOT_AVAILABLE, as Kafka does for a partition without
        // a live leader; clients retry.
        if (view.broker(g.leader) == nullptr) g.leader = -1;
        p.error_code = g.leader < 0 ? code(error_code::leader_not_available) : 0;
        p.partition_index = a.partition;
        p.leader_id = g.leader;
        p.leader_epoch = g.epoch;
        if (a.group == raft_group_id(0)) {
            p.replica_nodes = view.replicas;
            p.isr_nodes = view.live_replicas;
            p.offline_replicas = view.offline_replicas;
        } else {
            // A fixed replica set (preferred leader first); in sync while up, as for group 0.
            p.replica_nodes = table.replicas_of(a.group, {});
            for (int32_t r : p.replica_nodes) {
                (view.broker(r) != nullptr ? p.isr_nodes : p.offline_replicas).push_back(r);
            }
        }
    }
    return out;
}

response_topic topic_error(std::optional<std::string> name, uuid id, error_code e) {
    response_topic out;
    out.error_code = code(e);
    out.name = std::move(name);
    out.topic_id = id;
    return out;
}

}  // namespace

task<metadata_response> handle_metadata(request_context& ctx, metadata_request req) {
    const int16_t v = ctx.version();
    const cluster_view& view = local_cluster_view();
    metadata_response resp;
    for (const auto& b : view.brokers) {
        auto& broker = resp.brokers.emplace_back();
        broker.node_id = b.node_id;
        broker.host = b.kafka.host;
        broker.port = b.kafka.port;
    }
    resp.cluster_id = local_cluster_id();
    resp.controller_id = view.controller_id;

    bool all = !req.topics || (v == 0 && req.topics->empty());
    if (all) {
        auto snapshot = metadata_snapshot();
        for (const topic_metadata* t : snapshot->topics()) {
            resp.topics.push_back(describe(*t, view, *snapshot));
        }
        co_return resp;
    }
    const bool may_create = ctx.config.auto_create_topics && (v < 4 || req.allow_auto_topic_creation);
    for (const auto& rt : *req.topics) {
        auto snapshot = metadata_snapshot();
        if (!rt.name) {
            // v10+: by topic id.
            const topic_metadata* t = snapshot->find(topic_id{rt.topic_id.bytes});
            resp.topics.push_back(t != nullptr
                                      ? describe(*t, view, *snapshot)
                                      : topic_error(std::nullopt, rt.topic_id,
                                                    error_code::unknown_topic_id));
            continue;
        }
        const topic_metadata* t = snapshot->find(*rt.name);
        if (t == nullptr && validate_topic_name(*rt.name) != topic_name_check::ok) {
            resp.topics.push_back(topic_error(rt.name, {}, error_code::invalid_topic_exception));
            continue;
        }
        if (t == nullptr && may_create) {
            int16_t e = co_await auto_create_topic(*rt.name);
            if (e != 0) {
                resp.topics.push_back(topic_error(rt.name, {}, static_cast<error_code>(e)));
                continue;
            }
            snapshot = metadata_snapshot();
            t = snapshot->find(*rt.name);
            if (t == nullptr) {
                // Created by the controller, not applied here yet: the client asks again.
                resp.topics.push_back(topic_error(rt.name, {}, error_code::leader_not_available));
                continue;
            }
        }
        resp.topics.push_back(t != nullptr ? describe(*t, view, *snapshot)
                                           : topic_error(rt.name, {},
                                                         error_code::unknown_topic_or_partition));
    }
    co_return resp;
}

}  // namespace wharf::kafka
