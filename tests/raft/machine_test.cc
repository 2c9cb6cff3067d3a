// raft_machine, one behaviour at a time. A few machines are wired by hand: each test chooses
// which messages arrive, when entries become durable and when time passes, then checks the exact
// fields of what the machine asks its driver to do. The simulator (tests/sim) checks the same
// machine statistically; these tests pin down each rule it relies on.

#include <gtest/gtest.h>

#include <functional>
#include <memory>
#include <optional>
#include <ostream>
#include <string>
#include <tuple>
#include <utility>
#include <vector>

#include "raft/machine.h"

namespace wharf {

// gtest prints ids, indexes and votes by value (found by argument-dependent lookup).
template <typename T, typename Tag>
[[maybe_unused]] static void PrintTo(const strong_type<T, Tag>& v, std::ostream* os) {
    *os << v.value();
}
[[maybe_unused]] static void PrintTo(const vote_state& v, std::ostream* os) {
    *os << "{term " << v.term.value() << ", voted_for "
        << (v.voted_for ? std::to_string(v.voted_for->value()) : "none") << "}";
}

namespace {

node_id N(int n) {
    return node_id(n);
}
raft_index I(int64_t i) {
    return raft_index(i);
}
term_id T(int64_t t) {
    return term_id(t);
}

// (index, term) pairs: how entries are compared.
using entry_list = std::vector<std::pair<int64_t, int64_t>>;

entry_list entries_of(const std::vector<raft_entry>& es) {
    entry_list out;
    for (const auto& e : es) out.emplace_back(e.index.value(), e.term.value());
    return out;
}

// The fields of each message, as tuples gtest compares and prints.
using vote_request_fields = std::tuple<int64_t, int64_t, int64_t, bool, bool>;
using vote_reply_fields = std::tuple<int64_t, bool, bool>;
using append_request_fields = std::tuple<int64_t, int64_t, int64_t, int64_t>;
using append_reply_fields = std::tuple<int64_t, bool, int64_t, int64_t>;
using plan_fields = std::tuple<int, int64_t, int64_t, int64_t, int64_t, int64_t>;

// term, last_index, last_term, pre_vote, leadership_transfer
vote_request_fields fields(const vote_request& r) {
    return {r.term.value(), r.last_index.value(), r.last_term.value(), r.pre_vote,
            r.leadership_transfer};
}
// term, granted, pre_vote
vote_reply_fields fields(const vote_reply& r) {
    return {r.term.value(), r.granted, r.pre_vote};
}
// term, prev_index, prev_term, leader_commit (entries are compared with entries_of)
append_request_fields fields(const append_request& r) {
    return {r.term.value(), r.prev_index.value(), r.prev_term.value(), r.leader_commit.value()};
}
// term, success, match_index, last_index
append_reply_fields fields(const append_reply& r) {
    return {r.term.value(), r.success, r.match_index.value(), r.last_index.value()};
}
// to, term, prev_index, prev_term, from, leader_commit
plan_fields fields(const append_plan& p) {
    return {p.to.value(),        p.term.value(), p.prev_index.value(),
            p.prev_term.value(), p.from.value(), p.leader_commit.value()};
}

raft_message msg(int from, int to, decltype(raft_message::body) body) {
    return raft_message{N(from), N(to), std::move(body)};
}

append_request append(int64_t term, int64_t prev_index, int64_t prev_term, int64_t commit,
                      const entry_list& entries) {
    append_request r{T(term), I(prev_index), T(prev_term), I(commit), {}};
    for (auto [i, t] : entries) {
        r.entries.push_back(raft_entry{I(i), T(t), entry_type::data, partition_id(0), {}});
    }
    return r;
}

// The bodies of type B among `ms`, to replica `to` (0: to anyone).
template <typename B>
std::vector<const B*> bodies(const std::vector<raft_message>& ms, int to = 0) {
    std::vector<const B*> out;
    for (const auto& m : ms) {
        if (to != 0 && m.to != N(to)) continue;
        if (const auto* b = std::get_if<B>(&m.body)) out.push_back(b);
    }
    return out;
}

// The one message of type B to `to` among `ms` (a failure, and a default B, unless there is
// exactly one).
template <typename B>
B only(const std::vector<raft_message>& ms, int to) {
    auto found = bodies<B>(ms, to);
    if (found.size() != 1) {
        ADD_FAILURE() << found.size() << " messages of that kind to " << to << ", not one";
        return B{};
    }
    return *found[0];
}

// Append requests that carry entries (heartbeats excluded).
std::vector<const append_request*> appends_with_entries(const std::vector<raft_message>& ms,
                                                        int to) {
    std::vector<const append_request*> out;
    for (const auto* r : bodies<append_request>(ms, to)) {
        if (!r->entries.empty()) out.push_back(r);
    }
    return out;
}

// Moves the first message of type B to `to` out of `ms`.
template <typename B>
raft_message take_one(std::vector<raft_message>& ms, int to) {
    for (auto it = ms.begin(); it != ms.end(); ++it) {
        if (it->to == N(to) && std::holds_alternative<B>(it->body)) {
            raft_message m = std::move(*it);
            ms.erase(it);
            return m;
        }
    }
    ADD_FAILURE() << "no such message to " << to;
    return raft_message{};
}

bool everything(const raft_message&) {
    return true;
}
bool votes_only(const raft_message& m) {
    return std::holds_alternative<vote_request>(m.body) ||
           std::holds_alternative<vote_reply>(m.body);
}
std::function<bool(const raft_message&)> not_touching(int n) {
    return [n](const raft_message& m) { return m.from != N(n) && m.to != N(n); };
}

machine_config config_for(int self, int voters) {
    machine_config cfg;
    cfg.self = N(self);
    for (int v = 1; v <= voters; ++v) cfg.voters.push_back(N(v));
    cfg.seed = 1000 + static_cast<uint64_t>(self);
    return cfg;
}

// One replica and what its driver holds.
struct replica {
    std::unique_ptr<raft_machine> m;
    // The driver's log: entry i at log[i - 1], durable or not.
    entry_list log;
    vote_state durable_vote;
    // Sent by this replica, not yet delivered.
    std::vector<raft_message> outbox;
    // With hold_plans, append plans wait in `plans` until the test sends them.
    bool hold_plans = false;
    std::vector<append_plan> plans;
    // How the driver fills one append request: at most this many entries of this many bytes.
    size_t entries_per_append = 64;
    uint64_t entry_bytes = 1;
};

using config_tweak = std::function<void(machine_config&)>;

// Replicas 1..n wired by hand, with the driver of machine.h (as tests/sim/sim_world.cc's
// drive()) except that nothing becomes durable and nothing is delivered unless a test says so.
class group {
public:
    // Replica n starts with a durable log holding one entry per term in logs[n - 1], and a vote
    // for no one in the last of those terms.
    explicit group(const std::vector<std::vector<int64_t>>& logs, const config_tweak& tweak = {}) {
        _replicas.resize(logs.size());
        for (size_t i = 0; i < logs.size(); ++i) {
            int self = static_cast<int>(i) + 1;
            machine_config cfg = config_for(self, static_cast<int>(logs.size()));
            if (tweak) tweak(cfg);
            auto& r = _replicas[i];
            term_index terms;
            for (int64_t t : logs[i]) {
                int64_t index = static_cast<int64_t>(r.log.size()) + 1;
                terms.append(I(index), T(t));
                r.log.emplace_back(index, t);
            }
            r.durable_vote = {terms.last_term(), std::nullopt};
            r.m = std::make_unique<raft_machine>(cfg, machine_start_state{r.durable_vote, terms});
        }
    }
    // n replicas with empty logs.
    static group of(int n, const config_tweak& tweak = {}) {
        return group(std::vector<std::vector<int64_t>>(static_cast<size_t>(n)), tweak);
    }

    int size() const { return static_cast<int>(_replicas.size()); }
    replica& r(int n) { return _replicas.at(static_cast<size_t>(n - 1)); }
    raft_machine& m(int n) { return *r(n).m; }

    // Acts on one ready as machine.h's contract says; durability is left to the test.
    void apply(int n, raft_ready ready) {
        auto& rep = r(n);
        if (ready.vote) rep.durable_vote = *ready.vote;
        if (ready.truncate_after) {
            auto keep = static_cast<size_t>(ready.truncate_after->value());
            if (keep > rep.log.size()) {
                ADD_FAILURE() << "replica " << n << " is asked to truncate after " << keep
                              << " but its log ends at " << rep.log.size();
            } else {
                rep.log.resize(keep);
            }
        }
        for (const auto& e : ready.entries) {
            if (e.index.value() != static_cast<int64_t>(rep.log.size()) + 1) {
                ADD_FAILURE() << "replica " << n << " is asked to append " << e.index.value()
                              << " after " << rep.log.size();
                continue;
            }
            rep.log.emplace_back(e.index.value(), e.term.value());
        }
        for (auto& m : ready.messages) rep.outbox.push_back(std::move(m));
        for (const auto& plan : ready.appends) {
            if (rep.hold_plans) {
                rep.plans.push_back(plan);
            } else {
                send_plan(n, plan);
            }
        }
    }

    void drive(int n) {
        while (m(n).has_ready()) apply(n, m(n).take_ready());
    }

    // Reads the plan's entries from the driver's log, sends them, reports what went.
    void send_plan(int n, const append_plan& plan) {
        auto& rep = r(n);
        append_request req{plan.term, plan.prev_index, plan.prev_term, plan.leader_commit, {}};
        uint64_t bytes = 0;
        for (int64_t i = plan.from.value(); i <= static_cast<int64_t>(rep.log.size()); ++i) {
            if (req.entries.size() >= rep.entries_per_append) break;
            if (!req.entries.empty() && bytes + rep.entry_bytes > plan.max_bytes) break;
            auto [index, term] = rep.log[static_cast<size_t>(i - 1)];
            req.entries.push_back(
                raft_entry{I(index), T(term), entry_type::data, partition_id(0), {}});
            bytes += rep.entry_bytes;
        }
        raft_index last = req.entries.empty() ? plan.from - 1 : req.entries.back().index;
        rep.outbox.push_back(raft_message{N(n), plan.to, std::move(req)});
        m(n).on_append_sent(plan, last, bytes);
    }

    // Sends the held plans, then drives (new plans are held again).
    void release_plans(int n) {
        std::vector<append_plan> plans = std::move(r(n).plans);
        r(n).plans.clear();
        for (const auto& p : plans) send_plan(n, p);
        drive(n);
    }

    // Reports the driver's whole log durable.
    void sync(int n) {
        if (r(n).log.empty()) return;
        auto [index, term] = r(n).log.back();
        m(n).on_durable(I(index), T(term));
        drive(n);
    }

    // A proposal as the driver makes it: the machine names the index, the driver appends.
    raft_index propose(int n) {
        auto index = m(n).propose();
        EXPECT_TRUE(index) << "replica " << n << " does not lead";
        if (!index) return I(0);
        r(n).log.emplace_back(index->value(), m(n).term().value());
        return *index;
    }

    std::vector<raft_message> take(int n) {
        std::vector<raft_message> out = std::move(r(n).outbox);
        r(n).outbox.clear();
        return out;
    }
    void drop_all() {
        for (int n = 1; n <= size(); ++n) r(n).outbox.clear();
    }

    void deliver(raft_message m) {
        int to = m.to.value();
        this->m(to).step(std::move(m));
        drive(to);
    }

    // Delivers the messages `pass` accepts, and those they lead to, until none is left; the
    // others stay in the outboxes. With sync_logs, every log is reported durable as it grows.
    void exchange(const std::function<bool(const raft_message&)>& pass, bool sync_logs) {
        for (int round = 0; round < 1000; ++round) {
            bool moved = false;
            for (int n = 1; sync_logs && n <= size(); ++n) {
                if (!r(n).log.empty() && m(n).durable_index().value() < r(n).log.back().first) {
                    sync(n);
                    moved = true;
                }
            }
            for (int n = 1; n <= size(); ++n) {
                for (auto& m : take(n)) {
                    if (pass(m)) {
                        deliver(std::move(m));
                        moved = true;
                    } else {
                        r(n).outbox.push_back(std::move(m));
                    }
                }
            }
            if (!moved) return;
        }
        ADD_FAILURE() << "the group never settled";
    }

    // Replica n campaigns and wins; everything is delivered and made durable.
    void elect(int n) {
        m(n).campaign();
        drive(n);
        exchange(everything, true);
        ASSERT_TRUE(m(n).is_leader());
    }

    // Replica n campaigns and wins through votes alone; its first append requests are left
    // undelivered (in its outbox, or held as plans).
    void win_votes(int n) {
        m(n).campaign();
        drive(n);
        exchange(votes_only, false);
        ASSERT_TRUE(m(n).is_leader());
    }

private:
    std::vector<replica> _replicas;
};

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
}  // namespace wharf
