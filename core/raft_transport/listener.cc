#include "core/raft_transport/listener.h"

#include <sys/socket.h>

#include <array>
#include <cerrno>
#include <chrono>
#include <utility>

#include "net/socket_address.h"
#include "reactor/io.h"
#include "reactor/logger.h"
#include "reactor/reactor.h"
#include "reactor/shard.h"
#include "reactor/smp.h"
#include "reactor/spawn.h"
#include "reactor/submit_to.h"
#include "reactor/timer.h"

namespace wharf::raft_rpc {

namespace {

using namespace std::chrono_literals;

}  // namespace

task<result<std::unique_ptr<rpc_listener>>> rpc_listener::listen(raft_transport_config cfg) {
    std::string why;
    status valid = validate_config(cfg, &why);
    if (!valid) {
        shard_logger().error("rpc listener: invalid configuration: {}", why);
        co_return valid.error();
    }
    auto bound = net::listen_on(cfg.listen_address, cfg.listen_backlog, net::reuse_port::no);
    if (!bound) co_return bound.error();
    owned_fd fd(bound->fd);
    uint16_t port = bound->address.port();
    // Each shard creates its own inbound side, so that its memory and its checks of the owner
    // shard belong to that shard.
    unsigned count = smp::count();
    std::vector<std::unique_ptr<rpc_inbound>> shards(count);
    auto make = [&cfg] { return std::make_unique<rpc_inbound>(cfg); };
    for (unsigned k = 0; k < count; ++k) {
        shard_id target(k);
        shards[k] = co_await submit_to(target, make);
    }
    shard_logger().info("rpc listener on {} (port {}, {} shards)",
                        net::to_string(bound->address.storage), port, count);
    co_return std::unique_ptr<rpc_listener>(
        new rpc_listener(std::move(fd), port, std::move(cfg), std::move(shards)));
}

rpc_listener::rpc_listener(owned_fd fd, uint16_t port, raft_transport_config cfg,
                           std::vector<std::unique_ptr<rpc_inbound>> shards)
    : _fd(std::move(fd)),
      _port(port),
      _shard(this_shard()),
      _cfg(std::move(cfg)),
      _identity{.cluster = _cfg.cluster,
                .node = _cfg.self,
                .shard_count = static_cast<uint32_t>(shards.size())},
      _shards(std::move(shards)) {}

rpc_listener::~rpc_listener() {
    WHARF_ASSERT(_stopped, "rpc listener on port {} destroyed before stop()", _port);
}

void rpc_listener::check_shard() const {
    WHARF_ASSERT(this_shard() == _shard, "rpc listener of shard {} used on shard {}", _shard,
                 this_shard());
}

rpc_inbound& rpc_listener::local() const {
    shard_id s = this_shard();
    WHARF_ASSERT(s.value() < _shards.size() && _shards[s.value()] != nullptr,
                 "rpc listener: no inbound side for shard {} (stopped, or not a shard)", s);
    return *_shards[s.value()];
}

void rpc_listener::start() {
    check_shard();
    WHARF_ASSERT(!_started && !_stopping, "rpc listener started twice or after stop");
    _started = true;
    auto hold = _gate.hold();
    WHARF_ASSERT(hold, "a fresh listener's gate is closed");
    spawn(accept_loop(std::move(hold)), "rpc accept loop");
}

task<void> rpc_listener::stop() {
    check_shard();
    if (_stopping) {
        co_await _gate.close();  // a second caller waits for the first one's handshakes too
        co_return;
    }
    _stopping = true;
    // Ends a pending accept; the handshakes in progress end their reads the same way.
    _fd.shutdown();
    for (auto& [id, fd] : _pending) ::shutdown(fd, SHUT_RDWR);
    co_await _gate.close();
    for (unsigned k = 0; k < _shards.size(); ++k) {
        // Moved into a named lambda (GCC 12: no init-captures in a co_await temporary), stopped
        // and destroyed on its own shard.
        auto stop_there = [inbound = std::move(_shards[k])]() mutable -> task<void> {
            co_await inbound->stop();
            inbound.reset();
        };
        shard_id target(k);
        co_await submit_to(target, std::move(stop_there));
    }
    int fd = _fd.release();
    if (fd >= 0) co_await io::close(fd);
    _stopped = true;
    shard_logger().info("rpc listener on port {} stopped", _port);
}

task<void> rpc_listener::accept_loop([[maybe_unused]] gate::holder hold) {
    while (!_stopping) {
        sockaddr_storage peer{};
        socklen_t peer_len = sizeof(peer);
        int32_t res = co_await io::accept(_fd.get(), reinterpret_cast<sockaddr*>(&peer), &peer_len);
        if (res < 0) {
            if (co_await on_accept_error(res)) continue;
            break;
        }
        owned_fd fd(res);
        ++_stats.connections_accepted;
        if (_stopping) break;
        if (_pending.size() >= _cfg.max_pending_handshakes) {
            ++_stats.handshakes_over_limit;
            uint64_t skipped = 0;
            if (_refusal_log.allow(&skipped)) {
                shard_logger().warn(
                    "rpc listener on port {}: {} handshakes in progress, closing a "
                    "new connection from {}{}",
                    _port, _pending.size(), net::to_string(peer),
                    log_limiter::skipped_note(skipped));
            }
            continue;  // fd closes here
        }
        auto shake_hold = _gate.hold();
        if (!shake_hold) break;
        tune_rpc_socket(fd.get());
        uint64_t id = _next_id++;
        _pending.emplace(id, fd.get());
        spawn(handshake(std::move(shake_hold), std::move(fd), net::to_string(peer), id),
              "rpc handshake");
    }
}

task<bool> rpc_listener::on_accept_error(int32_t err) {
    if (_stopping || reactor::local().stopping()) co_return false;
    ++_stats.accept_errors;
    switch (net::classify_accept_error(err)) {
        case net::accept_error_action::retry:
            co_return true;
        case net::accept_error_action::pause:
            shard_logger().warn("rpc listener on port {}: accept failed: {}; retrying", _port,
                                errno_code(err).message());
            co_await sleep_for(10ms);
            co_return !_stopping;
        case net::accept_error_action::stop:
            break;
    }
    shard_logger().error("rpc listener on port {}: accept failed: {}; not accepting", _port,
                         errno_code(err).message());
    co_return false;
}

task<void> rpc_listener::handshake([[maybe_unused]] gate::holder hold, owned_fd fd,
                                   std::string address, uint64_t id) {
    // However this ends, stop() must no longer see the descriptor.
    struct forget {
        std::unordered_map<uint64_t, int>& pending;
        uint64_t id;
        ~forget() { pending.erase(id); }
    } forget_on_exit{_pending, id};
    steady_time deadline = steady_now() + _cfg.handshake_timeout;
    std::array<std::byte, rpc::handshake_request_bytes> request{};
    std::span<std::byte> request_span(request);
    status got = co_await recv_exact(fd.get(), request_span, deadline);
    if (!got) {
        ++_stats.handshake_failures;
        shard_logger().debug("rpc connection from {}: no handshake ({})", address,
                             got.error().message());
        co_return;
    }
    auto decoded = rpc::decode_handshake(request);
    rpc::handshake_reply reply = rpc::answer_handshake(decoded, _identity);
    auto reply_bytes = rpc::encode_handshake_reply(reply);
    std::span<const std::byte> reply_span(reply_bytes);
    status sent = co_await send_exact(fd.get(), reply_span, deadline);
    if (reply.status != rpc::handshake_status::accepted) {
        ++_stats.refused[static_cast<size_t>(reply.status)];
        log_refusal(address, reply.status);
        co_return;  // the reply was sent if it could be; fd closes here
    }
    if (!sent) {
        ++_stats.handshake_failures;
        co_return;
    }
    ++_stats.handshakes_accepted;
    _pending.erase(id);
    // The descriptor travels inside the function object: adopted on the target shard, or closed
    // by owned_fd wherever the object is destroyed without having run.
    shard_id target = decoded->target_shard;
    rpc_inbound* inbound = _shards[target.value()].get();
    inbound_peer peer{.node = decoded->node, .version = reply.version, .address = address};
    auto adopt = [inbound, fd = std::move(fd), peer = std::move(peer)]() mutable {
        inbound->adopt(std::move(fd), std::move(peer));
    };
    co_await submit_to(target, std::move(adopt));
}

void rpc_listener::log_refusal(const std::string& address, rpc::handshake_status s) {
    uint64_t skipped = 0;
    if (_refusal_log.allow(&skipped)) {
        shard_logger().warn("rpc connection from {} refused: {}{}", address, rpc::to_string(s),
                            log_limiter::skipped_note(skipped));
    }
}

}  // namespace wharf::raft_rpc
