#include "core/shard_services.h"

#include <algorithm>
#include <chrono>
#include <filesystem>
#include <set>

#include <fmt/format.h>
#include <fmt/ranges.h>

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

// The group settings of a raft group spanning `voters` (group k of shard 0 prefers the
// (k mod N)-th seed, a group of a fixed replica set its first replica).
group_config group_settings(const broker_config& cfg, raft_group_id id,
                            const std::vector<int32_t>& voters,
                            std::optional<int32_t> preferred) {
    group_config gc{.self = node_id(cfg.cluster.node_id), .group = id};
    for (int32_t v : voters) gc.voters.push_back(node_id(v));
    if (cfg.cluster.leader_balancing && preferred) gc.preferred_leader = node_id(*preferred);
    return gc;
}

// The shard's memory for tail caches (broker_config::tail_cache_bytes_per_shard), shared evenly
// by the logs of its groups.
void share_tail_cache(shard_services& s, const broker_config& cfg) {
    size_t share = cfg.tail_cache_bytes_per_shard() / (1 + s.groups.size());
    s.log->set_tail_cache_bytes(share);
    for (auto& [id, g] : s.groups) g->log->set_tail_cache_bytes(share);
}

// Opens the groups of fixed replica sets that the table names with this broker among their
// replicas and that the shard does not have yet: their logs (recovering what an earlier run
// left) and their raft groups over the shard's transport. A group that fails to open is
// reported once (`failed`) and tried again at the next check.
task<void> open_groups(shard_services& s, const broker_config& cfg,
                       const topic_table_snapshot& table, std::set<raft_group_id>& failed) {
    const int32_t self = cfg.cluster.node_id;
    for (const auto& [id, replicas] : table.groups()) {
        if (s.stopping) co_return;
        if (s.groups.contains(id) ||
            std::find(replicas.begin(), replicas.end(), self) == replicas.end()) {
            continue;
        }
        auto g = std::make_unique<data_group>();
        log_config lc = cfg.shard_log_config(this_shard().value());
        lc.group = id;
        lc.repair_corruption = replicas.size() > 1;
        std::string detail;
        auto log = co_await shard_log::open(lc, &detail);
        if (!log) {
            if (failed.insert(id).second) {
                shard_logger().error("raft group {}: opening its log failed: {}", id,
                                     detail.empty() ? log.error().message() : detail);
            }
            continue;
        }
        g->log = std::move(*log);
        // The group's first membership: a replica that a move brought in is not in it, and
        // joins as the leader adds it (a learner first).
        const std::vector<int32_t>* origin = table.group_origin(id);
        auto raft = co_await consensus::start(
            group_settings(cfg, id, origin != nullptr ? *origin : replicas, replicas.front()),
            *g->log, s.transport.get());
        if (!raft || s.stopping) {
            if (raft) co_await (*raft)->stop();
            if (!raft && failed.insert(id).second) {
                shard_logger().error("raft group {}: starting it failed: {}", id,
                                     raft.error().message());
            }
            auto closed = co_await g->log->close();
            (void)closed;
            continue;
        }
        g->raft = std::move(*raft);
        // Its partitions' settings, from the table as it is now (publish_topic_table configures
        // the groups already open; nothing suspends from here until the group is).
        for (const topic_metadata* t : metadata_snapshot()->topics()) {
            auto pc = t->config.to_partition_config();
            for (const auto& a : t->partitions) {
                if (a.shard == this_shard() && a.group == id) {
                    g->log->configure_partition(a.log_partition, pc);
                }
            }
        }
        shard_logger().info("raft group {} (replicas {}) opened: {}", id,
                            fmt::join(replicas, ","), g->log->directory());
        s.groups.emplace(id, std::move(g));
        failed.erase(id);
        share_tail_cache(s, cfg);
    }
}

// Closes group `id`, whose leader said raft removed this replica (group_leaders_loop): once
// the requests using it are done, its raft group stops, its log closes and its directory is
// deleted (Kafka deletes a reassigned-away replica's log too).
task<void> close_group(shard_services& s, const broker_config& cfg, raft_group_id id,
                       gate::holder) {
    data_group& g = *s.groups.at(id);
    shard_logger().info("raft group {}: the leader removed this replica (moved to another "
                        "broker); closing it",
                        id);
    co_await g.raft->stop();
    co_await g.users.close();
    auto closed = co_await g.log->close();
    std::string dir = g.log->directory();
    s.groups.erase(id);
    share_tail_cache(s, cfg);
    if (!closed) {
        shard_logger().error("raft group {}: closing its log failed ({}); {} is left in place",
                             id, closed.error().message(), dir);
        co_return;
    }
    // A few files, once: not worth a round through the ring.
    std::error_code ec;
    std::filesystem::remove_all(dir, ec);
    if (ec) {
        shard_logger().error("raft group {}: deleting {} failed: {}", id, dir, ec.message());
    } else {
        shard_logger().info("raft group {} closed; {} deleted", id, dir);
    }
}

// A leaders' notice reached this shard: a group it names that this shard has open, while the
// table names other replicas for it, had this replica removed by raft (group_leaders_loop tells
// only brokers outside a committed membership; one that the table still names is a new replica
// that raft has not added yet).
void close_removed_groups(shard_services& s, const broker_config& cfg,
                          const std::vector<rpc::group_leadership>& leaders) {
    if (s.stopping) return;
    const auto& table = metadata_snapshot();
    for (const auto& l : leaders) {
        auto it = s.groups.find(l.group);
        auto replicas = table->groups().find(l.group);
        if (it == s.groups.end() || it->second->closing || replicas == table->groups().end() ||
            std::find(replicas->second.begin(), replicas->second.end(),
                      cfg.cluster.node_id) != replicas->second.end()) {
            continue;
        }
        auto held = s.background.hold();
        if (!held) return;
        it->second->closing = true;
        spawn(close_group(s, cfg, l.group, std::move(held)), "close raft group");
    }
}

// Tells every peer outside a group this shard leads that it leads it, every
// group_leaders_interval (group_leaders.h).
task<void> group_leaders_loop(shard_services& s, int32_t self, gate::holder) {
    while (!s.stopping) {
        if (!co_await sleep_for(group_leaders_interval)) co_return;
        if (s.stopping) break;
        // The groups led whose membership is committed: a broker outside it is either no
        // replica (it answers Metadata from the notice) or one that raft removed for good (a
        // move took it away, and it now closes the group: close_group). While a change is in
        // flight nobody is told: a notice lives long enough to span it.
        std::vector<std::pair<rpc::group_leadership, const raft_config*>> led;
        for (const auto& [id, g] : s.groups) {
            if (!g->raft->is_leader() || !g->raft->machine().config_committed()) continue;
            led.emplace_back(rpc::group_leadership{id, g->raft->term(), node_id(self)},
                             &g->raft->membership());
        }
        if (led.empty()) continue;
        for (node_id peer : s.transport->peers()) {
            std::vector<rpc::group_leadership> told;
            for (const auto& [leadership, members] : led) {
                if (!members->contains(peer)) told.push_back(leadership);  // members know
            }
            if (!told.empty()) s.transport->send_leaders(peer, rpc::encode_group_leaders(told));
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
        co_await step_membership(*s.raft, raft_group_id(0), std::move(members),
                                 table->decommissioned_brokers(), silent_reported[raft_group_id(0)]);
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
