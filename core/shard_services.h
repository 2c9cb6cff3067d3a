#pragma once

// shard_services: what one shard of the broker owns — its log and its raft group. Each shard
// creates its own in start_shard() on its thread and destroys it in stop_shard(); nothing in it
// is touched from another shard (other shards reach it through submit_to).

#include <cstdint>
#include <map>
#include <memory>
#include <set>
#include <string>
#include <vector>

#include "core/cluster/group_leaders.h"
#include "core/config/broker_config.h"
#include "core/raft_transport/listener.h"
#include "core/raft_transport/peer_transport.h"
#include "log/shard_log.h"
#include "raft/consensus.h"
#include "reactor/sync.h"
#include "reactor/base/result.h"
#include "reactor/task.h"

namespace wharf {

// A raft group of a fixed replica set on this shard (a topic whose replication factor is below
// the broker count: topic_table_snapshot::groups) and the log it replicates, in
// <data-dir>/shard-<k>-group-<g>/. Its membership follows the table's replica set for it (a
// decommission moves it: move_group_cmd).
// A replica that a move took away (move_group_cmd) keeps taking part until the group's leader
// tells it, with the leaders' notice it sends to brokers outside its committed membership, that
// raft removed it: then the shard closes the group and deletes its directory (close_group in
// shard_groups.cc). A restart in between reopens it from its directory (on_disk).
struct data_group {
    std::unique_ptr<shard_log> log;
    std::unique_ptr<consensus> raft;
    // Held by every group_ref: closing the group waits for the requests using it.
    gate users;
    bool closing = false;  // no new group_ref from now on
};

// One of the shard's groups, as partitions reach it: both null for a group not here (yet), or
// being closed. It keeps a group of a fixed replica set open while it lives (data_group::users),
// so a request holds it across its suspensions and drops it when done.
struct group_ref {
    shard_log* log = nullptr;
    consensus* raft = nullptr;
    gate::holder hold{nullptr};
    explicit operator bool() const noexcept { return raft != nullptr; }
};

struct shard_services {
    // Group 0: the group of every broker, holding the metadata log on shard 0 and the
    // partitions of topics replicated on every broker.
    std::unique_ptr<shard_log> log;
    // In a cluster: the connections to the same shard of every peer (null for a single broker).
    std::unique_ptr<raft_rpc::peer_transport> transport;
    std::unique_ptr<consensus> raft;
    // The listener whose inbound side delivers peers' messages to `raft` (null when single).
    raft_rpc::rpc_listener* rpc = nullptr;
    // The periodic retention pass (retention_loop in shard_services.cc).
    bool stopping = false;
    gate background;
    uint64_t retention_passes = 0;
    // The RPC addresses brokers told in their hellos (note_heard_broker), and a count of the
    // changes: the transport reaches them before the controller's table names them (a broker
    // that joined is told of another that joined only by the metadata log, which it replicates
    // through them).
    std::map<int32_t, host_port> heard;
    uint64_t heard_version = 0;
    // The groups of fixed replica sets that include this broker, opened as the controller's
    // table names them (open_groups in shard_groups.cc); they share `transport`.
    std::map<raft_group_id, std::unique_ptr<data_group>> groups;
    // The groups whose directories this shard found at start: it opens them even when the
    // table no longer names this broker among their replicas, until the leader says raft
    // removed it (a move may still need this replica for a quorum: a broker restarted during
    // its decommission).
    std::set<raft_group_id> on_disk;
    // The leaders of the table's groups that do not include this broker, as they told it
    // (core/cluster/group_leaders.h).
    remote_leaders remote;

    // Group 0 or one of `groups`; empty when the group is not on this shard (yet).
    group_ref group(raft_group_id id) const noexcept;
};

// The calling shard's services, or null before start_shard / after stop_shard.
shard_services* local_services() noexcept;

// Opens (recovering) the calling shard's log and starts its raft group: a group of one for a
// single broker; in a cluster, a group of every seed over a peer_transport, whose inbound
// messages `rpc` delivers from now on. On failure *detail says what failed (the file and offset
// of a corrupt segment, for example).
task<status> start_shard(const broker_config& cfg, raft_rpc::rpc_listener* rpc,
                         std::string* detail);
// Stops the raft group (waiting for appends in flight), flushes and closes the log.
task<status> stop_shard();

// A broker's hello named this RPC address (shard 0's RPC handler tells every shard): the
// calling shard's transport knows the broker from its next membership check on. Nothing before
// start_shard or after stop_shard.
void note_heard_broker(int32_t node, host_port rpc);

// One line describing the calling shard, for the start-up layout.
std::string describe_shard();

}  // namespace wharf
