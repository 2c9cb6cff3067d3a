#pragma once

// The groups of fixed replica sets on a shard (DESIGN.md section 5: a topic whose replication
// factor is below the broker count lives in groups keyed by shard and replica set): opening them
// as the controller's table names them, telling the brokers outside a group who leads it and who
// is in it, closing a replica that raft removed, and what a decommission still waits for. Each
// shard's loops in shard_services.cc call these; everything runs on the calling shard.

#include <cstdint>
#include <map>
#include <optional>
#include <set>
#include <vector>

#include "core/cluster/topic_table.h"
#include "core/config/broker_config.h"
#include "core/shard_services.h"
#include "net/rpc/group_leaders.h"
#include "raft/consensus.h"
#include "reactor/sync.h"
#include "reactor/task.h"

namespace wharf {

// The group settings of a raft group spanning `voters` (group k of shard 0 prefers the
// (k mod N)-th seed, a group of a fixed replica set its first replica).
group_config group_settings(const broker_config& cfg, raft_group_id id,
                            const std::vector<int32_t>& voters,
                            std::optional<int32_t> preferred);

// The shard's memory for tail caches (broker_config::tail_cache_bytes_per_shard), shared evenly
// by the logs of its groups.
void share_tail_cache(shard_services& s, const broker_config& cfg);

// The groups of fixed replica sets whose directories (shard-<k>-group-<g>, log_config) the
// calling shard finds in the data directory.
std::set<raft_group_id> groups_on_disk(const broker_config& cfg);

// Opens the groups of fixed replica sets that the table names with this broker among their
// replicas and that the shard does not have yet: their logs (recovering what an earlier run
// left) and their raft groups over the shard's transport. A group that fails to open is
// reported once (`failed`) and tried again at the next check.
task<void> open_groups(shard_services& s, const broker_config& cfg,
                       const topic_table_snapshot& table, std::set<raft_group_id>& failed);

// A leaders' notice reached this shard: a group it names that this shard has open, while the
// table names other replicas for it, had this replica removed by raft (group_leaders_loop tells
// only brokers outside a committed membership, and says who is in it; one that the table still
// names is a new replica that raft has not added yet).
void close_removed_groups(shard_services& s, const broker_config& cfg,
                          const std::vector<rpc::group_leadership>& leaders);

// While this shard leads a group of a fixed replica set whose membership is committed, tells
// every peer outside that membership that it leads it and who is in it, every
// group_leaders_interval (core/cluster/group_leaders.h).
task<void> group_leaders_loop(shard_services& s, int32_t self, gate::holder);

// The decommissioned brokers that each raft group of the calling shard still has as members, as
// far as the shard knows: group 0 and the groups it has open from raft, the other groups of
// fixed replica sets from their leaders' notices (core/cluster/group_leaders.h); a group it has
// heard nothing of counts every decommissioned broker the table placed in it. Groups holding
// none are left out. Nullopt when the shard is not running. (removable_from_group0 waits for
// them; GET /v1/brokers/{id}/decommission reports them.)
std::optional<std::map<raft_group_id, std::vector<int32_t>>> decommissioned_members();

// The decommissioned brokers that shard 0's group 0 may remove now. That group replicates the
// metadata log: a broker it removed no longer learns the table, so after a restart it could not
// find the groups it must still serve. It therefore keeps a decommissioned broker until no group
// of a fixed replica set on any shard has it as a member (its moves are done); a broker that
// never comes back (holding the only replica of an RF=1 partition, or one of two) stays a
// voter there, as Redpanda's decommission waits for such moves. The other shards' group 0
// remove it at once. Logs once per broker it holds back (remembered in `reported`).
task<std::vector<int32_t>> removable_from_group0(const topic_table_snapshot& table,
                                                 std::set<int32_t>& reported);

}  // namespace wharf
