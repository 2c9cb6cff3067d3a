#include "core/raft_transport/peer_connection.h"

#include <sys/socket.h>
#include <sys/uio.h>

#include <algorithm>
#include <array>
#include <cerrno>
#include <utility>

#include "core/raft_transport/errc.h"
#include "net/rpc/frame.h"
#include "net/rpc/handshake.h"
#include "reactor/base/assert.h"
#include "reactor/io.h"
#include "reactor/logger.h"
#include "reactor/shard.h"
#include "reactor/spawn.h"
#include "reactor/timer.h"

namespace wharf::raft_rpc {

namespace {

using namespace std::chrono_literals;

// sendmsg takes at most IOV_MAX (1024 on Linux) iovecs per call.
constexpr size_t max_iov_per_send = 1024;
// Frames up to this size are copied into the batch's buffer rather than spliced into it.
constexpr size_t copy_frame_max_bytes = 4096;
// The longest sleep between checks for stop while waiting out a backoff.
constexpr std::chrono::milliseconds stop_check_interval{50};

std::error_code io_error(int32_t res) noexcept {
    // A link timeout cancels the operation.
    if (res == -ECANCELED || res == -ETIME) return std::make_error_code(std::errc::timed_out);
    return errno_code(res);
}

}  // namespace

peer_connection::peer_connection(node_id peer, net::socket_address address,
                                 const raft_transport_config& cfg, peer_transport_stats& stats,
                                 const std::function<void(node_id)>& on_unreachable)
    : _peer(peer),
      _address(address),
      _cfg(cfg),
      _stats(stats),
      _shard(this_shard()),
      _on_unreachable(on_unreachable) {}

peer_connection::~peer_connection() {
    WHARF_ASSERT(_tasks.count() == 0 && _link == nullptr,
                 "connection to node {} destroyed while it runs; stop it first", _peer);
}

bool peer_connection::has_room(size_t frame_bytes) const noexcept {
    size_t pending = pending_bytes();
    size_t bound = _cfg.max_queued_bytes_per_peer;
    return pending == 0 || (frame_bytes <= bound && pending <= bound - frame_bytes);
}

void peer_connection::enqueue(iobuf payload, rpc::frame_type type) {
    WHARF_ASSERT(this_shard() == _shard, "connection of shard {} used on shard {}", _shard,
                 this_shard());
    WHARF_ASSERT(!_stopping, "message queued for node {} after stop", _peer);
    _queued_bytes += rpc::frame_header_bytes + payload.size();
    _queue.push_back(queued_frame{type, std::move(payload)});
    ++_stats.messages_queued;
    start_running();
}

void peer_connection::keep_connected() {
    WHARF_ASSERT(!_stopping, "connection to node {} kept after stop", _peer);
    if (_keep_connected) return;
    _keep_connected = true;
    start_running();
}

void peer_connection::start_running() {
    if (_running) {
        _wake.notify_all();
        return;
    }
    _running = true;
    auto hold = _tasks.hold();
    WHARF_ASSERT(hold, "connection to node {} started after stop", _peer);
    spawn(run(std::move(hold)), "rpc peer connection");
}

void peer_connection::set_address(net::socket_address address) {
    _address = address;
    ++_address_generation;
    _backoff = 0ms;
    _next_attempt = steady_time{};
    if (_link != nullptr) {
        _link->broken = true;
        _link->fd.shutdown();
        _wake.notify_all();
    }
}

void peer_connection::begin_stop() {
    if (_stopping) return;
    _stopping = true;
    if (_link != nullptr) _link->fd.shutdown();
    if (_attempt_fd >= 0) ::shutdown(_attempt_fd, SHUT_RDWR);
    _wake.notify_all();
}

task<void> peer_connection::stopped() {
    WHARF_ASSERT(_stopping, "stopped() before begin_stop()");
    co_await _tasks.close();
    WHARF_ASSERT(_queue.empty() && _link == nullptr, "connection to node {} stopped unclean",
                 _peer);
}

task<void> peer_connection::run([[maybe_unused]] gate::holder hold) {
    while (!_stopping) {
        if (_link != nullptr && _link->broken) co_await disconnect();
        // Idle: wait for a message, unless this connection is kept up (or probed) and is down.
        if (_queue.empty() && !((_keep_connected || _probe) && _link == nullptr)) {
            co_await _wake.wait();
            continue;
        }
        if (_link == nullptr) {
            bool up = co_await connect();
            if (!up) {
                drop_queue(_stopping ? drop_reason::stopped : drop_reason::connection_failed);
                continue;
            }
        }
        if (_queue.empty()) continue;
        bool sent = co_await flush();
        if (!sent) drop_queue(drop_reason::connection_failed);
    }
    if (_link != nullptr) co_await disconnect();
    drop_queue(drop_reason::stopped);
}

task<bool> peer_connection::connect() {
    if (steady_now() < _next_attempt) {
        bool waited = co_await sleep_until(_next_attempt);
        if (!waited) co_return false;
    }
    uint64_t generation = _address_generation;
    _probe = false;
    auto opened = co_await open_link();
    // An opened link closes with its owned_fd. One to an address replaced meanwhile is not
    // used; set_address reset the backoff, so the next message connects to the new one at once.
    if (_stopping || generation != _address_generation) co_return false;
    if (!opened) {
        on_connect_failure(opened.error());
        if (opened.error() == std::errc::connection_refused && _on_unreachable) {
            _on_unreachable(_peer);
        }
        co_return false;
    }
    _link = std::move(*opened);
    ++_stats.connects;
    if (_failures_in_row > 0) {
        shard_logger().info("rpc connection to node {} at {} up after {} failed attempts", _peer,
                            net::to_string(_address.storage), _failures_in_row);
    } else {
        shard_logger().info("rpc connection to node {} at {} up", _peer,
                            net::to_string(_address.storage));
    }
    _failures_in_row = 0;
    _backoff = 0ms;
    auto watch_hold = _tasks.hold();
    WHARF_ASSERT(watch_hold, "connection to node {}: gate closed while running", _peer);
    spawn(watch(std::move(watch_hold), _link.get()), "rpc peer watcher");
    co_return true;
}

task<result<std::unique_ptr<peer_connection::link>>> peer_connection::open_link() {
    // A copy in this frame: the kernel reads the address while the connect is in flight.
    net::socket_address target = _address;
    int raw = ::socket(target.storage.ss_family, SOCK_STREAM | SOCK_CLOEXEC, 0);
    if (raw < 0) co_return errno_code(errno);
    owned_fd fd(raw);
    _attempt_fd = raw;
    struct forget {
        int& fd;
        ~forget() { fd = -1; }
    } forget_attempt{_attempt_fd};
    int32_t rc = co_await io::connect_for(raw, target.get(), target.len, _cfg.connect_timeout);
    if (rc < 0) co_return io_error(rc);
    tune_rpc_socket(raw);

    rpc::handshake_request request;
    request.cluster = _cfg.cluster;
    request.node = _cfg.self;
    request.target_shard = _shard;
    auto request_bytes = rpc::encode_handshake(request);
    steady_time deadline = steady_now() + _cfg.handshake_timeout;
    std::span<const std::byte> out(request_bytes);
    status sent = co_await send_exact(raw, out, deadline);
    if (!sent) co_return sent.error();
    std::array<std::byte, rpc::handshake_reply_bytes> reply_bytes{};
    std::span<std::byte> in(reply_bytes);
    status got = co_await recv_exact(raw, in, deadline);
    if (!got) co_return got.error();

    auto reply = rpc::decode_handshake_reply(reply_bytes);
    if (!reply) {
        ++_stats.handshake_refusals;
        co_return reply.error();
    }
    auto version = rpc::handshake_outcome(*reply, request);
    if (!version) {
        ++_stats.handshake_refusals;
        co_return version.error();
    }
    if (_cfg.verify_peer == verify_peer_node::yes && reply->node != _peer) {
        ++_stats.handshake_refusals;
        shard_logger().error("rpc peer at {} is node {}, not node {}: check the peer addresses",
                             net::to_string(target.storage), reply->node, _peer);
        co_return make_error_code(transport_errc::wrong_node);
    }
    if (!_cfg.hello.empty()) {
        iobuf hello;
        hello.append(_cfg.hello.data(), _cfg.hello.size());
        iobuf frame = rpc::encode_frame(*version, rpc::frame_type::broker_info, 0, std::move(hello));
        std::vector<std::byte> bytes(frame.size());
        frame.copy_to(0, bytes.data(), bytes.size());
        std::span<const std::byte> hello_out(bytes);
        status told = co_await send_exact(raw, hello_out, deadline);
        if (!told) co_return told.error();
    }
    auto l = std::make_unique<link>();
    l->opened = steady_now();
    l->fd = std::move(fd);
    l->version = *version;
    co_return std::move(l);
}

void peer_connection::on_connect_failure(std::error_code ec) {
    ++_stats.connect_failures;
    ++_failures_in_row;
    _backoff = _backoff.count() == 0 ? _cfg.reconnect_backoff_min
                                     : std::min(_backoff * 2, _cfg.reconnect_backoff_max);
    _next_attempt = steady_now() + _backoff;
    // The first failure of a run is worth a warning; the retries that follow only at debug,
    // with a reminder now and then, so that a peer that is down for an hour does not fill the
    // log.
    std::string address = net::to_string(_address.storage);
    if (_failures_in_row == 1) {
        shard_logger().warn(
            "rpc connection to node {} at {} failed: {}; retrying with backoff up to {} ms", _peer,
            address, ec.message(), _cfg.reconnect_backoff_max.count());
    } else if (_failures_in_row % 100 == 0) {
        shard_logger().warn("rpc connection to node {} at {} still failing after {} attempts: {}",
                            _peer, address, _failures_in_row, ec.message());
    } else {
        shard_logger().debug("rpc connection to node {} at {} failed: {}", _peer, address,
                             ec.message());
    }
}

task<bool> peer_connection::flush() {
    link& l = *_link;
    std::vector<queued_frame> batch;
    batch.swap(_queue);
    _inflight_bytes = std::exchange(_queued_bytes, 0);
    // Frames are made here, not when queued, because only the handshake tells the version.
    iobuf out;
    for (queued_frame& q : batch) {
        iobuf frame = rpc::encode_frame(l.version, q.type, l.next_correlation_id++,
                                        std::move(q.payload));
        // Small frames (votes, heartbeats, replies) are copied together so that a batch of
        // them takes a few iovecs instead of two each; larger payloads are spliced, not copied.
        if (frame.size() <= copy_frame_max_bytes) {
            for (auto fragment : frame.fragments()) out.append(fragment);
        } else {
            out.append(std::move(frame));
        }
    }
    size_t frames = batch.size();
    batch.clear();
    std::vector<iovec> iov;
    size_t pos = 0;
    int32_t failure = 0;
    while (pos < out.size()) {
        iov.clear();
        out.to_iovecs(pos, out.size() - pos, iov, max_iov_per_send);
        msghdr msg{};
        msg.msg_iov = iov.data();
        msg.msg_iovlen = iov.size();
        int32_t n = co_await io::sendmsg_for(l.fd.get(), &msg, _cfg.send_timeout);
        ++_stats.send_calls;
        if (n == -EINTR) continue;
        if (n <= 0) {
            failure = n == 0 ? -EPIPE : n;
            break;
        }
        pos += static_cast<size_t>(n);
        _stats.bytes_out += static_cast<uint64_t>(n);
    }
    _inflight_bytes = 0;
    if (failure != 0) {
        l.broken = true;
        _stats.dropped[static_cast<size_t>(drop_reason::connection_failed)] += frames;
        if (!_stopping) {
            shard_logger().info("rpc connection to node {}: write failed: {}", _peer,
                                io_error(failure).message());
        }
        co_return false;
    }
    _stats.frames_out += frames;
    co_return true;
}

task<void> peer_connection::watch([[maybe_unused]] gate::holder hold, link* l) {
    std::array<std::byte, 64> buf{};
    int32_t got = -EINTR;
    while (got == -EINTR) got = co_await io::recv(l->fd.get(), buf.data(), buf.size());
    if (!l->broken && !_stopping) {
        // The acceptor sends nothing after its handshake reply in this protocol version.
        if (got > 0) {
            shard_logger().error(
                "rpc connection to node {}: {} unexpected bytes from the peer; closing", _peer,
                got);
        } else {
            shard_logger().info("rpc connection to node {} closed: {}", _peer,
                                got == 0 ? "by the peer" : errno_code(got).message());
            _probe = true;
            // A peer that accepts and closes again at once is probed no faster than the backoff.
            steady_time now = steady_now();
            if (now - l->opened < _cfg.reconnect_backoff_min) {
                _next_attempt = now + _cfg.reconnect_backoff_min;
            }
        }
    }
    l->broken = true;
    l->watcher_done = true;
    l->watcher_end.notify_all();
    _wake.notify_all();
}

task<void> peer_connection::disconnect() {
    link& l = *_link;
    l.broken = true;
    l.fd.shutdown();
    while (!l.watcher_done) co_await l.watcher_end.wait();
    int fd = l.fd.release();
    co_await io::close(fd);
    _link.reset();
    ++_stats.disconnects;
}

void peer_connection::drop_queue(drop_reason why) {
    if (_queue.empty()) return;
    _stats.dropped[static_cast<size_t>(why)] += _queue.size();
    _queue.clear();
    _queued_bytes = 0;
}

task<bool> peer_connection::sleep_until(steady_time t) {
    while (!_stopping) {
        steady_time now = steady_now();
        if (now >= t) co_return true;
        std::chrono::nanoseconds slice =
            std::min<std::chrono::nanoseconds>(t - now, stop_check_interval);
        bool slept = co_await sleep_for(slice);
        if (!slept) co_return false;  // the reactor is shutting down
    }
    co_return false;
}

}  // namespace wharf::raft_rpc
