#pragma once

// Shared pieces of the consumer-group API tests: a broker of their own whose groups form at once
// (--group-initial-rebalance-delay 0), started on first use; a consumer subscription blob as the
// Java client writes it; short forms of JoinGroup / SyncGroup / Heartbeat / LeaveGroup /
// OffsetCommit / OffsetFetch; and one member's classic rebalance by hand.
//
// JoinGroup and SyncGroup may be answered only when other members act: a test sends such a
// request with kafka_client::send, acts on another connection, then reads the answer with
// kafka_client::receive (every read is bounded by the client's timeout).

#include <gtest/gtest.h>

#include <cstdint>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "tests/kafka_api/api_test_util.h"

namespace wharf::kafka::test {

// The broker the group tests share: --group-initial-rebalance-delay 0.
broker_process& group_broker();

// A ConsumerProtocolSubscription of version 0: topics, user_data null.
std::string subscription_v0(const std::vector<std::string>& topics);

iobuf iobuf_of(const std::string& s);

// Waits (bounded) until the coordinator of `group` has loaded its partition: an OffsetFetch no
// longer answers COORDINATOR_LOAD_IN_PROGRESS / COORDINATOR_NOT_AVAILABLE. False on timeout.
bool wait_coordinator(kafka_client& c, const std::string& group);

struct join_options {
    std::string member_id = "";
    std::optional<std::string> instance_id = std::nullopt;
    std::string protocol_type = "consumer";
    // name -> metadata; empty: {"range", subscription_v0({"t"})}.
    std::vector<std::pair<std::string, std::string>> protocols = {};
    int32_t session_timeout_ms = 30000;
    int32_t rebalance_timeout_ms = 30000;
};
join_group_request join_request_of(const std::string& group, const join_options& o = {});
join_group_response join(kafka_client& c, const std::string& group, const join_options& o = {},
                         int16_t version = 7);

using assignments = std::vector<std::pair<std::string, std::string>>;
sync_group_request sync_request_of(const std::string& group, int32_t generation,
                                   const std::string& member, const assignments& a = {},
                                   std::optional<std::string> instance_id = std::nullopt);
sync_group_response sync(kafka_client& c, const std::string& group, int32_t generation,
                         const std::string& member, const assignments& a = {}, int16_t version = 5);

int16_t heartbeat(kafka_client& c, const std::string& group, int32_t generation,
                  const std::string& member, std::optional<std::string> instance_id = std::nullopt,
                  int16_t version = 4);

// A one-member group made by hand: MEMBER_ID_REQUIRED, JoinGroup, SyncGroup (assigning
// `assignment` to itself). Fails the test (ADD_FAILURE) when a step answers an error.
struct formed_member {
    std::string member_id;
    int32_t generation = -1;
};
formed_member form_group(kafka_client& c, const std::string& group,
                         const std::vector<std::string>& topics, const std::string& assignment);

// OffsetCommit of one partition; returns its error code.
struct commit_options {
    int32_t generation = -1;
    std::string member_id = "";
    std::optional<std::string> metadata = std::string("");
    int32_t leader_epoch = -1;
};
int16_t commit(kafka_client& c, const std::string& group, const std::string& topic,
               int32_t partition, int64_t offset, const commit_options& o = {},
               int16_t version = 8);

// OffsetFetch v8 of one partition of one group: {error (group or partition), offset, metadata}.
struct fetched_offset {
    int16_t error = 0;
    int64_t offset = -2;
    int32_t leader_epoch = -2;
    std::optional<std::string> metadata;
};
fetched_offset fetch_offset(kafka_client& c, const std::string& group, const std::string& topic,
                            int32_t partition);

// The state ListGroups v4 reports for `group`, "" when it does not list it.
std::string listed_state(kafka_client& c, const std::string& group);

// A group id no other test of this program uses.
std::string unique_group(std::string_view prefix);

// Fixture: a client of group_broker(); TearDown checks the broker is still alive.
class group_test : public ::testing::Test {
protected:
    void SetUp() override;
    void TearDown() override;
    kafka_client& client() { return *_client; }
    std::unique_ptr<kafka_client> connect();

private:
    std::unique_ptr<kafka_client> _client;
};

}  // namespace wharf::kafka::test
