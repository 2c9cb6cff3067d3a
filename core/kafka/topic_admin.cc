// CreateTopics (key 19, v2-7), DeleteTopics (key 20, v1-6) and CreatePartitions (key 37, v0-3):
// validated and applied by the metadata service on shard 0, which publishes the new topic table
// to every shard before it answers.

#include <algorithm>
#include <set>

#include "core/cluster/metadata_service.h"
#include "core/kafka/cluster_view.h"
#include "core/kafka/errors.h"
#include "core/kafka/handlers.h"
#include "reactor/submit_to.h"

namespace wharf::kafka {

namespace {

metadata_service& controller() {
    auto* m = local_metadata_service();
    WHARF_ASSERT(m != nullptr, "the metadata service runs on shard 0 while the broker serves");
    return *m;
}

template <typename Result>
void set_error(Result& r, const topic_check& e) {
    if (!e) return;
    r.error_code = kafka_error_code(e->code);
    r.error_message = e->message;
}

using creatable = create_topics_request::creatable_topic;
using created = create_topics_response::creatable_topic_result;

// Every partition is replicated on every voter of the cluster (cluster_config.h), so an explicit
// assignment must name exactly those brokers, in any order.
bool names_every_replica(std::vector<int32_t> broker_ids) {
    std::sort(broker_ids.begin(), broker_ids.end());
    return broker_ids == local_cluster_view().replicas;
}

// Checks what the metadata service does not: the request's own shape.
std::optional<topic_error> check_shape(const creatable& t, int32_t& partitions,
                                       config_map& configs) {
    partitions = t.num_partitions;
    if (!t.assignments.empty()) {
        if (t.num_partitions != -1 || t.replication_factor != -1) {
            return topic_error{cluster_errc::invalid_partitions,
                               "Both numPartitions or replicationFactor and replicasAssignments "
                               "were set. Both cannot be used at the same time."};
        }
        for (const auto& a : t.assignments) {
            if (!names_every_replica(a.broker_ids)) {
                return topic_error{cluster_errc::invalid_replication_factor,
                                   "Replica assignments must name every broker of the cluster "
                                   "(each partition is replicated on all of them)."};
            }
        }
        partitions = static_cast<int32_t>(t.assignments.size());
    }
    for (const auto& c : t.configs) {
        if (!c.value) {
            return topic_error{cluster_errc::invalid_config,
                               "Null value not supported for topic configs: " + c.name};
        }
        configs[c.name] = *c.value;
    }
    return std::nullopt;
}

void describe_created(created& out, const topic_metadata& t) {
    out.topic_id = uuid{t.id.bytes};
    out.num_partitions = static_cast<int32_t>(t.partitions.size());
    // Every partition is replicated on every broker the raft groups span (topic_table.h).
    out.replication_factor = static_cast<int16_t>(metadata_snapshot()->broker_count());
    auto& configs = out.configs.emplace();
    for (const auto& c : t.config.describe()) {
        auto& e = configs.emplace_back();
        e.name = std::string(c.name);
        e.value = c.value;
        e.read_only = false;
        e.config_source = static_cast<int8_t>(c.source);
        e.is_sensitive = c.sensitive;
    }
}

}  // namespace

task<create_topics_response> handle_create_topics(request_context& ctx,
                                                  create_topics_request req) {
    create_topics_response resp;
    std::multiset<std::string> names;
    for (const auto& t : req.topics) names.insert(t.name);
    for (auto& t : req.topics) {
        auto& out = resp.topics.emplace_back();
        out.name = t.name;
        if (names.count(t.name) > 1) {
            out.error_code = code(error_code::invalid_request);
            out.error_message = "Create topics request from client contains a duplicate topic: " +
                                t.name;
            continue;
        }
        int32_t partitions = 0;
        config_map configs;
        if (auto e = check_shape(t, partitions, configs)) {
            set_error(out, e);
            continue;
        }
        auto fn = [name = t.name, partitions, rf = t.replication_factor,
                   configs = std::move(configs), validate = req.validate_only]() mutable {
            return controller().create_topic(std::move(name), partitions, rf,
                                             std::move(configs), validate);
        };
        create_topic_outcome r = co_await submit_to(shard_id(0), std::move(fn));
        set_error(out, r.error);
        if (!r.error && r.topic && ctx.version() >= 5) describe_created(out, *r.topic);
    }
    co_return resp;
}

task<delete_topics_response> handle_delete_topics(request_context& ctx,
                                                  delete_topics_request req) {
    delete_topics_response resp;
    auto snapshot = metadata_snapshot();
    std::vector<std::pair<std::optional<std::string>, uuid>> wanted;
    if (ctx.version() >= 6) {
        for (const auto& t : req.topics) wanted.emplace_back(t.name, t.topic_id);
    } else {
        for (const auto& n : req.topic_names) wanted.emplace_back(n, uuid{});
    }
    for (auto& [name, id] : wanted) {
        auto& out = resp.responses.emplace_back();
        out.name = name;
        out.topic_id = id;
        std::optional<std::string> target = name;
        if (!target) {
            const topic_metadata* t = snapshot->find(topic_id{id.bytes});
            if (t == nullptr) {
                out.error_code = code(error_code::unknown_topic_id);
                continue;
            }
            target = t->name;
            out.name = t->name;
        }
        auto fn = [n = *target]() mutable { return controller().delete_topic(std::move(n)); };
        topic_check e = co_await submit_to(shard_id(0), std::move(fn));
        if (e) out.error_code = kafka_error_code(e->code);
        if (e && ctx.version() >= 5) out.error_message = e->message;
    }
    co_return resp;
}

task<create_partitions_response> handle_create_partitions(request_context&,
                                                          create_partitions_request req) {
    create_partitions_response resp;
    for (const auto& t : req.topics) {
        auto& out = resp.results.emplace_back();
        out.name = t.name;
        if (t.assignments) {
            bool ok = true;
            for (const auto& a : *t.assignments) {
                ok = ok && names_every_replica(a.broker_ids);
            }
            if (!ok) {
                out.error_code = code(error_code::invalid_replica_assignment);
                out.error_message = "Replica assignments must name every broker of the cluster.";
                continue;
            }
        }
        auto fn = [n = t.name, count = t.count, validate = req.validate_only]() mutable {
            return controller().create_partitions(std::move(n), count, validate);
        };
        topic_check e = co_await submit_to(shard_id(0), std::move(fn));
        set_error(out, e);
    }
    co_return resp;
}

}  // namespace wharf::kafka
