// raft_machine, one behaviour at a time. A few machines are wired by hand: each test chooses
// which messages arrive, when entries become durable and when time passes, then checks the exact
// fields of what the machine asks its driver to do. The simulator (tests/sim) checks the same
// machine statistically; these tests pin down each rule it relies on.
//
// This file: replication. Durable acknowledgements, conflicts, commit rules and heartbeats.

#include <gtest/gtest.h>

#include "tests/raft/machine_test_util.h"

namespace wharf::machine_test {
namespace {

// --- 6. Followers acknowledge only durable entries ---------------------------------------------

TEST(raft_machine_durable, follower_acknowledges_only_what_is_durable) {
    auto g = group::of(3);
    g.elect(1);  // 1:t1 everywhere, durable
    for (int i = 0; i < 3; ++i) g.propose(1);
    g.drive(1);
    auto out = g.take(1);
    auto to_2 = take_one<append_request>(out, 2);
    const auto& req = std::get<append_request>(to_2.body);
    EXPECT_EQ(fields(req), (append_request_fields{1, 1, 1, 1}));
    EXPECT_EQ(entries_of(req.entries), (entry_list{{2, 1}, {3, 1}, {4, 1}}));

    auto& f = g.m(2);
    f.step(std::move(to_2));
    raft_ready r = f.take_ready();
    EXPECT_EQ(entries_of(r.entries), (entry_list{{2, 1}, {3, 1}, {4, 1}}));
    EXPECT_TRUE(r.messages.empty()) << "acknowledged before the entries are durable";
    g.apply(2, std::move(r));

    // A heartbeat in between is answered at once, with the durable point.
    f.step(msg(1, 2, append(1, 1, 1, 1, {})));
    r = f.take_ready();
    EXPECT_EQ(fields(only<append_reply>(r.messages, 1)), (append_reply_fields{1, true, 1, 4}));

    f.on_durable(I(3), T(1));
    r = f.take_ready();
    EXPECT_EQ(fields(only<append_reply>(r.messages, 1)), (append_reply_fields{1, true, 3, 4}));
    f.on_durable(I(4), T(1));
    r = f.take_ready();
    EXPECT_EQ(fields(only<append_reply>(r.messages, 1)), (append_reply_fields{1, true, 4, 4}));
    f.on_durable(I(4), T(1));  // a repeated notice
    EXPECT_FALSE(f.has_ready());
}

TEST(raft_machine_durable, reply_names_the_smaller_of_matched_and_durable) {
    // Replica 2 holds three durable entries; a new leader has so far matched two of them.
    group g({{1}, {1, 1, 1}, {1}});
    auto& f = g.m(2);
    f.step(msg(1, 2, append(2, 1, 1, 0, {{2, 1}})));
    raft_ready r = f.take_ready();
    ASSERT_TRUE(r.vote);
    EXPECT_EQ(*r.vote, (vote_state{T(2), std::nullopt}));
    EXPECT_FALSE(r.truncate_after);
    EXPECT_TRUE(r.entries.empty());
    EXPECT_EQ(fields(only<append_reply>(r.messages, 1)), (append_reply_fields{2, true, 2, 3}));
}

TEST(raft_machine_durable, stale_durability_notice_is_ignored) {
    auto g = group::of(3);
    g.elect(1);
    auto& f = g.m(2);
    f.step(msg(1, 2, append(1, 1, 1, 1, {{2, 1}, {3, 1}})));
    g.apply(2, f.take_ready());  // written, not yet durable
    // A leader of term 2 replaces them before they reach the disk.
    f.step(msg(3, 2, append(2, 1, 1, 1, {{2, 2}})));
    raft_ready r = f.take_ready();
    ASSERT_TRUE(r.vote);
    EXPECT_EQ(*r.vote, (vote_state{T(2), std::nullopt}));
    EXPECT_EQ(r.truncate_after, I(1));
    EXPECT_EQ(entries_of(r.entries), (entry_list{{2, 2}}));
    EXPECT_TRUE(r.messages.empty());
    g.apply(2, std::move(r));
    EXPECT_EQ(g.r(2).log, (entry_list{{1, 1}, {2, 2}}));

    f.on_durable(I(3), T(1));  // the first write's notice: index 3 is gone
    EXPECT_FALSE(f.has_ready());
    f.on_durable(I(2), T(1));  // index 2 now holds another term
    EXPECT_FALSE(f.has_ready());
    EXPECT_EQ(f.durable_index(), I(1));

    f.on_durable(I(2), T(2));
    EXPECT_EQ(f.durable_index(), I(2));
    r = f.take_ready();
    EXPECT_EQ(fields(only<append_reply>(r.messages, 3)), (append_reply_fields{2, true, 2, 2}));
}

// --- 7. Conflicts (section 5.3, thesis 3.5) ----------------------------------------------------

TEST(raft_machine_conflict, follower_truncates_at_the_first_conflict_and_takes_the_leaders) {
    // Replica 2 holds two entries of term 2 that never committed; 1 and 3 moved on to term 3.
    group g({{1, 1, 3}, {1, 1, 2, 2}, {1, 1, 3}});
    g.r(1).hold_plans = true;
    g.win_votes(1);
    ASSERT_EQ(g.m(1).term(), T(4));
    ASSERT_EQ(g.r(1).plans.size(), 2u);
    EXPECT_EQ(fields(g.r(1).plans[0]), (plan_fields{2, 4, 3, 3, 4, 0}));
    EXPECT_EQ(fields(g.r(1).plans[1]), (plan_fields{3, 4, 3, 3, 4, 0}));
    g.release_plans(1);
    auto out = g.take(1);

    // Index 3 holds term 2 here: rejected, with the hint before replica 2's term-2 run.
    auto& f = g.m(2);
    f.step(take_one<append_request>(out, 2));
    raft_ready r = f.take_ready();
    EXPECT_TRUE(r.entries.empty());
    EXPECT_EQ(fields(only<append_reply>(r.messages, 1)), (append_reply_fields{4, false, 0, 2}));

    g.deliver(take_one<append_reply>(r.messages, 1));
    ASSERT_EQ(g.r(1).plans.size(), 1u);
    EXPECT_EQ(fields(g.r(1).plans[0]), (plan_fields{2, 4, 2, 1, 3, 0}));
    g.release_plans(1);
    out = g.take(1);
    f.step(take_one<append_request>(out, 2));
    r = f.take_ready();
    EXPECT_EQ(r.truncate_after, I(2));
    EXPECT_EQ(entries_of(r.entries), (entry_list{{3, 3}, {4, 4}}));
    EXPECT_TRUE(r.messages.empty());
    g.apply(2, std::move(r));
    EXPECT_EQ(g.r(2).log, (entry_list{{1, 1}, {2, 1}, {3, 3}, {4, 4}}));
    g.sync(2);
    EXPECT_EQ(fields(only<append_reply>(g.r(2).outbox, 1)), (append_reply_fields{4, true, 4, 4}));
}

TEST(raft_machine_conflict, short_follower_hints_its_last_index) {
    group g({{1, 1, 3}, {1}, {1, 1, 3}});
    g.r(1).hold_plans = true;
    g.win_votes(1);
    g.release_plans(1);
    auto out = g.take(1);
    auto& f = g.m(2);
    f.step(take_one<append_request>(out, 2));
    raft_ready r = f.take_ready();
    EXPECT_EQ(fields(only<append_reply>(r.messages, 1)), (append_reply_fields{4, false, 0, 1}));

    g.deliver(take_one<append_reply>(r.messages, 1));
    ASSERT_EQ(g.r(1).plans.size(), 1u);
    EXPECT_EQ(fields(g.r(1).plans[0]), (plan_fields{2, 4, 1, 1, 2, 0}));
    g.release_plans(1);
    out = g.take(1);
    f.step(take_one<append_request>(out, 2));
    r = f.take_ready();
    EXPECT_FALSE(r.truncate_after);
    EXPECT_EQ(entries_of(r.entries), (entry_list{{2, 1}, {3, 3}, {4, 4}}));
}

TEST(raft_machine_conflict, rejection_hint_below_match_restarts_at_match_plus_one) {
    // Replica 2 holds 3:t2 from a leader of term 2 that failed; the new leader (term 3) put its
    // no-op at 3. Replica 2's term-2 run starts at 2, below what it will have acknowledged.
    group g({{1, 2}, {1, 2, 2}, {1, 2}});
    g.r(1).entries_per_append = 2;
    g.win_votes(1);
    auto& l = g.m(1);
    ASSERT_EQ(l.term(), T(3));
    g.drop_all();  // the first request (prev 2, entry 3) is lost
    for (int i = 0; i < 5; ++i) {
        l.tick();
        g.drive(1);
        if (i < 4) g.drop_all();
    }
    // The retransmit timeout probes from match + 1 = 1: entries 1 and 2, both already held.
    auto out = g.take(1);
    g.deliver(take_one<append_request>(out, 2));
    EXPECT_EQ(fields(only<append_reply>(g.r(2).outbox, 1)), (append_reply_fields{3, true, 2, 3}));
    g.deliver(take_one<append_reply>(g.r(2).outbox, 1));
    g.drop_all();  // the request carrying entry 3 is lost again
    g.propose(1);
    g.propose(1);
    g.drive(1);
    out = g.take(1);
    auto to_2 = take_one<append_request>(out, 2);
    EXPECT_EQ(fields(std::get<append_request>(to_2.body)), (append_request_fields{3, 3, 3, 0}));
    g.deliver(std::move(to_2));
    EXPECT_EQ(fields(only<append_reply>(g.r(2).outbox, 1)), (append_reply_fields{3, false, 0, 1}));

    // Hint 1 is below match 2, yet the rejection is current: the next request starts at
    // max(match + 1, hint + 1) = 3, and replica 2 takes the leader's entry 3.
    g.deliver(take_one<append_reply>(g.r(2).outbox, 1));
    out = g.take(1);
    auto reqs = appends_with_entries(out, 2);
    ASSERT_EQ(reqs.size(), 1u) << "the leader ignored a current rejection";
    EXPECT_EQ(fields(*reqs[0]), (append_request_fields{3, 2, 2, 0}));
    EXPECT_EQ(entries_of(reqs[0]->entries), (entry_list{{3, 3}, {4, 3}}));
    g.m(2).step(take_one<append_request>(out, 2));
    raft_ready r = g.m(2).take_ready();
    EXPECT_EQ(r.truncate_after, I(2));
    EXPECT_EQ(entries_of(r.entries), (entry_list{{3, 3}, {4, 3}}));
}

TEST(raft_machine_conflict, follower_with_a_conflicting_run_below_its_match_catches_up_under_load) {
    // As above, up to the rejection with hint 1 < match 2; then a proposal and a tick at a time,
    // everything delivered and synced. Ignoring that rejection, and ending the probe that
    // follows it on a heartbeat's answer, made the leader cycle (pipeline, refusal from a
    // short log, probe at 3, ignored refusal) faster than its retransmit timeout: replica 2
    // never caught up while proposals kept coming.
    group g({{1, 2}, {1, 2, 2}, {1, 2}});
    g.r(1).entries_per_append = 2;
    g.win_votes(1);
    auto& l = g.m(1);
    g.drop_all();
    for (int i = 0; i < 5; ++i) {
        l.tick();
        g.drive(1);
        if (i < 4) g.drop_all();
    }
    auto out = g.take(1);
    g.deliver(take_one<append_request>(out, 2));
    g.deliver(take_one<append_reply>(g.r(2).outbox, 1));
    g.drop_all();
    g.propose(1);
    g.propose(1);
    g.drive(1);
    out = g.take(1);
    g.deliver(take_one<append_request>(out, 2));
    g.deliver(take_one<append_reply>(g.r(2).outbox, 1));
    for (int i = 0; i < 40; ++i) {
        g.propose(1);
        l.tick();
        g.drive(1);
        g.exchange(everything, true);
    }
    ASSERT_TRUE(l.is_leader());
    EXPECT_EQ(g.r(2).log, g.r(1).log);
    EXPECT_EQ(g.m(2).durable_index(), l.log().last_index());
}

TEST(raft_machine_conflict, conflict_among_entries_not_yet_taken_truncates_nothing_on_disk) {
    auto g = group::of(3);
    g.elect(1);  // 1:t1 everywhere
    auto& f = g.m(2);
    f.step(msg(1, 2, append(1, 1, 1, 1, {{2, 1}, {3, 1}, {4, 1}})));
    // Before the driver takes that ready, a leader of term 2 replaces 3 and 4.
    f.step(msg(3, 2, append(2, 2, 1, 1, {{3, 2}})));
    raft_ready r = f.take_ready();
    // The driver's log ends at 1: 3 and 4 never reached it, so there is nothing to cut there.
    EXPECT_EQ(r.truncate_after, std::nullopt);
    EXPECT_EQ(entries_of(r.entries), (entry_list{{2, 1}, {3, 2}}));
    g.apply(2, std::move(r));
    EXPECT_EQ(g.r(2).log, (entry_list{{1, 1}, {2, 1}, {3, 2}}));

    // A conflict below the driver's log end still cuts it, and drops what waits in the ready.
    f.step(msg(3, 2, append(2, 3, 2, 1, {{4, 2}, {5, 2}})));
    f.step(msg(1, 2, append(3, 1, 1, 1, {{2, 3}})));
    r = f.take_ready();
    EXPECT_EQ(r.truncate_after, I(1));
    EXPECT_EQ(entries_of(r.entries), (entry_list{{2, 3}}));
    g.apply(2, std::move(r));
    EXPECT_EQ(g.r(2).log, (entry_list{{1, 1}, {2, 3}}));
}

// --- 8. Commit only by counting entries of the leader's term (Figure 8, section 5.4.2) --------

TEST(raft_machine_commit, earlier_term_entry_on_a_majority_commits_only_with_the_noop) {
    // Replica 1 holds 2:t2 of a leader that failed; 2 and 3 do not.
    group g({{1, 2}, {1}, {1}});
    g.r(1).entries_per_append = 1;
    g.win_votes(1);
    auto& l = g.m(1);
    ASSERT_EQ(l.term(), T(3));
    ASSERT_EQ(l.term_start(), I(3));
    auto cut_3 = not_touching(3);

    // Replica 2 rejects the first request (it lacks 2), then gets 2:t2 alone and syncs it.
    g.exchange(cut_3, false);
    EXPECT_EQ(g.r(2).log, (entry_list{{1, 1}, {2, 2}}));
    g.sync(2);
    g.exchange(cut_3, false);
    // 2:t2 is on two disks of three, and is still not committed by counting.
    EXPECT_EQ(l.commit_index(), I(0));
    EXPECT_EQ(l.leader_commit(), std::nullopt);

    // The no-op reached replica 2 (not yet durable there); the leader's own disk alone is not
    // a majority either.
    EXPECT_EQ(g.r(2).log, (entry_list{{1, 1}, {2, 2}, {3, 3}}));
    g.sync(1);
    EXPECT_EQ(l.durable_index(), I(3));
    EXPECT_EQ(l.commit_index(), I(0));

    g.sync(2);
    g.exchange(cut_3, false);
    EXPECT_EQ(l.commit_index(), I(3));
    EXPECT_EQ(l.leader_commit(), I(3));
}

// --- 10. Heartbeats ------------------------------------------------------------------------------

TEST(raft_machine_heartbeat, anchored_at_match_carrying_commit_up_to_match_answered_at_once) {
    auto g = group::of(3);
    g.elect(1);
    auto& l = g.m(1);
    for (int i = 0; i < 3; ++i) g.propose(1);  // 2..4: replica 2 gets them, 3 does not
    g.drive(1);
    g.exchange(not_touching(3), true);
    g.drop_all();
    ASSERT_EQ(l.commit_index(), I(4));

    l.tick();
    l.tick();
    g.drive(1);
    auto out = g.take(1);
    auto to_2 = bodies<append_request>(out, 2);
    auto to_3 = bodies<append_request>(out, 3);
    ASSERT_EQ(to_2.size(), 1u);
    ASSERT_EQ(to_3.size(), 1u);
    EXPECT_EQ(fields(*to_2[0]), (append_request_fields{1, 4, 1, 4}));
    EXPECT_TRUE(to_2[0]->entries.empty());
    EXPECT_EQ(fields(*to_3[0]), (append_request_fields{1, 1, 1, 1}));
    EXPECT_TRUE(to_3[0]->entries.empty());

    g.m(3).step(take_one<append_request>(out, 3));
    raft_ready r = g.m(3).take_ready();
    EXPECT_TRUE(r.entries.empty());
    EXPECT_EQ(fields(only<append_reply>(r.messages, 1)), (append_reply_fields{1, true, 1, 1}));
    EXPECT_EQ(g.m(3).commit_index(), I(1));
    // A follower never takes a commit index beyond what it knows to match the leader's log.
    g.m(3).step(msg(1, 3, append(1, 1, 1, 4, {})));
    EXPECT_EQ(g.m(3).commit_index(), I(1));
    (void)g.m(3).take_ready();

    g.m(2).step(take_one<append_request>(out, 2));
    r = g.m(2).take_ready();
    EXPECT_EQ(fields(only<append_reply>(r.messages, 1)), (append_reply_fields{1, true, 4, 4}));
    EXPECT_EQ(g.m(2).commit_index(), I(4));
}

}  // namespace
}  // namespace wharf::machine_test
