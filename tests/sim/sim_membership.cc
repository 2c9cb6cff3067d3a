// sim_world: the operator's membership changes (raft/membership.h, thesis chapter 4), and the
// membership a replica's start would find on its disk (raft_machine's constructor).

#include <algorithm>

#include <fmt/format.h>

#include "tests/sim/sim_membership.h"
#include "tests/sim/sim_world.h"

namespace wharf::sim {

raft_config sim_world::initial_config() const {
    raft_config c;
    for (int i = 0; i < _p.voters; ++i) c.voters.push_back(id_of(i));
    return c;
}

raft_config sim_world::start_config(const node& n, raft_index cut) const {
    // The machine's constructor: the durable history less the entries the log (cut after `cut`)
    // does not hold; the first entry stays, being committed.
    if (n.durable_configs.empty()) return initial_config();
    size_t keep = n.durable_configs.size();
    while (keep > 1) {
        const config_entry& c = n.durable_configs[keep - 1];
        const sim_entry* e = c.index <= cut ? n.durable_log.at(c.index) : nullptr;
        if (c.index <= n.durable_log.snapshot_index() || (e && e->term == c.term)) break;
        --keep;
    }
    return n.durable_configs[keep - 1].config;
}

size_t sim_world::intact_voters(const raft_config& c, const node* also_damaged) const {
    size_t intact = 0;
    for (node_id v : c.voters) {
        const node& o = _nodes[static_cast<size_t>(v.value() - 1)];
        if (&o != also_damaged && o.damaged == raft_index(0) && !o.repair_marker) ++intact;
    }
    return intact;
}

bool sim_world::flip_allowed(const node& n, raft_index cut) const {
    // Protocol-aware recovery under membership changes (raft/machine.h, "Repair after
    // corruption"): safe and live while a majority of the voters is intact, in every
    // configuration that may be in force, and while the replica knows the membership it repairs
    // in. So a flip must not
    //   - leave the replica starting as the only voter (nobody to repair from: the machine
    //     refuses);
    //   - take its membership back (a cut below a configuration entry): a replica that believes
    //     itself one of a pair grants its vote to the other whatever its log, which is wrong
    //     once the pair has grown (the others may hold entries committed without the pair);
    //   - leave any configuration in force (or that a replica down would come back with)
    //     without an intact majority of voters, but for a settled pair, where the exception for
    //     groups of two keeps it live: a pending change to a pair, for one, would wait for the
    //     repairing replica's vote, which it never gives, not knowing of the change.
    raft_config after = start_config(n, cut);
    if (after.voters.size() < 2 && after.is_voter(id_of(n.number))) return false;
    if (after != start_config(n, raft_index::max())) return false;
    std::vector<raft_config> in_force{after};
    for (const auto& o : _nodes) {
        if (o.machine) in_force.push_back(o.machine->config());
        if (!o.up || &o == &n) in_force.push_back(start_config(o, raft_index::max()));
    }
    bool settled = std::all_of(in_force.begin(), in_force.end(),
                               [&](const raft_config& c) { return c == after; });
    return std::all_of(in_force.begin(), in_force.end(), [&](const raft_config& c) {
        return intact_voters(c, &n) >= majority(c) || (settled && c.voters.size() == 2);
    });
}

void sim_world::maybe_change_membership() {
    // Seeds without membership changes draw nothing here, so they replay as they did before.
    // Only in the safety phase: the liveness phase lets the group settle.
    if (_p.churn_per_ms <= 0 || !_lossy || !chance(_p.churn_per_ms)) return;
    node* leader = nullptr;
    for (auto& n : _nodes) {
        if (n.up && n.machine->is_leader()) {
            leader = &n;
            break;
        }
    }
    if (!leader) return;
    const raft_machine& m = *leader->machine;
    const raft_config& now = m.config();
    std::vector<node_id> outside;
    for (int i = 0; i < _p.nodes; ++i) {
        if (!now.contains(id_of(i))) outside.push_back(id_of(i));
    }
    auto pick = [&](const std::vector<node_id>& from) {
        return from[static_cast<size_t>(uniform(0, static_cast<int>(from.size()) - 1))];
    };
    raft_config next = now;
    bool removes_leader = false;
    int op = uniform(0, _p.bug == planted_bug::config_two_voters ? 6 : 5);
    switch (op) {
        case 0:
        case 1: {  // a non-member (never added, or removed before) joins as a learner
            if (outside.empty()) return;
            next.learners.push_back(pick(outside));
            break;
        }
        case 2: {  // a learner that has (nearly) caught up becomes a voter
            if (now.learners.empty()) return;
            node_id l = pick(now.learners);
            auto match = m.match_of(l);
            if (!match || *match + 4 < m.log().last_index()) return;
            std::erase(next.learners, l);
            next.voters.push_back(l);
            break;
        }
        case 3:
        case 4: {  // a voter leaves (the leader itself one time in four), or becomes a learner
            if (now.voters.size() < 2) return;
            bool self = now.is_voter(m.self()) && uniform(0, 3) == 0;
            node_id v = self ? m.self() : pick(now.voters);
            removes_leader = v == m.self();
            std::erase(next.voters, v);
            if (op == 4) next.learners.push_back(v);
            break;
        }
        case 5: {  // a learner leaves
            if (now.learners.empty()) return;
            std::erase(next.learners, pick(now.learners));
            break;
        }
        default: {  // planted bug config_two_voters: a voter out and another in, at once
            if (now.voters.size() < 2 || outside.empty()) return;
            node_id v = pick(now.voters);
            removes_leader = v == m.self();
            std::erase(next.voters, v);
            next.voters.push_back(pick(outside));
            break;
        }
    }
    // While a replica is damaged or repairing, no change may leave the group without an intact
    // majority (flip_allowed says why): an operator finishes repairs before shrinking that far.
    if (intact_voters(next, nullptr) < majority(next)) return;
    propose_change(*leader, std::move(next), removes_leader);
}

bool sim_world::propose_change(node& leader, raft_config next, bool removes_leader) {
    raft_machine& m = *leader.machine;
    (void)normalize_config(next);  // for the trace: propose_config normalizes its own copy
    std::string before = trace ? m.config().to_string() : std::string();
    // Never the membership in force (every change above changes it), so an index is a new entry.
    auto index = m.propose_config(next);
    if (index) {
        _changes.push_back({*index, m.term(), removes_leader});
        ++_stats.configs_proposed;
        if (removes_leader) ++_stats.leader_removals;
        if (trace) {
            fmt::print("{} ms: {} proposes {} (from {}) at {}\n", _now, m.self(),
                       next.to_string(), before, *index);
        }
    }
    drive(leader);
    return index.has_value();
}

}  // namespace wharf::sim
