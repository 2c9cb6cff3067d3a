#pragma once

// Group membership follows the cluster's brokers (DESIGN.md section 5; raft/membership.h): group
// 0 of every shard spans the replica set the controller's table names (the seeds and the
// registered brokers, less the decommissioned ones: topic_table_snapshot::replica_set), a group
// of a fixed replica set the replicas the table names for it (topic_table_snapshot::groups; a
// decommission moves them first). The leader of each group moves its membership there one raft
// change at a time:
//   1. decommissioned learners go (they count for nothing, so all at once);
//   2. brokers wanted and not members join as learners (all at once);
//   3. a learner that has caught up is promoted to voter (one per change);
//   4. a decommissioned voter is removed (one per change), other voters before the leader
//      itself (a leader that removes itself hands leadership over when the change commits);
//      never the last voter.
// Only decommissioned brokers are removed, never one merely missing from the replica set: the
// leader's table may lag the controller's (a restarted broker still catching up with the
// metadata log), and registrations and decommissions are both for good, so a lagging table can
// delay a change but never undo one.
// Promotions go before removals, so a decommission never lowers the replica count on the way,
// unless a learner stopped answering (membership_learner_silence): a broker that died while
// joining would otherwise block every decommission for good.
// Nothing is proposed while the previous change is uncommitted.
//
// next_membership_step is the rule; each shard's loop (core/shard_services.cc) applies it every
// membership_check_interval while its group leads.

#include <chrono>
#include <cstdint>
#include <functional>
#include <optional>
#include <vector>

#include "raft/membership.h"
#include "reactor/base/ids.h"

namespace wharf {

// A learner is promoted once it has acknowledged an entry and its log is within this many
// entries of the leader's last.
inline constexpr int64_t membership_catch_up_entries = 64;
inline constexpr std::chrono::milliseconds membership_check_interval{200};
// A learner that has not answered the leader for this long (a broker that died while joining)
// no longer holds back removals, which would otherwise wait for it forever.
inline constexpr std::chrono::milliseconds membership_learner_silence{10'000};

struct membership_facts {
    raft_config current;
    // Whether `current` is committed (otherwise nothing is proposed).
    bool committed = false;
    node_id self{0};
    raft_index leader_last{0};
    // How far a member's log matches the leader's (raft_machine::match_of).
    std::function<std::optional<raft_index>(node_id)> match_of;
    // How long since a member last answered the leader (consensus::silent_for); when absent or
    // unknown, a learner counts as answering.
    std::function<std::optional<std::chrono::milliseconds>(node_id)> silent_for;
};

// Whether learner `n` holds back removals: it answers the leader, so it is catching up.
bool learner_answering(const membership_facts& f, node_id n);

// The next membership the leader should propose, given the brokers wanted and those
// decommissioned (both ascending), or nullopt when there is nothing to do now.
std::optional<raft_config> next_membership_step(const membership_facts& f,
                                                const std::vector<int32_t>& wanted,
                                                const std::vector<int32_t>& decommissioned);

// Leader balancing of group 0 (DESIGN.md section 5): shard k's group prefers the k-th (modulo
// their count) of the brokers it spans, `members` (ascending: topic_table_snapshot::replica_set),
// taken with the seeds first in their configured order and then the brokers that joined. With
// only the seeds this is cluster_config::preferred_leader; a broker that joins takes its share of
// the leaders, and a decommissioned one's share goes to the others. -1 when there are no members.
int32_t group0_preferred_leader(const std::vector<int32_t>& seeds,
                                const std::vector<int32_t>& members, unsigned shard);

}  // namespace wharf
