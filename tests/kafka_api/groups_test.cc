// FindCoordinator v0-v4, and the classic group protocol by hand (JoinGroup, SyncGroup,
// Heartbeat, LeaveGroup): a two-member rebalance, static membership, and bad input answered as
// Kafka answers it with the coordinator still serving afterwards. On the group broker
// (group_test_util.h: initial rebalance delay 0).

#include <gtest/gtest.h>

#include <chrono>
#include <limits>
#include <thread>

#include "tests/kafka_api/group_test_util.h"

namespace wharf::kafka::test {
namespace {

using groups_api = group_test;

metadata_response::metadata_response_broker only_broker(kafka_client& c) {
    metadata_request req;
    req.topics.emplace();  // no topic: brokers only
    auto resp = c.call(req, 12);
    if (resp.brokers.size() != 1) throw client_error("Metadata answered another broker count");
    return resp.brokers[0];
}

TEST_F(groups_api, find_coordinator_v0_to_v3_names_this_broker) {
    auto broker = only_broker(client());
    const std::string group = unique_group("fc");
    for (int16_t v = 0; v <= 3; ++v) {
        find_coordinator_request req;
        req.coordinator_key = group;
        req.key_type = 0;
        auto r = client().call(req, v);
        EXPECT_EQ(r.error_code, 0) << "v" << v;
        EXPECT_EQ(r.node_id, broker.node_id) << "v" << v;
        EXPECT_EQ(r.host, broker.host) << "v" << v;
        EXPECT_EQ(r.port, broker.port) << "v" << v;
        EXPECT_EQ(r.port, group_broker().port()) << "v" << v;
    }
    // A transaction coordinator: Wharf has none.
    for (int16_t v = 1; v <= 3; ++v) {
        find_coordinator_request req;
        req.coordinator_key = "txn-" + group;
        req.key_type = 1;
        auto r = client().call(req, v);
        EXPECT_EQ(r.error_code, err(error_code::coordinator_not_available)) << "v" << v;
        EXPECT_EQ(r.node_id, -1) << "v" << v;
        EXPECT_EQ(r.host, "") << "v" << v;
        EXPECT_EQ(r.port, -1) << "v" << v;
    }
}

// An unknown key type is INVALID_REQUEST, with no node; at v4 for every key.
TEST_F(groups_api, find_coordinator_refuses_an_unknown_key_type) {
    find_coordinator_request req;
    req.coordinator_key = "g";
    req.key_type = 7;
    auto r = client().call(req, 1);
    EXPECT_EQ(r.error_code, err(error_code::invalid_request));
    EXPECT_EQ(r.node_id, -1);
    EXPECT_EQ(r.host, "");
    EXPECT_EQ(r.port, -1);
    req.coordinator_keys = {"g", "h"};
    r = client().call(req, 4);
    ASSERT_EQ(r.coordinators.size(), 2u);
    for (size_t i = 0; i < 2; ++i) {
        EXPECT_EQ(r.coordinators[i].key, req.coordinator_keys[i]);
        EXPECT_EQ(r.coordinators[i].error_code, err(error_code::invalid_request));
        EXPECT_EQ(r.coordinators[i].node_id, -1);
        EXPECT_EQ(r.coordinators[i].port, -1);
    }
    req.key_type = 0;
    r = client().call(req, 4);
    ASSERT_EQ(r.coordinators.size(), 2u);
    EXPECT_EQ(r.coordinators[0].error_code, 0) << "the broker still answers";
}

TEST_F(groups_api, find_coordinator_v4_batches_keys) {
    auto broker = only_broker(client());
    find_coordinator_request req;
    req.key_type = 0;
    req.coordinator_keys = {unique_group("a"), unique_group("b"), unique_group("c")};
    auto r = client().call(req, 4);
    ASSERT_EQ(r.coordinators.size(), 3u);
    for (size_t i = 0; i < 3; ++i) {
        const auto& c = r.coordinators[i];
        EXPECT_EQ(c.key, req.coordinator_keys[i]);
        EXPECT_EQ(c.error_code, 0);
        EXPECT_EQ(c.node_id, broker.node_id);
        EXPECT_EQ(c.host, broker.host);
        EXPECT_EQ(c.port, broker.port);
    }
    req.key_type = 1;
    req.coordinator_keys = {"txn-a", "txn-b"};
    r = client().call(req, 4);
    ASSERT_EQ(r.coordinators.size(), 2u);
    for (size_t i = 0; i < 2; ++i) {
        EXPECT_EQ(r.coordinators[i].key, req.coordinator_keys[i]);
        EXPECT_EQ(r.coordinators[i].error_code, err(error_code::coordinator_not_available));
    }
}

// The whole classic protocol on two connections: a group of one forms, a second member joins,
// both rebalance into generation 2, the leader's assignment reaches the follower, then the
// members leave (LeaveGroup v0 and v3).
TEST_F(groups_api, two_members_rebalance_sync_heartbeat_and_leave) {
    const std::string group = unique_group("rebalance");
    kafka_client& c1 = client();
    auto c2 = connect();
    ASSERT_TRUE(wait_coordinator(c1, group));
    const std::string meta1 = subscription_v0({"t"});

    // KIP-394: a JoinGroup v4+ without a member id is told to come back with one.
    auto r = join(c1, group);
    ASSERT_EQ(r.error_code, err(error_code::member_id_required));
    ASSERT_FALSE(r.member_id.empty());
    EXPECT_EQ(r.member_id.rfind("wharf-api-test-", 0), 0u) << r.member_id;
    const std::string m1 = r.member_id;
    r = join(c1, group, {.member_id = m1});
    ASSERT_EQ(r.error_code, 0);
    EXPECT_EQ(r.generation_id, 1);
    EXPECT_EQ(r.leader, m1);
    EXPECT_EQ(r.member_id, m1);
    EXPECT_EQ(r.protocol_type, "consumer");
    EXPECT_EQ(r.protocol_name, "range");
    ASSERT_EQ(r.members.size(), 1u);
    EXPECT_EQ(r.members[0].member_id, m1);
    EXPECT_EQ(bytes_of(r.members[0].metadata), meta1);

    auto s = sync(c1, group, 1, m1, {{m1, "all-of-t"}});
    ASSERT_EQ(s.error_code, 0);
    EXPECT_EQ(bytes_of(s.assignment), "all-of-t");
    EXPECT_EQ(s.protocol_type, "consumer");
    EXPECT_EQ(s.protocol_name, "range");
    EXPECT_EQ(heartbeat(c1, group, 1, m1), 0);

    // A second member: its JoinGroup waits for the first to rejoin.
    r = join(*c2, group);
    ASSERT_EQ(r.error_code, err(error_code::member_id_required));
    const std::string m2 = r.member_id;
    ASSERT_NE(m2, m1);
    int32_t join2 = c2->send(join_request_of(group, {.member_id = m2}), 7);
    // The first member learns of the rebalance from its heartbeat.
    auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(10);
    int16_t hb = 0;
    while ((hb = heartbeat(c1, group, 1, m1)) == 0 && std::chrono::steady_clock::now() < deadline) {
        std::this_thread::sleep_for(std::chrono::milliseconds(20));
    }
    ASSERT_EQ(hb, err(error_code::rebalance_in_progress));
    r = join(c1, group, {.member_id = m1});
    ASSERT_EQ(r.error_code, 0);
    EXPECT_EQ(r.generation_id, 2);
    EXPECT_EQ(r.leader, m1);
    ASSERT_EQ(r.members.size(), 2u);
    EXPECT_EQ(r.members[0].member_id, m1);
    EXPECT_EQ(r.members[1].member_id, m2);
    EXPECT_EQ(bytes_of(r.members[1].metadata), meta1);
    auto r2 = c2->receive<join_group_response>(7, join2);
    ASSERT_EQ(r2.error_code, 0);
    EXPECT_EQ(r2.generation_id, 2);
    EXPECT_EQ(r2.leader, m1);
    EXPECT_EQ(r2.member_id, m2);
    EXPECT_TRUE(r2.members.empty()) << "only the leader gets the members";

    // The follower's SyncGroup (with assignments of its own, which a follower may not give)
    // waits for the leader's; each member gets its own bytes from the leader.
    int32_t sync2 =
        c2->send(sync_request_of(group, 2, m2, {{m2, "follower-says"}, {m1, "follower-says"}}), 5);
    s = sync(c1, group, 2, m1, {{m1, "p0"}, {m2, "p1"}});
    ASSERT_EQ(s.error_code, 0);
    EXPECT_EQ(bytes_of(s.assignment), "p0");
    auto s2 = c2->receive<sync_group_response>(5, sync2);
    ASSERT_EQ(s2.error_code, 0);
    EXPECT_EQ(bytes_of(s2.assignment), "p1");

    EXPECT_EQ(heartbeat(c1, group, 2, m1), 0);
    EXPECT_EQ(heartbeat(*c2, group, 2, m2, std::nullopt, 0), 0);
    EXPECT_EQ(heartbeat(*c2, group, 1, m2), err(error_code::illegal_generation));
    EXPECT_EQ(heartbeat(*c2, group, 2, "no-such-member"), err(error_code::unknown_member_id));
    EXPECT_EQ(sync(*c2, group, 1, m2).error_code, err(error_code::illegal_generation));
    EXPECT_EQ(sync(*c2, group, 2, "no-such-member").error_code, err(error_code::unknown_member_id));
    // A SyncGroup again in a Stable group answers the member's assignment.
    s2 = sync(*c2, group, 2, m2);
    ASSERT_EQ(s2.error_code, 0);
    EXPECT_EQ(bytes_of(s2.assignment), "p1");

    // LeaveGroup v0: the follower leaves; the leader rejoins alone into generation 3.
    leave_group_request leave0;
    leave0.group_id = group;
    leave0.member_id = m2;
    EXPECT_EQ(c2->call(leave0, 0).error_code, 0);
    EXPECT_EQ(c2->call(leave0, 0).error_code, err(error_code::unknown_member_id));
    EXPECT_EQ(heartbeat(c1, group, 2, m1), err(error_code::rebalance_in_progress));
    r = join(c1, group, {.member_id = m1});
    ASSERT_EQ(r.error_code, 0);
    EXPECT_EQ(r.generation_id, 3);
    ASSERT_EQ(sync(c1, group, 3, m1, {{m1, "p0p1"}}).error_code, 0);

    // LeaveGroup v3: a batch, with an error per member and none at the top.
    leave_group_request leave3;
    leave3.group_id = group;
    leave3.members.push_back({.member_id = m1});
    leave3.members.push_back({.member_id = "no-such-member"});
    auto l = c1.call(leave3, 3);
    EXPECT_EQ(l.error_code, 0);
    ASSERT_EQ(l.members.size(), 2u);
    EXPECT_EQ(l.members[0].member_id, m1);
    EXPECT_EQ(l.members[0].error_code, 0);
    EXPECT_EQ(l.members[1].member_id, "no-such-member");
    EXPECT_EQ(l.members[1].error_code, err(error_code::unknown_member_id));
    EXPECT_EQ(listed_state(c1, group), "Empty");
    EXPECT_EQ(heartbeat(c1, group, 3, m1), err(error_code::unknown_member_id));
}

TEST_F(groups_api, join_group_v0_to_v3_gets_a_member_id_at_once) {
    const std::string group = unique_group("v0");
    ASSERT_TRUE(wait_coordinator(client(), group));
    auto r = join(client(), group, {}, 0);
    ASSERT_EQ(r.error_code, 0);
    EXPECT_FALSE(r.member_id.empty());
    EXPECT_EQ(r.generation_id, 1);
    EXPECT_EQ(r.leader, r.member_id);
    ASSERT_EQ(sync(client(), group, 1, r.member_id, {{r.member_id, "x"}}, 0).error_code, 0);
    leave_group_request leave;
    leave.group_id = group;
    leave.member_id = r.member_id;
    EXPECT_EQ(client().call(leave, 1).error_code, 0);
}

// KIP-345: a static member (group.instance.id) that comes back without its member id takes the
// place of the old id, which is fenced from then on.
TEST_F(groups_api, static_member_rejoining_fences_its_old_member_id) {
    const std::string group = unique_group("static");
    ASSERT_TRUE(wait_coordinator(client(), group));
    join_options o{.instance_id = "instance-1"};
    auto r = join(client(), group, o, 5);
    ASSERT_EQ(r.error_code, 0) << "a static member needs no MEMBER_ID_REQUIRED round";
    const std::string old_id = r.member_id;
    EXPECT_EQ(old_id.rfind("instance-1-", 0), 0u) << old_id;
    EXPECT_EQ(r.generation_id, 1);
    auto s = client().call(sync_request_of(group, 1, old_id, {{old_id, "a"}}, "instance-1"), 5);
    ASSERT_EQ(s.error_code, 0);
    EXPECT_EQ(heartbeat(client(), group, 1, old_id, "instance-1"), 0);

    // The same instance restarts: a new member id, the same generation (nothing changed).
    r = join(client(), group, o, 5);
    ASSERT_EQ(r.error_code, 0);
    const std::string new_id = r.member_id;
    EXPECT_NE(new_id, old_id);
    EXPECT_EQ(r.generation_id, 1);
    EXPECT_EQ(heartbeat(client(), group, 1, old_id, "instance-1"),
              err(error_code::fenced_instance_id));
    EXPECT_EQ(client().call(sync_request_of(group, 1, old_id, {}, "instance-1"), 5).error_code,
              err(error_code::fenced_instance_id));
    EXPECT_EQ(
        join(client(), group, {.member_id = old_id, .instance_id = "instance-1"}, 5).error_code,
        err(error_code::fenced_instance_id));
    EXPECT_EQ(heartbeat(client(), group, 1, new_id, "instance-1"), 0);
    s = client().call(sync_request_of(group, 1, new_id, {}, "instance-1"), 5);
    ASSERT_EQ(s.error_code, 0);
    EXPECT_EQ(bytes_of(s.assignment), "a");

    leave_group_request leave;
    leave.group_id = group;
    leave.members.push_back({.member_id = old_id, .group_instance_id = "instance-1"});
    leave.members.push_back({.member_id = new_id, .group_instance_id = "instance-1"});
    auto l = client().call(leave, 5);
    EXPECT_EQ(l.error_code, 0);
    ASSERT_EQ(l.members.size(), 2u);
    EXPECT_EQ(l.members[0].error_code, err(error_code::fenced_instance_id));
    EXPECT_EQ(l.members[1].error_code, 0);
    EXPECT_EQ(listed_state(client(), group), "Empty");
}

// A request that the coordinator refuses leaves it serving: a JoinGroup that is fine works.
void expect_coordinator_serves(kafka_client& c) {
    const std::string group = unique_group("alive");
    auto r = join(c, group, {}, 3);
    ASSERT_EQ(r.error_code, 0);
    EXPECT_EQ(r.generation_id, 1);
}

TEST_F(groups_api, invalid_session_timeouts_are_refused) {
    const std::string group = unique_group("session");
    ASSERT_TRUE(wait_coordinator(client(), group));
    for (int32_t timeout : {1, std::numeric_limits<int32_t>::max()}) {
        for (int16_t v : {0, 4, 9}) {
            auto r = join(client(), group, {.session_timeout_ms = timeout}, v);
            EXPECT_EQ(r.error_code, err(error_code::invalid_session_timeout))
                << "timeout " << timeout << " v" << v;
        }
    }
    EXPECT_EQ(listed_state(client(), group), "") << "a refused JoinGroup leaves no group";
    expect_coordinator_serves(client());
}

TEST_F(groups_api, inconsistent_protocols_and_empty_group_ids_are_refused) {
    const std::string group = unique_group("protocol");
    ASSERT_TRUE(wait_coordinator(client(), group));
    // No protocol at all.
    auto req = join_request_of(group);
    req.protocols.clear();
    EXPECT_EQ(client().call(req, 7).error_code, err(error_code::inconsistent_group_protocol));
    EXPECT_EQ(client().call(join_request_of(group, {.protocol_type = ""}), 7).error_code,
              err(error_code::inconsistent_group_protocol));
    EXPECT_EQ(listed_state(client(), group), "");

    // A group of "consumer" members refuses another protocol type, and a protocol no member
    // supports.
    auto m = form_group(client(), group, {"t"}, "a");
    ASSERT_FALSE(m.member_id.empty());
    EXPECT_EQ(join(client(), group, {.protocol_type = "connect"}).error_code,
              err(error_code::inconsistent_group_protocol));
    EXPECT_EQ(
        join(client(), group, {.protocols = {{"roundrobin", subscription_v0({"t"})}}}).error_code,
        err(error_code::inconsistent_group_protocol));
    EXPECT_EQ(
        join(client(), group, {.member_id = m.member_id, .protocol_type = "connect"}).error_code,
        err(error_code::inconsistent_group_protocol));
    EXPECT_EQ(heartbeat(client(), group, m.generation, m.member_id), 0) << "still Stable";
    // SyncGroup v5 names the protocol type and name: they must be the group's.
    auto s = sync_request_of(group, m.generation, m.member_id);
    s.protocol_type = "connect";
    s.protocol_name = "range";
    EXPECT_EQ(client().call(s, 5).error_code, err(error_code::inconsistent_group_protocol));
    s.protocol_type = "consumer";
    s.protocol_name = "roundrobin";
    EXPECT_EQ(client().call(s, 5).error_code, err(error_code::inconsistent_group_protocol));
    s.protocol_name = "range";
    auto synced = client().call(s, 5);
    EXPECT_EQ(synced.error_code, 0);
    EXPECT_EQ(bytes_of(synced.assignment), "a");

    // An empty group id.
    for (int16_t v : {0, 5, 9}) {
        EXPECT_EQ(join(client(), "", {}, v).error_code, err(error_code::invalid_group_id))
            << "v" << v;
    }
    EXPECT_EQ(sync(client(), "", 1, "m").error_code, err(error_code::invalid_group_id));
    EXPECT_EQ(heartbeat(client(), "", 1, "m"), err(error_code::invalid_group_id));
    expect_coordinator_serves(client());
}

// A 1 MiB subscription: accepted (or refused with an error), never a crash; the coordinator
// serves afterwards.
TEST_F(groups_api, a_one_mebibyte_metadata_blob_is_handled_cleanly) {
    const std::string group = unique_group("big");
    ASSERT_TRUE(wait_coordinator(client(), group));
    std::string big(1 << 20, 'x');
    join_options o{.protocols = {{"range", big}}};
    auto r = join(client(), group, o);
    ASSERT_EQ(r.error_code, err(error_code::member_id_required));
    o.member_id = r.member_id;
    r = join(client(), group, o);
    if (r.error_code == 0) {
        ASSERT_EQ(r.members.size(), 1u);
        EXPECT_EQ(r.members[0].metadata.size(), big.size());
        auto s = sync(client(), group, r.generation_id, r.member_id, {{r.member_id, big}});
        if (s.error_code == 0) {
            EXPECT_EQ(s.assignment.size(), big.size());
        }
        leave_group_request leave;
        leave.group_id = group;
        leave.member_id = r.member_id;
        EXPECT_EQ(client().call(leave, 2).error_code, 0);
    }
    expect_coordinator_serves(client());
    auto again = connect();
    expect_coordinator_serves(*again);
}

}  // namespace
}  // namespace wharf::kafka::test
