#include "core/kafka/cluster_view.h"

#include <algorithm>
#include <chrono>
#include <map>
#include <memory>

#include "core/cluster/metadata_service.h"
#include "core/kafka/errors.h"
#include "core/kafka/forward.h"
#include "core/shard_services.h"
#include "reactor/logger.h"
#include "reactor/smp.h"
#include "reactor/spawn.h"
#include "reactor/submit_to.h"
#include "reactor/sync.h"
#include "reactor/timer.h"
#include "reactor/when_all.h"

namespace wharf::kafka {

namespace {

thread_local cluster_view t_view;

// Shard 0's state: what peers told about themselves, and the refresh loop.
struct view_builder {
    const broker_config* cfg = nullptr;
    host_port advertised;
    std::map<int32_t, host_port> peers;
    bool stopping = false;
    gate loop;
};
thread_local std::unique_ptr<view_builder> t_builder;

struct shard_leaders {
    group_leader group0;
    std::map<raft_group_id, group_leader> fixed;
};

group_leader leader_of_group(const consensus& raft) {
    group_leader g;
    if (auto leader = raft.leader()) g.leader = leader->value();
    g.epoch = raft.leader_epoch();
    return g;
}

// The calling shard's groups' leaders: its own groups' from raft, the others' the table names
// from their notices.
shard_leaders leaders_of_shard() {
    shard_leaders out;
    auto* s = local_services();
    if (s == nullptr || s->raft == nullptr) return out;
    out.group0 = leader_of_group(*s->raft);
    auto now = std::chrono::steady_clock::now();
    const int32_t self = t_view.node_id;
    for (const auto& [id, replicas] : metadata_snapshot()->groups()) {
        // A replica knows from raft. A broker outside the group knows from the leader's notices,
        // also when it still has the group open (its replica was moved away and removed).
        auto g = s->group(id);
        bool replica = std::find(replicas.begin(), replicas.end(), self) != replicas.end();
        auto r = s->remote.find(id, now);
        if (g && (replica || !r)) {
            out.fixed[id] = leader_of_group(*g.raft);
        } else if (r) {
            out.fixed[id] = group_leader{.leader = r->leader.value(),
                                         .epoch = static_cast<int32_t>(r->term.value())};
        }
    }
    return out;
}

task<cluster_view> build_view(const view_builder& b) {
    const cluster_config& cc = b.cfg->cluster;
    cluster_view v;
    v.node_id = cc.node_id;
    v.advertised = b.advertised;
    v.brokers.push_back(broker_endpoint{cc.node_id, b.advertised});
    const auto* services = local_services();
    // Every group spans the same brokers once membership changes settle (group_membership.h):
    // shard 0's group stands for all of them.
    v.replicas = cc.voters();
    if (services != nullptr && services->raft != nullptr) {
        v.replicas.clear();
        for (node_id n : services->raft->membership().voters) v.replicas.push_back(n.value());
    }
    auto up = [&](int32_t node) {
        return node == cc.node_id ||
               (services != nullptr && services->transport != nullptr &&
                services->transport->connected(node_id(node)));
    };
    for (const auto& [node, kafka] : b.peers) {
        if (node != cc.node_id && up(node)) v.brokers.push_back(broker_endpoint{node, kafka});
    }
    for (int32_t r : v.replicas) (up(r) ? v.live_replicas : v.offline_replicas).push_back(r);
    std::sort(v.brokers.begin(), v.brokers.end(),
              [](const broker_endpoint& x, const broker_endpoint& y) { return x.node_id < y.node_id; });
    std::vector<task<shard_leaders>> leaders;
    for (unsigned k = 0; k < smp::count(); ++k) {
        leaders.push_back(submit_to(shard_id(k), [] { return leaders_of_shard(); }));
    }
    auto per_shard = co_await when_all(std::move(leaders));
    for (unsigned k = 0; k < per_shard.size(); ++k) {
        v.groups.push_back(per_shard[k].group0);
        for (const auto& [id, g] : per_shard[k].fixed) v.fixed_groups[{k, id.value()}] = g;
    }
    v.controller_id = v.groups.empty() ? -1 : v.groups[0].leader;
    co_return v;
}

task<void> publish(cluster_view v) {
    std::vector<task<void>> sets;
    auto shared = std::make_shared<const cluster_view>(std::move(v));
    for (unsigned k = 0; k < smp::count(); ++k) {
        sets.push_back(submit_to(shard_id(k), [shared] { t_view = *shared; }));
    }
    co_await when_all(std::move(sets));
}

task<void> refresh_loop(view_builder& b, [[maybe_unused]] gate::holder hold) {
    while (!b.stopping) {
        if (!co_await sleep_for(cluster_view_refresh_interval)) co_return;
        if (b.stopping) break;
        cluster_view next = co_await build_view(b);
        if (next == t_view) continue;
        const cluster_view& old = t_view;
        if (next.controller_id != old.controller_id) {
            shard_logger().info("cluster: controller is now node {}", next.controller_id);
        }
        if (next.brokers.size() != old.brokers.size()) {
            shard_logger().info("cluster: {} brokers known", next.brokers.size());
        }
        co_await publish(std::move(next));
    }
}

}  // namespace

const broker_endpoint* cluster_view::broker(int32_t node) const noexcept {
    for (const auto& b : brokers) {
        if (b.node_id == node) return &b;
    }
    return nullptr;
}

group_leader cluster_view::leader_of(shard_id k, raft_group_id g) const noexcept {
    if (g == raft_group_id(0)) return k.value() < groups.size() ? groups[k.value()] : group_leader{};
    auto it = fixed_groups.find({k.value(), g.value()});
    return it == fixed_groups.end() ? group_leader{} : it->second;
}

const cluster_view& local_cluster_view() noexcept { return t_view; }

task<void> start_cluster_view(const broker_config& cfg, host_port advertised) {
    WHARF_ASSERT(this_shard() == shard_id(0), "the cluster view is built on shard 0");
    if (!t_builder) t_builder = std::make_unique<view_builder>();
    t_builder->cfg = &cfg;
    t_builder->advertised = std::move(advertised);
    t_builder->stopping = false;
    cluster_view first = co_await build_view(*t_builder);
    co_await publish(std::move(first));
    spawn(refresh_loop(*t_builder, t_builder->loop.hold()), "cluster view refresh");
}

task<void> stop_cluster_view() {
    if (!t_builder) co_return;
    t_builder->stopping = true;
    co_await t_builder->loop.close();
    t_builder.reset();
}

void note_peer_broker(const rpc::broker_info& b) {
    if (!t_builder) t_builder = std::make_unique<view_builder>();
    auto [it, added] = t_builder->peers.insert_or_assign(b.node.value(),
                                                          host_port{b.kafka_host, b.kafka_port});
    (void)it;
    if (added) {
        shard_logger().info("cluster: node {} serves Kafka on {}", b.node.value(),
                            host_port{b.kafka_host, b.kafka_port}.to_string());
    }
}

task<int16_t> auto_create_topic(std::string name) {
    auto fn = [name]() -> task<int16_t> {
        auto* m = local_metadata_service();
        if (m == nullptr) co_return code(error_code::coordinator_not_available);
        if (m->table().find(name) != nullptr) co_return 0;
        config_map no_overrides;
        auto out = co_await m->create_topic(name, -1, -1, std::move(no_overrides), false);
        if (!out.error || out.error->code == cluster_errc::topic_already_exists) co_return 0;
        co_return kafka_error_code(out.error->code);
    };
    int16_t e = co_await submit_to(shard_id(0), std::move(fn));
    // Another broker is the controller: it creates the topic, and this broker learns of it
    // from the metadata log a moment later.
    if (e == code(error_code::not_controller)) e = co_await forward_create_topic(std::move(name));
    co_return e;
}

}  // namespace wharf::kafka
