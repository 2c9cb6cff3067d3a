#pragma once

// The vocabulary of the Kafka listener (net/server.h): its configuration, its counters, what a
// frame handler sees of a connection, and the frame handler contract.

#include <chrono>
#include <cstddef>
#include <cstdint>
#include <functional>
#include <optional>
#include <string>

#include "reactor/base/result.h"
#include "reactor/iobuf.h"
#include "reactor/task.h"

namespace wharf::net {

struct server_config {
    // A numeric IPv4 or IPv6 address ("127.0.0.1", "::1", "[::1]", "0.0.0.0") or "localhost".
    std::string host = "127.0.0.1";
    // 0 picks a free port; the other shards then listen on the port that shard 0 got.
    uint16_t port = 9092;
    // A frame whose declared size exceeds this (or is negative) closes its connection before
    // anything of that size is allocated (--max-request-bytes).
    size_t max_request_bytes = 100 << 20;
    // Per-shard bound on the bytes of requests in flight, shared by every connection of the shard.
    // A frame takes min(size, bound) units from the moment its size is read until its response
    // is sent; past the bound, connections stop reading their sockets (back-pressure).
    size_t max_inflight_bytes = 256 << 20;
    // A connection that receives nothing and has nothing in flight for this long is closed.
    std::chrono::milliseconds idle_timeout{600'000};
    // Pipeline depth: past this many requests in flight, a connection stops reading its socket.
    size_t max_inflight_requests_per_connection = 1000;
    int listen_backlog = 1024;
};

// Counters of one shard's server: plain integers, read on the owner shard only.
struct server_stats {
    uint64_t connections_accepted = 0;
    uint64_t connections_open = 0;
    uint64_t accept_errors = 0;
    uint64_t frames_received = 0;
    uint64_t responses_sent = 0;
    uint64_t bytes_received = 0;
    uint64_t bytes_sent = 0;
    // sendmsg calls: fewer than responses_sent when ready responses go out together.
    uint64_t send_calls = 0;
    // Frames with a negative size or one above max_request_bytes (each closed its connection).
    uint64_t oversized_frames = 0;
    uint64_t idle_closes = 0;
    uint64_t handler_errors = 0;
    // Times a connection stopped reading: request memory exhausted, or pipeline depth reached.
    uint64_t backpressure_waits = 0;
    uint64_t pipeline_full_waits = 0;
};

// What a frame handler sees of its connection. Lives as long as the connection, which outlives
// every handler it started.
struct connection_info {
    // Unique among the connections of one shard's server, never reused.
    uint64_t id = 0;
    // The peer as "address:port".
    std::string peer;
    // Set once the connection has begun to close (peer gone, an error, server stop): a handler
    // still running may give up early, since whatever it returns will be discarded.
    bool closing = false;
};

// Called once per frame with the bytes after the 4-byte size prefix. Returns the response frame
// (without the size prefix, which the server adds), nullopt when the request gets no response
// (Produce with acks=0), or an error meaning "close this connection" (the responses of earlier
// frames are sent first). Each invocation runs until its first suspension before the next frame
// of the connection is handed over; invocations then run concurrently. The frame is usually one
// contiguous fragment, but a handler must accept any iobuf.
using frame_handler =
    std::function<task<result<std::optional<iobuf>>>(connection_info& conn, iobuf frame)>;

}  // namespace wharf::net
