// raft_machine, one behaviour at a time. A few machines are wired by hand: each test chooses
// which messages arrive, when entries become durable and when time passes, then checks the exact
// fields of what the machine asks its driver to do. The simulator (tests/sim) checks the same
// machine statistically; these tests pin down each rule it relies on.
//
// This file: pipelining and flow control.

#include <gtest/gtest.h>

#include "tests/raft/machine_test_util.h"

namespace wharf::machine_test {
namespace {

// --- 9. Pipelining and flow control (thesis 10.2; etcd's probe and replicate states) ----------

TEST(raft_machine_flow, proposal_is_planned_by_the_next_take_ready) {
    auto g = group::of(3);
    g.elect(1);
    auto& l = g.m(1);
    EXPECT_FALSE(l.has_ready());
    g.propose(1);
    // A driver loops on has_ready() (machine.h): were the proposal not counted, it would wait
    // for the next heartbeat, or any other message, to be sent.
    ASSERT_TRUE(l.has_ready());
    raft_ready r = l.take_ready();
    ASSERT_EQ(r.appends.size(), 2u);
    EXPECT_EQ(fields(r.appends[0]), (plan_fields{2, 1, 1, 1, 2, 1}));
    EXPECT_EQ(fields(r.appends[1]), (plan_fields{3, 1, 1, 1, 2, 1}));
}

TEST(raft_machine_flow, replicating_follower_gets_up_to_max_inflight_appends) {
    auto g = group::of(3, [](machine_config& c) { c.max_inflight_appends = 4; });
    g.elect(1);
    g.r(1).entries_per_append = 1;
    for (int i = 0; i < 10; ++i) g.propose(1);  // 2..11
    g.drive(1);
    auto out = g.take(1);
    for (int to : {2, 3}) {
        auto reqs = appends_with_entries(out, to);
        ASSERT_EQ(reqs.size(), 4u) << "to " << to;
        for (int64_t k = 0; k < 4; ++k) {
            EXPECT_EQ(fields(*reqs[k]), (append_request_fields{1, 1 + k, 1, 1}));
            EXPECT_EQ(entries_of(reqs[k]->entries), (entry_list{{2 + k, 1}}));
        }
    }
    // Each acknowledgement frees one place.
    g.deliver(take_one<append_request>(out, 2));
    g.sync(2);
    g.deliver(take_one<append_reply>(g.r(2).outbox, 1));
    out = g.take(1);
    auto reqs = appends_with_entries(out, 2);
    ASSERT_EQ(reqs.size(), 1u);
    EXPECT_EQ(fields(*reqs[0]), (append_request_fields{1, 5, 1, 1}));
    EXPECT_EQ(entries_of(reqs[0]->entries), (entry_list{{6, 1}}));
    EXPECT_TRUE(appends_with_entries(out, 3).empty());
}

TEST(raft_machine_flow, new_term_probes_with_one_request_until_answered) {
    auto g = group::of(3);
    g.r(1).entries_per_append = 1;
    g.win_votes(1);
    for (int i = 0; i < 5; ++i) g.propose(1);  // 2..6
    g.drive(1);
    auto out = g.take(1);
    for (int to : {2, 3}) {
        auto reqs = appends_with_entries(out, to);
        ASSERT_EQ(reqs.size(), 1u) << "to " << to;
        EXPECT_EQ(fields(*reqs[0]), (append_request_fields{1, 0, 0, 0}));
        EXPECT_EQ(entries_of(reqs[0]->entries), (entry_list{{1, 1}}));
    }
    // The probe's acknowledgement opens the pipeline.
    g.deliver(take_one<append_request>(out, 2));
    g.sync(2);
    g.deliver(take_one<append_reply>(g.r(2).outbox, 1));
    auto reqs = appends_with_entries(g.r(1).outbox, 2);
    ASSERT_EQ(reqs.size(), 5u);
    for (int64_t k = 0; k < 5; ++k) {
        EXPECT_EQ(fields(*reqs[k]), (append_request_fields{1, 1 + k, 1, 0}));
    }
}

// A leader of term 4 whose first request replica 2 (holding only 1:t1) rejected; the probe
// that follows is in the leader's outbox.
group leader_probing_a_short_follower() {
    group g({{1, 1, 3}, {1}, {1, 1, 3}});
    g.r(1).entries_per_append = 1;
    g.win_votes(1);
    auto out = g.take(1);
    g.deliver(take_one<append_request>(out, 2));
    g.deliver(take_one<append_reply>(g.r(2).outbox, 1));
    return g;
}

TEST(raft_machine_flow, rejection_leaves_one_probe_outstanding) {
    auto g = leader_probing_a_short_follower();
    auto out = g.take(1);
    auto reqs = appends_with_entries(out, 2);
    ASSERT_EQ(reqs.size(), 1u);
    EXPECT_EQ(fields(*reqs[0]), (append_request_fields{4, 1, 1, 0}));
    EXPECT_EQ(entries_of(reqs[0]->entries), (entry_list{{2, 1}}));
    for (int i = 0; i < 3; ++i) g.propose(1);
    g.drive(1);
    EXPECT_TRUE(appends_with_entries(g.take(1), 2).empty());
}

TEST(raft_machine_flow, heartbeat_answer_does_not_end_a_probe) {
    auto g = leader_probing_a_short_follower();
    auto& l = g.m(1);
    auto out = g.take(1);
    auto probe = take_one<append_request>(out, 2);  // prev 1, entry 2: not answered yet
    for (int i = 0; i < 3; ++i) g.propose(1);       // 5..7
    g.drive(1);
    l.tick();
    l.tick();
    g.drive(1);
    out = g.take(1);
    auto beats = bodies<append_request>(out, 2);
    ASSERT_EQ(beats.size(), 1u);
    EXPECT_EQ(fields(*beats[0]), (append_request_fields{4, 0, 0, 0}));
    EXPECT_TRUE(beats[0]->entries.empty());
    g.deliver(take_one<append_request>(out, 2));
    EXPECT_EQ(fields(only<append_reply>(g.r(2).outbox, 1)), (append_reply_fields{4, true, 0, 1}));

    // The answer confirms only what was known (match 0), not the probe: still one request.
    g.deliver(take_one<append_reply>(g.r(2).outbox, 1));
    EXPECT_TRUE(appends_with_entries(g.take(1), 2).empty())
        << "a heartbeat's answer opened the pipeline of a follower being probed";

    // The probe's own acknowledgement does.
    g.deliver(std::move(probe));
    g.sync(2);
    g.deliver(take_one<append_reply>(g.r(2).outbox, 1));
    out = g.take(1);
    auto reqs = appends_with_entries(out, 2);
    ASSERT_EQ(reqs.size(), 5u);
    // The leader's log: 1:t1 2:t1 3:t3 4:t4 (its no-op) 5:t4 6:t4 7:t4.
    const int64_t term_of[] = {0, 1, 1, 3, 4, 4, 4, 4};
    for (int64_t k = 0; k < 5; ++k) {
        EXPECT_EQ(fields(*reqs[k]), (append_request_fields{4, 2 + k, term_of[2 + k], 0}));
        EXPECT_EQ(entries_of(reqs[k]->entries), (entry_list{{3 + k, term_of[3 + k]}}));
    }
}

TEST(raft_machine_flow, plan_out_blocks_the_next_plan_until_sent) {
    auto g = group::of(3);
    g.elect(1);
    g.r(1).hold_plans = true;
    g.r(1).entries_per_append = 1;
    g.propose(1);
    g.drive(1);
    ASSERT_EQ(g.r(1).plans.size(), 2u);
    EXPECT_EQ(fields(g.r(1).plans[0]), (plan_fields{2, 1, 1, 1, 2, 1}));
    EXPECT_EQ(fields(g.r(1).plans[1]), (plan_fields{3, 1, 1, 1, 2, 1}));
    g.propose(1);
    g.drive(1);
    EXPECT_EQ(g.r(1).plans.size(), 2u) << "a second plan while the first is being read";

    std::vector<append_plan> plans = std::move(g.r(1).plans);
    g.r(1).plans.clear();
    g.send_plan(1, plans[0]);  // to replica 2: entry 2
    g.drive(1);
    ASSERT_EQ(g.r(1).plans.size(), 1u);
    EXPECT_EQ(fields(g.r(1).plans[0]), (plan_fields{2, 1, 2, 1, 3, 1}));
}

TEST(raft_machine_flow, retransmit_timeout_probes_again_from_match_plus_one) {
    auto g = group::of(3);
    g.elect(1);
    g.r(1).entries_per_append = 1;
    auto& l = g.m(1);
    for (int i = 0; i < 3; ++i) g.propose(1);  // 2..4, all lost
    g.drive(1);
    EXPECT_EQ(appends_with_entries(g.take(1), 2).size(), 3u);
    for (int i = 1; i <= 4; ++i) {
        l.tick();
        g.drive(1);
        auto out = g.take(1);
        EXPECT_TRUE(appends_with_entries(out, 2).empty()) << "tick " << i;
        auto beats = bodies<append_request>(out, 2);
        ASSERT_EQ(beats.size(), i % 2 == 0 ? 1u : 0u) << "tick " << i;
        if (!beats.empty()) {
            EXPECT_EQ(fields(*beats[0]), (append_request_fields{1, 1, 1, 1}));
        }
    }
    l.tick();
    g.drive(1);
    auto out = g.take(1);
    for (int to : {2, 3}) {
        auto reqs = appends_with_entries(out, to);
        ASSERT_EQ(reqs.size(), 1u) << "to " << to;
        EXPECT_EQ(fields(*reqs[0]), (append_request_fields{1, 1, 1, 1}));
        EXPECT_EQ(entries_of(reqs[0]->entries), (entry_list{{2, 1}}));
    }
    // Back to probing: one request until it is answered.
    g.propose(1);
    g.drive(1);
    EXPECT_TRUE(appends_with_entries(g.take(1), 2).empty());
}

TEST(raft_machine_flow, inflight_bytes_bound_stops_planning) {
    auto g = group::of(3, [](machine_config& c) { c.max_inflight_bytes = 100; });
    g.elect(1);
    g.r(1).entries_per_append = 1;
    g.r(1).entry_bytes = 40;
    for (int i = 0; i < 10; ++i) g.propose(1);
    g.drive(1);
    auto out = g.take(1);
    // Planning stops once 100 bytes are out: 40, 80, then 120.
    auto reqs = appends_with_entries(out, 2);
    ASSERT_EQ(reqs.size(), 3u);
    EXPECT_EQ(entries_of(reqs[2]->entries), (entry_list{{4, 1}}));
    g.deliver(take_one<append_request>(out, 2));
    g.sync(2);
    g.deliver(take_one<append_reply>(g.r(2).outbox, 1));
    reqs = appends_with_entries(g.r(1).outbox, 2);
    ASSERT_EQ(reqs.size(), 1u);
    EXPECT_EQ(entries_of(reqs[0]->entries), (entry_list{{5, 1}}));
}

}  // namespace
}  // namespace wharf::machine_test
