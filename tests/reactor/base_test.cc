// Vocabulary types: result<T>, strong ids, and assertions that stay on in release builds.

// Compile this file as a release build would: assertions must not depend on NDEBUG.
#define NDEBUG 1

#include <gtest/gtest.h>

#include <string>
#include <system_error>
#include <type_traits>

#include "reactor/base/assert.h"
#include "reactor/base/ids.h"
#include "reactor/base/result.h"

namespace wharf {
namespace {

result<int> half(int x) {
    if (x % 2 != 0) return std::make_error_code(std::errc::invalid_argument);
    return x / 2;
}

result<int> quarter(int x) {
    WHARF_TRY(h, half(x));
    WHARF_TRY(q, half(h));
    return q;
}

TEST(result, holds_value_or_error) {
    auto ok = half(8);
    ASSERT_TRUE(ok);
    EXPECT_EQ(*ok, 4);
    EXPECT_FALSE(ok.error());
    auto bad = half(3);
    EXPECT_FALSE(bad);
    EXPECT_EQ(bad.error(), std::errc::invalid_argument);
    EXPECT_EQ(*quarter(8), 2);
    EXPECT_EQ(quarter(6).error(), std::errc::invalid_argument);
    status s;
    EXPECT_TRUE(s);
    status f = std::make_error_code(std::errc::io_error);
    EXPECT_FALSE(f);
}

TEST(result, value_of_an_error_is_fatal) {
    EXPECT_DEATH((void)half(3).value(), "value\\(\\) of a result holding error");
}

TEST(assertions, stay_on_with_ndebug_and_name_the_condition) {
    int x = 1;
    EXPECT_DEATH(WHARF_ASSERT(x == 2, "x is {}", x), "x == 2: x is 1");
}

TEST(strong_ids, do_not_mix) {
    static_assert(!std::is_convertible_v<kafka_offset, raft_index>);
    static_assert(!std::is_convertible_v<raft_index, kafka_offset>);
    static_assert(!std::is_convertible_v<int64_t, kafka_offset>);
    static_assert(!std::is_convertible_v<kafka_offset, int64_t>);
    kafka_offset o(10);
    EXPECT_EQ((o + 5).value(), 15);
    EXPECT_EQ(kafka_offset(20) - o, 10);
    EXPECT_LT(o, kafka_offset(11));
    EXPECT_EQ(fmt::format("{}", o), "10");
}

}  // namespace
}  // namespace wharf
