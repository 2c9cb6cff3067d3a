#pragma once

// connection: one accepted TCP connection of the Kafka listener (net/server.h).
//
// Design. Two coroutines serve a connection. The reader receives size-prefixed frames into one
// iobuf (iobuf reserve/commit, so bytes land in place) and hands each frame to the frame handler
// in a detached coroutine of its own, in frame order; each handler runs until its first
// suspension before the reader goes on, so two requests on one connection reach the layers below
// in order. Every frame gets a slot at the back of the connection's pipeline. The writer sends
// the responses of the completed slots at the front of the pipeline, several in one sendmsg, and
// so keeps request order whatever order the handlers finish in.
//
// Bounds. Before the body of a frame is read, the reader takes min(size, bound) units of the
// shard's request-memory semaphore and waits there (reading nothing) when they are not free; the
// writer gives them back once the frame's response is sent. The reader also waits while the
// pipeline holds max_inflight_requests_per_connection slots. Beyond the current frame it reads
// ahead at most read_ahead_bytes. A declared size that is negative or above max_request_bytes
// closes the connection before anything of that size is allocated.
//
// Closing. close() marks the connection closing and shuts the socket down, which ends a pending
// recv or send; the reader stops, handlers still running finish and their results are discarded,
// the writer gives back their memory units, and run() returns after the socket is closed.
//
// Lives on the shard that accepted it, inside the server's coroutine that serves it; never moves.

#include <chrono>
#include <cstddef>
#include <cstdint>
#include <deque>
#include <optional>

#include "net/server_config.h"
#include "reactor/base/result.h"
#include "reactor/clock.h"
#include "reactor/iobuf.h"
#include "reactor/sync.h"
#include "reactor/task.h"

namespace wharf::net {

// Why a connection closed (logged, and kept for tests).
enum class close_reason : uint8_t {
    none,
    peer_closed,     // EOF from the peer
    io_error,        // recv or send failed (reset, broken pipe)
    bad_frame,       // negative or oversized frame size
    handler_error,   // a handler returned an error (or threw)
    idle,            // idle_timeout passed with nothing received and nothing in flight
    server_stopped,  // server::stop(), or the reactor shutting down
};
const char* to_string(close_reason r) noexcept;

// What every connection of one server shares. Owned by the server, which outlives them.
struct connection_context {
    const server_config& cfg;
    const frame_handler& handler;
    // Units are bytes of requests in flight on this shard (server_config::max_inflight_bytes).
    semaphore& memory;
    server_stats& stats;
};

class connection {
public:
    // Bytes the reader may receive beyond the frame it is reading (not counted as request
    // memory), so that many small frames arrive with one recv.
    static constexpr size_t read_ahead_bytes = 16 * 1024;
    // Frames up to this size that arrive split over two chunks are copied into one.
    static constexpr size_t linearize_max_bytes = 64 * 1024;

    // Takes ownership of the connected socket fd.
    connection(int fd, connection_info info, connection_context ctx) noexcept;
    // REQUIRES: run() has completed (or was never started; the socket is then closed here).
    ~connection();
    connection(const connection&) = delete;
    connection& operator=(const connection&) = delete;

    // Serves the connection until it closes. Returns once every handler it started has finished,
    // every memory unit it took is given back and the socket is closed.
    task<void> run();
    // Begins closing (see the design note). Idempotent; callable at any time on the owner shard.
    void close(close_reason why);

    const connection_info& info() const noexcept { return _info; }
    close_reason reason() const noexcept { return _reason; }

private:
    // One request in the pipeline, from its frame until its response is sent.
    struct slot {
        size_t units = 0;
        bool done = false;
        std::optional<result<std::optional<iobuf>>> outcome;
    };

    task<void> read_loop();
    task<void> write_loop();
    // Starts the frame's handler; returns at its first suspension.
    void dispatch(iobuf frame, size_t units);
    task<void> run_handler(slot& s, iobuf frame);
    // Waits for pipeline room and request memory for a frame of `size` bytes; false when closing.
    task<bool> admit(size_t size, size_t& units);
    // Receives until _in holds need bytes; false when the connection closes meanwhile.
    task<bool> fill(size_t need);
    // Receives until _in holds the whole next frame of `size` bytes, in one chunk when it fits.
    task<bool> fill_frame(size_t size);
    // One recvmsg of at least min_bytes of room; false when the connection is closing.
    task<bool> receive(size_t min_bytes);
    // Sends the responses of the first `count` slots; false when the send failed.
    task<bool> send_responses(size_t count);
    // Sends every byte the iovecs cover, in as few sendmsg calls as the kernel allows.
    task<bool> send_all(std::vector<iovec>& iov);
    // Handles a recv that ended without bytes (link timeout); false when the connection closes.
    bool on_recv_timeout();
    std::chrono::nanoseconds recv_timeout() const;

    int _fd;
    connection_info _info;
    connection_context _ctx;
    // Received bytes not yet handed to a handler.
    iobuf _in;
    std::deque<slot> _pipeline;
    // Wakes the writer: a slot completed, the reader ended, or the connection is closing.
    event _writer_wake;
    // Wakes the reader waiting for pipeline room.
    event _room;
    gate _handlers;
    steady_time _last_activity;
    bool _closing = false;
    bool _reader_done = false;
    bool _ran = false;
    close_reason _reason = close_reason::none;
};

}  // namespace wharf::net
