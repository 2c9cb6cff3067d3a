// CreateTopics (v2, v7), DeleteTopics (v1, v6) and CreatePartitions (v0, v3) against the real
// broker.

#include <gtest/gtest.h>

#include "tests/kafka_api/api_test_util.h"

namespace wharf::kafka::test {
namespace {

using create_topics = shared_broker_test;
using delete_topics = shared_broker_test;
using create_partitions = shared_broker_test;
using creatable = create_topics_request::creatable_topic;

creatable topic_of(std::string name, int32_t partitions, int16_t rf = 1) {
    creatable t;
    t.name = std::move(name);
    t.num_partitions = partitions;
    t.replication_factor = rf;
    return t;
}

create_topics_response create(kafka_client& c, std::vector<creatable> topics, int16_t v,
                              bool validate_only = false) {
    create_topics_request req;
    req.topics = std::move(topics);
    req.validate_only = validate_only;
    req.timeout_ms = 10000;
    return c.call(req, v);
}

// The partition count Metadata reports, or -1 for a topic it does not know.
int partitions_of(kafka_client& c, const std::string& topic) {
    metadata_request req;
    req.topics->push_back({.name = topic});
    req.allow_auto_topic_creation = false;
    auto resp = c.call(req, 12);
    if (resp.topics.size() != 1 || resp.topics[0].error_code != 0) return -1;
    return static_cast<int>(resp.topics[0].partitions.size());
}

TEST_F(create_topics, creates_at_v2_and_v7_and_v7_returns_id_and_configs) {
    for (int16_t v : {2, 7}) {
        SCOPED_TRACE("CreateTopics v" + std::to_string(v));
        std::string topic = unique_topic("ct");
        auto t = topic_of(topic, 3);
        t.configs.push_back({.name = "retention.ms", .value = "123456"});
        auto resp = create(client(), {t}, v);
        ASSERT_EQ(resp.topics.size(), 1u);
        const auto& r = resp.topics[0];
        EXPECT_EQ(r.name, topic);
        EXPECT_EQ(r.error_code, 0) << r.error_message.value_or("");
        EXPECT_EQ(partitions_of(client(), topic), 3);
        if (v >= 7) {
            EXPECT_FALSE(r.topic_id.is_nil());
            EXPECT_EQ(r.topic_id, topic_id_of(client(), topic));
        }
        if (v >= 5) {
            EXPECT_EQ(r.num_partitions, 3);
            EXPECT_EQ(r.replication_factor, 1);
            ASSERT_TRUE(r.configs.has_value());
            bool found = false;
            for (const auto& c : *r.configs) {
                if (c.name != "retention.ms") continue;
                found = true;
                EXPECT_EQ(c.value, "123456");
                EXPECT_EQ(c.config_source, 1);  // DYNAMIC_TOPIC_CONFIG
            }
            EXPECT_TRUE(found) << "retention.ms missing from the returned configs";
        }
    }
}

TEST_F(create_topics, validate_only_creates_nothing) {
    for (int16_t v : {2, 7}) {
        std::string topic = unique_topic("ct-validate");
        auto resp = create(client(), {topic_of(topic, 2)}, v, true);
        ASSERT_EQ(resp.topics.size(), 1u);
        EXPECT_EQ(resp.topics[0].error_code, 0);
        if (v >= 5) {
            EXPECT_EQ(resp.topics[0].num_partitions, 2);
        }
        EXPECT_EQ(partitions_of(client(), topic), -1) << "validate_only created " << topic;
    }
}

TEST_F(create_topics, refusals_carry_kafkas_error_codes) {
    for (int16_t v : {2, 7}) {
        SCOPED_TRACE("CreateTopics v" + std::to_string(v));
        std::string dup = unique_topic("ct-dup");
        auto resp = create(client(), {topic_of(dup, 1), topic_of(dup, 1)}, v);
        ASSERT_EQ(resp.topics.size(), 2u);
        EXPECT_EQ(resp.topics[0].error_code, err(error_code::invalid_request));
        EXPECT_EQ(resp.topics[1].error_code, err(error_code::invalid_request));
        EXPECT_EQ(partitions_of(client(), dup), -1);

        for (int32_t n : {0, -5}) {
            std::string topic = unique_topic("ct-parts");
            auto r = create(client(), {topic_of(topic, n)}, v);
            EXPECT_EQ(r.topics.at(0).error_code, err(error_code::invalid_partitions)) << n;
            EXPECT_EQ(partitions_of(client(), topic), -1);
        }
        std::string rf = unique_topic("ct-rf");
        EXPECT_EQ(create(client(), {topic_of(rf, 1, 3)}, v).topics.at(0).error_code,
                  err(error_code::invalid_replication_factor));

        std::string cfg = unique_topic("ct-cfg");
        auto t = topic_of(cfg, 1);
        t.configs.push_back({.name = "no.such.config", .value = "1"});
        EXPECT_EQ(create(client(), {t}, v).topics.at(0).error_code,
                  err(error_code::invalid_config));
        t.configs[0] = {.name = "retention.ms", .value = "not-a-number"};
        EXPECT_EQ(create(client(), {t}, v).topics.at(0).error_code,
                  err(error_code::invalid_config));
        EXPECT_EQ(partitions_of(client(), cfg), -1);

        std::string existing = unique_topic("ct-exists");
        ASSERT_EQ(create(client(), {topic_of(existing, 1)}, v).topics.at(0).error_code, 0);
        EXPECT_EQ(create(client(), {topic_of(existing, 4)}, v).topics.at(0).error_code,
                  err(error_code::topic_already_exists));
        EXPECT_EQ(partitions_of(client(), existing), 1);
    }
}

TEST_F(delete_topics, by_name_at_v1_and_v6_and_by_id_at_v6) {
    std::string a = unique_topic("dt-a");
    std::string b = unique_topic("dt-b");
    std::string c = unique_topic("dt-c");
    for (const auto& t : {a, b, c}) ASSERT_EQ(create_topic(client(), t).error_code, 0);
    uuid c_id = topic_id_of(client(), c);
    ASSERT_FALSE(c_id.is_nil());

    delete_topics_request v1;
    v1.topic_names = {a};
    v1.timeout_ms = 10000;
    auto r1 = client().call(v1, 1);
    ASSERT_EQ(r1.responses.size(), 1u);
    EXPECT_EQ(r1.responses[0].name, a);
    EXPECT_EQ(r1.responses[0].error_code, 0);
    EXPECT_EQ(partitions_of(client(), a), -1);

    delete_topics_request v6;
    v6.timeout_ms = 10000;
    v6.topics.push_back({.name = b});
    v6.topics.push_back({.name = std::nullopt, .topic_id = c_id});
    auto r6 = client().call(v6, 6);
    ASSERT_EQ(r6.responses.size(), 2u);
    EXPECT_EQ(r6.responses[0].error_code, 0);
    EXPECT_EQ(r6.responses[0].name, b);
    EXPECT_EQ(r6.responses[1].error_code, 0);
    EXPECT_EQ(r6.responses[1].name, c);
    EXPECT_EQ(r6.responses[1].topic_id, c_id);
    EXPECT_EQ(partitions_of(client(), b), -1);
    EXPECT_EQ(partitions_of(client(), c), -1);

    // Gone: by name UNKNOWN_TOPIC_OR_PARTITION, by id UNKNOWN_TOPIC_ID.
    EXPECT_EQ(client().call(v1, 1).responses.at(0).error_code,
              err(error_code::unknown_topic_or_partition));
    auto again = client().call(v6, 6);
    EXPECT_EQ(again.responses.at(0).error_code, err(error_code::unknown_topic_or_partition));
    EXPECT_EQ(again.responses.at(1).error_code, err(error_code::unknown_topic_id));
}

TEST_F(create_partitions, grows_at_v0_and_v3_and_refuses_to_shrink) {
    for (int16_t v : {0, 3}) {
        SCOPED_TRACE("CreatePartitions v" + std::to_string(v));
        std::string topic = unique_topic("cp");
        ASSERT_EQ(create_topic(client(), topic, 1).error_code, 0);
        auto call = [&](int32_t count, bool validate_only) {
            create_partitions_request req;
            req.timeout_ms = 10000;
            req.validate_only = validate_only;
            req.topics.push_back({.name = topic, .count = count, .assignments = std::nullopt});
            auto resp = client().call(req, v);
            EXPECT_EQ(resp.results.size(), 1u);
            EXPECT_EQ(resp.results.at(0).name, topic);
            return resp.results.at(0).error_code;
        };
        EXPECT_EQ(call(4, true), 0);
        EXPECT_EQ(partitions_of(client(), topic), 1) << "validate_only grew the topic";
        EXPECT_EQ(call(3, false), 0);
        EXPECT_EQ(partitions_of(client(), topic), 3);
        // A new partition takes data at once.
        EXPECT_EQ(produce(client(), topic, 2, make_batch({"x"})).error_code, 0);
        EXPECT_EQ(call(2, false), err(error_code::invalid_partitions));
        EXPECT_EQ(call(3, false), err(error_code::invalid_partitions));
        EXPECT_EQ(partitions_of(client(), topic), 3);
    }
    create_partitions_request req;
    req.topics.push_back(
        {.name = unique_topic("cp-missing"), .count = 2, .assignments = std::nullopt});
    EXPECT_EQ(client().call(req, 3).results.at(0).error_code,
              err(error_code::unknown_topic_or_partition));
}

}  // namespace
}  // namespace wharf::kafka::test
