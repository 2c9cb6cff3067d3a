#pragma once

// server: the Kafka listener of one shard (DESIGN.md sections 1 and 7).
//
// What it is. A TCP server that speaks size-prefixed frames: a 4-byte big-endian signed size,
// then that many bytes. It knows nothing of Kafka; every frame goes to the frame_handler
// (net/server_config.h), and the handler's responses go back in request order per connection
// (net/connection.h has the design of one connection: pipelining, back-pressure, closing).
//
// Which shard. Every shard runs its own server on the same address: each binds its own listening
// socket with SO_REUSEPORT, and the kernel spreads incoming connections over them. A server and
// its connections live on the shard that called listen(); every member function must be called
// there. Shard 0 listens first; when the configured port is 0, the others listen on port() of
// shard 0's server.
//
// Lifecycle. listen() binds and listens (errors are values: address in use, bad address) ->
// start() spawns the accept loop -> stop() stops accepting, closes every connection, waits for the
// handlers in flight and returns once nothing of the server runs -> destruction. A server that
// was started must be stopped before it is destroyed.
//
// Bounds. Request memory in flight on the shard: server_config::max_inflight_bytes; pipeline
// depth per connection; the largest frame; idle connections close after idle_timeout.

#include <cstdint>
#include <memory>
#include <unordered_map>

#include "net/connection.h"
#include "net/server_config.h"
#include "reactor/base/ids.h"
#include "reactor/base/result.h"
#include "reactor/sync.h"
#include "reactor/task.h"

namespace wharf::net {

class server {
public:
    // Binds a listening socket on cfg.host:cfg.port with SO_REUSEADDR and SO_REUSEPORT.
    // Errors: std::errc::invalid_argument for a host that is no numeric address (or "localhost")
    // or an invalid configuration; the system's error for socket, bind (EADDRINUSE) and listen.
    static result<std::unique_ptr<server>> listen(server_config cfg, frame_handler handler);

    ~server();
    server(const server&) = delete;
    server& operator=(const server&) = delete;

    // The bound port (the kernel's choice when cfg.port was 0).
    uint16_t port() const noexcept { return _port; }
    shard_id shard() const noexcept { return _shard; }
    const server_config& config() const noexcept { return _cfg; }

    // Spawns the accept loop. REQUIRES: called once, before stop().
    void start();
    // Stops accepting, shuts down every connection (cancelling pending receives) and returns once
    // every handler in flight has finished and every socket is closed. Idempotent.
    task<void> stop();

    const server_stats& stats() const noexcept { return _stats; }
    // Request-memory units not taken by frames in flight (max_inflight_bytes when idle).
    size_t memory_available() const noexcept { return _memory.available(); }
    size_t connection_count() const noexcept { return _connections.size(); }

private:
    server(int fd, uint16_t port, server_config cfg, frame_handler handler);

    task<void> accept_loop(gate::holder hold);
    // Owns one connection from accept to close.
    task<void> serve(gate::holder hold, int fd, connection_info info);
    // true: accept again; false: the listener is done.
    task<bool> on_accept_error(int32_t err);
    void check_shard() const;

    int _fd;
    uint16_t _port;
    shard_id _shard;
    server_config _cfg;
    frame_handler _handler;
    semaphore _memory;
    server_stats _stats;
    connection_context _ctx;
    // The accept loop and every connection hold this gate; stop() closes it.
    gate _gate;
    std::unordered_map<uint64_t, connection*> _connections;
    uint64_t _next_connection_id = 1;
    bool _started = false;
    bool _stopping = false;
};

}  // namespace wharf::net
