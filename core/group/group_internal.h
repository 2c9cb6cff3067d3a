#pragma once

// The private parts of core/group/group.h that its three source files share: one member's
// state, and the queue that delivers JoinGroup/SyncGroup answers once a public call returns.

#include <functional>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "core/group/group.h"

namespace wharf::groups {

// Kafka's MemberMetadata.
struct group::member {
    std::string id;
    std::optional<std::string> instance_id;
    std::string client_id;
    std::string client_host;
    int32_t rebalance_timeout_ms = 0;
    int32_t session_timeout_ms = 0;
    std::string protocol_type;
    std::vector<member_protocol> protocols;  // in the member's order of preference
    bytes assignment;
    join_callback awaiting_join;  // set while a JoinGroup waits for the join phase
    sync_callback awaiting_sync;  // set while a SyncGroup waits for the leader's assignment
    // A member added in this join phase: it has no session yet, only the join timeout, and it
    // is dropped if that passes before the phase completes.
    bool is_new = false;
    // When the session ends unless renewed; none while the member waits for the group (Kafka's
    // expiry finds such members satisfied and schedules nothing until they are answered).
    std::optional<timestamp_ms> heartbeat_deadline;
    uint64_t join_order = 0;  // the order members were added: the leader is the first

    bool is_static() const noexcept { return instance_id.has_value(); }
    // The metadata this member sent for `protocol`; nullptr when it does not support it.
    const bytes* metadata(std::string_view protocol) const {
        for (const auto& p : protocols) {
            if (p.name == protocol) return &p.metadata;
        }
        return nullptr;
    }
    // Kafka's MemberMetadata.matches: the same protocols, in the same order, same metadata.
    bool matches(const std::vector<member_protocol>& other) const { return protocols == other; }
};

// Answers queued while the group changes, delivered when the outermost public call returns
// (a callback may call into the group again; its own answers are delivered after it returns).
// REQUIRES: a callback does not destroy the group.
class group::answer_queue {
public:
    void push(std::function<void()> fn) { _queue.push_back(std::move(fn)); }
    void enter() noexcept { ++_depth; }
    void leave() {
        if (--_depth > 0) return;
        ++_depth;  // answers delivered now are not nested inside another flush
        while (!_queue.empty()) {
            auto batch = std::move(_queue);
            _queue.clear();
            for (auto& fn : batch) fn();
        }
        --_depth;
    }

private:
    std::vector<std::function<void()>> _queue;
    int _depth = 0;
};

// Opened by every public call that may answer: delivers the queued answers when the outermost
// one returns.
struct group::answer_scope {
    explicit answer_scope(group& g) : queue(*g._answers) { queue.enter(); }
    ~answer_scope() { queue.leave(); }
    answer_scope(const answer_scope&) = delete;
    answer_scope& operator=(const answer_scope&) = delete;
    answer_queue& queue;
};

}  // namespace wharf::groups
