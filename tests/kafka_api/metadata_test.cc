// Metadata v0, v4, v9 and v12 against the real broker.

#include <gtest/gtest.h>

#include "tests/kafka_api/api_test_util.h"

namespace wharf::kafka::test {
namespace {

using metadata = shared_broker_test;
using metadata_topic = metadata_response::metadata_response_topic;

metadata_request by_names(std::vector<std::string> names, bool allow_create = false) {
    metadata_request req;
    for (auto& n : names) req.topics->push_back({.name = std::move(n)});
    req.allow_auto_topic_creation = allow_create;
    return req;
}

const metadata_topic* find(const metadata_response& r, const std::string& name) {
    for (const auto& t : r.topics) {
        if (t.name == name) return &t;
    }
    return nullptr;
}

void expect_single_broker_layout(const metadata_topic& t, int32_t partitions, int32_t node) {
    EXPECT_EQ(t.error_code, 0);
    ASSERT_EQ(t.partitions.size(), size_t(partitions));
    for (int32_t i = 0; i < partitions; ++i) {
        const auto& p = t.partitions[size_t(i)];
        EXPECT_EQ(p.error_code, 0);
        EXPECT_EQ(p.partition_index, i);
        EXPECT_EQ(p.leader_id, node);
        EXPECT_EQ(p.replica_nodes, std::vector<int32_t>{node});
        EXPECT_EQ(p.isr_nodes, std::vector<int32_t>{node});
    }
}

TEST_F(metadata, v0_names_topics_and_lists_all_for_an_empty_list) {
    std::string topic = unique_topic("md0");
    ASSERT_EQ(create_topic(client(), topic, 3).error_code, 0);
    auto resp = client().call(by_names({topic}, true), 0);
    ASSERT_EQ(resp.brokers.size(), 1u);
    EXPECT_EQ(resp.brokers[0].port, port());
    EXPECT_EQ(resp.brokers[0].host, "127.0.0.1");
    ASSERT_EQ(resp.topics.size(), 1u);
    expect_single_broker_layout(resp.topics[0], 3, resp.brokers[0].node_id);
    // v0 has no null list: an empty one means every topic.
    auto all = client().call(by_names({}), 0);
    EXPECT_NE(find(all, topic), nullptr);
}

TEST_F(metadata, v4_without_auto_creation_answers_unknown_and_creates_nothing) {
    std::string topic = unique_topic("md4-missing");
    auto resp = client().call(by_names({topic}, false), 4);
    ASSERT_EQ(resp.topics.size(), 1u);
    EXPECT_EQ(resp.topics[0].error_code, err(error_code::unknown_topic_or_partition));
    EXPECT_EQ(resp.topics[0].name, topic);
    EXPECT_TRUE(resp.topics[0].partitions.empty());
    metadata_request all;
    all.topics.reset();
    EXPECT_EQ(find(client().call(all, 12), topic), nullptr) << "the topic was created";
    // The controller (v1+) and the cluster id (v2+) are this broker's.
    ASSERT_EQ(resp.brokers.size(), 1u);
    EXPECT_EQ(resp.controller_id, resp.brokers[0].node_id);
    EXPECT_TRUE(resp.cluster_id.has_value());
}

TEST_F(metadata, v9_flexible_describes_an_existing_topic) {
    std::string topic = unique_topic("md9");
    ASSERT_EQ(create_topic(client(), topic, 2).error_code, 0);
    auto resp = client().call(by_names({topic}), 9);
    ASSERT_EQ(resp.topics.size(), 1u);
    ASSERT_EQ(resp.brokers.size(), 1u);
    expect_single_broker_layout(resp.topics[0], 2, resp.brokers[0].node_id);
    for (const auto& p : resp.topics[0].partitions) EXPECT_GE(p.leader_epoch, 0);
}

TEST_F(metadata, v12_topic_ids_are_present_and_stable_and_null_means_all) {
    std::string a = unique_topic("md12a");
    std::string b = unique_topic("md12b");
    auto created = create_topic(client(), a, 1);
    ASSERT_EQ(created.error_code, 0);
    ASSERT_EQ(create_topic(client(), b, 1).error_code, 0);
    auto first = client().call(by_names({a, b}), 12);
    ASSERT_EQ(first.topics.size(), 2u);
    EXPECT_FALSE(first.topics[0].topic_id.is_nil());
    EXPECT_FALSE(first.topics[1].topic_id.is_nil());
    EXPECT_NE(first.topics[0].topic_id, first.topics[1].topic_id);
    EXPECT_EQ(first.topics[0].topic_id, created.topic_id) << "CreateTopics and Metadata disagree";

    metadata_request all;
    all.topics.reset();
    auto second = client().call(all, 12);
    const metadata_topic* ta = find(second, a);
    const metadata_topic* tb = find(second, b);
    ASSERT_NE(ta, nullptr);
    ASSERT_NE(tb, nullptr);
    EXPECT_EQ(ta->topic_id, first.topics[0].topic_id);
    EXPECT_EQ(tb->topic_id, first.topics[1].topic_id);

    // v10+ may ask by id (a null name).
    metadata_request by_id;
    by_id.topics->push_back({.topic_id = ta->topic_id, .name = std::nullopt});
    auto third = client().call(by_id, 12);
    ASSERT_EQ(third.topics.size(), 1u);
    EXPECT_EQ(third.topics[0].error_code, 0);
    EXPECT_EQ(third.topics[0].name, a);
    uuid unknown;
    unknown.bytes[0] = 0x42;
    unknown.bytes[15] = 0x17;
    by_id.topics->at(0).topic_id = unknown;
    auto fourth = client().call(by_id, 12);
    ASSERT_EQ(fourth.topics.size(), 1u);
    EXPECT_EQ(fourth.topics[0].error_code, err(error_code::unknown_topic_id));
}

TEST_F(metadata, invalid_names_get_invalid_topic_exception) {
    for (int16_t v : {0, 4, 12}) {
        SCOPED_TRACE("Metadata v" + std::to_string(v));
        for (std::string name :
             {std::string("bad name!"), std::string(300, 'x'), std::string(".."), std::string()}) {
            auto resp = client().call(by_names({name}, true), v);
            ASSERT_EQ(resp.topics.size(), 1u);
            EXPECT_EQ(resp.topics[0].error_code, err(error_code::invalid_topic_exception))
                << "name '" << name << "'";
        }
    }
}

}  // namespace
}  // namespace wharf::kafka::test
