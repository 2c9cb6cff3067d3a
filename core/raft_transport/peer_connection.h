#pragma once

// peer_connection: this shard's outbound connection to one peer broker's same shard, and the
// bounded queue of raft messages waiting for it (owned by peer_transport, peer_transport.h).
//
// Design. enqueue() never suspends: it appends an encoded raft message to the queue and wakes
// the connection's worker, a coroutine started by the first message. The worker connects when
// there is something to send (lazily), sends the handshake naming this shard as the target,
// and then, every time it runs, frames everything queued with the negotiated protocol version
// and writes it with one sendmsg (continuing after short writes): messages queued in one turn
// leave together. Small frames are copied side by side into the batch, larger payloads are
// spliced in without a copy, so a batch of heartbeats takes a few iovecs, not two per frame. A
// second coroutine watches the socket for its end (the acceptor sends nothing after the handshake
// reply), so a peer that went away is noticed before the next write.
//
// Failures. A failed attempt (connect, handshake exchange, refusal, another node answering)
// drops the queue (raft resends) and delays the next attempt by the backoff, which starts at
// reconnect_backoff_min and doubles up to reconnect_backoff_max; messages queued meanwhile wait
// within the bound. An established connection that ends (peer gone, a failed or timed-out
// write) drops the queue too, and the next message reconnects at once, with the backoff reset.
// One that the peer ended is reconnected at once even without a message (a probe): a refusal
// means nothing listens there any more, which the owner hears of (on_unreachable) within a
// round trip of the peer's death instead of an election timeout.
//
// Bounds. Bytes of queued and in-flight messages (framed size) stay under
// max_queued_bytes_per_peer, except that a message finding nothing pending is always taken.
//
// Lifecycle. Created and used on one shard. begin_stop() then stopped() (or stop()) ends the
// worker and the watcher and closes the socket; messages still queued are dropped. A connect in
// flight is not cancelled (shutdown does not abort it): stopping waits for it, connect_timeout
// at most. Destroyed on
// its shard after stopping.

#include <cstddef>
#include <cstdint>
#include <functional>
#include <memory>
#include <vector>

#include "core/raft_transport/config.h"
#include "core/raft_transport/rpc_socket.h"
#include "core/raft_transport/stats.h"
#include "net/rpc/frame.h"
#include "net/socket_address.h"
#include "reactor/base/ids.h"
#include "reactor/clock.h"
#include "reactor/iobuf.h"
#include "reactor/sync.h"
#include "reactor/task.h"

namespace wharf::raft_rpc {

class peer_connection {
public:
    // cfg and stats belong to the owning peer_transport, which outlives this object.
    // on_unreachable (peer_transport::set_unreachable_handler) is called with the peer whenever
    // a connection attempt is refused; it may be empty, and must outlive the connection.
    peer_connection(node_id peer, net::socket_address address, const raft_transport_config& cfg,
                    peer_transport_stats& stats,
                    const std::function<void(node_id)>& on_unreachable);
    // REQUIRES: stopped() has completed, or no message was ever enqueued.
    ~peer_connection();
    peer_connection(const peer_connection&) = delete;
    peer_connection& operator=(const peer_connection&) = delete;

    // Whether a message that is `frame_bytes` long once framed fits in the queue now.
    bool has_room(size_t frame_bytes) const noexcept;
    // Queues one frame's payload: an encoded raft message, or another frame type (a relayed
    // broker_info). Never suspends.
    // REQUIRES: has_room(payload.size() + frame header), not stopping.
    void enqueue(iobuf payload, rpc::frame_type type = rpc::frame_type::raft_message);
    // Connects now and reconnects whenever the connection breaks, messages or not (with the
    // usual backoff): for the connection whose handshake carries the broker's hello.
    void keep_connected();
    // Connects to `address` from now on; an open connection to the old address is closed.
    void set_address(net::socket_address address);

    // Starts stopping without waiting: the socket is shut down and the worker woken.
    void begin_stop();
    // Waits until the worker and the watcher have ended and the socket is closed.
    task<void> stopped();
    task<void> stop() {
        begin_stop();
        co_await stopped();
    }

    node_id peer() const noexcept { return _peer; }
    bool connected() const noexcept { return _link != nullptr && !_link->broken; }
    // Framed bytes queued or being written.
    size_t pending_bytes() const noexcept { return _queued_bytes + _inflight_bytes; }

private:
    void start_running();
    // One established connection.
    struct link {
        owned_fd fd;
        uint16_t version = 0;
        uint64_t next_correlation_id = 0;
        steady_time opened{};
        // Set by the watcher when the socket ended, or by a failed write.
        bool broken = false;
        bool watcher_done = false;
        event watcher_end;
    };

    task<void> run(gate::holder hold);
    // Waits out the backoff, then connects and shakes hands; false when that failed (or the
    // connection is stopping).
    task<bool> connect();
    task<result<std::unique_ptr<link>>> open_link();
    void on_connect_failure(std::error_code ec);
    // Writes everything queued on the link; false when the write failed.
    task<bool> flush();
    // Waits for the socket's end, then marks the link broken.
    task<void> watch(gate::holder hold, link* l);
    // Closes the link after its watcher has ended.
    task<void> disconnect();
    void drop_queue(drop_reason why);
    // Sleeps until t in short slices, so that stop is noticed; false when stopping.
    task<bool> sleep_until(steady_time t);

    node_id _peer;
    net::socket_address _address;
    // Counts set_address calls, so that an attempt that began with an older address is not used.
    uint64_t _address_generation = 0;
    const raft_transport_config& _cfg;
    peer_transport_stats& _stats;
    shard_id _shard;

    struct queued_frame {
        rpc::frame_type type;
        iobuf payload;
    };
    std::vector<queued_frame> _queue;
    size_t _queued_bytes = 0;
    // Framed bytes of the batch being written.
    size_t _inflight_bytes = 0;

    std::unique_ptr<link> _link;
    // The socket of an attempt in progress, for begin_stop() to end its handshake.
    int _attempt_fd = -1;
    // Wakes the worker: a message was queued, the link broke, or stopping.
    event _wake;
    std::chrono::milliseconds _backoff{0};
    steady_time _next_attempt{};
    // Failed attempts since the last success, for the log.
    uint64_t _failures_in_row = 0;
    bool _running = false;
    bool _keep_connected = false;
    const std::function<void(node_id)>& _on_unreachable;
    // The peer ended the connection: reconnect once at once, messages or not, to learn whether
    // it is still there (a refusal is reported to _on_unreachable).
    bool _probe = false;
    bool _stopping = false;
    // The worker and the watcher hold it.
    gate _tasks;
};

}  // namespace wharf::raft_rpc
