#pragma once

// inbound_connection: one internal RPC connection from a peer, on the shard its handshake named
// (the listener read the handshake and handed the socket over; see listener.h).
//
// Design. One coroutine reads the socket and feeds the bytes to a frame_decoder (net/rpc): while
// the decoder needs only a little (a header, small frames), it receives up to scratch_bytes into
// a scratch buffer that the decoder copies, so that many small messages share one recv and
// their bytes are packed into the decoder's chunks; when the rest of one frame is larger than
// that, it receives exactly that rest into a buffer of chunks of up to reserve_step_bytes,
// which the decoder takes over without a copy (an append request of large entries is never
// copied on its way to raft). Every complete
// frame is decoded as one raft message and handed to the shard's handler, which must not
// suspend (raft_transport's receive side is as best-effort as its send side).
//
// What the peer may not do. A bad frame (magic, version, size over max_frame_bytes, checksum), a
// payload that is no valid raft message, or a message whose `from` is not the node of the
// handshake closes the connection with one logged error. Frames of an unknown type, and
// messages that arrive before the shard has a handler, are dropped and counted, with a log line
// at a limited rate.
//
// Bounds. At most max_frame_bytes buffered for one frame, plus scratch_bytes of read-ahead.
//
// Lifecycle. Lives on its shard inside the rpc_inbound coroutine that serves it; close() shuts
// the socket down, which ends the read; run() returns after the socket is closed.

#include <cstddef>
#include <cstdint>
#include <functional>
#include <memory>
#include <string>

#include "core/raft_transport/config.h"
#include "core/raft_transport/rpc_socket.h"
#include "core/raft_transport/stats.h"
#include "net/rpc/broker_info.h"
#include "net/rpc/group_leaders.h"
#include "net/rpc/frame.h"
#include "raft/messages.h"
#include "reactor/task.h"

namespace wharf::raft_rpc {

// Called on a shard for every raft message that reached it. Must not suspend or throw.
using raft_message_handler = std::function<void(raft_message)>;
// Called for every broker_info a peer sends on its shard-0 connection: its own, right after the
// handshake, or another broker's that it relays.
using broker_info_handler = std::function<void(rpc::broker_info)>;
// The peer's group_leaders notice (net/rpc/group_leaders.h), with the peer's node id.
using group_leaders_handler = std::function<void(node_id, std::vector<rpc::group_leadership>)>;

// Who is on the other end, as the handshake said.
struct inbound_peer {
    node_id node{0};
    // The protocol version the handshake settled on.
    uint16_t version = rpc::min_protocol_version;
    // "address:port", for the log.
    std::string address;
};

// What the connections of one shard share; owned by that shard's rpc_inbound, which outlives
// them.
struct inbound_context {
    const raft_transport_config& cfg;
    // Empty until core registers the shard's handler.
    const raft_message_handler& handler;
    // Empty unless core registered one (shard 0).
    const broker_info_handler& info_handler;
    // Empty until core registers one.
    const group_leaders_handler& leaders_handler;
    inbound_stats& stats;
    // One limiter for the drops of every connection of the shard.
    log_limiter& drop_log;
};

class inbound_connection {
public:
    // Receives into the scratch buffer while the decoder needs at most this much.
    static constexpr size_t scratch_bytes = 16 * 1024;
    // Beyond that, the rest of a frame is received into chunks of up to this size.
    static constexpr size_t reserve_step_bytes = 1024 * 1024;

    inbound_connection(owned_fd fd, inbound_peer peer, uint64_t id, inbound_context ctx);
    inbound_connection(const inbound_connection&) = delete;
    inbound_connection& operator=(const inbound_connection&) = delete;

    // Reads and dispatches until the connection closes; the socket is closed when it returns.
    task<void> run();
    // Begins closing (idempotent): shuts the socket down, which ends the pending receive.
    void close() noexcept;

    const inbound_peer& peer() const noexcept { return _peer; }
    uint64_t id() const noexcept { return _id; }

private:
    // One receive into the decoder; false when the connection ended or sent a bad frame.
    task<bool> receive();
    // Receives the rest of the current frame, `need` bytes, into one buffer.
    task<bool> receive_frame_rest(size_t need);
    // Handles a receive that returned res <= 0; always false.
    bool on_receive_end(int32_t res);
    // Hands every complete frame to the handler; false when one of them closes the connection.
    bool dispatch_frames();
    bool dispatch(rpc::frame f);
    void drop(uint64_t& counter, const char* what);
    bool fail(uint64_t& counter, const std::string& why);

    owned_fd _fd;
    inbound_peer _peer;
    uint64_t _id;
    inbound_context _ctx;
    rpc::frame_decoder _decoder;
    std::unique_ptr<std::byte[]> _scratch;
    bool _closing = false;
};

}  // namespace wharf::raft_rpc
