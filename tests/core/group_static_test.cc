// Static membership (KIP-345): a member with a group.instance.id that restarts takes over its
// old place without a rebalance when nothing the assignment depends on changed.

#include <gtest/gtest.h>

#include "tests/core/group_test_util.h"

namespace wharf::groups {
namespace {

using namespace test;

constexpr timestamp_ms t0(5'000'000);

// Static members "i-0", "i-1", ... in a Stable group (generation 1); ids[0] leads.
struct static_group {
    group g{"g", group_config{}, t0};
    std::vector<std::string> ids;
    timestamp_ms now = t0 + 6000;  // after the initial delay, extended once

    explicit static_group(std::vector<std::vector<member_protocol>> protocols) {
        std::vector<std::shared_ptr<join_slot>> joins;
        for (size_t i = 0; i < protocols.size(); ++i) {
            joins.push_back(join(g, jreq("", protocols[i], 5, "i-" + std::to_string(i)), t0));
        }
        g.tick(now);
        for (auto& j : joins) {
            EXPECT_EQ((*j)->error, error_code::none);
            ids.push_back((*j)->member_id);
        }
        std::vector<std::pair<std::string, bytes>> assignment;
        for (auto& id : ids) assignment.emplace_back(id, b("a-" + id));
        for (size_t i = 1; i < ids.size(); ++i) (void)sync(g, ids[i], 1, now);
        (void)sync(g, ids[0], 1, now, assignment);
        store(g, now);
        EXPECT_EQ(g.state(), group_state::stable);
    }
};

std::vector<member_protocol> range() {
    return {{"range", b("m")}};
}

TEST(group_static, members_get_ids_from_their_instance_id) {
    static_group s({range(), range()});
    EXPECT_EQ(s.ids[0].rfind("i-0-", 0), 0u);
    EXPECT_EQ(s.g.static_member_id("i-1"), s.ids[1]);
}

TEST(group_static, a_restarted_follower_keeps_the_generation) {
    static_group s({range(), range()});
    timestamp_ms now = s.now + 1000;
    auto j = join(s.g, jreq("", range(), 5, "i-1"), now);
    ASSERT_TRUE(j->answered());
    EXPECT_EQ((*j)->error, error_code::none);
    EXPECT_EQ((*j)->generation, 1);
    EXPECT_NE((*j)->member_id, s.ids[1]);
    EXPECT_EQ((*j)->leader_id, s.ids[0]);
    EXPECT_TRUE((*j)->members.empty());
    EXPECT_EQ(s.g.state(), group_state::stable);
    EXPECT_TRUE(s.g.needs_store());  // the new member id is persisted
    std::string fresh = (*j)->member_id;
    EXPECT_EQ(s.g.static_member_id("i-1"), fresh);

    // The new id gets the old assignment; the old id is fenced.
    auto sy = sync(s.g, fresh, 1, now, {}, "i-1");
    EXPECT_EQ(sy->error, error_code::none);
    EXPECT_EQ(sy->assignment, b("a-" + s.ids[1]));
    EXPECT_EQ(s.g.heartbeat(s.ids[1], "i-1", 1, now), error_code::fenced_instance_id);
    EXPECT_EQ(s.g.heartbeat(s.ids[1], std::nullopt, 1, now), error_code::unknown_member_id);
    EXPECT_EQ(s.g.heartbeat(fresh, "i-1", 1, now), error_code::none);
    EXPECT_EQ(s.g.validate_commit(s.ids[1], "i-1", 1, now), error_code::fenced_instance_id);
    auto old_join = join(s.g, jreq(s.ids[1], range(), 5, "i-1"), now);
    EXPECT_EQ((*old_join)->error, error_code::fenced_instance_id);
}

TEST(group_static, a_restarted_leader_keeps_the_generation) {
    static_group s({range(), range()});
    // Before JoinGroup v9 the old leader id is returned so the member does not run the assignor.
    auto old_version = join(s.g, jreq("", range(), 5, "i-0"), s.now + 1);
    ASSERT_TRUE(old_version->answered());
    EXPECT_EQ((*old_version)->leader_id, s.ids[0]);
    EXPECT_NE((*old_version)->member_id, s.ids[0]);
    EXPECT_FALSE((*old_version)->skip_assignment);
    EXPECT_EQ(s.g.leader_id(), (*old_version)->member_id);
    // From v9 the leader learns that it leads and is told to skip the assignment.
    auto v9 = join(s.g, jreq("", range(), 9, "i-0"), s.now + 2);
    ASSERT_TRUE(v9->answered());
    EXPECT_EQ((*v9)->leader_id, (*v9)->member_id);
    EXPECT_TRUE((*v9)->skip_assignment);
    EXPECT_EQ((*v9)->members.size(), 2u);
    EXPECT_EQ(s.g.generation(), 1);
    EXPECT_EQ(s.g.state(), group_state::stable);
}

TEST(group_static, a_restart_that_changes_the_vote_rebalances) {
    std::vector<member_protocol> range_rr = {{"range", b("")}, {"rr", b("")}};
    std::vector<member_protocol> rr_range = {{"rr", b("")}, {"range", b("")}};
    static_group s({range_rr, range_rr, rr_range});
    EXPECT_EQ(s.g.protocol_name(), "range");
    auto j = join(s.g, jreq("", rr_range, 5, "i-0"), s.now + 1);  // now rr wins 2 to 1
    EXPECT_FALSE(j->answered());
    EXPECT_EQ(s.g.state(), group_state::preparing_rebalance);
}

TEST(group_static, a_static_member_that_does_not_rejoin_stays_in_the_group) {
    static_group s({range(), range()});
    auto j0 = join(s.g, jreq(s.ids[0], range(), 5, "i-0"), s.now + 1);
    s.g.heartbeat(s.ids[1], "i-1", 1, s.now + 1);
    s.g.tick(s.now + 1 + 20000);  // within the rebalance timeout; member 1's session has ended
    EXPECT_FALSE(s.g.has_member(s.ids[1]));
    ASSERT_TRUE(j0->answered());
    EXPECT_EQ((*j0)->generation, 2);
}

TEST(group_static, static_members_survive_the_join_deadline) {
    static_group s({range(), range()});
    timestamp_ms now = s.now + 1;
    auto j0 = join(s.g, jreq(s.ids[0], range(), 5, "i-0"), now);
    // Member 1 keeps heartbeating but does not rejoin: at the rebalance timeout a dynamic
    // member would be dropped; a static one stays.
    for (int i = 1; i <= 6; ++i) {
        EXPECT_EQ(s.g.heartbeat(s.ids[1], "i-1", 1, now + 5000 * i),
                  error_code::rebalance_in_progress);
        s.g.tick(now + 5000 * i);
    }
    ASSERT_TRUE(j0->answered());
    EXPECT_TRUE(s.g.has_member(s.ids[1]));
    EXPECT_EQ((*j0)->members.size(), 2u);
}

TEST(group_static, an_admin_removes_a_static_member_by_instance_id) {
    static_group s({range(), range()});
    auto r = s.g.leave({{"", "i-1", "admin"}, {"", "i-9", "admin"}}, s.now + 1);
    EXPECT_EQ(r.member_errors.at(0), error_code::none);
    EXPECT_EQ(r.member_errors.at(1), error_code::unknown_member_id);
    EXPECT_FALSE(s.g.static_member_id("i-1").has_value());
    EXPECT_EQ(s.g.state(), group_state::preparing_rebalance);
    // Leaving with the wrong id for an instance is fenced.
    auto f = s.g.leave({{"not-it", "i-0", ""}}, s.now + 2);
    EXPECT_EQ(f.member_errors.at(0), error_code::fenced_instance_id);
}

TEST(group_static, replacing_a_member_during_completing_rebalance_restarts_it) {
    static_group s({range(), range()});
    auto j0 = join(s.g, jreq(s.ids[0], range(), 5, "i-0"), s.now + 1);
    auto j1 = join(s.g, jreq(s.ids[1], range(), 5, "i-1"), s.now + 1);
    ASSERT_TRUE(j1->answered());
    auto sy1 = sync(s.g, s.ids[1], 2, s.now + 2, {}, "i-1");
    EXPECT_EQ(s.g.state(), group_state::completing_rebalance);
    auto again = join(s.g, jreq("", range(), 5, "i-1"), s.now + 3);
    ASSERT_TRUE(sy1->answered());
    EXPECT_EQ(sy1->error, error_code::fenced_instance_id);  // the old id's SyncGroup
    EXPECT_EQ(s.g.state(), group_state::preparing_rebalance);
    EXPECT_FALSE(again->answered());
}

}  // namespace
}  // namespace wharf::groups
