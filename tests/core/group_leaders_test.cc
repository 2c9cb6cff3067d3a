// remote_leaders (core/cluster/group_leaders.h): what a shard believes of the leaders of groups
// it is not a replica of.

#include <gtest/gtest.h>

#include "core/cluster/group_leaders.h"

namespace wharf {
namespace {

using clock_type = std::chrono::steady_clock;

rpc::group_leadership told(uint16_t group, int64_t term, int32_t leader) {
    return {raft_group_id(group), term_id(term), node_id(leader)};
}

TEST(remote_leaders, newest_term_wins_and_silence_forgets) {
    remote_leaders r;
    auto t0 = clock_type::now();
    const raft_group_id g(4);
    EXPECT_FALSE(r.find(g, t0));
    r.note(node_id(1), {told(4, 5, 1)}, t0);
    ASSERT_TRUE(r.find(g, t0));
    EXPECT_EQ(r.find(g, t0)->leader, node_id(1));
    EXPECT_EQ(r.find(g, t0)->term, term_id(5));
    // A deposed leader's late notice (an older term) changes nothing; a newer term does.
    r.note(node_id(2), {told(4, 4, 2)}, t0);
    EXPECT_EQ(r.find(g, t0)->leader, node_id(1));
    r.note(node_id(2), {told(4, 6, 2)}, t0);
    EXPECT_EQ(r.find(g, t0)->leader, node_id(2));
    // A broker tells only of itself.
    r.note(node_id(3), {told(4, 9, 1)}, t0);
    EXPECT_EQ(r.find(g, t0)->term, term_id(6));
    // Repeated, it stays; unrepeated past the lifetime, it is forgotten.
    auto later = t0 + group_leader_notice_lifetime / 2;
    r.note(node_id(2), {told(4, 6, 2)}, later);
    EXPECT_TRUE(r.find(g, later + group_leader_notice_lifetime / 2 + std::chrono::milliseconds(1)));
    auto silent = later + group_leader_notice_lifetime + std::chrono::milliseconds(1);
    EXPECT_FALSE(r.find(g, silent));
    // Once forgotten, a notice of any term is believed again.
    r.note(node_id(1), {told(4, 3, 1)}, silent);
    EXPECT_EQ(r.find(g, silent)->leader, node_id(1));
    // Groups are independent.
    EXPECT_FALSE(r.find(raft_group_id(5), silent));
}

}  // namespace
}  // namespace wharf
