// raft_machine, one behaviour at a time (see machine_election_test.cc for the harness).
//
// This file: repair after corruption (machine.h, "Repair after corruption"). A replica whose
// recovery cut its log before a damaged entry starts repairing: it moves to a new term, grants
// no vote, never campaigns, and leaves repair mode once its durable log holds its leader's
// commit index with an entry of the current term.

#include <gtest/gtest.h>

#include "tests/raft/machine_test_util.h"

namespace wharf::machine_test {
namespace {

config_tweak repairing(int n) {
    return [n](machine_config& cfg) {
        if (cfg.self == N(n)) cfg.repairing = true;
    };
}

// Acts on every ready of replica n like group::drive, and counts those that said `repaired`.
int drive_counting_repaired(group& g, int n) {
    int repaired = 0;
    while (g.m(n).has_ready()) {
        raft_ready r = g.m(n).take_ready();
        if (r.repaired) ++repaired;
        g.apply(n, std::move(r));
    }
    return repaired;
}

// Delivers m to replica n, then drives it; returns how many readies said `repaired`.
int deliver_counting_repaired(group& g, raft_message m) {
    int to = m.to.value();
    g.m(to).step(std::move(m));
    return drive_counting_repaired(g, to);
}

// Leader n's next heartbeat, with everything it leads to delivered and made durable: how
// followers learn the commit index.
void heartbeat(group& g, int n) {
    for (int i = 0; i < 2; ++i) g.m(n).tick();  // heartbeat_ticks
    g.drive(n);
    g.exchange(everything, true);
}

// Reports replica n's whole log durable, then drives it; returns the `repaired` readies.
int sync_counting_repaired(group& g, int n) {
    auto [index, term] = g.r(n).log.back();
    g.m(n).on_durable(I(index), T(term));
    return drive_counting_repaired(g, n);
}

TEST(raft_machine_repair, starts_in_a_new_term_without_a_vote) {
    group g({{1, 1}, {1, 1}, {1, 1}}, repairing(3));
    auto& m = g.m(3);
    EXPECT_TRUE(m.repairing());
    EXPECT_FALSE(g.m(1).repairing());
    // Acknowledgements given before the damage were in term 1 at most: term 2 is new.
    EXPECT_EQ(m.term(), T(2));
    raft_ready r = m.take_ready();
    ASSERT_TRUE(r.vote);
    EXPECT_EQ(*r.vote, (vote_state{T(2), std::nullopt}));
    EXPECT_FALSE(r.repaired);
    EXPECT_TRUE(r.messages.empty());
}

TEST(raft_machine_repair, the_new_term_deposes_a_leader_of_the_old_one) {
    // The old leader may count acknowledgements the repairing replica lost, and would never
    // probe it below the match they set: the reply to its append carries the new term.
    group g({{1, 1}, {1, 1}, {1, 1}}, repairing(3));
    g.drive(3);
    g.deliver(msg(1, 3, append(1, 2, 1, 2, {})));
    EXPECT_EQ(fields(only<append_reply>(g.take(3), 1)), (append_reply_fields{2, false, 0, 2}));
    EXPECT_TRUE(g.m(3).repairing());
}

TEST(raft_machine_repair, refuses_votes_and_pre_votes_from_an_up_to_date_candidate) {
    // Replica 1's log is ahead of the repairing replica's (term 3 against 1), and nobody leads:
    // an intact replica would grant both.
    group g({{1, 3}, {1, 3}, {1}}, repairing(3));
    g.drive(3);
    ASSERT_EQ(g.m(3).term(), T(2));

    g.deliver(msg(1, 3, vote_request{T(4), I(2), T(3), true, false}));
    EXPECT_EQ(fields(only<vote_reply>(g.take(3), 1)), (vote_reply_fields{2, false, true}));
    EXPECT_EQ(g.m(3).term(), T(2));  // a pre-vote moves no term

    g.deliver(msg(1, 3, vote_request{T(4), I(2), T(3), false, false}));
    EXPECT_EQ(fields(only<vote_reply>(g.take(3), 1)), (vote_reply_fields{4, false, false}));
    // The term moves as usual; no vote is recorded.
    EXPECT_EQ(g.r(3).durable_vote, (vote_state{T(4), std::nullopt}));
    EXPECT_TRUE(g.m(3).repairing());
}

TEST(raft_machine_repair, never_campaigns) {
    group g({{1, 1}, {1, 1}, {1}}, repairing(3));
    g.drive(3);
    for (int i = 0; i < 200; ++i) {
        g.m(3).tick();
        g.drive(3);
    }
    g.m(3).campaign();
    g.drive(3);
    EXPECT_TRUE(bodies<vote_request>(g.take(3)).empty());
    EXPECT_EQ(g.m(3).role(), raft_role::follower);
    EXPECT_EQ(g.m(3).term(), T(2));
}

TEST(raft_machine_repair, ignores_timeout_now) {
    group g({{1, 3}, {1, 3}, {1}}, repairing(3));
    g.drive(3);
    // Replica 1 leads term 4; the repairing replica takes its entry and follows it.
    g.deliver(msg(1, 3, append(4, 1, 1, 1, {{2, 3}})));
    ASSERT_EQ(g.m(3).leader(), N(1));
    g.sync(3);
    g.take(3);
    g.deliver(msg(1, 3, timeout_now{T(4)}));
    EXPECT_TRUE(bodies<vote_request>(g.take(3)).empty());
    EXPECT_EQ(g.m(3).role(), raft_role::follower);
    EXPECT_EQ(g.m(3).term(), T(4));
}

TEST(raft_machine_repair, ends_once_the_durable_log_holds_a_commit_of_the_current_term) {
    group g({{1, 1, 1}, {1, 1, 1}, {1, 1, 1}}, repairing(3));
    EXPECT_EQ(drive_counting_repaired(g, 3), 0);
    // Replica 1 leads term 4 with the log 1 1 1 3 4 4 (commit indexes chosen by hand).

    // A commit index at an entry of an older term does not end it, durable or not.
    EXPECT_EQ(deliver_counting_repaired(g, msg(1, 3, append(4, 3, 1, 3, {{4, 3}}))), 0);
    EXPECT_EQ(sync_counting_repaired(g, 3), 0);
    EXPECT_EQ(deliver_counting_repaired(g, msg(1, 3, append(4, 4, 3, 4, {{5, 4}}))), 0);
    EXPECT_EQ(sync_counting_repaired(g, 3), 0);
    EXPECT_EQ(g.m(3).commit_index(), I(4));
    EXPECT_TRUE(g.m(3).repairing());

    // A commit at an entry of term 4 not yet durable here does not end it either.
    EXPECT_EQ(deliver_counting_repaired(g, msg(1, 3, append(4, 5, 4, 6, {{6, 4}}))), 0);
    EXPECT_EQ(g.m(3).commit_index(), I(6));
    EXPECT_TRUE(g.m(3).repairing());

    // Durable: repaired, said once.
    EXPECT_EQ(sync_counting_repaired(g, 3), 1);
    EXPECT_FALSE(g.m(3).repairing());
    EXPECT_EQ(deliver_counting_repaired(g, msg(1, 3, append(4, 6, 4, 6, {}))), 0);

    // It votes again: a transfer's vote request (which a lease does not stop) is granted.
    g.take(3);
    g.deliver(msg(2, 3, vote_request{T(5), I(6), T(4), false, true}));
    EXPECT_EQ(fields(only<vote_reply>(g.take(3), 2)), (vote_reply_fields{5, true, false}));
}

TEST(raft_machine_repair, a_heartbeat_with_a_commit_of_the_current_term_ends_it) {
    group g({{1, 1, 1}, {1, 1, 1}, {1, 1, 1}}, repairing(3));
    drive_counting_repaired(g, 3);
    EXPECT_EQ(deliver_counting_repaired(g, msg(1, 3, append(4, 3, 1, 3, {{4, 4}}))), 0);
    EXPECT_EQ(sync_counting_repaired(g, 3), 0);
    EXPECT_EQ(deliver_counting_repaired(g, msg(1, 3, append(4, 4, 4, 4, {}))), 1);
    EXPECT_FALSE(g.m(3).repairing());
}

TEST(raft_machine_repair, a_group_of_three_elects_without_it_and_repairs_it) {
    group g({{1, 1}, {1, 1}, {1}}, repairing(3));
    g.drive(3);
    g.elect(1);  // replica 2's vote; replica 3 refuses
    EXPECT_TRUE(g.m(3).repairing());  // it holds the no-op, not yet known committed
    heartbeat(g, 1);
    EXPECT_FALSE(g.m(3).repairing());
    EXPECT_EQ(g.r(3).log, g.r(1).log);
    EXPECT_EQ(g.m(3).commit_index(), g.m(1).commit_index());
}

TEST(raft_machine_repair, a_group_of_two_elects_the_other_voter_whatever_its_log) {
    // Every committed entry is on both disks, hence on the only candidate: the repairing replica
    // grants it (its own log, ending in term 2, is ahead), or the group could never elect.
    group g({{1}, {1, 2}}, repairing(2));
    g.drive(2);
    ASSERT_EQ(g.m(2).term(), T(3));
    g.m(1).campaign();  // a pre-vote for term 2: refused with term 3, which replica 1 takes
    g.drive(1);
    g.exchange(everything, true);
    ASSERT_EQ(g.m(1).term(), T(3));
    g.elect(1);
    EXPECT_EQ(g.m(1).term(), T(4));
    heartbeat(g, 1);
    EXPECT_FALSE(g.m(2).repairing());
    EXPECT_EQ(g.r(2).log, g.r(1).log);
}

}  // namespace
}  // namespace wharf::machine_test
