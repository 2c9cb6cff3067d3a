// Membership changes through the real driver, log and persisted history (raft/consensus.h,
// raft/config_state.h): a spare replica joins as a learner, is promoted and counts in quorums;
// a removed voter stops counting; the membership survives a restart before any message
// arrives; a leader that removes itself hands leadership over and never leads again.

#include "reactor/timer.h"
#include "tests/raft/raft_group_util.h"

namespace wharf {
namespace {

using namespace std::chrono_literals;
using test::group_of_three;
using test::one_batch;
using test::on_shard;

raft_config members(std::vector<int> voters, std::vector<int> learners = {}) {
    raft_config c;
    for (int v : voters) c.voters.push_back(node_id(v));
    for (int l : learners) c.learners.push_back(node_id(l));
    return c;
}

task<bool> produce(group_of_three& g, int leader, int count, const char* tag) {
    for (int k = 0; k < count; ++k) {
        auto r = co_await g[leader].raft->replicate_batch(group_of_three::p,
                                                          one_batch(tag + std::to_string(k)));
        EXPECT_TRUE(r) << tag << k << ": " << r.error().message();
        if (!r) co_return false;
    }
    co_return true;
}

task<bool> high_watermark_reaches(group_of_three& g, int i, kafka_offset want) {
    for (int tries = 0; tries < 500; ++tries) {
        auto hw = g[i].raft->high_watermark(group_of_three::p);
        if (hw && *hw == want) co_return true;
        co_await sleep_for(10ms);
    }
    auto hw = g[i].raft->high_watermark(group_of_three::p);
    ADD_FAILURE() << "replica " << i << "'s high watermark is "
                  << (hw ? std::to_string(hw->value()) : hw.error().message()) << ", not "
                  << want.value();
    co_return false;
}

TEST(consensus_membership, a_spare_joins_as_learner_is_promoted_and_a_voter_is_removed) {
    group_of_three g;
    on_shard([&]() -> task<int> {
        int l = co_await g.start_all_and_elect();
        if (l < 0) co_return 1;
        EXPECT_TRUE(co_await produce(g, l, 5, "a"));
        // Replica 3 starts outside the group: it never stands for election and takes the log
        // only once the leader knows it as a learner.
        co_await g.start(3);
        EXPECT_FALSE(g[3].raft->membership().contains(node_id(3)));
        raft_config with_learner = members({0, 1, 2}, {3});
        EXPECT_TRUE(co_await g[l].raft->change_membership(with_learner));
        EXPECT_TRUE(co_await produce(g, l, 5, "b"));
        raft_index last = g[l].log->last_index();
        EXPECT_TRUE(co_await g.all_committed(last));
        EXPECT_EQ(co_await g.entries(3, last), co_await g.entries(l, last));
        EXPECT_EQ(g[3].raft->membership(), with_learner);

        // Promoted, then one of the original followers removed and stopped.
        raft_config promoted = members({0, 1, 2, 3});
        EXPECT_TRUE(co_await g[l].raft->change_membership(promoted));
        EXPECT_EQ(g[l].raft->voter_count(), 4u);
        int removed = l == 0 ? 1 : 0;
        int kept = 3 - l - removed;  // the third of {0, 1, 2}
        std::vector<int> voters{l, kept, 3};
        std::sort(voters.begin(), voters.end());
        raft_config without_removed = members(voters);
        EXPECT_TRUE(co_await g[l].raft->change_membership(without_removed));
        co_await g.stop(removed);
        EXPECT_TRUE(co_await produce(g, l, 3, "c"));
        // With `kept` down too, the leader and replica 3 are the quorum: 3 counts as a voter.
        co_await g.stop(kept);
        EXPECT_TRUE(co_await produce(g, l, 3, "d"));

        // Replica 3 restarts and knows the membership from its own disk at once, before the
        // leader's first message (the log's configuration entries are not read at start).
        co_await g.stop(3);
        co_await g.start(3);
        EXPECT_EQ(g[3].raft->membership(), without_removed);
        EXPECT_TRUE(co_await produce(g, l, 3, "e"));
        co_await g.stop_all();
        co_return 0;
    });
}

// A replica that comes up after the change adding it has committed takes the whole log with a
// commit index that already covers it: its high watermarks follow once the entries are in its
// log, without waiting for a later commit (an idle group has none; a joined broker's metadata
// log stood still that way).
TEST(consensus_membership, a_late_learner_sees_the_high_watermark_of_an_idle_group) {
    group_of_three g;
    on_shard([&]() -> task<int> {
        int l = co_await g.start_all_and_elect();
        if (l < 0) co_return 1;
        EXPECT_TRUE(co_await produce(g, l, 5, "a"));
        raft_config with_learner = members({0, 1, 2}, {3});
        EXPECT_TRUE(co_await g[l].raft->change_membership(with_learner));
        co_await g.start(3);
        EXPECT_TRUE(co_await high_watermark_reaches(g, 3, kafka_offset(5)));
        co_await g.stop_all();
        co_return 0;
    });
}

TEST(consensus_membership, a_leader_that_removes_itself_hands_over_and_never_leads_again) {
    group_of_three g;
    on_shard([&]() -> task<int> {
        int l = co_await g.start_all_and_elect();
        if (l < 0) co_return 1;
        EXPECT_TRUE(co_await produce(g, l, 5, "a"));
        std::vector<int> rest;
        for (int i = 0; i < 3; ++i) {
            if (i != l) rest.push_back(i);
        }
        raft_config without_leader = members(rest);
        EXPECT_TRUE(co_await g[l].raft->change_membership(without_leader));
        // The change committed: the old leader steps down and hands over (timeout_now).
        int l2 = -1;
        auto deadline = steady_now() + 5s;
        while (steady_now() < deadline && l2 < 0) {
            int now = co_await g.leader(100ms);
            if (now >= 0 && now != l) l2 = now;
        }
        EXPECT_GE(l2, 0) << "no leader among the remaining voters";
        if (l2 < 0) {
            co_await g.stop_all();
            co_return 1;
        }
        EXPECT_FALSE(g[l].raft->is_leader());
        EXPECT_TRUE(co_await produce(g, l2, 5, "b"));
        // Many election timeouts later (100-200 ms each) it has not stood for election.
        term_id term = g[l2].raft->term();
        for (int k = 0; k < 50; ++k) {
            co_await sleep_for(10ms);
            EXPECT_FALSE(g[l].raft->is_leader());
        }
        EXPECT_EQ(g[l2].raft->term(), term);
        EXPECT_TRUE(g[l2].raft->is_leader());
        co_await g.stop_all();
        co_return 0;
    });
}

TEST(consensus_membership, changes_that_break_the_rules_are_refused) {
    group_of_three g;
    on_shard([&]() -> task<int> {
        int l = co_await g.start_all_and_elect();
        if (l < 0) co_return 1;
        int f = (l + 1) % 3;
        raft_config with_learner = members({0, 1, 2}, {3});
        auto on_follower = co_await g[f].raft->change_membership(with_learner);
        EXPECT_EQ(on_follower.error(), raft_errc::not_leader);
        // Two voters at once, and no voter at all.
        raft_config two_added = members({0, 1, 2, 3, 4});
        auto two = co_await g[l].raft->change_membership(two_added);
        EXPECT_EQ(two.error(), raft_errc::invalid_configuration);
        raft_config no_voter = members({}, {0, 1, 2});
        auto none = co_await g[l].raft->change_membership(no_voter);
        EXPECT_EQ(none.error(), raft_errc::invalid_configuration);
        EXPECT_EQ(g[l].raft->membership(), members({0, 1, 2}));
        EXPECT_TRUE(co_await produce(g, l, 2, "a"));
        co_await g.stop_all();
        co_return 0;
    });
}

}  // namespace
}  // namespace wharf
