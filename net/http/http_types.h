#pragma once

// The vocabulary of the admin HTTP server (net/http/http_server.h): a parsed request, the
// response a route returns, the route handler contract, and the server's limits and counters.

#include <chrono>
#include <cstddef>
#include <cstdint>
#include <functional>
#include <string>
#include <string_view>

#include "reactor/task.h"

namespace wharf::net::http {

enum class method : uint8_t { get, head, put, post, other };

// One request as a route sees it. Only what the routes need is kept: header fields are parsed
// (and bounded) but not stored.
struct request {
    method verb = method::get;
    // As sent, not percent-decoded; without the query.
    std::string path;
    std::string query;
    bool keep_alive = true;
};

struct response {
    int status = 200;
    std::string content_type = "text/plain; charset=utf-8";
    std::string body;
    // The Allow header of a 405: the methods the path takes (set by the server).
    std::string allow;

    static response text(int status, std::string body);
    static response json(int status, std::string body);
};

// Called once per request on the server's shard. May suspend (to ask other shards); must not
// block. An exception becomes a 500 response.
using handler = std::function<task<response>(const request&)>;

// "OK", "Not Found", ...; "Unknown" for codes the server never sends.
std::string_view reason_phrase(int status) noexcept;

struct server_config {
    // A numeric IPv4 or IPv6 address or "localhost"; port 0 picks a free port.
    std::string host = "127.0.0.1";
    uint16_t port = 9644;
    // The request line and header fields together; a larger request gets 400 and a close.
    size_t max_header_bytes = 8 * 1024;
    // Request bodies (GET and HEAD do not need one); a larger one gets 400 and a close.
    size_t max_body_bytes = 64 * 1024;
    // A kept-alive connection with no request in progress closes after this long.
    std::chrono::milliseconds idle_timeout{60'000};
    // From the first byte of a request to its last; a slower client gets 408 and a close.
    std::chrono::milliseconds request_timeout{10'000};
    // A response the client does not read within this long closes the connection.
    std::chrono::milliseconds send_timeout{10'000};
    // Connections past this many are closed as soon as they are accepted.
    size_t max_connections = 64;
    int listen_backlog = 128;
};

// Counters of one server: plain integers, read on its shard only.
struct server_stats {
    uint64_t connections_accepted = 0;
    uint64_t connections_open = 0;
    uint64_t connections_refused = 0;  // over max_connections
    uint64_t requests = 0;             // complete requests answered by a route or an error
    uint64_t bad_requests = 0;         // malformed or oversized: 400 and closed
    uint64_t timeouts = 0;             // 408: a request that did not arrive in time
    uint64_t idle_closes = 0;
    uint64_t handler_errors = 0;  // 500: a route threw
    uint64_t responses_2xx = 0;
    uint64_t responses_4xx = 0;
    uint64_t responses_5xx = 0;
};

}  // namespace wharf::net::http
