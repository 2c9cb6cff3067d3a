#pragma once

// raft_machine: the raft protocol of one replica of one group, as a deterministic state machine
// without I/O, clocks or coroutines (the shape of etcd's raft package; thesis chapter 3 and
// section 9.6). Its inputs are ticks, messages, local appends and durability notices; its outputs
// are collected in a raft_ready that the driver acts on. The same code runs in the broker
// (raft/consensus.h drives it over the shard log and the RPC transport) and in the
// deterministic simulator (tests/sim), which is how its safety is tested.
//
// What it implements:
//   - elections with randomized timeouts (section 3.4), pre-vote (9.6), check-quorum and leader
//     stickiness (4.2.3: a replica that hears from a leader ignores vote requests for one
//     election timeout, so a flapping or partitioned replica cannot depose a stable leader);
//   - a new leader appends a no-op of its term and commits nothing of earlier terms by counting
//     (section 3.6.2, Figure 3.7);
//   - AppendEntries with pipelining: several requests in flight per follower, bounded by count
//     and bytes; a follower that rejects is probed one request at a time (etcd's probe and
//     replicate states); lost requests are resent after a retransmit timeout;
//   - followers acknowledge only what is durable, so commit = a majority has it on disk;
//   - membership changes one voter at a time, and learners (raft/membership.h): the latest
//     configuration in the log rules from its append on; a leader removed by a change leads
//     until the change commits, then hands over (timeout_now to an up-to-date voter) and steps
//     down; a replica that is not a voter of its configuration never stands for election.
//
// The driver's contract, for each raft_ready taken with take_ready():
//   1. make `vote` durable (term and vote) before anything else of this ready leaves the replica;
//   2. truncate the log after `truncate_after`, then append `entries` in order, and report each
//      durable point with on_durable(index, term);
//   2a. (first of all log changes) when `snapshot` is set, replace the whole log by it (a
//      follower behind its leader's retained log) and report it durable with
//      on_durable(snapshot->index, snapshot->term);
//   3. send `messages`; for each `appends` plan, read the entries from `from` on (up to its
//      bytes budget), send them as an append_request and report what went with on_append_sent
//      (or on_append_unsendable when they cannot be read: behind_log_start when retention
//      removed them, so the follower needs a snapshot); for each `snapshots` plan, send the
//      log's snapshot as an install_snapshot and report it with on_snapshot_sent (or
//      on_snapshot_unsendable).
//   4. when `repaired` is set, remove the durable repair marker (machine_config::repairing).
//   5. when `configs` is set, keep it for the next start (machine_start_state::configs): it is
//      the membership history after this ready's log changes. Its first entry is committed and
//      needs no entry of the log; the others name entries of the log, and a start drops those
//      the log does not hold (index and term), so the driver may persist it before or after
//      the entries it names, but not before the snapshot or truncation of the same ready.
// Readies must be acted on in the order they were taken. The constructor may already leave a
// ready (a vote to persist): the driver takes it before anything else.
//
// Repair after corruption (protocol-aware recovery, Alagappan et al., FAST'18): a replica whose
// recovery cut its log before a damaged entry may have acknowledged entries it no longer holds,
// so a committed entry may now be on fewer than a majority of intact disks. It starts
// repairing: it moves to a new term at once (without voting), grants no vote or pre-vote and
// never campaigns (timeout_now included), but follows leaders and acknowledges what is durable
// as usual. It leaves repair mode as a follower once its durable log holds its commit index C,
// learnt from an accepted append or snapshot of the current leader, and the entry at C is of the
// current term. Why this is safe (as long as the damage is found: raft/README.md says which the
// log cannot tell from a torn write; progress needs a majority of intact replicas):
//   - every acknowledgement it gave before the damage was in a term at most T0, its term at
//     restart. With the new term T0 + 1 it never repairs from a leader of T0, which may count
//     those lost acknowledgements (and would never send below the match they set; its reply
//     deposes such a leader); a leader of a later term tracks only acknowledgements sent after
//     the restart, which are truthful;
//   - every leader elected while it repairs was elected without its vote, so by the usual quorum
//     intersection among the intact replicas it holds every entry committed before its term
//     (leader completeness holds although one copy was lost);
//   - an entry of the current term T at C committed means the leader of T committed its own
//     entry: every entry committed before T lies below C in the leader's log, and log matching
//     puts the same prefix in ours. From then on our log holds everything a quorum counted on
//     us, and the replica votes normally.
// It is live: a leader of the current term appends a no-op of its term first, so its commit
// reaches an entry of its term once a majority is up, and the next append or heartbeat tells
// us. A group of two is the exception to the vote rule: a repairing replica there grants its
// vote to the other voter whatever its log, since every committed entry is on both disks and so
// on the only candidate; refusing would leave the group without a leader for good.
//
// Lives on its group's shard; not thread-safe.

#include <cstdint>
#include <optional>
#include <random>
#include <string>
#include <vector>

#include "raft/membership.h"
#include "raft/messages.h"
#include "raft/term_index.h"
#include "raft/vote_state.h"
#include "reactor/base/ids.h"
#include "reactor/base/result.h"

namespace wharf {

// Deliberate bugs for the simulator's canary (STYLE.md rule 17): the checker must catch each.
// Never set outside tests.
enum class planted_bug : uint8_t {
    none,
    // A follower acknowledges entries before they are durable.
    ack_before_durable,
    // A voter grants its vote whatever the candidate's log.
    vote_ignores_log,
    // A repairing replica votes as if its log were intact.
    repair_votes,
    // A leader accepts membership changes of more than one voter at once (propose_config skips
    // is_single_voter_change), so the old and new majorities need not overlap.
    config_two_voters,
};

struct machine_config {
    node_id self{0};
    // The group's initial membership, which no log entry carries: used until the log (or the
    // start state) holds a configuration. A replica that joins a running group is not among
    // them (it learns the membership from its leader).
    std::vector<node_id> voters;
    std::vector<node_id> learners;
    // An election starts after a random timeout in [election_timeout_ticks, 2 x that).
    int election_timeout_ticks = 10;
    int heartbeat_ticks = 2;
    // A request unanswered for this long is presumed lost: the follower is probed again.
    int retransmit_ticks = 5;
    // Pipelining bounds per follower.
    int max_inflight_appends = 8;
    uint64_t max_inflight_bytes = 32ULL << 20;
    // The bytes one append request may carry (the driver reads up to this much).
    uint64_t max_append_bytes = 1ULL << 20;
    bool pre_vote = true;
    bool check_quorum = true;
    // The driver sends only entries its own log has made durable: plan nothing past the
    // durable index, which would go out as empty requests. (consensus sends its latest entries
    // from memory, durable or not, and leaves this off.)
    bool send_only_durable = false;
    // Leader balancing: a leader hands leadership to this voter whenever it has heard from it
    // during the last election timeout and it holds every committed entry (so leadership goes
    // back after a recovery, once the replica has caught up: appends are refused during a
    // handover, which must therefore be short).
    std::optional<node_id> preferred_leader;
    // Seeds the election timeout randomization (the simulator passes its own).
    uint64_t seed = 0;
    // The replica starts repairing ("Repair after corruption" at the top): its recovery found a
    // damaged entry in the middle of the log and cut the log before it, so entries it once
    // acknowledged may be gone. The driver keeps a durable marker until a ready says
    // `repaired`. REQUIRES: not the only voter of its membership (a group of one has nobody to
    // repair from: its driver must not start repairing).
    bool repairing = false;
    planted_bug bug = planted_bug::none;
};

enum class raft_role : uint8_t { follower, pre_candidate, candidate, leader };

const char* to_string(raft_role r) noexcept;

// What a leader wants sent to one follower: entries from `from` on, after (prev_index,
// prev_term). An empty plan (from > the leader's last index) is a heartbeat.
struct append_plan {
    node_id to{0};
    term_id term{0};
    raft_index prev_index{0};
    term_id prev_term{0};
    raft_index from{0};
    raft_index leader_commit{0};
    uint64_t max_bytes = 0;
};

// What a leader wants sent to a follower behind its log's start: the log's snapshot.
struct snapshot_plan {
    node_id to{0};
    term_id term{0};
    raft_index leader_commit{0};
    // The latest committed membership, sent along (install_snapshot::config).
    config_entry config;
};

// A snapshot a follower takes in place of its whole log.
struct snapshot_install {
    raft_index index{0};
    term_id term{0};
    iobuf data;
    // The membership the leader sent with it (none: the follower kept its own).
    std::optional<config_entry> config;
};

struct raft_ready {
    // Term and vote to make durable first (set when either changed).
    std::optional<vote_state> vote;
    // Log changes, in this order: replace the log by snapshot, cut everything after
    // truncate_after, then append entries.
    std::optional<snapshot_install> snapshot;
    std::optional<raft_index> truncate_after;
    std::vector<raft_entry> entries;
    std::vector<raft_message> messages;
    std::vector<append_plan> appends;
    std::vector<snapshot_plan> snapshots;
    // The replica left repair mode in this ready: the driver removes its repair marker (durably,
    // after this ready's vote and log changes; a crash before that repeats the repair, which is
    // safe).
    bool repaired = false;
    // The membership history changed (driver contract, step 5): oldest first, the first
    // committed, the last the configuration in force.
    std::optional<std::vector<config_entry>> configs;

    bool empty() const noexcept {
        return !vote && !snapshot && !truncate_after && entries.empty() && messages.empty() &&
               appends.empty() && snapshots.empty() && !repaired && !configs;
    }
};

// The replica's durable state at start: the persisted vote, the log's terms (snapshot point,
// runs) up to its last durable entry, and the membership history last handed out in
// raft_ready::configs (empty: machine_config's initial membership).
struct machine_start_state {
    vote_state vote;
    term_index log;
    std::vector<config_entry> configs;
};

class raft_machine {
public:
    raft_machine(machine_config cfg, machine_start_state state);

    // Time: the driver calls tick() every tick period (the unit of every *_ticks setting).
    void tick();
    // A message from a peer (any order, duplicates and stale terms welcome).
    void step(raft_message m);
    // Starts an election now (a group of one elects itself at once).
    void campaign();
    // Leader: the index a new entry of the current term gets. The driver appends the entry to
    // its log with that index and term (and reports durability like any other entry).
    // not_leader when this replica does not lead.
    result<raft_index> propose();
    // Everything up to (index, term) is durable in the local log. Stale notices (for entries
    // since replaced) are recognised by the term and ignored.
    void on_durable(raft_index index, term_id term);
    // A local write failed and the log cut itself back to its last durable entry: forget what
    // it dropped. A leader steps down, since followers may hold entries of its term at those
    // indexes, which must never be reused within the term.
    void on_local_write_failed(raft_index last_kept);
    // The replica cannot write for now (its disk is full): for `ticks` it does not stand for
    // election, neither on its own timeout nor told to by a leader handing over (timeout_now),
    // but still votes. A leader whose disk filled steps down (on_local_write_failed); without
    // this it could win the next election with the same log and fail again, and the others,
    // which can write, would wait. Each call restarts the hold.
    void hold_candidacy(int ticks);
    // The driver learnt that nothing listens at `node`'s address any more (its process is
    // gone: the transport's connection ended and a new one was refused). When `node` is this
    // follower's leader, its lease ends now (pre-votes are granted) and this replica campaigns
    // within a few ticks instead of a whole election timeout: after 1 tick for the voter with
    // the lowest id other than `node`, 3 for the next, and so on, so that the followers of a
    // dead leader do not split the vote. Only timing changes (no safety property rests on it);
    // a wrong report costs one election.
    void peer_unreachable(node_id node);
    // The driver sent the plan's entries up to `last` (inclusive; from - 1 when none), `bytes`
    // of them.
    void on_append_sent(const append_plan& plan, raft_index last, uint64_t bytes);
    // The plan's entries could not be read; behind_log_start: retention removed them, and the
    // follower gets a snapshot instead.
    void on_append_unsendable(const append_plan& plan, bool behind_log_start);
    // The driver sent the log's snapshot, whose point is `index`, for the plan.
    void on_snapshot_sent(const snapshot_plan& plan, raft_index index);
    // The driver could not read the snapshot: tried again at the next heartbeat.
    void on_snapshot_unsendable(const snapshot_plan& plan);

    // Leader: appends a configuration entry that changes the membership to `next`, which is in
    // force from now on (raft/membership.h); returns its index. Errors: not_leader,
    // invalid_configuration (malformed, or more than one voter added or removed),
    // configuration_change_pending (the previous change, or the term's first entry, has not
    // committed yet). `next` equal to the membership in force returns its entry's index.
    result<raft_index> propose_config(raft_config next);
    // The membership in force (the latest in the log), the entry that set it, and whether that
    // entry is committed.
    const raft_config& config() const noexcept { return _configs.back().config; }
    const config_entry& config_entry_in_force() const noexcept { return _configs.back(); }
    bool config_committed() const noexcept { return _configs.back().index <= _commit; }
    // Leader: how far a member's log is known to match this one (its own: the durable index);
    // nullopt when not leading or not a member.
    std::optional<raft_index> match_of(node_id n) const noexcept;
    // Leader: ticks since a member last answered (since it became a member, or this replica
    // leader, when it has not answered since); nullopt when not leading or not a member.
    std::optional<int64_t> ticks_since_heard(node_id n) const noexcept;

    // Leader: hands leadership to `target` (thesis 3.10). The target is brought up to date, then
    // told to campaign at once (timeout_now); its voters grant it within their leases. Given up
    // after an election timeout. The driver refuses new client appends meanwhile
    // (transferring_to()), so the target can catch up. not_leader when not leading,
    // not_a_voter for an unknown target; naming itself is a no-op.
    status transfer_leadership(node_id target);
    std::optional<node_id> transferring_to() const noexcept { return _transfer_to; }
    // Leader balancing's target from now on (machine_config::preferred_leader): the broker a
    // group prefers changes as brokers join and leave and as replicas move.
    void set_preferred_leader(std::optional<node_id> n) noexcept { _cfg.preferred_leader = n; }
    std::optional<node_id> preferred_leader() const noexcept { return _cfg.preferred_leader; }

    // Moves the accumulated outputs out.
    raft_ready take_ready();
    // Whether take_ready() has anything to hand out: proposals made since the last take_ready()
    // count, since their append plans are made there.
    bool has_ready() const noexcept { return !_ready.empty() || _pending_broadcast; }

    raft_role role() const noexcept { return _role; }
    bool is_leader() const noexcept { return _role == raft_role::leader; }
    term_id term() const noexcept { return _vote.term; }
    const vote_state& vote() const noexcept { return _vote; }
    std::optional<node_id> leader() const noexcept { return _leader; }
    node_id self() const noexcept { return _cfg.self; }
    // Committed: on a majority's disks. Entries up to it never change on any replica.
    raft_index commit_index() const noexcept { return _commit; }
    // The leader's commit as clients may see it: only once an entry of its own term has
    // committed (before that the commit index may lag what earlier leaders showed).
    std::optional<raft_index> leader_commit() const noexcept {
        if (!is_leader() || _commit < _term_start) return std::nullopt;
        return _commit;
    }
    // The first index of this leader's term (its no-op).
    raft_index term_start() const noexcept { return _term_start; }
    raft_index durable_index() const noexcept { return _durable; }
    const term_index& log() const noexcept { return _log; }
    // Repairing after corruption (machine_config::repairing): no votes, no candidacy.
    bool repairing() const noexcept { return _repairing; }
    // One line of state for logs and the simulator's failure reports (the leader's view of each
    // follower included).
    std::string describe() const;

private:
    struct inflight {
        raft_index last;
        uint64_t bytes;
        int64_t sent_tick;
    };
    struct progress {
        node_id id{0};
        raft_index next{1};
        raft_index match{0};
        // probe: one request at a time until the follower's position is known; replicate:
        // pipelined.
        bool replicating = false;
        bool plan_out = false;  // a plan handed to the driver, not yet reported sent
        // Its next entry is gone from the leader's log: it gets a snapshot next.
        bool needs_snapshot = false;
        bool active = false;    // heard from since the last check-quorum
        std::vector<inflight> inflights;
        uint64_t inflight_bytes = 0;
        int64_t last_heartbeat_tick = 0;
        int64_t last_heard_tick = 0;  // its last answer, or when it became a peer
    };

    // machine.cc
    void become_follower(term_id term, std::optional<node_id> leader);
    void become_pre_candidate();
    void become_candidate(bool transfer);
    void become_leader();
    void set_vote(vote_state v);
    void reset_election_timer();
    bool in_lease() const noexcept;
    size_t quorum() const noexcept { return config().voters.size() / 2 + 1; }
    bool self_votes() const noexcept { return config().is_voter(_cfg.self); }
    // Membership bookkeeping: a configuration entry appended, the log cut after `last_kept`,
    // the commit index moved (older history dropped; a leader no longer a voter steps down).
    void note_config_entry(const raft_entry& e);
    void drop_configs_after(raft_index last_kept);
    void set_commit(raft_index c);
    // The history changed; `in_force`: the membership in force did.
    void config_changed(bool in_force);
    // Leader: one progress per member but itself, for a new membership.
    void sync_peers();
    void send(node_id to, decltype(raft_message::body) body);
    void append_local(raft_entry e);
    void step_vote_request(node_id from, const vote_request& r);
    void maybe_finish_repair();

    // election.cc
    void handle_vote_request(node_id from, const vote_request& r);
    void handle_vote_reply(node_id from, const vote_reply& r);
    bool log_up_to_date(raft_index last_index, term_id last_term) const noexcept;
    void count_vote(node_id from, bool granted);

    // replication.cc
    void handle_append_request(node_id from, append_request& r);
    void handle_append_reply(node_id from, const append_reply& r);
    void handle_install_snapshot(node_id from, install_snapshot& s);
    void reply_to_leader();
    progress* find_progress(node_id id) noexcept;
    void plan_appends(progress& p, bool heartbeat);
    void plan_snapshot(progress& p);
    void broadcast(bool heartbeat);
    void maybe_commit();
    void check_retransmits();
    void check_quorum_now();
    void maybe_finish_transfer(progress& p);
    void maybe_balance_leadership(bool preferred_alive);
    void maybe_leave_leadership();

    machine_config _cfg;
    std::mt19937_64 _rng;
    raft_ready _ready;
    // The membership history (raft_ready::configs); never empty.
    std::vector<config_entry> _configs;
    vote_state _vote;
    term_index _log;
    raft_role _role = raft_role::follower;
    std::optional<node_id> _leader;
    raft_index _commit{0};
    raft_index _durable{0};
    int64_t _now = 0;
    // hold_candidacy(): no candidacy before this tick.
    int64_t _candidacy_held_until = 0;
    // Repairing after corruption: see the class comment.
    bool _repairing = false;
    // Ticks since the election timer was reset, and its current random timeout.
    int _election_elapsed = 0;
    int _election_timeout = 0;
    int _heartbeat_elapsed = 0;
    // Follower: the highest index known to match the current leader's log (this term).
    raft_index _matched{0};
    raft_index _replied_match{0};
    // Candidate / pre-candidate: votes received.
    std::vector<std::pair<node_id, bool>> _votes;
    // Leader: per-follower progress and the index of the term's no-op.
    std::vector<progress> _peers;
    raft_index _term_start{0};
    // Proposals made since the last take_ready(), not yet planned for the followers.
    bool _pending_broadcast = false;
    // Leader: a leadership transfer in progress (its target, ticks spent, timeout_now sent).
    std::optional<node_id> _transfer_to;
    int _transfer_elapsed = 0;
    bool _timeout_now_sent = false;
};

}  // namespace wharf
