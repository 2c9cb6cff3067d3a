// raft_machine, one behaviour at a time (see machine_replication_test.cc for the harness).
//
// This file: membership changes one voter at a time, and learners (raft/membership.h, thesis
// chapter 4). The payload codec, the rules of propose_config, what a learner may and may not do,
// and how a voter added or removed changes the quorum from the append of its entry on, the
// leader's own removal included. machine_membership_log_test.cc covers the history itself
// (truncation, raft_ready::configs, start state, snapshots, a node joining).

#include <gtest/gtest.h>

#include <cstring>

#include "raft/errc.h"
#include "tests/raft/machine_test_util.h"

namespace wharf::machine_test {
namespace {

// --- The payload codec (membership.h) ----------------------------------------------------------

// The payload laid out by hand, as membership.h describes it, so a test can break any field.
std::vector<std::byte> payload(uint8_t version, const std::vector<int32_t>& voters,
                               const std::vector<int32_t>& learners) {
    std::vector<std::byte> out{std::byte{version}};
    auto put = [&](auto v) {
        auto at = out.size();
        out.resize(at + sizeof(v));
        std::memcpy(out.data() + at, &v, sizeof(v));
    };
    for (const auto* ids : {&voters, &learners}) {
        put(static_cast<uint32_t>(ids->size()));
        for (int32_t n : *ids) put(n);
    }
    return out;
}

std::error_code decode_error(const std::vector<std::byte>& bytes) {
    auto got = decode_config(std::span<const std::byte>(bytes));
    return got ? std::error_code{} : got.error();
}

TEST(raft_membership_codec, round_trip) {
    for (const auto& c : {members({1, 2, 3}, {7}), members({4}), members({0, 9}, {1, 2})}) {
        iobuf bytes = encode_config(c);
        EXPECT_EQ(bytes.size(), encoded_config_bytes(c));
        auto back = decode_config(bytes);
        ASSERT_TRUE(back) << back.error().message();
        EXPECT_EQ(*back, c);
    }
    // The hand-made layout is the encoder's.
    iobuf bytes = encode_config(members({1, 2, 3}, {7}));
    std::vector<std::byte> flat(bytes.size());
    bytes.copy_to(0, flat.data(), flat.size());
    EXPECT_EQ(flat, payload(membership_format_version, {1, 2, 3}, {7}));
}

TEST(raft_membership_codec, refuses_every_malformed_payload) {
    const std::error_code invalid = raft_errc::invalid_configuration;
    const auto good = payload(1, {1, 2, 3}, {7});
    ASSERT_EQ(decode_error(good), std::error_code{});
    EXPECT_EQ(decode_error(payload(0, {1, 2, 3}, {7})), invalid) << "version 0";
    EXPECT_EQ(decode_error(payload(2, {1, 2, 3}, {7})), invalid) << "version 2";
    for (size_t n = 0; n < good.size(); ++n) {
        std::vector<std::byte> cut(good.begin(), good.begin() + static_cast<ptrdiff_t>(n));
        EXPECT_EQ(decode_error(cut), invalid) << "truncated to " << n << " bytes";
    }
    auto trailing = good;
    trailing.push_back(std::byte{0});
    EXPECT_EQ(decode_error(trailing), invalid) << "a trailing byte";
    EXPECT_EQ(decode_error(payload(1, {2, 1, 3}, {})), invalid) << "unsorted voters";
    EXPECT_EQ(decode_error(payload(1, {1}, {8, 7})), invalid) << "unsorted learners";
    EXPECT_EQ(decode_error(payload(1, {1, 1, 2}, {})), invalid) << "a duplicate voter";
    EXPECT_EQ(decode_error(payload(1, {1}, {7, 7})), invalid) << "a duplicate learner";
    EXPECT_EQ(decode_error(payload(1, {1, 2}, {2})), invalid) << "a voter also learner";
    EXPECT_EQ(decode_error(payload(1, {}, {7})), invalid) << "no voter";
    EXPECT_EQ(decode_error(payload(1, {-1, 2}, {})), invalid) << "a negative voter";
    EXPECT_EQ(decode_error(payload(1, {1}, {-3, 2})), invalid) << "a negative learner";
    std::vector<int32_t> many_voters, many_learners;
    for (int32_t n = 0; n < 40; ++n) many_voters.push_back(n);
    for (int32_t n = 40; n < 65; ++n) many_learners.push_back(n);
    EXPECT_EQ(decode_error(payload(1, many_voters, many_learners)), invalid) << "65 members";
    many_learners.pop_back();
    EXPECT_EQ(decode_error(payload(1, many_voters, many_learners)), std::error_code{})
        << "64 members are allowed";
    // A count beyond any configuration is refused before the ids are looked for.
    auto huge = payload(1, {1}, {});
    huge[1] = std::byte{0xff};
    EXPECT_EQ(decode_error(huge), invalid) << "a huge voter count";
    // The iobuf overload refuses what is longer than the largest configuration.
    std::vector<std::byte> long_bytes(1000, std::byte{0});
    EXPECT_EQ(decode_config(iobuf::copy_of(std::span<const std::byte>(long_bytes))).error(),
              invalid);
}

TEST(raft_membership_codec, normalize_sorts_then_validates) {
    raft_config c{{N(3), N(1), N(2)}, {N(9), N(5)}};
    EXPECT_TRUE(normalize_config(c));
    EXPECT_EQ(c, members({1, 2, 3}, {5, 9}));
    EXPECT_FALSE(validate_config(raft_config{{N(2), N(1)}, {}})) << "validation does not sort";
    raft_config dup{{N(2), N(1), N(2)}, {}};
    EXPECT_EQ(normalize_config(dup).error(), raft_errc::invalid_configuration);
}

TEST(raft_membership_codec, single_voter_change) {
    const auto now = members({1, 2, 3}, {4});
    EXPECT_TRUE(is_single_voter_change(now, now));
    EXPECT_TRUE(is_single_voter_change(now, members({1, 2, 3, 4}))) << "a learner promoted";
    EXPECT_TRUE(is_single_voter_change(now, members({1, 2, 3, 5}, {4}))) << "one voter added";
    EXPECT_TRUE(is_single_voter_change(now, members({1, 2}, {4}))) << "one voter removed";
    EXPECT_TRUE(is_single_voter_change(now, members({1, 2, 3}, {5, 6, 7}))) << "learners only";
    EXPECT_TRUE(is_single_voter_change(now, members({1, 2}, {3, 4}))) << "a voter demoted";
    EXPECT_FALSE(is_single_voter_change(now, members({1, 2, 3, 4, 5})));
    EXPECT_FALSE(is_single_voter_change(now, members({1}, {4})));
    EXPECT_FALSE(is_single_voter_change(now, members({1, 2, 5}, {4}))) << "a voter replaced";
}

// --- propose_config ----------------------------------------------------------------------------

// The index a proposal got; -1 when it was refused.
raft_index proposed(const result<raft_index>& r) {
    return r ? *r : I(-1);
}

TEST(raft_membership_propose, followers_refuse) {
    auto g = group::of(3);
    g.elect(1);
    EXPECT_EQ(g.m(2).propose_config(members({1, 2, 3}, {4})).error(), raft_errc::not_leader);
    EXPECT_EQ(g.m(2).config(), members({1, 2, 3}));
}

TEST(raft_membership_propose, waits_for_the_terms_first_entry_to_commit) {
    auto g = group::of(3);
    g.win_votes(1);  // the no-op is not delivered yet
    ASSERT_EQ(g.m(1).commit_index(), I(0));
    EXPECT_EQ(g.m(1).propose_config(members({1, 2, 3}, {4})).error(),
              raft_errc::configuration_change_pending);
    EXPECT_EQ(g.m(1).log().last_index(), I(1)) << "nothing appended";
    g.exchange(everything, true);
    ASSERT_EQ(g.m(1).commit_index(), I(1));
    EXPECT_EQ(proposed(g.m(1).propose_config(members({1, 2, 3}, {4}))), I(2));
}

TEST(raft_membership_propose, one_change_at_a_time) {
    auto g = group::of(5, membership({1, 2, 3}));
    g.elect(1);
    EXPECT_EQ(change(g, 1, members({1, 2, 3}, {4})), I(2));
    EXPECT_FALSE(g.m(1).config_committed());
    EXPECT_EQ(g.m(1).propose_config(members({1, 2, 3}, {4, 5})).error(),
              raft_errc::configuration_change_pending);
    // The membership in force, even unsorted, names its entry (the caller retries safely).
    EXPECT_EQ(proposed(g.m(1).propose_config(members({3, 1, 2}, {4}))), I(2));
    EXPECT_EQ(g.m(1).log().last_index(), I(2));
    g.exchange(everything, true);
    ASSERT_TRUE(g.m(1).config_committed());
    EXPECT_EQ(proposed(g.m(1).propose_config(members({1, 2, 3}, {4}))), I(2));
    EXPECT_EQ(change(g, 1, members({1, 2, 3}, {4, 5})), I(3));
}

TEST(raft_membership_propose, refuses_more_than_one_voter_and_malformed) {
    auto g = group::of(3);
    g.elect(1);
    const std::error_code invalid = raft_errc::invalid_configuration;
    EXPECT_EQ(g.m(1).propose_config(members({1, 2, 3, 4, 5})).error(), invalid);
    EXPECT_EQ(g.m(1).propose_config(members({1})).error(), invalid);
    EXPECT_EQ(g.m(1).propose_config(members({1, 2, 4})).error(), invalid);
    EXPECT_EQ(g.m(1).propose_config(members({1, 2, 3}, {3})).error(), invalid);
    EXPECT_EQ(g.m(1).propose_config(raft_config{}).error(), invalid);
    EXPECT_EQ(g.m(1).log().last_index(), I(1));
    EXPECT_EQ(g.m(1).config(), members({1, 2, 3}));
}

// --- Learners ----------------------------------------------------------------------------------

TEST(raft_membership_learner, gets_the_log_and_the_commit_index) {
    auto g = group::of(4, membership({1, 2, 3}, {4}));
    g.elect(1);
    for (int i = 0; i < 2; ++i) g.propose(1);
    g.drive(1);
    g.exchange(everything, true);
    heartbeat_delivered(g, 1);
    EXPECT_EQ(g.r(4).log, g.r(1).log);
    EXPECT_EQ(g.m(4).commit_index(), I(3));
    EXPECT_EQ(g.m(1).match_of(N(4)), I(3));
}

TEST(raft_membership_learner, acknowledgement_never_counts) {
    auto g = group::of(4, membership({1, 2, 3}, {4}));
    g.elect(1);
    g.propose(1);
    g.drive(1);
    // 2 and 3 are down; the learner is up and acknowledges.
    g.exchange(only_between(1, 4), true);
    EXPECT_EQ(g.m(1).match_of(N(4)), I(2));
    EXPECT_EQ(g.m(1).commit_index(), I(1));
    g.exchange(only_between(1, 2), true);
    EXPECT_EQ(g.m(1).commit_index(), I(2));
}

TEST(raft_membership_learner, gets_no_vote_request) {
    auto g = group::of(4, membership({1, 2, 3}, {4}));
    g.m(1).campaign();
    g.drive(1);
    auto out = g.take(1);
    EXPECT_EQ(bodies<vote_request>(out).size(), 2u);
    EXPECT_TRUE(bodies<vote_request>(out, 4).empty()) << "a pre-vote request to the learner";
    for (auto& m : out) g.deliver(std::move(m));
    for (auto& m : g.take(2)) g.deliver(std::move(m));
    ASSERT_EQ(g.m(1).role(), raft_role::candidate);
    out = g.take(1);
    EXPECT_EQ(bodies<vote_request>(out).size(), 2u);
    EXPECT_TRUE(bodies<vote_request>(out, 4).empty()) << "a vote request to the learner";
}

TEST(raft_membership_learner, never_campaigns) {
    auto g = group::of(4, membership({1, 2, 3}, {4}));
    for (int i = 0; i < 100; ++i) {
        g.m(4).tick();
        g.drive(4);
    }
    g.m(4).campaign();
    g.drive(4);
    EXPECT_EQ(g.m(4).role(), raft_role::follower);
    EXPECT_EQ(g.m(4).term(), T(0));
    EXPECT_TRUE(g.take(4).empty());
}

TEST(raft_membership_learner, ignores_timeout_now) {
    auto g = group::of(4, membership({1, 2, 3}, {4}));
    g.elect(1);
    g.deliver(msg(1, 4, timeout_now{T(1)}));
    EXPECT_EQ(g.m(4).role(), raft_role::follower);
    EXPECT_EQ(g.m(4).term(), T(1));
    EXPECT_TRUE(g.take(4).empty());
    // The same message makes a voter campaign.
    g.deliver(msg(1, 2, timeout_now{T(1)}));
    EXPECT_EQ(g.m(2).role(), raft_role::candidate);
}

TEST(raft_membership_learner, candidate_counts_no_vote_of_a_non_voter) {
    auto g = group::of(4, [](machine_config& cfg) {
        cfg.voters = {N(1), N(2), N(3)};
        cfg.learners = {N(4)};
        cfg.pre_vote = false;
    });
    g.m(1).campaign();
    g.drive(1);
    ASSERT_EQ(g.m(1).role(), raft_role::candidate);
    g.deliver(msg(4, 1, vote_reply{T(1), true, false}));
    EXPECT_EQ(g.m(1).role(), raft_role::candidate) << "a learner's vote elected it";
    g.deliver(msg(2, 1, vote_reply{T(1), true, false}));
    EXPECT_TRUE(g.m(1).is_leader());
}

TEST(raft_membership_learner, check_quorum_counts_no_learner) {
    auto g = group::of(4, membership({1, 2, 3}, {4}));
    g.elect(1);
    g.drop_all();
    // Only the learner answers for two election timeouts (the first check still counts what
    // 2 and 3 said during the election).
    for (int i = 0; i < 20; ++i) {
        g.m(1).tick();
        g.drive(1);
        g.exchange(only_between(1, 4), true);
    }
    EXPECT_EQ(g.m(1).role(), raft_role::follower);
}

// --- Adding a voter: the new quorum rules from the append --------------------------------------

TEST(raft_membership_add, promoted_learner_counts_before_its_entry_commits) {
    auto g = group::of(4, membership({1, 2, 3}, {4}));
    g.elect(1);
    raft_index at = change(g, 1, members({1, 2, 3, 4}));
    EXPECT_EQ(g.m(1).config(), members({1, 2, 3, 4}));
    EXPECT_FALSE(g.m(1).config_committed());
    // Leader and 2 were a quorum of 3 voters; of 4 they are not.
    g.exchange(only_between(1, 2), true);
    EXPECT_EQ(g.m(1).match_of(N(2)), at);
    EXPECT_EQ(g.m(1).commit_index(), I(1));
    g.exchange(only_between(1, 4), true);
    EXPECT_EQ(g.m(1).commit_index(), at);
    EXPECT_TRUE(g.m(4).config().is_voter(N(4)));
}

// --- Removing a follower -----------------------------------------------------------------------

TEST(raft_membership_remove, quorum_shrinks_at_once_and_the_removed_gets_nothing) {
    auto g = group::of(4);
    g.elect(1);
    raft_index at = change(g, 1, members({1, 2, 3}));
    // Leader and 2 are no quorum of 4 voters, but one of 3.
    g.exchange(only_between(1, 2), true);
    EXPECT_EQ(g.m(1).commit_index(), at);
    EXPECT_EQ(g.m(1).match_of(N(4)), std::nullopt);
    g.drop_all();
    g.propose(1);
    g.drive(1);
    for (int i = 0; i < 12; ++i) {
        g.m(1).tick();
        g.drive(1);
    }
    auto out = g.take(1);
    EXPECT_FALSE(bodies<append_request>(out, 2).empty());
    EXPECT_TRUE(bodies<append_request>(out, 4).empty()) << "the removed follower got appends";
    EXPECT_TRUE(g.m(1).is_leader());
}

// --- Removing the leader (thesis 4.2.2) --------------------------------------------------------

// Delivers everything but the appends to `to` that carry an entry at or past `index`.
std::function<bool(const raft_message&)> holding_back(int to, int64_t index) {
    return [to, index](const raft_message& m) {
        const auto* r = std::get_if<append_request>(&m.body);
        return m.to != N(to) || !r || r->entries.empty() || r->entries.back().index < I(index);
    };
}

TEST(raft_membership_leader_removal, leads_until_committed_then_hands_over) {
    auto g = group::of(3);
    g.elect(1);
    raft_index data = g.propose(1);
    g.drive(1);
    raft_index at = change(g, 1, members({2, 3}));
    // 3 gets the data entry, not the change; 2 gets both. The data entry commits, and the
    // leader, no voter any more, does not count its own disk for the change.
    g.exchange(holding_back(3, at.value()), true);
    EXPECT_EQ(g.m(1).commit_index(), data);
    EXPECT_EQ(g.m(1).match_of(N(2)), at);
    EXPECT_EQ(g.m(1).durable_index(), at);
    EXPECT_TRUE(g.m(1).is_leader()) << "stepped down before its removal committed";
    EXPECT_EQ(g.m(1).match_of(N(1)), std::nullopt) << "no member any more";

    // 3 takes the change: it commits, the leader tells an up-to-date voter to campaign and
    // steps down.
    for (auto& m : g.take(1)) {
        if (m.to == N(3)) g.deliver(std::move(m));
    }
    g.sync(3);
    for (auto& m : g.take(3)) g.deliver(std::move(m));
    EXPECT_EQ(g.m(1).commit_index(), at);
    EXPECT_EQ(g.m(1).role(), raft_role::follower);
    EXPECT_EQ(g.m(1).term(), T(1));
    auto out = g.take(1);
    EXPECT_EQ(bodies<timeout_now>(out).size(), 1u);
    ASSERT_EQ(bodies<timeout_now>(out, 2).size(), 1u);

    // 2 wins the election of the new membership at once; 1 is not asked.
    g.deliver(take_one<timeout_now>(out, 2));
    ASSERT_EQ(g.m(2).role(), raft_role::candidate);
    EXPECT_TRUE(bodies<vote_request>(g.r(2).outbox, 1).empty());
    g.exchange(not_touching(1), true);
    EXPECT_TRUE(g.m(2).is_leader());
    EXPECT_EQ(g.m(2).term(), T(2));
    EXPECT_TRUE(bodies<append_request>(g.r(2).outbox, 1).empty()) << "appends to the old leader";

    // The old leader never stands again.
    for (int i = 0; i < 100; ++i) {
        g.m(1).tick();
        g.drive(1);
    }
    EXPECT_EQ(g.m(1).role(), raft_role::follower);
    EXPECT_TRUE(bodies<vote_request>(g.take(1)).empty());
}

TEST(raft_membership_leader_removal, hands_over_only_to_an_up_to_date_voter) {
    auto g = group::of(4, membership({1, 2, 3}, {4}));
    g.elect(1);
    raft_index at = change(g, 1, members({2, 3}, {4}));
    raft_index data = g.propose(1);
    g.drive(1);
    // The learner holds everything; the voters hold the change but not the entry after it.
    g.exchange(only_between(1, 4), true);
    ASSERT_EQ(g.m(1).match_of(N(4)), data);
    g.exchange(
        [d = data.value()](const raft_message& m) {
            return holding_back(2, d)(m) && holding_back(3, d)(m) &&
                   !std::holds_alternative<timeout_now>(m.body);
        },
        true);
    EXPECT_EQ(g.m(1).commit_index(), at);
    EXPECT_EQ(g.m(1).role(), raft_role::follower);
    // Nobody would win at once: the group waits for an election timeout instead.
    EXPECT_TRUE(bodies<timeout_now>(g.take(1)).empty());
}

TEST(raft_membership_leader_removal, check_quorum_counts_no_own_vote) {
    auto g = group::of(3);
    g.elect(1);
    change(g, 1, members({2, 3}));
    // Of the new voters only 2 answers: no quorum of {2, 3}, whatever the leader's own state.
    for (int i = 0; i < 20; ++i) {
        g.m(1).tick();
        g.drive(1);
        g.exchange(only_between(1, 2), true);
    }
    EXPECT_EQ(g.m(1).role(), raft_role::follower);
    EXPECT_FALSE(g.m(1).config_committed());
}

}  // namespace
}  // namespace wharf::machine_test
