// ListGroups v0/v4, DescribeGroups v0/v5 and DeleteGroups v0-v2 on groups formed by hand:
// state names as Kafka spells them, members with their client id, host, metadata and
// assignment, and deletion only of Empty groups.

#include <gtest/gtest.h>

#include <chrono>
#include <string>
#include <thread>

#include "tests/kafka_api/group_test_util.h"

namespace wharf::kafka::test {
namespace {

using group_admin = group_test;

const list_groups_response::listed_group* find_listed(const list_groups_response& r,
                                                      const std::string& group) {
    for (const auto& g : r.groups) {
        if (g.group_id == group) return &g;
    }
    return nullptr;
}

list_groups_response list_groups(kafka_client& c, int16_t version,
                                 std::vector<std::string> states = {}) {
    list_groups_request req;
    req.states_filter = std::move(states);
    return c.call(req, version);
}

TEST_F(group_admin, list_groups_v0_and_v4_with_a_states_filter) {
    const std::string topic = unique_topic("list");
    const std::string stable = unique_group("list-stable");
    const std::string empty = unique_group("list-empty");
    ASSERT_EQ(create_topic(client(), topic, 1).error_code, 0);
    ASSERT_TRUE(wait_coordinator(client(), stable));
    ASSERT_TRUE(wait_coordinator(client(), empty));
    ASSERT_FALSE(form_group(client(), stable, {topic}, "a").member_id.empty());
    ASSERT_EQ(commit(client(), empty, topic, 0, 1), 0);

    auto r0 = list_groups(client(), 0);
    EXPECT_EQ(r0.error_code, 0);
    ASSERT_NE(find_listed(r0, stable), nullptr);
    EXPECT_EQ(find_listed(r0, stable)->protocol_type, "consumer");
    ASSERT_NE(find_listed(r0, empty), nullptr);
    EXPECT_EQ(find_listed(r0, empty)->protocol_type, "") << "a group of offsets only";
    EXPECT_EQ(find_listed(r0, "__consumer_offsets"), nullptr);

    auto r4 = list_groups(client(), 4);
    ASSERT_NE(find_listed(r4, stable), nullptr);
    EXPECT_EQ(find_listed(r4, stable)->group_state, "Stable");
    ASSERT_NE(find_listed(r4, empty), nullptr);
    EXPECT_EQ(find_listed(r4, empty)->group_state, "Empty");

    r4 = list_groups(client(), 4, {"Stable"});
    EXPECT_NE(find_listed(r4, stable), nullptr);
    EXPECT_EQ(find_listed(r4, empty), nullptr);
    for (const auto& g : r4.groups) EXPECT_EQ(g.group_state, "Stable") << g.group_id;
    r4 = list_groups(client(), 4, {"Empty", "PreparingRebalance"});
    EXPECT_EQ(find_listed(r4, stable), nullptr);
    EXPECT_NE(find_listed(r4, empty), nullptr);
    r4 = list_groups(client(), 4, {"Dead"});
    EXPECT_EQ(find_listed(r4, stable), nullptr);
    EXPECT_EQ(find_listed(r4, empty), nullptr);
}

TEST_F(group_admin, describe_groups_v0_and_v5_in_every_state) {
    const std::string topic = unique_topic("describe");
    const std::string group = unique_group("describe");
    ASSERT_EQ(create_topic(client(), topic, 1).error_code, 0);
    ASSERT_TRUE(wait_coordinator(client(), group));
    const std::string unknown = unique_group("describe-unknown");

    describe_groups_request req;
    req.groups = {unknown};
    for (int16_t v : {0, 5}) {
        auto r = client().call(req, v);
        ASSERT_EQ(r.groups.size(), 1u);
        EXPECT_EQ(r.groups[0].error_code, 0) << "an unknown group is Dead, not an error";
        EXPECT_EQ(r.groups[0].group_id, unknown);
        EXPECT_EQ(r.groups[0].group_state, "Dead");
        EXPECT_TRUE(r.groups[0].members.empty());
    }

    // CompletingRebalance: joined, not synced. Members are listed without metadata.
    auto first = join(client(), group, {.protocols = {{"range", subscription_v0({topic})}}});
    ASSERT_EQ(first.error_code, err(error_code::member_id_required));
    const std::string m = first.member_id;
    auto joined =
        join(client(), group, {.member_id = m, .protocols = {{"range", subscription_v0({topic})}}});
    ASSERT_EQ(joined.error_code, 0);
    req.groups = {group, unknown};
    auto r = client().call(req, 5);
    ASSERT_EQ(r.groups.size(), 2u);
    EXPECT_EQ(r.groups[0].group_state, "CompletingRebalance");
    EXPECT_EQ(r.groups[0].protocol_type, "consumer");
    EXPECT_EQ(r.groups[0].protocol_data, "");
    ASSERT_EQ(r.groups[0].members.size(), 1u);
    EXPECT_EQ(r.groups[0].members[0].member_id, m);
    EXPECT_EQ(r.groups[0].members[0].member_metadata.size(), 0u);
    EXPECT_EQ(r.groups[1].group_state, "Dead");

    // Stable: everything, as the member sent it.
    ASSERT_EQ(sync(client(), group, joined.generation_id, m, {{m, "assigned"}}).error_code, 0);
    for (int16_t v : {0, 5}) {
        req.groups = {group};
        r = client().call(req, v);
        ASSERT_EQ(r.groups.size(), 1u);
        const auto& g = r.groups[0];
        EXPECT_EQ(g.error_code, 0);
        EXPECT_EQ(g.group_id, group);
        EXPECT_EQ(g.group_state, "Stable");
        EXPECT_EQ(g.protocol_type, "consumer");
        EXPECT_EQ(g.protocol_data, "range");
        ASSERT_EQ(g.members.size(), 1u);
        EXPECT_EQ(g.members[0].member_id, m);
        EXPECT_EQ(g.members[0].group_instance_id, std::nullopt);
        EXPECT_EQ(g.members[0].client_id, "wharf-api-test");
        EXPECT_EQ(g.members[0].client_host, "/127.0.0.1");
        EXPECT_EQ(bytes_of(g.members[0].member_metadata), subscription_v0({topic}));
        EXPECT_EQ(bytes_of(g.members[0].member_assignment), "assigned");
    }

    // PreparingRebalance: a second member is waiting for the first to rejoin.
    auto c2 = connect();
    auto second = join(*c2, group);
    ASSERT_EQ(second.error_code, err(error_code::member_id_required));
    int32_t pending = c2->send(join_request_of(group, {.member_id = second.member_id}), 7);
    auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(10);
    std::string state;
    while (std::chrono::steady_clock::now() < deadline) {
        r = client().call(req, 5);
        state = r.groups.at(0).group_state;
        if (state == "PreparingRebalance") break;
        std::this_thread::sleep_for(std::chrono::milliseconds(20));
    }
    ASSERT_EQ(state, "PreparingRebalance");
    EXPECT_EQ(r.groups[0].protocol_data, "");
    EXPECT_EQ(r.groups[0].members.size(), 2u);

    // Both leave: Empty.
    leave_group_request leave;
    leave.group_id = group;
    leave.members.push_back({.member_id = m});
    leave.members.push_back({.member_id = second.member_id});
    auto l = client().call(leave, 4);
    EXPECT_EQ(l.error_code, 0);
    // As in Kafka's handleLeaveGroup, members leave one at a time: once the first has left,
    // every remaining member has joined and the join phase completes (the second member leads
    // generation 2) before the second leaves.
    auto answered = c2->receive<join_group_response>(7, pending);
    EXPECT_EQ(answered.error_code, 0);
    EXPECT_EQ(answered.generation_id, joined.generation_id + 1);
    EXPECT_EQ(answered.leader, second.member_id);
    r = client().call(req, 0);
    EXPECT_EQ(r.groups.at(0).group_state, "Empty");
    EXPECT_TRUE(r.groups.at(0).members.empty());
    EXPECT_EQ(r.groups.at(0).protocol_type, "consumer");
}

TEST_F(group_admin, delete_groups_v0_to_v2_deletes_only_empty_groups) {
    const std::string topic = unique_topic("delete");
    ASSERT_EQ(create_topic(client(), topic, 1).error_code, 0);
    for (int16_t v = 0; v <= 2; ++v) {
        const std::string group = unique_group("delete");
        const std::string unknown = unique_group("delete-unknown");
        ASSERT_TRUE(wait_coordinator(client(), group));
        auto m = form_group(client(), group, {topic}, "a");
        ASSERT_FALSE(m.member_id.empty());
        ASSERT_EQ(commit(client(), group, topic, 0, 42,
                         {.generation = m.generation, .member_id = m.member_id}),
                  0);

        delete_groups_request req;
        req.groups_names = {group, unknown};
        auto r = client().call(req, v);
        ASSERT_EQ(r.results.size(), 2u) << "v" << v;
        EXPECT_EQ(r.results[0].group_id, group);
        EXPECT_EQ(r.results[0].error_code, err(error_code::non_empty_group)) << "v" << v;
        EXPECT_EQ(r.results[1].group_id, unknown);
        EXPECT_EQ(r.results[1].error_code, err(error_code::group_id_not_found)) << "v" << v;
        EXPECT_EQ(listed_state(client(), group), "Stable");
        EXPECT_EQ(fetch_offset(client(), group, topic, 0).offset, 42);

        leave_group_request leave;
        leave.group_id = group;
        leave.member_id = m.member_id;
        ASSERT_EQ(client().call(leave, 0).error_code, 0);
        req.groups_names = {group};
        r = client().call(req, v);
        ASSERT_EQ(r.results.size(), 1u);
        EXPECT_EQ(r.results[0].error_code, 0) << "v" << v;
        EXPECT_EQ(listed_state(client(), group), "");
        EXPECT_EQ(fetch_offset(client(), group, topic, 0).offset, -1);
        r = client().call(req, v);
        EXPECT_EQ(r.results.at(0).error_code, err(error_code::group_id_not_found));
        // The id may be used again: a new group of generation 1.
        auto again = join(client(), group, {}, 3);
        EXPECT_EQ(again.error_code, 0);
        EXPECT_EQ(again.generation_id, 1);
    }
}

}  // namespace
}  // namespace wharf::kafka::test
