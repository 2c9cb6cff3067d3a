// raft_machine: snapshots (thesis chapter 5). A follower whose next entry the leader's log no
// longer holds (retention removed it) gets the log's snapshot, replaces its whole log by it,
// acknowledges it once durable, and takes entries from the snapshot point on.

#include <gtest/gtest.h>

#include "tests/raft/machine_test_util.h"

namespace wharf::machine_test {
namespace {

// Replica 1 leads in term 1 with entries 1..9 on 1 and 2, while what it sent 3 was lost (3
// holds the no-op only); then 1's log drops everything up to `removed`.
group leader_ahead_of_3(int64_t removed) {
    auto g = group::of(3);
    g.elect(1);  // 1:t1 everywhere
    for (int i = 0; i < 8; ++i) g.propose(1);
    g.drive(1);
    g.exchange(not_touching(3), true);
    EXPECT_EQ(g.m(1).commit_index(), I(9));
    g.drop_all();
    g.r(1).removed_through = removed;
    return g;
}

// Ticks the leader until its retransmit timeout has passed (it plans again for 3).
void past_retransmit(group& g) {
    for (int i = 0; i < 6; ++i) {
        g.m(1).tick();
        g.drive(1);
    }
}

bool no_snapshot(const raft_message& m) {
    return !std::holds_alternative<install_snapshot>(m.body);
}

TEST(raft_machine_snapshot, follower_behind_the_log_start_gets_the_snapshot_then_entries) {
    auto g = leader_ahead_of_3(6);
    past_retransmit(g);
    g.exchange(everything, true);
    EXPECT_EQ(g.r(3).installed, (entry_list{{6, 1}}));
    EXPECT_EQ(g.r(3).log, g.r(1).log);
    EXPECT_EQ(g.m(3).log().snapshot_index(), I(6));
    EXPECT_EQ(g.m(3).durable_index(), I(9));
    // The leader's next heartbeat brings the commit index.
    for (int i = 0; i < 2; ++i) g.m(1).tick();
    g.drive(1);
    g.exchange(everything, true);
    EXPECT_EQ(g.m(3).commit_index(), I(9));
    // And replication goes on from there.
    g.propose(1);
    g.drive(1);
    g.exchange(everything, true);
    EXPECT_EQ(g.r(3).log, g.r(1).log);
    EXPECT_EQ(g.m(1).commit_index(), I(10));
}

TEST(raft_machine_snapshot, acknowledged_only_once_durable) {
    auto g = leader_ahead_of_3(6);
    // The retransmit plans from 2 again, which the log no longer holds.
    past_retransmit(g);
    g.exchange(no_snapshot, true);
    auto out = g.take(1);
    auto snap = take_one<install_snapshot>(out, 3);
    const auto& body = std::get<install_snapshot>(snap.body);
    EXPECT_EQ(body.term, T(1));
    EXPECT_EQ(body.last_index, I(6));
    EXPECT_EQ(body.last_term, T(1));
    EXPECT_EQ(body.leader_commit, I(9));

    auto& f = g.m(3);
    f.step(std::move(snap));
    raft_ready r = f.take_ready();
    ASSERT_TRUE(r.snapshot);
    EXPECT_EQ(r.snapshot->index, I(6));
    EXPECT_EQ(r.snapshot->term, T(1));
    EXPECT_EQ(r.snapshot->data.size(), 9u);
    EXPECT_TRUE(r.messages.empty()) << "acknowledged before the snapshot is durable";
    EXPECT_EQ(f.commit_index(), I(6));
    g.apply(3, std::move(r));

    f.on_durable(I(6), T(1));
    r = f.take_ready();
    EXPECT_EQ(fields(only<append_reply>(r.messages, 1)), (append_reply_fields{1, true, 6, 6}));
    g.deliver(take_one<append_reply>(r.messages, 1));
    // The leader goes on from the snapshot point.
    out = g.take(1);
    auto next = appends_with_entries(out, 3);
    ASSERT_EQ(next.size(), 1u);
    EXPECT_EQ(fields(*next[0]), (append_request_fields{1, 6, 1, 9}));
    EXPECT_EQ(entries_of(next[0]->entries), (entry_list{{7, 1}, {8, 1}, {9, 1}}));
}

TEST(raft_machine_snapshot, divergent_log_is_replaced_whole) {
    // Replica 3 holds four entries of term 1 that never committed past index 2; 1 and 2 moved
    // on in term 2 and 1's log dropped up to index 4.
    group g({{1, 1, 2, 2, 2}, {1, 1, 2, 2, 2}, {1, 1, 1, 1, 1, 1}});
    g.win_votes(1);
    ASSERT_EQ(g.m(1).term(), T(3));
    g.exchange(not_touching(3), true);
    ASSERT_EQ(g.m(1).commit_index(), I(6));
    g.drop_all();
    g.r(1).removed_through = 4;
    past_retransmit(g);
    g.exchange(everything, true);
    EXPECT_EQ(g.r(3).installed, (entry_list{{4, 2}}));
    // Past the snapshot point, the leader's entries (the harness fills the point's prefix with
    // its term).
    EXPECT_EQ(entry_list(g.r(3).log.begin() + 4, g.r(3).log.end()), (entry_list{{5, 2}, {6, 3}}));
    EXPECT_EQ(g.r(1).log.back(), (std::pair<int64_t, int64_t>{6, 3}));
    EXPECT_EQ(g.m(3).log().term_at(I(6)), T(3));
}

TEST(raft_machine_snapshot, resent_snapshot_replaces_nothing) {
    auto g = leader_ahead_of_3(6);
    past_retransmit(g);
    g.exchange(everything, true);
    ASSERT_EQ(g.r(3).installed.size(), 1u);
    auto& f = g.m(3);
    const char data[] = "x";
    f.step(msg(1, 3,
               install_snapshot{T(1), I(6), T(1), I(9), iobuf::copy_of(data, sizeof(data))}));
    raft_ready r = f.take_ready();
    EXPECT_FALSE(r.snapshot);
    EXPECT_FALSE(r.truncate_after);
    EXPECT_EQ(fields(only<append_reply>(r.messages, 1)), (append_reply_fields{1, true, 9, 9}));
}

TEST(raft_machine_snapshot, lost_snapshot_is_sent_again) {
    auto g = leader_ahead_of_3(6);
    past_retransmit(g);
    g.exchange(no_snapshot, true);
    auto out = g.take(1);
    EXPECT_EQ(bodies<install_snapshot>(out, 3).size(), 1u);
    // Lost. After the retransmit timeout the leader tries again.
    past_retransmit(g);
    g.exchange(no_snapshot, true);
    out = g.take(1);
    EXPECT_EQ(bodies<install_snapshot>(out, 3).size(), 1u);
    for (auto& m : out) g.deliver(std::move(m));
    g.exchange(everything, true);
    EXPECT_EQ(g.r(3).log, g.r(1).log);
}

TEST(raft_machine_snapshot, stale_leaders_snapshot_is_refused) {
    auto g = leader_ahead_of_3(6);
    past_retransmit(g);
    g.exchange(everything, true);
    auto& f = g.m(3);
    f.step(msg(2, 3, append(5, 0, 0, 0, {})));  // a leader of term 5
    g.drive(3);
    g.take(3);
    f.step(msg(1, 3, install_snapshot{T(1), I(8), T(1), I(9), {}}));
    raft_ready r = f.take_ready();
    EXPECT_FALSE(r.snapshot);
    auto reply = only<append_reply>(r.messages, 1);
    EXPECT_FALSE(reply.success);
    EXPECT_EQ(reply.term, T(5));
}

}  // namespace
}  // namespace wharf::machine_test
