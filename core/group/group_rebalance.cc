// The rebalance half of a classic group: the join phase and its deadlines, the choice of a
// protocol, SyncGroup, Heartbeat, LeaveGroup, session expiry, storage and load (Kafka's
// GroupCoordinator prepareRebalance, onCompleteJoin, doSyncGroup, handleHeartbeat,
// handleLeaveGroup, onExpireHeartbeat, onExpirePendingSync).

#include <algorithm>

#include "core/group/group.h"
#include "core/group/group_internal.h"
#include "reactor/base/assert.h"

namespace wharf::groups {

namespace {

bool valid_transition(group_state from, group_state to) {
    using enum group_state;
    switch (to) {
        case dead:
            return true;
        case completing_rebalance:
            return from == preparing_rebalance;
        case stable:
            return from == completing_rebalance;
        case preparing_rebalance:
            return from == stable || from == completing_rebalance || from == empty;
        case empty:
            return from == preparing_rebalance;
    }
    return false;
}

}  // namespace

void group::transition_to(group_state s, timestamp_ms now) {
    WHARF_ASSERT(valid_transition(_state, s), "group {}: {} -> {}", _id, state_name(_state),
                 state_name(s));
    _state = s;
    _state_timestamp = now;
}

int32_t group::rebalance_timeout_ms() const {
    int32_t t = 0;
    for (const auto& [_, m] : _members) t = std::max(t, m->rebalance_timeout_ms);
    return t;
}

bool group::all_members_joined() const {
    return size_t(_awaiting_join) == _members.size() && _pending_members.empty();
}

void group::maybe_prepare_rebalance(timestamp_ms now) {
    if (_state == group_state::stable || _state == group_state::completing_rebalance ||
        _state == group_state::empty) {
        prepare_rebalance(now);
    }
}

// Kafka's prepareRebalance. An Empty group waits group.initial.rebalance.delay.ms (extended
// while members keep arriving, up to the rebalance timeout) so that a group starting up settles
// in one generation; otherwise the join phase ends when every member has rejoined or the
// rebalance timeout passes.
void group::prepare_rebalance(timestamp_ms now) {
    if (_state == group_state::completing_rebalance) {
        reset_and_propagate_assignment_error(error_code::rebalance_in_progress, now);
    }
    _sync_deadline.reset();
    _pending_assignment.reset();
    _new_member_added = false;
    if (_state == group_state::empty) {
        _initial_delay = true;
        _initial_delay_ms = _config.initial_rebalance_delay_ms;
        _initial_remaining_ms =
            std::max(rebalance_timeout_ms() - _config.initial_rebalance_delay_ms, 0);
        _join_deadline = now + int64_t(_initial_delay_ms);
    } else {
        _initial_delay = false;
        _join_deadline = now + int64_t(rebalance_timeout_ms());
    }
    transition_to(group_state::preparing_rebalance, now);
    try_complete_join(now);
}

// Kafka's DelayedJoin.tryComplete (InitialDelayedJoin never completes early), plus the expiry
// of a deadline that has already passed.
void group::try_complete_join(timestamp_ms now) {
    if (_state != group_state::preparing_rebalance || !_join_deadline) return;
    if (!_initial_delay && all_members_joined()) {
        complete_join(now);
    } else if (*_join_deadline <= now) {
        on_join_deadline(now);
    }
}

// The join phase's deadline passed (InitialDelayedJoin.onComplete / DelayedJoin.onExpiration).
void group::on_join_deadline(timestamp_ms now) {
    if (_initial_delay && _new_member_added && _initial_remaining_ms != 0) {
        _new_member_added = false;
        int32_t delay = std::min(_config.initial_rebalance_delay_ms, _initial_remaining_ms);
        _initial_remaining_ms = std::max(_initial_remaining_ms - _initial_delay_ms, 0);
        _initial_delay_ms = delay;
        _join_deadline = now + int64_t(delay);
        return;
    }
    complete_join(now);
}

// Kafka's onCompleteJoin: drop dynamic members that did not rejoin, start the next generation
// and answer every waiting JoinGroup (the leader with the members' metadata).
void group::complete_join(timestamp_ms now) {
    _join_deadline.reset();
    _initial_delay = false;
    std::vector<std::string> gone;
    for (const auto& [id, m] : _members) {
        if (!m->awaiting_join && !m->is_static()) gone.push_back(id);
    }
    for (const auto& id : gone) remove(id);

    if (_state == group_state::dead) return;
    if (!maybe_elect_new_joined_leader() && !_members.empty()) {
        // Only static members that did not rejoin are left: wait another rebalance timeout
        // for them to come back or for their sessions to end.
        _join_deadline = now + int64_t(std::max(rebalance_timeout_ms(), 1));
        return;
    }
    init_next_generation(now);
    if (_state == group_state::empty) {
        _needs_store = true;
        return;
    }
    for (member* m : members_in_join_order()) {
        answer_join(*m, current_generation_result(*m, _leader_id == m->id));
        renew_session(*m, now);
        m->is_new = false;
        _pending_sync.insert(m->id);
    }
    _sync_deadline = now + int64_t(std::max(rebalance_timeout_ms(), 1));
}

// Kafka's maybeElectNewJoinedLeader: a leader that did not rejoin hands over to a member
// that did.
bool group::maybe_elect_new_joined_leader() {
    if (!_leader_id) return false;
    const member* leader = find(*_leader_id);
    if (leader != nullptr && leader->awaiting_join) return true;
    for (const member* m : members_in_join_order()) {
        if (m->awaiting_join) {
            _leader_id = m->id;
            return true;
        }
    }
    return false;
}

void group::init_next_generation(timestamp_ms now) {
    ++_generation;
    if (!_members.empty()) {
        _protocol_name = select_protocol();
        _subscribed_topics = compute_subscribed_topics();
        transition_to(group_state::completing_rebalance, now);
    } else {
        _protocol_name.reset();
        _subscribed_topics = compute_subscribed_topics();
        transition_to(group_state::empty, now);
    }
    _pending_sync.clear();
}

// Kafka's selectProtocol: among the protocols every member supports, each member votes for
// the first in its own order of preference; the most votes win. Kafka breaks ties in hash
// order; Wharf gives a tie to the protocol voted for first (in join order), deterministically.
std::string group::select_protocol() const {
    WHARF_ASSERT(!_members.empty(), "group {}: protocol vote without members", _id);
    std::vector<std::pair<std::string, int>> votes;  // in order of first vote
    for (const member* m : members_in_join_order()) {
        for (const auto& p : m->protocols) {
            auto it = _supported_protocols.find(p.name);
            if (it == _supported_protocols.end() || size_t(it->second) != _members.size()) {
                continue;
            }
            auto v = std::find_if(votes.begin(), votes.end(),
                                  [&](const auto& e) { return e.first == p.name; });
            if (v == votes.end()) {
                votes.emplace_back(p.name, 1);
            } else {
                ++v->second;
            }
            break;
        }
    }
    WHARF_ASSERT(!votes.empty(), "group {}: no protocol common to all members", _id);
    auto best = votes.begin();
    for (auto it = votes.begin(); it != votes.end(); ++it) {
        if (it->second > best->second) best = it;
    }
    return best->first;
}

void group::propagate_assignment(error_code error, timestamp_ms now) {
    for (member* m : members_in_join_order()) {
        if (!m->awaiting_sync) continue;
        sync_result r{.error = error, .assignment = m->assignment};
        if (error == error_code::none) {
            r.protocol_type = _protocol_type;
            r.protocol_name = _protocol_name;
        }
        answer_sync(*m, std::move(r));
        // The member's session was not counting while it waited: it starts again now.
        renew_session(*m, now);
    }
}

void group::reset_and_propagate_assignment_error(error_code error, timestamp_ms now) {
    WHARF_ASSERT(_state == group_state::completing_rebalance, "group {}: state {}", _id,
                 state_name(_state));
    for (auto& [_, m] : _members) m->assignment.clear();
    propagate_assignment(error, now);
}

// Kafka's removeMemberAndUpdateGroup.
void group::remove_member_and_update_group(std::string_view member_id, timestamp_ms now) {
    remove(member_id);
    switch (_state) {
        case group_state::stable:
        case group_state::completing_rebalance:
            maybe_prepare_rebalance(now);
            break;
        case group_state::preparing_rebalance:
            try_complete_join(now);
            break;
        case group_state::empty:
        case group_state::dead:
            break;
    }
}

void group::remove_pending_member_and_update_group(std::string_view member_id, timestamp_ms now) {
    _pending_members.erase(std::string(member_id));
    if (_state == group_state::preparing_rebalance) try_complete_join(now);
}

}  // namespace wharf::groups
