#include "core/cluster/group_membership.h"

#include <algorithm>

namespace wharf {

namespace {

bool holds(const std::vector<int32_t>& ids, node_id n) {
    return std::binary_search(ids.begin(), ids.end(), n.value());
}

void erase(std::vector<node_id>& v, node_id n) {
    std::erase(v, n);
}

}  // namespace

bool learner_answering(const membership_facts& f, node_id n) {
    auto silent = f.silent_for ? f.silent_for(n) : std::nullopt;
    return !silent || *silent < membership_learner_silence;
}

std::optional<raft_config> next_membership_step(const membership_facts& f,
                                                const std::vector<int32_t>& wanted,
                                                const std::vector<int32_t>& decommissioned) {
    if (!f.committed) return std::nullopt;
    raft_config next = f.current;
    // 1 and 2: learners, which count for nothing, change together.
    std::erase_if(next.learners, [&](node_id n) { return holds(decommissioned, n); });
    for (int32_t w : wanted) {
        node_id n(w);
        if (!next.contains(n) && !holds(decommissioned, n)) next.learners.push_back(n);
    }
    std::sort(next.learners.begin(), next.learners.end());
    if (next != f.current) return next;
    // 3: one caught-up learner becomes a voter.
    for (node_id n : f.current.learners) {
        auto match = f.match_of ? f.match_of(n) : std::nullopt;
        // One that never answered (match 0) is not caught up, however short the log: a voter
        // that cannot be reached would count against every quorum.
        if (!match || match->value() == 0 ||
            match->value() + membership_catch_up_entries < f.leader_last.value()) {
            continue;
        }
        erase(next.learners, n);
        next.voters.push_back(n);
        std::sort(next.voters.begin(), next.voters.end());
        return next;
    }
    // 4: one unwanted voter goes, the leader itself last, never the last voter. While a wanted
    // learner still catches up (it answers), removals wait: the replica count stays up on the
    // way.
    for (node_id n : f.current.learners) {
        if (learner_answering(f, n)) return std::nullopt;
    }
    std::optional<node_id> leave;
    for (node_id n : f.current.voters) {
        if (!holds(decommissioned, n)) continue;
        if (!leave || *leave == f.self) leave = n;
    }
    if (!leave || f.current.voters.size() == 1) return std::nullopt;
    erase(next.voters, *leave);
    return next;
}

int32_t group0_preferred_leader(const std::vector<int32_t>& seeds,
                                const std::vector<int32_t>& members, unsigned shard) {
    std::vector<int32_t> order;
    for (int32_t n : seeds) {
        if (std::binary_search(members.begin(), members.end(), n)) order.push_back(n);
    }
    for (int32_t n : members) {
        if (std::find(seeds.begin(), seeds.end(), n) == seeds.end()) order.push_back(n);
    }
    if (order.empty()) return -1;
    return order[shard % order.size()];
}

}  // namespace wharf
