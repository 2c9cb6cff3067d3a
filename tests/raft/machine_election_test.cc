// raft_machine, one behaviour at a time. A few machines are wired by hand: each test chooses
// which messages arrive, when entries become durable and when time passes, then checks the exact
// fields of what the machine asks its driver to do. The simulator (tests/sim) checks the same
// machine statistically; these tests pin down each rule it relies on.
//
// This file: elections. A group of one, pre-vote, leader stickiness, check-quorum and votes.

#include <gtest/gtest.h>

#include "tests/raft/machine_test_util.h"

namespace wharf::machine_test {
namespace {

// --- 1. A group of one -------------------------------------------------------------------------

TEST(raft_machine_single, campaign_elects_at_once_and_commits_the_noop_once_durable) {
    auto g = group::of(1);
    auto& m = g.m(1);
    m.campaign();
    EXPECT_EQ(m.role(), raft_role::leader);
    EXPECT_EQ(m.term(), T(1));
    EXPECT_EQ(m.leader(), N(1));

    raft_ready r = m.take_ready();
    ASSERT_TRUE(r.vote);
    EXPECT_EQ(*r.vote, (vote_state{T(1), N(1)}));
    EXPECT_FALSE(r.truncate_after);
    EXPECT_EQ(entries_of(r.entries), (entry_list{{1, 1}}));
    ASSERT_EQ(r.entries.size(), 1u);
    EXPECT_EQ(r.entries[0].type, entry_type::raft_noop);
    EXPECT_TRUE(r.messages.empty());
    EXPECT_TRUE(r.appends.empty());
    EXPECT_EQ(m.term_start(), I(1));
    // Nothing is committed, nor visible to clients, before the no-op is on disk.
    EXPECT_EQ(m.commit_index(), I(0));
    EXPECT_EQ(m.leader_commit(), std::nullopt);
    g.apply(1, std::move(r));
    EXPECT_FALSE(m.has_ready());

    m.on_durable(I(1), T(0));  // a notice naming another term is not about this entry
    EXPECT_EQ(m.durable_index(), I(0));
    EXPECT_EQ(m.leader_commit(), std::nullopt);
    m.on_durable(I(1), T(1));
    EXPECT_EQ(m.commit_index(), I(1));
    EXPECT_EQ(m.leader_commit(), I(1));

    // A proposal commits on the leader's own disk alone.
    EXPECT_EQ(g.propose(1), I(2));
    g.drive(1);
    EXPECT_EQ(m.commit_index(), I(1));
    g.sync(1);
    EXPECT_EQ(m.commit_index(), I(2));
    EXPECT_EQ(m.leader_commit(), I(2));
}

TEST(raft_machine_single, restart_commits_the_old_log_only_through_the_new_noop) {
    group g({{1, 1}});
    auto& m = g.m(1);
    EXPECT_EQ(m.term(), T(1));
    EXPECT_EQ(m.durable_index(), I(2));
    m.campaign();
    raft_ready r = m.take_ready();
    ASSERT_TRUE(r.vote);
    EXPECT_EQ(*r.vote, (vote_state{T(2), N(1)}));
    EXPECT_EQ(entries_of(r.entries), (entry_list{{3, 2}}));
    EXPECT_EQ(m.term_start(), I(3));
    g.apply(1, std::move(r));
    m.on_durable(I(2), T(1));  // already durable: changes nothing
    EXPECT_EQ(m.commit_index(), I(0));
    EXPECT_EQ(m.leader_commit(), std::nullopt);
    g.sync(1);
    EXPECT_EQ(m.commit_index(), I(3));
    EXPECT_EQ(m.leader_commit(), I(3));
}

TEST(raft_machine_single, election_timer_elects_a_group_of_one) {
    auto g = group::of(1);
    auto& m = g.m(1);
    for (int i = 0; i < 9; ++i) m.tick();  // the timeout is at least election_timeout_ticks
    EXPECT_EQ(m.role(), raft_role::follower);
    for (int i = 0; i < 11 && !m.is_leader(); ++i) m.tick();
    EXPECT_TRUE(m.is_leader());
    EXPECT_EQ(m.term(), T(1));
}

// --- 2. Pre-vote (thesis 9.6) ------------------------------------------------------------------

// Three replicas holding the same two entries of term 1.
group three_in_term_1() {
    return group({{1, 1}, {1, 1}, {1, 1}});
}

// Ticks replica n until its election timer fires.
void tick_until_campaign(group& g, int n) {
    for (int i = 0; i < 20 && g.m(n).role() == raft_role::follower; ++i) g.m(n).tick();
    ASSERT_NE(g.m(n).role(), raft_role::follower);
}

TEST(raft_machine_pre_vote, timeout_asks_for_term_plus_one_without_moving_term_or_vote) {
    auto g = three_in_term_1();
    auto& m = g.m(1);
    for (int i = 0; i < 9; ++i) {
        m.tick();
        EXPECT_FALSE(m.has_ready());
    }
    tick_until_campaign(g, 1);
    EXPECT_EQ(m.role(), raft_role::pre_candidate);
    EXPECT_EQ(m.term(), T(1));
    EXPECT_EQ(m.vote(), (vote_state{T(1), std::nullopt}));

    raft_ready r = m.take_ready();
    EXPECT_FALSE(r.vote);
    EXPECT_TRUE(r.entries.empty());
    EXPECT_TRUE(r.appends.empty());
    ASSERT_EQ(r.messages.size(), 2u);
    for (int to : {2, 3}) {
        auto reqs = bodies<vote_request>(r.messages, to);
        ASSERT_EQ(reqs.size(), 1u);
        EXPECT_EQ(fields(*reqs[0]), (vote_request_fields{2, 2, 1, true, false}));
    }
}

TEST(raft_machine_pre_vote, partitioned_replica_never_raises_its_term) {
    auto g = three_in_term_1();
    auto& m = g.m(1);
    int rounds = 0;
    for (int i = 0; i < 200; ++i) {
        m.tick();
        while (m.has_ready()) {
            raft_ready r = m.take_ready();
            EXPECT_FALSE(r.vote);
            for (const auto* req : bodies<vote_request>(r.messages)) {
                EXPECT_EQ(fields(*req), (vote_request_fields{2, 2, 1, true, false}));
                ++rounds;
            }
        }
    }
    // A timeout is at most 20 ticks: at least ten rounds of two requests, all for term 2.
    EXPECT_GE(rounds, 20);
    EXPECT_EQ(m.term(), T(1));
    EXPECT_EQ(m.vote(), (vote_state{T(1), std::nullopt}));
    EXPECT_EQ(m.role(), raft_role::pre_candidate);
}

TEST(raft_machine_pre_vote, majority_of_pre_votes_starts_a_real_election) {
    auto g = three_in_term_1();
    tick_until_campaign(g, 1);
    g.drive(1);
    auto out = g.take(1);
    g.deliver(take_one<vote_request>(out, 2));

    // The voter grants without recording anything.
    auto& voter = g.m(2);
    EXPECT_EQ(voter.term(), T(1));
    EXPECT_EQ(voter.vote(), (vote_state{T(1), std::nullopt}));
    EXPECT_EQ(g.r(2).durable_vote, (vote_state{T(1), std::nullopt}));
    auto replies = g.take(2);
    ASSERT_EQ(replies.size(), 1u);
    EXPECT_EQ(fields(only<vote_reply>(replies, 1)), (vote_reply_fields{2, true, true}));

    auto& m = g.m(1);
    m.step(std::move(replies[0]));
    EXPECT_EQ(m.role(), raft_role::candidate);
    EXPECT_EQ(m.term(), T(2));
    raft_ready r = m.take_ready();
    ASSERT_TRUE(r.vote);
    EXPECT_EQ(*r.vote, (vote_state{T(2), N(1)}));
    ASSERT_EQ(r.messages.size(), 2u);
    for (int to : {2, 3}) {
        auto reqs = bodies<vote_request>(r.messages, to);
        ASSERT_EQ(reqs.size(), 1u);
        EXPECT_EQ(fields(*reqs[0]), (vote_request_fields{2, 2, 1, false, false}));
    }
}

// --- 3. Leader stickiness (thesis 4.2.3) -------------------------------------------------------

TEST(raft_machine_lease, follower_hearing_from_its_leader_refuses_and_ignores_elections) {
    auto g = group::of(3);
    g.elect(1);
    auto& f = g.m(2);
    ASSERT_EQ(f.leader(), N(1));
    ASSERT_EQ(f.vote(), (vote_state{T(1), N(1)}));
    auto pre_vote = [] { return msg(3, 2, vote_request{T(2), I(1), T(1), true, false}); };
    auto vote = [] { return msg(3, 2, vote_request{T(2), I(1), T(1), false, false}); };

    f.step(pre_vote());
    raft_ready r = f.take_ready();
    EXPECT_FALSE(r.vote);
    ASSERT_EQ(r.messages.size(), 1u);
    EXPECT_EQ(fields(only<vote_reply>(r.messages, 3)), (vote_reply_fields{1, false, true}));

    // A real request of a higher term is ignored outright: no answer, no new term.
    f.step(vote());
    EXPECT_FALSE(f.has_ready());
    EXPECT_EQ(f.term(), T(1));
    EXPECT_EQ(f.leader(), N(1));

    for (int i = 0; i < 9; ++i) {
        f.tick();
        EXPECT_FALSE(f.has_ready());
    }
    f.step(vote());
    EXPECT_FALSE(f.has_ready());
    EXPECT_EQ(f.term(), T(1));

    // An election timeout without the leader ends the lease.
    f.tick();
    (void)f.take_ready();  // the replica may have started its own pre-vote
    f.step(pre_vote());
    r = f.take_ready();
    EXPECT_FALSE(r.vote);
    EXPECT_EQ(fields(only<vote_reply>(r.messages, 3)), (vote_reply_fields{2, true, true}));
    EXPECT_EQ(f.term(), T(1));

    f.step(vote());
    r = f.take_ready();
    ASSERT_TRUE(r.vote);
    EXPECT_EQ(*r.vote, (vote_state{T(2), N(3)}));
    EXPECT_EQ(fields(only<vote_reply>(r.messages, 3)), (vote_reply_fields{2, true, false}));
    EXPECT_EQ(f.term(), T(2));
    EXPECT_EQ(f.role(), raft_role::follower);
}

TEST(raft_machine_lease, leadership_transfer_vote_is_granted_within_the_lease) {
    auto g = group::of(3);
    g.elect(1);
    auto& f = g.m(2);
    f.step(msg(3, 2, vote_request{T(2), I(1), T(1), false, true}));
    raft_ready r = f.take_ready();
    ASSERT_TRUE(r.vote);
    EXPECT_EQ(*r.vote, (vote_state{T(2), N(3)}));
    EXPECT_EQ(fields(only<vote_reply>(r.messages, 3)), (vote_reply_fields{2, true, false}));
}

TEST(raft_machine_lease, timeout_now_from_the_leader_campaigns_without_pre_vote) {
    auto g = group::of(3);
    g.elect(1);
    // Only the leader may hand leadership over.
    g.m(2).step(msg(3, 2, timeout_now{T(1)}));
    EXPECT_FALSE(g.m(2).has_ready());
    EXPECT_EQ(g.m(2).role(), raft_role::follower);

    g.m(2).step(msg(1, 2, timeout_now{T(1)}));
    EXPECT_EQ(g.m(2).role(), raft_role::candidate);
    raft_ready r = g.m(2).take_ready();
    ASSERT_TRUE(r.vote);
    EXPECT_EQ(*r.vote, (vote_state{T(2), N(2)}));
    ASSERT_EQ(r.messages.size(), 2u);
    auto to_3 = bodies<vote_request>(r.messages, 3);
    ASSERT_EQ(to_3.size(), 1u);
    EXPECT_EQ(fields(*to_3[0]), (vote_request_fields{2, 1, 1, false, true}));
    // Replica 3 still hears from the old leader, and grants it anyway.
    g.m(3).step(take_one<vote_request>(r.messages, 3));
    raft_ready r3 = g.m(3).take_ready();
    EXPECT_EQ(fields(only<vote_reply>(r3.messages, 2)), (vote_reply_fields{2, true, false}));
}

// --- 4. Check-quorum (thesis 6.2) --------------------------------------------------------------

TEST(raft_machine_check_quorum, leader_hearing_from_no_follower_steps_down) {
    auto g = group::of(3);
    g.elect(1);
    auto& l = g.m(1);
    // The first check, an election timeout after the election, counts the answers it got then.
    for (int i = 0; i < 10; ++i) {
        l.tick();
        g.drive(1);
    }
    EXPECT_TRUE(l.is_leader());
    for (int i = 0; i < 9; ++i) {
        l.tick();
        g.drive(1);
    }
    EXPECT_TRUE(l.is_leader());
    g.drop_all();
    l.tick();  // a whole election timeout without a word from anyone
    EXPECT_EQ(l.role(), raft_role::follower);
    EXPECT_EQ(l.term(), T(1));
    EXPECT_EQ(l.leader(), std::nullopt);
    EXPECT_EQ(l.vote(), (vote_state{T(1), N(1)}));
    raft_ready r = l.take_ready();
    EXPECT_FALSE(r.vote);
}

TEST(raft_machine_check_quorum, leader_hearing_from_a_majority_stays) {
    auto g = group::of(3);
    g.elect(1);
    auto& l = g.m(1);
    for (int i = 0; i < 50; ++i) {
        l.tick();
        g.drive(1);
        g.exchange(not_touching(3), true);  // replica 3 is cut off
        g.drop_all();
    }
    EXPECT_TRUE(l.is_leader());
    EXPECT_EQ(l.term(), T(1));
}

// --- 5. Votes (section 5.2, 5.4.1) -------------------------------------------------------------

TEST(raft_machine_vote, one_vote_per_term_repeated_for_the_same_candidate) {
    auto g = group::of(3);
    auto& v = g.m(1);
    auto request_from = [](int c) {
        return msg(c, 1, vote_request{T(1), I(0), T(0), false, false});
    };

    v.step(request_from(2));
    raft_ready r = v.take_ready();
    ASSERT_TRUE(r.vote);
    EXPECT_EQ(*r.vote, (vote_state{T(1), N(2)}));
    EXPECT_EQ(fields(only<vote_reply>(r.messages, 2)), (vote_reply_fields{1, true, false}));

    v.step(request_from(3));
    r = v.take_ready();
    EXPECT_FALSE(r.vote);
    EXPECT_EQ(fields(only<vote_reply>(r.messages, 3)), (vote_reply_fields{1, false, false}));

    // The same candidate asking again (its reply was lost) gets the same answer.
    v.step(request_from(2));
    r = v.take_ready();
    EXPECT_FALSE(r.vote);
    EXPECT_EQ(fields(only<vote_reply>(r.messages, 2)), (vote_reply_fields{1, true, false}));
    EXPECT_EQ(v.vote(), (vote_state{T(1), N(2)}));
}

TEST(raft_machine_vote, later_last_term_wins_then_the_longer_log) {
    struct candidate_log {
        int64_t last_index;
        int64_t last_term;
        bool granted;
    };
    // The voter holds 1:t1 2:t2.
    const candidate_log cases[] = {
        {1, 3, true}, {2, 2, true}, {3, 2, true}, {1, 2, false}, {9, 1, false}, {0, 0, false},
    };
    for (const auto& c : cases) {
        SCOPED_TRACE(testing::Message()
                     << "candidate last " << c.last_index << ":t" << c.last_term);
        for (bool pre : {true, false}) {
            group g({{1, 2}, {}, {}});
            auto& v = g.m(1);
            v.step(msg(2, 1, vote_request{T(3), I(c.last_index), T(c.last_term), pre, false}));
            raft_ready r = v.take_ready();
            auto reply = only<vote_reply>(r.messages, 2);
            if (pre) {
                EXPECT_FALSE(r.vote);
                int64_t term = c.granted ? 3 : 2;
                EXPECT_EQ(fields(reply), (vote_reply_fields{term, c.granted, true}));
                continue;
            }
            // A real request moves the term whatever the answer.
            EXPECT_EQ(fields(reply), (vote_reply_fields{3, c.granted, false}));
            ASSERT_TRUE(r.vote);
            EXPECT_EQ(*r.vote, (vote_state{T(3), c.granted ? std::optional(N(2)) : std::nullopt}));
        }
    }
}

TEST(raft_machine_vote, lower_term_requests_are_refused_with_the_current_term) {
    raft_machine v(config_for(1, 3), machine_start_state{vote_state{T(5), N(2)}, term_index{}});
    v.step(msg(3, 1, vote_request{T(3), I(4), T(3), false, false}));
    raft_ready r = v.take_ready();
    EXPECT_FALSE(r.vote);
    EXPECT_EQ(fields(only<vote_reply>(r.messages, 3)), (vote_reply_fields{5, false, false}));

    v.step(msg(3, 1, vote_request{T(4), I(4), T(3), true, false}));
    r = v.take_ready();
    EXPECT_FALSE(r.vote);
    EXPECT_EQ(fields(only<vote_reply>(r.messages, 3)), (vote_reply_fields{5, false, true}));

    // A deposed leader's request is refused the same way, so it learns the term.
    v.step(msg(3, 1, append(4, 0, 0, 0, {{1, 4}})));
    r = v.take_ready();
    EXPECT_TRUE(r.entries.empty());
    EXPECT_EQ(fields(only<append_reply>(r.messages, 3)), (append_reply_fields{5, false, 0, 0}));
    EXPECT_EQ(v.vote(), (vote_state{T(5), N(2)}));
}

TEST(raft_machine_vote, higher_term_reply_deposes_a_leader) {
    auto g = group::of(3);
    g.elect(1);
    auto& l = g.m(1);
    l.step(msg(2, 1, append_reply{T(3), false, I(0), I(0)}));
    EXPECT_EQ(l.role(), raft_role::follower);
    EXPECT_EQ(l.term(), T(3));
    EXPECT_EQ(l.leader(), std::nullopt);
    EXPECT_EQ(l.leader_commit(), std::nullopt);
    raft_ready r = l.take_ready();
    ASSERT_TRUE(r.vote);
    EXPECT_EQ(*r.vote, (vote_state{T(3), std::nullopt}));
}

TEST(raft_machine_vote, higher_term_reply_stops_a_candidate_and_a_pre_candidate) {
    auto g = group::of(3, [](machine_config& c) { c.pre_vote = false; });
    auto& c = g.m(1);
    c.campaign();
    ASSERT_EQ(c.role(), raft_role::candidate);
    ASSERT_EQ(c.term(), T(1));
    (void)c.take_ready();
    c.step(msg(2, 1, vote_reply{T(4), false, false}));
    EXPECT_EQ(c.role(), raft_role::follower);
    EXPECT_EQ(c.term(), T(4));
    raft_ready r = c.take_ready();
    ASSERT_TRUE(r.vote);
    EXPECT_EQ(*r.vote, (vote_state{T(4), std::nullopt}));

    auto h = group::of(3);
    auto& p = h.m(1);
    p.campaign();
    ASSERT_EQ(p.role(), raft_role::pre_candidate);
    (void)p.take_ready();
    p.step(msg(2, 1, vote_reply{T(4), false, true}));
    EXPECT_EQ(p.role(), raft_role::follower);
    EXPECT_EQ(p.term(), T(4));
}

}  // namespace
}  // namespace wharf::machine_test
