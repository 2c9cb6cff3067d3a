#include "core/shard_services.h"

#include <fmt/format.h>

#include "reactor/logger.h"
#include "reactor/placement.h"
#include "reactor/shard.h"

namespace wharf {

namespace {
thread_local std::unique_ptr<shard_services> t_services;
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
    co_return status{};
}

task<status> stop_shard() {
    if (!t_services) co_return status{};
    auto services = std::move(t_services);
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
