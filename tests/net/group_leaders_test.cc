// The group_leaders payload (net/rpc/group_leaders.h): which groups of fixed replica sets a
// broker leads, and (version 2) their members, told to the brokers outside them.

#include <gtest/gtest.h>

#include <vector>

#include "net/rpc/errc.h"
#include "net/rpc/group_leaders.h"

namespace wharf::rpc {
namespace {

iobuf buf(const std::vector<std::byte>& v) {
    return iobuf::copy_of(v.data(), v.size());
}

// Every truncation of a well-formed payload, and a trailing byte, is refused.
void expect_cuts_refused(const std::vector<std::byte>& good) {
    auto malformed = make_error_code(rpc_errc::malformed_group_leaders);
    for (size_t n = 0; n < good.size(); ++n) {
        std::vector<std::byte> cut(good.begin(), good.begin() + long(n));
        EXPECT_EQ(decode_group_leaders(buf(cut)).error(), malformed) << n;
    }
    auto longer = good;
    longer.push_back(std::byte{0});
    EXPECT_EQ(decode_group_leaders(buf(longer)).error(), malformed);
}

// `good` with byte `at` set to `v`, decoded.
result<std::vector<group_leadership>> with_byte(std::vector<std::byte> good, size_t at,
                                                uint8_t v) {
    good[at] = std::byte{v};
    return decode_group_leaders(buf(good));
}

TEST(group_leaders, version_1_round_trips) {
    std::vector<group_leadership> none;
    auto empty = encode_group_leaders(none, 1);
    EXPECT_EQ(empty.size(), 6u);
    ASSERT_TRUE(decode_group_leaders(buf(empty)));
    EXPECT_TRUE(decode_group_leaders(buf(empty))->empty());

    std::vector<group_leadership> some = {
        {raft_group_id(1), term_id(0), node_id(0)},
        {raft_group_id(0xffff), term_id(INT64_MAX), node_id(INT32_MAX)},
    };
    auto bytes = encode_group_leaders(some, 1);
    ASSERT_EQ(bytes.size(), 6u + 2 * 14);
    uint16_t version = 0;
    auto back = decode_group_leaders(buf(bytes), &version);
    ASSERT_TRUE(back) << back.error().message();
    EXPECT_EQ(*back, some);
    EXPECT_EQ(version, 1);
    // Little-endian: version 1, count 2, then the first group id.
    EXPECT_EQ(std::to_integer<int>(bytes[0]), 1);
    EXPECT_EQ(std::to_integer<int>(bytes[2]), 2);
    EXPECT_EQ(std::to_integer<int>(bytes[6]), 1);
}

TEST(group_leaders, refuses_what_is_not_one_version_1_list) {
    std::vector<group_leadership> one = {{raft_group_id(3), term_id(7), node_id(2)}};
    auto good = encode_group_leaders(one, 1);
    auto malformed = make_error_code(rpc_errc::malformed_group_leaders);
    expect_cuts_refused(good);
    auto with = [&](size_t at, uint8_t v) { return with_byte(good, at, v); };
    EXPECT_EQ(with(0, 3).error(), malformed);     // version
    EXPECT_EQ(with(2, 200).error(), malformed);   // a count the bytes do not hold
    EXPECT_EQ(with(6, 0).error(), malformed);     // group 0 is never told
    EXPECT_EQ(with(15, 0x80).error(), malformed); // a negative term
    EXPECT_EQ(with(19, 0x80).error(), malformed); // a negative leader
    EXPECT_TRUE(with(8, 9));                      // another term is fine
}

TEST(group_leaders, version_2_carries_the_members) {
    std::vector<group_leadership> some = {
        {raft_group_id(1), term_id(4), node_id(2), {node_id(0), node_id(2), node_id(5)}},
        {raft_group_id(0xffff), term_id(INT64_MAX), node_id(INT32_MAX), {node_id(INT32_MAX)}},
    };
    auto bytes = encode_group_leaders(some);
    ASSERT_EQ(bytes.size(), 6u + 2 * 14 + 2 + 3 * 4 + 2 + 4);
    EXPECT_EQ(std::to_integer<int>(bytes[0]), 2);
    uint16_t version = 0;
    auto back = decode_group_leaders(buf(bytes), &version);
    ASSERT_TRUE(back) << back.error().message();
    EXPECT_EQ(*back, some);
    EXPECT_EQ(version, 2);
}

TEST(group_leaders, refuses_what_is_not_one_version_2_list) {
    std::vector<group_leadership> one = {
        {raft_group_id(3), term_id(7), node_id(2), {node_id(1), node_id(2)}}};
    auto good = encode_group_leaders(one);
    auto malformed = make_error_code(rpc_errc::malformed_group_leaders);
    expect_cuts_refused(good);
    auto with = [&](size_t at, uint8_t v) { return with_byte(good, at, v); };
    // Entry at 6: group, term, leader; member count at 20, members at 22 and 26.
    EXPECT_EQ(with(20, 3).error(), malformed);    // a member count the bytes do not hold
    EXPECT_EQ(with(22, 2).error(), malformed);    // members not ascending (2, 2)
    EXPECT_EQ(with(25, 0x80).error(), malformed); // a negative member
    EXPECT_EQ(with(16, 9).error(), malformed);    // a leader that is not a member
    EXPECT_TRUE(with(22, 0));                     // members 0 and 2 are fine
}

}  // namespace
}  // namespace wharf::rpc
