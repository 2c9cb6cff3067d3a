// A group's committed offsets and what Kafka's coordinator decides about them: OffsetCommit's
// membership rules, OffsetDelete, DeleteGroups, offset retention; and DescribeGroups/ListGroups.

#include <algorithm>

#include "core/group/consumer_protocol.h"
#include "core/group/group.h"
#include "core/group/group_internal.h"

namespace wharf::groups {

group_description group::describe() const {
    group_description d;
    d.group_id = _id;
    d.state = state_name(_state);
    d.protocol_type = _protocol_type.value_or("");
    bool stable = _state == group_state::stable && _protocol_name.has_value();
    if (stable) d.protocol = *_protocol_name;
    for (const member* m : members_in_join_order()) {
        member_description md;
        md.member_id = m->id;
        md.instance_id = m->instance_id;
        md.client_id = m->client_id;
        md.client_host = m->client_host;
        if (stable) {
            if (const bytes* b = m->metadata(*_protocol_name)) md.metadata = *b;
            md.assignment = m->assignment;
        }
        d.members.push_back(std::move(md));
    }
    return d;
}

group_listing group::listing() const {
    return {
        .group_id = _id, .protocol_type = _protocol_type.value_or(""), .state = state_name(_state)};
}

// Kafka's validateOffsetCommit + doCommitOffsets. A generation of -1 from a client that uses
// Kafka only to store offsets (or from an admin tool) may commit while the group is Empty;
// otherwise the committer must be a current member of the current generation.
error_code group::validate_commit(std::string_view member_id,
                                  const std::optional<std::string>& instance_id, int32_t generation,
                                  timestamp_ms now) {
    answer_scope scope(*this);
    if (_state == group_state::dead) return error_code::coordinator_not_available;
    if (generation < 0 && _state == group_state::empty) return error_code::none;
    if (generation >= 0 || !member_id.empty() || instance_id) {
        if (auto err = validate_current_member(member_id, instance_id); err != error_code::none) {
            return err;
        }
        if (generation != _generation) return error_code::illegal_generation;
    } else if (_state != group_state::empty) {
        return error_code::unknown_member_id;
    }
    switch (_state) {
        case group_state::empty:
            return error_code::none;
        case group_state::stable:
        case group_state::preparing_rebalance:
            // Allowed while rebalancing: the next heartbeat tells the member to rejoin.
            renew_session(*find(member_id), now);
            return error_code::none;
        case group_state::completing_rebalance:
            // The member has the new generation but not its assignment yet.
            return error_code::rebalance_in_progress;
        case group_state::dead:
            break;
    }
    return error_code::coordinator_not_available;
}

void group::commit_offset(const topic_partition& tp, committed_offset value) {
    _offsets[tp] = std::move(value);
}

bool group::remove_offset(const topic_partition& tp) {
    return _offsets.erase(tp) > 0;
}

const committed_offset* group::offset(const topic_partition& tp) const {
    auto it = _offsets.find(tp);
    return it == _offsets.end() ? nullptr : &it->second;
}

offset_delete_result group::delete_offsets(const std::vector<topic_partition>& partitions) {
    offset_delete_result out;
    switch (_state) {
        case group_state::dead:
            out.error = error_code::group_id_not_found;
            return out;
        case group_state::empty:
            break;
        case group_state::preparing_rebalance:
        case group_state::completing_rebalance:
        case group_state::stable:
            if (_protocol_type != consumer_protocol_type) {
                out.error = error_code::non_empty_group;
                return out;
            }
            break;
    }
    for (const auto& tp : partitions) {
        bool consumed = _state != group_state::empty && _subscribed_topics &&
                        _subscribed_topics->contains(tp.topic);
        if (consumed) {
            out.partitions.emplace_back(tp, error_code::group_subscribed_to_topic);
        } else {
            _offsets.erase(tp);
            out.partitions.emplace_back(tp, error_code::none);
        }
    }
    return out;
}

// Kafka's GroupMetadata.removeExpiredOffsets (KIP-211). An offset committed with an explicit
// expire timestamp (old OffsetCommit versions) expires then. Otherwise:
//  - a group with a protocol type that is Empty: retention counts from when it became Empty
//    (from the commit for groups loaded from records without that timestamp);
//  - a Stable "consumer" group: offsets of topics it no longer subscribes to, from the commit;
//  - a group without a protocol type (offsets only): from the commit;
//  - any other group keeps its offsets.
std::vector<topic_partition> group::expire_offsets(timestamp_ms now, int64_t retention_ms) {
    enum class base { state_change, commit, none } from = base::none;
    bool skip_subscribed = false;
    if (_protocol_type && _state == group_state::empty) {
        from = base::state_change;
    } else if (_protocol_type == consumer_protocol_type && _subscribed_topics &&
               _state == group_state::stable) {
        from = base::commit;
        skip_subscribed = true;
    } else if (!_protocol_type) {
        from = base::commit;
    }
    std::vector<topic_partition> expired;
    if (from == base::none) return expired;
    for (const auto& [tp, v] : _offsets) {
        if (skip_subscribed && _subscribed_topics->contains(tp.topic)) continue;
        bool gone;
        if (v.expire_timestamp) {
            gone = now >= *v.expire_timestamp;
        } else {
            timestamp_ms t = from == base::state_change && _state_timestamp ? *_state_timestamp
                                                                            : v.commit_timestamp;
            gone = now - t >= retention_ms;
        }
        if (gone) expired.push_back(tp);
    }
    for (const auto& tp : expired) _offsets.erase(tp);
    return expired;
}

error_code group::prepare_delete(timestamp_ms now) {
    answer_scope scope(*this);
    switch (_state) {
        case group_state::dead:
            return error_code::group_id_not_found;
        case group_state::empty:
            transition_to(group_state::dead, now);
            _offsets.clear();
            return error_code::none;
        default:
            return error_code::non_empty_group;
    }
}

// Kafka's computeSubscribedTopics: known only for "consumer" groups whose members' metadata
// all parse; an empty set for a consumer group without members.
std::optional<std::set<std::string>> group::compute_subscribed_topics() const {
    if (_protocol_type != consumer_protocol_type) return std::nullopt;
    if (_members.empty()) return std::set<std::string>{};
    if (!_protocol_name) return std::nullopt;
    std::set<std::string> topics;
    for (const auto& [_, m] : _members) {
        const bytes* md = m->metadata(*_protocol_name);
        if (md == nullptr) return std::nullopt;
        auto t = parse_subscription_topics(*md);
        if (!t) return std::nullopt;
        topics.insert(t->begin(), t->end());
    }
    return topics;
}

}  // namespace wharf::groups
