// sim_world: the disk model (delayed syncs, what a crash keeps), compaction, and the snapshot side
// of the driver contract (raft/machine.h, points 2a and 3), as raft/consensus.cc plays them over
// the shard log.

#include <algorithm>

#include <fmt/format.h>

#include "reactor/base/assert.h"
#include "tests/sim/sim_world.h"

namespace wharf::sim {

void sim_world::apply_to_disk(node& n, const node::pending_op& op) {
    using kind = node::pending_op::kind;
    // The membership history rides with the change it was handed out with: before an append
    // (it may name the entry before the entry is durable: a start drops what the log lacks),
    // after a truncation or an install (it must not name entries they remove).
    switch (op.what) {
        case kind::append:
            if (op.configs) n.durable_configs = *op.configs;
            n.durable_log.append(op.entry);
            return;
        case kind::truncate:
            n.durable_log.truncate_after(op.entry.index);
            break;
        case kind::install:
            // All or nothing, membership included: the real log finishes an install whose
            // marker file it finds at recovery, and one without it never happened (the
            // membership file brackets it, raft/config_state.h).
            n.durable_log.install(op.entry);
            ++_stats.installs_durable;
            break;
        case kind::configs:
            break;
    }
    if (op.configs) n.durable_configs = *op.configs;
}

void sim_world::maybe_flip(node& n) {
    // Seeds without flips draw nothing here, so they replay as they did before flips existed.
    if (_p.flip_per_crash <= 0 || !chance(_p.flip_per_crash)) return;
    // Protocol-aware recovery is safe while a majority is intact: one damaged replica at a time
    // (until it has repaired), and none in a group of one, which has nobody to repair from.
    if (_p.nodes < 2 || n.durable_log.entries().empty()) return;
    for (const auto& o : _nodes) {
        if (&o != &n && (o.damaged > raft_index(0) || o.repair_marker)) return;
    }
    const auto& entries = n.durable_log.entries();
    const sim_entry& hit =
        entries[static_cast<size_t>(uniform(0, static_cast<int>(entries.size()) - 1))];
    // Nor where membership changes would leave repair without its premise (flip_allowed). The
    // damage that recovery finds first is the earliest one.
    raft_index first_damage = n.damaged == raft_index(0) ? hit.index
                                                          : std::min(n.damaged, hit.index);
    if (!flip_allowed(n, first_damage - 1)) return;
    // A second flip before recovery ran: the earlier damage is what recovery finds first.
    if (n.damaged == raft_index(0) || hit.index < n.damaged) n.damaged = hit.index;
    ++_stats.flips;
    if (trace) {
        fmt::print("{} ms: {} has a bit flip in {}/{}\n", _now, id_of(n.number), hit.index,
                   hit.term);
    }
}

void sim_world::recover(node& n) {
    // The real log's recovery: the damaged entry fails its checksum, the log is cut before it
    // (the entries after it go too, as a torn tail does), and a marker is written first so the
    // repair survives further crashes until the machine says it is repaired.
    if (n.damaged == raft_index(0)) return;
    raft_index cut = n.damaged - 1;
    n.damaged = raft_index(0);
    WHARF_ASSERT(cut >= n.durable_log.snapshot_index(), "sim: node {} damaged under its snapshot",
                 n.number);
    for (const auto& e : n.durable_log.entries()) {
        if (e.index > cut) n.lost.push_back(e);
    }
    n.durable_log.truncate_after(cut);
    n.repair_marker = true;
    ++_stats.repairs_started;
    if (trace) {
        fmt::print("{} ms: {} recovers with its log cut after {}, and repairs\n", _now,
                   id_of(n.number), cut);
    }
}

void sim_world::on_repaired(node& n) {
    WHARF_ASSERT(n.repair_marker, "sim: node {} repaired without a repair marker", n.number);
    n.repair_marker = false;
    n.lost.clear();
    ++_stats.repairs_done;
    if (trace) fmt::print("{} ms: {} is repaired\n", _now, id_of(n.number));
}

void sim_world::sync_disks() {
    for (auto& n : _nodes) {
        if (!n.up) continue;
        if (n.sync_at < 0 && !n.pending.empty()) {
            n.sync_at = _now + uniform(1, _p.max_sync_ms);
            n.syncing = n.pending.size();
        }
        if (n.sync_at < 0 || n.sync_at > _now) continue;
        for (size_t i = 0; i < n.syncing; ++i) {
            apply_to_disk(n, n.pending[i]);
        }
        n.pending.erase(n.pending.begin(), n.pending.begin() + static_cast<long>(n.syncing));
        n.sync_at = -1;
        n.syncing = 0;
        // The disk's last point: its last entry, or the snapshot point when it holds none past
        // it (an install is reported durable with its own index and term, contract 2a).
        const sim_entry& last = n.durable_log.last();
        if (last.index > raft_index(0)) {
            n.machine->on_durable(last.index, last.term);
            drive(n);
        }
    }
}

void sim_world::maybe_compact() {
    // Seeds that never compact draw nothing here, so they replay as they did before compaction.
    if (_p.compact_per_ms <= 0 || !chance(_p.compact_per_ms)) return;
    auto& n = _nodes[static_cast<size_t>(uniform(0, _p.nodes - 1))];
    if (!n.up) return;
    // An install waiting for its sync is the log's new start: retention waits for it.
    if (std::any_of(n.pending.begin(), n.pending.end(), [](const node::pending_op& op) {
            return op.what == node::pending_op::kind::install;
        })) {
        return;
    }
    // Retention removes only what this replica knows committed and has on its own disk. (Its
    // commit index is the one the checker saw at the end of the last step: this runs first.)
    raft_index limit =
        std::min({n.machine->commit_index(), n.machine->durable_index(), n.log.last_index()});
    if (limit <= n.log.snapshot_index()) return;
    // Mostly all it may (a follower that falls behind then needs the snapshot), sometimes less.
    raft_index through = chance(0.5) ? limit
                                     : raft_index(std::uniform_int_distribution<int64_t>(
                                           n.log.first_index().value(), limit.value())(_rng));
    const sim_entry* held = n.log.at(through);
    const sim_entry* on_disk = n.durable_log.at(through);
    WHARF_ASSERT(held && on_disk && same(*held, *on_disk) &&
                     same(n.log.snapshot(), n.durable_log.snapshot()),
                 "sim: node {} compacts through {}, which its disk does not hold as its log does",
                 n.number, through);
    // Durable at once, as the real log writes its prefix checkpoint before deleting segments.
    n.log.compact_through(through);
    n.durable_log.compact_through(through);
    ++_stats.compactions;
    if (trace) {
        fmt::print("{} ms: {} compacts its log through {}\n", _now, id_of(n.number), through);
    }
}

void sim_world::install(node& n, const snapshot_install& snap, configs_op configs) {
    // Contract 2a (consensus::install): the whole log becomes the snapshot, before this ready's
    // truncation and entries. It reaches the disk with a later sync, in order with the other
    // changes, and is reported durable then (sync_disks).
    sim_entry point{snap.index, snap.term, payload_id(snap.data)};
    n.log.install(point);
    n.changed_from = std::min(n.changed_from, point.index + 1);
    n.pending.push_back({node::pending_op::kind::install, point, std::move(configs)});
    ++_stats.snapshots_installed;
    if (trace) {
        fmt::print("{} ms: {} installs the snapshot at {}/{}\n", _now, id_of(n.number), point.index,
                   point.term);
    }
}

void sim_world::send_snapshot(node& n, const snapshot_plan& plan) {
    // Contract 3 (consensus::send_snapshot): the log's snapshot point goes as an
    // install_snapshot, its data standing for the state up to there.
    const sim_entry& point = n.log.snapshot();
    if (point.index == raft_index(0)) {
        // Nothing removed yet, so no snapshot to read: tried again at the next heartbeat.
        ++_stats.snapshots_unsendable;
        n.machine->on_snapshot_unsendable(plan);
        return;
    }
    term_id point_term = _p.driver == driver_bug::snapshot_wrong_term ? plan.term : point.term;
    send(raft_message{n.machine->self(), plan.to,
                      install_snapshot{plan.term, point.index, point_term, plan.leader_commit,
                                       id_payload(point.id), plan.config}});
    ++_stats.snapshots_sent;
    n.machine->on_snapshot_sent(plan, point.index);
}

}  // namespace wharf::sim
