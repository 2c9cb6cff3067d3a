#pragma once

// A member of a Kafka consumer group (`wharf bench` consumers, `wharf consume --group`): the classic group protocol as
// the Java consumer speaks it (FindCoordinator, JoinGroup with the MEMBER_ID_REQUIRED round trip,
// SyncGroup, Heartbeat, OffsetFetch, OffsetCommit, LeaveGroup), protocol type "consumer" with the
// "range" assignor, so that the group looks like any other to the broker and to admin tools.
// The leader computes the assignment itself (Kafka's RangeAssignor: per topic, partitions in
// order, members by member id, the first partitions % members members get one more).
//
// The member has its own client (its own connections), as the Java consumer talks to its
// coordinator on a connection of its own: a JoinGroup that the coordinator holds for seconds
// must not queue the member's fetches behind it (a broker answers a connection in order).

#include <cstdint>
#include <map>
#include <string>
#include <vector>

#include "net/kafka/client/kafka_client.h"

namespace wharf::kafka::client {

struct topic_partition {
    std::string topic;
    int32_t partition = 0;
    auto operator<=>(const topic_partition&) const = default;
};

// RangeAssignor over `members` (any order) for topics with the given partition counts.
std::map<std::string, std::vector<topic_partition>> range_assign(
    std::vector<std::string> members, const std::map<std::string, int32_t>& partitions);

// ConsumerProtocolAssignment v0, as the Java client encodes it (user data null).
iobuf encode_assignment(const std::vector<topic_partition>& parts);
// Nullopt when the bytes do not decode; an empty buffer is an empty assignment.
std::optional<std::vector<topic_partition>> decode_assignment(iobuf bytes);

class group_member {
public:
    group_member(std::vector<broker_address> bootstrap, std::string client_id,
                 std::string group_id, std::map<std::string, int32_t> topics);

    task<result<void>> start() { return _client.start(); }
    task<void> close() { return _client.close(); }

    // Joins the group (finding the coordinator first when needed) and returns this member's
    // partitions for the new generation.
    task<result<std::vector<topic_partition>>> join();
    // One heartbeat. kafka REBALANCE_IN_PROGRESS (or another error) means: join again.
    task<result<void>> heartbeat();
    // Committed offsets; -1 where the group has none.
    task<result<std::map<topic_partition, int64_t>>> committed(
        const std::vector<topic_partition>& parts);
    task<result<void>> commit(const std::map<topic_partition, int64_t>& positions);
    task<void> leave();

    int32_t generation() const noexcept { return _generation; }
    const std::string& group_id() const noexcept { return _group_id; }

private:
    task<result<void>> find_coordinator();

    kafka_client _client;
    std::string _group_id;
    std::map<std::string, int32_t> _topics;
    int32_t _coordinator = -1;
    std::string _member_id;
    int32_t _generation = -1;
};

}  // namespace wharf::kafka::client
