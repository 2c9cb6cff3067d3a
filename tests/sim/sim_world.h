#pragma once

// The simulated world of one seed (DESIGN.md section 9, STYLE.md rules 16-17): N replicas of one
// raft group running the real raft_machine, each over a simulated disk, connected by a simulated
// network, in virtual time with a 1 ms step. Everything random comes from one generator seeded
// by the seed, so a seed replays exactly.
//
//   - Disk: the driver's log changes (snapshot installs, truncations, appends) are pending until
//     a sync, which completes after a random delay; a crash keeps a random prefix of the pending
//     changes (a torn write loses the entry it tore, as the real log's checksums make it; an
//     install is all or nothing, as the real log's marker file makes it). The term and vote are
//     durable before the ready's messages leave, as the driver contract requires.
//   - Bit flips: on seeds that draw a rate, a crash may damage one durable entry of the crashed
//     replica (anywhere after its snapshot point). Its recovery finds it at the next start, cuts
//     the log before it and, with a durable marker, restarts the machine repairing
//     (machine_config::repairing) until a ready says `repaired`. At most one replica of the
//     group is damaged at a time: protocol-aware recovery needs the others intact.
//   - Compaction (the model of retention): now and then a replica drops a prefix of its log up
//     to an index it knows committed and durable, at once on its disk too, keeping the snapshot
//     point (sim_log.h). A leader whose plan asks for entries gone that way reports them
//     unsendable (behind the log's start) and sends its snapshot point as an install_snapshot
//     when the machine plans one; a follower installs it like any other log change.
//   - Network: every message takes a random delay (so messages reorder), may be dropped or
//     duplicated, and is lost on links the current partition cuts or to a crashed replica.
//   - Clients propose entries to whichever replicas think they lead; a proposal is
//     acknowledged when its leader reports it committed in the term it was proposed in.
//   - Membership changes (sim_membership.cc): on seeds that draw a rate, the pool of replicas
//     may be larger than the initial voters (the others start as non-members with empty logs),
//     and an operator asks whoever leads to add a non-member as a learner, promote a learner
//     that has caught up, demote or remove a voter (the leader itself too) or remove a learner;
//     a removed replica may be added again later, its stale log and all. The membership history
//     each ready hands out (raft_ready::configs) is durable in order with the log changes:
//     after the ready's snapshot and truncation, before its entries; an install carries it, all
//     or nothing (raft/config_state.h does the same on real disks).
//
// The checker (sim_checker.h) looks at the world after every step.

#include <cstdint>
#include <memory>
#include <optional>
#include <random>
#include <string>
#include <vector>

#include "raft/machine.h"
#include "tests/sim/sim_log.h"

namespace wharf::sim {

// Deliberate bugs in the simulator's driver, for canaries of the snapshot checks (the machine's
// own are raft/machine.h's planted_bug). Never set outside the canaries.
enum class driver_bug : uint8_t {
    none,
    // A leader's install_snapshot names its current term instead of the snapshot point's term.
    snapshot_wrong_term,
    // The membership history a ready hands out is made durable after the ready's entries (the
    // order raft/machine.h's contract, step 5, still allows) instead of before them.
    configs_after_entries,
};

// Fault rates and timing drawn once per seed.
struct world_params {
    // The pool of replicas, and how many of them (the first) are the initial voters; the
    // others start outside the group. Equal unless membership changes are drawn.
    int nodes = 3;
    int voters = 3;
    double drop = 0;           // probability a message is lost
    double duplicate = 0;      // probability a message is delivered twice
    int max_delay_ms = 5;      // delivery takes 1..max_delay_ms
    int max_sync_ms = 5;       // a sync completes 1..max_sync_ms after it starts
    double crash_per_ms = 0;   // probability per ms that some live replica crashes
    double partition_per_ms = 0;
    double propose_per_ms = 0.2;
    int tick_ms = 10;
    // Leader balancing: the replica every group prefers as leader (-1: none), and how often a
    // leader is asked to hand leadership to a random replica.
    int preferred = -1;
    double transfer_per_ms = 0;
    // The driver sends only durable entries (as the broker's consensus does).
    bool send_only_durable = false;
    // Probability per ms that some replica compacts its log (0: never, the old behaviour).
    double compact_per_ms = 0;
    // Probability that a crash damages one durable entry of the crashed replica (0: never).
    double flip_per_crash = 0;
    // Probability per ms that an operator asks the leader for a membership change (0: never).
    double churn_per_ms = 0;
    int safety_ms = 20000;
    int liveness_ms = 20000;
    planted_bug bug = planted_bug::none;
    driver_bug driver = driver_bug::none;
};

// What happened to snapshots in one world (printed per run, so one can see they happen).
struct world_stats {
    uint64_t compactions = 0;
    // install_snapshot messages a leader's driver sent, and plans it could not serve (no
    // snapshot point yet).
    uint64_t snapshots_sent = 0;
    uint64_t snapshots_unsendable = 0;
    // Snapshots a follower's driver took in place of its log, and how many of them reached its
    // disk (a crash may lose an install not yet synced).
    uint64_t snapshots_installed = 0;
    uint64_t installs_durable = 0;
    // Bit flips: entries damaged at a crash, recoveries that found one (cut the log and started a
    // repair), and repairs finished (a ready said `repaired`).
    uint64_t flips = 0;
    uint64_t repairs_started = 0;
    uint64_t repairs_done = 0;
    // Membership changes the leader accepted (propose_config), and how many of them removed
    // (or demoted) the leader itself. How many committed, the checker says.
    uint64_t configs_proposed = 0;
    uint64_t leader_removals = 0;

    world_stats& operator+=(const world_stats& o) {
        compactions += o.compactions;
        snapshots_sent += o.snapshots_sent;
        snapshots_unsendable += o.snapshots_unsendable;
        snapshots_installed += o.snapshots_installed;
        installs_durable += o.installs_durable;
        flips += o.flips;
        repairs_started += o.repairs_started;
        repairs_done += o.repairs_done;
        configs_proposed += o.configs_proposed;
        leader_removals += o.leader_removals;
        return *this;
    }
};

std::string describe(const raft_message& m);
world_params draw_params(uint64_t seed, int nodes_override, planted_bug bug, driver_bug driver);
std::string describe(const world_params& p);

struct proposal {
    uint64_t id = 0;
    int node = 0;
    uint64_t incarnation = 0;
    term_id term{0};
    raft_index index{0};
    bool acked = false;
};

// A membership change a leader accepted: its entry, and whether it took the leader out of the
// voters.
struct config_change {
    raft_index index{0};
    term_id term{0};
    bool removes_leader = false;
};

class sim_world {
public:
    struct node {
        int number = 0;
        bool up = true;
        uint64_t incarnation = 0;
        int tick_phase = 0;
        int64_t down_until = 0;
        // Disk: what survives a crash, and what is waiting for a sync.
        vote_state durable_vote;
        sim_log durable_log;
        // The membership history last made durable (empty: the initial membership), which
        // the machine starts from (machine_start_state::configs).
        std::vector<config_entry> durable_configs;
        struct pending_op {
            enum class kind : uint8_t { append, truncate, install, configs };
            kind what = kind::append;
            // append: the entry; install: the snapshot point; truncate: cut after entry.index.
            sim_entry entry;
            // The membership history a ready handed out, made durable with this change: before
            // an append, after an install or a truncation (or alone: kind configs).
            std::optional<std::vector<config_entry>> configs;
        };
        std::vector<pending_op> pending;
        // A damaged entry of the disk (a bit flip at the last crash), found by recovery at the
        // next start; 0 when none.
        raft_index damaged{0};
        // The durable repair marker: set by the recovery that cut the log before a damaged
        // entry, removed when a ready says `repaired`. The machine starts repairing while set.
        bool repair_marker = false;
        // The entries that recovery cut, until the repair ends: copies the protocol counted on
        // (this replica may have acknowledged them) that the flip destroyed. The durability check
        // still counts them, for this replica only; the repair's safety argument is that no
        // leader is elected, nor the replica repaired, without them (raft/machine.h).
        std::vector<sim_entry> lost;
        int64_t sync_at = -1;
        size_t syncing = 0;  // how many pending ops the sync in flight covers
        // What the replica's log holds now (durable or not).
        sim_log log;
        // The lowest index of `log` changed since the checker last looked (its snapshot point
        // the checker compares itself).
        raft_index changed_from{0};
        std::unique_ptr<raft_machine> machine;
    };

    sim_world(uint64_t seed, world_params params);

    // One millisecond of virtual time. `faults`: the safety phase's crashes and partitions.
    void step(bool faults);
    // Ends the faults: every replica up, every link healed, no more loss, no more random
    // proposals.
    void heal();

    int64_t now_ms() const noexcept { return _now; }
    const std::vector<node>& nodes() const noexcept { return _nodes; }
    std::vector<node>& nodes() noexcept { return _nodes; }
    const std::vector<proposal>& proposals() const noexcept { return _proposals; }
    const std::vector<config_change>& config_changes() const noexcept { return _changes; }
    // The group's initial membership (params().voters of the pool).
    raft_config initial_config() const;
    const world_params& params() const noexcept { return _p; }
    const world_stats& stats() const noexcept { return _stats; }
    std::mt19937_64& rng() noexcept { return _rng; }
    // Prints every delivered message, compaction and install (raft_sim --trace).
    bool trace = false;
    // Set after each crash (the checker verifies durability right then); cleared by the caller.
    bool crashed_this_step = false;
    // Proposes one entry now on a replica that leads, if any (liveness phase).
    bool propose_once();

private:
    struct in_flight {
        int64_t deliver_at;
        uint64_t seq;
        raft_message msg;
    };

    node_id id_of(int n) const { return node_id(n + 1); }
    using configs_op = std::optional<std::vector<config_entry>>;
    void start_machine(node& n);
    void crash(node& n);
    // sim_disk.cc: the disk model, compaction and the snapshot side of the driver.
    void apply_to_disk(node& n, const node::pending_op& op);
    void maybe_flip(node& n);
    void recover(node& n);
    void on_repaired(node& n);
    void sync_disks();
    void maybe_compact();
    void install(node& n, const snapshot_install& snap, configs_op configs);
    void send_snapshot(node& n, const snapshot_plan& plan);
    // sim_membership.cc: the operator's changes, and the membership a start would find.
    void maybe_change_membership();
    bool propose_change(node& leader, raft_config next, bool removes_leader);
    raft_config start_config(const node& n, raft_index cut) const;
    // How many of c's voters are intact (no damage found or waiting to be found, no repair
    // under way), `also_damaged` counted as damaged; whether a flip of n cutting after `cut`
    // keeps the premise of repair (sim_membership.cc).
    size_t intact_voters(const raft_config& c, const node* also_damaged) const;
    bool flip_allowed(const node& n, raft_index cut) const;
    // sim_world.cc
    void drive(node& n);
    void send_append(node& n, const append_plan& plan);
    void deliver_due();
    void send(raft_message m);
    void maybe_fault();
    void maybe_propose();
    void settle_acks();
    bool link_up(int from, int to) const;
    bool chance(double p);
    int uniform(int lo, int hi);

    uint64_t _seed;
    world_params _p;
    std::mt19937_64 _rng;
    int64_t _now = 0;
    std::vector<node> _nodes;
    std::vector<in_flight> _network;
    uint64_t _next_seq = 0;
    // _cut[a][b]: messages from a to b are lost.
    std::vector<std::vector<bool>> _cut;
    std::vector<proposal> _proposals;
    std::vector<config_change> _changes;
    // Proposals that may still be acknowledged (indexes into _proposals).
    std::vector<size_t> _open;
    uint64_t _next_id = 1;
    bool _lossy = true;
    world_stats _stats;
};

}  // namespace wharf::sim
