#include "log/compression.h"

#include <gtest/gtest.h>

#include <random>

#include <zstd.h>

#include "log/errc.h"
#include "tests/log/batch_test_support.h"

namespace wharf {
namespace {

std::vector<std::byte> random_bytes(size_t n, std::mt19937_64& rng, int alphabet = 256) {
    std::vector<std::byte> out(n);
    for (auto& b : out) b = static_cast<std::byte>(rng() % alphabet);
    return out;
}

// A frame as a streaming producer writes it (zstd-jni's ZstdOutputStream): no content size in
// the header, so the decoder cannot know the output size up front.
std::vector<std::byte> streamed_frame(std::span<const std::byte> in, int window_log = 0) {
    ZSTD_CCtx* ctx = ZSTD_createCCtx();
    ZSTD_CCtx_setParameter(ctx, ZSTD_c_contentSizeFlag, 0);
    if (window_log != 0) ZSTD_CCtx_setParameter(ctx, ZSTD_c_windowLog, window_log);
    std::vector<std::byte> out(ZSTD_compressBound(in.size()) + 1024);
    ZSTD_outBuffer o{out.data(), out.size(), 0};
    // Input fed in two calls keeps zstd from learning the total size and shrinking the window.
    const size_t half = in.size() / 2;
    ZSTD_inBuffer first{in.data(), half, 0};
    ZSTD_compressStream2(ctx, &o, &first, ZSTD_e_continue);
    ZSTD_inBuffer second{in.data() + half, in.size() - half, 0};
    size_t left = 0;
    do {
        left = ZSTD_compressStream2(ctx, &o, &second, ZSTD_e_end);
    } while (left != 0 && !ZSTD_isError(left));
    EXPECT_FALSE(ZSTD_isError(left));
    ZSTD_freeCCtx(ctx);
    out.resize(o.pos);
    EXPECT_EQ(ZSTD_getFrameContentSize(out.data(), out.size()), ZSTD_CONTENTSIZE_UNKNOWN);
    return out;
}

TEST(zstd, round_trips_random_sizes) {
    std::mt19937_64 rng(test::test_seed("zstd.round_trips_random_sizes"));
    for (size_t n : {size_t{0}, size_t{1}, size_t{100}, size_t{70'000}, size_t{1 << 20}}) {
        const auto in = random_bytes(n, rng, 16);
        auto packed = zstd_compress(in);
        ASSERT_TRUE(packed) << packed.error().message();
        auto back = zstd_decompress(*packed, n);
        ASSERT_TRUE(back) << n << ": " << back.error().message();
        EXPECT_EQ(*back, in);
    }
}

TEST(zstd, levels_out_of_range_are_clamped) {
    std::mt19937_64 rng(3);
    const auto in = random_bytes(5000, rng, 4);
    for (int level : {-1000, 1, 19, 1000}) {
        auto packed = zstd_compress(in, level);
        ASSERT_TRUE(packed) << level;
        EXPECT_EQ(*zstd_decompress(*packed, in.size()), in);
    }
}

TEST(zstd, streamed_frames_and_concatenated_frames) {
    std::mt19937_64 rng(4);
    const auto a = random_bytes(300'000, rng, 8);
    const auto b = random_bytes(1000, rng, 8);
    auto fa = streamed_frame(a);
    auto back = zstd_decompress(fa, a.size());
    ASSERT_TRUE(back) << back.error().message();
    EXPECT_EQ(*back, a);

    auto fb = *zstd_compress(b);
    std::vector<std::byte> both = fa;
    both.insert(both.end(), fb.begin(), fb.end());
    auto joined = zstd_decompress(both, a.size() + b.size());
    ASSERT_TRUE(joined) << joined.error().message();
    std::vector<std::byte> expected = a;
    expected.insert(expected.end(), b.begin(), b.end());
    EXPECT_EQ(*joined, expected);
    // The bound applies to the sum of the frames.
    EXPECT_EQ(zstd_decompress(both, a.size() + b.size() - 1).error(),
              log_errc::decompressed_too_large);
}

// The output may end exactly at the bound; one byte more is too large. Both for frames that state
// their size (refused up front) and streamed ones (refused while decoding).
TEST(zstd, bound_is_exact) {
    std::mt19937_64 rng(5);
    for (size_t n : {size_t{1}, size_t{65'536}, size_t{200'001}}) {
        const auto in = random_bytes(n, rng, 8);
        for (const auto& frame : {*zstd_compress(in), streamed_frame(in)}) {
            auto ok = zstd_decompress(frame, n);
            ASSERT_TRUE(ok) << n << ": " << ok.error().message();
            EXPECT_EQ(*ok, in);
            EXPECT_EQ(zstd_decompress(frame, n - 1).error(), log_errc::decompressed_too_large) << n;
        }
    }
    EXPECT_EQ(zstd_decompress(*zstd_compress(std::vector<std::byte>(10)), 0).error(),
              log_errc::decompressed_too_large);
}

TEST(zstd, bomb_is_refused_without_allocating_its_size) {
    // 256 MiB of zeros compresses to about 8 KiB.
    std::vector<std::byte> zeros(256 << 20);
    const auto sized = *zstd_compress(zeros);
    const auto streamed = streamed_frame(zeros);
    zeros = {};
    ASSERT_LT(sized.size(), 64u << 10);
    ASSERT_LT(streamed.size(), 64u << 10);
    const size_t max_out = 1 << 20;
    for (const auto* frame : {&sized, &streamed}) {
        std::error_code err;
        auto run = [&] { err = zstd_decompress(*frame, max_out).error(); };
        if (!test::allocation_counting_available()) {
            run();
            EXPECT_EQ(err, log_errc::decompressed_too_large);
            continue;
        }
        const auto stats = test::count_allocations(run);
        EXPECT_EQ(err, log_errc::decompressed_too_large);
        // The output buffer stops at max_out; zstd's own window (at most 4 MiB for this bound)
        // comes on top. Nowhere near the 256 MiB the frame holds.
        EXPECT_LE(stats.largest_bytes, 4u << 20) << stats.largest_bytes;
        EXPECT_LE(stats.total_bytes, max_out + (6u << 20)) << stats.total_bytes;
    }
}

// A frame header that claims less than the frame holds. zstd checks the claim block by block;
// whichever check fires first, the frame is refused and the output never passes the bound.
TEST(zstd, frame_that_lies_about_its_size) {
    std::mt19937_64 rng(6);
    const auto in = random_bytes(2 << 20, rng, 4);
    auto frame = *zstd_compress(in);
    // Frame header: magic (4), descriptor (1), a window descriptor (1) unless the frame is a
    // single segment, then the content size; with a 2 MiB input that field has 4 bytes.
    const auto descriptor = static_cast<uint8_t>(frame[4]);
    ASSERT_EQ(descriptor >> 6, 2) << "expected a 4-byte content size field";
    const size_t size_at = (descriptor & 0x20) != 0 ? 5 : 6;
    frame[size_at] = std::byte{0x10};  // claim 16 bytes
    frame[size_at + 1] = frame[size_at + 2] = frame[size_at + 3] = std::byte{0};
    ASSERT_EQ(ZSTD_getFrameContentSize(frame.data(), frame.size()), 16u);
    for (size_t max_out : {size_t{1} << 20, size_t{4} << 20}) {
        std::error_code err;
        auto run = [&] { err = zstd_decompress(frame, max_out).error(); };
        const auto stats = test::allocation_counting_available()
                               ? test::count_allocations(run)
                               : (run(), test::allocation_stats{});
        EXPECT_TRUE(err == log_errc::decompression_failed ||
                    err == log_errc::decompressed_too_large)
            << err.message();
        EXPECT_LE(stats.total_bytes, max_out + (6u << 20));
    }
}

TEST(zstd, window_larger_than_the_bound_allows_is_refused) {
    std::mt19937_64 rng(7);
    const auto in = random_bytes(100'000, rng, 4);
    const auto frame = streamed_frame(in, 24);  // declares a 16 MiB window
    EXPECT_EQ(zstd_decompress(frame, 1 << 20).error(), log_errc::decompressed_too_large);
    auto ok = zstd_decompress(frame, 16 << 20);
    ASSERT_TRUE(ok) << ok.error().message();
    EXPECT_EQ(*ok, in);
}

TEST(zstd, malformed_input_fails) {
    EXPECT_EQ(zstd_decompress({}, 100).error(), log_errc::decompression_failed);
    std::mt19937_64 rng(8);
    const auto garbage = random_bytes(1000, rng);
    EXPECT_EQ(zstd_decompress(garbage, 1 << 20).error(), log_errc::decompression_failed);
    // Every prefix of a valid frame is cut short.
    const auto in = random_bytes(5000, rng, 8);
    for (const auto& frame : {*zstd_compress(in), streamed_frame(in)}) {
        for (size_t len = 0; len < frame.size(); ++len) {
            auto r = zstd_decompress(std::span(frame).first(len), 1 << 20);
            ASSERT_FALSE(r) << "prefix " << len;
            ASSERT_EQ(r.error(), log_errc::decompression_failed) << "prefix " << len;
        }
    }
    // A valid frame followed by garbage.
    auto tail = *zstd_compress(in);
    tail.push_back(std::byte{0x42});
    EXPECT_EQ(zstd_decompress(tail, 1 << 20).error(), log_errc::decompression_failed);
}

TEST(zstd, errors_name_the_log_category) {
    const std::error_code e = log_errc::decompressed_too_large;
    EXPECT_EQ(e.category().name(), std::string("wharf.log"));
    EXPECT_NE(e.message().find("expand"), std::string::npos);
    EXPECT_EQ(std::error_code(log_errc::crc_mismatch), log_errc::crc_mismatch);
    EXPECT_NE(std::error_code(log_errc::crc_mismatch), std::error_code(log_errc::io_error));
}

}  // namespace
}  // namespace wharf
