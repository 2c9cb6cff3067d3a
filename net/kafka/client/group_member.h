#pragma once

// A member of a Kafka consumer group (`wharf bench` consumers, `wharf consume --group`): the
// classic group protocol as the Java consumer speaks it (FindCoordinator, JoinGroup with the
// MEMBER_ID_REQUIRED round trip, SyncGroup, Heartbeat, OffsetFetch, OffsetCommit, LeaveGroup),
// protocol type "consumer" with the "range" assignor, so that the group looks like any other to
// the broker and to admin tools. FindCoordinator and OffsetFetch are free functions too, for
// admin tools (`wharf group`) that ask about a group without joining it.
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

// The node id of `group`'s coordinator (FindCoordinator; v4 and later batch keys), after a
// refresh_brokers so that c.broker() knows its address. A Kafka error in the answer
// (COORDINATOR_NOT_AVAILABLE while the offsets topic is being created) is a kafka_error.
task<result<int32_t>> find_coordinator(kafka_client& c, const std::string& group);

// The offsets `group` has committed for `parts`, -1 where it has none, asked of its coordinator
// `node` (OffsetFetch; v8 and later batch groups). A Kafka error for the group or for any of the
// partitions is a kafka_error, as the Java consumer's committed() fails.
task<result<std::map<topic_partition, int64_t>>> fetch_committed(
    kafka_client& c, int32_t node, const std::string& group,
    const std::vector<topic_partition>& parts);
// Every offset `group` has committed (null topic lists), as an admin tool lists them. A Kafka
// error for the group is a kafka_error; a partition's error is not (its offset is kept as the
// broker gave it, -1), so that one bad partition does not hide the others.
task<result<std::map<topic_partition, int64_t>>> fetch_all_committed(kafka_client& c, int32_t node,
                                                                     const std::string& group);

class group_member {
public:
    group_member(std::vector<broker_address> bootstrap, std::string client_id, std::string group_id,
                 std::map<std::string, int32_t> topics);

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
    kafka_client _client;
    std::string _group_id;
    std::map<std::string, int32_t> _topics;
    int32_t _coordinator = -1;
    std::string _member_id;
    int32_t _generation = -1;
};

}  // namespace wharf::kafka::client
