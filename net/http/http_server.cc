#include "net/http/http_server.h"

#include <netinet/in.h>
#include <netinet/tcp.h>
#include <sys/socket.h>
#include <unistd.h>

#include <cerrno>
#include <chrono>
#include <utility>

#include "net/socket_address.h"
#include "reactor/io.h"
#include "reactor/logger.h"
#include "reactor/reactor.h"
#include "reactor/shard.h"
#include "reactor/spawn.h"
#include "reactor/timer.h"

namespace wharf::net::http {

namespace {

using namespace std::chrono_literals;

bool valid(const server_config& cfg) noexcept {
    return cfg.max_header_bytes >= 64 && cfg.max_connections > 0 && cfg.listen_backlog > 0 &&
           cfg.idle_timeout.count() > 0 && cfg.request_timeout.count() > 0 &&
           cfg.send_timeout.count() > 0;
}

}  // namespace

result<std::unique_ptr<server>> server::listen(server_config cfg) {
    if (!valid(cfg)) return std::make_error_code(std::errc::invalid_argument);
    WHARF_TRY(addr, parse_address(cfg.host, cfg.port));
    WHARF_TRY(bound, listen_on(addr, cfg.listen_backlog, reuse_port::no));
    return std::unique_ptr<server>(new server(bound.fd, to_string(bound.address.storage),
                                              bound.address.port(), std::move(cfg)));
}

server::server(int fd, std::string address, uint16_t port, server_config cfg)
    : _fd(fd),
      _address(std::move(address)),
      _port(port),
      _shard(this_shard()),
      _cfg(std::move(cfg)),
      _ctx{.cfg = _cfg, .routes = _routes, .get_routes = _get_routes, .put_routes = _put_routes,
             .post_routes = _post_routes, .stats = _stats} {}

server::~server() {
    WHARF_ASSERT(_gate.count() == 0 && _connections.empty(),
                 "HTTP server on port {} destroyed while {} connections run; stop() it first",
                 _port, _connections.size());
    if (_fd >= 0) ::close(_fd);
}

void server::check_shard() const {
    WHARF_ASSERT(this_shard() == _shard, "HTTP server of shard {} used on shard {}", _shard,
                 this_shard());
}

void server::route(std::string path, handler h) {
    check_shard();
    WHARF_ASSERT(!_started, "route {} added after start", path);
    WHARF_ASSERT(!path.empty() && path.front() == '/' && h, "invalid route '{}'", path);
    auto [it, fresh] = _routes.emplace(std::move(path), std::move(h));
    WHARF_ASSERT(fresh, "route {} registered twice", it->first);
}

void server::route_get_prefix(std::string prefix, handler h) {
    add_prefix_route(_get_routes, std::move(prefix), std::move(h));
}

void server::route_put_prefix(std::string prefix, handler h) {
    add_prefix_route(_put_routes, std::move(prefix), std::move(h));
}

void server::route_post_prefix(std::string prefix, handler h) {
    add_prefix_route(_post_routes, std::move(prefix), std::move(h));
}

void server::add_prefix_route(std::map<std::string, handler, std::less<>>& table,
                              std::string prefix, handler h) {
    check_shard();
    WHARF_ASSERT(!_started, "route {} added after start", prefix);
    WHARF_ASSERT(!prefix.empty() && prefix.front() == '/' && h, "invalid route '{}'", prefix);
    auto [it, fresh] = table.emplace(std::move(prefix), std::move(h));
    WHARF_ASSERT(fresh, "route {} registered twice", it->first);
}

void server::start() {
    check_shard();
    WHARF_ASSERT(!_started && !_stopping, "HTTP server on port {} started twice or after stop",
                 _port);
    _started = true;
    auto hold = _gate.hold();
    WHARF_ASSERT(hold, "a fresh server's gate is closed");
    spawn(accept_loop(std::move(hold)), "http accept loop");
}

task<void> server::stop() {
    check_shard();
    if (_gate.closed()) {
        co_await _gate.close();
        co_return;
    }
    _stopping = true;
    // Makes a pending accept fail.
    if (_fd >= 0) ::shutdown(_fd, SHUT_RDWR);
    for (auto& [id, c] : _connections) c->close();
    co_await _gate.close();
    if (_fd >= 0) co_await io::close(std::exchange(_fd, -1));
}

task<void> server::accept_loop([[maybe_unused]] gate::holder hold) {
    while (!_stopping) {
        sockaddr_storage peer{};
        socklen_t peer_len = sizeof(peer);
        int32_t fd = co_await io::accept(_fd, reinterpret_cast<sockaddr*>(&peer), &peer_len);
        if (fd < 0) {
            if (co_await on_accept_error(fd)) continue;
            break;
        }
        auto conn_hold = _gate.hold();
        if (_stopping || !conn_hold) {
            ::close(fd);
            break;
        }
        if (_connections.size() >= _cfg.max_connections) {
            ++_stats.connections_refused;
            ::close(fd);
            continue;
        }
        // Each response is written whole; pipelined answers must not wait for Nagle.
        (void)set_socket_flag(fd, IPPROTO_TCP, TCP_NODELAY);
        ++_stats.connections_accepted;
        spawn(serve(std::move(conn_hold), fd, to_string(peer)), "http connection");
    }
}

task<bool> server::on_accept_error(int32_t err) {
    if (_stopping || reactor::local().stopping()) co_return false;
    switch (classify_accept_error(err)) {
        case accept_error_action::retry:
            co_return true;  // that connection is gone; the listener is fine
        case accept_error_action::pause: {
            shard_logger().warn("admin API on {}: accept failed: {}; retrying", _address,
                                errno_code(err).message());
            bool slept = co_await sleep_for(100ms);
            co_return slept && !_stopping;
        }
        case accept_error_action::stop:
            break;
    }
    shard_logger().error("admin API on {}: accept failed: {}; not accepting", _address,
                         errno_code(err).message());
    co_return false;
}

task<void> server::serve([[maybe_unused]] gate::holder hold, int fd, std::string peer) {
    uint64_t id = _next_connection_id++;
    connection conn(fd, std::move(peer), _ctx);
    _connections.emplace(id, &conn);
    ++_stats.connections_open;
    if (_stopping) conn.close();
    co_await conn.run();
    _connections.erase(id);
    --_stats.connections_open;
}

}  // namespace wharf::net::http
