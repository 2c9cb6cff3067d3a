// Record batches that must be refused, each with its precise log_errc: the bytes are client
// input, so every one of these is an error value, never a crash or an unbounded allocation.

#include <gtest/gtest.h>

#include <chrono>
#include <limits>
#include <random>
#include <string>

#include <zstd.h>

#include "log/batch_layout.h"
#include "log/compression.h"
#include "log/errc.h"
#include "log/record_batch.h"
#include "log/record_reader.h"
#include "tests/log/record_batch_test_util.h"

namespace wharf {
namespace {

namespace bl = batch_layout;
using test::encode_record;
using test::raw_record;
using test::reseal;
using test::wrap_section;

const batch_limits default_limits{};
const timestamp_ms now_ms(1'700'000'000'000);

std::error_code validate_error(std::span<const std::byte> bytes,
                               const batch_limits& limits = default_limits) {
    return validate_batch(bytes, limits, now_ms).error();
}

std::vector<std::byte> small_batch(size_t n = 3, compression_type c = compression_type::none) {
    std::vector<record_to_build> records(n, record_to_build{.key = "key", .value = "value"});
    for (size_t i = 0; i < n; ++i) records[i].timestamp_delta = static_cast<int64_t>(i);
    return build_batch(kafka_offset(0), 1000, records, c);
}

std::vector<std::byte> section_of(std::initializer_list<raw_record> records) {
    std::vector<std::byte> out;
    for (const auto& r : records) {
        auto e = encode_record(r);
        out.insert(out.end(), e.begin(), e.end());
    }
    return out;
}

TEST(batch_reject, sanity_the_helpers_build_a_valid_batch) {
    // Every hand-made refusal below starts from this shape; it must pass when left intact.
    const auto section = section_of({{.offset_delta = 0}, {.offset_delta = 1}});
    const auto batch = wrap_section(section, 2);
    auto v = validate_batch(batch, default_limits, now_ms);
    EXPECT_TRUE(v) << v.error().message();
    EXPECT_TRUE(validate_batch(small_batch(), default_limits, now_ms));
}

TEST(batch_reject, payload_bit_flip_is_a_crc_mismatch) {
    const auto good = small_batch();
    for (size_t at : {bl::attributes, bl::records_count, batch_header_bytes + 3, good.size() - 1}) {
        auto bad = good;
        bad[at] ^= std::byte{0x01};
        EXPECT_EQ(validate_error(bad), log_errc::crc_mismatch) << "byte " << at;
        EXPECT_FALSE(batch_crc_matches(bad));
    }
    auto bad = good;
    bad[bl::crc] ^= std::byte{0x80};
    EXPECT_EQ(validate_error(bad), log_errc::crc_mismatch);
}

void set_batch_length(std::vector<std::byte>& b, int32_t v) {
    bl::put<int32_t>(std::span<std::byte>(b), bl::batch_length, v);
}

TEST(batch_reject, batch_length_below_the_header) {
    for (int32_t len : {48, 0, -1, std::numeric_limits<int32_t>::min()}) {
        auto bad = small_batch();
        set_batch_length(bad, len);
        EXPECT_EQ(validate_error(bad), log_errc::invalid_batch_length) << len;
        EXPECT_EQ(read_batch_header(bad).error(), log_errc::invalid_batch_length) << len;
    }
}

TEST(batch_reject, batch_length_past_the_bytes_is_truncation) {
    for (int32_t extra : {1, 1000, std::numeric_limits<int32_t>::max() / 2}) {
        auto bad = small_batch();
        const auto len = static_cast<int32_t>(bad.size() - batch_log_overhead_bytes);
        set_batch_length(bad, len > std::numeric_limits<int32_t>::max() - extra
                                  ? std::numeric_limits<int32_t>::max()
                                  : len + extra);
        EXPECT_EQ(validate_error(bad), log_errc::truncated_batch) << extra;
        EXPECT_EQ(read_batch_header(bad).error(), log_errc::truncated_batch) << extra;
    }
    auto bad = small_batch();
    set_batch_length(bad, std::numeric_limits<int32_t>::max());
    EXPECT_EQ(validate_error(bad), log_errc::truncated_batch);
}

TEST(batch_reject, batch_length_short_of_the_bytes_is_inconsistent) {
    auto bad = small_batch();
    set_batch_length(bad, static_cast<int32_t>(bad.size() - batch_log_overhead_bytes - 1));
    EXPECT_EQ(validate_error(bad), log_errc::invalid_batch_length);
    // As the first batch of a longer buffer the framing itself is fine; the CRC is not.
    auto h = read_batch_header(bad);
    ASSERT_TRUE(h);
    EXPECT_EQ(h->total_bytes(), bad.size() - 1);
    EXPECT_FALSE(batch_crc_matches(std::span(bad).first(h->total_bytes())));
}

TEST(batch_reject, records_count_zero_negative_or_inconsistent) {
    const auto section = section_of({{.offset_delta = 0}, {.offset_delta = 1}});
    struct count_case {
        int32_t count;
        int32_t last_offset_delta;
    };
    for (auto c : {count_case{0, -1}, count_case{-1, -2}, count_case{-1, 1},
                   count_case{std::numeric_limits<int32_t>::min(), 1}, count_case{2, 0},
                   count_case{2, 5}, count_case{3, 2}, count_case{1, 0}}) {
        auto bad = wrap_section(section, 2);
        bl::put<int32_t>(std::span<std::byte>(bad), bl::records_count, c.count);
        bl::put<int32_t>(std::span<std::byte>(bad), bl::last_offset_delta, c.last_offset_delta);
        reseal(bad);
        EXPECT_EQ(validate_error(bad), log_errc::invalid_record_count)
            << "count " << c.count << " lastOffsetDelta " << c.last_offset_delta;
    }
}

TEST(batch_reject, absurd_records_count_is_refused_before_any_allocation) {
    const auto section = section_of({{.offset_delta = 0}});
    for (auto c : {compression_type::none, compression_type::zstd, compression_type::lz4}) {
        auto bad = wrap_section(section, std::numeric_limits<int32_t>::max(), c);
        const auto start = std::chrono::steady_clock::now();
        for (int i = 0; i < 1000; ++i) {
            ASSERT_EQ(validate_error(bad), log_errc::invalid_record_count);
        }
        // A thousand refusals in well under a second: nothing iterated over the count.
        EXPECT_LT(std::chrono::steady_clock::now() - start, std::chrono::seconds(2));
        if (test::allocation_counting_available()) {
            const auto stats = test::count_allocations([&] { (void)validate_error(bad); });
            EXPECT_EQ(stats.count, 0u) << "largest " << stats.largest_bytes << " bytes";
        }
    }
}

TEST(batch_reject, record_count_larger_or_smaller_than_the_records) {
    const auto two = section_of({{.offset_delta = 0}, {.offset_delta = 1}});
    // Three declared, two present: the section runs out.
    EXPECT_EQ(validate_error(wrap_section(two, 3)), log_errc::invalid_record_count);
    // One declared, two present: bytes left over.
    EXPECT_EQ(validate_error(wrap_section(two, 1)), log_errc::invalid_record_count);
    // Trailing garbage after the last record.
    auto garbage = two;
    test::append(garbage, {0x00, 0x00});
    EXPECT_EQ(validate_error(wrap_section(garbage, 2)), log_errc::invalid_record_count);
}

TEST(batch_reject, record_length_wrong) {
    auto section = section_of({{.offset_delta = 0}});
    // The record's body is 8 bytes (zigzag 0x10); claim 7 and 9, and more than the section.
    for (int len_code : {0x0e, 0x12, 0x7e, 0x0a, 0x01}) {
        auto bad = section;
        bad[0] = static_cast<std::byte>(len_code);
        EXPECT_EQ(validate_error(wrap_section(bad, 1)), log_errc::invalid_record)
            << "length code " << len_code;
    }
}

TEST(batch_reject, varint_overflow_in_a_record) {
    auto valid = section_of({{.offset_delta = 0}});
    // A length written with six bytes.
    std::vector<std::byte> six;
    test::append(six, {0x90, 0x80, 0x80, 0x80, 0x80, 0x00});
    six.insert(six.end(), valid.begin() + 1, valid.end());
    EXPECT_EQ(validate_error(wrap_section(six, 1)), log_errc::invalid_record);
    // A key length whose fifth byte carries bit 32.
    std::vector<std::byte> wide;
    test::append(wide, {0x18, 0x00, 0x00, 0x00, 0x82, 0x80, 0x80, 0x80, 0x10, 'k', 0x02, 'v', 0});
    EXPECT_EQ(validate_error(wrap_section(wide, 1)), log_errc::invalid_record);
    // A timestamp delta of eleven bytes.
    std::vector<std::byte> ts;
    test::append(ts, {0x24, 0x00, 0x80, 0x80, 0x80, 0x80, 0x80, 0x80, 0x80, 0x80, 0x80, 0x80, 0x00,
                      0x00, 0x02, 'k', 0x02, 'v', 0x00});
    EXPECT_EQ(validate_error(wrap_section(ts, 1)), log_errc::invalid_record);
}

TEST(batch_reject, offset_deltas_out_of_order) {
    for (auto deltas :
         {std::pair{1, 0}, std::pair{0, 0}, std::pair{0, 2}, std::pair{1, 2}, std::pair{0, -1}}) {
        const auto section =
            section_of({{.offset_delta = deltas.first}, {.offset_delta = deltas.second}});
        EXPECT_EQ(validate_error(wrap_section(section, 2)), log_errc::invalid_record)
            << deltas.first << ", " << deltas.second;
    }
}

TEST(batch_reject, key_value_and_header_lengths_out_of_bounds) {
    auto check = [](std::vector<std::byte> section, const char* what) {
        EXPECT_EQ(validate_error(wrap_section(section, 1)), log_errc::invalid_record) << what;
    };
    // Key length -2: neither null nor a length.
    check({std::byte{0x0e}, std::byte{0}, std::byte{0}, std::byte{0}, std::byte{0x03},
           std::byte{0x02}, std::byte{'v'}, std::byte{0}},
          "key length -2");
    // Key longer than the record.
    check({std::byte{0x10}, std::byte{0}, std::byte{0}, std::byte{0}, std::byte{0x0a},
           std::byte{'k'}, std::byte{0x02}, std::byte{'v'}, std::byte{0}},
          "key length 5 in 8 bytes");
    // Value longer than the record.
    check({std::byte{0x10}, std::byte{0}, std::byte{0}, std::byte{0}, std::byte{0x02},
           std::byte{'k'}, std::byte{0x7e}, std::byte{'v'}, std::byte{0}},
          "value length 63");
    std::vector<std::byte> header_bytes;
    test::append(header_bytes, {0x01, 0x00});  // a header with a null key
    check(encode_record({.headers_count = 1, .headers = header_bytes}), "null header key");
    check(encode_record({.headers_count = -1}), "negative header count");
    test::append(header_bytes = {}, {0x02, 'h', 0x00});
    check(encode_record({.headers_count = 1'000'000, .headers = header_bytes}),
          "absurd header count");
    check(encode_record({.headers_count = 2, .headers = header_bytes}), "header count too high");
    test::append(header_bytes = {}, {0x02, 'h', 0x05});
    check(encode_record({.headers_count = 1, .headers = header_bytes}), "header value -3");
    test::append(header_bytes = {}, {0x02, 'h', 0x40, 'x'});
    check(encode_record({.headers_count = 1, .headers = header_bytes}), "header value too long");
}

TEST(batch_reject, magic_other_than_two) {
    for (int magic : {0, 1, 3, -1}) {
        auto bad = small_batch();
        bad[bl::magic] = static_cast<std::byte>(magic);
        EXPECT_EQ(validate_error(bad), log_errc::unsupported_magic) << magic;
        EXPECT_EQ(read_batch_header(bad).error(), log_errc::unsupported_magic) << magic;
    }
    // A message set v0/v1 (offset, size, crc, magic, ...) is shorter than a v2 header; the magic
    // at the same offset 16 still names it.
    for (int magic : {0, 1}) {
        std::vector<std::byte> legacy(34);
        legacy[11] = std::byte{22};
        legacy[16] = static_cast<std::byte>(magic);
        EXPECT_EQ(validate_error(legacy), log_errc::unsupported_magic) << magic;
    }
}

TEST(batch_reject, larger_than_the_limit) {
    const std::string big(2000, 'x');
    const record_to_build r{.value = big};
    const auto bytes = build_batch(kafka_offset(0), 1000, std::span(&r, 1));
    batch_limits limits;
    limits.max_batch_bytes = bytes.size();
    EXPECT_TRUE(validate_batch(bytes, limits, now_ms));
    limits.max_batch_bytes = bytes.size() - 1;
    EXPECT_EQ(validate_error(bytes, limits), log_errc::batch_too_large);
}

TEST(batch_reject, unknown_codec_bits) {
    for (int codec : {5, 6, 7}) {
        auto bad = small_batch();
        bad[bl::attributes + 1] = static_cast<std::byte>(codec);
        reseal(bad);
        EXPECT_EQ(validate_error(bad), log_errc::unsupported_compression) << codec;
    }
}

// Every codec has a decoder now: an uncompressed section under gzip, snappy or lz4 bits is not
// trusted (the records are read, so they must decompress), and the CRC is still checked first.
TEST(batch_reject, codec_bits_over_uncompressed_records_are_refused) {
    for (int codec : {1, 2, 3, 4}) {
        auto b = small_batch();
        b[bl::attributes + 1] = static_cast<std::byte>(codec);
        reseal(b);
        EXPECT_FALSE(validate_batch(b, default_limits, now_ms)) << codec;
        b[bl::crc] ^= std::byte{1};
        EXPECT_EQ(validate_error(b), log_errc::crc_mismatch);
        auto v = validate_batch(small_batch(3, static_cast<compression_type>(codec)),
                                default_limits, now_ms);
        ASSERT_TRUE(v) << codec << ": " << v.error().message();
        EXPECT_EQ(v->max_record_timestamp, timestamp_ms(1002));
    }
}

TEST(batch_reject, timestamps_out_of_skew_or_overflowing) {
    record_to_build r{.value = "v"};
    r.timestamp_delta = 3'600'001;
    batch_limits limits;
    limits.max_timestamp_skew_ms = 3'600'000;
    auto future = build_batch(kafka_offset(0), now_ms.value(), std::span(&r, 1));
    EXPECT_EQ(validate_error(future, limits), log_errc::invalid_timestamp);
    EXPECT_TRUE(validate_batch(future, default_limits, now_ms));  // no skew check by default
    r.timestamp_delta = -3'600'001;
    auto past = build_batch(kafka_offset(0), now_ms.value(), std::span(&r, 1));
    EXPECT_EQ(validate_error(past, limits), log_errc::invalid_timestamp);

    // baseTimestamp + timestampDelta past int64: refused even without a skew check.
    r.timestamp_delta = 1;
    auto overflow =
        build_batch(kafka_offset(0), std::numeric_limits<int64_t>::max(), std::span(&r, 1));
    EXPECT_EQ(validate_error(overflow), log_errc::invalid_timestamp);
    r.timestamp_delta = std::numeric_limits<int64_t>::min();
    auto underflow = build_batch(kafka_offset(0), -1, std::span(&r, 1));
    EXPECT_EQ(validate_error(underflow), log_errc::invalid_timestamp);
    // Far from now by more than int64 can express: must not overflow inside the skew check.
    r.timestamp_delta = 0;
    auto ancient =
        build_batch(kafka_offset(0), std::numeric_limits<int64_t>::min(), std::span(&r, 1));
    EXPECT_EQ(validate_error(ancient, limits), log_errc::invalid_timestamp);
}

TEST(batch_reject, every_truncation_is_refused) {
    for (auto c : {compression_type::none, compression_type::gzip, compression_type::snappy,
                   compression_type::lz4, compression_type::zstd}) {
        const auto good = small_batch(20, c);
        for (size_t len = 0; len < good.size(); ++len) {
            const auto prefix = std::span(good).first(len);
            ASSERT_EQ(validate_error(prefix), log_errc::truncated_batch) << "prefix " << len;
            ASSERT_EQ(read_batch_header(prefix).error(), log_errc::truncated_batch)
                << "prefix " << len;
        }
        EXPECT_TRUE(validate_batch(good, default_limits, now_ms));
    }
}

TEST(batch_reject, zstd_payload_that_does_not_decompress) {
    auto bad = small_batch(10, compression_type::zstd);
    bad[batch_header_bytes + 6] ^= std::byte{0xff};
    bad.back() ^= std::byte{0x55};
    reseal(bad);
    EXPECT_EQ(validate_error(bad), log_errc::decompression_failed);
}

// Every codec's records are decompressed and read like uncompressed ones: a bad record inside a
// well-formed compressed section is refused, as is a section that does not decompress.
TEST(batch_reject, records_inside_every_codec_are_checked) {
    const auto bad_delta = section_of({{.offset_delta = 0}, {.offset_delta = 5}});
    const auto good = section_of({{.offset_delta = 0}, {.offset_delta = 1}});
    for (auto c : {compression_type::gzip, compression_type::snappy, compression_type::lz4,
                   compression_type::zstd}) {
        SCOPED_TRACE(static_cast<int>(c));
        EXPECT_TRUE(validate_batch(wrap_section(*compress(c, good), 2, c), default_limits, now_ms));
        EXPECT_EQ(validate_error(wrap_section(*compress(c, bad_delta), 2, c)),
                  log_errc::invalid_record);
        EXPECT_EQ(validate_error(wrap_section(*compress(c, good), 3, c)),
                  log_errc::invalid_record_count);
        // The uncompressed section itself, labelled with the codec: refused (snappy may read
        // it as a raw block that decodes to garbage records, so the error varies).
        EXPECT_FALSE(validate_batch(wrap_section(good, 2, c), default_limits, now_ms));
        // A bomb: 8 MiB of zeros against a 1 MiB bound.
        batch_limits limits;
        limits.max_uncompressed_bytes = 1 << 20;
        const auto bomb = wrap_section(*compress(c, std::vector<std::byte>(8 << 20)), 1, c);
        EXPECT_EQ(validate_error(bomb, limits), log_errc::decompressed_too_large);
    }
}

TEST(batch_reject, zstd_bomb_in_a_batch) {
    // A record section of 8 MiB of zeros compresses to a few hundred bytes.
    std::vector<std::byte> zeros(8 << 20);
    std::vector<std::byte> frame(ZSTD_compressBound(zeros.size()));
    frame.resize(ZSTD_compress(frame.data(), frame.size(), zeros.data(), zeros.size(), 3));
    ASSERT_LT(frame.size(), 4096u);
    const auto bomb = wrap_section(frame, 1, compression_type::zstd);
    batch_limits limits;
    limits.max_uncompressed_bytes = 1 << 20;
    EXPECT_EQ(validate_error(bomb, limits), log_errc::decompressed_too_large);
}

// Random single-byte corruptions: the CRC (or the framing) must catch every one, except in the
// two fields outside the CRC, which the leader overwrites anyway.
TEST(batch_reject, random_single_byte_corruptions) {
    std::mt19937_64 rng(test::test_seed("batch_reject.random_single_byte_corruptions"));
    for (auto c : {compression_type::none, compression_type::zstd}) {
        const auto good = small_batch(12, c);
        for (int i = 0; i < 20'000; ++i) {
            auto bad = good;
            const size_t at = rng() % bad.size();
            const auto flip = static_cast<std::byte>(1 + rng() % 255);
            bad[at] ^= flip;
            auto v = validate_batch(bad, default_limits, now_ms);
            const bool outside_crc =
                at < bl::batch_length || (at >= bl::partition_leader_epoch && at < bl::magic);
            if (!outside_crc) {
                ASSERT_FALSE(v) << "byte " << at << " ^ " << static_cast<int>(flip);
                continue;
            }
            ASSERT_TRUE(v) << "byte " << at;
            EXPECT_EQ(v->header.base_offset, kafka_offset(bl::get<int64_t>(bad, bl::base_offset)));
            EXPECT_EQ(v->header.partition_leader_epoch,
                      bl::get<int32_t>(bad, bl::partition_leader_epoch));
        }
    }
}

// Random bytes and random multi-byte damage with a resealed CRC reach the record parser itself:
// refused or accepted, never a crash (ASan and UBSan watch).
TEST(batch_reject, resealed_random_damage_reaches_the_record_parser) {
    std::mt19937_64 rng(test::test_seed("batch_reject.resealed_random_damage"));
    const auto good = small_batch(8);
    size_t refused = 0;
    for (int i = 0; i < 20'000; ++i) {
        auto bad = good;
        const int hits = 1 + static_cast<int>(rng() % 4);
        for (int h = 0; h < hits; ++h) {
            const size_t at = batch_header_bytes + rng() % (bad.size() - batch_header_bytes);
            bad[at] = static_cast<std::byte>(rng());
        }
        reseal(bad);
        auto v = validate_batch(bad, default_limits, now_ms);
        if (!v) {
            ++refused;
            EXPECT_EQ(v.error().category(), log_category());
        }
    }
    EXPECT_GT(refused, 1000u);
}

}  // namespace
}  // namespace wharf
