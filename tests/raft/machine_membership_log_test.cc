// raft_machine, one behaviour at a time (see machine_replication_test.cc for the harness).
//
// This file: the membership history (raft/machine.h, driver contract step 5). The latest
// configuration in the log rules, so a truncation or a failed write that removes its entry
// takes the replica back; raft_ready::configs hands the history out whenever it changes; a
// start keeps only the entries its log holds; a snapshot carries the leader's latest committed
// membership; and a node outside the group joins as a learner, catches up and is promoted.

#include <gtest/gtest.h>

#include "tests/raft/machine_test_util.h"

namespace wharf::machine_test {
namespace {

const raft_config three = members({1, 2, 3});
const config_entry initial{I(0), T(0), three};

// The request with its entry at `index` turned into a configuration entry for `c`.
append_request with_config(append_request r, int64_t index, const raft_config& c) {
    for (auto& e : r.entries) {
        if (e.index != I(index)) continue;
        e.type = entry_type::raft_configuration;
        e.payload = encode_config(c);
    }
    return r;
}

// Steps m into its replica and drives it; returns the last history its readies handed out.
std::optional<std::vector<config_entry>> deliver_taking_configs(group& g, raft_message m) {
    int to = m.to.value();
    g.m(to).step(std::move(m));
    std::optional<std::vector<config_entry>> configs;
    while (g.m(to).has_ready()) {
        raft_ready r = g.m(to).take_ready();
        if (r.configs) configs = r.configs;
        g.apply(to, std::move(r));
    }
    return configs;
}

using history = std::vector<config_entry>;

// --- Truncation and failed writes take the membership back (membership.h) ---------------------

TEST(raft_membership_history, truncated_change_goes_back_to_the_previous_membership) {
    group g({{1}, {1}, {1}});
    auto& f = g.m(2);
    const raft_config next = members({1, 2, 3}, {4});
    f.step(msg(1, 2, with_config(append(1, 1, 1, 1, {{2, 1}}), 2, next)));
    raft_ready r = f.take_ready();
    ASSERT_TRUE(r.configs);
    EXPECT_EQ(*r.configs, (history{initial, {I(2), T(1), next}}));
    EXPECT_EQ(f.config(), next) << "in force from its append";
    EXPECT_FALSE(f.config_committed());
    g.apply(2, std::move(r));

    // A leader of term 2 never had it.
    f.step(msg(3, 2, append(2, 1, 1, 1, {{2, 2}})));
    r = f.take_ready();
    EXPECT_EQ(r.truncate_after, I(1));
    EXPECT_EQ(entries_of(r.entries), (entry_list{{2, 2}}));
    ASSERT_TRUE(r.configs);
    EXPECT_EQ(*r.configs, (history{initial}));
    EXPECT_EQ(f.config(), three);
    EXPECT_TRUE(f.config_committed());
}

TEST(raft_membership_history, failed_write_drops_the_leaders_change) {
    auto g = group::of(3);
    g.elect(1);
    change(g, 1, members({1, 2, 3}, {4}));
    g.m(1).on_local_write_failed(I(1));
    raft_ready r = g.m(1).take_ready();
    ASSERT_TRUE(r.configs);
    EXPECT_EQ(*r.configs, (history{initial}));
    EXPECT_EQ(g.m(1).config(), three);
    EXPECT_EQ(g.m(1).role(), raft_role::follower);
}

TEST(raft_membership_history, snapshot_without_membership_drops_changes_past_its_point) {
    group g({{1}, {1}, {1}});
    auto& f = g.m(2);
    f.step(msg(1, 2, with_config(append(1, 1, 1, 1, {{2, 1}, {3, 1}}), 3, members({1, 2}))));
    g.apply(2, f.take_ready());
    ASSERT_EQ(f.config(), members({1, 2}));
    const char data[] = "snapshot";
    f.step(msg(3, 2, install_snapshot{T(2), I(2), T(2), I(2), iobuf::copy_of(data, sizeof(data))}));
    raft_ready r = f.take_ready();
    ASSERT_TRUE(r.snapshot);
    ASSERT_TRUE(r.configs);
    EXPECT_EQ(*r.configs, (history{initial}));
    EXPECT_EQ(f.config(), three);
}

// --- raft_ready::configs on append, and pruned at commit ---------------------------------------

TEST(raft_membership_history, handed_out_on_append_and_pruned_at_commit) {
    auto g = group::of(3);
    g.elect(1);
    const raft_config next = members({1, 2, 3}, {4});
    const config_entry added{I(2), T(1), next};
    ASSERT_TRUE(g.m(1).propose_config(next));
    raft_ready r = g.m(1).take_ready();
    ASSERT_TRUE(r.configs);
    EXPECT_EQ(*r.configs, (history{initial, added}));
    g.apply(1, std::move(r));
    g.sync(1);

    auto out = g.take(1);
    EXPECT_EQ(deliver_taking_configs(g, take_one<append_request>(out, 2)),
              (history{initial, added}));
    g.sync(2);
    // Committed: the leader's history starts with the change (its first entry is committed).
    auto replies = g.take(2);
    EXPECT_EQ(deliver_taking_configs(g, take_one<append_reply>(replies, 1)), (history{added}));
    EXPECT_TRUE(g.m(1).config_committed());
    // The follower prunes when the commit index reaches it.
    for (int i = 0; i < 2; ++i) g.m(1).tick();
    g.drive(1);
    out = g.take(1);
    EXPECT_EQ(deliver_taking_configs(g, take_one<append_request>(out, 2)), (history{added}));
    EXPECT_TRUE(g.m(2).config_committed());
    // Nothing new: no history in the ready.
    g.propose(1);
    EXPECT_FALSE(g.m(1).take_ready().configs);
}

// --- Start state (driver contract step 5) ------------------------------------------------------

term_index log_of_three() {
    term_index log;
    log.append_run(I(1), I(3), T(1));
    return log;
}

std::unique_ptr<raft_machine> start(history configs, term_index log = log_of_three()) {
    machine_config cfg = config_for(1, 3);
    cfg.learners = {N(5), N(4)};
    return std::make_unique<raft_machine>(cfg,
                                          machine_start_state{{T(1), {}}, log, std::move(configs)});
}

TEST(raft_membership_start, empty_history_is_the_machine_config) {
    auto m = start({});
    EXPECT_EQ(m->config_entry_in_force(), (config_entry{I(0), T(0), members({1, 2, 3}, {4, 5})}));
    EXPECT_TRUE(m->config_committed());
}

TEST(raft_membership_start, entries_the_log_does_not_hold_are_dropped) {
    const config_entry b{I(2), T(1), members({1, 2})};
    // Past the log's end.
    EXPECT_EQ(start({initial, b, {I(5), T(1), members({1})}})->config_entry_in_force(), b);
    // Another term at that index (a truncation the history did not see).
    EXPECT_EQ(start({initial, b, {I(3), T(2), members({1})}})->config_entry_in_force(), b);
    EXPECT_EQ(start({initial, {I(3), T(2), members({1})}})->config_entry_in_force(), initial);
    // Both, newest first.
    EXPECT_EQ(start({initial, {I(3), T(2), members({1})}, {I(4), T(2), members({2})}})
                  ->config_entry_in_force(),
              initial);
}

TEST(raft_membership_start, first_entry_and_entries_under_the_snapshot_are_kept) {
    // The first entry is committed: a log cut short of it (a snapshot install's) keeps it.
    const config_entry late{I(7), T(2), members({1, 2})};
    EXPECT_EQ(start({late})->config_entry_in_force(), late);
    // An entry at or below the snapshot point is in the snapshot.
    term_index snapshotted(I(5), T(2));
    snapshotted.append(I(6), T(2));
    const config_entry covered{I(4), T(2), members({1, 2})};
    EXPECT_EQ(start({initial, covered}, snapshotted)->config_entry_in_force(), covered);
}

// --- Snapshots carry the latest committed membership -------------------------------------------

TEST(raft_membership_snapshot, follower_adopts_the_leaders_committed_membership) {
    auto g = group::of(4, membership({1, 2, 3}));
    g.elect(1);
    for (int i = 0; i < 4; ++i) g.propose(1);
    g.drive(1);
    g.exchange(not_touching(3), true);  // 1..5 on 1 and 2, 3 holds the no-op only
    const raft_config with_4 = members({1, 2, 3}, {4});
    raft_index a = change(g, 1, with_4);
    g.exchange(not_touching(3), true);
    raft_index b = change(g, 1, three);
    g.exchange(not_touching(3), true);
    ASSERT_EQ(g.m(1).commit_index(), b);
    raft_index c = change(g, 1, with_4);  // never committed
    g.drop_all();
    g.r(1).removed_through = 5;
    for (int i = 0; i < 6; ++i) {  // past the retransmit timeout: 3 needs a snapshot
        g.m(1).tick();
        g.drive(1);
    }
    auto out = g.take(1);
    auto snap = take_one<install_snapshot>(out, 3);
    const config_entry latest_committed{b, T(1), three};
    EXPECT_EQ(std::get<install_snapshot>(snap.body).last_index, I(5));
    EXPECT_EQ(std::get<install_snapshot>(snap.body).config, latest_committed);

    // Its entry is past the snapshot point, and the follower takes it anyway.
    auto& f = g.m(3);
    f.step(std::move(snap));
    raft_ready r = f.take_ready();
    ASSERT_TRUE(r.snapshot);
    EXPECT_EQ(r.snapshot->config, latest_committed);
    ASSERT_TRUE(r.configs);
    EXPECT_EQ(*r.configs, (history{latest_committed}));
    EXPECT_EQ(f.config_entry_in_force(), latest_committed);
    g.apply(3, std::move(r));
    g.sync(3);

    // The entries from the snapshot point on, one per request: the older change at `a` must not
    // take the membership back.
    g.r(1).entries_per_append = 1;
    for (int round = 0; round < 10 && f.log().last_index() < c; ++round) {
        for (auto& m : g.take(3)) {
            if (m.to == N(1)) g.deliver(std::move(m));
        }
        for (auto& m : g.take(1)) {
            if (m.to != N(3)) continue;
            g.deliver(std::move(m));
            if (f.log().last_index() < c) {
                EXPECT_EQ(f.config_entry_in_force(), latest_committed)
                    << "after entries up to " << f.log().last_index().value();
            }
        }
        g.sync(3);
    }
    ASSERT_EQ(f.log().last_index(), c);
    EXPECT_GT(b, a);
    EXPECT_EQ(f.config_entry_in_force(), (config_entry{c, T(1), with_4}));
}

// --- A node outside the group joins ------------------------------------------------------------

// Replicas 1..3 form the group; 4 starts with an empty log and is no member of it.
group with_spare_node() {
    auto g = group::of(4, membership({1, 2, 3}));
    g.elect(1);
    for (int i = 0; i < 2; ++i) g.propose(1);
    g.drive(1);
    g.exchange(everything, true);
    EXPECT_TRUE(g.r(4).log.empty());
    EXPECT_FALSE(g.m(4).config().contains(N(4)));
    return g;
}

// Adds 4 as a learner, lets it catch up, promotes it and hands it leadership.
void join_and_lead(group& g) {
    raft_index added = change(g, 1, members({1, 2, 3}, {4}));
    g.exchange(everything, true);
    for (int i = 0; i < 3; ++i) heartbeat_delivered(g, 1);
    EXPECT_EQ(g.r(4).log, g.r(1).log) << "the learner did not catch up";
    EXPECT_TRUE(g.m(4).config().is_learner(N(4)));
    EXPECT_EQ(g.m(4).commit_index(), added);

    raft_index promoted = change(g, 1, members({1, 2, 3, 4}));
    g.exchange(everything, true);
    EXPECT_EQ(g.m(1).commit_index(), promoted);
    EXPECT_TRUE(g.m(4).config().is_voter(N(4)));
    ASSERT_TRUE(g.m(1).transfer_leadership(N(4)));
    g.drive(1);
    g.exchange(everything, true);
    EXPECT_TRUE(g.m(4).is_leader());
    EXPECT_EQ(g.m(4).term(), T(2));
}

TEST(raft_membership_join, new_node_catches_up_from_index_1_and_leads) {
    auto g = with_spare_node();
    join_and_lead(g);
    EXPECT_TRUE(g.r(4).installed.empty());
}

TEST(raft_membership_join, new_node_catches_up_through_a_snapshot_and_leads) {
    auto g = with_spare_node();
    g.r(1).removed_through = 3;
    join_and_lead(g);
    EXPECT_EQ(g.r(4).installed, (entry_list{{3, 1}}));
}

}  // namespace
}  // namespace wharf::machine_test
