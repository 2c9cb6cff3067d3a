#pragma once

// raft_transport: how a raft group reaches its peers (DESIGN.md section 2: raft talks to peers
// only through this interface; core wires it to the RPC connections of net/). One transport
// serves the groups of one shard; messages go to the same shard of the peer broker.
//
// Delivery is best effort: raft copes with loss, delay, duplication and reordering, so send()
// never fails and never suspends. A message to an unreachable peer is dropped (raft resends).
// Incoming messages reach the group through consensus::receive().

#include "raft/messages.h"

namespace wharf {

class raft_transport {
public:
    virtual ~raft_transport() = default;
    // Queues m for m.to. Called on the group's shard.
    virtual void send(raft_message m) = 0;
};

}  // namespace wharf
