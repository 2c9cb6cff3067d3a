#pragma once

// The invariants of raft, checked on the simulated world after every step (Raft paper Figure 3;
// DESIGN.md section 9). Each check is O(replicas) per step, or O(changed entries): log
// matching keeps, for every (index, term) ever appended anywhere, the hash of the log prefix it
// ends, so the property is checked over the whole history, not only between live logs.
//
//   - election safety: at most one leader per term;
//   - log matching: an (index, term) names one entry and one prefix, on every replica, ever;
//   - leader completeness: a new leader holds every entry committed before it;
//   - state machine safety: every replica's committed prefix is the one committed log;
//   - durability: the last committed entry is on the disk of a quorum (so no crash loses it);
//   - commit indexes never go back within a replica's life, and the commit a leader shows to
//     clients is never below what leaders of earlier terms showed;
//   - at the end: every acknowledged proposal is in the committed log where it was assigned.

#include <cstdint>
#include <map>
#include <optional>
#include <string>
#include <unordered_map>
#include <vector>

#include "tests/sim/sim_world.h"

namespace wharf::sim {

class sim_checker {
public:
    explicit sim_checker(size_t nodes);

    // The first violation after this step, if any.
    std::optional<std::string> check(sim_world& w);
    // After the liveness phase: every acknowledged proposal is committed where it was placed.
    std::optional<std::string> check_acknowledged(const sim_world& w) const;

    const std::vector<sim_entry>& committed() const noexcept { return _committed; }

private:
    struct replica_seen {
        uint64_t incarnation = UINT64_MAX;
        raft_index commit{0};
        std::vector<uint64_t> prefix_hash;
        term_id led_term{0};
        raft_index visible{0};
    };

    std::optional<std::string> check_log_matching(sim_world::node& n, replica_seen& seen);
    std::optional<std::string> check_commit(const sim_world::node& n, replica_seen& seen);
    std::optional<std::string> check_leader(const sim_world::node& n, replica_seen& seen);
    std::optional<std::string> check_durability(const sim_world& w) const;

    std::vector<replica_seen> _seen;
    std::map<term_id, int> _leader_of_term;
    // The largest commit any leader showed clients, per term.
    std::map<term_id, raft_index> _visible_by_term;
    std::unordered_map<uint64_t, uint64_t> _prefix_of_entry;
    std::vector<sim_entry> _committed;
};

}  // namespace wharf::sim
