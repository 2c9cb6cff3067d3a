#include "net/kafka/client/murmur2.h"

#include <gtest/gtest.h>

#include <string>
#include <vector>

namespace wharf::perf {
namespace {

using namespace kafka::client;

// Apache Kafka's UtilsTest.testMurmur2 (clients/src/test/java/org/apache/kafka/common/utils/
// UtilsTest.java), as quoted by kafka_ex's murmur_test.exs and other ports.
TEST(murmur2, kafka_utils_test_vectors) {
    EXPECT_EQ(murmur2("21"), -973932308);
    EXPECT_EQ(murmur2("foobar"), -790332482);
    EXPECT_EQ(murmur2("a-little-bit-long-string"), -985981536);
    EXPECT_EQ(murmur2("a-little-bit-longer-string"), -1486304829);
    EXPECT_EQ(murmur2("lkjh234lh9fiuh90y23oiuhsafujhadof229phr9h19h89h8"), -58897971);
    EXPECT_EQ(murmur2("abc"), 479470107);
}

// Akka's Murmur2Spec, "expected correct hash values from the kafka murmur2 impl": every tail
// length (1 to 4 bytes past a multiple of four) and one whole word.
TEST(murmur2, akka_kafka_vectors_cover_every_tail_length) {
    EXPECT_EQ(murmur2("1"), -1993445489);
    EXPECT_EQ(murmur2("12"), 126087238);
    EXPECT_EQ(murmur2("123"), -267702483);
    EXPECT_EQ(murmur2("1234"), -1614185708);
    EXPECT_EQ(murmur2("12345"), -1188365604);
}

TEST(murmur2, bytes_and_string_agree_and_high_bytes_are_unsigned) {
    std::vector<uint8_t> bytes = {'a', 'b', 'c'};
    EXPECT_EQ(murmur2(std::span<const uint8_t>(bytes)), murmur2("abc"));
    // Java masks each byte with 0xff; bytes >= 0x80 must not sign-extend.
    std::string high = "\xff\x80\xfe\x81\xc3";
    std::vector<uint8_t> high_bytes(high.begin(), high.end());
    EXPECT_EQ(murmur2(high), murmur2(std::span<const uint8_t>(high_bytes)));
    EXPECT_NE(murmur2(high), murmur2(std::string_view("\x7f\x00\x7e\x01\x43", 5)));
    // The empty key hashes too (seed ^ 0, mixed).
    EXPECT_EQ(murmur2(""), murmur2(std::span<const uint8_t>()));
}

TEST(murmur2, to_positive_clears_the_sign_bit) {
    EXPECT_EQ(to_positive(0), 0);
    EXPECT_EQ(to_positive(5), 5);
    EXPECT_EQ(to_positive(-1), 0x7fffffff);
    EXPECT_EQ(to_positive(INT32_MIN), 0);
    EXPECT_EQ(to_positive(-973932308), -973932308 & 0x7fffffff);
}

TEST(murmur2, partition_for_key_is_kafkas_default) {
    // -973932308 & 0x7fffffff = 1173551340.
    EXPECT_EQ(partition_for_key("21", 1), 0);
    EXPECT_EQ(partition_for_key("21", 7), 1173551340 % 7);
    EXPECT_EQ(partition_for_key("21", 100), 40);
    // 479470107 is positive.
    EXPECT_EQ(partition_for_key("abc", 10), 7);
    EXPECT_EQ(partition_for_key("abc", 16), 479470107 % 16);
    std::vector<uint8_t> key = {'f', 'o', 'o', 'b', 'a', 'r'};
    EXPECT_EQ(partition_for_key(std::span<const uint8_t>(key), 3), partition_for_key("foobar", 3));
    for (int32_t partitions : {1, 2, 3, 100, 10'000}) {
        int32_t p = partition_for_key("a-little-bit-long-string", partitions);
        EXPECT_GE(p, 0);
        EXPECT_LT(p, partitions);
    }
}

}  // namespace
}  // namespace wharf::perf
