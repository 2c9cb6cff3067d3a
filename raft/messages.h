#pragma once

// The messages raft replicas exchange (Raft paper Figure 2; thesis sections 3.4, 3.5, 4.2.3,
// 9.6). They are plain values: raft_machine (machine.h) consumes and produces them without any
// I/O, the transport (net/rpc) carries them between brokers, and the simulator (tests/sim)
// delivers them through a faulty simulated network.
//
// Heartbeats are append requests without entries. Pre-votes (thesis 9.6) use the vote messages
// with `pre_vote` set: a pre-vote changes no term and no vote.

#include <cstdint>
#include <optional>
#include <variant>
#include <vector>

#include "log/entry.h"
#include "raft/membership.h"
#include "reactor/base/ids.h"
#include "reactor/iobuf.h"

namespace wharf {

// One log entry as it travels from a leader to its followers: the bytes the follower appends
// are the leader's (a data entry's batch already carries its Kafka offsets and leader epoch).
struct raft_entry {
    raft_index index{0};
    term_id term{0};
    entry_type type = entry_type::raft_noop;
    partition_id partition{0};
    iobuf payload;

    // A second reference to the same bytes (iobuf copies are explicit).
    raft_entry share() const {
        return {index, term, type, partition, payload.share(0, payload.size())};
    }
};

struct vote_request {
    // The term the candidate asks for (for a pre-vote: the term it would campaign in).
    term_id term{0};
    raft_index last_index{0};
    term_id last_term{0};
    bool pre_vote = false;
    // Set by a leader handing leadership over (timeout_now): voters that still hear from the
    // old leader grant it anyway (thesis 3.10).
    bool leadership_transfer = false;
};

struct vote_reply {
    // The voter's term; for a granted pre-vote, the term of the request.
    term_id term{0};
    bool granted = false;
    bool pre_vote = false;
};

struct append_request {
    term_id term{0};
    // The entry just before `entries` (0/0 before the first entry of the log).
    raft_index prev_index{0};
    term_id prev_term{0};
    raft_index leader_commit{0};
    std::vector<raft_entry> entries;
};

struct append_reply {
    term_id term{0};
    bool success = false;
    // On success: the follower's log matches the leader's, durably, up to this index.
    raft_index match_index{0};
    // On rejection: the follower's last index, so the leader can jump back (thesis 3.5's
    // optimisation), bounded below by the rejected prev_index - 1 on the leader's side.
    raft_index last_index{0};
};

// A leader tells the replica it hands leadership to (thesis 3.10) to campaign at once.
struct timeout_now {
    term_id term{0};
};

// A leader sends a follower whose next entry its log no longer holds (retention removed it) the
// state of the log at its snapshot point (thesis chapter 5, InstallSnapshot): `data` is the
// shard log's prefix checkpoint, every partition's start and next offset as of `last_index`. The
// follower replaces its log by it, then takes entries from last_index + 1 on as usual, and
// answers with an append_reply (match_index = last_index once the snapshot is durable).
// `config` is the leader's latest committed membership (membership.h), which the follower's log
// may no longer hold once the snapshot replaces it; it may be newer than the snapshot point (the
// entry that set it then follows in later appends). Only tests leave it out.
struct install_snapshot {
    term_id term{0};
    raft_index last_index{0};
    term_id last_term{0};
    raft_index leader_commit{0};
    iobuf data;
    std::optional<config_entry> config;
};

struct raft_message {
    node_id from{0};
    node_id to{0};
    std::variant<vote_request, vote_reply, append_request, append_reply, timeout_now,
                 install_snapshot>
        body;
    // The sender's and receiver's group on their shard (consensus stamps its own).
    raft_group_id group{0};

    term_id term() const noexcept {
        return std::visit([](const auto& b) { return b.term; }, body);
    }
};

}  // namespace wharf
