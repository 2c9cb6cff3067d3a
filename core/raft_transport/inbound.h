#pragma once

// rpc_inbound: the receiving side of the raft transport on one shard. The listener (listener.h)
// accepts a peer's connection, reads its handshake and hands the socket to the shard the
// handshake names with adopt(); from then on the connection lives here, and every raft message
// it carries goes to this shard's handler (inbound_connection.h has the reading side).
//
// Core registers the handler with set_handler() once the shard's raft group exists; messages
// that arrive before are dropped and counted (raft resends).
//
// Bounds. At most max_inbound_connections_per_shard connections; a node that connects again
// replaces its older connection (which is closed), so a peer that reconnects after a silent
// network failure never leaves the half-open one behind.
//
// Lifecycle. Created on its shard by the listener, which owns it; every member function is
// called on that shard. stop() closes every connection and returns once their coroutines have
// ended; connections handed over later are closed at once. Destroyed on its shard after stop().

#include <cstddef>
#include <cstdint>
#include <unordered_map>

#include "core/raft_transport/config.h"
#include "core/raft_transport/inbound_connection.h"
#include "core/raft_transport/rpc_socket.h"
#include "core/raft_transport/stats.h"
#include "reactor/base/ids.h"
#include "reactor/sync.h"
#include "reactor/task.h"

namespace wharf::raft_rpc {

class rpc_inbound {
public:
    explicit rpc_inbound(const raft_transport_config& cfg);
    // REQUIRES: stop() has completed, or no connection was ever adopted.
    ~rpc_inbound();
    rpc_inbound(const rpc_inbound&) = delete;
    rpc_inbound& operator=(const rpc_inbound&) = delete;

    // Replaces the shard's handler (an empty one drops messages again).
    // REQUIRES: not called from inside the handler.
    void set_handler(raft_message_handler handler);
    // Replaces the handler of peers' broker_info frames.
    void set_info_handler(broker_info_handler handler);
    // Replaces the handler of peers' group_leaders frames.
    void set_leaders_handler(group_leaders_handler handler);
    // Takes a connection whose handshake was accepted for this shard and starts reading it.
    void adopt(owned_fd fd, inbound_peer peer);
    // Closes every connection and waits for them. Idempotent.
    task<void> stop();

    shard_id shard() const noexcept { return _shard; }
    const inbound_stats& stats() const noexcept { return _stats; }
    size_t connection_count() const noexcept { return _connections.size(); }

private:
    task<void> serve(gate::holder hold, owned_fd fd, inbound_peer peer, uint64_t id);
    void check_shard() const;

    raft_transport_config _cfg;
    shard_id _shard;
    raft_message_handler _handler;
    broker_info_handler _info_handler;
    group_leaders_handler _leaders_handler;
    inbound_stats _stats;
    log_limiter _drop_log;
    log_limiter _refusal_log;
    inbound_context _ctx;
    // Every serving coroutine holds it; stop() closes it.
    gate _gate;
    std::unordered_map<uint64_t, inbound_connection*> _connections;
    uint64_t _next_id = 1;
};

}  // namespace wharf::raft_rpc
