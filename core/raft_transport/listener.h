#pragma once

// rpc_listener: the broker's listener of internal RPC connections (--rpc-addr), through which
// peers reach this broker's raft groups (DESIGN.md section 5).
//
// Which shard. One listener per broker, on the shard that created it (core starts it on shard
// 0), with one rpc_inbound per shard (inbound.h). A connection must end on the shard its
// handshake names (shard k of a broker talks only to shard k of its peers), so whichever shard
// accepted it would hand it over; with SO_REUSEPORT on every shard that hand-off would be
// needed all the same for all but 1/N of them, and the connections are few (one per peer and
// shard) and long-lived, so accepting them all on one shard costs nothing measurable and keeps
// one listening socket, one bound port (port 0 works without coordinating shards) and one
// place that counts refusals.
//
// A connection's path. accept -> read the 40-byte handshake within handshake_timeout (reading
// no byte past it, so frames that follow stay in the socket for the target shard) -> judge it
// with rpc::answer_handshake (cluster id, protocol version, target shard < number of shards) ->
// write the reply -> refused: close; accepted: hand the socket to the target shard, a
// cross-shard message carrying the descriptor in an owned_fd, so that exactly one side owns it
// at any time and a hand-off that never runs still closes it.
//
// Bounds. max_pending_handshakes connections in their handshake; more are closed at once.
//
// Lifecycle. listen() binds and creates the per-shard inbound sides -> core registers each
// shard's handler through local() -> start() accepts -> stop() closes the listening socket and
// the handshakes in progress, stops every shard's inbound side on its shard (closing every
// connection) and destroys it there. A listener returned by listen() must be stopped before it
// is destroyed, started or not.

#include <cstddef>
#include <cstdint>
#include <memory>
#include <string>
#include <unordered_map>
#include <vector>

#include "core/raft_transport/config.h"
#include "core/raft_transport/inbound.h"
#include "core/raft_transport/rpc_socket.h"
#include "core/raft_transport/stats.h"
#include "net/rpc/handshake.h"
#include "reactor/base/ids.h"
#include "reactor/base/result.h"
#include "reactor/sync.h"
#include "reactor/task.h"

namespace wharf::raft_rpc {

class rpc_listener {
public:
    // Binds cfg.listen_address and creates an rpc_inbound on every shard (on that shard).
    // Errors: std::errc::invalid_argument for an invalid cfg (logged with the reason); the
    // system's for socket, bind (EADDRINUSE) and listen.
    static task<result<std::unique_ptr<rpc_listener>>> listen(raft_transport_config cfg);

    // REQUIRES: stop() has completed.
    ~rpc_listener();
    rpc_listener(const rpc_listener&) = delete;
    rpc_listener& operator=(const rpc_listener&) = delete;

    // The bound port (the kernel's choice when the configured port was 0).
    uint16_t port() const noexcept { return _port; }
    shard_id shard() const noexcept { return _shard; }

    // The calling shard's inbound side, where core registers the shard's handler. Callable on
    // any shard between listen() and stop() (the table of shards does not change meanwhile).
    rpc_inbound& local() const;

    // Starts accepting. REQUIRES: on the listener's shard, once, before stop().
    void start();
    // Stops accepting and stops every shard's inbound side (see the lifecycle above).
    // REQUIRES: on the listener's shard. Idempotent.
    task<void> stop();

    // The listener's counters (read on its shard); each shard's inbound counters are in
    // local().stats().
    const listener_stats& stats() const noexcept { return _stats; }

private:
    rpc_listener(owned_fd fd, uint16_t port, raft_transport_config cfg,
                 std::vector<std::unique_ptr<rpc_inbound>> shards);

    task<void> accept_loop(gate::holder hold);
    // true: accept again; false: the listener is done.
    task<bool> on_accept_error(int32_t err);
    // Reads and answers one handshake, then hands the connection over.
    task<void> handshake(gate::holder hold, owned_fd fd, std::string address, uint64_t id);
    void log_refusal(const std::string& address, rpc::handshake_status s);
    void check_shard() const;

    owned_fd _fd;
    uint16_t _port;
    shard_id _shard;
    raft_transport_config _cfg;
    rpc::acceptor_identity _identity;
    // Indexed by shard; each lives on (and is destroyed on) its own shard.
    std::vector<std::unique_ptr<rpc_inbound>> _shards;
    listener_stats _stats;
    log_limiter _refusal_log;
    // The accept loop and every handshake in progress hold it.
    gate _gate;
    // The sockets of the handshakes in progress, so that stop() can end their reads.
    std::unordered_map<uint64_t, int> _pending;
    uint64_t _next_id = 1;
    bool _started = false;
    bool _stopping = false;
    bool _stopped = false;
};

}  // namespace wharf::raft_rpc
