// Fetch (v4 and v13) against the real broker: records, limits, long polling, leader epochs and
// sessions.

#include <gtest/gtest.h>

#include <chrono>
#include <cstring>
#include <thread>

#include "tests/kafka_api/api_test_util.h"

namespace wharf::kafka::test {
namespace {

using fetch_api = shared_broker_test;
using std::chrono::milliseconds;
using std::chrono::steady_clock;

// The batch as the leader stores it: the producer's bytes with baseOffset stamped (the
// partitionLeaderEpoch, bytes 12-15, is stamped too and compared apart).
void expect_stored_batch(std::string_view got, std::string_view sent, int64_t base_offset) {
    ASSERT_EQ(got.size(), sent.size());
    int64_t stored = 0;
    for (int i = 0; i < 8; ++i) stored = (stored << 8) | static_cast<uint8_t>(got[size_t(i)]);
    EXPECT_EQ(stored, base_offset);
    EXPECT_EQ(got.substr(8, 4), sent.substr(8, 4)) << "batchLength";
    EXPECT_EQ(got.substr(16), sent.substr(16)) << "bytes from the magic on differ";
}

int32_t leader_epoch_of(kafka_client& c, const std::string& topic) {
    metadata_request req;
    req.topics->push_back({.name = topic});
    req.allow_auto_topic_creation = false;
    auto resp = c.call(req, 12);
    return resp.topics.at(0).partitions.at(0).leader_epoch;
}

fetch_request by_id(fetch_request req, uuid id) {
    req.topics[0].topic.clear();
    req.topics[0].topic_id = id;
    return req;
}

TEST_F(fetch_api, records_come_back_as_produced_at_v4_and_v13) {
    std::string topic = unique_topic("fetch");
    ASSERT_EQ(create_topic(client(), topic).error_code, 0);
    uuid id = topic_id_of(client(), topic);
    std::string b1 = bytes_of(make_batch({"one", "two"}));
    std::string b2 = bytes_of(make_batch({"three"}));
    ASSERT_EQ(produce(client(), topic, 0, iobuf::copy_of(b1.data(), b1.size())).base_offset, 0);
    ASSERT_EQ(produce(client(), topic, 0, iobuf::copy_of(b2.data(), b2.size())).base_offset, 2);
    for (int16_t v : {4, 13}) {
        SCOPED_TRACE("Fetch v" + std::to_string(v));
        fetch_request req = fetch_of(topic, 0, 0);
        if (v >= 13) req = by_id(std::move(req), id);
        auto resp = client().call(req, v);
        EXPECT_EQ(resp.error_code, 0);
        if (v >= 13) {
            EXPECT_EQ(resp.responses.at(0).topic_id, id);
        }
        if (v < 13) {
            EXPECT_EQ(resp.responses.at(0).topic, topic);
        }
        const auto& p = only_partition(resp);
        EXPECT_EQ(p.error_code, 0);
        EXPECT_EQ(p.high_watermark, 3);
        EXPECT_EQ(p.last_stable_offset, 3);
        if (v >= 5) {
            EXPECT_EQ(p.log_start_offset, 0);  // from v5
        }
        ASSERT_TRUE(p.records.has_value());
        std::string got = bytes_of(*p.records);
        ASSERT_EQ(got.size(), b1.size() + b2.size());
        expect_stored_batch(std::string_view(got).substr(0, b1.size()), b1, 0);
        expect_stored_batch(std::string_view(got).substr(b1.size()), b2, 2);
        // From inside the first batch: Kafka returns the whole batch holding the offset.
        req.topics[0].partitions[0].fetch_offset = 1;
        got = bytes_of(*only_partition(client().call(req, v)).records);
        EXPECT_EQ(got.size(), b1.size() + b2.size());
        req.topics[0].partitions[0].fetch_offset = 2;
        got = bytes_of(*only_partition(client().call(req, v)).records);
        expect_stored_batch(got, b2, 2);
    }
}

TEST_F(fetch_api, unknown_topic_id_and_offsets_out_of_range) {
    std::string topic = unique_topic("fetch-range");
    ASSERT_EQ(create_topic(client(), topic).error_code, 0);
    ASSERT_EQ(produce(client(), topic, 0, make_batch({"a", "b"})).error_code, 0);
    uuid unknown;
    unknown.bytes[3] = 0x99;
    auto u = client().call(by_id(fetch_of(topic, 0, 0), unknown), 13);
    EXPECT_EQ(only_partition(u).error_code, err(error_code::unknown_topic_id));
    EXPECT_EQ(only_partition(client().call(fetch_of(unique_topic("nope"), 0, 0), 4)).error_code,
              err(error_code::unknown_topic_or_partition));
    uuid id = topic_id_of(client(), topic);
    for (int16_t v : {4, 13}) {
        SCOPED_TRACE("Fetch v" + std::to_string(v));
        auto at = [&](int64_t offset) {
            fetch_request req = fetch_of(topic, 0, offset);
            if (v >= 13) req = by_id(std::move(req), id);
            return client().call(req, v);
        };
        auto end = at(2);  // the high watermark: nothing yet, no error
        EXPECT_EQ(only_partition(end).error_code, 0);
        EXPECT_EQ(records_bytes(only_partition(end)), 0u);
        EXPECT_EQ(only_partition(at(3)).error_code, err(error_code::offset_out_of_range));
        EXPECT_EQ(only_partition(at(1000)).error_code, err(error_code::offset_out_of_range));
        EXPECT_EQ(only_partition(at(-1)).error_code, err(error_code::offset_out_of_range));
    }
}

TEST_F(fetch_api, partition_and_response_limits_keep_the_first_batch) {
    std::string topic = unique_topic("fetch-limits");
    ASSERT_EQ(create_topic(client(), topic, 2).error_code, 0);
    std::string big = std::string(3000, 'q');
    for (int32_t p : {0, 1}) {
        ASSERT_EQ(produce(client(), topic, p, make_batch({big})).error_code, 0);
        ASSERT_EQ(produce(client(), topic, p, make_batch({big})).error_code, 0);
    }
    size_t batch_bytes = make_batch({big}).size();
    for (int16_t v : {4, 13}) {
        SCOPED_TRACE("Fetch v" + std::to_string(v));
        uuid id = topic_id_of(client(), topic);
        auto call = [&](fetch_request req) {
            if (v >= 13) req = by_id(std::move(req), id);
            return client().call(req, v);
        };
        // partition_max_bytes below one batch: that first batch still comes.
        auto one = records_bytes(only_partition(call(fetch_of(topic, 0, 0, 1))));
        EXPECT_EQ(one, batch_bytes);
        // Room for one batch and a half: one batch.
        auto r = call(fetch_of(topic, 0, 0, int32_t(batch_bytes + batch_bytes / 2)));
        EXPECT_EQ(records_bytes(only_partition(r)), batch_bytes);
        auto all = call(fetch_of(topic, 0, 0, 1 << 20));
        EXPECT_EQ(records_bytes(only_partition(all)), 2 * batch_bytes);

        // max_bytes of 1 over two partitions: the first partition's first batch, nothing more.
        fetch_request two = fetch_of(topic, 0, 0);
        two.topics[0].partitions.push_back(two.topics[0].partitions[0]);
        two.topics[0].partitions[1].partition = 1;
        two.max_bytes = 1;
        auto resp = call(two);
        ASSERT_EQ(resp.responses.size(), 1u);
        ASSERT_EQ(resp.responses[0].partitions.size(), 2u);
        EXPECT_EQ(resp.responses[0].partitions[0].error_code, 0);
        EXPECT_EQ(records_bytes(resp.responses[0].partitions[0]), batch_bytes);
        EXPECT_EQ(resp.responses[0].partitions[1].error_code, 0);
        EXPECT_EQ(records_bytes(resp.responses[0].partitions[1]), 0u);
    }
}

TEST_F(fetch_api, long_poll_wakes_on_produce_and_times_out_empty) {
    std::string topic = unique_topic("fetch-poll");
    ASSERT_EQ(create_topic(client(), topic).error_code, 0);
    kafka_client producer(port());
    for (int16_t v : {4, 13}) {
        SCOPED_TRACE("Fetch v" + std::to_string(v));
        int64_t end = list_offset(client(), topic, 0, -1).offset;
        fetch_request req = fetch_of(topic, 0, end);
        if (v >= 13) req = by_id(std::move(req), topic_id_of(client(), topic));
        req.max_wait_ms = 5000;
        req.min_bytes = 1;
        auto start = steady_clock::now();
        int32_t id = client().send(req, v);
        // Let the fetch park (its correctness does not depend on it).
        std::this_thread::sleep_for(milliseconds(200));
        ASSERT_EQ(produce(producer, topic, 0, make_batch({"wake up"})).error_code, 0);
        auto resp = client().receive<fetch_response>(v, id);
        auto took = steady_clock::now() - start;
        EXPECT_LT(took, milliseconds(3000));
        EXPECT_EQ(only_partition(resp).error_code, 0);
        EXPECT_GT(records_bytes(only_partition(resp)), 0u);

        // Nothing arrives: an empty answer after about max_wait_ms.
        req.topics[0].partitions[0].fetch_offset = end + 1;
        req.max_wait_ms = 1500;
        start = steady_clock::now();
        auto empty = client().call(req, v);
        took = steady_clock::now() - start;
        EXPECT_GE(took, milliseconds(1350));
        EXPECT_LT(took, milliseconds(5000));
        EXPECT_EQ(only_partition(empty).error_code, 0);
        EXPECT_EQ(records_bytes(only_partition(empty)), 0u);
    }
}

TEST_F(fetch_api, leader_epochs_are_checked) {
    std::string topic = unique_topic("fetch-epoch");
    ASSERT_EQ(create_topic(client(), topic).error_code, 0);
    ASSERT_EQ(produce(client(), topic, 0, make_batch({"e"})).error_code, 0);
    int32_t epoch = leader_epoch_of(client(), topic);
    // Wharf's leader epoch is its raft term, at least 1 once elected: a smaller one exists.
    ASSERT_GE(epoch, 1);
    for (int16_t v : {9, 13}) {
        SCOPED_TRACE("Fetch v" + std::to_string(v));
        auto with_epoch = [&](int32_t e) {
            fetch_request req = fetch_of(topic, 0, 0);
            if (v >= 13) req = by_id(std::move(req), topic_id_of(client(), topic));
            req.topics[0].partitions[0].current_leader_epoch = e;
            return only_partition(client().call(req, v)).error_code;
        };
        EXPECT_EQ(with_epoch(epoch), 0);
        EXPECT_EQ(with_epoch(-1), 0);
        EXPECT_EQ(with_epoch(epoch + 1), err(error_code::unknown_leader_epoch));
        EXPECT_EQ(with_epoch(epoch - 1), err(error_code::fenced_leader_epoch));
    }
}

TEST_F(fetch_api, a_session_id_is_not_found) {
    std::string topic = unique_topic("fetch-session");
    ASSERT_EQ(create_topic(client(), topic).error_code, 0);
    for (int16_t v : {7, 13}) {
        fetch_request req = fetch_of(topic, 0, 0);
        if (v >= 13) req = by_id(std::move(req), topic_id_of(client(), topic));
        req.session_id = 12345;
        req.session_epoch = 1;
        auto resp = client().call(req, v);
        EXPECT_EQ(resp.error_code, err(error_code::fetch_session_id_not_found)) << "v" << v;
        // v4 has no sessions: the fields are not sent, and the fetch is served.
    }
    auto old = client().call(fetch_of(topic, 0, 0), 4);
    EXPECT_EQ(old.error_code, 0);
}

}  // namespace
}  // namespace wharf::kafka::test
