// gzip, lz4 and snappy (log/compression.h) against the same contract as zstd: exact round trips,
// an exact output bound, bombs refused without allocating their size, malformed input refused;
// plus the framings real clients write (concatenated gzip members and lz4 frames, xerial snappy
// with and without its header) and the dispatch by compression_type.

#include <gtest/gtest.h>

#include <cstring>
#include <random>
#include <string>

#include <lz4frame.h>
#include <snappy-c.h>
#include <zlib.h>

#include "log/compression.h"
#include "log/errc.h"
#include "tests/log/batch_test_support.h"

namespace wharf {
namespace {

std::vector<std::byte> random_bytes(size_t n, std::mt19937_64& rng, int alphabet = 256) {
    std::vector<std::byte> out(n);
    for (auto& b : out) b = static_cast<std::byte>(rng() % alphabet);
    return out;
}

std::vector<std::byte> concat(std::vector<std::byte> a, std::span<const std::byte> b) {
    a.insert(a.end(), b.begin(), b.end());
    return a;
}

// The codecs under test, by the dispatch (zstd included: the dispatch must reach it too).
const compression_type all_codecs[] = {compression_type::gzip, compression_type::snappy,
                                       compression_type::lz4, compression_type::zstd};

std::string name_of(compression_type c) {
    return "codec " + std::to_string(static_cast<int>(c));
}

TEST(codecs, round_trip_random_sizes) {
    std::mt19937_64 rng(test::test_seed("codecs.round_trip_random_sizes"));
    for (auto c : all_codecs) {
        for (size_t n : {size_t{0}, size_t{1}, size_t{100}, size_t{32 << 10}, size_t{70'000},
                         size_t{1 << 20}}) {
            // Both compressible (small alphabet) and incompressible (all bytes) input.
            for (int alphabet : {4, 256}) {
                const auto in = random_bytes(n, rng, alphabet);
                auto packed = compress(c, in);
                ASSERT_TRUE(packed) << name_of(c) << ": " << packed.error().message();
                auto back = decompress(c, *packed, n);
                ASSERT_TRUE(back) << name_of(c) << " " << n << ": " << back.error().message();
                EXPECT_EQ(*back, in) << name_of(c) << " " << n;
            }
        }
    }
}

// The output may end exactly at the bound; one byte more is too large.
TEST(codecs, bound_is_exact) {
    std::mt19937_64 rng(11);
    for (auto c : all_codecs) {
        for (size_t n : {size_t{1}, size_t{65'536}, size_t{200'001}}) {
            const auto in = random_bytes(n, rng, 8);
            const auto packed = *compress(c, in);
            auto ok = decompress(c, packed, n);
            ASSERT_TRUE(ok) << name_of(c) << " " << n << ": " << ok.error().message();
            EXPECT_EQ(*ok, in);
            EXPECT_EQ(decompress(c, packed, n - 1).error(), log_errc::decompressed_too_large)
                << name_of(c) << " " << n;
        }
        EXPECT_EQ(decompress(c, *compress(c, std::vector<std::byte>(10)), 0).error(),
                  log_errc::decompressed_too_large)
            << name_of(c);
    }
}

TEST(codecs, bomb_is_refused_without_allocating_its_size) {
    // 64 MiB of zeros: a few hundred KiB of gzip or lz4, 3 MiB of snappy.
    std::vector<std::byte> zeros(64 << 20);
    const size_t max_out = 1 << 20;
    for (auto c : {compression_type::gzip, compression_type::snappy, compression_type::lz4}) {
        const auto bomb = *compress(c, zeros);
        ASSERT_LT(bomb.size(), zeros.size() / 16) << name_of(c);
        std::error_code err;
        auto run = [&] { err = decompress(c, bomb, max_out).error(); };
        if (!test::allocation_counting_available()) {
            run();
            EXPECT_EQ(err, log_errc::decompressed_too_large) << name_of(c);
            continue;
        }
        const auto stats = test::count_allocations(run);
        EXPECT_EQ(err, log_errc::decompressed_too_large) << name_of(c);
        // The output stops at max_out; a codec's own buffers (lz4: one 64 KiB block) come on top.
        EXPECT_LE(stats.largest_bytes, max_out + (256u << 10)) << name_of(c);
        EXPECT_LE(stats.total_bytes, 2 * max_out + (1u << 20)) << name_of(c);
    }
}

TEST(codecs, malformed_input_fails) {
    std::mt19937_64 rng(12);
    const auto garbage = random_bytes(1000, rng);
    const auto in = random_bytes(5000, rng, 8);
    for (auto c : all_codecs) {
        EXPECT_EQ(decompress(c, {}, 100).error(), log_errc::decompression_failed) << name_of(c);
        EXPECT_EQ(decompress(c, garbage, 1 << 20).error(), log_errc::decompression_failed)
            << name_of(c);
        // Every prefix of a valid stream is cut short.
        const auto packed = *compress(c, in);
        for (size_t len = 0; len < packed.size(); ++len) {
            auto r = decompress(c, std::span(packed).first(len), 1 << 20);
            if (c == compression_type::snappy && len == 16) {
                // The xerial header alone is a whole (empty) stream.
                ASSERT_TRUE(r) << r.error().message();
                EXPECT_TRUE(r->empty());
                continue;
            }
            ASSERT_FALSE(r) << name_of(c) << " prefix " << len;
            ASSERT_EQ(r.error(), log_errc::decompression_failed) << name_of(c) << " prefix " << len;
        }
        // A valid stream followed by a stray byte.
        auto tail = packed;
        tail.push_back(std::byte{0x42});
        EXPECT_EQ(decompress(c, tail, 1 << 20).error(), log_errc::decompression_failed)
            << name_of(c);
        // A flipped byte in the middle: a checksum (gzip, lz4 block data is unchecked but the
        // frame's structure usually breaks) or the structure fails; never a crash. Whatever the
        // outcome, nothing past the bound comes out.
        auto flipped = packed;
        flipped[flipped.size() / 2] ^= std::byte{0x5a};
        auto r = decompress(c, flipped, in.size());
        if (r) {
            EXPECT_LE(r->size(), in.size());
        }
    }
}

TEST(codecs, dispatch_none_and_unknown) {
    const std::vector<std::byte> in(100, std::byte{7});
    EXPECT_EQ(*compress(compression_type::none, in), in);
    EXPECT_EQ(*decompress(compression_type::none, in, 100), in);
    EXPECT_EQ(decompress(compression_type::none, in, 99).error(), log_errc::decompressed_too_large);
    const auto bad = static_cast<compression_type>(5);
    EXPECT_EQ(compress(bad, in).error(), log_errc::unsupported_compression);
    EXPECT_EQ(decompress(bad, in, 100).error(), log_errc::unsupported_compression);
}

// --- gzip --------------------------------------------------------------------------------------

TEST(gzip, concatenated_members_and_level_clamping) {
    std::mt19937_64 rng(13);
    const auto a = random_bytes(100'000, rng, 8);
    const auto b = random_bytes(1000, rng, 8);
    const auto both = concat(*gzip_compress(a, 1), *gzip_compress(b, 1000));
    auto back = gzip_decompress(both, a.size() + b.size());
    ASSERT_TRUE(back) << back.error().message();
    EXPECT_EQ(*back, concat(a, b));
    EXPECT_EQ(gzip_decompress(both, a.size() + b.size() - 1).error(),
              log_errc::decompressed_too_large);
    // zlib's own format (no gzip wrapper) is not what Kafka writes.
    std::vector<std::byte> zlib_format(compressBound(a.size()));
    uLongf len = zlib_format.size();
    ASSERT_EQ(compress2(reinterpret_cast<Bytef*>(zlib_format.data()), &len,
                        reinterpret_cast<const Bytef*>(a.data()), a.size(), 6),
              Z_OK);
    zlib_format.resize(len);
    EXPECT_EQ(gzip_decompress(zlib_format, 1 << 20).error(), log_errc::decompression_failed);
}

TEST(gzip, corrupted_trailer_is_refused) {
    std::mt19937_64 rng(14);
    const auto in = random_bytes(10'000, rng, 8);
    auto packed = *gzip_compress(in);
    packed[packed.size() - 5] ^= std::byte{1};  // the CRC32 of the trailer
    EXPECT_EQ(gzip_decompress(packed, 1 << 20).error(), log_errc::decompression_failed);
}

// --- lz4 ---------------------------------------------------------------------------------------

// A frame as librdkafka writes it: content size and checksums, linked blocks of 4 MiB.
std::vector<std::byte> lz4_frame_with(std::span<const std::byte> in, LZ4F_blockSizeID_t block,
                                      LZ4F_blockMode_t mode) {
    LZ4F_preferences_t prefs{};
    prefs.frameInfo.blockSizeID = block;
    prefs.frameInfo.blockMode = mode;
    prefs.frameInfo.contentChecksumFlag = LZ4F_contentChecksumEnabled;
    prefs.frameInfo.blockChecksumFlag = LZ4F_blockChecksumEnabled;
    prefs.frameInfo.contentSize = in.size();
    std::vector<std::byte> out(LZ4F_compressFrameBound(in.size(), &prefs));
    const size_t n = LZ4F_compressFrame(out.data(), out.size(), in.data(), in.size(), &prefs);
    EXPECT_FALSE(LZ4F_isError(n));
    out.resize(n);
    return out;
}

TEST(lz4, frames_of_other_writers_and_concatenated_frames) {
    std::mt19937_64 rng(15);
    const auto a = random_bytes(300'000, rng, 8);
    const auto b = random_bytes(5000, rng, 8);
    const auto linked = lz4_frame_with(a, LZ4F_max4MB, LZ4F_blockLinked);
    auto back = lz4_decompress(linked, a.size());
    ASSERT_TRUE(back) << back.error().message();
    EXPECT_EQ(*back, a);
    // Small 64 KiB linked blocks into a small first buffer: the output moves between calls while
    // the decoder still needs the history of the previous block.
    const auto small_blocks = lz4_frame_with(a, LZ4F_max64KB, LZ4F_blockLinked);
    back = lz4_decompress(small_blocks, a.size());
    ASSERT_TRUE(back) << back.error().message();
    EXPECT_EQ(*back, a);

    const auto both = concat(linked, *lz4_compress(b));
    back = lz4_decompress(both, a.size() + b.size());
    ASSERT_TRUE(back) << back.error().message();
    EXPECT_EQ(*back, concat(a, b));
    EXPECT_EQ(lz4_decompress(both, a.size() + b.size() - 1).error(),
              log_errc::decompressed_too_large);
    // A frame whose content checksum is wrong.
    auto bad_sum = lz4_frame_with(b, LZ4F_max64KB, LZ4F_blockIndependent);
    bad_sum.back() ^= std::byte{1};
    EXPECT_EQ(lz4_decompress(bad_sum, 1 << 20).error(), log_errc::decompression_failed);
}

TEST(lz4, frame_that_lies_about_its_content_size) {
    std::mt19937_64 rng(16);
    const auto in = random_bytes(100'000, rng, 8);
    auto frame = lz4_frame_with(in, LZ4F_max64KB, LZ4F_blockIndependent);
    // Header: magic (4), FLG, BD, then the 8-byte content size and a header checksum byte.
    frame[6] = std::byte{0x10};
    for (int i = 7; i < 14; ++i) frame[i] = std::byte{0};
    // The header checksum now mismatches, or (were it fixed) the size would: refused either way.
    EXPECT_EQ(lz4_decompress(frame, 1 << 20).error(), log_errc::decompression_failed);
}

// --- snappy ------------------------------------------------------------------------------------

std::vector<std::byte> raw_snappy(std::span<const std::byte> in) {
    std::vector<std::byte> out(snappy_max_compressed_length(in.size()));
    size_t n = out.size();
    EXPECT_EQ(::snappy_compress(reinterpret_cast<const char*>(in.data()), in.size(),
                                reinterpret_cast<char*>(out.data()), &n),
              SNAPPY_OK);
    out.resize(n);
    return out;
}

TEST(snappy, xerial_framing_is_written_and_raw_blocks_are_read) {
    std::mt19937_64 rng(17);
    const auto in = random_bytes(100'000, rng, 8);
    const auto framed = *snappy_compress(in);
    const uint8_t header[16] = {0x82, 'S', 'N', 'A', 'P', 'P', 'Y', 0, 0, 0, 0, 1, 0, 0, 0, 1};
    ASSERT_GE(framed.size(), 20u);
    EXPECT_EQ(std::memcmp(framed.data(), header, sizeof(header)), 0);
    // Four 32 KiB blocks (the last partial), each a big-endian length and a raw block.
    size_t pos = 16;
    int blocks = 0;
    while (pos < framed.size()) {
        const uint32_t len = (std::to_integer<uint32_t>(framed[pos]) << 24) |
                             (std::to_integer<uint32_t>(framed[pos + 1]) << 16) |
                             (std::to_integer<uint32_t>(framed[pos + 2]) << 8) |
                             std::to_integer<uint32_t>(framed[pos + 3]);
        pos += 4 + len;
        ++blocks;
    }
    EXPECT_EQ(pos, framed.size());
    EXPECT_EQ(blocks, 4);

    auto raw = snappy_decompress(raw_snappy(in), in.size());
    ASSERT_TRUE(raw) << raw.error().message();
    EXPECT_EQ(*raw, in);
    // Concatenated xerial streams (a header again between blocks).
    const auto b = random_bytes(1000, rng, 8);
    auto both = snappy_decompress(concat(framed, *snappy_compress(b)), in.size() + b.size());
    ASSERT_TRUE(both) << both.error().message();
    EXPECT_EQ(*both, concat(in, b));
}

TEST(snappy, hostile_lengths_are_refused_before_allocating) {
    std::vector<std::byte> header(16);
    const uint8_t magic[16] = {0x82, 'S', 'N', 'A', 'P', 'P', 'Y', 0, 0, 0, 0, 1, 0, 0, 0, 1};
    std::memcpy(header.data(), magic, 16);
    auto with_block = [&](std::initializer_list<int> bytes) {
        auto out = header;
        for (int v : bytes) out.push_back(static_cast<std::byte>(v));
        return out;
    };
    // A negative chunk length, and one past the input.
    EXPECT_EQ(snappy_decompress(with_block({0x80, 0, 0, 0, 0}), 1 << 20).error(),
              log_errc::decompression_failed);
    EXPECT_EQ(snappy_decompress(with_block({0, 0, 0, 9, 0}), 1 << 20).error(),
              log_errc::decompression_failed);
    // A truncated header, and a truncated chunk length.
    EXPECT_EQ(snappy_decompress(std::span(header).first(12), 1 << 20).error(),
              log_errc::decompression_failed);
    EXPECT_EQ(snappy_decompress(with_block({0, 0}), 1 << 20).error(),
              log_errc::decompression_failed);
    // A raw block claiming 512 MiB (varint 0x80 0x80 0x80 0x80 0x02) in a few bytes: past the
    // bound; and one claiming 900 KiB in 6 bytes: within the bound but impossible.
    const std::vector<std::byte> huge = {std::byte{0x80}, std::byte{0x80}, std::byte{0x80},
                                         std::byte{0x80}, std::byte{0x02}, std::byte{0}};
    const std::vector<std::byte> liar = {std::byte{0x80}, std::byte{0xf8}, std::byte{0x36},
                                         std::byte{0},    std::byte{0},    std::byte{0}};
    for (const auto* in : {&huge, &liar}) {
        std::error_code err;
        auto run = [&] { err = snappy_decompress(*in, 1 << 20).error(); };
        const auto stats = test::allocation_counting_available()
                               ? test::count_allocations(run)
                               : (run(), test::allocation_stats{});
        EXPECT_NE(err, std::error_code());
        EXPECT_LE(stats.total_bytes, 4096u) << err.message();
    }
    EXPECT_EQ(snappy_decompress(huge, 1 << 20).error(), log_errc::decompressed_too_large);
    EXPECT_EQ(snappy_decompress(liar, 1 << 20).error(), log_errc::decompression_failed);
}

}  // namespace
}  // namespace wharf
