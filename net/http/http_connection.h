#pragma once

// http_connection: one accepted connection of the admin HTTP server (net/http/http_server.h).
//
// Design. One coroutine receives bytes into a fixed buffer and feeds them to http-parser (the
// maintained C parser Debian ships as libhttp-parser). When a request is complete the parser is
// paused, the request is answered (the route may suspend), and parsing resumes on the bytes
// left, so pipelined requests are answered in order. HTTP/1.1 keep-alive as the parser decides
// (Connection header and version); a request with "Connection: close", an upgrade, or an error
// ends the connection after its response.
//
// Bounds. The request line and header fields are fed to the parser at most max_header_bytes in
// all, so a longer head is refused before it is read further; bodies are counted as they stream
// through (never stored) and refused past max_body_bytes, and so is a Content-Length above it.
// Refusals and malformed requests get 400 with a one-line reason and the connection closes. No
// request in progress for idle_timeout closes the connection; a request slower than
// request_timeout gets 408; a response unread for send_timeout closes it. After a refusal the
// connection drains what the client still sends (bounded) before it closes, so that the client
// reads the refusal instead of a reset.
//
// Lives on the server's shard, inside the server coroutine that serves it; never moves (the
// parser points back at it).

#include <http_parser.h>
#include <sys/uio.h>

#include <array>
#include <chrono>
#include <cstddef>
#include <map>
#include <span>
#include <string>
#include <string_view>

#include "net/http/http_types.h"
#include "reactor/clock.h"
#include "reactor/task.h"

namespace wharf::net::http {

// What every connection of one server shares; owned by the server, which outlives them.
struct connection_context {
    const server_config& cfg;
    const std::map<std::string, handler, std::less<>>& routes;
    // GET (and HEAD), PUT and POST routes by path prefix (server::route_get_prefix, ...); an
    // exact GET route wins over a GET prefix.
    const std::map<std::string, handler, std::less<>>& get_routes;
    const std::map<std::string, handler, std::less<>>& put_routes;
    const std::map<std::string, handler, std::less<>>& post_routes;
    server_stats& stats;
};

class connection {
public:
    static constexpr size_t buffer_bytes = 16 * 1024;
    // After a refusal (400, 408): how long and how much the connection drains before it closes.
    static constexpr std::chrono::milliseconds linger_time{2000};
    static constexpr size_t linger_max_bytes = 1 << 20;

    // Takes ownership of the connected socket fd.
    connection(int fd, std::string peer, connection_context ctx) noexcept;
    ~connection();
    connection(const connection&) = delete;
    connection& operator=(const connection&) = delete;

    // Serves requests until the connection ends; returns with the socket closed.
    task<void> run();
    // Ends the connection: a pending receive or send returns at once. Idempotent.
    void close();

private:
    // Why a request cannot be answered normally.
    enum class refusal : uint8_t { none, header_too_large, body_too_large, malformed };

    // Feeds buffered bytes to the parser; true when a complete request is waiting (paused).
    bool parse();
    task<bool> answer();
    task<response> route(const request& req);
    // The methods some route serves `path` with ("GET, HEAD, POST"): a 405's Allow header.
    std::string allowed_methods(std::string_view path) const;
    task<bool> send_response(const response& resp, bool head_only, bool keep_alive);
    // Sends every byte of iov (which it consumes), continuing after short sends.
    task<bool> send_all(std::span<iovec> iov);
    task<void> refuse(int status, std::string_view why);
    task<void> linger();
    std::string refusal_reason() const;
    std::chrono::nanoseconds receive_timeout() const;
    void reset_message();

    static int on_message_begin(http_parser* p);
    static int on_url(http_parser* p, const char* at, size_t len);
    static int on_headers_complete(http_parser* p);
    static int on_body(http_parser* p, const char* at, size_t len);
    static int on_message_complete(http_parser* p);
    static const http_parser_settings settings;

    int _fd;
    std::string _peer;
    connection_context _ctx;
    http_parser _parser{};
    std::array<char, buffer_bytes> _buf{};
    size_t _pos = 0;  // bytes of _buf already parsed
    size_t _len = 0;  // bytes of _buf received
    // The request being parsed.
    bool _in_request = false;
    bool _headers_done = false;
    size_t _head_bytes = 0;
    size_t _body_bytes = 0;
    std::string _url;
    refusal _refusal = refusal::none;
    steady_time _request_start{};
    bool _closing = false;
    bool _refused = false;
};

}  // namespace wharf::net::http
