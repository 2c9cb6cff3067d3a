#include "log/crc32c.h"

#include <gtest/gtest.h>

#include <cstring>
#include <random>
#include <string_view>
#include <vector>

#include "tests/log/batch_test_support.h"

namespace wharf {
namespace {

uint32_t crc_of(std::string_view s) {
    return crc32c(0, s.data(), s.size());
}

// Published CRC32C check values (RFC 3720 appendix B.4 and the catalogue of parametrised CRCs).
struct known_vector {
    std::vector<uint8_t> data;
    uint32_t crc;
};

std::vector<known_vector> known_vectors() {
    std::vector<known_vector> v;
    v.push_back({{'1', '2', '3', '4', '5', '6', '7', '8', '9'}, 0xE3069283});
    v.push_back({std::vector<uint8_t>(32, 0x00), 0x8A9136AA});
    v.push_back({std::vector<uint8_t>(32, 0xFF), 0x62A8AB43});
    std::vector<uint8_t> ascending(32);
    for (size_t i = 0; i < 32; ++i) ascending[i] = static_cast<uint8_t>(i);
    v.push_back({ascending, 0x46DD794E});
    std::vector<uint8_t> descending(32);
    for (size_t i = 0; i < 32; ++i) descending[i] = static_cast<uint8_t>(31 - i);
    v.push_back({descending, 0x113FDB5C});
    v.push_back({{}, 0x00000000});
    return v;
}

TEST(crc32c, known_vectors_hardware_dispatch) {
    for (const auto& k : known_vectors()) {
        EXPECT_EQ(crc32c(0, k.data.data(), k.data.size()), k.crc) << k.data.size() << " bytes";
    }
    EXPECT_EQ(crc_of("123456789"), 0xE3069283u);
}

TEST(crc32c, known_vectors_portable) {
    for (const auto& k : known_vectors()) {
        EXPECT_EQ(crc32c_portable(0, k.data.data(), k.data.size()), k.crc)
            << k.data.size() << " bytes";
    }
}

TEST(crc32c, extending_equals_one_pass) {
    const std::string_view s = "123456789";
    for (size_t split = 0; split <= s.size(); ++split) {
        const uint32_t first = crc32c(0, s.data(), split);
        EXPECT_EQ(crc32c(first, s.data() + split, s.size() - split), 0xE3069283u) << split;
        const uint32_t pfirst = crc32c_portable(0, s.data(), split);
        EXPECT_EQ(crc32c_portable(pfirst, s.data() + split, s.size() - split), 0xE3069283u);
    }
}

TEST(crc32c, this_machine_has_the_instruction) {
    // Every x86-64 CPU Wharf targets has SSE4.2, and the build assumes it (-msse4.2); knowing
    // when the comparisons below are skipped matters more than the answer.
    EXPECT_TRUE(crc32c_hardware_available());
}

// The interleaved loop switches at 3 x 8192 and 3 x 256 bytes; lengths around those edges and
// their multiples are where a wrong join of the three streams would show.
TEST(crc32c, hardware_matches_portable_at_stream_edges) {
    if (!crc32c_hardware_available()) GTEST_SKIP() << "no SSE4.2 on this CPU";
    std::mt19937_64 rng(1);
    std::vector<uint8_t> buf(4 * 3 * 8192 + 64);
    for (auto& b : buf) b = static_cast<uint8_t>(rng());
    for (size_t base : {size_t{0}, size_t{768}, size_t{24576}, size_t{2 * 24576}}) {
        for (size_t delta = 0; delta < 20; ++delta) {
            for (size_t len : {base + delta, base > delta ? base - delta : 0}) {
                for (size_t misalign = 0; misalign < 8; ++misalign) {
                    const uint8_t* p = buf.data() + misalign;
                    ASSERT_EQ(crc32c(0x12345678, p, len), crc32c_portable(0x12345678, p, len))
                        << "len " << len << " misalign " << misalign;
                }
            }
        }
    }
}

TEST(crc32c, hardware_matches_portable_on_random_data) {
    if (!crc32c_hardware_available()) GTEST_SKIP() << "no SSE4.2 on this CPU";
    std::mt19937_64 rng(test::test_seed("crc32c.hardware_matches_portable_on_random_data"));
    std::vector<uint8_t> buf(200'000);
    for (auto& b : buf) b = static_cast<uint8_t>(rng());
    for (int i = 0; i < 2000; ++i) {
        const size_t offset = rng() % 64;
        // Mostly short lengths, as records are, and some long ones for the three-way loop.
        const size_t max_len = (i % 10 == 0) ? buf.size() - offset : 2048;
        const size_t len = rng() % (max_len + 1);
        const auto seed_crc = static_cast<uint32_t>(rng());
        ASSERT_EQ(crc32c(seed_crc, buf.data() + offset, len),
                  crc32c_portable(seed_crc, buf.data() + offset, len))
            << "offset " << offset << " len " << len;
    }
}

TEST(crc32c, detects_every_single_bit_flip) {
    std::vector<uint8_t> buf(1024);
    for (size_t i = 0; i < buf.size(); ++i) buf[i] = static_cast<uint8_t>(i * 7);
    const uint32_t good = crc32c(0, buf.data(), buf.size());
    for (size_t bit = 0; bit < buf.size() * 8; ++bit) {
        buf[bit / 8] ^= static_cast<uint8_t>(1u << (bit % 8));
        ASSERT_NE(crc32c(0, buf.data(), buf.size()), good) << "bit " << bit;
        buf[bit / 8] ^= static_cast<uint8_t>(1u << (bit % 8));
    }
}

}  // namespace
}  // namespace wharf
