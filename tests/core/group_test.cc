// The classic consumer group's membership protocol, driven by a fake clock: Kafka's
// JoinGroup/SyncGroup/Heartbeat/LeaveGroup rules, the join phase and its deadlines, sessions,
// static members and the protocol vote.

#include <gtest/gtest.h>

#include <regex>

#include "tests/core/group_test_util.h"

namespace wharf::groups {
namespace {

using namespace test;

constexpr timestamp_ms t0(1'000'000);

group_config no_delay() {
    group_config c;
    c.initial_rebalance_delay_ms = 0;
    return c;
}

// A Stable group of `n` dynamic members (generation 1), with their ids in join order; the
// first is the leader.
struct stable_group {
    group g;
    std::vector<std::string> ids;
    timestamp_ms now = t0;

    explicit stable_group(int n, group_config cfg = group_config{},
                          std::vector<member_protocol> protocols = {{"range", b("meta")}})
        : g("g", cfg, t0) {
        std::vector<std::shared_ptr<join_slot>> joins;
        for (int i = 0; i < n; ++i) {
            ids.push_back(member_id_for(g, now, "c" + std::to_string(i)));
        }
        for (int i = 0; i < n; ++i) joins.push_back(join(g, jreq(ids[i], protocols), now));
        // The initial delay, extended once because several members joined.
        now = now + 2 * int64_t(cfg.initial_rebalance_delay_ms);
        g.tick(now);
        for (auto& j : joins) {
            EXPECT_TRUE(j->answered());
            EXPECT_EQ((*j)->error, error_code::none);
        }
        std::vector<std::shared_ptr<sync_slot>> syncs;
        std::vector<std::pair<std::string, bytes>> assignment;
        for (auto& id : ids) assignment.emplace_back(id, b("assigned-" + id));
        for (int i = n - 1; i >= 0; --i) {
            syncs.push_back(sync(g, ids[i], 1, now, i == 0 ? assignment : decltype(assignment){}));
        }
        store(g, now);
        for (auto& s : syncs) EXPECT_TRUE(s->answered());
        EXPECT_EQ(g.state(), group_state::stable);
    }

    // Every member heartbeats at `at`.
    void heartbeat_all(timestamp_ms at) {
        for (auto& id : ids) (void)g.heartbeat(id, std::nullopt, g.generation(), at);
    }
};

TEST(group, three_members_form_one_generation_after_the_initial_delay) {
    group g("g", group_config{}, t0);  // initial rebalance delay 3000 ms
    std::vector<std::string> ids;
    for (int i = 0; i < 3; ++i) ids.push_back(member_id_for(g, t0, "c" + std::to_string(i)));
    EXPECT_EQ(g.pending_member_count(), 3u);
    EXPECT_EQ(g.state(), group_state::empty);

    std::vector<std::shared_ptr<join_slot>> joins;
    joins.push_back(join(g, jreq(ids[0], {{"range", b("m0")}}), t0));
    EXPECT_EQ(g.state(), group_state::preparing_rebalance);
    joins.push_back(join(g, jreq(ids[1], {{"range", b("m1")}}), t0 + 100));
    joins.push_back(join(g, jreq(ids[2], {{"range", b("m2")}}), t0 + 200));
    // Members kept joining during the first delay: it is extended once more.
    EXPECT_EQ(g.next_deadline(), t0 + 3000);
    g.tick(t0 + 3000);
    for (auto& j : joins) EXPECT_FALSE(j->answered());
    EXPECT_EQ(g.next_deadline(), t0 + 6000);
    g.tick(t0 + 5999);
    EXPECT_FALSE(joins[0]->answered());
    g.tick(t0 + 6000);

    EXPECT_EQ(g.state(), group_state::completing_rebalance);
    EXPECT_EQ(g.generation(), 1);
    EXPECT_EQ(g.protocol_name(), "range");
    for (int i = 0; i < 3; ++i) {
        ASSERT_TRUE(joins[i]->answered());
        const join_result& r = **joins[i];
        EXPECT_EQ(r.error, error_code::none);
        EXPECT_EQ(r.member_id, ids[i]);
        EXPECT_EQ(r.generation, 1);
        EXPECT_EQ(r.leader_id, ids[0]);
        EXPECT_EQ(r.protocol_name, "range");
        EXPECT_EQ(r.protocol_type, "consumer");
        EXPECT_EQ(r.members.size(), i == 0 ? 3u : 0u);
    }
    const auto& members = (*joins[0])->members;
    for (int i = 0; i < 3; ++i) {
        EXPECT_EQ(members[i].member_id, ids[i]);
        EXPECT_EQ(members[i].metadata, b("m" + std::to_string(i)));
    }

    // Followers wait for the leader; the leader's assignment reaches everyone once stored.
    auto s1 = sync(g, ids[1], 1, t0 + 6100);
    auto s2 = sync(g, ids[2], 1, t0 + 6100);
    EXPECT_FALSE(s1->answered());
    auto s0 = sync(g, ids[0], 1, t0 + 6200,
                   {{ids[0], b("p0")}, {ids[1], b("p1")}, {"stranger", b("px")}});
    EXPECT_TRUE(g.needs_store());
    EXPECT_FALSE(s0->answered());
    EXPECT_EQ(g.metadata_value().members[1].assignment, b("p1"));
    g.store_done(1, error_code::none, t0 + 6210);
    EXPECT_EQ(g.state(), group_state::stable);
    ASSERT_TRUE(s0->answered() && s1->answered() && s2->answered());
    EXPECT_EQ(s0->assignment, b("p0"));
    EXPECT_EQ(s1->assignment, b("p1"));
    EXPECT_TRUE(s2->assignment.empty());  // left out by the leader: empty bytes
    EXPECT_EQ(s1->protocol_name, "range");

    // In Stable a SyncGroup is answered at once.
    auto again = sync(g, ids[1], 1, t0 + 7000);
    ASSERT_TRUE(again->answered());
    EXPECT_EQ(again->assignment, b("p1"));
}

TEST(group, initial_delay_is_capped_by_the_rebalance_timeout) {
    group_config cfg;  // delay 3000
    group g("g", cfg, t0);
    auto req = [](std::string id) {
        auto r = jreq(std::move(id), {{"range", b("m")}}, 3);  // v3: no MEMBER_ID_REQUIRED
        r.rebalance_timeout_ms = 10000;
        return r;
    };
    auto first = join(g, req(""), t0);
    timestamp_ms now = t0;
    for (int i = 1; i <= 4; ++i) {
        now = t0 + 2000 * i;
        g.tick(now);
        (void)join(g, req(""), now);
    }
    // Delays of 3000, 3000, 3000 and then 1000: the phase ends at the rebalance timeout.
    EXPECT_FALSE(first->answered());
    g.tick(t0 + 9999);
    EXPECT_FALSE(first->answered());
    g.tick(t0 + 10000);
    ASSERT_TRUE(first->answered());
    EXPECT_EQ((*first)->generation, 1);
}

TEST(group, a_fourth_member_triggers_a_rebalance) {
    stable_group s(3);
    std::string d = member_id_for(s.g, s.now, "c3");
    timestamp_ms now = s.now + 1000;
    auto jd = join(s.g, jreq(d), now);
    EXPECT_EQ(s.g.state(), group_state::preparing_rebalance);
    EXPECT_FALSE(jd->answered());
    // The others learn it from their heartbeat and rejoin.
    for (auto& id : s.ids) {
        EXPECT_EQ(s.g.heartbeat(id, std::nullopt, 1, now), error_code::rebalance_in_progress);
    }
    auto j0 = join(s.g, jreq(s.ids[0]), now + 10);
    auto j1 = join(s.g, jreq(s.ids[1]), now + 20);
    EXPECT_FALSE(j0->answered());
    auto j2 = join(s.g, jreq(s.ids[2]), now + 30);
    // Everyone rejoined: the phase completes at once (no initial delay for a non-empty group).
    ASSERT_TRUE(j0->answered() && j1->answered() && j2->answered() && jd->answered());
    EXPECT_EQ(s.g.generation(), 2);
    EXPECT_EQ((*j0)->members.size(), 4u);
    EXPECT_EQ((*jd)->leader_id, s.ids[0]);
}

TEST(group, a_member_that_does_not_rejoin_is_dropped_at_the_rebalance_timeout) {
    stable_group s(3);
    timestamp_ms now = s.now + 1000;
    auto j0 = join(s.g, jreq(s.ids[0], {{"range", b("new")}}), now);  // leader rejoins
    auto j1 = join(s.g, jreq(s.ids[1]), now);
    // Member 2 is alive (it heartbeats) but never rejoins.
    for (int i = 1; i * 5000 < rebalance_ms; ++i) {
        EXPECT_EQ(s.g.heartbeat(s.ids[2], std::nullopt, 1, now + 5000 * i),
                  error_code::rebalance_in_progress);
        s.g.tick(now + 5000 * i);
    }
    s.g.tick(now + rebalance_ms - 1);
    EXPECT_FALSE(j0->answered());
    s.g.tick(now + rebalance_ms);
    ASSERT_TRUE(j0->answered());
    EXPECT_EQ(s.g.generation(), 2);
    EXPECT_EQ(s.g.member_count(), 2u);
    EXPECT_FALSE(s.g.has_member(s.ids[2]));
    EXPECT_EQ(s.g.heartbeat(s.ids[2], std::nullopt, 2, now + rebalance_ms),
              error_code::unknown_member_id);
}

TEST(group, a_member_leaves_and_the_rest_rebalance_without_it) {
    stable_group s(3);
    timestamp_ms now = s.now + 500;
    auto r = s.g.leave({{s.ids[1], std::nullopt, "bye"}, {"nobody", std::nullopt, ""}}, now);
    EXPECT_EQ(r.error, error_code::none);
    ASSERT_EQ(r.member_errors.size(), 2u);
    EXPECT_EQ(r.member_errors[0], error_code::none);
    EXPECT_EQ(r.member_errors[1], error_code::unknown_member_id);
    EXPECT_EQ(s.g.state(), group_state::preparing_rebalance);
    auto j0 = join(s.g, jreq(s.ids[0]), now);
    auto j2 = join(s.g, jreq(s.ids[2]), now);
    ASSERT_TRUE(j0->answered() && j2->answered());
    EXPECT_EQ(s.g.generation(), 2);
    EXPECT_EQ((*j0)->members.size(), 2u);
}

TEST(group, the_last_member_leaving_empties_the_group) {
    stable_group s(1);
    auto r = s.g.leave({{s.ids[0], std::nullopt, ""}}, s.now + 1);
    EXPECT_EQ(r.member_errors.at(0), error_code::none);
    EXPECT_EQ(s.g.state(), group_state::empty);
    EXPECT_EQ(s.g.generation(), 2);
    EXPECT_FALSE(s.g.protocol_name().has_value());
    EXPECT_EQ(s.g.protocol_type(), "consumer");
    EXPECT_TRUE(s.g.needs_store());  // Kafka stores the empty generation
    EXPECT_EQ(s.g.current_state_timestamp(), s.now + 1);
}

TEST(group, the_leader_leaving_mid_sync_sends_followers_back_to_join) {
    stable_group s(2);
    timestamp_ms now = s.now + 100;
    auto j0 = join(s.g, jreq(s.ids[0]), now);
    auto j1 = join(s.g, jreq(s.ids[1]), now);
    ASSERT_TRUE(j1->answered());
    EXPECT_EQ(s.g.state(), group_state::completing_rebalance);
    auto s1 = sync(s.g, s.ids[1], 2, now);
    EXPECT_FALSE(s1->answered());
    (void)s.g.leave({{s.ids[0], std::nullopt, ""}}, now + 1);
    ASSERT_TRUE(s1->answered());
    EXPECT_EQ(s1->error, error_code::rebalance_in_progress);
    // The follower rejoins alone and becomes the leader.
    auto again = join(s.g, jreq(s.ids[1]), now + 2);
    ASSERT_TRUE(again->answered());
    EXPECT_EQ((*again)->leader_id, s.ids[1]);
    EXPECT_EQ((*again)->generation, 3);
}

TEST(group, a_session_that_expires_removes_the_member) {
    stable_group s(2);
    // Member 0 heartbeats every 3 s; member 1 never does.
    timestamp_ms now = s.now;
    for (int i = 1; i <= 3; ++i) {
        now = s.now + 3000 * i;
        EXPECT_EQ(s.g.heartbeat(s.ids[0], std::nullopt, 1, now), error_code::none);
        s.g.tick(now);
    }
    EXPECT_TRUE(s.g.has_member(s.ids[1]));
    EXPECT_EQ(s.g.next_deadline(), s.now + session_ms);
    s.g.tick(s.now + session_ms);
    EXPECT_FALSE(s.g.has_member(s.ids[1]));
    EXPECT_EQ(s.g.state(), group_state::preparing_rebalance);
    EXPECT_EQ(s.g.heartbeat(s.ids[0], std::nullopt, 1, s.now + session_ms),
              error_code::rebalance_in_progress);
    auto j = join(s.g, jreq(s.ids[0]), s.now + session_ms + 1);
    ASSERT_TRUE(j->answered());
    EXPECT_EQ((*j)->generation, 2);
    EXPECT_EQ((*j)->members.size(), 1u);
}

TEST(group, accepted_calls_renew_the_session) {
    stable_group s(1);
    timestamp_ms now = s.now;
    // A SyncGroup and an offset commit validation also count as liveness.
    now = now + 8000;
    (void)sync(s.g, s.ids[0], 1, now);
    now = now + 8000;
    EXPECT_EQ(s.g.validate_commit(s.ids[0], std::nullopt, 1, now), error_code::none);
    now = now + 8000;
    s.g.tick(now);
    EXPECT_TRUE(s.g.has_member(s.ids[0]));
    s.g.tick(now + 2000);
    EXPECT_FALSE(s.g.has_member(s.ids[0]));
    EXPECT_EQ(s.g.state(), group_state::empty);
}

TEST(group, members_waiting_for_the_group_do_not_expire) {
    stable_group s(2);
    timestamp_ms now = s.now + 1000;
    auto j0 = join(s.g, jreq(s.ids[0]), now);  // waits for member 1 up to 30 s
    EXPECT_EQ(s.g.heartbeat(s.ids[1], std::nullopt, 1, now), error_code::rebalance_in_progress);
    s.g.tick(now + session_ms + 5000);  // member 1's session ended; member 0 waits
    EXPECT_TRUE(s.g.has_member(s.ids[0]));
    ASSERT_TRUE(j0->answered());  // member 1 left, so the phase completed
    EXPECT_EQ((*j0)->members.size(), 1u);
}

TEST(group, a_member_that_never_syncs_is_removed_after_the_rebalance_timeout) {
    stable_group s(2);
    timestamp_ms now = s.now + 1000;
    auto j0 = join(s.g, jreq(s.ids[0]), now);
    auto j1 = join(s.g, jreq(s.ids[1]), now);
    ASSERT_TRUE(j0->answered());
    // Member 0 (leader) syncs and heartbeats; member 1 heartbeats but never syncs.
    auto s0 = sync(s.g, s.ids[0], 2, now + 10, {{s.ids[0], b("a")}});
    for (int i = 1; i * 5000 < rebalance_ms; ++i) {
        EXPECT_EQ(s.g.heartbeat(s.ids[1], std::nullopt, 2, now + 5000 * i), error_code::none);
        s.g.tick(now + 5000 * i);
    }
    s.g.tick(now + rebalance_ms);
    EXPECT_FALSE(s.g.has_member(s.ids[1]));
    EXPECT_EQ(s.g.state(), group_state::preparing_rebalance);
    ASSERT_TRUE(s0->answered());
    EXPECT_EQ(s0->error, error_code::rebalance_in_progress);
}

TEST(group, member_id_required_flow) {
    group g("g", no_delay(), t0);
    auto first = join(g, jreq("", {{"range", b("m")}}, 4), t0);
    ASSERT_TRUE(first->answered());
    EXPECT_EQ((*first)->error, error_code::member_id_required);
    EXPECT_EQ((*first)->generation, -1);
    std::regex uuid("client-[0-9a-f]{8}-[0-9a-f]{4}-4[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}");
    EXPECT_TRUE(std::regex_match((*first)->member_id, uuid)) << (*first)->member_id;
    EXPECT_EQ(g.pending_member_count(), 1u);
    EXPECT_EQ(g.member_count(), 0u);

    // Rejoining with the given id makes it a member.
    auto second = join(g, jreq((*first)->member_id, {{"range", b("m")}}, 4), t0 + 10);
    ASSERT_TRUE(second->answered());
    EXPECT_EQ((*second)->error, error_code::none);
    EXPECT_EQ((*second)->member_id, (*first)->member_id);
    EXPECT_EQ(g.pending_member_count(), 0u);

    // A made-up id is refused; a version 3 client joins without the extra round trip.
    auto made_up = join(g, jreq("made-up"), t0 + 20);
    EXPECT_EQ((*made_up)->error, error_code::unknown_member_id);
    auto old_client = join(g, jreq("", {{"range", b("m")}}, 3), t0 + 30);
    EXPECT_FALSE(old_client->answered());  // waits for the rebalance it started
    EXPECT_EQ(g.member_count(), 2u);
}

TEST(group, a_pending_member_holds_the_join_phase_until_it_rejoins_or_expires) {
    stable_group s(1);
    timestamp_ms now = s.now + 1;
    std::string pending = member_id_for(s.g, now);
    auto j0 = join(s.g, jreq(s.ids[0]), now);  // the leader rejoins: rebalance
    EXPECT_FALSE(j0->answered());              // waits for the pending member
    s.g.tick(now + session_ms);                // which never rejoins
    ASSERT_TRUE(j0->answered());
    EXPECT_EQ(s.g.pending_member_count(), 0u);
    EXPECT_EQ(s.g.generation(), 2);
    // A pending member that leaves is gone too.
    std::string p2 = member_id_for(s.g, now + session_ms);
    auto r = s.g.leave({{p2, std::nullopt, ""}}, now + session_ms);
    EXPECT_EQ(r.member_errors.at(0), error_code::none);
    EXPECT_EQ(s.g.pending_member_count(), 0u);
}

TEST(group, join_errors) {
    group_config cfg;
    cfg.max_size = 2;
    stable_group s(2, cfg);
    auto low = jreq("");
    low.session_timeout_ms = 5999;
    EXPECT_EQ((*join(s.g, low, s.now))->error, error_code::invalid_session_timeout);
    auto high = jreq("");
    high.session_timeout_ms = 1800001;
    EXPECT_EQ((*join(s.g, high, s.now))->error, error_code::invalid_session_timeout);
    // Full: a third member is refused, the existing ones may rejoin.
    auto third = join(s.g, jreq("", {{"range", b("m")}}, 3), s.now);
    EXPECT_EQ((*third)->error, error_code::group_max_size_reached);
    // The size check comes first, as in Kafka.
    auto wrong_type = jreq("", {{"range", b("m")}}, 3);
    wrong_type.protocol_type = "connect";
    EXPECT_EQ((*join(s.g, wrong_type, s.now))->error, error_code::group_max_size_reached);

    group e("e", no_delay(), t0);
    auto no_type = jreq("");
    no_type.protocol_type = "";
    EXPECT_EQ((*join(e, no_type, t0))->error, error_code::inconsistent_group_protocol);
    EXPECT_EQ((*join(e, jreq("", {}), t0))->error, error_code::inconsistent_group_protocol);

    // No protocol in common with the members.
    stable_group t(1);
    auto other = join(t.g, jreq("", {{"roundrobin", b("m")}}, 3), t.now);
    EXPECT_EQ((*other)->error, error_code::inconsistent_group_protocol);
    EXPECT_EQ((*join(t.g, wrong_type, t.now))->error, error_code::inconsistent_group_protocol);
    auto unknown = join(t.g, jreq("nobody"), t.now);
    EXPECT_EQ((*unknown)->error, error_code::unknown_member_id);
}

TEST(group, sync_and_heartbeat_errors) {
    stable_group s(2);
    EXPECT_EQ(s.g.heartbeat("nobody", std::nullopt, 1, s.now), error_code::unknown_member_id);
    EXPECT_EQ(s.g.heartbeat(s.ids[0], std::nullopt, 7, s.now), error_code::illegal_generation);
    EXPECT_EQ(sync(s.g, s.ids[0], 7, s.now)->error, error_code::illegal_generation);
    EXPECT_EQ(sync(s.g, "nobody", 1, s.now)->error, error_code::unknown_member_id);
    // A dynamic member claiming an instance id that is not registered.
    EXPECT_EQ(s.g.heartbeat(s.ids[0], "ghost", 1, s.now), error_code::unknown_member_id);

    sync_request wrong;
    wrong.member_id = s.ids[0];
    wrong.generation = 1;
    wrong.protocol_name = "roundrobin";
    auto w = std::make_shared<sync_slot>();
    s.g.sync(wrong, s.now, capture(w));
    EXPECT_EQ(w->error, error_code::inconsistent_group_protocol);
    wrong.protocol_name = "range";
    wrong.protocol_type = "connect";
    s.g.sync(wrong, s.now, capture(w));
    EXPECT_EQ(w->error, error_code::inconsistent_group_protocol);

    (void)join(s.g, jreq(s.ids[0]), s.now);  // PreparingRebalance
    EXPECT_EQ(sync(s.g, s.ids[1], 1, s.now)->error, error_code::rebalance_in_progress);

    s.g.unload(s.now);
    EXPECT_EQ(s.g.heartbeat(s.ids[1], std::nullopt, 1, s.now),
              error_code::coordinator_not_available);
    EXPECT_EQ(sync(s.g, s.ids[1], 1, s.now)->error, error_code::coordinator_not_available);
    EXPECT_EQ(s.g.leave({{s.ids[1], std::nullopt, ""}}, s.now).error,
              error_code::coordinator_not_available);
    EXPECT_FALSE(s.g.next_deadline().has_value());
}

TEST(group, unloading_answers_waiting_requests) {
    stable_group s(2);
    auto j = join(s.g, jreq(s.ids[0]), s.now);
    EXPECT_FALSE(j->answered());
    s.g.unload(s.now);
    ASSERT_TRUE(j->answered());
    EXPECT_EQ((*j)->error, error_code::not_coordinator);
    EXPECT_EQ(s.g.state(), group_state::dead);
}

TEST(group, destroying_a_group_answers_waiting_requests) {
    std::shared_ptr<join_slot> j;
    {
        stable_group s(2);
        j = join(s.g, jreq(s.ids[0]), s.now);
        EXPECT_FALSE(j->answered());
    }
    ASSERT_TRUE(j->answered());
    EXPECT_EQ(j->calls, 1);
    EXPECT_EQ((*j)->error, error_code::not_coordinator);
}

TEST(group, a_retried_join_answers_the_older_request) {
    stable_group s(2);
    auto first = join(s.g, jreq(s.ids[0]), s.now);
    auto retry = join(s.g, jreq(s.ids[0]), s.now + 1);
    ASSERT_TRUE(first->answered());
    EXPECT_EQ((*first)->error, error_code::rebalance_in_progress);
    EXPECT_FALSE(retry->answered());
    (void)join(s.g, jreq(s.ids[1]), s.now + 2);
    ASSERT_TRUE(retry->answered());
    EXPECT_EQ((*retry)->error, error_code::none);
    EXPECT_EQ(first->calls, 1);
}

TEST(group, callbacks_may_call_back_into_the_group) {
    stable_group s(2);
    error_code from_callback = error_code::unknown_server_error;
    auto j1 = std::make_shared<join_slot>();
    s.g.join(jreq(s.ids[0]), s.now, [&](join_result r) {
        // Runs after the group's state is complete: generation 2 is visible.
        from_callback = s.g.heartbeat(s.ids[0], std::nullopt, r.generation, s.now);
    });
    (void)join(s.g, jreq(s.ids[1]), s.now);
    EXPECT_EQ(from_callback, error_code::none);
}

TEST(group, a_failed_store_sends_members_back_to_join) {
    stable_group s(2);
    auto j0 = join(s.g, jreq(s.ids[0]), s.now);
    auto j1 = join(s.g, jreq(s.ids[1]), s.now);
    auto s1 = sync(s.g, s.ids[1], 2, s.now);
    auto s0 = sync(s.g, s.ids[0], 2, s.now, {{s.ids[0], b("x")}});
    ASSERT_TRUE(s.g.needs_store());
    s.g.store_done(2, error_code::not_coordinator, s.now);
    ASSERT_TRUE(s0->answered() && s1->answered());
    EXPECT_EQ(s0->error, error_code::not_coordinator);
    EXPECT_EQ(s.g.state(), group_state::preparing_rebalance);
}

TEST(group, protocol_vote) {
    // Only "rr" is supported by everyone.
    {
        group g("g", group_config{}, t0);
        for (auto protocols :
             std::vector<std::vector<member_protocol>>{{{"range", b("")}, {"rr", b("")}},
                                                       {{"rr", b("")}, {"range", b("")}},
                                                       {{"rr", b("")}, {"sticky", b("")}}}) {
            (void)join(g, jreq("", protocols, 3), t0);
        }
        // Every join so far is pending; the third member narrowed the candidates.
        g.tick(t0 + 6000);
        EXPECT_EQ(g.protocol_name(), "rr");
    }
    // Both are candidates; "b" gets two votes of three.
    {
        group g("g", group_config{}, t0);
        (void)join(g, jreq("", {{"a", b("")}, {"b", b("")}}, 3), t0);
        (void)join(g, jreq("", {{"b", b("")}, {"a", b("")}}, 3), t0);
        (void)join(g, jreq("", {{"b", b("")}, {"a", b("")}}, 3), t0);
        g.tick(t0 + 6000);
        EXPECT_EQ(g.protocol_name(), "b");
    }
    // A tie goes to the protocol voted for first.
    {
        group g("g", group_config{}, t0);
        (void)join(g, jreq("", {{"a", b("")}, {"b", b("")}}, 3), t0);
        (void)join(g, jreq("", {{"b", b("")}, {"a", b("")}}, 3), t0);
        g.tick(t0 + 6000);
        EXPECT_EQ(g.protocol_name(), "a");
    }
}

TEST(group, describe_and_list) {
    stable_group s(2);
    auto d = s.g.describe();
    EXPECT_EQ(d.state, "Stable");
    EXPECT_EQ(d.protocol_type, "consumer");
    EXPECT_EQ(d.protocol, "range");
    ASSERT_EQ(d.members.size(), 2u);
    EXPECT_EQ(d.members[0].member_id, s.ids[0]);
    EXPECT_EQ(d.members[0].client_id, "client");
    EXPECT_EQ(d.members[0].client_host, "/127.0.0.1");
    EXPECT_EQ(d.members[0].metadata, b("meta"));
    EXPECT_EQ(d.members[1].assignment, b("assigned-" + s.ids[1]));
    EXPECT_EQ(s.g.listing().state, "Stable");

    (void)join(s.g, jreq(s.ids[0]), s.now);
    d = s.g.describe();
    EXPECT_EQ(d.state, "PreparingRebalance");
    EXPECT_EQ(d.protocol, "");
    EXPECT_TRUE(d.members[0].metadata.empty());
    EXPECT_TRUE(d.members[0].assignment.empty());
    EXPECT_STREQ(state_name(group_state::completing_rebalance), "CompletingRebalance");
    EXPECT_STREQ(state_name(group_state::empty), "Empty");
    EXPECT_STREQ(state_name(group_state::dead), "Dead");
}

TEST(group, heartbeats_while_completing_the_rebalance_are_fine) {
    stable_group s(2);
    auto j0 = join(s.g, jreq(s.ids[0]), s.now);
    auto j1 = join(s.g, jreq(s.ids[1]), s.now);
    ASSERT_EQ(s.g.state(), group_state::completing_rebalance);
    EXPECT_EQ(s.g.heartbeat(s.ids[1], std::nullopt, 2, s.now), error_code::none);
    EXPECT_EQ(s.g.heartbeat(s.ids[1], std::nullopt, 1, s.now), error_code::illegal_generation);
}

TEST(group, the_size_limit_counts_members_that_rejoined_during_a_rebalance) {
    group_config cfg;
    cfg.max_size = 2;
    stable_group s(2, cfg);
    auto j0 = join(s.g, jreq(s.ids[0]), s.now);  // one of two has rejoined
    // A newcomer takes the place of a member that has not rejoined yet...
    auto newcomer = join(s.g, jreq("", {{"range", b("m")}}, 3), s.now);
    EXPECT_FALSE(newcomer->answered());
    // ...and the last one to rejoin is turned away.
    auto late = join(s.g, jreq(s.ids[1]), s.now);
    ASSERT_TRUE(late->answered());
    EXPECT_EQ((*late)->error, error_code::group_max_size_reached);
    // The refused member's session ends; the other two form generation 2.
    s.g.tick(s.now + session_ms);
    ASSERT_TRUE(newcomer->answered());
    EXPECT_EQ((*newcomer)->generation, 2);
    EXPECT_EQ((*j0)->members.size(), 2u);
}

}  // namespace
}  // namespace wharf::groups
