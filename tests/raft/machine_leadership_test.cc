// raft_machine, one behaviour at a time (see machine_election_test.cc for the harness).
//
// This file: who may take leadership. Leader balancing hands leadership only to a preferred
// replica that holds every committed entry, and a replica whose disk is full holds back its
// candidacy while still voting. A follower whose leader's process is gone campaigns at once.

#include <gtest/gtest.h>

#include "tests/raft/machine_test_util.h"

namespace wharf::machine_test {
namespace {

// `ticks` ticks of the leader's clock, everything delivered after each; only the replicas in
// `syncing` report their logs durable.
void leader_ticks(group& g, int leader, int ticks, std::initializer_list<int> syncing) {
    for (int i = 0; i < ticks; ++i) {
        g.m(leader).tick();
        g.drive(leader);
        for (int round = 0; round < 3; ++round) {
            g.exchange(everything, false);
            for (int n : syncing) g.sync(n);
        }
    }
}

TEST(raft_machine_balancing, waits_until_the_preferred_replica_holds_every_committed_entry) {
    auto g = group::of(3, [](machine_config& c) { c.preferred_leader = N(2); });
    g.elect(1);
    // Replica 2 takes entries but cannot make them durable (a full disk, a slow one): the
    // others commit without it.
    g.propose(1);
    g.propose(1);
    g.drive(1);
    leader_ticks(g, 1, 1, {1, 3});
    ASSERT_EQ(g.m(1).commit_index(), I(3));
    ASSERT_LT(g.m(2).durable_index(), I(3));

    // Election timeouts pass with replica 2 answering heartbeats: no handover to it (which
    // would refuse appends while it caught up).
    for (int timeout = 0; timeout < 3; ++timeout) {
        leader_ticks(g, 1, 10, {1, 3});
        EXPECT_FALSE(g.m(1).transferring_to()) << "timeout " << timeout;
        EXPECT_TRUE(g.m(1).is_leader());
    }

    // Once replica 2 holds everything committed, leadership goes to it.
    g.sync(2);
    g.exchange(everything, true);
    for (int ticks = 0; ticks < 20 && !g.m(2).is_leader(); ++ticks) {
        leader_ticks(g, 1, 1, {1, 2, 3});
    }
    EXPECT_TRUE(g.m(2).is_leader());
    EXPECT_FALSE(g.m(1).is_leader());
}

TEST(raft_machine_hold, a_held_replica_neither_campaigns_nor_takes_a_handover_but_votes) {
    auto g = group::of(3);
    g.elect(1);
    auto& f = g.m(2);
    f.hold_candidacy(50);
    // Its leader is silent for longer than any election timeout: still no candidacy.
    for (int i = 0; i < 45; ++i) f.tick();
    EXPECT_EQ(f.role(), raft_role::follower);
    EXPECT_TRUE(bodies<vote_request>(f.take_ready().messages).empty());
    // A leader handing over to it: declined (the leader gives the handover up after an election
    // timeout and leads on).
    f.step(msg(1, 2, timeout_now{T(1)}));
    EXPECT_EQ(f.role(), raft_role::follower);
    // It still votes for a replica that can write.
    f.step(msg(3, 2, vote_request{T(2), I(1), T(1), false, true}));
    raft_ready r = f.take_ready();
    EXPECT_EQ(fields(only<vote_reply>(r.messages, 3)), (vote_reply_fields{2, true, false}));
    // Once the hold is over, an election timeout starts its candidacy again.
    for (int i = 0; i < 45; ++i) f.tick();
    EXPECT_NE(f.role(), raft_role::follower);
}

// A dead leader (its process gone: the transport saw its connection end and a new one refused)
// is replaced within ticks, not an election timeout, and its followers do not split the vote.
// `ticks` ticks of replicas 2 and 3, with everything delivered but to and from replica 1.
void followers_tick_without_1(group& g, int ticks) {
    auto without_1 = [](const raft_message& m) { return m.from != N(1) && m.to != N(1); };
    for (int t = 0; t < ticks; ++t) {
        g.m(2).tick();
        g.m(3).tick();
        g.drive(2);
        g.drive(3);
        g.exchange(without_1, true);
    }
}

TEST(raft_machine_unreachable, followers_of_a_dead_leader_campaign_within_ticks_in_id_order) {
    auto g = group::of(3);
    g.elect(1);
    g.m(2).peer_unreachable(N(1));
    g.m(3).peer_unreachable(N(1));
    g.m(3).peer_unreachable(N(1));  // repeated reports change nothing
    followers_tick_without_1(g, 2);
    EXPECT_TRUE(g.m(2).is_leader());
    EXPECT_EQ(g.m(3).role(), raft_role::follower);
    EXPECT_EQ(g.m(3).leader(), N(2));
}

TEST(raft_machine_unreachable, only_the_leader_counts_and_a_follower_in_its_lease_refuses) {
    auto g = group::of(3);
    g.elect(1);
    // A report about another follower changes nothing.
    g.m(2).peer_unreachable(N(3));
    for (int t = 0; t < 3; ++t) g.m(2).tick();
    EXPECT_EQ(g.m(2).role(), raft_role::follower);
    // Only replica 2 saw the leader go: its pre-vote is refused by replica 3, which heard from
    // the leader within its lease.
    g.m(2).peer_unreachable(N(1));
    followers_tick_without_1(g, 3);
    EXPECT_FALSE(g.m(2).is_leader());
    EXPECT_FALSE(g.m(3).is_leader());
}

// The leader's clock of each member's last answer (group_membership.h: a learner silent for
// long no longer holds back removals).
TEST(raft_machine_silence, the_leader_counts_ticks_since_each_member_answered) {
    auto g = group::of(3);
    g.elect(1);
    EXPECT_EQ(g.m(1).ticks_since_heard(N(2)), 0);
    EXPECT_EQ(g.m(2).ticks_since_heard(N(1)), std::nullopt);  // not leading
    // Replica 3 stops answering; replica 2 answers every heartbeat.
    auto not_3 = [](const raft_message& m) { return m.from != N(3) && m.to != N(3); };
    for (int t = 0; t < 6; ++t) {
        g.m(1).tick();
        g.drive(1);
        g.exchange(not_3, true);
    }
    EXPECT_EQ(g.m(1).ticks_since_heard(N(3)), 6);
    EXPECT_LE(g.m(1).ticks_since_heard(N(2)), 1);
    EXPECT_EQ(g.m(1).ticks_since_heard(N(4)), std::nullopt);  // not a member
}

}  // namespace
}  // namespace wharf::machine_test
