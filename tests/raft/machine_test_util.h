#pragma once

// The harness of raft_machine's tests (tests/raft/machine_*_test.cc): replicas wired by hand,
// with the driver of machine.h, and helpers that compare the exact fields of messages and
// plans. Each test chooses which messages arrive, when entries become durable and when time
// passes.

#include <gtest/gtest.h>

#include <functional>
#include <map>
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
inline void PrintTo(const strong_type<T, Tag>& v, std::ostream* os) {
    *os << v.value();
}
inline void PrintTo(const vote_state& v, std::ostream* os) {
    *os << "{term " << v.term.value() << ", voted_for "
        << (v.voted_for ? std::to_string(v.voted_for->value()) : "none") << "}";
}

inline void PrintTo(const raft_config& c, std::ostream* os) {
    *os << c.to_string();
}
inline void PrintTo(const config_entry& c, std::ostream* os) {
    *os << "{" << c.index.value() << ", t" << c.term.value() << ", " << c.config.to_string() << "}";
}

namespace machine_test {

inline node_id N(int n) {
    return node_id(n);
}
inline raft_index I(int64_t i) {
    return raft_index(i);
}
inline term_id T(int64_t t) {
    return term_id(t);
}

// (index, term) pairs: how entries are compared.
using entry_list = std::vector<std::pair<int64_t, int64_t>>;

inline entry_list entries_of(const std::vector<raft_entry>& es) {
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
inline vote_request_fields fields(const vote_request& r) {
    return {r.term.value(), r.last_index.value(), r.last_term.value(), r.pre_vote,
            r.leadership_transfer};
}
// term, granted, pre_vote
inline vote_reply_fields fields(const vote_reply& r) {
    return {r.term.value(), r.granted, r.pre_vote};
}
// term, prev_index, prev_term, leader_commit (entries are compared with entries_of)
inline append_request_fields fields(const append_request& r) {
    return {r.term.value(), r.prev_index.value(), r.prev_term.value(), r.leader_commit.value()};
}
// term, success, match_index, last_index
inline append_reply_fields fields(const append_reply& r) {
    return {r.term.value(), r.success, r.match_index.value(), r.last_index.value()};
}
// to, term, prev_index, prev_term, from, leader_commit
inline plan_fields fields(const append_plan& p) {
    return {p.to.value(),        p.term.value(), p.prev_index.value(),
            p.prev_term.value(), p.from.value(), p.leader_commit.value()};
}

inline raft_message msg(int from, int to, decltype(raft_message::body) body) {
    return raft_message{N(from), N(to), std::move(body)};
}

inline append_request append(int64_t term, int64_t prev_index, int64_t prev_term, int64_t commit,
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
inline std::vector<const append_request*> appends_with_entries(const std::vector<raft_message>& ms,
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

inline bool everything(const raft_message&) {
    return true;
}
inline bool votes_only(const raft_message& m) {
    return std::holds_alternative<vote_request>(m.body) ||
           std::holds_alternative<vote_reply>(m.body);
}
inline std::function<bool(const raft_message&)> not_touching(int n) {
    return [n](const raft_message& m) { return m.from != N(n) && m.to != N(n); };
}

inline std::function<bool(const raft_message&)> only_between(int a, int b) {
    return [a, b](const raft_message& m) {
        return (m.from == N(a) && m.to == N(b)) || (m.from == N(b) && m.to == N(a));
    };
}

// A membership as written, unsorted if so (propose_config normalizes).
inline raft_config members(const std::vector<int>& voters, const std::vector<int>& learners = {}) {
    raft_config c;
    for (int v : voters) c.voters.push_back(N(v));
    for (int l : learners) c.learners.push_back(N(l));
    return c;
}

inline machine_config config_for(int self, int voters) {
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
    // Entries up to this index are gone from the driver's log (retention): plans that need
    // them are reported unsendable, and the follower gets a snapshot at this point instead.
    int64_t removed_through = 0;
    // The snapshots this replica installed, (index, term).
    entry_list installed;
    // The configuration entries of the driver's log, with their payloads, by index: a
    // membership travels in its entry, while `log` keeps only (index, term).
    std::map<int64_t, raft_entry> config_entries;
};

using config_tweak = std::function<void(machine_config&)>;

// Every replica starts with this initial membership (a replica outside it is a node that has
// not joined yet).
inline config_tweak membership(const std::vector<int>& voters,
                               const std::vector<int>& learners = {}) {
    return [c = members(voters, learners)](machine_config& cfg) {
        cfg.voters = c.voters;
        cfg.learners = c.learners;
    };
}

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
        if (ready.snapshot) {
            // The whole log is replaced: entries up to the snapshot point are gone.
            int64_t point = ready.snapshot->index.value();
            rep.log.clear();
            for (int64_t i = 1; i <= point; ++i) rep.log.emplace_back(i, ready.snapshot->term.value());
            rep.removed_through = point;
            rep.installed.emplace_back(point, ready.snapshot->term.value());
            rep.config_entries.clear();
        }
        if (ready.truncate_after) {
            auto keep = static_cast<size_t>(ready.truncate_after->value());
            if (keep > rep.log.size()) {
                ADD_FAILURE() << "replica " << n << " is asked to truncate after " << keep
                              << " but its log ends at " << rep.log.size();
            } else {
                rep.log.resize(keep);
                rep.config_entries.erase(rep.config_entries.upper_bound(static_cast<int64_t>(keep)),
                                         rep.config_entries.end());
            }
        }
        for (const auto& e : ready.entries) {
            if (e.index.value() != static_cast<int64_t>(rep.log.size()) + 1) {
                ADD_FAILURE() << "replica " << n << " is asked to append " << e.index.value()
                              << " after " << rep.log.size();
                continue;
            }
            rep.log.emplace_back(e.index.value(), e.term.value());
            if (e.type == entry_type::raft_configuration) {
                rep.config_entries.insert_or_assign(e.index.value(), e.share());
            }
        }
        for (auto& m : ready.messages) rep.outbox.push_back(std::move(m));
        for (const auto& plan : ready.appends) {
            if (rep.hold_plans) {
                rep.plans.push_back(plan);
            } else {
                send_plan(n, plan);
            }
        }
        for (const auto& plan : ready.snapshots) send_snapshot(n, plan);
    }

    // Sends the driver's snapshot (its removed prefix) for the plan.
    void send_snapshot(int n, const snapshot_plan& plan) {
        auto& rep = r(n);
        if (rep.removed_through == 0) {
            m(n).on_snapshot_unsendable(plan);
            return;
        }
        auto [index, term] = rep.log[static_cast<size_t>(rep.removed_through - 1)];
        const char data[] = "snapshot";
        rep.outbox.push_back(raft_message{
            N(n), plan.to,
            install_snapshot{plan.term, I(index), T(term), plan.leader_commit,
                             iobuf::copy_of(data, sizeof(data)), plan.config}});
        m(n).on_snapshot_sent(plan, I(index));
    }

    void drive(int n) {
        while (m(n).has_ready()) apply(n, m(n).take_ready());
    }

    // Reads the plan's entries from the driver's log, sends them, reports what went.
    void send_plan(int n, const append_plan& plan) {
        auto& rep = r(n);
        if (plan.from.value() <= rep.removed_through) {
            m(n).on_append_unsendable(plan, true);
            return;
        }
        append_request req{plan.term, plan.prev_index, plan.prev_term, plan.leader_commit, {}};
        uint64_t bytes = 0;
        for (int64_t i = plan.from.value(); i <= static_cast<int64_t>(rep.log.size()); ++i) {
            if (req.entries.size() >= rep.entries_per_append) break;
            if (!req.entries.empty() && bytes + rep.entry_bytes > plan.max_bytes) break;
            auto [index, term] = rep.log[static_cast<size_t>(i - 1)];
            if (auto c = rep.config_entries.find(index); c != rep.config_entries.end()) {
                req.entries.push_back(c->second.share());
            } else {
                req.entries.push_back(
                    raft_entry{I(index), T(term), entry_type::data, partition_id(0), {}});
            }
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

// Leader n proposes a membership change; its entry goes to the driver's log and out.
inline raft_index change(group& g, int n, const raft_config& next) {
    auto index = g.m(n).propose_config(next);
    EXPECT_TRUE(index) << "replica " << n << " refused " << next.to_string() << ": "
                       << index.error().message();
    g.drive(n);
    return index ? *index : I(0);
}

// Leader n's next heartbeat (heartbeat_ticks), with everything it leads to delivered and made
// durable: how followers learn the commit index.
inline void heartbeat_delivered(group& g, int n) {
    for (int i = 0; i < 2; ++i) g.m(n).tick();
    g.drive(n);
    g.exchange(everything, true);
}

}  // namespace machine_test
}  // namespace wharf
