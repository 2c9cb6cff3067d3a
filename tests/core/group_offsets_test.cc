// A group's committed offsets: OffsetCommit's membership rules, OffsetDelete, DeleteGroups,
// retention, and the registry that replays __consumer_offsets records.

#include <gtest/gtest.h>

#include "core/group/registry.h"
#include "tests/core/group_test_util.h"

namespace wharf::groups {
namespace {

using namespace test;

constexpr timestamp_ms t0(9'000'000);
constexpr int64_t day_ms = 24 * 3600 * 1000;

committed_offset at(int64_t offset, timestamp_ms ts) {
    return {.offset = offset, .leader_epoch = 3, .metadata = "m", .commit_timestamp = ts};
}

// One Stable "consumer" group member subscribed to `topics`, in a registry.
struct consumer_group {
    group_registry reg;
    std::string id;
    timestamp_ms now = t0 + 3000;

    explicit consumer_group(std::vector<std::string> topics) {
        auto j = std::make_shared<join_slot>();
        reg.join("g", jreq("", {{"range", encode_subscription_v0(topics)}}, 3), t0, capture(j));
        reg.tick(now);
        id = (*j)->member_id;
        auto s = std::make_shared<sync_slot>();
        sync_request r;
        r.member_id = id;
        r.generation = 1;
        reg.sync("g", r, now, capture(s));
        store(g(), now);
        EXPECT_EQ(g().state(), group_state::stable);
    }
    group& g() { return *reg.find("g"); }
};

TEST(group_offsets, commit_validation) {
    consumer_group c({"orders"});
    group& g = c.g();
    EXPECT_EQ(g.validate_commit(c.id, std::nullopt, 1, c.now), error_code::none);
    EXPECT_EQ(g.validate_commit(c.id, std::nullopt, 2, c.now), error_code::illegal_generation);
    EXPECT_EQ(g.validate_commit("nobody", std::nullopt, 1, c.now), error_code::unknown_member_id);
    // A "simple" committer (no member id, generation -1) may not commit into a live group.
    EXPECT_EQ(g.validate_commit("", std::nullopt, -1, c.now), error_code::unknown_member_id);
    EXPECT_EQ(g.validate_commit(c.id, "ghost", 1, c.now), error_code::unknown_member_id);

    // CompletingRebalance: the member has the new generation but no assignment yet.
    auto j = join(g, jreq(c.id, {{"range", encode_subscription_v0({"orders"})}}), c.now);
    ASSERT_TRUE(j->answered());
    EXPECT_EQ(g.state(), group_state::completing_rebalance);
    EXPECT_EQ(g.validate_commit(c.id, std::nullopt, 2, c.now), error_code::rebalance_in_progress);

    // Empty: only generation -1 commits, whoever sends them.
    (void)g.leave({{c.id, std::nullopt, ""}}, c.now);
    EXPECT_EQ(g.state(), group_state::empty);
    EXPECT_EQ(g.validate_commit("", std::nullopt, -1, c.now), error_code::none);
    EXPECT_EQ(g.validate_commit("admin", std::nullopt, -1, c.now), error_code::none);
    EXPECT_EQ(g.validate_commit(c.id, std::nullopt, 3, c.now), error_code::unknown_member_id);
}

TEST(group_offsets, commits_during_a_rebalance_are_accepted) {
    consumer_group c({"orders"});
    auto j = std::make_shared<join_slot>();
    c.reg.join("g", jreq("", {{"range", b("x")}}, 3), c.now, capture(j));
    EXPECT_EQ(c.g().state(), group_state::preparing_rebalance);
    EXPECT_EQ(c.g().validate_commit(c.id, std::nullopt, 1, c.now), error_code::none);
}

TEST(group_offsets, registry_lookups_for_unknown_groups) {
    group_registry reg;
    timestamp_ms now = t0;
    EXPECT_EQ(reg.validate_commit("nope", "m", std::nullopt, 1, now),
              error_code::illegal_generation);
    EXPECT_EQ(reg.find("nope"), nullptr);
    // Generation -1 creates an offsets-only group.
    EXPECT_EQ(reg.validate_commit("simple", "", std::nullopt, -1, now), error_code::none);
    ASSERT_NE(reg.find("simple"), nullptr);
    EXPECT_FALSE(reg.find("simple")->protocol_type().has_value());
    EXPECT_EQ(reg.heartbeat("nope", "m", std::nullopt, 1, now), error_code::unknown_member_id);
    auto l = reg.leave("nope", {{"m", std::nullopt, ""}}, now);
    EXPECT_EQ(l.member_errors.at(0), error_code::unknown_member_id);
    auto s = std::make_shared<sync_slot>();
    sync_request sr;
    sr.member_id = "m";
    reg.sync("nope", sr, now, capture(s));
    EXPECT_EQ(s->error, error_code::unknown_member_id);
    auto j = std::make_shared<join_slot>();
    reg.join("nope", jreq("m"), now, capture(j));
    EXPECT_EQ((*j)->error, error_code::unknown_member_id);
    EXPECT_EQ(reg.find("nope"), nullptr);
    // A refused first JoinGroup leaves nothing behind.
    auto bad = jreq("");
    bad.session_timeout_ms = 1;
    reg.join("nope", bad, now, capture(j));
    EXPECT_EQ((*j)->error, error_code::invalid_session_timeout);
    EXPECT_EQ(reg.find("nope"), nullptr);
    EXPECT_EQ(reg.describe("nope").state, "Dead");
    EXPECT_TRUE(reg.describe("nope").members.empty());
    std::vector<offsets_record> out;
    EXPECT_EQ(reg.delete_group("nope", now, out), error_code::group_id_not_found);
    EXPECT_EQ(reg.delete_offsets("nope", {{"t", 0}}, out).error, error_code::group_id_not_found);
    EXPECT_TRUE(out.empty());
}

TEST(group_offsets, offset_delete_refuses_subscribed_topics) {
    consumer_group c({"orders", "payments"});
    EXPECT_EQ(c.g().subscribed_topics(), (std::set<std::string>{"orders", "payments"}));
    c.g().commit_offset({"orders", 0}, at(10, c.now));
    c.g().commit_offset({"old", 0}, at(5, c.now));
    std::vector<offsets_record> out;
    auto r = c.reg.delete_offsets("g", {{"orders", 0}, {"old", 0}, {"never", 1}}, out);
    EXPECT_EQ(r.error, error_code::none);
    ASSERT_EQ(r.partitions.size(), 3u);
    EXPECT_EQ(r.partitions[0].second, error_code::group_subscribed_to_topic);
    EXPECT_EQ(r.partitions[1].second, error_code::none);
    EXPECT_EQ(r.partitions[2].second, error_code::none);
    EXPECT_NE(c.g().offset({"orders", 0}), nullptr);
    EXPECT_EQ(c.g().offset({"old", 0}), nullptr);
    ASSERT_EQ(out.size(), 1u);  // a tombstone for the offset that existed
    EXPECT_EQ(out[0], group_registry::offset_tombstone("g", {"old", 0}));

    // Once Empty, everything may go; the group goes with its last offset.
    (void)c.g().leave({{c.id, std::nullopt, ""}}, c.now);
    store(c.g(), c.now);
    out.clear();
    r = c.reg.delete_offsets("g", {{"orders", 0}}, out);
    EXPECT_EQ(r.partitions.at(0).second, error_code::none);
    ASSERT_EQ(out.size(), 2u);
    EXPECT_EQ(out[1], group_registry::group_tombstone("g"));
    EXPECT_EQ(c.reg.find("g"), nullptr);
}

TEST(group_offsets, offset_delete_on_a_non_consumer_group_is_refused) {
    group_registry reg;
    auto req = jreq("", {{"x", b("")}}, 3);
    req.protocol_type = "connect";
    auto j = std::make_shared<join_slot>();
    reg.join("g", req, t0, capture(j));
    std::vector<offsets_record> out;
    auto r = reg.delete_offsets("g", {{"t", 0}}, out);
    EXPECT_EQ(r.error, error_code::non_empty_group);
    EXPECT_TRUE(r.partitions.empty());
}

TEST(group_offsets, delete_groups) {
    consumer_group c({"orders"});
    c.g().commit_offset({"orders", 0}, at(10, c.now));
    c.g().commit_offset({"orders", 1}, at(11, c.now));
    std::vector<offsets_record> out;
    EXPECT_EQ(c.reg.delete_group("g", c.now, out), error_code::non_empty_group);
    EXPECT_TRUE(out.empty());
    (void)c.g().leave({{c.id, std::nullopt, ""}}, c.now);
    EXPECT_EQ(c.reg.delete_group("g", c.now, out), error_code::none);
    ASSERT_EQ(out.size(), 3u);
    EXPECT_EQ(out[0], group_registry::offset_tombstone("g", {"orders", 0}));
    EXPECT_EQ(out[2], group_registry::group_tombstone("g"));
    EXPECT_EQ(c.reg.find("g"), nullptr);
}

TEST(group_offsets, retention_counts_from_when_the_group_became_empty) {
    consumer_group c({"orders"});
    int64_t retention = 7 * day_ms;
    // Committed long ago, but the group was in use until now.
    c.g().commit_offset({"orders", 0}, at(10, c.now - 30 * day_ms));
    c.g().commit_offset({"gone", 0}, at(10, c.now - 30 * day_ms));
    // Stable: only offsets of topics the group no longer subscribes to expire.
    auto out = c.reg.expire_offsets(c.now, retention);
    ASSERT_EQ(out.size(), 1u);
    EXPECT_EQ(out[0], group_registry::offset_tombstone("g", {"gone", 0}));
    EXPECT_NE(c.g().offset({"orders", 0}), nullptr);

    timestamp_ms left = c.now + 1000;
    (void)c.g().leave({{c.id, std::nullopt, ""}}, left);
    ASSERT_EQ(c.g().state(), group_state::empty);
    EXPECT_TRUE(c.reg.expire_offsets(left + retention - 1, retention).empty());
    out = c.reg.expire_offsets(left + retention, retention);
    ASSERT_EQ(out.size(), 2u);  // the offset, then the group that has nothing left
    EXPECT_EQ(out[0], group_registry::offset_tombstone("g", {"orders", 0}));
    EXPECT_EQ(out[1], group_registry::group_tombstone("g"));
    EXPECT_EQ(c.reg.find("g"), nullptr);
}

TEST(group_offsets, retention_of_offsets_only_groups_and_explicit_expiry) {
    group_registry reg;
    int64_t retention = day_ms;
    ASSERT_EQ(reg.validate_commit("simple", "", std::nullopt, -1, t0), error_code::none);
    group& g = *reg.find("simple");
    g.commit_offset({"t", 0}, at(1, t0));
    g.commit_offset({"t", 1}, at(1, t0 + 1000));
    committed_offset explicit_expiry = at(1, t0);
    explicit_expiry.expire_timestamp = t0 + 10 * day_ms;
    g.commit_offset({"t", 2}, explicit_expiry);

    auto out = reg.expire_offsets(t0 + day_ms, retention);
    ASSERT_EQ(out.size(), 1u);
    EXPECT_EQ(out[0], group_registry::offset_tombstone("simple", {"t", 0}));
    out = reg.expire_offsets(t0 + day_ms + 1000, retention);
    ASSERT_EQ(out.size(), 1u);
    EXPECT_EQ(g.offset({"t", 2})->expire_timestamp, t0 + 10 * day_ms);
    EXPECT_TRUE(reg.expire_offsets(t0 + 10 * day_ms - 1, retention).empty());
    out = reg.expire_offsets(t0 + 10 * day_ms, retention);
    ASSERT_EQ(out.size(), 2u);
    EXPECT_EQ(reg.find("simple"), nullptr);
}

TEST(group_offsets, non_consumer_groups_keep_their_offsets_while_active) {
    group_registry reg;
    auto req = jreq("", {{"x", b("")}}, 3);
    req.protocol_type = "connect";
    auto j = std::make_shared<join_slot>();
    reg.join("g", req, t0, capture(j));
    reg.find("g")->commit_offset({"t", 0}, at(1, t0 - 100 * day_ms));
    EXPECT_TRUE(reg.expire_offsets(t0, day_ms).empty());
}

// Writes every record the integrator would write, replays them into a fresh registry, and
// checks that the groups come back.
TEST(group_offsets, records_replay_into_the_same_groups) {
    consumer_group c({"orders"});
    std::vector<offsets_record> log;
    log.push_back(group_registry::records_for_group(c.g()));
    for (auto& r : group_registry::records_for_commit(
             "g", {{{"orders", 0}, at(42, c.now)}, {{"orders", 1}, at(43, c.now)}})) {
        log.push_back(r);
    }
    log.push_back(group_registry::offset_tombstone("g", {"orders", 1}));
    for (auto& r : group_registry::records_for_commit("simple", {{{"t", 0}, at(7, c.now)}})) {
        log.push_back(r);
    }
    // A group that was deleted: its records and their tombstones.
    for (auto& r : group_registry::records_for_commit("deleted", {{{"t", 0}, at(1, c.now)}})) {
        log.push_back(r);
    }
    log.push_back(group_registry::offset_tombstone("deleted", {"t", 0}));
    log.push_back(group_registry::group_tombstone("deleted"));

    group_registry loaded;
    timestamp_ms load_time = c.now + 60000;
    for (const auto& r : log) {
        std::optional<std::span<const uint8_t>> value;
        if (r.value) value = std::span<const uint8_t>(*r.value);
        ASSERT_TRUE(loaded.apply(r.key, value, load_time).has_value());
    }
    loaded.finish_load(load_time);
    EXPECT_EQ(loaded.size(), 2u);
    group& g = *loaded.find("g");
    EXPECT_EQ(g.state(), group_state::stable);
    EXPECT_EQ(g.generation(), 1);
    EXPECT_EQ(g.protocol_type(), "consumer");
    EXPECT_EQ(g.protocol_name(), "range");
    EXPECT_EQ(g.leader_id(), c.id);
    EXPECT_TRUE(g.has_member(c.id));
    EXPECT_EQ(g.subscribed_topics(), (std::set<std::string>{"orders"}));
    EXPECT_EQ(g.offset({"orders", 0})->offset, 42);
    EXPECT_EQ(g.offset({"orders", 0})->leader_epoch, 3);
    EXPECT_EQ(g.offset({"orders", 1}), nullptr);
    EXPECT_EQ(g.metadata_value(), c.g().metadata_value());
    EXPECT_EQ(loaded.find("simple")->offset({"t", 0})->offset, 7);
    EXPECT_EQ(loaded.find("deleted"), nullptr);

    // The loaded member carries on in generation 1, and its session counts from the load.
    EXPECT_EQ(g.heartbeat(c.id, std::nullopt, 1, load_time + 1000), error_code::none);
    auto s = sync(g, c.id, 1, load_time + 1000);
    EXPECT_EQ(s->error, error_code::none);
    g.tick(load_time + 1000 + session_ms);
    EXPECT_EQ(g.member_count(), 0u);
}

TEST(group_offsets, replay_of_a_group_tombstone_keeps_offsets_only) {
    consumer_group c({"orders"});
    group_registry loaded;
    auto meta = group_registry::records_for_group(c.g());
    auto commit = group_registry::records_for_commit("g", {{{"orders", 0}, at(5, c.now)}});
    auto tomb = group_registry::group_tombstone("g");
    ASSERT_TRUE(loaded.apply(meta.key, std::span<const uint8_t>(*meta.value), c.now));
    ASSERT_TRUE(loaded.apply(commit[0].key, std::span<const uint8_t>(*commit[0].value), c.now));
    ASSERT_TRUE(loaded.apply(tomb.key, std::nullopt, c.now));
    ASSERT_NE(loaded.find("g"), nullptr);
    EXPECT_EQ(loaded.find("g")->member_count(), 0u);
    EXPECT_FALSE(loaded.find("g")->protocol_type().has_value());
    EXPECT_EQ(loaded.find("g")->offset({"orders", 0})->offset, 5);
}

TEST(group_offsets, replay_rejects_bad_bytes_and_skips_other_record_types) {
    group_registry reg;
    bytes junk = {0, 1, 0xff};
    EXPECT_FALSE(reg.apply(junk, std::nullopt, t0).has_value());
    bytes newer_key = {0, 5, 0, 1, 'g'};  // a KIP-848 record type
    EXPECT_TRUE(reg.apply(newer_key, std::span<const uint8_t>(junk), t0).has_value());
    auto key = encode_key(offset_commit_key{"g", "t", 0});
    auto r = reg.apply(key, std::span<const uint8_t>(junk), t0);
    ASSERT_FALSE(r.has_value());
    EXPECT_EQ(r.error(), group_errc::malformed_record);
    EXPECT_EQ(reg.size(), 0u);
}

TEST(group_offsets, empty_generation_and_store_records) {
    consumer_group c({"orders"});
    (void)c.g().leave({{c.id, std::nullopt, ""}}, c.now + 5);
    ASSERT_TRUE(c.g().needs_store());
    auto v = c.g().metadata_value();
    EXPECT_EQ(v.generation, 2);
    EXPECT_FALSE(v.protocol.has_value());
    EXPECT_FALSE(v.leader.has_value());
    EXPECT_TRUE(v.members.empty());
    EXPECT_EQ(v.current_state_timestamp_ms, (c.now + 5).value());
    c.g().store_done(2, error_code::none, c.now + 6);
    EXPECT_FALSE(c.g().needs_store());
}

TEST(group_offsets, a_refused_join_keeps_an_existing_empty_group) {
    consumer_group c({"orders"});
    (void)c.g().leave({{c.id, std::nullopt, ""}}, c.now);
    ASSERT_EQ(c.g().state(), group_state::empty);
    auto bad = jreq("");
    bad.session_timeout_ms = 1;
    auto j = std::make_shared<join_slot>();
    c.reg.join("g", bad, c.now, capture(j));
    EXPECT_EQ((*j)->error, error_code::invalid_session_timeout);
    ASSERT_NE(c.reg.find("g"), nullptr);  // its generation survives
    EXPECT_EQ(c.reg.find("g")->generation(), 2);
}

}  // namespace
}  // namespace wharf::groups
