// recompress_batch (log/recompress.h): every codec into every codec keeps the header and the
// records byte for byte, writes a batch validate_batch accepts, and refuses hostile input.

#include "log/recompress.h"

#include <gtest/gtest.h>

#include <random>
#include <string>

#include "log/batch_layout.h"
#include "log/compression.h"
#include "log/errc.h"
#include "tests/log/record_batch_test_util.h"

namespace wharf {
namespace {

namespace bl = batch_layout;

constexpr compression_type every_codec[] = {compression_type::none, compression_type::gzip,
                                            compression_type::snappy, compression_type::lz4,
                                            compression_type::zstd};

std::string name_of(compression_type c) {
    return "codec " + std::to_string(static_cast<int>(c));
}

const batch_limits limits{.max_batch_bytes = 4 << 20, .max_uncompressed_bytes = 16 << 20};

// Records of every shape: null keys and values, headers, negative timestamp deltas; compressible
// enough that every codec shrinks them.
std::vector<record_to_build> sample_records(size_t n, std::vector<std::string>& storage) {
    std::mt19937_64 rng(n);
    storage.clear();
    storage.reserve(2 * n);
    std::vector<record_to_build> out;
    for (size_t i = 0; i < n; ++i) {
        storage.push_back("key-" + std::to_string(i % 17));
        storage.push_back(std::string(rng() % 200, static_cast<char>('a' + rng() % 3)));
        record_to_build r;
        if (i % 5 != 0) r.key = storage[storage.size() - 2];
        if (i % 7 != 0) r.value = storage.back();
        if (i % 3 == 0) r.headers.emplace_back("trace", std::nullopt);
        if (i % 4 == 0) r.headers.emplace_back("h", storage[storage.size() - 2]);
        r.timestamp_delta = static_cast<int64_t>(i * 3) - 100;
        out.push_back(std::move(r));
    }
    return out;
}

// A producer's batch: idempotent fields set, a leader-stamped offset and epoch.
std::vector<std::byte> producer_batch(compression_type c, std::span<const record_to_build> recs) {
    auto b = build_batch(kafka_offset(4242), 1'700'000'000'000, recs, c, 77, 3, 1000);
    bl::put<int32_t>(std::span<std::byte>(b), bl::partition_leader_epoch, 9);
    return b;
}

std::vector<std::byte> plain_records(std::span<const std::byte> batch) {
    const auto h = *read_batch_header(batch);
    return *decompress(h.compression(), batch_records(batch), 64 << 20);
}

TEST(recompress, every_codec_into_every_codec) {
    std::vector<std::string> storage;
    const auto records = sample_records(500, storage);
    const auto expected = plain_records(producer_batch(compression_type::none, records));
    for (auto from : every_codec) {
        const auto in = producer_batch(from, records);
        const auto in_header = *read_batch_header(in);
        for (auto to : every_codec) {
            SCOPED_TRACE(name_of(from) + " -> " + name_of(to));
            auto out = recompress_batch(in, to, limits);
            ASSERT_TRUE(out) << out.error().message();
            auto valid = validate_batch(*out, limits, timestamp_ms(0));
            ASSERT_TRUE(valid) << valid.error().message();
            const auto& h = valid->header;
            EXPECT_EQ(h.compression(), to);
            EXPECT_EQ(h.total_bytes(), out->size());
            EXPECT_TRUE(batch_crc_matches(*out));
            EXPECT_EQ(h.base_offset, in_header.base_offset);
            EXPECT_EQ(h.partition_leader_epoch, 9);
            EXPECT_EQ(h.attributes & ~0x07, in_header.attributes & ~0x07);
            EXPECT_EQ(h.last_offset_delta, in_header.last_offset_delta);
            EXPECT_EQ(h.base_timestamp, in_header.base_timestamp);
            EXPECT_EQ(h.max_timestamp, in_header.max_timestamp);
            EXPECT_EQ(h.producer_id, 77);
            EXPECT_EQ(h.producer_epoch, 3);
            EXPECT_EQ(h.base_sequence, 1000);
            EXPECT_EQ(h.records_count, 500);
            EXPECT_EQ(plain_records(*out), expected);
            if (from == to) {
                EXPECT_EQ(*out, in);
            }
            if (to != compression_type::none) {
                EXPECT_LT(out->size(), expected.size());
            }
        }
    }
}

// The other attribute bits (here LogAppendTime) survive; only the codec bits change.
TEST(recompress, keeps_the_other_attribute_bits) {
    std::vector<std::string> storage;
    const auto records = sample_records(10, storage);
    auto in = producer_batch(compression_type::zstd, records);
    set_max_timestamp(in, timestamp_type::log_append_time, timestamp_ms(1'800'000'000'000));
    auto out = recompress_batch(in, compression_type::gzip, limits);
    ASSERT_TRUE(out) << out.error().message();
    const auto h = *read_batch_header(*out);
    EXPECT_EQ(h.attributes, 0x08 | 0x01);
    EXPECT_EQ(h.max_timestamp, 1'800'000'000'000);
    EXPECT_TRUE(batch_crc_matches(*out));
}

TEST(recompress, hostile_input_is_refused) {
    std::vector<std::string> storage;
    const auto records = sample_records(20, storage);
    for (auto from : every_codec) {
        SCOPED_TRACE(name_of(from));
        const auto good = producer_batch(from, records);
        // A flipped byte in the records: the CRC.
        auto flipped = good;
        flipped[flipped.size() - 3] ^= std::byte{0x10};
        EXPECT_EQ(recompress_batch(flipped, compression_type::gzip, limits).error(),
                  log_errc::crc_mismatch);
        // Cut short, and a batchLength that disagrees with the bytes.
        EXPECT_EQ(
            recompress_batch(std::span(good).first(good.size() - 1), compression_type::lz4, limits)
                .error(),
            log_errc::truncated_batch);
        EXPECT_EQ(
            recompress_batch(std::span(good).first(30), compression_type::lz4, limits).error(),
            log_errc::truncated_batch);
        // A record count that lies, resealed so that the CRC does not catch it.
        auto lying = good;
        bl::put<int32_t>(std::span<std::byte>(lying), bl::records_count, 21);
        bl::put<int32_t>(std::span<std::byte>(lying), bl::last_offset_delta, 20);
        test::reseal(lying);
        EXPECT_EQ(recompress_batch(lying, compression_type::snappy, limits).error(),
                  log_errc::invalid_record_count);
    }
    // Garbage where compressed records should be, under a correct CRC.
    std::vector<std::byte> garbage(300, std::byte{0x33});
    for (auto c : {compression_type::gzip, compression_type::snappy, compression_type::lz4,
                   compression_type::zstd}) {
        SCOPED_TRACE(name_of(c));
        const auto bad = test::wrap_section(garbage, 3, c);
        EXPECT_EQ(recompress_batch(bad, compression_type::none, limits).error(),
                  log_errc::decompression_failed);
    }
    // Not a codec, as the target or in the batch.
    const auto good = producer_batch(compression_type::none, records);
    EXPECT_EQ(recompress_batch(good, static_cast<compression_type>(5), limits).error(),
              log_errc::unsupported_compression);
    auto codec7 = good;
    bl::put<int16_t>(std::span<std::byte>(codec7), bl::attributes, 7);
    test::reseal(codec7);
    EXPECT_EQ(recompress_batch(codec7, compression_type::gzip, limits).error(),
              log_errc::unsupported_compression);
}

// Uncompressing a well-compressed batch may outgrow the batch limit: refused, as the log would.
// The decompression bound holds too. Timestamps are left to the log's append.
TEST(recompress, limits) {
    std::vector<std::string> storage;
    const auto records = sample_records(2000, storage);
    const auto packed = producer_batch(compression_type::zstd, records);
    const size_t plain = plain_records(packed).size();
    const batch_limits tight{.max_batch_bytes = packed.size() * 2,
                             .max_uncompressed_bytes = 16 << 20};
    ASSERT_GT(plain + batch_header_bytes, tight.max_batch_bytes);
    EXPECT_EQ(recompress_batch(packed, compression_type::none, tight).error(),
              log_errc::batch_too_large);
    EXPECT_TRUE(recompress_batch(packed, compression_type::lz4, tight));
    const batch_limits small_plain{.max_batch_bytes = 4 << 20, .max_uncompressed_bytes = plain - 1};
    EXPECT_EQ(recompress_batch(packed, compression_type::gzip, small_plain).error(),
              log_errc::decompressed_too_large);
    const batch_limits skew{.max_batch_bytes = 4 << 20,
                            .max_uncompressed_bytes = 16 << 20,
                            .max_timestamp_skew_ms = 1000};
    EXPECT_TRUE(recompress_batch(packed, compression_type::gzip, skew));
}

}  // namespace
}  // namespace wharf
