// The JSON bodies of the admin API (routes.h).

#include <chrono>

#include <fmt/format.h>

#include "core/admin/routes.h"
#include "core/config/units.h"
#include "reactor/placement.h"

namespace wharf::admin {

using nlohmann::json;

namespace {

json address_or_null(const std::optional<host_port>& a) {
    return a ? json(a->to_string()) : json(nullptr);
}

}  // namespace

json config_json(const broker_config& cfg) {
    using namespace std::chrono;
    json j;
    // Listeners and limits.
    j["kafka-addr"] = cfg.kafka_addr.to_string();
    j["advertise-kafka-addr"] = cfg.advertise_kafka_addr.host.empty()
                                    ? json(nullptr)
                                    : json(cfg.advertise_kafka_addr.to_string());
    j["admin-addr"] = address_or_null(cfg.admin_addr);
    j["connections-max-idle-ms"] = cfg.connections_max_idle.count();
    j["max-request-bytes"] = cfg.max_request_bytes;
    j["max-inflight-request-bytes"] = cfg.max_inflight_request_bytes_per_shard;
    // Topics and consumer groups.
    j["auto-create-topics"] = cfg.auto_create_topics;
    j["default-partitions"] = cfg.default_partitions;
    j["offsets-partitions"] = cfg.offsets_partitions;
    j["offsets-retention-minutes"] = cfg.offsets_retention.count();
    j["offsets-retention-check-interval"] = cfg.offsets_retention_check_interval.count();
    j["group-initial-rebalance-delay"] = cfg.group_initial_rebalance_delay.count();
    j["group-min-session-timeout"] = cfg.group_min_session_timeout.count();
    j["group-max-session-timeout"] = cfg.group_max_session_timeout.count();
    // Runtime.
    j["smp"] = cfg.smp;
    j["cpuset"] = cfg.cpus;
    j["overprovisioned"] = cfg.overprovisioned;
    j["poll-us"] = cfg.poll_us.count();
    j["stall-threshold"] = cfg.stall_threshold.count();
    j["memory"] = cfg.memory_bytes;
    // Storage.
    j["data-dir"] = cfg.data_dir;
    j["segment-bytes"] = cfg.segment_bytes;
    j["segment-ms"] = cfg.segment_ms.count();
    j["flush-interval-us"] = cfg.flush_interval_us.count();
    j["fsync"] = cfg.fsync == fsync_policy::always ? "always" : "never";
    j["max-batch-bytes"] = cfg.max_batch_bytes;
    j["retention-check-interval"] = cfg.retention_check_interval.count();
    j["log-level"] = cfg.log_level;
    // Cluster.
    const cluster_config& c = cfg.cluster;
    j["node-id"] = c.node_id;
    j["rpc-addr"] = c.rpc_addr.to_string();
    j["advertise-rpc-addr"] = c.advertise_rpc_addr.host.empty()
                                  ? json(nullptr)
                                  : json(c.advertise_rpc_addr.to_string());
    json seeds = json::array();
    for (const auto& s : c.seeds) seeds.push_back(fmt::format("{}@{}", s.node, s.rpc.to_string()));
    j["seeds"] = seeds;
    j["leader-balancing"] = c.leader_balancing;
    // Derived from the above.
    j["tail-cache-bytes-per-shard"] = cfg.tail_cache_bytes_per_shard();
    return j;
}

json shards_json(const std::vector<metrics::shard_summary>& shards, const broker_config& cfg) {
    json out = json::array();
    for (const auto& s : shards) {
        json j;
        j["shard"] = s.shard;
        if (s.shard < cfg.cpus.size()) {
            j["cpu"] = cfg.cpus[s.shard];
            j["numa_node"] = numa_node_of(cfg.cpus[s.shard]);
        } else {
            j["cpu"] = nullptr;  // overprovisioned: not pinned
            j["numa_node"] = nullptr;
        }
        j["running"] = s.running;
        j["partitions"] = s.partitions;
        j["log_bytes"] = s.log_bytes;
        j["segments"] = s.segments;
        j["utilization"] = s.utilization;
        j["kafka_connections"] = s.kafka_connections;
        j["tail_cache_bytes"] = s.tail_cache_bytes;
        j["memory_budget_bytes"] = s.memory_budget_bytes;
        j["raft"] = {{"term", s.raft_term},
                     {"leader", s.raft_leader},
                     {"commit_index", s.raft_commit_index}};
        out.push_back(std::move(j));
    }
    return out;
}

json partitions_json(const std::vector<metrics::partition_row>& partitions) {
    json out = json::array();
    for (const auto& p : partitions) {
        json j;
        j["topic"] = p.topic;
        j["partition"] = p.partition;
        j["internal"] = p.internal;
        j["shard"] = p.shard;
        j["leader"] = 0;  // node 0: a single broker leads every partition
        j["start_offset"] = p.start_offset;
        j["high_watermark"] = p.high_watermark;
        out.push_back(std::move(j));
    }
    return out;
}

net::http::response json_response(int status, const nlohmann::json& body) {
    // Topic and group names come from clients: replace invalid UTF-8 instead of throwing.
    std::string text = body.dump(-1, ' ', false, json::error_handler_t::replace);
    text += '\n';
    return net::http::response::json(status, std::move(text));
}

}  // namespace wharf::admin
