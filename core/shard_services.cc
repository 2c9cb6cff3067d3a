#include "core/shard_services.h"

#include <algorithm>
#include <chrono>
#include <set>

#include <fmt/format.h>

#include "core/cluster/cluster_rpc.h"
#include "core/cluster/group_membership.h"
#include "core/cluster/metadata_service.h"
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

// Logs once per learner that stops answering the leader (a broker that died while joining: it no
// longer holds back decommissions, group_membership.h), and once more when it answers again.
void report_silent_learners(const membership_facts& f, std::set<node_id>& reported) {
    for (node_id n : f.current.learners) {
        bool answering = learner_answering(f, n);
        if (!answering && reported.insert(n).second) {
            shard_logger().warn("cluster: learner {} has not answered for {} s: it is not "
                                "catching up, and removals no longer wait for it",
                                n, membership_learner_silence.count() / 1000);
        } else if (answering && reported.erase(n) > 0) {
            shard_logger().info("cluster: learner {} answers again", n);
        }
    }
}

// A cluster's shard follows the brokers the controller's table names (group_membership.h): its
// transport connects to every registered broker, and while its group leads it moves the group's
// membership toward the replica set, one change at a time.
task<void> membership_loop(shard_services& s, const cluster_config& c, gate::holder) {
    const std::vector<int32_t> seeds = c.voters();
    uint64_t peers_version = 0;
    uint64_t heard_version = 0;
    std::set<node_id> silent_reported;
    while (!s.stopping) {
        if (!co_await sleep_for(membership_check_interval)) co_return;
        if (s.stopping) break;
        std::shared_ptr<const topic_table_snapshot> table = metadata_snapshot();
        if (table->version() != peers_version || s.heard_version != heard_version) {
            peers_version = table->version();
            heard_version = s.heard_version;
            // Seeds at their configured address, then brokers heard from, then the table's.
            std::map<int32_t, broker_registration> known;
            for (const auto& [node, rpc] : s.heard) {
                bool seed = std::find(seeds.begin(), seeds.end(), node) != seeds.end();
                if (!seed) known[node] = broker_registration{node, rpc, {}};
            }
            for (const auto& [node, r] : table->registered_brokers()) known[node] = r;
            std::string why;
            auto peers = peer_addresses_of(c, known, &why);
            if (peers) {
                s.transport->set_peers(std::move(*peers));
            } else {
                shard_logger().warn("cluster: a registered broker's address is unusable: {}", why);
            }
        }
        if (!s.raft->is_leader()) continue;
        const consensus& group = *s.raft;
        membership_facts facts{.current = group.membership(),
                               .committed = group.machine().config_committed(),
                               .self = group.machine().self(),
                               .leader_last = group.machine().log().last_index(),
                               .match_of = [&group](node_id n) { return group.match_of(n); },
                               .silent_for = [&group](node_id n) { return group.silent_for(n); }};
        report_silent_learners(facts, silent_reported);
        auto next = next_membership_step(facts, table->replica_set(seeds),
                                         table->decommissioned_brokers());
        if (!next) continue;
        std::string from = facts.current.to_string();
        raft_config proposed = std::move(*next);
        auto changed = co_await s.raft->change_membership(proposed);
        if (changed) {
            shard_logger().info("cluster: group membership {} -> {}", from, proposed.to_string());
        } else {
            shard_logger().info("cluster: group membership change to {} not made: {}",
                                proposed.to_string(), changed.error().message());
        }
    }
}
}  // namespace

shard_services* local_services() noexcept { return t_services.get(); }

void note_heard_broker(int32_t node, host_port rpc) {
    shard_services* s = t_services.get();
    if (s == nullptr) return;
    auto [it, added] = s->heard.try_emplace(node, rpc);
    if (!added && it->second == rpc) return;
    it->second = std::move(rpc);
    ++s->heard_version;
}

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
    if (services->transport) {
        consensus* group = services->raft.get();
        services->transport->set_unreachable_handler(
            [group](node_id node) { group->peer_unreachable(node); });
    }
    if (rpc != nullptr) {
        services->rpc = rpc;
        consensus* group = services->raft.get();
        rpc->local().set_handler([group](raft_message m) { group->receive(std::move(m)); });
    }
    t_services = std::move(services);
    spawn(retention_loop(*t_services, cfg.retention_check_interval, t_services->background.hold()),
          "retention");
    if (cfg.cluster.is_cluster()) {
        spawn(membership_loop(*t_services, cfg.cluster, t_services->background.hold()),
              "group membership");
    }
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
