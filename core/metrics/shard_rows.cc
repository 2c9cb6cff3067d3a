// The rows of shard_report.h: partitions and the shard summary.

#include "core/cluster/metadata_service.h"
#include "core/kafka/listener.h"
#include "core/metrics/shard_report.h"
#include "core/shard_services.h"
#include "reactor/shard.h"
#include "reactor/smp.h"

namespace wharf::metrics {

std::vector<partition_row> local_partitions() {
    std::vector<partition_row> rows;
    const auto& snapshot = metadata_snapshot();
    if (!snapshot) return rows;
    const shard_services* svc = local_services();
    for (const topic_metadata* t : snapshot->topics()) {
        for (const auto& a : t->partitions) {
            if (a.shard != this_shard()) continue;
            partition_row r{.topic = t->name,
                            .partition = a.partition,
                            .internal = t->internal,
                            .shard = a.shard.value(),
                            .log_partition = a.log_partition.value()};
            if (group_ref g = svc != nullptr ? svc->group(a.group) : group_ref{}) {
                if (auto start = g.log->start_offset(a.log_partition)) {
                    r.start_offset = start->value();
                }
                if (auto hwm = g.raft->high_watermark(a.log_partition)) {
                    r.high_watermark = hwm->value();
                }
            }
            rows.push_back(std::move(r));
        }
    }
    return rows;
}

size_t local_partition_count() {
    size_t n = 0;
    if (const auto& snapshot = metadata_snapshot()) {
        for (const topic_metadata* t : snapshot->topics()) {
            for (const auto& a : t->partitions) n += a.shard == this_shard() ? 1 : 0;
        }
    }
    return n;
}

shard_summary local_shard_summary() {
    shard_summary s;
    s.shard = this_shard().value();
    s.memory_budget_bytes = smp::memory_per_shard_bytes();
    s.utilization = local_utilization();
    s.partitions = local_partition_count();
    if (const net::server* srv = kafka::local_kafka_server()) {
        s.kafka_connections = srv->connection_count();
    }
    if (const shard_services* svc = local_services()) {
        s.running = true;
        s.log_bytes = svc->log->segment_bytes();
        s.segments = svc->log->segment_count();
        s.tail_cache_bytes = svc->log->cache_bytes();
        s.raft_term = svc->raft->term().value();
        s.raft_leader = svc->raft->is_leader();
        s.raft_commit_index = svc->raft->commit_index().value();
    }
    return s;
}

}  // namespace wharf::metrics
