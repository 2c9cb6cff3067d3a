// ListOffsets (v1, v8), OffsetForLeaderEpoch (v2-v4, and the end of an earlier epoch with Fetch
// v12's DivergingEpoch) and DeleteRecords (v0-v2) against the real broker.

#include <gtest/gtest.h>

#include "tests/kafka_api/api_test_util.h"
#include "tests/kafka_api/broker_process.h"

namespace wharf::kafka::test {
namespace {

using list_offsets = shared_broker_test;
using offset_for_leader_epoch = shared_broker_test;
using delete_records = shared_broker_test;

constexpr int64_t t0 = 1'700'000'000'000;

// Three batches: offsets 0-2 at t0+0..2, 3-4 at t0+5000..5001 (the maximum), 5 at t0+2000.
void produce_timed(kafka_client& c, const std::string& topic) {
    ASSERT_EQ(
        produce(c, topic, 0, make_batch({"a", "b", "c"}, {.base_timestamp_ms = t0})).base_offset,
        0);
    ASSERT_EQ(
        produce(c, topic, 0, make_batch({"d", "e"}, {.base_timestamp_ms = t0 + 5000})).base_offset,
        3);
    ASSERT_EQ(produce(c, topic, 0, make_batch({"f"}, {.base_timestamp_ms = t0 + 2000})).base_offset,
              5);
}

TEST_F(list_offsets, earliest_latest_and_by_timestamp_at_v1_and_v8) {
    std::string topic = unique_topic("lo");
    ASSERT_EQ(create_topic(client(), topic).error_code, 0);
    for (int16_t v : {1, 8}) {
        auto empty = list_offset(client(), topic, 0, -1, v);
        EXPECT_EQ(empty.error_code, 0);
        EXPECT_EQ(empty.offset, 0);
        EXPECT_EQ(list_offset(client(), topic, 0, -2, v).offset, 0);
    }
    produce_timed(client(), topic);
    for (int16_t v : {1, 8}) {
        SCOPED_TRACE("ListOffsets v" + std::to_string(v));
        auto earliest = list_offset(client(), topic, 0, -2, v);
        EXPECT_EQ(earliest.error_code, 0);
        EXPECT_EQ(earliest.offset, 0);
        EXPECT_EQ(earliest.timestamp, -1);
        auto latest = list_offset(client(), topic, 0, -1, v);
        EXPECT_EQ(latest.offset, 6);
        EXPECT_EQ(latest.timestamp, -1);
        // The first record whose timestamp is at or after the target (Kafka's
        // FileRecords.searchForTimestamp reads the records of the batch).
        auto first = list_offset(client(), topic, 0, t0, v);
        EXPECT_EQ(first.offset, 0);
        EXPECT_EQ(first.timestamp, t0);
        auto inside = list_offset(client(), topic, 0, t0 + 1, v);
        EXPECT_EQ(inside.offset, 1);
        EXPECT_EQ(inside.timestamp, t0 + 1);
        auto later = list_offset(client(), topic, 0, t0 + 3, v);
        EXPECT_EQ(later.offset, 3);
        EXPECT_EQ(later.timestamp, t0 + 5000);
        auto none = list_offset(client(), topic, 0, t0 + 9000, v);
        EXPECT_EQ(none.error_code, 0);
        EXPECT_EQ(none.offset, -1);
        EXPECT_EQ(none.timestamp, -1);
        auto unknown = list_offset(client(), unique_topic("lo-missing"), 0, -1, v);
        EXPECT_EQ(unknown.error_code, err(error_code::unknown_topic_or_partition));
    }
    // Max timestamp (-3, KIP-734) from v7: the record holding the greatest timestamp.
    auto max = list_offset(client(), topic, 0, -3, 8);
    EXPECT_EQ(max.error_code, 0);
    EXPECT_EQ(max.offset, 4);
    EXPECT_EQ(max.timestamp, t0 + 5001);
    EXPECT_GE(max.leader_epoch, 0);

    // The maximum inside a batch, before its last record: offsets 6-8 at t0+9000, t0+9500
    // (the new maximum), t0+9100. Kafka (3.8+, KAFKA-16310) answers that record, not the batch.
    ASSERT_EQ(produce(client(), topic, 0,
                      make_batch({"g", "h", "i"}, {.base_timestamp_ms = t0 + 9000,
                                                   .timestamp_deltas = {0, 500, 100}}))
                  .base_offset,
              6);
    max = list_offset(client(), topic, 0, -3, 8);
    EXPECT_EQ(max.offset, 7);
    EXPECT_EQ(max.timestamp, t0 + 9500);
    auto after = list_offset(client(), topic, 0, t0 + 9050, 8);
    EXPECT_EQ(after.offset, 7);
    EXPECT_EQ(after.timestamp, t0 + 9500);
}

TEST_F(offset_for_leader_epoch, the_current_epoch_ends_at_the_log_end) {
    std::string topic = unique_topic("ofle");
    ASSERT_EQ(create_topic(client(), topic).error_code, 0);
    ASSERT_EQ(produce(client(), topic, 0, make_batch({"a", "b", "c"})).error_code, 0);
    metadata_request md;
    md.topics->push_back({.name = topic});
    int32_t epoch = client().call(md, 12).topics.at(0).partitions.at(0).leader_epoch;
    ASSERT_GE(epoch, 0);
    for (int16_t v : {2, 3, 4}) {
        SCOPED_TRACE("OffsetForLeaderEpoch v" + std::to_string(v));
        auto ask = [&](int32_t leader_epoch, int32_t current) {
            return epoch_end_of(client(), topic, leader_epoch, current, v);
        };
        auto r = ask(epoch, epoch);
        EXPECT_EQ(r.error_code, 0);
        EXPECT_EQ(r.leader_epoch, epoch);
        EXPECT_EQ(r.end_offset, 3);
        auto unknown_epoch = ask(epoch + 5, -1);
        EXPECT_EQ(unknown_epoch.error_code, 0);
        EXPECT_EQ(unknown_epoch.leader_epoch, -1);
        EXPECT_EQ(unknown_epoch.end_offset, -1);
        EXPECT_EQ(ask(epoch, epoch + 1).error_code, err(error_code::unknown_leader_epoch));
    }
}

// A restart makes the partition's raft group elect itself again in a later term, so the log
// holds two leader epochs: the earlier one ends where the later one's first batch begins, for
// OffsetForLeaderEpoch and for Fetch v12's LastFetchedEpoch (DivergingEpoch, KIP-320).
TEST(offset_for_leader_epoch_across_epochs, earlier_epochs_end_where_the_next_began) {
    broker_process broker;
    ASSERT_EQ(broker.start(), "");
    auto c = std::make_unique<kafka_client>(broker.port());
    std::string topic = unique_topic("ofle-epochs");
    ASSERT_EQ(create_topic(*c, topic).error_code, 0);
    ASSERT_EQ(produce(*c, topic, 0, make_batch({"a", "b", "c"})).error_code, 0);
    auto epoch_now = [&] {
        metadata_request md;
        md.topics->push_back({.name = topic});
        return c->call(md, 12).topics.at(0).partitions.at(0).leader_epoch;
    };
    const int32_t first = epoch_now();
    c.reset();
    ASSERT_EQ(broker.stop(), 0) << broker.output();
    ASSERT_EQ(broker.start(), "");
    c = std::make_unique<kafka_client>(broker.port());
    const int32_t second = epoch_now();
    ASSERT_GT(second, first);
    ASSERT_EQ(produce(*c, topic, 0, make_batch({"d", "e"})).base_offset, 3);

    auto ask = [&](int32_t leader_epoch) {
        return epoch_end_of(*c, topic, leader_epoch, second, 4);
    };
    auto older = ask(first);
    EXPECT_EQ(older.error_code, 0);
    EXPECT_EQ(older.leader_epoch, first);
    EXPECT_EQ(older.end_offset, 3) << "the first epoch ended where the second began";
    // An epoch between the two that holds no batch: answered for the one before it.
    if (second - first > 1) {
        auto between = ask(first + 1);
        EXPECT_EQ(between.leader_epoch, first);
        EXPECT_EQ(between.end_offset, 3);
    }
    auto before_all = ask(first - 1);
    EXPECT_EQ(before_all.leader_epoch, first - 1);
    EXPECT_EQ(before_all.end_offset, 0);
    auto current = ask(second);
    EXPECT_EQ(current.leader_epoch, second);
    EXPECT_EQ(current.end_offset, 5);

    // A consumer that read epoch `first` up to offset 4 diverged at 3; one at 3 did not.
    auto fetch_after = [&](int64_t offset, int32_t last_fetched) {
        fetch_request req = fetch_of(topic, 0, offset);
        req.topics.at(0).partitions.at(0).current_leader_epoch = second;
        req.topics.at(0).partitions.at(0).last_fetched_epoch = last_fetched;
        return c->call(req, 12);
    };
    auto diverged = fetch_after(4, first);
    const auto& d = only_partition(diverged);
    EXPECT_EQ(d.error_code, 0);
    EXPECT_EQ(d.diverging_epoch.epoch, first);
    EXPECT_EQ(d.diverging_epoch.end_offset, 3);
    EXPECT_EQ(records_bytes(d), 0u);
    for (auto [offset, last_fetched] : {std::pair{3, first}, std::pair{4, second}}) {
        auto resp = fetch_after(offset, last_fetched);
        const auto& p = only_partition(resp);
        EXPECT_EQ(p.error_code, 0);
        EXPECT_EQ(p.diverging_epoch.end_offset, -1) << "offset " << offset;
        EXPECT_GT(records_bytes(p), 0u) << "offset " << offset;
    }
    c.reset();
    EXPECT_EQ(broker.stop(), 0) << broker.output();
}

TEST_F(delete_records, moves_the_low_watermark_at_v0_to_v2) {
    for (int16_t v : {0, 1, 2}) {
        SCOPED_TRACE("DeleteRecords v" + std::to_string(v));
        std::string topic = unique_topic("dr");
        ASSERT_EQ(create_topic(client(), topic).error_code, 0);
        for (int i = 0; i < 3; ++i) {
            ASSERT_EQ(produce(client(), topic, 0, make_batch({"x"})).error_code, 0);
        }
        ASSERT_EQ(produce(client(), topic, 0, make_batch({"a", "b", "c"})).error_code, 0);
        auto del = [&](int64_t offset) {
            delete_records_request req;
            req.timeout_ms = 10000;
            auto& t = req.topics.emplace_back();
            t.name = topic;
            t.partitions.push_back({.partition_index = 0, .offset = offset});
            return client().call(req, v).topics.at(0).partitions.at(0);
        };
        auto r = del(2);
        EXPECT_EQ(r.error_code, 0);
        EXPECT_EQ(r.low_watermark, 2);
        EXPECT_EQ(list_offset(client(), topic, 0, -2).offset, 2);
        EXPECT_EQ(only_partition(client().call(fetch_of(topic, 0, 1), 4)).error_code,
                  err(error_code::offset_out_of_range));
        auto from2 = client().call(fetch_of(topic, 0, 2), 11);  // log_start_offset from v5
        EXPECT_EQ(only_partition(from2).error_code, 0);
        EXPECT_EQ(only_partition(from2).log_start_offset, 2);
        // Inside a batch (offsets 3-5): the low watermark is exactly the offset asked.
        r = del(4);
        EXPECT_EQ(r.error_code, 0);
        EXPECT_EQ(r.low_watermark, 4);
        EXPECT_EQ(list_offset(client(), topic, 0, -2).offset, 4);
        EXPECT_EQ(only_partition(client().call(fetch_of(topic, 0, 3), 4)).error_code,
                  err(error_code::offset_out_of_range));
        // At or below the low watermark: nothing moves.
        EXPECT_EQ(del(1).low_watermark, 4);
        EXPECT_EQ(del(7).error_code, err(error_code::offset_out_of_range));
        // -1: up to the high watermark.
        r = del(-1);
        EXPECT_EQ(r.error_code, 0);
        EXPECT_EQ(r.low_watermark, 6);
        EXPECT_EQ(list_offset(client(), topic, 0, -2).offset, 6);
        EXPECT_EQ(list_offset(client(), topic, 0, -1).offset, 6);
    }
}

}  // namespace
}  // namespace wharf::kafka::test
