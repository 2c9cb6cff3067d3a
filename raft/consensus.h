#pragma once

// consensus: one shard's raft group (DESIGN.md section 5), the driver of raft_machine
// (machine.h) over the shard's log (log/shard_log.h, which is the raft log) and a transport to
// the same shard of the peer brokers (transport.h).
//
// The machine decides; this class acts, following the machine's driver contract:
//   - term and vote are made durable (vote_state.h) before anything of the same ready leaves;
//   - log changes (truncations, then appends of followers' entries and the leader's no-op) are
//     applied in order; the log tells the machine what is durable (log_observer.h), and every
//     entry appended by anyone (produce, retention, DeleteRecords) becomes a raft entry through
//     the same observer;
//   - messages go to the transport; append plans are read from the log and sent.
//   - snapshots: a follower whose next entry retention removed from the leader's log gets the
//     log's snapshot (shard_log::read_snapshot, the prefix checkpoint) and replaces its whole
//     log by it (shard_log::install_snapshot) before it takes entries again.
// Readies are acted on one after the other by one coroutine, so their order holds.
//
// A group of one (no transport) elects itself at start, and its commit follows durability: the
// single broker of `make run`. A leader's appends are acknowledged (acks=all) once committed;
// a partition's high watermark is the end of its batches up to the commit index, and a new
// leader shows none until an entry of its own term has committed (section 3.6.2).
//
// Lives on its shard; created by start(), ended by stop() (which waits for appends in flight).

#include <chrono>
#include <coroutine>
#include <deque>
#include <map>
#include <memory>
#include <optional>
#include <string>
#include <unordered_map>
#include <vector>

#include "log/log_observer.h"
#include "log/shard_log.h"
#include "raft/config_state.h"
#include "raft/machine.h"
#include "raft/transport.h"
#include "raft/vote_state.h"
#include "reactor/base/ids.h"
#include "reactor/base/result.h"
#include "reactor/iobuf.h"
#include "reactor/sync.h"
#include "reactor/task.h"

namespace wharf {

struct group_config {
    node_id self{0};
    // Which of its shard's groups this is: stamped on every message it sends, so that the
    // receiving shard hands the message to the same group (raft_message::group).
    raft_group_id group{0};
    // The group's initial membership (machine_config::voters): once a membership change has
    // been made, the replica's persisted history rules (config_state.h).
    std::vector<node_id> voters;
    std::vector<node_id> learners;
    // The period of raft's clock; the *_ticks settings count it. Defaults: heartbeats every
    // 100 ms, elections after 0.5-1 s without a leader.
    std::chrono::milliseconds tick{50};
    int election_timeout_ticks = 10;
    int heartbeat_ticks = 2;
    // Seeds the election timeouts; 0 draws one from the node id and the clock.
    uint64_t seed = 0;
    // Leader balancing (machine_config::preferred_leader).
    std::optional<node_id> preferred_leader;
    // A leader keeps its latest entries in memory (shared payloads, no copy) up to this many
    // payload bytes, and sends them from there: followers that keep up never cost a disk read,
    // and entries go out while the leader's own write is in flight (thesis 10.2.1). Older
    // entries are read back from the log.
    uint64_t recent_entries_bytes = 64ULL << 20;
};

struct consensus_stats {
    uint64_t elections_won = 0;
    uint64_t entries_replicated = 0;
    uint64_t commit_advances = 0;
    uint64_t messages_sent = 0;
    uint64_t messages_received = 0;
    uint64_t vote_writes = 0;
    uint64_t snapshots_sent = 0;
    uint64_t snapshots_installed = 0;
    uint64_t config_writes = 0;
};

class consensus final : private log_observer {
public:
    // Loads the persisted vote and the log's terms and starts the machine. A group of one
    // elects itself and returns once the no-op of its new term is committed; a group of several
    // returns at once (its elections run on the clock) and needs `transport`.
    static task<result<std::unique_ptr<consensus>>> start(group_config cfg, shard_log& log,
                                                          raft_transport* transport = nullptr);
    ~consensus() override;
    consensus(const consensus&) = delete;
    consensus& operator=(const consensus&) = delete;

    // How long replicate_batch waits: until the entry is committed (acks=all), or only until
    // the leader's own append is durable (acks=1 and acks=0; the entry commits later, or is lost
    // with this leader, and consumers see it only once committed either way).
    enum class await_until { committed, locally_durable };

    // Leader path of a produce: the log validates, assigns offsets and appends the batch with the
    // current term and leader epoch; returns once the entry is committed (or durable here).
    task<result<append_result>> replicate_batch(partition_id p, iobuf batch,
                                                await_until until = await_until::committed);
    // Any other entry (control entries of retention, DeleteRecords); committed on return.
    task<result<raft_index>> replicate_entry(entry_type type, partition_id p, iobuf payload);

    // Waits until the entry at `index`, appended in `term`, is committed; an error when it
    // never will be here (a new leader replaced it, or the group stops).
    task<status> committed(raft_index index, term_id term);
    // The voters of the membership in force.
    std::size_t voter_count() const noexcept { return _machine->config().voters.size(); }

    // Leader: changes the group's membership to `next` (one voter added or removed, learners
    // freely: raft/membership.h) and returns once the change has committed. Errors as
    // raft_machine::propose_config, and as committed() when leadership moves meanwhile
    // (outcome_unknown: the change may still commit).
    task<status> change_membership(raft_config next);
    // The membership in force (the latest in the log, committed or not).
    const raft_config& membership() const noexcept { return _machine->config(); }
    // Leader: how far a member's log matches this one (raft_machine::match_of).
    std::optional<raft_index> match_of(node_id n) const noexcept {
        return _machine->match_of(n);
    }
    // Leader: how long since a member last answered (raft_machine::ticks_since_heard).
    std::optional<std::chrono::milliseconds> silent_for(node_id n) const noexcept {
        auto ticks = _machine->ticks_since_heard(n);
        if (!ticks) return std::nullopt;
        return _cfg.tick * *ticks;
    }

    // For code that appends to the log itself (retention, set_start_offset): returns the term
    // to append with once this replica may append (it leads, and its log holds every entry raft
    // handed out), or not_leader. The append must follow without a suspension in between.
    task<result<term_id>> ready_to_append();
    // For code that rebuilds leader state from the log (producer state, groups): as
    // ready_to_append, and then until every entry raft has handed out is durable in the log, so
    // that reads (which see durable entries only) see all of them. not_leader when the term
    // ends meanwhile.
    task<result<term_id>> ready_to_read_everything();

    // Hands leadership to another voter (raft_machine::transfer_leadership); new appends are
    // refused with not_leader until it is done or given up.
    status transfer_leadership(node_id target);
    // Leader balancing's target from now on (raft_machine::set_preferred_leader).
    void set_preferred_leader(std::optional<node_id> n) noexcept {
        _machine->set_preferred_leader(n);
    }

    // A message from a peer (the transport calls this on the group's shard).
    void receive(raft_message m);
    // The transport found nothing listening at `node`'s address any more
    // (raft_machine::peer_unreachable: a follower of that node campaigns at once).
    void peer_unreachable(node_id node);

    // Refuses new appends (shutting_down) and waits for those in flight.
    task<void> stop();

    // Whether an append now would be taken: not_leader while not leading or handing leadership
    // over, shutting_down, or the error that stopped the group. A caller that checks something
    // against the leader's state (a producer's sequences) asks this first: a replica that has
    // lost leadership answers from a state that is no longer the partition's.
    status check_can_append() const;
    term_id term() const noexcept { return _machine->term(); }
    bool is_leader() const noexcept {
        return _machine->is_leader() && !_stopping && !_failed;
    }
    std::optional<node_id> leader() const noexcept { return _machine->leader(); }
    // Kafka's partition leader epoch: the term, which start() keeps within int32.
    int32_t leader_epoch() const noexcept { return static_cast<int32_t>(term().value()); }
    // The highest index known committed; entries up to it are visible to consumers.
    raft_index commit_index() const noexcept { return _machine->commit_index(); }
    // The partition's high watermark: the offset after its last committed batch.
    result<kafka_offset> high_watermark(partition_id p) const;
    const consensus_stats& stats() const noexcept { return _stats; }
    const raft_machine& machine() const noexcept { return *_machine; }

private:
    struct commit_waiter {
        raft_index index;
        term_id term;
        std::coroutine_handle<> handle;
        std::optional<status> outcome;
    };
    struct uncommitted_batch {
        raft_index index;
        partition_id partition;
        kafka_offset end;
    };

    consensus(group_config cfg, shard_log& log, raft_transport* transport);
    // log_observer
    void on_assigned(const assigned_entry& e) override;
    void on_durable(raft_index index, term_id term) override;
    void on_rolled_back(raft_index last_kept, std::error_code why) override;

    // Moves the machine's outputs to the ready queue, advances high watermarks and wakes
    // commit waiters. Never suspends.
    void pump();
    task<void> pump_soon(gate::holder hold);
    task<void> act_on_readies(gate::holder);
    task<status> act(raft_ready r);
    task<void> append_machine_entry(raft_entry e, gate::holder);
    task<status> await_caught_up();
    task<void> send_append(append_plan plan, gate::holder);
    task<void> send_snapshot(snapshot_plan plan, gate::holder);
    task<status> install(snapshot_install snap);
    // Makes _config_state durable.
    task<status> save_members();
    task<void> clock(gate::holder);
    task<status> wait_committed(raft_index index, term_id term);
    void settle_waiters();
    // Settles w when its outcome is known now (and resumes it if it waits); false otherwise.
    bool settle(commit_waiter& w);
    void advance_high_watermarks();
    void fail(status why);
    void keep_recent(const assigned_entry& e);
    void forget_recent_after(raft_index last_kept);
    // The plan's entries from memory, or nullopt when they are older than what is kept.
    std::optional<std::vector<raft_entry>> recent_entries(const append_plan& plan) const;

    group_config _cfg;
    shard_log& _log;
    std::string _dir;
    raft_transport* _transport;
    std::unique_ptr<raft_machine> _machine;
    std::deque<raft_ready> _readies;
    bool _acting = false;
    bool _pump_soon = false;
    // Set when the log holds every entry the machine has (no ready entries still to append):
    // only then may the leader append, so the log and the machine assign the same indexes.
    event _caught_up;
    event _committed;
    // Notified when the log reports a durable point (ready_to_read_everything waits on it).
    event _durable;
    // By index; _waiters_term is the term whose leadership they were last all checked in.
    std::multimap<raft_index, commit_waiter*> _waiters;
    term_id _waiters_term{-1};
    // Batches appended but not yet committed, in raft index order, and the committed end offset
    // of each partition (the high watermark).
    std::deque<uncommitted_batch> _uncommitted;
    std::unordered_map<partition_id, kafka_offset> _committed_end;
    // The log's last index at start, and the end offsets it held then of the partitions
    // appended to since: those count once the recovered index is committed.
    raft_index _recovered_index{0};
    std::unordered_map<partition_id, kafka_offset> _recovered_end;
    term_id _led_term{0};
    raft_index _last_commit{0};
    // The leader's latest entries (recent_entries_bytes), contiguous up to its last index.
    std::deque<raft_entry> _recent;
    uint64_t _recent_bytes = 0;
    // The membership history, made durable by save_members (config_state.h).
    config_state _config_state;
    std::optional<status> _failed;
    bool _stopping = false;
    gate _gate;
    consensus_stats _stats;
};

}  // namespace wharf
