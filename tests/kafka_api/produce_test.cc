// Produce (v3 and v10, and the v0-v2 refusal) against the real broker.

#include <gtest/gtest.h>

#include <chrono>
#include <thread>

#include "tests/kafka_api/api_test_util.h"

namespace wharf::kafka::test {
namespace {

using produce_api = shared_broker_test;

produce_request one_partition(const std::string& topic, int32_t partition, iobuf batch,
                              int16_t acks) {
    produce_request req;
    req.acks = acks;
    req.timeout_ms = 10000;
    auto& t = req.topic_data.emplace_back();
    t.name = topic;
    t.partition_data.push_back({.index = partition, .records = std::move(batch)});
    return req;
}

TEST_F(produce_api, acks_all_and_leader_append_in_order_at_v3_and_v10) {
    for (int16_t v : {3, 10}) {
        SCOPED_TRACE("Produce v" + std::to_string(v));
        std::string topic = unique_topic("prod");
        ASSERT_EQ(create_topic(client(), topic).error_code, 0);
        auto r1 = produce(client(), topic, 0, make_batch({"a", "b", "c"}), v, -1);
        EXPECT_EQ(r1.error_code, 0);
        EXPECT_EQ(r1.base_offset, 0);
        EXPECT_EQ(r1.log_append_time_ms, -1);  // CreateTime topic
        if (v >= 5) {
            EXPECT_EQ(r1.log_start_offset, 0);
        }
        auto r2 = produce(client(), topic, 0, make_batch({"d"}), v, 1);
        EXPECT_EQ(r2.error_code, 0);
        EXPECT_EQ(r2.base_offset, 3);
        EXPECT_EQ(list_offset(client(), topic, 0, -1).offset, 4);
    }
}

TEST_F(produce_api, acks_zero_gets_no_response_but_the_data_lands) {
    for (int16_t v : {3, 10}) {
        SCOPED_TRACE("Produce v" + std::to_string(v));
        std::string topic = unique_topic("prod-acks0");
        ASSERT_EQ(create_topic(client(), topic).error_code, 0);
        client().send(one_partition(topic, 0, make_batch({"fire", "forget"}), 0), v);
        // The next answer on the connection is the next request's: no Produce response.
        api_versions_request probe;
        probe.client_software_name = "wharf-api-test";
        probe.client_software_version = "1.0";
        int32_t id = client().send(probe, 3);
        EXPECT_EQ(client().receive<api_versions_response>(3, id).error_code, 0);
        auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(10);
        int64_t end = -1;
        while (std::chrono::steady_clock::now() < deadline) {
            end = list_offset(client(), topic, 0, -1).offset;
            if (end == 2) break;
            std::this_thread::sleep_for(std::chrono::milliseconds(20));
        }
        EXPECT_EQ(end, 2);
    }
}

TEST_F(produce_api, invalid_acks_and_unknown_partitions_are_refused) {
    std::string topic = unique_topic("prod-bad");
    ASSERT_EQ(create_topic(client(), topic).error_code, 0);
    for (int16_t v : {3, 10}) {
        SCOPED_TRACE("Produce v" + std::to_string(v));
        for (int16_t acks : {2, -2, 5}) {
            EXPECT_EQ(produce(client(), topic, 0, make_batch({"x"}), v, acks).error_code,
                      err(error_code::invalid_required_acks));
        }
        for (int32_t p : {1, 100, -1}) {
            auto r = produce(client(), topic, p, make_batch({"x"}), v);
            EXPECT_EQ(r.error_code, err(error_code::unknown_topic_or_partition)) << p;
            EXPECT_EQ(r.base_offset, -1);
        }
    }
    EXPECT_EQ(list_offset(client(), topic, 0, -1).offset, 0) << "a refused batch was written";
}

TEST_F(produce_api, a_batch_over_the_topics_max_message_bytes_is_message_too_large) {
    std::string topic = unique_topic("prod-large");
    auto created = create_topic(client(), topic, 1, {{"max.message.bytes", "200"}});
    ASSERT_EQ(created.error_code, 0) << created.error_message.value_or("");
    for (int16_t v : {3, 10}) {
        auto r = produce(client(), topic, 0, make_batch({std::string(500, 'z')}), v);
        EXPECT_EQ(r.error_code, err(error_code::message_too_large));
        EXPECT_EQ(produce(client(), topic, 0, make_batch({"small"}), v).error_code, 0);
    }
    EXPECT_EQ(list_offset(client(), topic, 0, -1).offset, 2);
}

TEST_F(produce_api, a_corrupt_crc_is_corrupt_message) {
    std::string topic = unique_topic("prod-crc");
    ASSERT_EQ(create_topic(client(), topic).error_code, 0);
    for (int16_t v : {3, 10}) {
        iobuf good = make_batch({"payload-one", "payload-two"});
        std::string bytes = bytes_of(good);
        bytes[bytes.size() - 3] ^= 0x5a;  // inside the last record, covered by the CRC
        auto r = produce(client(), topic, 0, iobuf::copy_of(bytes.data(), bytes.size()), v);
        EXPECT_EQ(r.error_code, err(error_code::corrupt_message));
    }
    EXPECT_EQ(list_offset(client(), topic, 0, -1).offset, 0);
}

TEST_F(produce_api, versions_below_3_are_unsupported_per_partition) {
    std::string topic = unique_topic("prod-old");
    ASSERT_EQ(create_topic(client(), topic).error_code, 0);
    for (int16_t v : {0, 1, 2}) {
        SCOPED_TRACE("Produce v" + std::to_string(v));
        produce_request req = one_partition(topic, 0, make_batch({"x"}), -1);
        req.topic_data[0].partition_data.push_back({.index = 7, .records = make_batch({"y"})});
        auto resp = client().call(req, v);
        ASSERT_EQ(resp.responses.size(), 1u);
        ASSERT_EQ(resp.responses[0].partition_responses.size(), 2u);
        for (const auto& p : resp.responses[0].partition_responses) {
            EXPECT_EQ(p.error_code, err(error_code::unsupported_version));
        }
    }
    EXPECT_EQ(list_offset(client(), topic, 0, -1).offset, 0);
}

}  // namespace
}  // namespace wharf::kafka::test
