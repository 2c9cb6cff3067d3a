#include "core/shard_services.h"

#include <algorithm>
#include <chrono>
#include <set>

#include <fmt/format.h>

#include "core/cluster/cluster_rpc.h"
#include "core/cluster/group_membership.h"
#include "core/cluster/metadata_service.h"
#include "core/shard_groups.h"
#include "reactor/clock.h"
#include "reactor/logger.h"
#include "reactor/shard.h"
#include "reactor/spawn.h"
#include "reactor/timer.h"

namespace wharf {

namespace {
thread_local std::unique_ptr<shard_services> t_services;

// One retention pass over one group's log.
task<void> apply_retention(group_ref g) {
    if (!g) co_return;
    // Retention's control entries are raft entries: the leader writes them and followers
    // get them through replication.
    auto term = co_await g.raft->ready_to_append();
    // A follower's start offsets move with the control entries it replicates; it only
    // deletes the segments they left behind.
    status r;
    if (term) {
        r = co_await g.log->apply_retention(*term);
    } else {
        r = co_await g.log->delete_dead_segments();
    }
    if (!r) shard_logger().warn("retention failed: {}", r.error().message());
}

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
        co_await apply_retention(s.group(raft_group_id(0)));
        // The groups opened so far (opening one does not touch a map node another points to).
        std::vector<raft_group_id> ids;
        for (const auto& [id, g] : s.groups) ids.push_back(id);
        for (raft_group_id id : ids) {
            if (s.stopping) break;
            co_await apply_retention(s.group(id));
        }
        ++s.retention_passes;
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

// While `raft` leads, proposes the next change of its membership toward `wanted` (ascending),
// if there is one now (group_membership.h).
task<void> step_membership(consensus& raft, raft_group_id id, std::vector<int32_t> wanted,
                           const std::vector<int32_t>& decommissioned,
                           std::set<node_id>& silent_reported) {
    if (!raft.is_leader()) co_return;
    membership_facts facts{.current = raft.membership(),
                           .committed = raft.machine().config_committed(),
                           .self = raft.machine().self(),
                           .leader_last = raft.machine().log().last_index(),
                           .match_of = [&raft](node_id n) { return raft.match_of(n); },
                           .silent_for = [&raft](node_id n) { return raft.silent_for(n); }};
    report_silent_learners(facts, silent_reported);
    auto next = next_membership_step(facts, wanted, decommissioned);
    if (!next) co_return;
    std::string from = facts.current.to_string();
    raft_config proposed = std::move(*next);
    auto changed = co_await raft.change_membership(proposed);
    if (changed) {
        shard_logger().info("cluster: group {} membership {} -> {}", id, from,
                            proposed.to_string());
    } else {
        shard_logger().info("cluster: group {} membership change to {} not made: {}", id,
                            proposed.to_string(), changed.error().message());
    }
}

// A cluster's shard follows the brokers the controller's table names (group_membership.h): its
// transport connects to every registered broker, and while its group leads it moves the group's
// membership toward the replica set, one change at a time.
task<void> membership_loop(shard_services& s, const broker_config& cfg, gate::holder) {
    const cluster_config& c = cfg.cluster;
    const std::vector<int32_t> seeds = c.voters();
    uint64_t peers_version = 0;
    uint64_t heard_version = 0;
    std::map<raft_group_id, std::set<node_id>> silent_reported;  // by group
    std::set<raft_group_id> groups_failed;
    std::set<int32_t> held_reported;  // decommissioned brokers group 0 waits for
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
        co_await open_groups(s, cfg, *table, groups_failed);
        // Group 0 spans every broker; the others their replica set in the table. Leader
        // balancing follows them: brokers join and leave, and replicas move.
        std::vector<int32_t> members = table->replica_set(seeds);
        if (c.leader_balancing) {
            int32_t preferred = group0_preferred_leader(seeds, members, this_shard().value());
            if (preferred >= 0) s.raft->set_preferred_leader(node_id(preferred));
        }
        std::vector<int32_t> removable = table->decommissioned_brokers();
        if (s.raft->is_leader()) removable = co_await removable_from_group0(*table, held_reported);
        co_await step_membership(*s.raft, raft_group_id(0), std::move(members), removable,
                                 silent_reported[raft_group_id(0)]);
        for (const auto& [id, replicas] : table->groups()) {
            if (s.stopping) break;
            auto g = s.group(id);
            if (!g) continue;
            if (c.leader_balancing) g.raft->set_preferred_leader(node_id(replicas.front()));
            std::vector<int32_t> wanted = replicas;
            std::sort(wanted.begin(), wanted.end());
            co_await step_membership(*g.raft, id, std::move(wanted),
                                     table->decommissioned_brokers(),
                                     silent_reported[id]);
        }
    }
}
}  // namespace

shard_services* local_services() noexcept { return t_services.get(); }

group_ref shard_services::group(raft_group_id id) const noexcept {
    if (id == raft_group_id(0)) return {log.get(), raft.get()};
    auto it = groups.find(id);
    if (it == groups.end()) return {};
    if (it->second->closing) return {};
    auto held = it->second->users.hold();
    if (!held) return {};
    return {it->second->log.get(), it->second->raft.get(), std::move(held)};
}

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
    std::optional<int32_t> preferred;
    if (c.is_cluster()) preferred = c.preferred_leader(this_shard().value());
    group_config gc = group_settings(cfg, raft_group_id(0), c.voters(), preferred);
    if (!c.is_cluster()) co_return co_await consensus::start(gc, *s.log);
    auto tc = transport_config(cfg, this_shard().value(), detail);
    if (!tc) co_return tc.error();
    auto peers = peer_addresses_of(c, detail);
    if (!peers) co_return peers.error();
    s.transport = std::make_unique<raft_rpc::peer_transport>(std::move(*tc), std::move(*peers));
    // Shard 0's connections carry this broker's hello (its Kafka address): every peer gets
    // one, including those that shard 0's group never messages.
    if (this_shard() == shard_id(0)) s.transport->keep_connected();
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
    services->on_disk = groups_on_disk(cfg);
    shard_services* self = services.get();
    if (services->transport) {
        services->transport->set_unreachable_handler([self](node_id node) {
            self->raft->peer_unreachable(node);
            for (auto& [id, g] : self->groups) g->raft->peer_unreachable(node);
        });
    }
    if (rpc != nullptr) {
        services->rpc = rpc;
        // A message for a group not opened here (yet) is dropped: raft resends.
        rpc->local().set_handler([self](raft_message m) {
            if (auto g = self->group(m.group)) g.raft->receive(std::move(m));
        });
        rpc->local().set_leaders_handler(
            [self, &cfg](node_id from, std::vector<rpc::group_leadership> leaders) {
                self->remote.note(from, leaders, std::chrono::steady_clock::now());
                close_removed_groups(*self, cfg, leaders);
            });
    }
    t_services = std::move(services);
    spawn(retention_loop(*t_services, cfg.retention_check_interval, t_services->background.hold()),
          "retention");
    if (cfg.cluster.is_cluster()) {
        spawn(membership_loop(*t_services, cfg, t_services->background.hold()),
              "group membership");
        spawn(group_leaders_loop(*t_services, cfg.cluster.node_id,
                                 t_services->background.hold()),
              "group leaders");
    }
    co_return status{};
}

task<status> stop_shard() {
    if (!t_services) co_return status{};
    auto services = std::move(t_services);
    services->stopping = true;
    co_await services->background.close();
    // Peers' messages stop reaching the group before it goes.
    if (services->rpc != nullptr) {
        services->rpc->local().set_handler({});
        services->rpc->local().set_leaders_handler({});
    }
    for (auto& [id, g] : services->groups) co_await g->raft->stop();
    co_await services->raft->stop();
    if (services->transport) co_await services->transport->stop();
    status closed;
    for (auto& [id, g] : services->groups) {
        auto c = co_await g->log->close();
        if (!c) {
            shard_logger().error("closing raft group {}'s log failed: {}", id,
                                 c.error().message());
            closed = c;
        }
    }
    auto c = co_await services->log->close();
    if (!c) {
        shard_logger().error("closing the log failed: {}", c.error().message());
        closed = c;
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
                       s->raft->commit_index()) +
           (s->groups.empty() ? std::string()
                              : fmt::format("; {} groups of fixed replica sets", s->groups.size()));
}

}  // namespace wharf
