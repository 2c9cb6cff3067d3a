// SyncGroup, Heartbeat, LeaveGroup, the deadlines of tick(), unloading, and the group's
// metadata record (Kafka's doSyncGroup, handleHeartbeat, handleLeaveGroup, onExpireHeartbeat,
// onExpirePendingSync, onGroupUnloaded, storeGroup, loadGroup).

#include <algorithm>

#include "core/group/group.h"
#include "core/group/group_internal.h"
#include "reactor/base/assert.h"

namespace wharf::groups {

namespace {

join_result join_error_for_unload(const std::string& member_id) {
    join_result r;
    r.error = error_code::not_coordinator;
    r.member_id = member_id;
    return r;
}

}  // namespace

void group::sync(sync_request req, timestamp_ms now, sync_callback cb) {
    answer_scope scope(*this);
    auto reply = [&](sync_result r) {
        _answers->push([cb = std::move(cb), r = std::move(r)]() mutable { cb(std::move(r)); });
    };
    if (_state == group_state::dead) {
        reply({.error = error_code::coordinator_not_available});
        return;
    }
    if (auto err = validate_current_member(req.member_id, req.instance_id);
        err != error_code::none) {
        reply({.error = err});
        return;
    }
    if (req.generation != _generation) {
        reply({.error = error_code::illegal_generation});
        return;
    }
    if ((req.protocol_type && _protocol_type != req.protocol_type) ||
        (req.protocol_name && _protocol_name != req.protocol_name)) {
        reply({.error = error_code::inconsistent_group_protocol});
        return;
    }
    member& m = *find(req.member_id);
    switch (_state) {
        case group_state::empty:
        case group_state::dead:
            reply({.error = error_code::unknown_member_id});
            return;
        case group_state::preparing_rebalance:
            reply({.error = error_code::rebalance_in_progress});
            return;
        case group_state::stable:
            _pending_sync.erase(m.id);
            if (_pending_sync.empty()) _sync_deadline.reset();
            reply({.protocol_type = _protocol_type,
                   .protocol_name = _protocol_name,
                   .assignment = m.assignment});
            renew_session(m, now);
            return;
        case group_state::completing_rebalance:
            break;
    }
    // CompletingRebalance: wait for the leader's assignment.
    answer_sync(m, {.error = error_code::rebalance_in_progress});  // a retried SyncGroup
    m.awaiting_sync = std::move(cb);
    _pending_sync.erase(m.id);
    if (_pending_sync.empty()) _sync_deadline.reset();
    if (_leader_id != m.id) return;
    // The leader's assignment: members it left out get empty bytes, ids that are not members
    // are ignored. It reaches the members once it is stored (store_done).
    std::map<std::string, bytes, std::less<>> assignment;
    for (const auto& [id, _] : _members) assignment[id] = {};
    for (auto& [id, a] : req.assignments) {
        auto it = assignment.find(id);
        if (it != assignment.end()) it->second = std::move(a);
    }
    _pending_assignment = std::move(assignment);
    _needs_store = true;
}

void group::store_done(int32_t generation, error_code error, timestamp_ms now) {
    answer_scope scope(*this);
    _needs_store = false;
    if (!_pending_assignment) return;
    auto assignment = std::move(*_pending_assignment);
    _pending_assignment.reset();
    // Another member may have joined while the assignment was being written: then the group
    // moved on and this assignment is obsolete.
    if (_state != group_state::completing_rebalance || generation != _generation) return;
    if (error != error_code::none) {
        reset_and_propagate_assignment_error(error, now);
        maybe_prepare_rebalance(now);
        return;
    }
    for (auto& [id, m] : _members) {
        auto it = assignment.find(id);
        m->assignment = it == assignment.end() ? bytes{} : std::move(it->second);
    }
    propagate_assignment(error_code::none, now);
    transition_to(group_state::stable, now);
}

error_code group::heartbeat(std::string_view member_id,
                            const std::optional<std::string>& instance_id, int32_t generation,
                            timestamp_ms now) {
    answer_scope scope(*this);
    if (_state == group_state::dead) return error_code::coordinator_not_available;
    if (auto err = validate_current_member(member_id, instance_id); err != error_code::none) {
        return err;
    }
    if (generation != _generation) return error_code::illegal_generation;
    member& m = *find(member_id);
    switch (_state) {
        case group_state::empty:
        case group_state::dead:
            return error_code::unknown_member_id;
        case group_state::completing_rebalance:
        case group_state::stable:
            renew_session(m, now);
            return error_code::none;
        case group_state::preparing_rebalance:
            renew_session(m, now);
            return error_code::rebalance_in_progress;
    }
    return error_code::none;
}

leave_result group::leave(const std::vector<leave_member>& members, timestamp_ms now) {
    answer_scope scope(*this);
    leave_result out;
    if (_state == group_state::dead) {
        out.error = error_code::coordinator_not_available;
        return out;
    }
    for (const auto& lm : members) {
        error_code err = error_code::none;
        if (lm.member_id.empty()) {
            // An administrator removes a static member by its instance id.
            auto id = lm.instance_id ? static_member_id(*lm.instance_id) : std::nullopt;
            if (id) {
                remove_member_and_update_group(*id, now);
            } else {
                err = error_code::unknown_member_id;
            }
        } else if (_pending_members.contains(lm.member_id)) {
            remove_pending_member_and_update_group(lm.member_id, now);
        } else {
            err = validate_current_member(lm.member_id, lm.instance_id);
            if (err == error_code::none) remove_member_and_update_group(lm.member_id, now);
        }
        out.member_errors.push_back(err);
    }
    return out;
}

std::optional<timestamp_ms> group::next_deadline() const {
    if (_state == group_state::dead) return std::nullopt;
    std::optional<timestamp_ms> best;
    auto consider = [&](const std::optional<timestamp_ms>& t) {
        if (t && (!best || *t < *best)) best = t;
    };
    for (const auto& [_, m] : _members) consider(m->heartbeat_deadline);
    for (const auto& [_, t] : _pending_members) consider(t);
    consider(_join_deadline);
    consider(_sync_deadline);
    return best;
}

// Runs the deadlines that have passed in the order they fell due, each at its own time, as
// Kafka's timers would have. Bounded: what is left is due at once (next_deadline() <= now).
void group::tick(timestamp_ms now) {
    answer_scope scope(*this);
    constexpr int max_steps = 10000;
    for (int step = 0; step < max_steps; ++step) {
        auto due = next_deadline();
        if (!due || *due > now) return;
        timestamp_ms at = *due;
        if (_join_deadline == at) {
            on_join_deadline(at);
        } else if (_sync_deadline == at) {
            expire_pending_sync(at);
        } else {
            expire_sessions(at);
        }
    }
}

// Kafka's onExpireHeartbeat for everything due at `at`: pending members that never rejoined
// go; members waiting for the group are satisfied; other members whose session ended leave.
void group::expire_sessions(timestamp_ms at) {
    std::vector<std::string> pending;
    for (const auto& [id, t] : _pending_members) {
        if (t <= at) pending.push_back(id);
    }
    for (const auto& id : pending) remove_pending_member_and_update_group(id, at);

    std::vector<std::string> expired;
    for (auto& [id, m] : _members) {
        if (!m->heartbeat_deadline || *m->heartbeat_deadline > at) continue;
        if (!m->is_new && (m->awaiting_join || m->awaiting_sync)) {
            m->heartbeat_deadline.reset();
        } else {
            expired.push_back(id);
        }
    }
    for (const auto& id : expired) {
        if (find(id) != nullptr) remove_member_and_update_group(id, at);
    }
}

// Kafka's onExpirePendingSync: members that got their JoinGroup answer but never sent
// SyncGroup within the rebalance timeout are removed, and the group rebalances without them.
void group::expire_pending_sync(timestamp_ms at) {
    _sync_deadline.reset();
    if (_state != group_state::completing_rebalance && _state != group_state::stable) return;
    if (_pending_sync.empty()) return;
    auto ids = std::vector<std::string>(_pending_sync.begin(), _pending_sync.end());
    for (const auto& id : ids) remove(id);
    prepare_rebalance(at);
}

void group::unload(timestamp_ms now) {
    answer_scope scope(*this);
    group_state previous = _state;
    if (previous == group_state::dead) return;
    transition_to(group_state::dead, now);
    for (auto& [_, m] : _members) {
        answer_join(*m, join_error_for_unload(m->id));
        answer_sync(*m, sync_result{.error = error_code::not_coordinator});
        m->heartbeat_deadline.reset();
    }
    _pending_members.clear();
    _join_deadline.reset();
    _sync_deadline.reset();
    _pending_assignment.reset();
    _needs_store = false;
}

group_metadata_value group::metadata_value() const {
    group_metadata_value v;
    v.protocol_type = _protocol_type.value_or("");
    v.generation = _generation;
    v.protocol = _protocol_name;
    v.leader = _leader_id;
    v.current_state_timestamp_ms = _state_timestamp ? _state_timestamp->value() : -1;
    for (const member* m : members_in_join_order()) {
        group_member_value mv;
        mv.member_id = m->id;
        mv.group_instance_id = m->instance_id;
        mv.client_id = m->client_id;
        mv.client_host = m->client_host;
        mv.rebalance_timeout_ms = m->rebalance_timeout_ms;
        mv.session_timeout_ms = m->session_timeout_ms;
        const bytes* md = _protocol_name ? m->metadata(*_protocol_name) : nullptr;
        if (md != nullptr) mv.subscription = *md;
        mv.assignment = m->assignment;
        if (_pending_assignment) {
            auto it = _pending_assignment->find(m->id);
            if (it != _pending_assignment->end()) mv.assignment = it->second;
        }
        v.members.push_back(std::move(mv));
    }
    return v;
}

// Kafka's GroupMetadata.loadGroup + onGroupLoaded.
void group::load(const group_metadata_value& v, timestamp_ms now) {
    answer_scope scope(*this);
    for (auto& [_, m] : _members) {
        answer_join(*m, join_error_for_unload(m->id));
        answer_sync(*m, sync_result{.error = error_code::not_coordinator});
    }
    _members.clear();
    _static_members.clear();
    _supported_protocols.clear();
    _pending_members.clear();
    _pending_sync.clear();
    _awaiting_join = 0;
    _join_deadline.reset();
    _sync_deadline.reset();
    _pending_assignment.reset();
    _leader_id.reset();

    _generation = v.generation;
    _protocol_name = v.protocol;
    for (const auto& mv : v.members) {
        auto m = std::make_unique<member>();
        m->id = mv.member_id;
        m->instance_id = mv.group_instance_id;
        m->client_id = mv.client_id;
        m->client_host = mv.client_host;
        m->rebalance_timeout_ms = mv.rebalance_timeout_ms;
        m->session_timeout_ms = mv.session_timeout_ms;
        m->protocol_type = v.protocol_type;
        m->protocols = {{v.protocol.value_or(""), mv.subscription}};
        m->assignment = mv.assignment;
        if (m->instance_id && _static_members.contains(*m->instance_id)) continue;
        if (_members.contains(m->id)) continue;  // a corrupt record: keep the first
        member& ref = *m;
        add(std::move(m), nullptr);
        renew_session(ref, now);
    }
    _protocol_type =
        v.protocol_type.empty() ? std::nullopt : std::optional<std::string>(v.protocol_type);
    _leader_id = v.leader;
    _state = _members.empty() ? group_state::empty : group_state::stable;
    _state_timestamp = v.current_state_timestamp_ms >= 0
                           ? std::optional<timestamp_ms>(timestamp_ms(v.current_state_timestamp_ms))
                           : std::nullopt;
    _subscribed_topics = compute_subscribed_topics();
    _needs_store = false;
}

void group::loaded(timestamp_ms now) {
    answer_scope scope(*this);
    if (_members.size() > size_t(_config.max_size) && _state == group_state::stable) {
        prepare_rebalance(now);
    }
}

}  // namespace wharf::groups
