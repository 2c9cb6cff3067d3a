// raft_sim: the deterministic simulation of raft (tests/sim/README.md).
//
//   raft_sim --seeds N [--first-seed S]   N seeds from S (default: a random S, printed)
//   raft_sim --seed S                     one seed, replayed exactly
//   --nodes 3|5        force the group size (default: drawn per seed)
//   --planted-bug B    a deliberate bug: ack_before_durable | vote_ignores_log | repair_votes |
//                      config_two_voters in raft_machine, snapshot_wrong_term |
//                      configs_after_entries in the simulator's driver
//   --expect-violation succeed only if some seed finds a violation (the canary)
//   --verbose          one line per seed
//   --trace            every delivered message, compaction and install (with --seed)
//
// Exit status: 0 when every seed passed (or, with --expect-violation, when one failed as it
// should), 1 on a violation (or a canary that found none), 2 on bad arguments.

#include <chrono>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <optional>
#include <random>
#include <string>
#include <string_view>

#include <fmt/format.h>

#include "tests/sim/sim_checker.h"
#include "tests/sim/sim_world.h"

namespace {

using namespace wharf;
using namespace wharf::sim;

struct options {
    uint64_t first_seed = 0;
    bool first_given = false;
    uint64_t seeds = 1;
    int nodes = 0;
    planted_bug bug = planted_bug::none;
    driver_bug driver = driver_bug::none;
    std::string bug_name;
    bool expect_violation = false;
    bool verbose = false;
    bool trace = false;
};

[[noreturn]] void usage(const std::string& why) {
    fmt::print(stderr, "raft_sim: {}\nusage: raft_sim [--seed S | --seeds N [--first-seed S]] "
               "[--nodes 3|5] [--planted-bug ack_before_durable|vote_ignores_log|"
               "repair_votes|config_two_voters|snapshot_wrong_term|configs_after_entries] "
               "[--expect-violation] [--verbose]\n", why);
    std::exit(2);
}

uint64_t number(const char* flag, const char* v) {
    if (!v) usage(fmt::format("{} needs a value", flag));
    char* end = nullptr;
    unsigned long long n = std::strtoull(v, &end, 10);
    if (*v == '\0' || *end != '\0') usage(fmt::format("{}: '{}' is not a number", flag, v));
    return n;
}

options parse(int argc, char** argv) {
    options o;
    for (int i = 1; i < argc; ++i) {
        std::string_view a = argv[i];
        const char* v = i + 1 < argc ? argv[i + 1] : nullptr;
        if (a == "--seed") {
            o.first_seed = number("--seed", v), o.first_given = true, o.seeds = 1, ++i;
        } else if (a == "--first-seed") {
            o.first_seed = number("--first-seed", v), o.first_given = true, ++i;
        } else if (a == "--seeds") {
            o.seeds = number("--seeds", v), ++i;
            if (o.seeds == 0) usage("--seeds must be at least 1");
        } else if (a == "--nodes") {
            o.nodes = static_cast<int>(number("--nodes", v)), ++i;
            if (o.nodes != 3 && o.nodes != 5) usage("--nodes must be 3 or 5");
        } else if (a == "--planted-bug") {
            if (!v) usage("--planted-bug needs a value");
            o.bug_name = v, ++i;
            if (o.bug_name == "ack_before_durable") {
                o.bug = planted_bug::ack_before_durable;
            } else if (o.bug_name == "vote_ignores_log") {
                o.bug = planted_bug::vote_ignores_log;
            } else if (o.bug_name == "repair_votes") {
                o.bug = planted_bug::repair_votes;
            } else if (o.bug_name == "config_two_voters") {
                o.bug = planted_bug::config_two_voters;
            } else if (o.bug_name == "snapshot_wrong_term") {
                o.driver = driver_bug::snapshot_wrong_term;
            } else if (o.bug_name == "configs_after_entries") {
                o.driver = driver_bug::configs_after_entries;
            } else {
                usage(fmt::format("unknown planted bug '{}'", o.bug_name));
            }
        } else if (a == "--expect-violation") {
            o.expect_violation = true;
        } else if (a == "--trace") {
            o.trace = true;
        } else if (a == "--verbose") {
            o.verbose = true;
        } else {
            usage(fmt::format("unknown argument '{}'", a));
        }
    }
    if (!o.first_given) o.first_seed = std::random_device{}() % 1000000000ULL;
    return o;
}

// Heals the world and requires it to converge: a leader, a voter of its membership, that has
// committed its whole log, every member (voter or learner) caught up (its log reaching the
// leader's last index, by entries or a snapshot), and a fresh proposal acknowledged. Replicas
// outside the membership (never added, or removed) are left out: nothing sends them the log.
std::optional<std::string> liveness(sim_world& w, sim_checker& checker) {
    w.heal();
    size_t proposals_before = w.proposals().size();
    for (int ms = 0; ms < w.params().liveness_ms; ++ms) {
        w.step(false);
        if (auto v = checker.check(w)) return v;
        if (ms % 200 == 0) w.propose_once();
        const sim_world::node* leader = nullptr;
        for (const auto& n : w.nodes()) {
            if (!n.machine->is_leader()) continue;
            if (!leader || n.machine->term() > leader->machine->term()) leader = &n;
        }
        if (!leader) continue;
        const raft_config& members = leader->machine->config();
        if (!members.is_voter(leader->machine->self())) continue;
        // Leader balancing: leadership goes back to the preferred replica once all are up (if
        // it is still a voter).
        int preferred = w.params().preferred;
        if (preferred >= 0 && members.is_voter(node_id(preferred + 1)) &&
            leader->number != preferred) {
            continue;
        }
        auto visible = leader->machine->leader_commit();
        if (!visible || *visible != leader->machine->log().last_index()) continue;
        bool caught_up = true;
        for (const auto& n : w.nodes()) {
            if (!members.contains(n.machine->self())) continue;
            caught_up = caught_up && n.machine->commit_index() == *visible &&
                        n.log.last_index() == leader->log.last_index() &&
                        !n.machine->repairing();
        }
        bool fresh_acked = false;
        for (size_t i = proposals_before; i < w.proposals().size(); ++i) {
            fresh_acked = fresh_acked || w.proposals()[i].acked;
        }
        if (caught_up && fresh_acked) return checker.check_acknowledged(w);
    }
    std::string state;
    for (const auto& n : w.nodes()) {
        const auto& m = *n.machine;
        state += fmt::format("\n  replica {} (node id {}): {}, leader {}", n.number, n.number + 1,
                             m.describe(), m.leader() ? m.leader()->value() : -1);
    }
    return fmt::format("liveness: no convergence (preferred leader {}) within {} ms of healing:{}",
                       w.params().preferred,
                       w.params().liveness_ms, state);
}

struct seed_result {
    size_t committed = 0;
    world_stats stats;
    // Membership changes that committed (of stats.configs_proposed), and of them those that
    // removed the leader.
    uint64_t configs_committed = 0;
    uint64_t leader_removals_committed = 0;

    seed_result& operator+=(const seed_result& o) {
        committed += o.committed;
        stats += o.stats;
        configs_committed += o.configs_committed;
        leader_removals_committed += o.leader_removals_committed;
        return *this;
    }
};

std::string describe(const seed_result& r) {
    const world_stats& s = r.stats;
    return fmt::format("{} compactions, {} snapshots sent, {} installed ({} durable), "
                       "{} bit flips, {} repairs started, {} done, "
                       "{} membership changes proposed, {} committed, "
                       "{} leader removals proposed, {} committed",
                       s.compactions, s.snapshots_sent, s.snapshots_installed,
                       s.installs_durable, s.flips, s.repairs_started, s.repairs_done,
                       s.configs_proposed, r.configs_committed, s.leader_removals,
                       r.leader_removals_committed);
}

// Which of the world's accepted membership changes are in the committed log.
void count_committed_changes(const sim_world& w, const sim_checker& checker, seed_result* out) {
    const auto& log = checker.committed();
    for (const auto& c : w.config_changes()) {
        auto at = static_cast<size_t>(c.index.value());
        if (at == 0 || at > log.size() || log[at - 1].term != c.term) continue;
        ++out->configs_committed;
        if (c.removes_leader) ++out->leader_removals_committed;
    }
}

std::optional<std::string> run_seed(uint64_t seed, const options& o, seed_result* out) {
    world_params p = draw_params(seed, o.nodes, o.bug, o.driver);
    if (o.verbose) fmt::print("seed {}: {}\n", seed, describe(p));
    sim_world w(seed, p);
    w.trace = o.trace;
    sim_checker checker(static_cast<size_t>(p.nodes), w.initial_config());
    for (int ms = 0; ms < p.safety_ms; ++ms) {
        w.step(true);
        if (auto v = checker.check(w)) return fmt::format("at {} ms: {}", w.now_ms(), *v);
    }
    auto v = liveness(w, checker);
    out->committed = checker.committed().size();
    out->stats = w.stats();
    count_committed_changes(w, checker, out);
    if (v) return fmt::format("at {} ms: {}", w.now_ms(), *v);
    return std::nullopt;
}

}  // namespace

int main(int argc, char** argv) {
    options o = parse(argc, argv);
    // The seed comes first, so that any failure, even a crash, can be replayed.
    fmt::print("raft_sim: seeds {}..{}{}\n", o.first_seed, o.first_seed + o.seeds - 1,
               o.bug_name.empty() ? "" : fmt::format(" with planted bug {}", o.bug_name));
    std::fflush(stdout);
    auto started = std::chrono::steady_clock::now();
    seed_result total;
    uint64_t seeds_installing = 0;
    uint64_t seeds_repairing = 0;
    uint64_t seeds_reconfiguring = 0;
    for (uint64_t s = o.first_seed; s < o.first_seed + o.seeds; ++s) {
        seed_result r;
        auto v = run_seed(s, o, &r);
        total += r;
        if (r.stats.snapshots_installed > 0) ++seeds_installing;
        if (r.stats.repairs_done > 0) ++seeds_repairing;
        if (r.configs_committed > 0) ++seeds_reconfiguring;
        if (v) {
            std::string replay = fmt::format(
                "raft_sim --seed {}{}{}", s, o.nodes ? fmt::format(" --nodes {}", o.nodes) : "",
                o.bug_name.empty() ? "" : " --planted-bug " + o.bug_name);
            fmt::print("seed {}: VIOLATION {}\nreplay: {}\n", s, *v, replay);
            if (o.expect_violation) {
                fmt::print("raft_sim: the checker caught the planted bug (as it must)\n");
                return 0;
            }
            return 1;
        }
        if (o.verbose) {
            fmt::print("seed {}: ok, {} entries committed, {}\n", s, r.committed, describe(r));
        }
    }
    double secs = std::chrono::duration<double>(std::chrono::steady_clock::now() - started)
                      .count();
    if (o.expect_violation) {
        fmt::print("raft_sim: planted bug {} went unnoticed over {} seeds\n", o.bug_name,
                   o.seeds);
        return 1;
    }
    fmt::print("raft_sim: {} seeds passed, {} entries committed, {:.1f} s\n", o.seeds,
               total.committed, secs);
    // So one can see snapshots, repairs and membership changes happen (and on how many seeds).
    fmt::print("raft_sim: {}, {} unsendable; seeds with an install: {} of {}, with a repair: {}, "
               "with a committed membership change: {}\n",
               describe(total), total.stats.snapshots_unsendable, seeds_installing, o.seeds,
               seeds_repairing, seeds_reconfiguring);
    return 0;
}
