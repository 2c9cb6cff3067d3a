#pragma once

// The leaders of raft groups this broker is not a replica of (a topic whose replication factor is
// below the broker count lives in groups of fixed replica sets: DESIGN.md section 5). Every
// broker answers Metadata for every partition, so a group's leader tells the brokers outside it
// (outside its committed raft membership) that it leads, every group_leaders_interval while it
// does (net/rpc/group_leaders.h, on the connections of the group's shard); each shard keeps what
// it heard in a remote_leaders table. A broker told that still has the group open is a replica
// raft removed (a move took it away): it closes the group (core/shard_groups.cc, close_group).
//
// A notice is believed when it is the newest the shard heard for the group (a higher term, or
// the same term again), or when the one kept has not been repeated for
// group_leader_notice_lifetime: a leader that died stops repeating itself and is forgotten,
// and the group's next leader announces itself with a higher term.

#include <chrono>
#include <map>
#include <optional>
#include <vector>

#include "net/rpc/group_leaders.h"
#include "reactor/base/ids.h"

namespace wharf {

inline constexpr std::chrono::milliseconds group_leaders_interval{250};
inline constexpr std::chrono::milliseconds group_leader_notice_lifetime{2000};

struct remote_leader {
    term_id term{0};
    node_id leader{0};
    std::chrono::steady_clock::time_point heard{};
    // The group's voters and learners as the leader told them (empty when it did not: a
    // version-1 notice).
    std::vector<node_id> members;
};

class remote_leaders {
public:
    // A notice from `from`: entries that name another broker as the leader are ignored (a
    // broker tells only of itself).
    void note(node_id from, const std::vector<rpc::group_leadership>& leaders,
              std::chrono::steady_clock::time_point now);
    // The group's leader as last heard, unless that is older than the notice lifetime.
    std::optional<remote_leader> find(raft_group_id group,
                                      std::chrono::steady_clock::time_point now) const;

private:
    std::map<raft_group_id, remote_leader> _leaders;
};

}  // namespace wharf
