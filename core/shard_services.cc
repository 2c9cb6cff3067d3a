#include "core/shard_services.h"

#include <algorithm>
#include <chrono>

#include <fmt/format.h>

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
        if (!s.raft->is_leader()) continue;
        auto r = co_await s.log->apply_retention(s.raft->term());
        ++s.retention_passes;
        if (!r) shard_logger().warn("retention failed: {}", r.error().message());
    }
}
}  // namespace

shard_services* local_services() noexcept { return t_services.get(); }

task<status> start_shard(const broker_config& cfg, std::string* detail) {
    WHARF_ASSERT(!t_services, "shard {} started twice", this_shard());
    auto services = std::make_unique<shard_services>();
    auto log = co_await shard_log::open(cfg.shard_log_config(this_shard().value()), detail);
    if (!log) co_return log.error();
    services->log = std::move(*log);
    // A single broker is a cluster of one: node 0, the only voter of every group.
    group_config gc{.self = node_id(0), .voters = {node_id(0)}};
    auto raft = co_await consensus::start(gc, *services->log);
    if (!raft) {
        if (detail) *detail = "raft group: " + raft.error().message();
        auto closed = co_await services->log->close();
        (void)closed;
        co_return raft.error();
    }
    services->raft = std::move(*raft);
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
    co_await services->raft->stop();
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
