// raft_machine: membership changes one voter at a time, and learners (thesis chapter 4;
// raft/membership.h has the rules and why they are safe).

#include <algorithm>

#include "raft/errc.h"
#include "raft/machine.h"

namespace wharf {

result<raft_index> raft_machine::propose_config(raft_config next) {
    if (_role != raft_role::leader) return raft_errc::not_leader;
    if (auto valid = normalize_config(next); !valid) return valid.error();
    if (next == config()) return _configs.back().index;
    // One change at a time, and only once this leader's term has committed an entry: a change
    // proposed by an earlier leader and left uncommitted could otherwise count alongside this
    // one (the single-server bug, raft-dev 2015).
    if (!config_committed() || _commit < _term_start) {
        return raft_errc::configuration_change_pending;
    }
    if (!is_single_voter_change(config(), next) && _cfg.bug != planted_bug::config_two_voters) {
        return raft_errc::invalid_configuration;
    }
    raft_index i = _log.last_index() + 1;
    append_local(raft_entry{i, _vote.term, entry_type::raft_configuration, partition_id(0),
                            encode_config(next)});
    // A member this entry added got its progress after the append, planned from past the log's
    // end: it would get heartbeats only, which match at index 0 and never bring it the log. It
    // is probed from the entry instead (the others are at i or before already).
    for (auto& p : _peers) p.next = std::min(p.next, i);
    // A leader removing a voter may now count a quorum it could not before.
    maybe_commit();
    _pending_broadcast = true;
    return i;
}

std::optional<int64_t> raft_machine::ticks_since_heard(node_id n) const noexcept {
    if (_role != raft_role::leader) return std::nullopt;
    for (const auto& p : _peers) {
        if (p.id == n) return _now - p.last_heard_tick;
    }
    return std::nullopt;
}

std::optional<raft_index> raft_machine::match_of(node_id n) const noexcept {
    if (_role != raft_role::leader) return std::nullopt;
    if (n == _cfg.self) {
        if (!config().contains(n)) return std::nullopt;
        return _durable;
    }
    for (const auto& p : _peers) {
        if (p.id == n) return p.match;
    }
    return std::nullopt;
}

void raft_machine::note_config_entry(const raft_entry& e) {
    // The history only grows past its last entry: after a snapshot its first entry (committed)
    // may be later than entries the leader still sends, whose memberships are older.
    if (e.index <= _configs.back().index) return;
    auto members = decode_config(e.payload);
    // The codec refuses invalid configurations from peers, and this replica's own are valid:
    // an entry that still fails is kept out of the history rather than trusted.
    if (!members) return;
    _configs.push_back(config_entry{e.index, e.term, std::move(*members)});
    config_changed(true);
}

void raft_machine::drop_configs_after(raft_index last_kept) {
    bool dropped = false;
    while (_configs.size() > 1 && _configs.back().index > last_kept) {
        _configs.pop_back();
        dropped = true;
    }
    if (dropped) config_changed(true);
}

void raft_machine::set_commit(raft_index c) {
    if (c <= _commit) return;
    _commit = c;
    // Memberships older than the latest committed one are of no further use.
    bool pruned = false;
    while (_configs.size() > 1 && _configs[1].index <= _commit) {
        _configs.erase(_configs.begin());
        pruned = true;
    }
    if (pruned) config_changed(false);
    maybe_leave_leadership();
}

void raft_machine::config_changed(bool in_force) {
    _ready.configs = _configs;
    if (in_force && _role == raft_role::leader) sync_peers();
}

void raft_machine::sync_peers() {
    std::vector<node_id> members = config().others(_cfg.self);
    std::erase_if(_peers, [&](const progress& p) {
        return std::find(members.begin(), members.end(), p.id) == members.end();
    });
    for (node_id n : members) {
        if (find_progress(n)) continue;
        progress p;
        p.id = n;
        p.next = _log.last_index() + 1;
        p.last_heard_tick = _now;
        _peers.push_back(std::move(p));
    }
    if (_transfer_to && !config().is_voter(*_transfer_to)) _transfer_to.reset();
}

void raft_machine::maybe_leave_leadership() {
    // Thesis 4.2.2: a leader removed from the group leads until the change commits (it counts
    // no quorum of its own meanwhile), then steps down. A voter holding its whole log is told to
    // campaign at once, so the group does not wait an election timeout.
    if (_role != raft_role::leader || self_votes() || !config_committed()) return;
    const progress* best = nullptr;
    for (const auto& p : _peers) {
        if (!config().is_voter(p.id)) continue;
        if (!best || p.match > best->match) best = &p;
    }
    if (best && best->match == _log.last_index()) send(best->id, timeout_now{_vote.term});
    become_follower(_vote.term, std::nullopt);
}

}  // namespace wharf
