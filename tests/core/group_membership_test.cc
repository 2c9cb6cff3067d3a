// How a group's leader moves its membership toward the cluster's brokers
// (core/cluster/group_membership.h): learners first, promotion once caught up, removals of
// decommissioned brokers only, one voter per change, the leader itself last, never the last
// voter, nothing while a change is uncommitted.

#include "core/cluster/group_membership.h"

#include <gtest/gtest.h>

#include <map>

namespace wharf {
namespace {

raft_config members(std::vector<int> voters, std::vector<int> learners = {}) {
    raft_config c;
    for (int v : voters) c.voters.push_back(node_id(v));
    for (int l : learners) c.learners.push_back(node_id(l));
    return c;
}

struct group {
    raft_config current;
    bool committed = true;
    int self = 0;
    int64_t last = 1000;
    std::map<int, int64_t> match;
    std::map<int, std::chrono::milliseconds> silent;

    std::optional<raft_config> step(std::vector<int32_t> wanted,
                                    std::vector<int32_t> decommissioned = {}) const {
        membership_facts f{.current = current,
                           .committed = committed,
                           .self = node_id(self),
                           .leader_last = raft_index(last),
                           .match_of = [this](node_id n) -> std::optional<raft_index> {
                               auto it = match.find(n.value());
                               if (it == match.end()) return std::nullopt;
                               return raft_index(it->second);
                           },
                           .silent_for = [this](node_id n)
                               -> std::optional<std::chrono::milliseconds> {
                               auto it = silent.find(n.value());
                               if (it == silent.end()) return std::nullopt;
                               return it->second;
                           }};
        return next_membership_step(f, wanted, decommissioned);
    }
};

TEST(group_membership, a_new_broker_joins_as_learner_and_is_promoted_once_caught_up) {
    group g{.current = members({0, 1, 2})};
    EXPECT_EQ(g.step({0, 1, 2}), std::nullopt);
    EXPECT_EQ(g.step({0, 1, 2, 3}), members({0, 1, 2}, {3}));
    g.current = members({0, 1, 2}, {3});
    g.match[3] = 10;  // far behind: stays a learner
    EXPECT_EQ(g.step({0, 1, 2, 3}), std::nullopt);
    g.match[3] = g.last - membership_catch_up_entries;
    EXPECT_EQ(g.step({0, 1, 2, 3}), members({0, 1, 2, 3}));
    // Nothing while the previous change is uncommitted.
    g.committed = false;
    EXPECT_EQ(g.step({0, 1, 2, 3}), std::nullopt);
}

TEST(group_membership, a_learner_that_never_answered_is_not_promoted_in_a_short_log) {
    group g{.current = members({0, 1, 2}, {3}), .last = 12};
    g.match[3] = 0;  // within 64 entries of 12, but it has acknowledged nothing
    EXPECT_EQ(g.step({0, 1, 2, 3}), std::nullopt);
    g.match[3] = 1;
    EXPECT_EQ(g.step({0, 1, 2, 3}), members({0, 1, 2, 3}));
}

TEST(group_membership, only_decommissioned_brokers_leave_one_voter_at_a_time_leader_last) {
    group g{.current = members({0, 1, 2, 3}), .self = 1};
    // A broker missing from a table that lags is left alone.
    EXPECT_EQ(g.step({0, 1, 2}), std::nullopt);
    // Two leave: the other voter first, then the leader itself.
    EXPECT_EQ(g.step({0, 2, 3}, {1, 2}), members({0, 1, 3}));
    g.current = members({0, 1, 3});
    EXPECT_EQ(g.step({0, 3}, {1, 2}), members({0, 3}));
    // Never the last voter.
    g.current = members({1});
    EXPECT_EQ(g.step({}, {1}), std::nullopt);
}

TEST(group_membership, removals_wait_for_learners_and_decommissioned_learners_go_at_once) {
    group g{.current = members({0, 1, 2}, {3, 4})};
    g.match[3] = 0;
    g.match[4] = 0;
    // A decommissioned learner goes (with anything else about learners) in one change.
    EXPECT_EQ(g.step({0, 1, 2, 3}, {4}), members({0, 1, 2}, {3}));
    // While a learner catches up, a decommissioned voter stays: the count never dips on the way.
    g.current = members({0, 1, 2}, {3});
    EXPECT_EQ(g.step({0, 1, 3}, {2}), std::nullopt);
    g.match[3] = g.last;
    EXPECT_EQ(g.step({0, 1, 3}, {2}), members({0, 1, 2, 3}));
    g.current = members({0, 1, 2, 3});
    EXPECT_EQ(g.step({0, 1, 3}, {2}), members({0, 1, 3}));
    // A decommissioned broker is never added back.
    g.current = members({0, 1, 3});
    EXPECT_EQ(g.step({0, 1, 2, 3}, {2}), std::nullopt);
}

TEST(group_membership, a_learner_that_stopped_answering_no_longer_holds_back_removals) {
    // Broker 4 died while joining; broker 0 is decommissioned.
    group g{.current = members({0, 1, 2, 3}, {4}), .self = 1};
    g.match[4] = 0;
    g.silent[4] = membership_learner_silence - std::chrono::milliseconds(1);
    EXPECT_EQ(g.step({1, 2, 3, 4}, {0}), std::nullopt);  // it may still be starting
    g.silent[4] = membership_learner_silence;
    EXPECT_EQ(g.step({1, 2, 3, 4}, {0}), members({1, 2, 3}, {4}));
}

TEST(group_membership, group0_leaders_spread_over_the_brokers_it_spans) {
    // Seeds 2, 0, 1 in that order: as cluster_config::preferred_leader.
    const std::vector<int32_t> seeds{2, 0, 1};
    for (unsigned k = 0; k < 6; ++k) {
        EXPECT_EQ(group0_preferred_leader(seeds, {0, 1, 2}, k), seeds[k % 3]);
    }
    // Broker 7 joined: it takes every fourth shard.
    EXPECT_EQ(group0_preferred_leader({2, 0, 1}, {0, 1, 2, 7}, 3), 7);
    EXPECT_EQ(group0_preferred_leader({2, 0, 1}, {0, 1, 2, 7}, 4), 2);
    // Seed 0 was decommissioned: its shards go to the others.
    EXPECT_EQ(group0_preferred_leader({2, 0, 1}, {1, 2, 7}, 1), 1);
    EXPECT_EQ(group0_preferred_leader({2, 0, 1}, {1, 2, 7}, 2), 7);
    EXPECT_EQ(group0_preferred_leader({2, 0, 1}, {}, 0), -1);
}

}  // namespace
}  // namespace wharf
