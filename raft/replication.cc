// raft_machine: log replication and commit (Raft paper section 5.3 and 5.4.2; thesis 3.5,
// 3.6.2 and 10.2 for pipelining; etcd's probe and replicate states for flow control).

#include <algorithm>

#include "raft/errc.h"
#include "raft/machine.h"

namespace wharf {

raft_machine::progress* raft_machine::find_progress(node_id id) noexcept {
    for (auto& p : _peers) {
        if (p.id == id) return &p;
    }
    return nullptr;
}

void raft_machine::handle_append_request(node_id from, append_request& r) {
    // REQUIRES (step): r.term == the current term, so `from` leads this term.
    if (_role != raft_role::follower) become_follower(_vote.term, from);
    _leader = from;
    _election_elapsed = 0;

    // Entries at or below the snapshot point are committed, hence the leader's: skip them.
    auto& entries = r.entries;
    if (r.prev_index < _log.snapshot_index()) {
        auto keep = std::find_if(entries.begin(), entries.end(), [&](const raft_entry& e) {
            return e.index > _log.snapshot_index();
        });
        if (keep == entries.end()) {
            _matched = std::max(_matched, std::min(_log.snapshot_index(), _log.last_index()));
            reply_to_leader();
            return;
        }
        r.prev_index = keep->index - 1;
        r.prev_term = *_log.term_at(r.prev_index);
        entries.erase(entries.begin(), keep);
    }
    auto prev_term = _log.term_at(r.prev_index);
    if (!prev_term || *prev_term != r.prev_term) {
        // Section 5.3: no match at prev. The hint lets the leader skip the conflicting term in
        // one step (thesis 3.5) instead of one entry per round trip.
        raft_index hint = r.prev_index > _log.last_index()
                              ? _log.last_index()
                              : _log.run_start(r.prev_index) - 1;
        hint = std::max(hint, _log.snapshot_index());
        send(from, append_reply{_vote.term, false, raft_index(0), hint});
        return;
    }
    raft_index request_last = entries.empty() ? r.prev_index : entries.back().index;
    bool appended = false;
    for (auto& e : entries) {
        if (e.index <= _log.last_index()) {
            if (_log.term_at(e.index) == e.term) continue;  // already held
            // Section 5.3 step 3: a conflict; everything from here on goes. Committed entries
            // never conflict (the simulator's checker watches exactly that).
            raft_index cut = e.index - 1;
            // The driver's log ends where the entries still waiting in _ready begin. A cut at
            // or past that point only drops waiting entries: the driver must not be asked to
            // truncate after an index its log does not reach.
            raft_index driver_last =
                _ready.entries.empty() ? _log.last_index() : _ready.entries.front().index - 1;
            _log.truncate_after(cut);
            drop_configs_after(cut);
            if (cut < driver_last) {
                _ready.truncate_after = std::min(_ready.truncate_after.value_or(cut), cut);
            }
            std::erase_if(_ready.entries, [&](const raft_entry& q) { return q.index > cut; });
            _durable = std::min(_durable, cut);
        }
        append_local(std::move(e));
        appended = true;
    }
    _matched = std::max(_matched, request_last);
    set_commit(std::min(r.leader_commit, _matched));
    // An acknowledgement names only durable entries, so it goes when the new ones are synced
    // (on_durable); a request that brought nothing new is answered now (heartbeats included,
    // which is how the leader knows this replica is alive).
    if (!appended || _cfg.bug == planted_bug::ack_before_durable) {
        reply_to_leader();
    }
    // A heartbeat may bring the commit index that ends a repair (machine.cc).
    maybe_finish_repair();
}

void raft_machine::handle_install_snapshot(node_id from, install_snapshot& s) {
    // REQUIRES (step): s.term == the current term, so `from` leads this term.
    auto have = _log.term_at(s.last_index);
    if (s.last_index <= _log.snapshot_index() || (have && *have == s.last_term)) {
        // The log already reaches the snapshot point with the leader's entry (a resent
        // snapshot, or one overtaken by appends): nothing to replace. Answered as a heartbeat
        // anchored there.
        append_request as_heartbeat{s.term, s.last_index, s.last_term, s.leader_commit, {}};
        handle_append_request(from, as_heartbeat);
        return;
    }
    if (_role != raft_role::follower) become_follower(_vote.term, from);
    _leader = from;
    _election_elapsed = 0;
    // The snapshot's point is committed (the leader's retention removes only committed entries),
    // so whatever this log holds at or after it that differs is uncommitted: the whole log goes.
    // Entries still waiting in _ready would follow the old log: they go too.
    _log = term_index(s.last_index, s.last_term);
    _ready.truncate_after.reset();
    _ready.entries.clear();
    _ready.snapshot =
        snapshot_install{s.last_index, s.last_term, std::move(s.data), s.config};
    // The memberships of the old log go with it: the leader's latest committed one replaces
    // them (a snapshot without one, from tests, keeps what the snapshot point covers).
    if (s.config) {
        _configs = {*s.config};
        config_changed(true);
    } else {
        drop_configs_after(s.last_index);
    }
    // Nothing of the new log is durable until the driver reports the snapshot (on_durable).
    _durable = raft_index(0);
    _matched = s.last_index;
    set_commit(std::min(s.leader_commit, s.last_index));
}

void raft_machine::reply_to_leader() {
    if (_role != raft_role::follower || !_leader) return;
    raft_index match = _cfg.bug == planted_bug::ack_before_durable
                           ? _matched
                           : std::min(_matched, _durable);
    _replied_match = std::max(_replied_match, match);
    send(*_leader, append_reply{_vote.term, true, match, _log.last_index()});
}

void raft_machine::handle_append_reply(node_id from, const append_reply& r) {
    if (_role != raft_role::leader) return;
    progress* p = find_progress(from);
    if (!p) return;
    p->active = true;
    p->last_heard_tick = _now;
    if (r.success) {
        if (r.match_index > p->match) {
            p->match = r.match_index;
            p->next = std::max(p->next, p->match + 1);
            // The follower took what was sent after its old match: its position is known, so
            // requests may be pipelined. A reply that confirms nothing new (a heartbeat's, or a
            // late one) says nothing of an outstanding probe and leaves probing as it is.
            p->replicating = true;
            maybe_commit();
            // A leader that the commit removed from the group has stepped down.
            if (_role != raft_role::leader) return;
            maybe_finish_transfer(*p);
        }
        std::erase_if(p->inflights, [&](const inflight& f) {
            if (f.last > p->match) return false;
            p->inflight_bytes -= f.bytes;
            return true;
        });
        plan_appends(*p, false);
        return;
    }
    // The follower's log differs at the request's prev: probe back from its hint, but never
    // below what is known to match (the hint is a run start, and the run may begin below the
    // match point while its later entries conflict).
    p->replicating = false;
    p->inflights.clear();
    p->inflight_bytes = 0;
    p->next = std::max(p->match + 1, std::min(p->next, r.last_index + 1));
    plan_appends(*p, false);
}

void raft_machine::plan_appends(progress& p, bool heartbeat) {
    if (p.plan_out) return;  // the driver is still reading the previous plan's entries
    bool window = p.replicating
                      ? static_cast<int>(p.inflights.size()) < _cfg.max_inflight_appends &&
                            p.inflight_bytes < _cfg.max_inflight_bytes
                      : p.inflights.empty();
    if (window && p.needs_snapshot) {
        plan_snapshot(p);
        return;
    }
    raft_index sendable = _cfg.send_only_durable ? _durable : _log.last_index();
    if (window && p.next <= sendable) {
        auto prev_term = _log.term_at(p.next - 1);
        if (prev_term) {
            _ready.appends.push_back(append_plan{p.id, _vote.term, p.next - 1, *prev_term, p.next,
                                                 _commit, _cfg.max_append_bytes});
            p.plan_out = true;
            p.last_heartbeat_tick = _now;
            return;
        }
        // Below the snapshot point: the follower needs a snapshot.
        p.needs_snapshot = true;
        plan_snapshot(p);
        return;
    }
    if (!heartbeat) return;
    // A heartbeat is anchored at what is known to match, so it never asks for a truncation,
    // and carries the commit index only up to there.
    auto match_term = _log.term_at(p.match);
    raft_index anchor = match_term ? p.match : _log.snapshot_index();
    send(p.id, append_request{_vote.term, anchor, *_log.term_at(anchor), std::min(_commit, anchor),
                              {}});
    p.last_heartbeat_tick = _now;
}

void raft_machine::on_append_sent(const append_plan& plan, raft_index last, uint64_t bytes) {
    if (_role != raft_role::leader || plan.term != _vote.term) return;
    progress* p = find_progress(plan.to);
    if (!p) return;
    p->plan_out = false;
    if (last < plan.from) return;
    p->inflights.push_back({last, bytes, _now});
    p->inflight_bytes += bytes;
    p->next = std::max(p->next, last + 1);
    if (p->replicating) plan_appends(*p, false);
}

void raft_machine::plan_snapshot(progress& p) {
    // The snapshot is one request in flight: the follower is probed until it answers. It
    // carries the latest committed membership, which the follower's log may never see again.
    auto committed = std::find_if(_configs.rbegin(), _configs.rend(),
                                  [&](const config_entry& c) { return c.index <= _commit; });
    const config_entry& members = committed == _configs.rend() ? _configs.front() : *committed;
    _ready.snapshots.push_back(snapshot_plan{p.id, _vote.term, _commit, members});
    p.plan_out = true;
    p.last_heartbeat_tick = _now;
}

void raft_machine::on_append_unsendable(const append_plan& plan, bool behind_log_start) {
    if (_role != raft_role::leader || plan.term != _vote.term) return;
    progress* p = find_progress(plan.to);
    if (!p) return;
    p->plan_out = false;
    if (!behind_log_start) return;  // tried again at the next heartbeat or retransmit
    p->needs_snapshot = true;
    p->replicating = false;
    plan_appends(*p, false);
}

void raft_machine::on_snapshot_sent(const snapshot_plan& plan, raft_index index) {
    if (_role != raft_role::leader || plan.term != _vote.term) return;
    progress* p = find_progress(plan.to);
    if (!p) return;
    p->plan_out = false;
    p->needs_snapshot = false;
    // In flight like an append up to the snapshot point: the follower's answer (match = index)
    // moves it to replicating from index + 1; a lost snapshot is retransmitted like an append
    // (the next plan from match + 1 is again behind the log's start).
    p->replicating = false;
    p->inflights.clear();
    p->inflight_bytes = 0;
    p->inflights.push_back({index, 0, _now});
    p->next = index + 1;
}

void raft_machine::on_snapshot_unsendable(const snapshot_plan& plan) {
    if (_role != raft_role::leader || plan.term != _vote.term) return;
    if (progress* p = find_progress(plan.to)) p->plan_out = false;
}

void raft_machine::broadcast(bool heartbeat) {
    for (auto& p : _peers) plan_appends(p, heartbeat);
}

void raft_machine::maybe_commit() {
    // The highest index a quorum of voters holds durably (the leader's own disk counts once it
    // synced, unless a change in progress removes it from the voters).
    std::vector<raft_index> matches;
    matches.reserve(_peers.size() + 1);
    if (self_votes()) matches.push_back(_durable);
    for (const auto& p : _peers) {
        if (config().is_voter(p.id)) matches.push_back(p.match);
    }
    if (matches.size() < quorum()) return;
    std::sort(matches.begin(), matches.end(), std::greater<>());
    raft_index candidate = matches[quorum() - 1];
    // Section 5.4.2: only an entry of the leader's own term commits by counting replicas.
    if (candidate > _commit && _log.term_at(candidate) == _vote.term) set_commit(candidate);
}

void raft_machine::check_retransmits() {
    for (auto& p : _peers) {
        if (p.inflights.empty() || _now - p.inflights.front().sent_tick < _cfg.retransmit_ticks) {
            continue;
        }
        // The request or its answer was lost: start again from what is known to match.
        p.inflights.clear();
        p.inflight_bytes = 0;
        p.replicating = false;
        p.next = p.match + 1;
        plan_appends(p, false);
    }
}

void raft_machine::check_quorum_now() {
    // Thesis 6.2: a leader that has not heard from a quorum within an election timeout steps
    // down, so clients stop waiting on a leader that can no longer commit.
    if (!_cfg.check_quorum) return;
    size_t active = self_votes() ? 1 : 0;
    for (auto& p : _peers) {
        if (p.active && config().is_voter(p.id)) ++active;
        p.active = false;
    }
    if (active < quorum()) become_follower(_vote.term, std::nullopt);
}

status raft_machine::transfer_leadership(node_id target) {
    if (_role != raft_role::leader) return raft_errc::not_leader;
    if (target == _cfg.self) return {};
    progress* p = find_progress(target);
    if (!p || !config().is_voter(target)) return raft_errc::not_a_voter;
    _transfer_to = target;
    _transfer_elapsed = 0;
    _timeout_now_sent = false;
    maybe_finish_transfer(*p);
    if (!_timeout_now_sent) plan_appends(*p, false);
    return {};
}

void raft_machine::maybe_finish_transfer(progress& p) {
    // Thesis 3.10: the target campaigns only once it holds the whole log, so it wins at once.
    if (_transfer_to != p.id || _timeout_now_sent || p.match != _log.last_index()) return;
    _timeout_now_sent = true;
    send(p.id, timeout_now{_vote.term});
}

void raft_machine::maybe_balance_leadership(bool preferred_alive) {
    if (_role != raft_role::leader || _transfer_to || !preferred_alive) return;
    if (!_cfg.preferred_leader || *_cfg.preferred_leader == _cfg.self) return;
    // Only to a replica holding every committed entry: the handover refuses appends until the
    // target has caught up, which for one far behind (a restart's backlog, a disk that cannot
    // write) would stop the partition for an election timeout, again each election timeout.
    const progress* p = find_progress(*_cfg.preferred_leader);
    if (p == nullptr || p->match < _commit || !config().is_voter(p->id)) return;
    (void)transfer_leadership(*_cfg.preferred_leader);
}

}  // namespace wharf
