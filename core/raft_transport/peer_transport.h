#pragma once

// peer_transport: the raft transport of one shard (raft/transport.h), over internal RPC
// connections to the same shard of every peer broker (DESIGN.md section 5).
//
// send() never suspends and never fails: it encodes the message (raft/message_codec.h) into the
// queue of the connection to m.to (peer_connection.h), which connects on its first message,
// reconnects with backoff after failures and writes whatever is queued in one sendmsg per turn.
// Messages that cannot go are dropped and counted by reason (stats.h): to this node itself, to
// a node without a known address, over the peer's queue bound, larger than a frame may be, or
// lost with a failed connection. Raft resends what matters.
//
// How core uses it (one per shard, created on that shard):
//
//     auto t = std::make_unique<peer_transport>(cfg, peers);  // node_id -> parse_rpc_address
//     auto group = co_await consensus::start(group_cfg, log, t.get());
//     t->set_peers(new_peers);               // when the cluster's membership changes
//     co_await group->stop(); co_await t->stop();   // the group first: it still sends
//
// Messages arriving from peers take the other path: rpc_listener (listener.h) and the shard's
// rpc_inbound (inbound.h), whose handler core registers.
//
// Lifecycle. Lives on the shard that created it; every member function is called there. stop()
// closes every connection and drops what is queued; send() afterwards drops (stopped). A
// transport that was used must be stopped before it is destroyed.

#include <cstddef>
#include <functional>
#include <memory>
#include <span>
#include <unordered_map>
#include <vector>

#include "core/raft_transport/config.h"
#include "core/raft_transport/peer_connection.h"
#include "core/raft_transport/rpc_socket.h"
#include "core/raft_transport/stats.h"
#include "raft/transport.h"
#include "reactor/base/ids.h"
#include "reactor/sync.h"
#include "reactor/task.h"

namespace wharf::raft_rpc {

class peer_transport final : public raft_transport {
public:
    // REQUIRES: validate_config(cfg) succeeds.
    peer_transport(raft_transport_config cfg, peer_addresses peers);
    // REQUIRES: stop() has completed, or nothing was ever sent.
    ~peer_transport() override;
    peer_transport(const peer_transport&) = delete;
    peer_transport& operator=(const peer_transport&) = delete;

    // Queues m for m.to, or drops it (see above). Never suspends.
    void send(raft_message m) override;

    // Replaces the peer addresses: connections to nodes no longer listed are closed (their
    // queues dropped), connections whose address changed reconnect to the new one, new nodes
    // connect on their first message. An entry for this node itself is ignored.
    void set_peers(peer_addresses peers);

    // Connects to every peer now and keeps the connections up, messages or not: the transport
    // whose handshakes carry the broker's hello (config().hello) reaches every peer, also those
    // its raft group never messages (two followers). Peers that set_peers adds later are
    // kept connected too.
    void keep_connected();

    // Queues a broker_info frame (net/rpc/broker_info.h) for `to`: another broker's hello that
    // this one relays to the controller (core/cluster/metadata_service.h). False when `to` is
    // this node or unknown, the frame too large, or the queue full, or after stop.
    bool send_info(node_id to, std::span<const std::byte> info);
    // Queues a group_members frame (net/rpc/group_leaders.h, version 2) for `to`; false as
    // send_info.
    bool send_leaders(node_id to, std::span<const std::byte> leaders);

    // Called when a peer is found gone: a connection to it ended by its side, and the
    // reconnection that follows at once (or any later attempt) was refused, so nothing listens
    // at its address (its process died or stopped). core tells the raft group
    // (consensus::peer_unreachable). Must not suspend.
    void set_unreachable_handler(std::function<void(node_id)> handler);

    // Closes every connection and waits for them. Idempotent.
    task<void> stop();

    // The peers it knows an address of (set_peers), itself excluded.
    std::vector<node_id> peers() const;
    const peer_transport_stats& stats() const noexcept { return _stats; }
    const raft_transport_config& config() const noexcept { return _cfg; }
    // Whether the connection to `node` is established now (tests, diagnostics).
    bool connected(node_id node) const;
    // Framed bytes queued or being written to `node` (0 for an unknown node).
    size_t pending_bytes(node_id node) const;

private:
    peer_connection& connection_for(node_id node, const net::socket_address& address);
    void drop(drop_reason why, const raft_message& m);
    bool send_frame(node_id to, std::span<const std::byte> payload, rpc::frame_type type);
    void retire(std::unique_ptr<peer_connection> c);
    void check_shard() const;

    raft_transport_config _cfg;
    shard_id _shard;
    peer_addresses _addresses;
    // Created on a node's first message.
    std::unordered_map<node_id, std::unique_ptr<peer_connection>> _connections;
    peer_transport_stats _stats;
    log_limiter _drop_log;
    // Connections of removed peers that are still stopping.
    gate _retiring;
    bool _stopped = false;
    std::function<void(node_id)> _on_unreachable;
    // keep_connected() was called: set_peers connects new peers at once.
    bool _keep_all = false;
};

}  // namespace wharf::raft_rpc
