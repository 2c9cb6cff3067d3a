#pragma once

// The invariants of raft, checked on the simulated world after every step (Raft paper Figure 3;
// DESIGN.md section 9). Each check is O(replicas) per step, or O(changed entries): log
// matching keeps, for every (index, term) ever appended anywhere, the hash of the log prefix it
// ends, so the property is checked over the whole history, not only between live logs.
//
//   - election safety: at most one leader per term;
//   - snapshots: a replica's snapshot point (compacted or installed, in its log or on its disk)
//     covers only committed entries and is the committed log's entry at its index (index, term
//     and the state it stands for);
//   - log matching: an (index, term) names one entry and one prefix, on every replica, ever (a
//     compacted log's entries continue the committed prefix its snapshot point ends);
//   - leader completeness: a new leader holds every entry committed before it (or a snapshot
//     past it);
//   - state machine safety: every replica's committed prefix is the one committed log;
//   - durability: the last committed entry is on the disks of a majority of the voters of the
//     configuration it was committed under (as an entry or under a snapshot point, so no crash
//     loses it): the latest committed configuration, or the one-voter change from it that the
//     leader counted with, whose entry follows (check_durability says why that is the
//     invariant); a copy a bit flip destroyed counts for the one damaged replica until it has
//     repaired, since the others must then hold the rest;
//   - membership: every replica uses the latest configuration its log holds (its last
//     configuration entry, or a committed one: under its snapshot point, or the committed base
//     its history starts from), and two configurations committed one after the other differ
//     by at most one voter;
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
    // `initial`: the membership every replica starts with (machine_config::voters).
    sim_checker(size_t nodes, raft_config initial);

    // The first violation after this step, if any.
    std::optional<std::string> check(sim_world& w);
    // After the liveness phase: every acknowledged proposal is committed where it was placed.
    std::optional<std::string> check_acknowledged(const sim_world& w) const;

    const std::vector<sim_entry>& committed() const noexcept { return _committed; }
    // Committed configuration entries (membership changes) seen so far.
    size_t configs_committed() const noexcept { return _committed_configs.size(); }

private:
    struct replica_seen {
        uint64_t incarnation = UINT64_MAX;
        raft_index commit{0};
        // The snapshot point the hashes below start after, and the hash of the prefix it ends.
        sim_entry snapshot;
        uint64_t snapshot_hash = 0;
        // prefix_hash[k]: the hash of the log's prefix ending at snapshot.index + 1 + k.
        std::vector<uint64_t> prefix_hash;
        term_id led_term{0};
        raft_index visible{0};
    };

    std::optional<std::string> check_snapshot(const sim_world::node& n) const;
    std::optional<std::string> check_log_matching(sim_world::node& n, replica_seen& seen);
    std::optional<std::string> check_commit(const sim_world::node& n, replica_seen& seen);
    std::optional<std::string> check_leader(const sim_world::node& n, replica_seen& seen);
    std::optional<std::string> check_membership(const sim_world::node& n) const;
    std::optional<std::string> check_durability(const sim_world& w) const;
    std::optional<std::string> add_committed(const sim_entry& e);
    // The latest committed configuration at or below index i (the initial one when none is).
    const sim_entry* committed_config_at(raft_index i) const;
    raft_config committed_config() const;

    std::vector<replica_seen> _seen;
    std::map<term_id, int> _leader_of_term;
    // The largest commit any leader showed clients, per term.
    std::map<term_id, raft_index> _visible_by_term;
    std::unordered_map<uint64_t, uint64_t> _prefix_of_entry;
    std::vector<sim_entry> _committed;
    // _committed_hash[i]: the prefix hash of _committed up to index i + 1 (where a compacted
    // log's hashes start).
    std::vector<uint64_t> _committed_hash;
    raft_config _initial;
    // The indexes of committed configuration entries, ascending.
    std::vector<raft_index> _committed_configs;
    // The configuration the leader that committed the last committed entry counted with, when
    // it was a later one than the committed configuration (its entry follows): see
    // check_durability.
    std::optional<raft_config> _counted_with;
};

}  // namespace wharf::sim
