#pragma once

// One classic consumer group: Kafka's GroupMetadata together with the per-group logic of its
// GroupCoordinator (JoinGroup, SyncGroup, Heartbeat, LeaveGroup, offset commit validation,
// OffsetDelete, DeleteGroups, offset retention), as pure logic: no sockets, no io_uring, no
// timers. Every call takes `now`; tick(now) runs what Kafka's purgatories would have run by
// then, and next_deadline() says when tick must run next (the integrator arms one timer from it).
// Kafka's own coordinator measures these deadlines with the wall clock in milliseconds; the
// integrator passes a clock that never goes backwards.
//
// Lives on the shard that leads the group's __consumer_offsets partition; created by the
// group_registry (at load or on the first JoinGroup/OffsetCommit), destroyed when the group is
// deleted or the partition is unloaded (unload() answers every waiting request first).
//
// Answers. JoinGroup and SyncGroup may be answered later (when the join phase completes, when
// the leader's assignment is stored): their answers go through callbacks. Every callback is
// called exactly once, never from inside another callback's call stack into the group: answers
// are queued while the group changes and delivered when the public call that produced them
// returns, so a callback may call back into the group.
//
// Persistence. Where Kafka writes the group's metadata (after the leader's SyncGroup, when a
// join phase ends with no members, when a static member is replaced in a Stable group) the
// group raises needs_store(); the integrator writes metadata_value() to __consumer_offsets and
// calls store_done(). The leader's assignment is handed to the members only after store_done().

#include <map>
#include <memory>
#include <optional>
#include <set>
#include <string>
#include <string_view>
#include <vector>

#include "core/group/group_types.h"
#include "core/group/offsets_format.h"

namespace wharf::groups {

class group {
public:
    group(std::string group_id, group_config config, timestamp_ms now);
    group(const group&) = delete;
    group& operator=(const group&) = delete;
    ~group();

    const std::string& id() const noexcept { return _id; }
    group_state state() const noexcept { return _state; }
    int32_t generation() const noexcept { return _generation; }
    const std::optional<std::string>& protocol_type() const noexcept { return _protocol_type; }
    const std::optional<std::string>& protocol_name() const noexcept { return _protocol_name; }
    const std::optional<std::string>& leader_id() const noexcept { return _leader_id; }
    size_t member_count() const noexcept { return _members.size(); }
    size_t pending_member_count() const noexcept { return _pending_members.size(); }
    bool has_member(std::string_view member_id) const;
    // The member id a static member (group.instance.id) currently holds.
    std::optional<std::string> static_member_id(std::string_view instance_id) const;
    // When the group entered its state (none for a group loaded from a version 0/1 record).
    std::optional<timestamp_ms> current_state_timestamp() const noexcept {
        return _state_timestamp;
    }

    // --- membership (GroupCoordinator.handleJoinGroup and friends) ---

    void join(join_request req, timestamp_ms now, join_callback cb);
    void sync(sync_request req, timestamp_ms now, sync_callback cb);
    error_code heartbeat(std::string_view member_id, const std::optional<std::string>& instance_id,
                         int32_t generation, timestamp_ms now);
    leave_result leave(const std::vector<leave_member>& members, timestamp_ms now);
    // Runs every deadline that has passed: session and pending-member expiry, the end of the
    // join phase, members that never sent SyncGroup.
    void tick(timestamp_ms now);
    // The earliest deadline; nullopt when nothing is scheduled.
    std::optional<timestamp_ms> next_deadline() const;
    // The partition moved away: waiting requests get NOT_COORDINATOR; the group is Dead.
    void unload(timestamp_ms now);

    // --- persistence ---

    bool needs_store() const noexcept { return _needs_store; }
    // The GroupMetadataValue to write now (with the leader's assignment while it is being
    // stored).
    group_metadata_value metadata_value() const;
    // The write of metadata_value() for `generation` finished. An error other than none (the
    // write failed) answers the waiting SyncGroups with it and starts a new rebalance.
    void store_done(int32_t generation, error_code error, timestamp_ms now);
    // Rebuilds the membership from a stored GroupMetadataValue (at load): Stable with its
    // members, or Empty without; every member's session starts at `now`.
    void load(const group_metadata_value& v, timestamp_ms now);
    // After loading, Kafka rebalances a group over the (possibly lowered) size limit.
    void loaded(timestamp_ms now);

    // --- describe / list ---

    group_description describe() const;
    group_listing listing() const;

    // --- offsets ---

    // OffsetCommit's membership rules. On success, a member's session is renewed.
    error_code validate_commit(std::string_view member_id,
                               const std::optional<std::string>& instance_id, int32_t generation,
                               timestamp_ms now);
    // Records a commit that is durable in __consumer_offsets (or replayed at load).
    void commit_offset(const topic_partition& tp, committed_offset value);
    bool remove_offset(const topic_partition& tp);
    const committed_offset* offset(const topic_partition& tp) const;
    const std::map<topic_partition, committed_offset>& offsets() const noexcept { return _offsets; }
    // OffsetDelete: removes the offsets that may go (all when Empty; those of topics the group
    // does not subscribe to when it is a "consumer" group) and answers per partition.
    offset_delete_result delete_offsets(const std::vector<topic_partition>& partitions);
    // Offset retention (KIP-211): the offsets removed (the caller writes their tombstones).
    std::vector<topic_partition> expire_offsets(timestamp_ms now, int64_t retention_ms);
    // DeleteGroups: NON_EMPTY_GROUP unless Empty; otherwise the group is Dead and its offsets
    // are gone (the caller writes the tombstones first, from offsets()).
    error_code prepare_delete(timestamp_ms now);
    // The topics the members subscribe to, for "consumer" groups whose metadata parses.
    const std::optional<std::set<std::string>>& subscribed_topics() const noexcept {
        return _subscribed_topics;
    }

private:
    struct member;
    class answer_queue;
    struct answer_scope;

    // join
    void join_new_member(join_request& req, timestamp_ms now, join_callback& cb);
    void join_current_member(join_request& req, timestamp_ms now, join_callback& cb);
    void join_static_new_member(join_request& req, std::string new_id, timestamp_ms now,
                                join_callback& cb);
    void add_member_and_rebalance(join_request& req, std::string member_id, timestamp_ms now,
                                  join_callback cb);
    void update_member_and_rebalance(member& m, join_request& req, timestamp_ms now,
                                     join_callback cb);
    void replace_static_member(join_request& req, const std::string& old_id, std::string new_id,
                               timestamp_ms now, join_callback& cb);
    member& rekey_static_member(const std::string& instance_id, const std::string& old_id,
                                const std::string& new_id);
    bool accept_joining_member(std::string_view member_id) const;
    bool supports_protocols(std::string_view type,
                            const std::vector<member_protocol>& protocols) const;
    join_result current_generation_result(const member& m, bool with_members) const;

    // rebalance
    void maybe_prepare_rebalance(timestamp_ms now);
    void prepare_rebalance(timestamp_ms now);
    void try_complete_join(timestamp_ms now);
    void on_join_deadline(timestamp_ms now);
    void complete_join(timestamp_ms now);
    bool maybe_elect_new_joined_leader();
    void init_next_generation(timestamp_ms now);
    std::string select_protocol() const;
    std::optional<std::set<std::string>> compute_subscribed_topics() const;
    void propagate_assignment(error_code error, timestamp_ms now);
    void reset_and_propagate_assignment_error(error_code error, timestamp_ms now);
    int32_t rebalance_timeout_ms() const;
    bool all_members_joined() const;

    // members
    error_code validate_current_member(std::string_view member_id,
                                       const std::optional<std::string>& instance_id) const;
    member* find(std::string_view member_id);
    const member* find(std::string_view member_id) const;
    void add(std::unique_ptr<member> m, join_callback cb);
    void remove(std::string_view member_id);
    void remove_member_and_update_group(std::string_view member_id, timestamp_ms now);
    void remove_pending_member_and_update_group(std::string_view member_id, timestamp_ms now);
    void set_awaiting_join(member& m, join_callback cb);
    void answer_join(member& m, join_result r);
    void answer_sync(member& m, sync_result r);
    void renew_session(member& m, timestamp_ms now, int64_t timeout_ms);
    void renew_session(member& m, timestamp_ms now);
    void expire_sessions(timestamp_ms now);
    void expire_pending_sync(timestamp_ms now);
    void inc_protocols(const member& m);
    void dec_protocols(const member& m);
    void transition_to(group_state s, timestamp_ms now);
    std::vector<member*> members_in_join_order();
    std::vector<const member*> members_in_join_order() const;
    std::string generate_member_id(std::string_view prefix) const;

    std::string _id;
    group_config _config;
    group_state _state = group_state::empty;
    std::optional<timestamp_ms> _state_timestamp;
    int32_t _generation = 0;
    std::optional<std::string> _protocol_type;
    std::optional<std::string> _protocol_name;
    std::optional<std::string> _leader_id;
    std::map<std::string, std::unique_ptr<member>, std::less<>> _members;
    uint64_t _next_join_order = 0;
    // Members that were told MEMBER_ID_REQUIRED and must rejoin with their id: id -> deadline.
    std::map<std::string, timestamp_ms, std::less<>> _pending_members;
    std::map<std::string, std::string, std::less<>> _static_members;   // instance -> member id
    std::map<std::string, int32_t, std::less<>> _supported_protocols;  // name -> member count
    int32_t _awaiting_join = 0;

    // The join phase (Kafka's DelayedJoin / InitialDelayedJoin).
    std::optional<timestamp_ms> _join_deadline;
    bool _initial_delay = false;  // InitialDelayedJoin: never completes before its deadline
    bool _new_member_added = false;
    int32_t _initial_delay_ms = 0;
    int32_t _initial_remaining_ms = 0;

    // Members that got their JoinGroup answer but did not send SyncGroup yet.
    std::set<std::string, std::less<>> _pending_sync;
    std::optional<timestamp_ms> _sync_deadline;

    // The leader's assignment, kept until store_done().
    std::optional<std::map<std::string, bytes, std::less<>>> _pending_assignment;
    bool _needs_store = false;

    std::optional<std::set<std::string>> _subscribed_topics;
    std::map<topic_partition, committed_offset> _offsets;

    std::unique_ptr<answer_queue> _answers;
};

}  // namespace wharf::groups
