#include "core/shard_groups.h"

#include <algorithm>
#include <charconv>
#include <chrono>
#include <filesystem>

#include <fmt/format.h>
#include <fmt/ranges.h>

#include "core/cluster/metadata_service.h"
#include "reactor/logger.h"
#include "reactor/shard.h"
#include "reactor/smp.h"
#include "reactor/spawn.h"
#include "reactor/submit_to.h"
#include "reactor/timer.h"

namespace wharf {

namespace {

// A membership's voters and learners, ascending.
std::vector<node_id> member_list(const raft_config& c) {
    std::vector<node_id> out = c.voters;
    out.insert(out.end(), c.learners.begin(), c.learners.end());
    std::sort(out.begin(), out.end());
    out.erase(std::unique(out.begin(), out.end()), out.end());
    return out;
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
    s.on_disk.erase(id);
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

}  // namespace

group_config group_settings(const broker_config& cfg, raft_group_id id,
                            const std::vector<int32_t>& voters,
                            std::optional<int32_t> preferred) {
    group_config gc{.self = node_id(cfg.cluster.node_id), .group = id};
    for (int32_t v : voters) gc.voters.push_back(node_id(v));
    if (cfg.cluster.leader_balancing && preferred) gc.preferred_leader = node_id(*preferred);
    return gc;
}

void share_tail_cache(shard_services& s, const broker_config& cfg) {
    size_t share = cfg.tail_cache_bytes_per_shard() / (1 + s.groups.size());
    s.log->set_tail_cache_bytes(share);
    for (auto& [id, g] : s.groups) g->log->set_tail_cache_bytes(share);
}

std::set<raft_group_id> groups_on_disk(const broker_config& cfg) {
    std::set<raft_group_id> out;
    const std::string prefix = fmt::format("shard-{}-group-", this_shard().value());
    std::error_code ec;
    for (std::filesystem::directory_iterator it(cfg.data_dir, ec), last; !ec && it != last;
         it.increment(ec)) {
        std::string name = it->path().filename().string();
        if (!name.starts_with(prefix)) continue;
        std::string_view digits = std::string_view(name).substr(prefix.size());
        uint16_t id = 0;
        auto [end, err] = std::from_chars(digits.data(), digits.data() + digits.size(), id);
        if (err == std::errc() && end == digits.data() + digits.size() && id > 0) {
            out.insert(raft_group_id(id));
        }
    }
    return out;
}

task<void> open_groups(shard_services& s, const broker_config& cfg,
                       const topic_table_snapshot& table, std::set<raft_group_id>& failed) {
    const int32_t self = cfg.cluster.node_id;
    for (const auto& [id, replicas] : table.groups()) {
        if (s.stopping) co_return;
        bool replica = std::find(replicas.begin(), replicas.end(), self) != replicas.end();
        if (s.groups.contains(id) || (!replica && !s.on_disk.contains(id))) continue;
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
        shard_logger().info("raft group {} (replicas {}) opened{}: {}", id,
                            fmt::join(replicas, ","),
                            replica ? "" : " (a replica moved away, until raft removes it)",
                            g->log->directory());
        s.groups.emplace(id, std::move(g));
        failed.erase(id);
        share_tail_cache(s, cfg);
    }
}

void close_removed_groups(shard_services& s, const broker_config& cfg,
                          const std::vector<rpc::group_leadership>& leaders) {
    if (s.stopping) return;
    const auto& table = metadata_snapshot();
    const node_id self(cfg.cluster.node_id);
    for (const auto& l : leaders) {
        auto it = s.groups.find(l.group);
        auto replicas = table->groups().find(l.group);
        if (it == s.groups.end() || it->second->closing || replicas == table->groups().end() ||
            std::find(replicas->second.begin(), replicas->second.end(), self.value()) !=
                replicas->second.end() ||
            std::find(l.members.begin(), l.members.end(), self) != l.members.end()) {
            continue;
        }
        auto held = s.background.hold();
        if (!held) return;
        it->second->closing = true;
        spawn(close_group(s, cfg, l.group, std::move(held)), "close raft group");
    }
}

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
            const raft_config& members = g->raft->membership();
            // A leader that removed itself hands leadership over: it tells nobody meanwhile.
            if (!members.contains(node_id(self))) continue;
            led.emplace_back(rpc::group_leadership{id, g->raft->term(), node_id(self),
                                                   member_list(members)},
                             &members);
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

std::optional<std::map<raft_group_id, std::vector<int32_t>>> decommissioned_members() {
    const shard_services* s = local_services();
    if (s == nullptr || s->stopping) return std::nullopt;
    std::map<raft_group_id, std::vector<int32_t>> out;
    auto table = metadata_snapshot();
    const std::vector<int32_t>& gone = table->decommissioned_brokers();
    if (gone.empty()) return out;
    auto note = [&](raft_group_id id, const std::vector<node_id>& members) {
        for (node_id n : members) {
            if (std::binary_search(gone.begin(), gone.end(), n.value())) {
                out[id].push_back(n.value());
            }
        }
    };
    note(raft_group_id(0), member_list(s->raft->membership()));
    auto placed_in = [](const std::vector<int32_t>* ids, int32_t n) {
        return ids != nullptr && std::find(ids->begin(), ids->end(), n) != ids->end();
    };
    auto now = std::chrono::steady_clock::now();
    for (const auto& [id, replicas] : table->groups()) {
        auto open = s->groups.find(id);
        if (open != s->groups.end() && !open->second->closing) {
            note(id, member_list(open->second->raft->membership()));
        } else if (auto r = s->remote.find(id, now); r && !r->members.empty()) {
            note(id, r->members);
        } else {
            for (int32_t n : gone) {
                if (placed_in(&replicas, n) || placed_in(table->group_origin(id), n)) {
                    out[id].push_back(n);
                }
            }
        }
    }
    return out;
}

task<std::vector<int32_t>> removable_from_group0(const topic_table_snapshot& table,
                                                 std::set<int32_t>& reported) {
    std::vector<int32_t> gone = table.decommissioned_brokers();
    if (this_shard() != shard_id(0) || gone.empty() || table.groups().empty()) co_return gone;
    std::set<int32_t> held;
    for (unsigned k = 0; k < smp::count(); ++k) {
        auto part = co_await submit_to(shard_id(k), [] { return decommissioned_members(); });
        if (!part) co_return std::vector<int32_t>{};  // stopping: remove nobody now
        for (const auto& [id, members] : *part) {
            if (id != raft_group_id(0)) held.insert(members.begin(), members.end());
        }
    }
    for (int32_t n : gone) {
        if (held.contains(n) && reported.insert(n).second) {
            shard_logger().info("cluster: decommissioned broker {} is still a replica of groups "
                                "of fixed replica sets; the controller's group keeps it until "
                                "they have moved",
                                n);
        }
    }
    std::erase_if(gone, [&](int32_t n) { return held.contains(n); });
    co_return gone;
}

}  // namespace wharf
