// consensus: what replaces or reshapes a group's history, apart from appends: snapshots sent to
// a follower behind the leader's retained log and installed by it, and the membership (its
// changes, and the history persisted in config_state.h). The rest of the driver is in
// consensus.cc.

#include "raft/consensus.h"

#include "raft/errc.h"
#include "reactor/logger.h"

namespace wharf {

task<void> consensus::send_snapshot(snapshot_plan plan, gate::holder hold) {
    (void)hold;
    auto snap = co_await _log.read_snapshot();
    if (!snap) {
        shard_logger().warn("raft: cannot read the snapshot for node {}: {}", plan.to,
                            snap.error().message());
        _machine->on_snapshot_unsendable(plan);
        pump();
        co_return;
    }
    if (!_stopping) {
        // Debug: a leader resends it every retransmit timeout to a follower that is down.
        shard_logger().debug("raft: sending node {} the snapshot at {} (term {}, {} bytes)",
                             plan.to, snap->index, snap->term, snap->data.size());
        ++_stats.messages_sent;
        ++_stats.snapshots_sent;
        install_snapshot msg{plan.term, snap->index, snap->term, plan.leader_commit,
                             iobuf::copy_of(snap->data.data(), snap->data.size()), plan.config};
        _transport->send(raft_message{_cfg.self, plan.to, std::move(msg), _cfg.group});
    }
    _machine->on_snapshot_sent(plan, snap->index);
    pump();
}

task<status> consensus::install(snapshot_install snap) {
    // A follower behind its leader's retained log: the log becomes the leader's snapshot.
    shard_logger().info("raft: installing the leader's snapshot at {} (term {}; log was {}..{})",
                        snap.index, snap.term, _log.first_index(), _log.last_index());
    std::vector<std::byte> data(snap.data.size());
    snap.data.copy_to(0, data.data(), data.size());
    _recent.clear();
    _recent_bytes = 0;
    // The membership goes with the log: the file names the install first, so that a start
    // after a crash takes the history that matches whichever log it finds (config_state.h).
    if (snap.config) {
        _config_state.installing.emplace();
        _config_state.installing->index = snap.index;
        _config_state.installing->term = snap.term;
        _config_state.installing->history.push_back(*snap.config);
        if (auto s = co_await save_members(); !s) co_return s;
    }
    if (auto s = co_await _log.install_snapshot(data); !s) {
        shard_logger().error("raft: installing the snapshot at {} failed: {}", snap.index,
                             s.error().message());
        co_return s;
    }
    if (snap.config) {
        _config_state.history = std::move(_config_state.installing->history);
        _config_state.installing.reset();
        if (auto s = co_await save_members(); !s) co_return s;
    }
    // What the high watermarks knew described the old log: from now on the snapshot's offsets
    // count once its index is committed, exactly as a recovered log's do.
    _uncommitted.clear();
    _committed_end.clear();
    _recovered_end.clear();
    _recovered_index = snap.index;
    ++_stats.snapshots_installed;
    _machine->on_durable(snap.index, snap.term);
    pump();
    co_return status{};
}

task<status> consensus::save_members() {
    // A failed write fails the replica (act), so the in-memory state running ahead of the file
    // is never acted on.
    ++_stats.config_writes;
    if (auto s = co_await save_config_state(_dir, _config_state); !s) {
        shard_logger().error("raft: writing the membership in {} failed: {}", _dir,
                             s.error().message());
        co_return s;
    }
    co_return status{};
}

task<status> consensus::change_membership(raft_config next) {
    auto holder = _gate.hold();
    if (!holder || _stopping) co_return raft_errc::shutting_down;
    if (_failed) co_return *_failed;
    const term_id term = _machine->term();
    auto index = _machine->propose_config(std::move(next));
    if (!index) co_return index.error();
    shard_logger().info("raft: proposed membership {} at {} (term {})",
                        _machine->config().to_string(), *index, term);
    pump();
    co_return co_await wait_committed(*index, term);
}

}  // namespace wharf
