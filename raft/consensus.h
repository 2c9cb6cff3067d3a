#pragma once

// consensus: one shard's raft group (DESIGN.md section 5). The shard's log (log/shard_log.h) is
// its raft log; this class decides terms, leadership and what is committed.
//
// For now a group has one member, the local replica: it elects itself at start and commit
// follows durability. The shape is the multi-member one, so replication extends this class:
//   - term and vote are durable (vote_state.h) before the replica acts in a term;
//   - a new leader appends a no-op of its term, and advances no high watermark before an entry of
//     its own term commits (Raft paper section 5.4.2; thesis section 3.6.2);
//   - Kafka's partition leader epoch is the raft term.
//
// Lives on its shard; created by start(), ended by stop() (which waits for appends in flight).

#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "log/shard_log.h"
#include "raft/vote_state.h"
#include "reactor/base/ids.h"
#include "reactor/base/result.h"
#include "reactor/iobuf.h"
#include "reactor/sync.h"
#include "reactor/task.h"

namespace wharf {

struct group_config {
    node_id self{0};
    // Every voter, self included. REQUIRES (for now): exactly {self}.
    std::vector<node_id> voters;
};

struct consensus_stats {
    uint64_t elections_won = 0;
    uint64_t entries_replicated = 0;
    uint64_t commit_advances = 0;
};

class consensus {
public:
    // Loads the persisted vote and becomes leader of a new term: the term is made durable first,
    // then the no-op of the term is appended and committed.
    static task<result<std::unique_ptr<consensus>>> start(group_config cfg, shard_log& log);
    ~consensus();
    consensus(const consensus&) = delete;
    consensus& operator=(const consensus&) = delete;

    // Leader path of a produce: the log validates, assigns offsets and appends the batch with the
    // current term and leader epoch; returns once the entry is committed.
    task<result<append_result>> replicate_batch(partition_id p, iobuf batch);
    // Any other entry (control entries of retention, DeleteRecords); committed on return.
    task<result<raft_index>> replicate_entry(entry_type type, partition_id p, iobuf payload);

    // Refuses new appends (shutting_down) and waits for those in flight.
    task<void> stop();

    term_id term() const noexcept { return _state.term; }
    bool is_leader() const noexcept { return _leader == _cfg.self && !_stopping; }
    std::optional<node_id> leader() const noexcept { return _leader; }
    // Kafka's partition leader epoch: the term, which start() keeps within int32.
    int32_t leader_epoch() const noexcept { return static_cast<int32_t>(_state.term.value()); }
    // The highest index known committed; entries up to it are visible to consumers.
    raft_index commit_index() const noexcept { return _commit_index; }
    // The partition's high watermark: the offset after its last committed batch. With one
    // member everything durable is committed, so it is the log end offset once this term's
    // no-op has committed.
    result<kafka_offset> high_watermark(partition_id p) const;
    const consensus_stats& stats() const noexcept { return _stats; }

private:
    consensus(group_config cfg, shard_log& log, vote_state state);
    task<status> become_leader();
    status check_can_append() const;
    void advance_commit(raft_index durable);

    group_config _cfg;
    shard_log& _log;
    std::string _dir;
    vote_state _state;
    std::optional<node_id> _leader;
    raft_index _commit_index{0};
    // The first index of the current term (its no-op): the commit index may only move onto
    // entries of the current term once this one is committed.
    raft_index _term_start{0};
    bool _stopping = false;
    gate _gate;
    consensus_stats _stats;
};

}  // namespace wharf
