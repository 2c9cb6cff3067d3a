#include "core/broker.h"

#include <signal.h>
#include <unistd.h>

#include <map>
#include <memory>
#include <string>
#include <vector>

#include <fmt/format.h>
#include <fmt/ranges.h>

#include "core/admin/admin_api.h"
#include "core/cluster/cluster_rpc.h"
#include "core/cluster/metadata_service.h"
#include "core/kafka/cluster_view.h"
#include "core/raft_transport/listener.h"
#include "core/config/units.h"
#include "core/group/coordinator.h"
#include "core/kafka/listener.h"
#include "core/kafka/partition_ops.h"
#include "core/listen_retry.h"
#include "core/shard_services.h"
#include "core/systemd_notify.h"
#include "reactor/logger.h"
#include "reactor/placement.h"
#include "reactor/signals.h"
#include "reactor/smp.h"
#include "reactor/spawn.h"
#include "reactor/submit_to.h"
#include "reactor/sync.h"
#include "reactor/when_all.h"

namespace wharf {

namespace {

struct start_outcome {
    status result;
    std::string detail;
};

// The internal RPC listener of a cluster (on shard 0; null for a single broker).
thread_local std::unique_ptr<raft_rpc::rpc_listener> g_rpc;

// Tells every shard the RPC address a broker's hello named (note_heard_broker), once per change.
void spread_heard_broker(int32_t node, host_port rpc) {
    thread_local std::map<int32_t, host_port> spread;
    auto [it, added] = spread.try_emplace(node, rpc);
    if (!added && it->second == rpc) return;
    it->second = rpc;
    for (unsigned k = 0; k < smp::count(); ++k) {
        auto note = [node, rpc] { note_heard_broker(node, rpc); };
        spawn(submit_to(shard_id(k), std::move(note)), "heard broker");
    }
}

// In a cluster: binds --rpc-addr (accepting starts once the shards' groups exist, start_rpc),
// and lists peers in Metadata once they tell their addresses.
task<bool> listen_rpc(const broker_config& cfg) {
    if (!cfg.cluster.is_cluster()) co_return true;
    std::string why;
    auto tc = transport_config(cfg, 0, &why);
    if (!tc) {
        shard_logger().critical("cluster configuration: {}", why);
        co_return false;
    }
    auto listen = [&tc] { return raft_rpc::rpc_listener::listen(*tc); };
    std::string what = "--rpc-addr " + cfg.cluster.rpc_addr.to_string();
    auto l = co_await listen_retrying(listen, what);
    if (!l) {
        shard_logger().critical("cannot listen on --rpc-addr {}: {}",
                                cfg.cluster.rpc_addr.to_string(), l.error().message());
        co_return false;
    }
    g_rpc = std::move(*l);
    g_rpc->local().set_info_handler([](rpc::broker_info b) {
        kafka::note_peer_broker(b);
        spread_heard_broker(b.node.value(), host_port{b.rpc_host, b.rpc_port});
        // A broker beyond the seeds is registered by the controller (metadata_service.h).
        if (auto* m = local_metadata_service()) {
            m->note_broker(b.node.value(), host_port{b.rpc_host, b.rpc_port},
                           host_port{b.kafka_host, b.kafka_port});
        }
    });
    shard_logger().info("cluster: node {} of {}, internal RPC on {}", cfg.cluster.node_id,
                        fmt::join(cfg.cluster.voters(), ","), cfg.cluster.rpc_addr.to_string());
    co_return true;
}

task<void> stop_rpc() {
    if (!g_rpc) co_return;
    co_await g_rpc->stop();
    g_rpc.reset();
}

task<bool> start_all_shards(const broker_config& cfg) {
    std::vector<task<start_outcome>> starts;
    raft_rpc::rpc_listener* rpc = g_rpc.get();
    for (unsigned k = 0; k < smp::count(); ++k) {
        starts.push_back(submit_to(shard_id(k), [&cfg, rpc]() -> task<start_outcome> {
            start_outcome out;
            out.result = co_await start_shard(cfg, rpc, &out.detail);
            co_return out;
        }));
    }
    auto outcomes = co_await when_all(std::move(starts));
    bool ok = true;
    for (unsigned k = 0; k < outcomes.size(); ++k) {
        if (!outcomes[k].result) {
            ok = false;
            shard_logger().critical("shard {} cannot start: {}{}{}", k,
                                    outcomes[k].result.error().message(),
                                    outcomes[k].detail.empty() ? "" : ": ", outcomes[k].detail);
        }
    }
    co_return ok;
}

task<bool> stop_all_shards() {
    std::vector<task<status>> stops;
    for (unsigned k = 0; k < smp::count(); ++k) {
        stops.push_back(submit_to(shard_id(k), [] { return stop_shard(); }));
    }
    auto results = co_await when_all(std::move(stops));
    bool ok = true;
    for (const auto& r : results) ok = ok && r.has_value();
    co_return ok;
}

task<void> log_layout(const broker_config& cfg) {
    std::vector<int> nodes;
    for (unsigned c : cfg.cpus) nodes.push_back(numa_node_of(c));
    auto& log = shard_logger();
    log.info("wharf: {} shards, {}, data in {}, memory {} ({} tail cache per shard), fsync {}",
             cfg.smp,
             cfg.cpus.empty() ? std::string("overprovisioned (threads not pinned)")
                              : fmt::format("pinned to CPUs {} on NUMA nodes {}",
                                            fmt::join(cfg.cpus, ","), fmt::join(nodes, ",")),
             cfg.data_dir, format_size(cfg.memory_bytes),
             format_size(cfg.tail_cache_bytes_per_shard()),
             cfg.fsync == fsync_policy::always ? "always" : "NEVER");
    for (unsigned k = 0; k < smp::count(); ++k) {
        std::string line = co_await submit_to(shard_id(k), [] { return describe_shard(); });
        log.info("shard {}: {}", k, line);
    }
}

// Shard 0 replays the metadata log and publishes the topic table; then every shard rebuilds the
// idempotent producers of the partitions it owns.
task<bool> start_metadata(const broker_config& cfg) {
    const broker_config* c = &cfg;
    auto start = [c]() -> task<std::string> {
        std::string detail;
        auto m = co_await metadata_service::start(*c, *local_services(), &detail);
        if (!m) co_return detail.empty() ? m.error().message() : detail;
        set_local_metadata_service(std::move(*m));
        co_return std::string();
    };
    std::string failed = co_await submit_to(shard_id(0), start);
    if (!failed.empty()) {
        shard_logger().critical("cannot start the metadata service: {}", failed);
        co_return false;
    }
    std::vector<task<void>> rebuilds;
    for (unsigned k = 0; k < smp::count(); ++k) {
        rebuilds.push_back(submit_to(shard_id(k), []() -> task<void> {
            std::vector<partition_id> mine;
            for (const topic_metadata* t : metadata_snapshot()->topics()) {
                for (const auto& a : t->partitions) {
                    // Group 0's; the other groups rebuild at their first produce.
                    if (a.shard == this_shard() && a.group == raft_group_id(0)) {
                        mine.push_back(a.log_partition);
                    }
                }
            }
            co_await kafka::rebuild_producer_state(std::move(mine));
        }));
    }
    co_await when_all(std::move(rebuilds));
    auto groups_start = [c]() { return groups::start_group_coordinators(*c); };
    co_return co_await submit_to(shard_id(0), groups_start);
}

task<void> stop_metadata() {
    co_await groups::stop_group_coordinators();
    std::vector<task<void>> forgets;
    for (unsigned k = 0; k < smp::count(); ++k) {
        forgets.push_back(submit_to(shard_id(k), [] { kafka::forget_producer_state(); }));
    }
    co_await when_all(std::move(forgets));
    co_await submit_to(shard_id(0), []() -> task<void> {
        auto m = take_local_metadata_service();
        if (m) co_await m->stop();
    });
}

// The first SIGINT or SIGTERM stops a serving broker cleanly, and a second one exits at once. A
// broker of a cluster that is still starting (it may wait for a quorum of its peers for as long
// as they are down) exits at once, as after a crash, which every start recovers from; a single
// broker handles a signal once it has started.
struct stop_request {
    bool exit_while_starting = false;
    bool serving = false;
    int signal = -1;
    event arrived;
};

task<void> watch_signals(std::shared_ptr<signal_reader> signals,
                         std::shared_ptr<stop_request> request) {
    int sig = co_await signals->next();
    if (sig != 0 && !request->serving && request->exit_while_starting) {
        shard_logger().warn("{} while starting: exiting at once", strsignal(sig));
        shard_logger().flush();
        ::_exit(128 + sig);
    }
    request->signal = sig;
    request->arrived.notify_all();
    if (sig == 0) co_return;
    sig = co_await signals->next();
    if (sig != 0) {
        shard_logger().warn("second signal ({}): exiting at once", strsignal(sig));
        shard_logger().flush();
        ::_exit(128 + sig);
    }
}

}  // namespace

task<int> run_broker(const broker_config& cfg) {
    auto signals = std::make_shared<signal_reader>();
    if (auto s = signals->open({SIGINT, SIGTERM}); !s) {
        shard_logger().critical("cannot read signals: {}", s.error().message());
        co_return 1;
    }
    auto stop = std::make_shared<stop_request>();
    stop->exit_while_starting = cfg.cluster.is_cluster();
    spawn(watch_signals(signals, stop), "signal watcher");
    // The admin API first: readiness (503) and /metrics can be watched during recovery.
    auto start_admin = [&cfg] { return admin::start_admin_api(cfg); };
    std::string admin_what = "--admin-addr " + (cfg.admin_addr ? cfg.admin_addr->to_string() : "");
    auto admin_port = co_await listen_retrying(start_admin, admin_what);
    if (!admin_port) {
        shard_logger().critical("cannot listen on --admin-addr {}: {}", cfg.admin_addr->to_string(),
                                admin_port.error().message());
        co_return 1;
    }
    if (!co_await listen_rpc(cfg)) {
        co_await admin::stop_admin_api();
        co_return 1;
    }
    if (!co_await start_all_shards(cfg)) {
        co_await admin::stop_admin_api();
        co_await stop_all_shards();
        co_await stop_rpc();
        co_return 1;
    }
    if (g_rpc) g_rpc->start();
    if (!co_await start_metadata(cfg)) {
        co_await admin::stop_admin_api();
        co_await stop_metadata();
        co_await stop_all_shards();
        co_await stop_rpc();
        co_return 1;
    }
    co_await log_layout(cfg);
    auto port = co_await kafka::start_listeners(cfg);
    if (!port) {
        shard_logger().critical("cannot listen on --kafka-addr {}: {}", cfg.kafka_addr.to_string(),
                                port.error().message());
        co_await admin::stop_admin_api();
        co_await kafka::stop_listeners();
        co_await stop_metadata();
        co_await stop_all_shards();
        co_await stop_rpc();
        co_return 1;
    }
    admin::set_ready(true);
    stop->serving = true;
    shard_logger().info("wharf is running: Kafka API on {}. Stop with Ctrl-C or SIGTERM.",
                        host_port{cfg.kafka_addr.host, *port}.to_string());
    // Every shard's listener is open: systemd may now start the units ordered after wharf.
    if (auto s = notify_systemd("READY=1\nSTATUS=serving the Kafka API"); !s) {
        shard_logger().warn("cannot notify systemd (NOTIFY_SOCKET): {}", s.error().message());
    }

    while (stop->signal < 0) co_await stop->arrived.wait();
    int sig = stop->signal;
    shard_logger().info("{}: stopping (finishing appends in flight, flushing logs); a second "
                        "signal exits at once", sig != 0 ? strsignal(sig) : "shutdown");
    (void)notify_systemd("STOPPING=1");
    admin::set_ready(false);
    co_await kafka::stop_listeners();
    co_await stop_metadata();
    co_await admin::stop_admin_api();
    bool clean = co_await stop_all_shards();
    co_await stop_rpc();
    shard_logger().info("wharf stopped {}", clean ? "cleanly" : "with errors");
    co_return clean ? 0 : 1;
}

}  // namespace wharf
