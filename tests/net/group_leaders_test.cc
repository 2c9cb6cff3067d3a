// The group_leaders payload (net/rpc/group_leaders.h): which groups of fixed replica sets a
// broker leads, told to the brokers outside them.

#include <gtest/gtest.h>

#include <vector>

#include "net/rpc/errc.h"
#include "net/rpc/group_leaders.h"

namespace wharf::rpc {
namespace {

iobuf buf(const std::vector<std::byte>& v) {
    return iobuf::copy_of(v.data(), v.size());
}

TEST(group_leaders, round_trips) {
    std::vector<group_leadership> none;
    auto empty = encode_group_leaders(none);
    EXPECT_EQ(empty.size(), 6u);
    ASSERT_TRUE(decode_group_leaders(buf(empty)));
    EXPECT_TRUE(decode_group_leaders(buf(empty))->empty());

    std::vector<group_leadership> some = {
        {raft_group_id(1), term_id(0), node_id(0)},
        {raft_group_id(0xffff), term_id(INT64_MAX), node_id(INT32_MAX)},
    };
    auto bytes = encode_group_leaders(some);
    ASSERT_EQ(bytes.size(), 6u + 2 * 14);
    auto back = decode_group_leaders(buf(bytes));
    ASSERT_TRUE(back) << back.error().message();
    EXPECT_EQ(*back, some);
    // Little-endian: version 1, count 2, then the first group id.
    EXPECT_EQ(std::to_integer<int>(bytes[0]), 1);
    EXPECT_EQ(std::to_integer<int>(bytes[2]), 2);
    EXPECT_EQ(std::to_integer<int>(bytes[6]), 1);
}

TEST(group_leaders, refuses_what_is_not_one_list) {
    std::vector<group_leadership> one = {{raft_group_id(3), term_id(7), node_id(2)}};
    auto good = encode_group_leaders(one);
    auto malformed = make_error_code(rpc_errc::malformed_group_leaders);
    // Every truncation, and a trailing byte.
    for (size_t n = 0; n < good.size(); ++n) {
        std::vector<std::byte> cut(good.begin(), good.begin() + long(n));
        EXPECT_EQ(decode_group_leaders(buf(cut)).error(), malformed) << n;
    }
    auto longer = good;
    longer.push_back(std::byte{0});
    EXPECT_EQ(decode_group_leaders(buf(longer)).error(), malformed);
    auto with = [&](size_t at, uint8_t v) {
        auto b = good;
        b[at] = std::byte{v};
        return decode_group_leaders(buf(b));
    };
    EXPECT_EQ(with(0, 2).error(), malformed);     // version
    EXPECT_EQ(with(2, 200).error(), malformed);   // a count the bytes do not hold
    EXPECT_EQ(with(6, 0).error(), malformed);     // group 0 is never told
    EXPECT_EQ(with(15, 0x80).error(), malformed); // a negative term
    EXPECT_EQ(with(19, 0x80).error(), malformed); // a negative leader
    EXPECT_TRUE(with(8, 9));                      // another term is fine
}

}  // namespace
}  // namespace wharf::rpc
