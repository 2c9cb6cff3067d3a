// OffsetCommit v2/v8, OffsetFetch v1/v7/v8, OffsetDelete v0: what Kafka stores and answers,
// its refusals (unknown partitions, metadata too large, commits from non-members), and commits
// that survive a clean and a SIGKILL restart, and the periodic cleanup of empty groups (brokers
// of their own).

#include <gtest/gtest.h>

#include <chrono>
#include <map>
#include <string>
#include <thread>

#include "tests/kafka_api/group_test_util.h"

namespace wharf::kafka::test {
namespace {

using group_offsets = group_test;

int16_t commit_v2(kafka_client& c, const std::string& group, const std::string& topic,
                  int32_t partition, int64_t offset, const std::string& metadata) {
    offset_commit_request req;
    req.group_id = group;
    req.generation_id_or_member_epoch = -1;
    req.member_id = "";
    req.retention_time_ms = -1;
    auto& t = req.topics.emplace_back();
    t.name = topic;
    t.partitions.push_back(
        {.partition_index = partition, .committed_offset = offset, .committed_metadata = metadata});
    auto resp = c.call(req, 2);
    if (resp.topics.size() != 1 || resp.topics[0].partitions.size() != 1) {
        throw client_error("OffsetCommit v2 answered another shape");
    }
    return resp.topics[0].partitions[0].error_code;
}

TEST_F(group_offsets, commit_v2_v8_then_fetch_v1_v7_v8) {
    const std::string topic = unique_topic("offsets");
    const std::string group = unique_group("offsets");
    const std::string other = unique_group("offsets-other");
    ASSERT_EQ(create_topic(client(), topic, 3).error_code, 0);
    ASSERT_TRUE(wait_coordinator(client(), group));
    EXPECT_EQ(commit_v2(client(), group, topic, 0, 5, "m5"), 0);
    EXPECT_EQ(commit(client(), group, topic, 1, 7, {.metadata = "m7", .leader_epoch = 3}), 0);
    EXPECT_EQ(commit(client(), other, topic, 2, 11, {.metadata = std::nullopt}), 0);

    // v1: the partitions asked for; one never committed answers -1.
    offset_fetch_request f1;
    f1.group_id = group;
    f1.topics->push_back({.name = topic, .partition_indexes = {0, 1, 2}});
    auto r1 = client().call(f1, 1);
    ASSERT_EQ(r1.topics.size(), 1u);
    ASSERT_EQ(r1.topics[0].partitions.size(), 3u);
    std::map<int32_t, std::pair<int64_t, std::string>> got;
    for (const auto& p : r1.topics[0].partitions) {
        EXPECT_EQ(p.error_code, 0);
        got[p.partition_index] = {p.committed_offset, p.metadata.value_or("<null>")};
    }
    EXPECT_EQ(got[0], std::make_pair(int64_t(5), std::string("m5")));
    EXPECT_EQ(got[1], std::make_pair(int64_t(7), std::string("m7")));
    EXPECT_EQ(got[2].first, -1);
    EXPECT_EQ(got[2].second, "");

    // v7 with topics null: every committed offset of the group, with leader epochs.
    offset_fetch_request f7;
    f7.group_id = group;
    f7.topics = std::nullopt;
    f7.require_stable = true;
    auto r7 = client().call(f7, 7);
    EXPECT_EQ(r7.error_code, 0);
    ASSERT_EQ(r7.topics.size(), 1u);
    ASSERT_EQ(r7.topics[0].partitions.size(), 2u);
    for (const auto& p : r7.topics[0].partitions) {
        if (p.partition_index == 0) {
            EXPECT_EQ(p.committed_offset, 5);
            EXPECT_EQ(p.committed_leader_epoch, -1);
        } else {
            EXPECT_EQ(p.partition_index, 1);
            EXPECT_EQ(p.committed_offset, 7);
            EXPECT_EQ(p.committed_leader_epoch, 3);
        }
    }

    // v8: several groups in one request, one of them unknown.
    offset_fetch_request f8;
    auto& g1 = f8.groups.emplace_back();
    g1.group_id = group;
    g1.topics->push_back({.name = topic, .partition_indexes = {1}});
    auto& g2 = f8.groups.emplace_back();
    g2.group_id = other;
    g2.topics = std::nullopt;
    auto& g3 = f8.groups.emplace_back();
    g3.group_id = unique_group("never");
    g3.topics->push_back({.name = topic, .partition_indexes = {0}});
    auto r8 = client().call(f8, 8);
    ASSERT_EQ(r8.groups.size(), 3u);
    EXPECT_EQ(r8.groups[0].group_id, group);
    ASSERT_EQ(r8.groups[0].topics.size(), 1u);
    ASSERT_EQ(r8.groups[0].topics[0].partitions.size(), 1u);
    EXPECT_EQ(r8.groups[0].topics[0].partitions[0].committed_offset, 7);
    EXPECT_EQ(r8.groups[0].topics[0].partitions[0].committed_leader_epoch, 3);
    EXPECT_EQ(r8.groups[0].topics[0].partitions[0].metadata, "m7");
    EXPECT_EQ(r8.groups[1].group_id, other);
    EXPECT_EQ(r8.groups[1].error_code, 0);
    ASSERT_EQ(r8.groups[1].topics.size(), 1u);
    ASSERT_EQ(r8.groups[1].topics[0].partitions.size(), 1u);
    EXPECT_EQ(r8.groups[1].topics[0].partitions[0].partition_index, 2);
    EXPECT_EQ(r8.groups[1].topics[0].partitions[0].committed_offset, 11);
    EXPECT_EQ(r8.groups[1].topics[0].partitions[0].metadata, "") << "null metadata reads \"\"";
    EXPECT_EQ(r8.groups[2].error_code, 0);
    ASSERT_EQ(r8.groups[2].topics.size(), 1u);
    ASSERT_EQ(r8.groups[2].topics[0].partitions.size(), 1u);
    EXPECT_EQ(r8.groups[2].topics[0].partitions[0].committed_offset, -1);

    // A later commit replaces the earlier one.
    EXPECT_EQ(commit(client(), group, topic, 0, 6), 0);
    EXPECT_EQ(fetch_offset(client(), group, topic, 0).offset, 6);
}

TEST_F(group_offsets, unknown_partitions_and_large_metadata_are_refused_per_partition) {
    const std::string topic = unique_topic("refused");
    const std::string group = unique_group("refused");
    ASSERT_EQ(create_topic(client(), topic, 1).error_code, 0);
    ASSERT_TRUE(wait_coordinator(client(), group));

    // Kafka answers unknown partitions before it looks at the group: no group is created.
    EXPECT_EQ(commit(client(), group, unique_topic("missing"), 0, 1),
              err(error_code::unknown_topic_or_partition));
    EXPECT_EQ(commit(client(), group, topic, 1, 1), err(error_code::unknown_topic_or_partition));
    EXPECT_EQ(commit_v2(client(), group, topic, 7, 1, ""),
              err(error_code::unknown_topic_or_partition));
    EXPECT_EQ(listed_state(client(), group), "");

    // offset.metadata.max.bytes is 4096.
    EXPECT_EQ(commit(client(), group, topic, 0, 3, {.metadata = std::string(4097, 'm')}),
              err(error_code::offset_metadata_too_large));
    EXPECT_EQ(fetch_offset(client(), group, topic, 0).offset, -1);
    EXPECT_EQ(commit(client(), group, topic, 0, 4, {.metadata = std::string(4096, 'm')}), 0);
    auto f = fetch_offset(client(), group, topic, 0);
    EXPECT_EQ(f.offset, 4);
    EXPECT_EQ(f.metadata, std::string(4096, 'm'));

    // In one request, each partition has its own answer.
    offset_commit_request req;
    req.group_id = group;
    req.generation_id_or_member_epoch = -1;
    auto& t = req.topics.emplace_back();
    t.name = topic;
    t.partitions.push_back({.partition_index = 0, .committed_offset = 9});
    t.partitions.push_back({.partition_index = 5, .committed_offset = 9});
    auto resp = client().call(req, 8);
    ASSERT_EQ(resp.topics.size(), 1u);
    ASSERT_EQ(resp.topics[0].partitions.size(), 2u);
    EXPECT_EQ(resp.topics[0].partitions[0].error_code, 0);
    EXPECT_EQ(resp.topics[0].partitions[1].error_code, err(error_code::unknown_topic_or_partition));
    EXPECT_EQ(fetch_offset(client(), group, topic, 0).offset, 9);
}

// Kafka's GroupCoordinator.validateOffsetCommit: generation -1 without a member id commits to an
// Empty group (a consumer that does not use group management); a group with members takes
// commits only from its members, of the current generation.
TEST_F(group_offsets, simple_commits_go_to_empty_groups_only) {
    const std::string topic = unique_topic("simple");
    const std::string group = unique_group("simple");
    ASSERT_EQ(create_topic(client(), topic, 1).error_code, 0);
    ASSERT_TRUE(wait_coordinator(client(), group));

    EXPECT_EQ(commit(client(), unique_group("nogroup"), topic, 0, 1, {.generation = 1}),
              err(error_code::illegal_generation));
    EXPECT_EQ(commit(client(), group, topic, 0, 1), 0);
    EXPECT_EQ(listed_state(client(), group), "Empty");

    auto m = form_group(client(), group, {topic}, "a");
    ASSERT_FALSE(m.member_id.empty());
    EXPECT_EQ(commit(client(), group, topic, 0, 2), err(error_code::unknown_member_id));
    EXPECT_EQ(commit_v2(client(), group, topic, 0, 2, ""), err(error_code::unknown_member_id));
    EXPECT_EQ(commit(client(), group, topic, 0, 2, {.generation = m.generation}),
              err(error_code::unknown_member_id));
    EXPECT_EQ(commit(client(), group, topic, 0, 2, {.member_id = "stranger"}),
              err(error_code::unknown_member_id));
    EXPECT_EQ(commit(client(), group, topic, 0, 2,
                     {.generation = m.generation + 1, .member_id = m.member_id}),
              err(error_code::illegal_generation));
    EXPECT_EQ(fetch_offset(client(), group, topic, 0).offset, 1);
    EXPECT_EQ(commit(client(), group, topic, 0, 3,
                     {.generation = m.generation, .member_id = m.member_id}),
              0);
    EXPECT_EQ(fetch_offset(client(), group, topic, 0).offset, 3);

    leave_group_request leave;
    leave.group_id = group;
    leave.member_id = m.member_id;
    ASSERT_EQ(client().call(leave, 0).error_code, 0);
    EXPECT_EQ(commit(client(), group, topic, 0, 4), 0) << "Empty again";
    EXPECT_EQ(fetch_offset(client(), group, topic, 0).offset, 4);
}

offset_delete_response delete_offset(kafka_client& c, const std::string& group,
                                     const std::string& topic, int32_t partition) {
    offset_delete_request req;
    req.group_id = group;
    auto& t = req.topics.emplace_back();
    t.name = topic;
    t.partitions.push_back({.partition_index = partition});
    return c.call(req, 0);
}

int16_t only_partition_error(const offset_delete_response& r) {
    if (r.topics.size() != 1 || r.topics[0].partitions.size() != 1) {
        throw client_error("OffsetDelete answered another shape than one topic, one partition");
    }
    return r.topics[0].partitions[0].error_code;
}

TEST_F(group_offsets, offset_delete_refuses_subscribed_topics_of_a_stable_group) {
    const std::string topic = unique_topic("subscribed");
    const std::string unsubscribed = unique_topic("unsubscribed");
    const std::string group = unique_group("delete-offsets");
    ASSERT_EQ(create_topic(client(), topic, 1).error_code, 0);
    ASSERT_EQ(create_topic(client(), unsubscribed, 1).error_code, 0);
    ASSERT_TRUE(wait_coordinator(client(), group));

    EXPECT_EQ(delete_offset(client(), group, topic, 0).error_code,
              err(error_code::group_id_not_found));

    auto m = form_group(client(), group, {topic}, "a");
    ASSERT_FALSE(m.member_id.empty());
    commit_options as_member{.generation = m.generation, .member_id = m.member_id};
    ASSERT_EQ(commit(client(), group, topic, 0, 10, as_member), 0);
    ASSERT_EQ(commit(client(), group, unsubscribed, 0, 20, as_member), 0);

    auto r = delete_offset(client(), group, topic, 0);
    EXPECT_EQ(r.error_code, 0);
    EXPECT_EQ(only_partition_error(r), err(error_code::group_subscribed_to_topic));
    EXPECT_EQ(fetch_offset(client(), group, topic, 0).offset, 10);
    // A topic the group does not subscribe to may lose its offsets while the group is Stable.
    r = delete_offset(client(), group, unsubscribed, 0);
    EXPECT_EQ(r.error_code, 0);
    EXPECT_EQ(only_partition_error(r), 0);
    EXPECT_EQ(fetch_offset(client(), group, unsubscribed, 0).offset, -1);

    leave_group_request leave;
    leave.group_id = group;
    leave.member_id = m.member_id;
    ASSERT_EQ(client().call(leave, 0).error_code, 0);
    ASSERT_EQ(listed_state(client(), group), "Empty");
    r = delete_offset(client(), group, topic, 0);
    EXPECT_EQ(r.error_code, 0);
    EXPECT_EQ(only_partition_error(r), 0);
    auto f = fetch_offset(client(), group, topic, 0);
    EXPECT_EQ(f.error, 0);
    EXPECT_EQ(f.offset, -1);
}

// Kafka's isValidGroupId: OffsetCommit, OffsetFetch, DescribeGroups and DeleteGroups take the
// empty group id (backwards compatibility); the group-management APIs and OffsetDelete do not.
TEST_F(group_offsets, the_empty_group_id_stores_offsets_and_can_be_deleted) {
    const std::string topic = unique_topic("empty-id");
    ASSERT_EQ(create_topic(client(), topic, 1).error_code, 0);
    ASSERT_TRUE(wait_coordinator(client(), ""));
    EXPECT_EQ(commit(client(), "", topic, 0, 12), 0);
    EXPECT_EQ(fetch_offset(client(), "", topic, 0).offset, 12);
    EXPECT_EQ(delete_offset(client(), "", topic, 0).error_code, err(error_code::invalid_group_id));
    describe_groups_request d;
    d.groups = {""};
    auto dr = client().call(d, 5);
    ASSERT_EQ(dr.groups.size(), 1u);
    EXPECT_EQ(dr.groups[0].error_code, 0);
    EXPECT_EQ(dr.groups[0].group_state, "Empty");
    delete_groups_request del;
    del.groups_names = {""};
    auto r = client().call(del, 2);
    ASSERT_EQ(r.results.size(), 1u);
    EXPECT_EQ(r.results[0].error_code, 0);
    EXPECT_EQ(fetch_offset(client(), "", topic, 0).offset, -1);
    r = client().call(del, 2);
    EXPECT_EQ(r.results.at(0).error_code, err(error_code::group_id_not_found));
}

// Commits are records of __consumer_offsets: a clean restart and a SIGKILL both keep what was
// acknowledged.
TEST(group_offsets_restart, commits_survive_stop_start_and_sigkill) {
    broker_process broker({"--group-initial-rebalance-delay", "0"});
    ASSERT_EQ(broker.start(), "");
    const std::string topic = unique_topic("durable");
    const std::string simple = unique_group("durable-simple");
    const std::string consumer = unique_group("durable-consumer");
    {
        kafka_client c(broker.port());
        ASSERT_EQ(create_topic(c, topic, 2).error_code, 0);
        ASSERT_TRUE(wait_coordinator(c, simple));
        ASSERT_TRUE(wait_coordinator(c, consumer));
        EXPECT_EQ(commit_v2(c, simple, topic, 0, 100, "v2"), 0);
        EXPECT_EQ(commit(c, simple, topic, 1, 101, {.metadata = "v8", .leader_epoch = 4}), 0);
        auto m = form_group(c, consumer, {topic}, "a");
        ASSERT_FALSE(m.member_id.empty());
        EXPECT_EQ(commit(c, consumer, topic, 0, 200,
                         {.generation = m.generation, .member_id = m.member_id}),
                  0);
    }
    auto check = [&](const char* when, int64_t simple1) {
        kafka_client c(broker.port());
        ASSERT_TRUE(wait_coordinator(c, simple)) << when;
        ASSERT_TRUE(wait_coordinator(c, consumer)) << when;
        auto f = fetch_offset(c, simple, topic, 0);
        EXPECT_EQ(f.offset, 100) << when;
        EXPECT_EQ(f.metadata, "v2") << when;
        f = fetch_offset(c, simple, topic, 1);
        EXPECT_EQ(f.offset, simple1) << when;
        EXPECT_EQ(f.leader_epoch, 4) << when;
        EXPECT_EQ(fetch_offset(c, consumer, topic, 0).offset, 200) << when;
    };
    ASSERT_EQ(broker.stop(), 0) << broker.output();
    ASSERT_EQ(broker.start(), "");
    check("after a clean restart", 101);
    {
        kafka_client c(broker.port());
        // The consumer group came back with its member (Stable): a simple commit is refused.
        EXPECT_EQ(commit(c, consumer, topic, 1, 1), err(error_code::unknown_member_id));
        EXPECT_EQ(commit(c, simple, topic, 1, 102, {.metadata = "v8", .leader_epoch = 4}), 0);
    }
    broker.kill();
    ASSERT_EQ(broker.start(), "");
    check("after SIGKILL", 102);
    EXPECT_TRUE(broker.alive());
}

// Kafka's cleanupGroupMetadata, every --offsets-retention-check-interval: an empty group without
// offsets goes; an empty group that still has offsets (not yet expired) stays.
TEST(group_cleanup, empty_groups_without_offsets_go_at_the_check_interval) {
    broker_process broker(
        {"--group-initial-rebalance-delay", "0", "--offsets-retention-check-interval", "300ms"});
    ASSERT_EQ(broker.start(), "");
    kafka_client c(broker.port());
    const std::string topic = unique_topic("cleanup");
    const std::string emptied = unique_group("cleanup-emptied");
    const std::string kept = unique_group("cleanup-kept");
    ASSERT_EQ(create_topic(c, topic, 1).error_code, 0);
    ASSERT_TRUE(wait_coordinator(c, emptied));
    ASSERT_TRUE(wait_coordinator(c, kept));
    EXPECT_EQ(commit(c, kept, topic, 0, 7), 0);
    auto m = form_group(c, emptied, {topic}, "p0");
    ASSERT_FALSE(m.member_id.empty());
    leave_group_request leave;
    leave.group_id = emptied;
    leave.member_id = m.member_id;
    ASSERT_EQ(c.call(leave, 0).error_code, 0);

    auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(15);
    while (listed_state(c, emptied) != "" && std::chrono::steady_clock::now() < deadline) {
        std::this_thread::sleep_for(std::chrono::milliseconds(50));
    }
    EXPECT_EQ(listed_state(c, emptied), "") << "the emptied group was never cleaned up";
    // Several more sweeps: the group with an offset is still there, offset and all.
    std::this_thread::sleep_for(std::chrono::milliseconds(1000));
    EXPECT_EQ(listed_state(c, kept), "Empty");
    EXPECT_EQ(fetch_offset(c, kept, topic, 0).offset, 7);
    EXPECT_TRUE(broker.alive()) << broker.output();
}

}  // namespace
}  // namespace wharf::kafka::test
