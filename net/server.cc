#include "net/server.h"

#include <arpa/inet.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <sys/socket.h>
#include <unistd.h>

#include <cerrno>
#include <chrono>
#include <limits>
#include <string>
#include <utility>

#include "net/socket_address.h"
#include "reactor/io.h"
#include "reactor/logger.h"
#include "reactor/reactor.h"
#include "reactor/shard.h"
#include "reactor/spawn.h"
#include "reactor/timer.h"

namespace wharf::net {

namespace {

using namespace std::chrono_literals;

bool valid(const server_config& cfg) noexcept {
    return cfg.max_request_bytes <= static_cast<size_t>(std::numeric_limits<int32_t>::max()) &&
           cfg.max_inflight_bytes > 0 && cfg.max_inflight_requests_per_connection > 0 &&
           cfg.idle_timeout.count() > 0 && cfg.listen_backlog > 0;
}

}  // namespace

result<std::unique_ptr<server>> server::listen(server_config cfg, frame_handler handler) {
    if (!valid(cfg) || !handler) return std::make_error_code(std::errc::invalid_argument);
    WHARF_TRY(addr, parse_address(cfg.host, cfg.port));
    // SO_REUSEPORT lets every shard bind the same address.
    WHARF_TRY(bound, listen_on(addr, cfg.listen_backlog, reuse_port::yes));
    int fd = bound.fd;
    uint16_t port = bound.address.port();
    shard_logger().info("kafka listener on {} (port {})", to_string(bound.address.storage), port);
    return std::unique_ptr<server>(new server(fd, port, std::move(cfg), std::move(handler)));
}

server::server(int fd, uint16_t port, server_config cfg, frame_handler handler)
    : _fd(fd),
      _port(port),
      _shard(this_shard()),
      _cfg(std::move(cfg)),
      _handler(std::move(handler)),
      _memory(_cfg.max_inflight_bytes),
      _ctx{.cfg = _cfg, .handler = _handler, .memory = _memory, .stats = _stats} {}

server::~server() {
    WHARF_ASSERT(_gate.count() == 0 && _connections.empty(),
                 "server on port {} destroyed while {} connections run; stop() it first", _port,
                 _connections.size());
    if (_fd >= 0) ::close(_fd);
}

void server::check_shard() const {
    WHARF_ASSERT(this_shard() == _shard, "server of shard {} used on shard {}", _shard,
                 this_shard());
}

void server::start() {
    check_shard();
    WHARF_ASSERT(!_started && !_stopping, "server on port {} started twice or after stop", _port);
    _started = true;
    auto hold = _gate.hold();
    WHARF_ASSERT(hold, "a fresh server's gate is closed");
    spawn(accept_loop(std::move(hold)), "kafka accept loop");
}

task<void> server::stop() {
    check_shard();
    if (_gate.closed()) {
        co_await _gate.close();  // a second caller waits for the first one's work too
        co_return;
    }
    _stopping = true;
    // Shutting the listener down makes a pending accept fail, and takes the socket out of the
    // SO_REUSEPORT group so that the kernel sends new connections to the other shards.
    if (_fd >= 0) ::shutdown(_fd, SHUT_RDWR);
    for (auto& [id, c] : _connections) c->close(close_reason::server_stopped);
    co_await _gate.close();
    if (_fd >= 0) co_await io::close(std::exchange(_fd, -1));
    shard_logger().info("kafka listener on port {} stopped", _port);
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
        // Kafka requests and responses are small messages that must not wait for Nagle.
        (void)set_socket_flag(fd, IPPROTO_TCP, TCP_NODELAY);
        ++_stats.connections_accepted;
        connection_info info{.id = _next_connection_id++, .peer = to_string(peer)};
        spawn(serve(std::move(conn_hold), fd, std::move(info)), "kafka connection");
    }
}

task<bool> server::on_accept_error(int32_t err) {
    if (_stopping || reactor::local().stopping()) co_return false;
    ++_stats.accept_errors;
    switch (classify_accept_error(err)) {
        case accept_error_action::retry:
            co_return true;  // that connection is gone; the listener is fine
        case accept_error_action::pause:
            shard_logger().warn("kafka listener on port {}: accept failed: {}; retrying", _port,
                                errno_code(err).message());
            co_await sleep_for(10ms);
            co_return !_stopping;
        case accept_error_action::stop:
            break;
    }
    shard_logger().error("kafka listener on port {}: accept failed: {}; not accepting", _port,
                         errno_code(err).message());
    co_return false;
}

task<void> server::serve([[maybe_unused]] gate::holder hold, int fd, connection_info info) {
    uint64_t id = info.id;
    connection conn(fd, std::move(info), _ctx);
    _connections.emplace(id, &conn);
    ++_stats.connections_open;
    // A connection accepted while stop() was already closing the others closes at once.
    if (_stopping) conn.close(close_reason::server_stopped);
    co_await conn.run();
    _connections.erase(id);
    --_stats.connections_open;
}

}  // namespace wharf::net
