// raft_machine: roles, time, and the routing of messages by term (thesis sections 3.3-3.4).
// Elections are in election.cc, log replication and commit in replication.cc.

#include "raft/machine.h"

#include <algorithm>

#include "raft/errc.h"

#include <fmt/format.h>

namespace wharf {

const char* to_string(raft_role r) noexcept {
    switch (r) {
        case raft_role::follower: return "follower";
        case raft_role::pre_candidate: return "pre-candidate";
        case raft_role::candidate: return "candidate";
        case raft_role::leader: return "leader";
    }
    return "?";
}

raft_machine::raft_machine(machine_config cfg, machine_start_state state)
    : _cfg(std::move(cfg)), _rng(_cfg.seed), _vote(state.vote), _log(std::move(state.log)) {
    // The membership: the history as last handed out, less the entries the log does not hold
    // (driver contract, step 5); the first entry is committed and stays.
    _configs = std::move(state.configs);
    if (_configs.empty()) {
        raft_config initial{_cfg.voters, _cfg.learners};
        auto valid = normalize_config(initial);
        WHARF_ASSERT(valid, "raft_machine: invalid initial membership {}", initial.to_string());
        _configs.push_back(config_entry{raft_index(0), term_id(0), std::move(initial)});
    }
    while (_configs.size() > 1) {
        const config_entry& last = _configs.back();
        bool held = last.index <= _log.snapshot_index() || _log.term_at(last.index) == last.term;
        if (held) break;
        _configs.pop_back();
    }
    WHARF_ASSERT(_cfg.election_timeout_ticks > _cfg.heartbeat_ticks &&
                     _cfg.heartbeat_ticks > 0 && _cfg.max_inflight_appends > 0,
                 "raft_machine: bad timing settings");
    // What the log holds at start is durable (the driver starts from the recovered log), and
    // what retention removed was committed.
    _durable = _log.last_index();
    _commit = _log.snapshot_index();
    // A lost or stale vote file must not let the term go back behind the log's last term.
    if (_log.last_term() > _vote.term) set_vote({_log.last_term(), std::nullopt});
    if (_cfg.repairing) {
        // A sole voter has nobody to repair from. A learner (or a removed replica) beside one
        // voter does, and may still be repairing when membership changes shrank the group: its
        // durable marker outlives those, and further restarts.
        WHARF_ASSERT(config().voters.size() > 1 || !self_votes(),
                     "raft_machine: node {} cannot repair as the only voter", _cfg.self.value());
        // Every acknowledgement this replica gave before the damage was in a term up to this
        // one. Moving on (without a vote) deposes a leader of this term, which may count those
        // lost acknowledgements and would never probe below the match they set; leaders of later
        // terms count only what is acknowledged from now on (machine.h, "Repair after
        // corruption").
        _repairing = true;
        set_vote({_vote.term + 1, std::nullopt});
    }
    reset_election_timer();
}

void raft_machine::reset_election_timer() {
    _election_elapsed = 0;
    int base = _cfg.election_timeout_ticks;
    _election_timeout = base + static_cast<int>(_rng() % static_cast<uint64_t>(base));
}

bool raft_machine::in_lease() const noexcept {
    // Thesis 4.2.3: while a replica believes a leader is alive (it heard from it within the
    // minimum election timeout), it disregards requests to elect another. A leader is in its
    // own lease as long as check-quorum keeps it leader.
    if (!_cfg.check_quorum || !_leader) return false;
    return _role == raft_role::leader || _election_elapsed < _cfg.election_timeout_ticks;
}

void raft_machine::set_vote(vote_state v) {
    _vote = v;
    _ready.vote = v;
}

void raft_machine::send(node_id to, decltype(raft_message::body) body) {
    _ready.messages.push_back(raft_message{_cfg.self, to, std::move(body)});
}

void raft_machine::append_local(raft_entry e) {
    _log.append(e.index, e.term);
    if (e.type == entry_type::raft_configuration) note_config_entry(e);
    _ready.entries.push_back(std::move(e));
}

void raft_machine::become_follower(term_id term, std::optional<node_id> leader) {
    if (term > _vote.term) {
        set_vote({term, std::nullopt});
        _matched = raft_index(0);
        _replied_match = raft_index(0);
    } else if (_role != raft_role::follower) {
        _matched = raft_index(0);
        _replied_match = raft_index(0);
    }
    _role = raft_role::follower;
    _leader = leader;
    _transfer_to.reset();
    _votes.clear();
    _peers.clear();
    reset_election_timer();
}

void raft_machine::become_pre_candidate() {
    // Thesis 9.6: ask first whether an election could be won, without touching the term, so a
    // replica that was cut off cannot raise every term when it returns.
    _role = raft_role::pre_candidate;
    _leader.reset();
    _votes.clear();
    _peers.clear();
    reset_election_timer();
    count_vote(_cfg.self, true);
    if (_role != raft_role::pre_candidate) return;  // a group of one moved on
    for (node_id v : config().voters) {
        if (v == _cfg.self) continue;
        send(v, vote_request{_vote.term + 1, _log.last_index(), _log.last_term(), true, false});
    }
}

void raft_machine::become_candidate(bool transfer) {
    // Section 3.4: a new term, a vote for itself, made durable before the requests leave.
    set_vote({_vote.term + 1, _cfg.self});
    _role = raft_role::candidate;
    _leader.reset();
    _votes.clear();
    _peers.clear();
    _matched = raft_index(0);
    _replied_match = raft_index(0);
    reset_election_timer();
    count_vote(_cfg.self, true);
    if (_role != raft_role::candidate) return;
    for (node_id v : config().voters) {
        if (v == _cfg.self) continue;
        send(v, vote_request{_vote.term, _log.last_index(), _log.last_term(), false, transfer});
    }
}

void raft_machine::become_leader() {
    _role = raft_role::leader;
    _leader = _cfg.self;
    _transfer_to.reset();
    _votes.clear();
    _peers.clear();
    sync_peers();
    _heartbeat_elapsed = 0;
    _election_elapsed = 0;
    // Section 3.6.2: entries of earlier terms are committed only through an entry of this
    // term, so the term starts with a no-op that commits them all.
    _term_start = _log.last_index() + 1;
    append_local(raft_entry{_term_start, _vote.term, entry_type::raft_noop, partition_id(0), {}});
    broadcast(false);
}

void raft_machine::campaign() {
    // A repairing replica may lack committed entries: it must not lead (nor vote) until repaired.
    // A learner, or a replica removed from the group (or not yet told it joined), never leads,
    // but for one case (thesis 4.2.2, Figure 4.6): a voter that its latest configuration takes
    // out still stands for election until that configuration commits, as the group may need
    // it. A leader of a group of two that removed itself and restarted before the change
    // committed holds the only copy of the change, and the other voter, whose membership still
    // counts it, needs its vote, which the longer log refuses: neither would ever lead. Votes
    // count in the latest configuration as always (not its own), so this election is as safe
    // as any, and the leader it makes steps down once the change commits.
    bool leaving = !config_committed() && _configs.size() > 1 &&
                   _configs[_configs.size() - 2].config.is_voter(_cfg.self);
    if (_role == raft_role::leader || _repairing || (!self_votes() && !leaving)) return;
    if (_cfg.pre_vote) {
        become_pre_candidate();
    } else {
        become_candidate(false);
    }
}

void raft_machine::tick() {
    ++_now;
    ++_election_elapsed;
    if (_role == raft_role::leader) {
        if (++_heartbeat_elapsed >= _cfg.heartbeat_ticks) {
            _heartbeat_elapsed = 0;
            broadcast(true);
        }
        if (_transfer_to && ++_transfer_elapsed >= _cfg.election_timeout_ticks) {
            _transfer_to.reset();  // the target did not take over in time: lead on
        }
        if (_election_elapsed >= _cfg.election_timeout_ticks) {
            _election_elapsed = 0;
            progress* preferred =
                _cfg.preferred_leader ? find_progress(*_cfg.preferred_leader) : nullptr;
            bool preferred_alive = preferred && preferred->active;
            check_quorum_now();
            maybe_balance_leadership(preferred_alive);
        }
        if (_role == raft_role::leader) check_retransmits();
        return;
    }
    // campaign() does nothing while repairing.
    if (_election_elapsed >= _election_timeout && _now >= _candidacy_held_until) campaign();
}

void raft_machine::hold_candidacy(int ticks) {
    _candidacy_held_until = std::max(_candidacy_held_until, _now + ticks);
}

void raft_machine::peer_unreachable(node_id node) {
    if (_role == raft_role::leader || _leader != node) return;
    // Once per lease: later reports (each refused reconnection) must not push the campaign back.
    if (_election_elapsed >= _cfg.election_timeout_ticks) return;
    int rank = 0;
    for (node_id v : config().voters) {
        if (v != node && v < _cfg.self) ++rank;
    }
    _election_elapsed = _cfg.election_timeout_ticks;
    _election_timeout = _cfg.election_timeout_ticks + 1 + 2 * rank;
}

result<raft_index> raft_machine::propose() {
    if (_role != raft_role::leader) return raft_errc::not_leader;
    raft_index i = _log.last_index() + 1;
    _log.append(i, _vote.term);
    // Plans go out at take_ready(), so the proposals of one reactor turn share requests.
    _pending_broadcast = true;
    return i;
}

void raft_machine::on_durable(raft_index index, term_id term) {
    // A notice for entries since cut off (a truncation overtook their write) names a term the
    // log no longer has at that index; (index, term) identifies an entry and its whole prefix.
    auto t = _log.term_at(index);
    if (!t || *t != term || index <= _durable) return;
    _durable = index;
    if (_role == raft_role::leader) {
        maybe_commit();
        // A driver that sends only durable entries has more to send now.
        _pending_broadcast = true;
    } else {
        reply_to_leader();
        maybe_finish_repair();
    }
}

void raft_machine::maybe_finish_repair() {
    // Repaired once the durable log holds the commit index learnt from the current leader with
    // an entry of the current term (machine.h, "Repair after corruption"). The commit index
    // comes from accepted appends and snapshots only, so the log matches the leader's up to it;
    // an entry of this term there is the leader's own, committed, so every entry committed in
    // earlier terms lies below it.
    if (!_repairing || _role != raft_role::follower || !_leader) return;
    if (_commit > _durable || _log.term_at(_commit) != _vote.term) return;
    _repairing = false;
    _ready.repaired = true;
}

void raft_machine::on_local_write_failed(raft_index last_kept) {
    last_kept = std::max(last_kept, _log.snapshot_index());
    if (_log.last_index() > last_kept) _log.truncate_after(last_kept);
    drop_configs_after(last_kept);
    _durable = std::min(_durable, last_kept);
    _matched = std::min(_matched, last_kept);
    std::erase_if(_ready.entries, [&](const raft_entry& e) { return e.index > last_kept; });
    if (_role == raft_role::leader) become_follower(_vote.term, std::nullopt);
}

void raft_machine::step(raft_message m) {
    // Messages from any node are taken, members or not: a replica may not know yet that the
    // sender joined (or that it joined itself). Votes count only from voters of the membership
    // in force, and a leader tracks only members.
    if (m.to != _cfg.self || m.from == _cfg.self) return;
    term_id t = m.term();
    if (auto* vr = std::get_if<vote_request>(&m.body)) {
        step_vote_request(m.from, *vr);
        return;
    }
    if (t > _vote.term) {
        auto* reply = std::get_if<vote_reply>(&m.body);
        if (reply && reply->pre_vote && reply->granted) {
            // A granted pre-vote carries the term asked for; no term moves.
        } else if (std::holds_alternative<append_request>(m.body) ||
                   std::holds_alternative<install_snapshot>(m.body)) {
            become_follower(t, m.from);
        } else {
            become_follower(t, std::nullopt);
        }
    } else if (t < _vote.term) {
        // A deposed leader learns of the newer term from the rejection and steps down.
        if (std::holds_alternative<append_request>(m.body) ||
            std::holds_alternative<install_snapshot>(m.body)) {
            send(m.from, append_reply{_vote.term, false, raft_index(0), _log.last_index()});
        }
        return;
    }
    if (auto* ar = std::get_if<append_request>(&m.body)) {
        handle_append_request(m.from, *ar);
    } else if (auto* snap = std::get_if<install_snapshot>(&m.body)) {
        handle_install_snapshot(m.from, *snap);
    } else if (auto* rep = std::get_if<append_reply>(&m.body)) {
        handle_append_reply(m.from, *rep);
    } else if (auto* vrep = std::get_if<vote_reply>(&m.body)) {
        handle_vote_reply(m.from, *vrep);
    } else if (std::holds_alternative<timeout_now>(m.body)) {
        if (_role == raft_role::follower && _leader == m.from && _now >= _candidacy_held_until &&
            !_repairing && self_votes()) {
            become_candidate(true);
        }
    }
}

void raft_machine::step_vote_request(node_id from, const vote_request& r) {
    // Terms are handled in handle_vote_request: pre-votes and leased replicas do not move terms.
    if (r.term < _vote.term) {
        send(from, vote_reply{_vote.term, false, r.pre_vote});
        return;
    }
    if (!_repairing || _cfg.bug == planted_bug::repair_votes) {
        handle_vote_request(from, r);
        return;
    }
    if (config().voters.size() == 2 && self_votes() && config().is_voter(from)) {
        // The only candidate is the other voter, which holds every committed entry (each is on
        // both disks): its log counts as up to date, so the group of two can elect it and repair.
        // Only within the pair: a replica outside it (a stale membership, from an entry since
        // overwritten, may still name it a voter) need not hold them, and where this replica is
        // not one of the two, the entries it lost may be on it and on one voter only, while an
        // older membership elsewhere still counts its vote.
        vote_request as_current = r;
        as_current.last_index = raft_index::max();
        as_current.last_term = term_id::max();
        handle_vote_request(from, as_current);
        return;
    }
    // Repairing: the log may lack entries this replica acknowledged, so its vote could elect a
    // leader without a committed entry. The request is refused; a real one moves the term as
    // handle_vote_request would (not within a leader's lease, thesis 4.2.3; a pre-vote never).
    if (!r.pre_vote && r.term > _vote.term) {
        if (in_lease() && !r.leadership_transfer) return;
        become_follower(r.term, std::nullopt);
    }
    send(from, vote_reply{_vote.term, false, r.pre_vote});
}

std::string raft_machine::describe() const {
    std::string s = fmt::format("{}{} term {} log {}..{} durable {} commit {} {} at {}{}",
                                to_string(_role), _repairing ? " (repairing)" : "",
                                _vote.term.value(), _log.first_index().value(),
                                _log.last_index().value(), _durable.value(), _commit.value(),
                                config().to_string(), _configs.back().index.value(),
                                config_committed() ? "" : " (uncommitted)");
    for (const auto& p : _peers) {
        s += fmt::format("; peer {}: next {} match {} {}{} inflight {} ({} B)", p.id.value(),
                         p.next.value(), p.match.value(), p.replicating ? "replicate" : "probe",
                         p.plan_out ? " plan-out" : "", p.inflights.size(), p.inflight_bytes);
        if (p.needs_snapshot) s += " needs-snapshot";
    }
    return s;
}

raft_ready raft_machine::take_ready() {
    if (_pending_broadcast) {
        _pending_broadcast = false;
        if (_role == raft_role::leader) broadcast(false);
    }
    raft_ready r = std::move(_ready);
    _ready = raft_ready{};
    return r;
}

}  // namespace wharf
