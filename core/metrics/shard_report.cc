#include "core/metrics/shard_report.h"

#include <map>
#include <string>

#include "core/cluster/metadata_service.h"
#include "core/group/coordinator.h"
#include "core/kafka/dispatcher.h"
#include "core/kafka/listener.h"
#include "core/metrics/kafka_metrics.h"
#include "core/shard_services.h"
#include "reactor/cross_shard.h"
#include "reactor/iobuf.h"
#include "reactor/reactor.h"
#include "reactor/shard.h"
#include "reactor/smp.h"

namespace wharf::metrics {

namespace {

struct utilization_meter {
    uint64_t busy_ns = 0;
    uint64_t total_ns = 0;
    double value = 0;
    bool sampled = false;
};
thread_local utilization_meter t_meter;

constexpr uint64_t utilization_window_ns = 1'000'000'000;

std::string shard_label() {
    return std::to_string(this_shard().value());
}

// A family with one sample for this shard.
metric_family shard_gauge(const char* name, const char* help, double v) {
    metric_family f(name, help, metric_type::gauge);
    f.add({{"shard", shard_label()}}, v);
    return f;
}
metric_family shard_counter(const char* name, const char* help, double v) {
    metric_family f(name, help, metric_type::counter);
    f.add({{"shard", shard_label()}}, v);
    return f;
}

void reactor_families(metric_families& out) {
    const reactor& r = reactor::local();
    const reactor_stats& s = r.stats();
    out.push_back(shard_gauge("wharf_reactor_utilization",
                              "Share of time the shard's loop was busy over the last second or "
                              "more (0 to 1)",
                              local_utilization()));
    out.push_back(shard_counter("wharf_reactor_busy_seconds_total",
                                "Time the shard's loop spent working (not sleeping or polling)",
                                static_cast<double>(s.busy_ns) * 1e-9));
    out.push_back(
        shard_counter("wharf_reactor_loop_turns_total", "Turns of the shard's loop", s.turns));
    metric_family turns("wharf_reactor_loop_turn_duration_seconds",
                        "Time one turn of the shard's loop kept it busy", metric_type::histogram);
    turns.add({{"shard", shard_label()}}, s.turn_us, 1e-6);
    out.push_back(std::move(turns));
    out.push_back(
        shard_counter("wharf_reactor_tasks_run_total", "Coroutine resumptions", s.tasks_run));
    out.push_back(shard_gauge("wharf_reactor_tasks_queued", "Coroutines ready to run",
                              static_cast<double>(r.tasks_queued())));
    out.push_back(shard_counter("wharf_reactor_io_uring_submits_total",
                                "io_uring_enter calls that submitted work", s.submits));
    out.push_back(shard_counter("wharf_reactor_io_uring_sqes_total",
                                "io_uring submission queue entries prepared", s.sqes));
    out.push_back(shard_counter("wharf_reactor_io_uring_completions_total",
                                "io_uring completions reaped", s.completions));
    out.push_back(shard_counter("wharf_reactor_sleeps_total",
                                "Times the shard's loop slept waiting for a completion", s.sleeps));
    uint64_t sent = current_mesh() != nullptr ? current_mesh()->items_sent(this_shard()) : 0;
    out.push_back(shard_counter("wharf_reactor_cross_shard_messages_sent_total",
                                "Messages sent to other shards", sent));
    out.push_back(shard_counter("wharf_reactor_cross_shard_messages_received_total",
                                "Messages received from other shards", s.cross_shard_received));
    out.push_back(shard_counter("wharf_reactor_detached_task_failures_total",
                                "Detached tasks that ended with an exception",
                                s.detached_failures));
    out.push_back(shard_counter("wharf_reactor_stalls_total",
                                "Loop turns that ran past --stall-threshold (each logged with its "
                                "backtrace)",
                                s.stalls));
}

void log_families(metric_families& out, const shard_services& svc) {
    const shard_log& log = *svc.log;
    const log_stats& s = log.stats();
    out.push_back(shard_counter("wharf_log_appends_total", "Log entries made durable", s.appends));
    out.push_back(shard_counter("wharf_log_append_bytes_total",
                                "Payload bytes of the log entries made durable", s.append_bytes));
    out.push_back(
        shard_counter("wharf_log_writes_total", "Segment writes (one per group commit)", s.writes));
    out.push_back(
        shard_counter("wharf_log_fsyncs_total", "fdatasync calls of group commits", s.syncs));
    out.push_back(shard_counter("wharf_log_failed_flushes_total", "Group commits that failed",
                                s.failed_flushes));
    metric_family latency("wharf_log_fsync_latency_seconds",
                          "Time of a group commit's linked write and fdatasync",
                          metric_type::histogram);
    latency.add({{"shard", shard_label()}}, s.fsync_latency_us, 1e-6);
    out.push_back(std::move(latency));
    metric_family bytes("wharf_log_fsync_size_bytes", "Bytes written by one synced group commit",
                        metric_type::histogram);
    bytes.add({{"shard", shard_label()}}, s.fsync_bytes, 1.0);
    out.push_back(std::move(bytes));
    out.push_back(shard_gauge("wharf_log_segments", "Segment files of the shard's log",
                              static_cast<double>(log.segment_count())));
    out.push_back(shard_gauge("wharf_log_segment_bytes", "Bytes of the shard's segment files",
                              static_cast<double>(log.segment_bytes())));
    out.push_back(shard_counter("wharf_log_segment_rolls_total", "Segments rolled", s.rolls));
    out.push_back(shard_counter("wharf_log_rejected_batches_total",
                                "Record batches refused by validation", s.rejected_batches));
    metric_family reads("wharf_log_read_batches_total",
                        "Batches read for fetches, from the tail cache or from segment files",
                        metric_type::counter);
    reads.add({{"shard", shard_label()}, {"source", "cache"}},
              static_cast<double>(s.cache_batches));
    reads.add({{"shard", shard_label()}, {"source", "disk"}}, static_cast<double>(s.disk_batches));
    out.push_back(std::move(reads));
    uint64_t read_batches = s.cache_batches + s.disk_batches;
    out.push_back(shard_gauge("wharf_log_tail_cache_hit_ratio",
                              "Share of batches read that the tail cache served (since start)",
                              read_batches == 0 ? 0.0
                                                : static_cast<double>(s.cache_batches) /
                                                      static_cast<double>(read_batches)));
    out.push_back(shard_counter("wharf_log_disk_read_bytes_total", "Bytes read from segments",
                                s.disk_read_bytes));
    // One row per raft group of the shard: group 0 and the groups of fixed replica sets.
    metric_family term("wharf_raft_term", "Term of a raft group of the shard", metric_type::gauge);
    metric_family leader("wharf_raft_leader", "1 when this broker leads a raft group of the shard",
                         metric_type::gauge);
    metric_family commit("wharf_raft_commit_index", "Commit index of a raft group of the shard",
                         metric_type::gauge);
    metric_family won("wharf_raft_leadership_changes_total",
                      "Times this broker became the leader of a raft group of the shard (an "
                      "election or a leadership transfer)",
                      metric_type::counter);
    auto add_group = [&](raft_group_id id, const consensus& raft) {
        metric_labels labels{{"shard", shard_label()}, {"group", std::to_string(id.value())}};
        term.add(labels, static_cast<double>(raft.term().value()));
        leader.add(labels, raft.is_leader() ? 1.0 : 0.0);
        commit.add(labels, static_cast<double>(raft.commit_index().value()));
        won.add(labels, static_cast<double>(raft.stats().elections_won));
    };
    add_group(raft_group_id(0), *svc.raft);
    for (const auto& [id, g] : svc.groups) add_group(id, *g->raft);
    out.push_back(std::move(term));
    out.push_back(std::move(leader));
    out.push_back(std::move(commit));
    out.push_back(std::move(won));
}

void listener_families(metric_families& out, size_t& requests_in_flight_bytes) {
    const net::server* srv = kafka::local_kafka_server();
    if (srv == nullptr) return;
    const net::server_stats& s = srv->stats();
    requests_in_flight_bytes = srv->config().max_inflight_bytes - srv->memory_available();
    out.push_back(shard_gauge("wharf_kafka_connections", "Open Kafka client connections",
                              static_cast<double>(srv->connection_count())));
    out.push_back(shard_counter("wharf_kafka_connections_accepted_total",
                                "Kafka client connections accepted", s.connections_accepted));
    out.push_back(shard_counter("wharf_kafka_received_bytes_total",
                                "Bytes received from Kafka clients", s.bytes_received));
    out.push_back(
        shard_counter("wharf_kafka_sent_bytes_total", "Bytes sent to Kafka clients", s.bytes_sent));
    out.push_back(shard_counter("wharf_kafka_oversized_frames_total",
                                "Frames above --max-request-bytes (each closed its connection)",
                                s.oversized_frames));
    out.push_back(shard_counter("wharf_kafka_idle_closes_total",
                                "Connections closed after --connections-max-idle-ms",
                                s.idle_closes));
    out.push_back(shard_counter("wharf_kafka_backpressure_waits_total",
                                "Times a connection stopped reading: request memory exhausted",
                                s.backpressure_waits));
}

void refusal_families(metric_families& out) {
    const kafka::dispatch_stats& d = kafka::local_dispatch_stats();
    metric_family f("wharf_kafka_refused_requests_total",
                    "Requests that closed their connection before reaching a handler",
                    metric_type::counter);
    f.add({{"reason", "malformed"}}, static_cast<double>(d.decode_error_closes));
    f.add({{"reason", "unknown_api"}}, static_cast<double>(d.unknown_api_closes));
    f.add({{"reason", "unsupported_version"}}, static_cast<double>(d.unsupported_version_closes));
    out.push_back(std::move(f));
}

void memory_families(metric_families& out, const shard_services* svc, size_t requests_bytes) {
    out.push_back(shard_gauge("wharf_memory_budget_bytes",
                              "The shard's memory budget (--memory "
                              "divided by the shards)",
                              static_cast<double>(smp::memory_per_shard_bytes())));
    metric_family used("wharf_memory_used_bytes",
                       "Memory the shard accounts for, by use, against its budget",
                       metric_type::gauge);
    used.add({{"shard", shard_label()}, {"use", "requests_in_flight"}},
             static_cast<double>(requests_bytes));
    if (svc != nullptr) {
        used.add({{"shard", shard_label()}, {"use", "tail_cache"}},
                 static_cast<double>(svc->log->cache_bytes()));
        used.add({{"shard", shard_label()}, {"use", "batch_index"}},
                 static_cast<double>(svc->log->index_memory_bytes()));
    }
    out.push_back(std::move(used));
    out.push_back(shard_gauge("wharf_memory_buffer_bytes",
                              "Bytes held in the I/O buffers the shard allocated, whatever holds "
                              "them (requests, the tail cache, replication); overlaps the uses "
                              "above",
                              static_cast<double>(iobuf_allocated_bytes())));
}

// One walk of the coordinator's groups: the families by state and by members, and each
// group's committed offsets appended to `offsets`.
void group_families(metric_families& out, std::vector<group_offset_row>& offsets) {
    metric_family states("wharf_consumer_groups", "Consumer groups by state", metric_type::gauge);
    metric_family members("wharf_consumer_group_members", "Members of a consumer group",
                          metric_type::gauge);
    // Every state appears (as 0 on shards without such groups), so that the sums are complete.
    std::map<std::string, size_t> by_state{{"Empty", 0},
                                           {"PreparingRebalance", 0},
                                           {"CompletingRebalance", 0},
                                           {"Stable", 0},
                                           {"Dead", 0}};
    if (const groups::coordinator* c = groups::local_coordinator()) {
        c->for_each_group([&](const groups::group& g) {
            ++by_state[groups::state_name(g.state())];
            members.add({{"group", g.id()}}, static_cast<double>(g.member_count()));
            for (const auto& [tp, committed] : g.offsets()) {
                offsets.push_back(group_offset_row{.group = g.id(),
                                                   .topic = tp.topic,
                                                   .partition = tp.partition,
                                                   .committed_offset = committed.offset});
            }
        });
    }
    for (const auto& [state, n] : by_state) states.add({{"state", state}}, static_cast<double>(n));
    out.push_back(std::move(states));
    out.push_back(std::move(members));
}

}  // namespace

double local_utilization() {
    const reactor_stats& s = reactor::local().stats();
    utilization_meter& m = t_meter;
    uint64_t total = s.busy_ns + s.idle_ns;
    if (!m.sampled || total - m.total_ns >= utilization_window_ns) {
        uint64_t busy = s.busy_ns - m.busy_ns;
        uint64_t span = total - m.total_ns;
        m.value = span == 0 ? 0.0 : static_cast<double>(busy) / static_cast<double>(span);
        m.busy_ns = s.busy_ns;
        m.total_ns = total;
        m.sampled = true;
    }
    return m.value;
}

shard_scrape local_scrape() {
    shard_scrape r;
    r.partitions = local_partitions();
    metric_families& out = r.families;
    reactor_families(out);
    const shard_services* svc = local_services();
    if (svc != nullptr) log_families(out, *svc);
    out.push_back(shard_gauge("wharf_partitions", "Kafka partitions the shard owns",
                              static_cast<double>(r.partitions.size())));
    size_t requests_bytes = 0;
    listener_families(out, requests_bytes);
    refusal_families(out);
    const auto& snapshot = metadata_snapshot();
    collect_kafka_metrics(out, [&snapshot](std::string_view topic) {
        return snapshot != nullptr && snapshot->find(topic) != nullptr;
    });
    memory_families(out, svc, requests_bytes);
    group_families(out, r.offsets);
    return r;
}

}  // namespace wharf::metrics
