#pragma once

// How the simulator names a membership (raft/membership.h) in its log model: a configuration
// entry's id (sim_entry::id) is the configuration itself, voters and learners as two bitmasks,
// with the top bit set so that it never equals a proposal's id (a counter from 1). Equal
// configurations get equal ids, so the checker's prefix hashes and committed-log comparisons
// cover the membership an entry carries, and the id turns back into the entry's payload when a
// leader's driver sends it.

#include <cstdint>

#include "raft/membership.h"
#include "reactor/base/assert.h"
#include "tests/sim/sim_log.h"

namespace wharf::sim {

// Node ids the simulator gives replicas: 1..max_sim_nodes.
inline constexpr int max_sim_nodes = 16;

inline uint64_t config_id(const raft_config& c) {
    uint64_t voters = 0;
    uint64_t learners = 0;
    for (node_id n : c.voters) {
        WHARF_ASSERT(n.value() >= 1 && n.value() <= max_sim_nodes, "sim: voter {}", n.value());
        voters |= uint64_t{1} << (n.value() - 1);
    }
    for (node_id n : c.learners) {
        WHARF_ASSERT(n.value() >= 1 && n.value() <= max_sim_nodes, "sim: learner {}", n.value());
        learners |= uint64_t{1} << (n.value() - 1);
    }
    return config_id_flag | voters | (learners << max_sim_nodes);
}

inline raft_config config_of_id(uint64_t id) {
    WHARF_ASSERT(is_config_id(id), "sim: id {} names no configuration", id);
    raft_config c;
    for (int k = 0; k < max_sim_nodes; ++k) {
        if (id & (uint64_t{1} << k)) c.voters.emplace_back(k + 1);
        if (id & (uint64_t{1} << (k + max_sim_nodes))) c.learners.emplace_back(k + 1);
    }
    return c;
}

// How many voters are in one configuration and not the other (both ways).
inline size_t voters_apart(const raft_config& a, const raft_config& b) {
    size_t apart = 0;
    for (node_id n : a.voters) apart += b.is_voter(n) ? 0 : 1;
    for (node_id n : b.voters) apart += a.is_voter(n) ? 0 : 1;
    return apart;
}

// How many of c's voters `holds` (indexed by node id - 1) says hold something.
template <typename Holds>
size_t voters_holding(const raft_config& c, const Holds& holds) {
    size_t k = 0;
    for (node_id n : c.voters) {
        auto at = static_cast<size_t>(n.value() - 1);
        if (at < holds.size() && holds[at]) ++k;
    }
    return k;
}

inline size_t majority(const raft_config& c) {
    return c.voters.size() / 2 + 1;
}

}  // namespace wharf::sim
