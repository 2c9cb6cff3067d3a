#pragma once

// http_server: a small HTTP/1.1 server on the reactor for the admin API and /metrics
// (DESIGN.md sections 1 and 2: shard 0 hosts it).
//
// What it is. GET and HEAD on exact paths registered with route() or on path prefixes
// registered with route_get_prefix(), PUT and POST on path prefixes registered with
// route_put_prefix() and route_post_prefix() (an operation on the resource the rest of the path
// names); anything else is 405 with an Allow header naming the
// methods the path does take, or 404 for a path that none takes. Parsing is http-parser's; the
// connection (http_connection.h) holds the design of one connection: keep-alive, pipelining,
// bounds, timeouts.
//
// Which shard. One listening socket on the shard that called listen(); the server and its
// connections live there, and every member function must be called there. Routes run there too:
// they reach other shards with submit_to, never by blocking.
//
// Lifecycle. listen() binds (errors are values) -> route() for each path -> start() spawns the
// accept loop -> stop() stops accepting, closes every connection, waits for routes in flight ->
// destruction. A started server must be stopped before it is destroyed.

#include <cstdint>
#include <map>
#include <memory>
#include <string>
#include <unordered_map>

#include "net/http/http_connection.h"
#include "net/http/http_types.h"
#include "reactor/base/ids.h"
#include "reactor/base/result.h"
#include "reactor/sync.h"
#include "reactor/task.h"

namespace wharf::net::http {

class server {
public:
    // Binds a listening socket on cfg.host:cfg.port (SO_REUSEADDR). Errors:
    // std::errc::invalid_argument for a host that is no numeric address or an invalid
    // configuration; the system's error for socket, bind (EADDRINUSE) and listen.
    static result<std::unique_ptr<server>> listen(server_config cfg);

    ~server();
    server(const server&) = delete;
    server& operator=(const server&) = delete;

    // REQUIRES: before start(); path starts with '/'; one handler per path.
    void route(std::string path, handler h);
    // PUT on any path starting with `prefix` (the longest registered prefix wins); the handler
    // parses the rest of req.path. REQUIRES: before start(); prefix starts with '/'.
    void route_put_prefix(std::string prefix, handler h);
    // The same for GET and HEAD, on paths that no route() names exactly.
    void route_get_prefix(std::string prefix, handler h);
    // The same for POST.
    void route_post_prefix(std::string prefix, handler h);

    uint16_t port() const noexcept { return _port; }
    // The bound address as "host:port" ("[::1]:9644" for IPv6).
    const std::string& address() const noexcept { return _address; }
    const server_config& config() const noexcept { return _cfg; }
    const server_stats& stats() const noexcept { return _stats; }

    // Spawns the accept loop. REQUIRES: called once, before stop().
    void start();
    // Stops accepting, ends every connection and returns once no route runs and every socket is
    // closed. Idempotent.
    task<void> stop();

private:
    server(int fd, std::string address, uint16_t port, server_config cfg);
    void add_prefix_route(std::map<std::string, handler, std::less<>>& table, std::string prefix,
                          handler h);

    task<void> accept_loop(gate::holder hold);
    task<void> serve(gate::holder hold, int fd, std::string peer);
    // true: accept again; false: the listener is done (classify_accept_error decides).
    task<bool> on_accept_error(int32_t err);
    void check_shard() const;

    int _fd;
    std::string _address;
    uint16_t _port;
    shard_id _shard;
    server_config _cfg;
    server_stats _stats;
    std::map<std::string, handler, std::less<>> _routes;
    std::map<std::string, handler, std::less<>> _get_routes;
    std::map<std::string, handler, std::less<>> _put_routes;
    std::map<std::string, handler, std::less<>> _post_routes;
    connection_context _ctx;
    gate _gate;
    std::unordered_map<uint64_t, connection*> _connections;
    uint64_t _next_connection_id = 1;
    bool _started = false;
    bool _stopping = false;
};

}  // namespace wharf::net::http
