// Record batches that are valid: golden bytes, build -> validate -> read round trips, stamping,
// and the varint codec underneath. Refusals live in record_batch_reject_test.cc.

#include "log/record_batch.h"

#include <gtest/gtest.h>

#include <random>
#include <string>

#include "log/batch_layout.h"
#include "log/compression.h"
#include "log/errc.h"
#include "log/record_reader.h"
#include "tests/log/record_batch_test_util.h"

namespace wharf {
namespace {

namespace bl = batch_layout;
using test::as_bytes;
using test::as_string;

const batch_limits default_limits{};
const timestamp_ms now_ms(1'700'000'000'000);

// One record, key "k", value "v", base offset 0, timestamp 1000, no producer id: written out
// field by field from the Kafka documentation; the CRC32C was computed over bytes 21..69 by an
// independent bitwise implementation.
const std::vector<uint8_t> golden_batch = {
    0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00,  // baseOffset 0
    0x00, 0x00, 0x00, 0x3a,                          // batchLength 58
    0xff, 0xff, 0xff, 0xff,                          // partitionLeaderEpoch -1
    0x02,                                            // magic 2
    0x71, 0x6a, 0x61, 0x89,                          // crc 0x716a6189
    0x00, 0x00,                                      // attributes
    0x00, 0x00, 0x00, 0x00,                          // lastOffsetDelta 0
    0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x03, 0xe8,  // baseTimestamp 1000
    0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x03, 0xe8,  // maxTimestamp 1000
    0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff,  // producerId -1
    0xff, 0xff,                                      // producerEpoch -1
    0xff, 0xff, 0xff, 0xff,                          // baseSequence -1
    0x00, 0x00, 0x00, 0x01,                          // recordsCount 1
    0x10,                                            // record length 8 (zigzag 16)
    0x00,                                            // attributes
    0x00,                                            // timestampDelta 0
    0x00,                                            // offsetDelta 0
    0x02, 0x6b,                                      // key length 1, "k"
    0x02, 0x76,                                      // value length 1, "v"
    0x00,                                            // headers count 0
};

std::vector<std::byte> golden_bytes() {
    std::vector<std::byte> out;
    for (uint8_t b : golden_batch) out.push_back(static_cast<std::byte>(b));
    return out;
}

TEST(record_batch, golden_bytes_match_build_batch) {
    const record_to_build r{.key = "k", .value = "v", .headers = {}};
    const auto built = build_batch(kafka_offset(0), 1000, std::span(&r, 1));
    EXPECT_EQ(built, golden_bytes());
    EXPECT_EQ(built.size(), 70u);
}

TEST(record_batch, golden_bytes_decode_field_by_field) {
    const auto bytes = golden_bytes();
    auto h = read_batch_header(bytes);
    ASSERT_TRUE(h) << h.error().message();
    EXPECT_EQ(h->base_offset, kafka_offset(0));
    EXPECT_EQ(h->batch_length, 58);
    EXPECT_EQ(h->total_bytes(), 70u);
    EXPECT_EQ(h->partition_leader_epoch, -1);
    EXPECT_EQ(h->magic, 2);
    EXPECT_EQ(h->crc, 0x716a6189u);
    EXPECT_EQ(h->compression(), compression_type::none);
    EXPECT_EQ(h->ts_type(), timestamp_type::create_time);
    EXPECT_FALSE(h->is_transactional());
    EXPECT_FALSE(h->is_control());
    EXPECT_EQ(h->last_offset(), kafka_offset(0));
    EXPECT_EQ(h->base_timestamp, 1000);
    EXPECT_EQ(h->max_timestamp, 1000);
    EXPECT_EQ(h->producer_id, -1);
    EXPECT_EQ(h->producer_epoch, -1);
    EXPECT_EQ(h->base_sequence, -1);
    EXPECT_EQ(h->records_count, 1);
    EXPECT_TRUE(batch_crc_matches(bytes));

    auto v = validate_batch(bytes, default_limits, now_ms);
    ASSERT_TRUE(v) << v.error().message();
    EXPECT_EQ(v->total_bytes, 70u);
    EXPECT_EQ(v->max_record_timestamp, timestamp_ms(1000));

    record_reader reader(batch_records(bytes), 1);
    auto r = reader.next();
    ASSERT_TRUE(r) << r.error().message();
    EXPECT_EQ(as_string(*r->key), "k");
    EXPECT_EQ(as_string(*r->value), "v");
    EXPECT_EQ(r->encoded.size(), 9u);
    EXPECT_TRUE(reader.at_end());
    EXPECT_EQ(reader.bytes_left(), 0u);
}

TEST(record_batch, attribute_bits) {
    batch_header h;
    h.attributes = 0x04 | 0x08 | 0x10 | 0x20;
    EXPECT_EQ(h.compression(), compression_type::zstd);
    EXPECT_EQ(h.ts_type(), timestamp_type::log_append_time);
    EXPECT_TRUE(h.is_transactional());
    EXPECT_TRUE(h.is_control());
    h.attributes = 0x01;
    EXPECT_EQ(h.compression(), compression_type::gzip);
    EXPECT_EQ(h.ts_type(), timestamp_type::create_time);
    EXPECT_FALSE(h.is_transactional());
    EXPECT_FALSE(h.is_control());
}

// A mix of what real producers send: null keys, tombstones, empty strings, headers with null
// values, negative and large timestamp deltas, binary bytes.
std::vector<record_to_build> varied_records(size_t n, std::mt19937_64& rng,
                                            std::vector<std::string>& storage) {
    storage.clear();
    storage.reserve(3 * n);
    std::vector<record_to_build> out;
    for (size_t i = 0; i < n; ++i) {
        record_to_build r;
        storage.push_back(std::string(rng() % 40, static_cast<char>(rng())));
        storage.push_back(std::string(rng() % 300, static_cast<char>(rng())));
        storage.push_back("h" + std::to_string(i));
        if (rng() % 4 != 0) r.key = storage[storage.size() - 3];
        if (rng() % 5 != 0) r.value = storage[storage.size() - 2];
        const size_t headers = rng() % 4;
        for (size_t h = 0; h < headers; ++h) {
            std::optional<std::string_view> hv;
            if (h % 2 == 0) hv = storage.back();
            r.headers.emplace_back(storage.back(), hv);
        }
        r.timestamp_delta = static_cast<int64_t>(rng() % 100'000) - 50'000;
        out.push_back(std::move(r));
    }
    return out;
}

void expect_records_equal(std::span<const std::byte> section, int32_t count,
                          const std::vector<record_to_build>& expected) {
    record_reader reader(section, count);
    for (size_t i = 0; i < expected.size(); ++i) {
        ASSERT_FALSE(reader.at_end());
        auto r = reader.next();
        ASSERT_TRUE(r) << "record " << i << ": " << r.error().message();
        const auto& e = expected[i];
        EXPECT_EQ(r->offset_delta, static_cast<int32_t>(i));
        EXPECT_EQ(r->timestamp_delta, e.timestamp_delta);
        ASSERT_EQ(r->key.has_value(), e.key.has_value()) << i;
        if (e.key) {
            EXPECT_EQ(as_string(*r->key), *e.key);
        }
        ASSERT_EQ(r->value.has_value(), e.value.has_value()) << i;
        if (e.value) {
            EXPECT_EQ(as_string(*r->value), *e.value);
        }
        ASSERT_EQ(r->headers_count, static_cast<int32_t>(e.headers.size()));
        header_reader headers(*r);
        for (const auto& [k, v] : e.headers) {
            ASSERT_FALSE(headers.at_end());
            auto h = headers.next();
            EXPECT_EQ(as_string(h.key), k);
            ASSERT_EQ(h.value.has_value(), v.has_value());
            if (v) {
                EXPECT_EQ(as_string(*h.value), *v);
            }
        }
        EXPECT_TRUE(headers.at_end());
    }
    EXPECT_TRUE(reader.at_end());
    EXPECT_EQ(reader.bytes_left(), 0u);
}

class round_trip : public ::testing::TestWithParam<compression_type> {};

TEST_P(round_trip, build_validate_read) {
    std::mt19937_64 rng(test::test_seed("record_batch.round_trip"));
    std::vector<std::string> storage;
    for (size_t n : {size_t{1}, size_t{2}, size_t{17}, size_t{1000}}) {
        const auto records = varied_records(n, rng, storage);
        const int64_t base_ts = now_ms.value() - 1000;
        const auto bytes = build_batch(kafka_offset(0), base_ts, records, GetParam(), 4242, 3, 77);
        auto v = validate_batch(bytes, default_limits, now_ms);
        ASSERT_TRUE(v) << n << " records: " << v.error().message();
        EXPECT_EQ(v->total_bytes, bytes.size());
        EXPECT_EQ(v->header.records_count, static_cast<int32_t>(n));
        EXPECT_EQ(v->header.last_offset_delta, static_cast<int32_t>(n - 1));
        EXPECT_EQ(v->header.compression(), GetParam());
        EXPECT_EQ(v->header.producer_id, 4242);
        EXPECT_EQ(v->header.producer_epoch, 3);
        EXPECT_EQ(v->header.base_sequence, 77);
        int64_t max_delta = INT64_MIN;
        for (const auto& r : records) max_delta = std::max(max_delta, r.timestamp_delta);
        EXPECT_EQ(v->header.max_timestamp, base_ts + max_delta);
        EXPECT_EQ(v->max_record_timestamp, timestamp_ms(base_ts + max_delta));

        std::vector<std::byte> section(batch_records(bytes).begin(), batch_records(bytes).end());
        if (GetParam() != compression_type::none) {
            auto plain = decompress(GetParam(), section, default_limits.max_uncompressed_bytes);
            ASSERT_TRUE(plain) << plain.error().message();
            section = std::move(plain).value();
        }
        expect_records_equal(section, static_cast<int32_t>(n), records);
    }
}

std::string codec_name(const ::testing::TestParamInfo<compression_type>& info) {
    static const char* const names[] = {"none", "gzip", "snappy", "lz4", "zstd"};
    return names[static_cast<int>(info.param)];
}

INSTANTIATE_TEST_SUITE_P(codecs, round_trip,
                         ::testing::Values(compression_type::none, compression_type::gzip,
                                           compression_type::snappy, compression_type::lz4,
                                           compression_type::zstd),
                         codec_name);

TEST(record_batch, zstd_batch_is_smaller_for_repetitive_values) {
    std::vector<record_to_build> records(200, record_to_build{.key = "key", .value = "value"});
    const auto plain = build_batch(kafka_offset(0), 1000, records);
    const auto packed = build_batch(kafka_offset(0), 1000, records, compression_type::zstd);
    EXPECT_LT(packed.size(), plain.size() / 4);
    auto h = read_batch_header(packed);
    ASSERT_TRUE(h);
    EXPECT_EQ(h->compression(), compression_type::zstd);
}

TEST(record_batch, read_batch_header_accepts_a_batch_followed_by_more_bytes) {
    auto two = golden_bytes();
    const auto second = golden_bytes();
    two.insert(two.end(), second.begin(), second.end());
    auto h = read_batch_header(two);
    ASSERT_TRUE(h);
    EXPECT_EQ(h->total_bytes(), 70u);
    auto h2 = read_batch_header(std::span(two).subspan(h->total_bytes()));
    ASSERT_TRUE(h2);
    // validate_batch takes exactly one batch.
    EXPECT_EQ(validate_batch(two, default_limits, now_ms).error(), log_errc::invalid_batch_length);
}

TEST(stamp_batch, writes_offset_epoch_and_log_append_time) {
    std::vector<record_to_build> records(3, record_to_build{.key = "a", .value = "b"});
    records[1].timestamp_delta = 5;
    auto bytes = build_batch(kafka_offset(0), 1000, records);
    const auto original = bytes;
    stamp_batch(bytes, kafka_offset(12345), 7, timestamp_ms(99'000));

    auto v = validate_batch(bytes, default_limits, now_ms);
    ASSERT_TRUE(v) << v.error().message();
    EXPECT_EQ(v->header.base_offset, kafka_offset(12345));
    EXPECT_EQ(v->header.last_offset(), kafka_offset(12347));
    EXPECT_EQ(v->header.partition_leader_epoch, 7);
    EXPECT_EQ(v->header.ts_type(), timestamp_type::log_append_time);
    EXPECT_EQ(v->header.max_timestamp, 99'000);
    // KIP-32: baseTimestamp stays the first record's create time.
    EXPECT_EQ(v->header.base_timestamp, 1000);
    EXPECT_NE(v->header.crc, read_batch_header(original)->crc);
    // The records themselves are untouched.
    EXPECT_TRUE(std::equal(original.begin() + batch_header_bytes, original.end(),
                           bytes.begin() + batch_header_bytes));
}

TEST(stamp_batch, create_time_keeps_the_crc) {
    auto bytes = golden_bytes();
    stamp_batch(bytes, kafka_offset(1) + 1'000'000'000'000, 3, std::nullopt);
    auto v = validate_batch(bytes, default_limits, now_ms);
    ASSERT_TRUE(v) << v.error().message();
    EXPECT_EQ(v->header.base_offset, kafka_offset(1'000'000'000'001));
    EXPECT_EQ(v->header.partition_leader_epoch, 3);
    EXPECT_EQ(v->header.ts_type(), timestamp_type::create_time);
    EXPECT_EQ(v->header.max_timestamp, 1000);
    // Only baseOffset and the epoch changed; both lie outside the CRC.
    const auto golden = golden_bytes();
    EXPECT_TRUE(std::equal(golden.begin() + bl::magic, golden.end(), bytes.begin() + bl::magic));
}

TEST(stamp_batch, clears_a_log_append_time_bit_a_client_set) {
    auto bytes = golden_bytes();
    set_max_timestamp(bytes, timestamp_type::log_append_time, timestamp_ms(5000));
    ASSERT_TRUE(validate_batch(bytes, default_limits, now_ms));
    ASSERT_EQ(read_batch_header(bytes)->ts_type(), timestamp_type::log_append_time);
    stamp_batch(bytes, kafka_offset(0), 0, std::nullopt);
    auto v = validate_batch(bytes, default_limits, now_ms);
    ASSERT_TRUE(v) << v.error().message();
    EXPECT_EQ(v->header.ts_type(), timestamp_type::create_time);
}

TEST(stamp_batch, zstd_batch_stays_valid) {
    std::vector<record_to_build> records(50, record_to_build{.key = "k", .value = "value"});
    auto bytes = build_batch(kafka_offset(0), 1000, records, compression_type::zstd);
    stamp_batch(bytes, kafka_offset(500), 2, timestamp_ms(2000));
    auto v = validate_batch(bytes, default_limits, now_ms);
    ASSERT_TRUE(v) << v.error().message();
    EXPECT_EQ(v->header.last_offset(), kafka_offset(549));
    EXPECT_EQ(v->header.compression(), compression_type::zstd);
    EXPECT_EQ(v->header.ts_type(), timestamp_type::log_append_time);
}

TEST(record_batch, timestamps_within_skew_pass) {
    std::vector<record_to_build> records(2, record_to_build{.value = "v"});
    records[1].timestamp_delta = 10'000;
    const auto bytes = build_batch(kafka_offset(0), now_ms.value() - 5'000, records);
    batch_limits limits;
    limits.max_timestamp_skew_ms = 5'000;
    EXPECT_TRUE(validate_batch(bytes, limits, now_ms));  // -5 s and +5 s: both at the edge
    limits.max_timestamp_skew_ms = 4'999;
    EXPECT_EQ(validate_batch(bytes, limits, now_ms).error(), log_errc::invalid_timestamp);
}

TEST(record_batch, validating_an_uncompressed_batch_does_not_allocate) {
    if (!test::allocation_counting_available()) GTEST_SKIP() << "needs the ASan malloc hook";
    std::mt19937_64 rng(7);
    std::vector<std::string> storage;
    const auto records = varied_records(500, rng, storage);
    const auto bytes = build_batch(kafka_offset(0), now_ms.value(), records);
    bool ok = false;
    const auto stats = test::count_allocations(
        [&] { ok = validate_batch(bytes, default_limits, now_ms).has_value(); });
    EXPECT_TRUE(ok);
    EXPECT_EQ(stats.count, 0u) << stats.total_bytes << " bytes";
}

TEST(record_batch, canary_allocation_counting_sees_an_allocation) {
    if (!test::allocation_counting_available()) GTEST_SKIP() << "needs the ASan malloc hook";
    // Proves the no-allocation checks above and in the refusal tests can fail.
    const auto stats = test::count_allocations([] {
        std::vector<std::byte> v(12345);
        asm volatile("" : : "g"(v.data()) : "memory");  // keeps the allocation from elision
    });
    EXPECT_GE(stats.count, 1u);
    EXPECT_GE(stats.largest_bytes, 12345u);
}

TEST(varint, round_trips_boundaries) {
    const int64_t longs[] = {0,         1,         -1,        63,        -64,
                             64,        -65,       8191,      -8192,     INT32_MAX,
                             INT32_MIN, INT64_MAX, INT64_MIN, 1LL << 35, -(1LL << 35)};
    for (int64_t v : longs) {
        std::byte buf[max_varlong_bytes];
        const size_t n = write_varlong(buf, v);
        EXPECT_EQ(n, varlong_size(v));
        size_t pos = 0;
        auto back = read_varlong(std::span<const std::byte>(buf, n), pos);
        ASSERT_TRUE(back) << v;
        EXPECT_EQ(*back, v);
        EXPECT_EQ(pos, n);
        pos = 0;
        auto as_int = read_varint(std::span<const std::byte>(buf, n), pos);
        EXPECT_EQ(as_int.has_value(), v >= INT32_MIN && v <= INT32_MAX) << v;
        if (as_int) {
            EXPECT_EQ(*as_int, v);
        }
    }
    EXPECT_EQ(varlong_size(INT64_MIN), max_varlong_bytes);
    EXPECT_EQ(varlong_size(INT32_MIN), max_varint_bytes);
}

std::optional<int32_t> decode_varint(std::initializer_list<int> raw) {
    std::vector<std::byte> b;
    test::append(b, raw);
    size_t pos = 0;
    return read_varint(b, pos);
}

std::optional<int64_t> decode_varlong(std::initializer_list<int> raw) {
    std::vector<std::byte> b;
    test::append(b, raw);
    size_t pos = 0;
    return read_varlong(b, pos);
}

TEST(varint, refuses_overlong_and_truncated) {
    EXPECT_EQ(decode_varint({0xff, 0xff, 0xff, 0xff, 0x0f}), INT32_MIN);  // the largest code
    EXPECT_FALSE(decode_varint({0xff, 0xff, 0xff, 0xff, 0x1f}));          // bit 32 set
    EXPECT_FALSE(decode_varint({0x80, 0x80, 0x80, 0x80, 0x80, 0x00}));    // six bytes
    EXPECT_FALSE(decode_varint({0x80, 0x80}));                            // cut short
    EXPECT_FALSE(decode_varint({}));
    EXPECT_EQ(decode_varint({0x80, 0x00}), 0);  // non-minimal, as Kafka accepts
    EXPECT_EQ(decode_varlong({0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0x01}),
              INT64_MIN);
    EXPECT_FALSE(decode_varlong({0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0x02}));
    EXPECT_FALSE(
        decode_varlong({0x80, 0x80, 0x80, 0x80, 0x80, 0x80, 0x80, 0x80, 0x80, 0x80, 0x00}));
}

}  // namespace
}  // namespace wharf
