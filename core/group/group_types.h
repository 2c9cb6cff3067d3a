#pragma once

// The values that go in and out of a classic consumer group (core/group/group.h): the requests'
// fields the group needs, the answers it gives through callbacks, DescribeGroups/ListGroups
// data, and committed offsets. Plain values (bytes are std::vector), so that the group logic
// knows nothing of the codec; the handlers convert at the edge.

#include <compare>
#include <cstdint>
#include <functional>
#include <limits>
#include <optional>
#include <string>
#include <vector>

#include "net/kafka/error_code.h"
#include "reactor/base/ids.h"

namespace wharf::groups {

using bytes = std::vector<uint8_t>;
using kafka::error_code;

// Kafka's GroupState for classic groups, with its transitions:
//   Empty -> PreparingRebalance (a member joins)
//   PreparingRebalance -> CompletingRebalance (join phase done) | Empty (no member left)
//   CompletingRebalance -> Stable (leader's assignment stored) | PreparingRebalance
//   Stable -> PreparingRebalance (membership or metadata change)
//   any -> Dead (deleted, unloaded)
enum class group_state : uint8_t { empty, preparing_rebalance, completing_rebalance, stable, dead };

// The state as Kafka spells it in DescribeGroups and ListGroups ("PreparingRebalance", ...).
const char* state_name(group_state s) noexcept;

// The limits of the group coordinator (Kafka's broker configs of the same names).
struct group_config {
    int32_t min_session_timeout_ms = 6000;                   // group.min.session.timeout.ms
    int32_t max_session_timeout_ms = 1800000;                // group.max.session.timeout.ms
    int32_t initial_rebalance_delay_ms = 3000;               // group.initial.rebalance.delay.ms
    int32_t max_size = std::numeric_limits<int32_t>::max();  // group.max.size
    // How long a new member's JoinGroup may wait for the join phase to complete (Kafka's
    // NewMemberJoinTimeoutMs): the member is dropped if the rebalance takes longer.
    int32_t new_member_join_timeout_ms = 5 * 60 * 1000;
};

struct member_protocol {
    std::string name;
    bytes metadata;
    bool operator==(const member_protocol&) const = default;
};

// JoinGroup's fields. rebalance_timeout_ms: version 0 has none; the handler passes the session
// timeout there, as Kafka does.
struct join_request {
    std::string member_id;                   // "" for a member without an id yet
    std::optional<std::string> instance_id;  // group.instance.id (v5+): a static member
    std::string protocol_type;
    std::vector<member_protocol> protocols;  // in the member's order of preference
    int32_t session_timeout_ms = 0;
    int32_t rebalance_timeout_ms = 0;
    int16_t version = 0;
    std::string client_id;
    std::string client_host;
    std::string reason;
};

struct join_member {
    std::string member_id;
    std::optional<std::string> instance_id;
    bytes metadata;  // for the chosen protocol
    bool operator==(const join_member&) const = default;
};

struct join_result {
    error_code error = error_code::none;
    std::string member_id;
    int32_t generation = -1;
    std::optional<std::string> protocol_type;
    std::optional<std::string> protocol_name;
    std::string leader_id;
    bool skip_assignment = false;      // v9+: a static leader that must not run the assignor
    std::vector<join_member> members;  // the leader's answer only
};
using join_callback = std::function<void(join_result)>;

struct sync_request {
    std::string member_id;
    std::optional<std::string> instance_id;
    int32_t generation = -1;
    std::optional<std::string> protocol_type;                // v5+
    std::optional<std::string> protocol_name;                // v5+
    std::vector<std::pair<std::string, bytes>> assignments;  // the leader's only
};

struct sync_result {
    error_code error = error_code::none;
    std::optional<std::string> protocol_type;
    std::optional<std::string> protocol_name;
    bytes assignment;
};
using sync_callback = std::function<void(sync_result)>;

struct leave_member {
    std::string member_id;  // "" to remove a static member by instance id (admin)
    std::optional<std::string> instance_id;
    std::string reason;
};

struct leave_result {
    error_code error = error_code::none;    // top level
    std::vector<error_code> member_errors;  // one per leave_member, in order
};

struct member_description {
    std::string member_id;
    std::optional<std::string> instance_id;
    std::string client_id;
    std::string client_host;
    bytes metadata;    // Stable groups only, as Kafka
    bytes assignment;  // Stable groups only
};

struct group_description {
    std::string group_id;
    std::string state;
    std::string protocol_type;
    std::string protocol;  // "" unless Stable
    std::vector<member_description> members;
};

struct group_listing {
    std::string group_id;
    std::string protocol_type;
    std::string state;
};

struct topic_partition {
    std::string topic;
    int32_t partition = 0;
    auto operator<=>(const topic_partition&) const = default;
};

struct committed_offset {
    int64_t offset = 0;
    int32_t leader_epoch = -1;
    std::string metadata;
    timestamp_ms commit_timestamp{0};
    // Only commits of OffsetCommit v1 (explicit per-commit timestamp) and v2-v4
    // (retention_time_ms) carry one; newer commits expire by the group's retention.
    std::optional<timestamp_ms> expire_timestamp;
    bool operator==(const committed_offset&) const = default;
};

struct offset_delete_result {
    error_code error = error_code::none;  // group level: the partitions list is then empty
    std::vector<std::pair<topic_partition, error_code>> partitions;
};

}  // namespace wharf::groups
