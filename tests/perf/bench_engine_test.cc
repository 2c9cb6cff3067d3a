// The pure parts of wharf-bench's engines: the range assignor and the consumer protocol
// assignment, the delivery check, version negotiation, bootstrap parsing, the latency stamp, the
// sticky partitioner and the producer's reading of produce responses.
// The engines themselves run against the real broker in tests/kafka/bench_test.py.

#include <gtest/gtest.h>

#include <random>
#include <set>
#include <unordered_map>

#include "net/kafka/client/kafka_client.h"
#include "net/kafka/client/group_member.h"
#include "perf/lib/engine/producer.h"
#include "perf/lib/engine/stamp.h"
#include "perf/lib/engine/stats.h"

namespace wharf::perf {
namespace {

using namespace kafka::client;

TEST(bench_range_assignor, matches_kafkas_range_assignor) {
    // Kafka's RangeAssignorTest.testTwoConsumersOneTopicThreePartitions: the first member (by
    // member id) gets partitions 0 and 1, the second gets 2.
    auto a = range_assign({"consumer-b", "consumer-a"}, {{"t1", 3}});
    ASSERT_EQ(a.size(), 2u);
    EXPECT_EQ(a["consumer-a"], (std::vector<topic_partition>{{"t1", 0}, {"t1", 1}}));
    EXPECT_EQ(a["consumer-b"], (std::vector<topic_partition>{{"t1", 2}}));
    // Every topic is split on its own, so the first members get the extra partition of each.
    auto b = range_assign({"m1", "m2", "m3"}, {{"x", 4}, {"y", 2}});
    EXPECT_EQ(b["m1"], (std::vector<topic_partition>{{"x", 0}, {"x", 1}, {"y", 0}}));
    EXPECT_EQ(b["m2"], (std::vector<topic_partition>{{"x", 2}, {"y", 1}}));
    EXPECT_EQ(b["m3"], (std::vector<topic_partition>{{"x", 3}}));
    // More members than partitions: some get nothing but still get an (empty) assignment.
    auto c = range_assign({"a", "b", "c"}, {{"t", 1}});
    EXPECT_EQ(c.size(), 3u);
    EXPECT_TRUE(c["c"].empty());
}

TEST(bench_assignment, round_trips_and_matches_the_java_encoding) {
    std::vector<topic_partition> parts = {{"a", 0}, {"a", 2}, {"bb", 1}};
    iobuf encoded = encode_assignment(parts);
    // version 0, 2 topics: "a" [0, 2], "bb" [1], null user data.
    std::vector<uint8_t> expected = {0, 0, 0, 0, 0, 2, 0, 1,    'a',  0,    0,   0,   2,
                                     0, 0, 0, 0, 0, 0, 0, 2,    0,    2,    'b', 'b', 0,
                                     0, 0, 1, 0, 0, 0, 1, 0xff, 0xff, 0xff, 0xff};
    std::vector<uint8_t> got(encoded.size());
    encoded.copy_to(0, got.data(), got.size());
    EXPECT_EQ(got, expected);
    auto decoded = decode_assignment(std::move(encoded));
    ASSERT_TRUE(decoded);
    EXPECT_EQ(*decoded, parts);
    EXPECT_TRUE(decode_assignment(iobuf())->empty());
    std::vector<uint8_t> truncated(expected.begin(), expected.begin() + 10);
    EXPECT_FALSE(decode_assignment(iobuf::copy_of(truncated.data(), truncated.size())));
}

TEST(bench_delivery, counts_duplicates_and_missing_per_group_and_partition) {
    std::vector<uint64_t> acked = {10, 5};
    // group 0 exact; group 1: partition 0 one short, partition 1 two extra.
    std::vector<uint64_t> consumed = {10, 5, 9, 7};
    delivery d = check_delivery(acked, consumed, 2);
    EXPECT_EQ(d.acked_total, 15u);
    EXPECT_EQ(d.consumed_total, 31u);
    EXPECT_EQ(d.missing, 1u);
    EXPECT_EQ(d.duplicates, 2u);
    // A duplicate in one partition does not hide a loss in another.
    delivery e = check_delivery({3, 3}, {4, 2}, 1);
    EXPECT_EQ(e.duplicates, 1u);
    EXPECT_EQ(e.missing, 1u);
}

TEST(bench_versions, newest_common_version_within_what_the_engines_handle) {
    using kafka::api_key;
    // Fetch stops at 12 even when the broker serves 13 or more.
    EXPECT_EQ(kafka::client::choose_version(api_key::fetch, 0, 16), 12);
    EXPECT_EQ(kafka::client::choose_version(api_key::fetch, 0, 7), 7);
    // Produce needs v3 (record batch v2).
    EXPECT_EQ(kafka::client::choose_version(api_key::produce, 0, 2), -1);
    EXPECT_EQ(kafka::client::choose_version(api_key::produce, 0, 11), 10);
    // A broker whose oldest version is newer than this client's newest.
    EXPECT_EQ(kafka::client::choose_version(api_key::metadata, 13, 20), -1);
    EXPECT_EQ(kafka::client::choose_version(api_key::metadata, 0, 9), 9);
}

TEST(bench_bootstrap, parses_lists_and_refuses_bad_addresses) {
    auto list = kafka::client::parse_bootstrap("127.0.0.1:9092,broker-2:19092,[::1]:9093");
    ASSERT_TRUE(list);
    ASSERT_EQ(list->size(), 3u);
    EXPECT_EQ((*list)[1].host, "broker-2");
    EXPECT_EQ((*list)[1].port, 19092);
    EXPECT_EQ((*list)[2].host, "::1");
    EXPECT_EQ((*list)[2].to_string(), "[::1]:9093");
    for (const char* bad : {"", "host", "host:", ":9092", "host:0", "host:65536", "host:9x"}) {
        EXPECT_FALSE(kafka::client::parse_bootstrap(bad)) << bad;
    }
}

TEST(bench_stamp, only_this_runs_records_carry_a_publish_time) {
    std::vector<std::byte> value(32);
    write_stamp(value.data(), 0x1234, 987654321);
    EXPECT_EQ(read_stamp(value, 0x1234), 987654321u);
    EXPECT_FALSE(read_stamp(value, 0x1235));
    EXPECT_FALSE(read_stamp(std::span(value).first(15), 0x1234));
}

TEST(bench_sticky_partitioner, keeps_one_partition_per_topic_until_its_batch_seals) {
    // Two topics of 8 partitions written in turn, as a producer of two topics does: each topic
    // keeps its own partition instead of picking a new one at every record.
    sticky_partitioner sticky(2, 8);
    std::mt19937_64 rng(7);
    size_t first = sticky.next(0, rng);
    size_t second = sticky.next(1, rng);
    EXPECT_LT(first, 8u);
    EXPECT_GE(second, 8u);
    EXPECT_LT(second, 16u);
    for (int i = 0; i < 100; ++i) {
        EXPECT_EQ(sticky.next(0, rng), first);
        EXPECT_EQ(sticky.next(1, rng), second);
    }
    // Sealing another partition changes nothing; sealing topic 0's moves only topic 0 on.
    sticky.sealed(second == 15 ? 14 : 15);
    sticky.sealed(first == 0 ? 1 : 0);
    EXPECT_EQ(sticky.next(0, rng), first);
    EXPECT_EQ(sticky.next(1, rng), second);
    std::set<size_t> seen;
    for (int i = 0; i < 200; ++i) {
        sticky.sealed(first);
        first = sticky.next(0, rng);
        EXPECT_LT(first, 8u);
        seen.insert(first);
        EXPECT_EQ(sticky.next(1, rng), second);
    }
    EXPECT_EQ(seen.size(), 8u);  // a new pick each time, over every partition
}

TEST(bench_produce_response, errors_by_partition_maps_every_answer_to_its_global_index) {
    kafka::produce_response resp;
    auto answer = [&](const std::string& topic, std::vector<std::pair<int32_t, int16_t>> parts) {
        resp.responses.emplace_back();
        resp.responses.back().name = topic;
        for (auto [index, error] : parts) {
            kafka::produce_response::partition_produce_response p;
            p.index = index;
            p.error_code = error;
            resp.responses.back().partition_responses.push_back(p);
        }
    };
    answer("b", {{0, 0}, {3, 6}});
    answer("a", {{2, 0}, {4, 0}, {-1, 0}});  // out of range: left out
    answer("other", {{1, 0}});               // not this run's topic
    answer("b", {{1, 0}});                   // the same topic again
    std::map<std::string, size_t> topics = {{"a", 0}, {"b", 1}};
    auto errors = errors_by_partition(resp, topics, 4);
    std::unordered_map<size_t, int16_t> expected = {{4, 0}, {7, 6}, {2, 0}, {5, 0}};
    EXPECT_EQ(errors, expected);
    // 10,000 partitions in one response: one pass, every partition found.
    kafka::produce_response big;
    big.responses.emplace_back();
    big.responses.back().name = "a";
    for (int32_t i = 0; i < 10'000; ++i) {
        kafka::produce_response::partition_produce_response p;
        p.index = i;
        p.error_code = static_cast<int16_t>(i % 7 == 0 ? 6 : 0);
        big.responses.back().partition_responses.push_back(p);
    }
    auto many = errors_by_partition(big, topics, 10'000);
    ASSERT_EQ(many.size(), 10'000u);
    EXPECT_EQ(many.at(0), 6);
    EXPECT_EQ(many.at(1), 0);
    EXPECT_EQ(many.at(9'997), 0);
    EXPECT_EQ(many.at(9'996), 6);  // 7 * 1428
}

}  // namespace
}  // namespace wharf::perf
