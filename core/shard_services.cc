#include "core/shard_services.h"

#include <algorithm>
#include <chrono>

#include <fmt/format.h>

#include "core/cluster/cluster_rpc.h"
#include "reactor/clock.h"
#include "reactor/logger.h"
#include "reactor/shard.h"
#include "reactor/spawn.h"
#include "reactor/timer.h"

namespace wharf {

namespace {
thread_local std::unique_ptr<shard_services> t_services;

// Applies retention every `interval`, like Kafka's log retention thread, until the shard stops.
// It sleeps in steps of at most 100 ms so that a stop never waits for a long sleep.
task<void> retention_loop(shard_services& s, std::chrono::milliseconds interval,
                          gate::holder) {
    using namespace std::chrono;
    while (!s.stopping) {
        auto due = steady_now() + interval;
        while (!s.stopping && steady_now() < due) {
            auto left = duration_cast<milliseconds>(due - steady_now());
            if (!co_await sleep_for(std::min<milliseconds>(left, milliseconds(100)))) co_return;
        }
        if (s.stopping) break;
        // Retention's control entries are raft entries: the leader writes them and followers
        // get them through replication.
        auto term = co_await s.raft->ready_to_append();
        // A follower's start offsets move with the control entries it replicates; it only
        // deletes the segments they left behind.
        status r;
        if (term) {
            r = co_await s.log->apply_retention(*term);
        } else {
            r = co_await s.log->delete_dead_segments();
        }
        ++s.retention_passes;
        if (!r) shard_logger().warn("retention failed: {}", r.error().message());
    }
}
}  // namespace

shard_services* local_services() noexcept { return t_services.get(); }

namespace {

// The raft group of the calling shard: every seed of a cluster (group k prefers the (k mod N)-th
// seed), or node 0 alone.
task<result<std::unique_ptr<consensus>>> start_group(const broker_config& cfg,
                                                     shard_services& s, std::string* detail) {
    const cluster_config& c = cfg.cluster;
    group_config gc{.self = node_id(c.node_id)};
    for (int32_t v : c.voters()) gc.voters.push_back(node_id(v));
    if (!c.is_cluster()) co_return co_await consensus::start(gc, *s.log);
    auto tc = transport_config(cfg, this_shard().value(), detail);
    if (!tc) co_return tc.error();
    auto peers = peer_addresses_of(c, detail);
    if (!peers) co_return peers.error();
    s.transport = std::make_unique<raft_rpc::peer_transport>(std::move(*tc), std::move(*peers));
    // Shard 0's connections carry this broker's hello (its Kafka address): every peer gets
    // one, including those that shard 0's group never messages.
    if (this_shard() == shard_id(0)) s.transport->keep_connected();
    if (c.leader_balancing) gc.preferred_leader = node_id(c.preferred_leader(this_shard().value()));
    co_return co_await consensus::start(gc, *s.log, s.transport.get());
}

}  // namespace

task<status> start_shard(const broker_config& cfg, raft_rpc::rpc_listener* rpc,
                         std::string* detail) {
    WHARF_ASSERT(!t_services, "shard {} started twice", this_shard());
    auto services = std::make_unique<shard_services>();
    log_config lc = cfg.shard_log_config(this_shard().value());
    // Corrupt acknowledged data can be repaired from the other replicas, if there are any.
    lc.repair_corruption = cfg.cluster.voters().size() > 1;
    auto log = co_await shard_log::open(lc, detail);
    if (!log) co_return log.error();
    services->log = std::move(*log);
    std::string why;
    auto raft = co_await start_group(cfg, *services, &why);
    if (!raft) {
        if (detail) *detail = "raft group: " + (why.empty() ? raft.error().message() : why);
        if (services->transport) co_await services->transport->stop();
        auto closed = co_await services->log->close();
        (void)closed;
        co_return raft.error();
    }
    services->raft = std::move(*raft);
    if (rpc != nullptr) {
        services->rpc = rpc;
        consensus* group = services->raft.get();
        rpc->local().set_handler([group](raft_message m) { group->receive(std::move(m)); });
    }
    t_services = std::move(services);
    spawn(retention_loop(*t_services, cfg.retention_check_interval, t_services->background.hold()),
          "retention");
    co_return status{};
}

task<status> stop_shard() {
    if (!t_services) co_return status{};
    auto services = std::move(t_services);
    services->stopping = true;
    co_await services->background.close();
    // Peers' messages stop reaching the group before it goes.
    if (services->rpc != nullptr) services->rpc->local().set_handler({});
    co_await services->raft->stop();
    if (services->transport) co_await services->transport->stop();
    auto closed = co_await services->log->close();
    if (!closed) {
        shard_logger().error("closing the log failed: {}", closed.error().message());
    }
    co_return closed;
}

std::string describe_shard() {
    auto* s = local_services();
    if (s == nullptr) return "not started";
    const auto& log = *s->log;
    return fmt::format("log {} ({} segments, raft index {}..{}), raft group: term {}, {}, "
                       "commit index {}",
                       log.directory(), log.segment_count(), log.first_index(), log.last_index(),
                       s->raft->term(), s->raft->is_leader() ? "leader" : "follower",
                       s->raft->commit_index());
}

}  // namespace wharf
