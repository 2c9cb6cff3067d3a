#include "net/connection.h"

#include <liburing.h>
#include <sys/socket.h>
#include <sys/uio.h>

#include <algorithm>
#include <array>
#include <cerrno>
#include <exception>
#include <limits>
#include <utility>
#include <vector>

#include "reactor/io.h"
#include "reactor/logger.h"
#include "reactor/reactor.h"
#include "reactor/spawn.h"
#include "reactor/when_all.h"

namespace wharf::net {

namespace {

using namespace std::chrono_literals;

// sendmsg takes at most IOV_MAX (1024 on Linux) iovecs per call.
constexpr size_t max_iov_per_send = 1024;
constexpr size_t prefix_bytes = 4;

int32_t decode_be32(const std::array<std::byte, prefix_bytes>& b) noexcept {
    uint32_t v =
        (uint32_t(b[0]) << 24) | (uint32_t(b[1]) << 16) | (uint32_t(b[2]) << 8) | uint32_t(b[3]);
    return static_cast<int32_t>(v);
}

std::array<std::byte, prefix_bytes> encode_be32(uint32_t v) noexcept {
    return {std::byte(v >> 24), std::byte(v >> 16), std::byte(v >> 8), std::byte(v)};
}

// A recvmsg that the kernel cancels with -ECANCELED when nothing arrived within d.
auto recvmsg_for(int fd, msghdr* msg, std::chrono::nanoseconds d) {
    return io::op_with_timeout([=](io_uring_sqe* s) { io_uring_prep_recvmsg(s, fd, msg, 0); }, d);
}

// The address just past the last byte of buf; null when buf is empty.
const std::byte* end_of(const iobuf& buf) noexcept {
    const std::byte* end = nullptr;
    for (auto f : buf.fragments()) end = f.data() + f.size();
    return end;
}

}  // namespace

const char* to_string(close_reason r) noexcept {
    switch (r) {
        case close_reason::none:
            return "open";
        case close_reason::peer_closed:
            return "closed by the peer";
        case close_reason::io_error:
            return "socket error";
        case close_reason::bad_frame:
            return "bad frame size";
        case close_reason::handler_error:
            return "request handler error";
        case close_reason::idle:
            return "idle timeout";
        case close_reason::server_stopped:
            return "server stopped";
    }
    return "unknown";
}

connection::connection(int fd, connection_info info, connection_context ctx) noexcept
    : _fd(fd), _info(std::move(info)), _ctx(ctx), _last_activity(steady_now()) {}

connection::~connection() {
    WHARF_ASSERT(!_ran || (_pipeline.empty() && _handlers.count() == 0),
                 "connection {} destroyed with {} requests in flight", _info.id, _pipeline.size());
    if (_fd >= 0) ::close(_fd);
}

void connection::close(close_reason why) {
    if (_closing) return;
    _closing = true;
    _info.closing = true;
    _reason = why;
    // Ends a pending recv (it sees end of stream) and a pending send (EPIPE); the descriptor
    // itself stays open until run() is done with it.
    if (_fd >= 0) ::shutdown(_fd, SHUT_RDWR);
    _writer_wake.notify_all();
    _room.notify_all();
}

task<void> connection::run() {
    _ran = true;
    _last_activity = steady_now();
    co_await when_all(read_loop(), write_loop());
    // The writer ended after every slot completed, so handlers are at most finishing their frames.
    co_await _handlers.close();
    shard_logger().debug("connection {} from {} closed: {}", _info.id, _info.peer,
                         to_string(_reason));
    int fd = std::exchange(_fd, -1);
    co_await io::close(fd);
}

task<void> connection::read_loop() {
    // However the loop ends, the writer must learn that no slot will be added.
    struct reader_end {
        connection& c;
        ~reader_end() {
            c._reader_done = true;
            c._writer_wake.notify_all();
        }
    } end{*this};
    while (!_closing) {
        if (!co_await fill(prefix_bytes)) break;
        std::array<std::byte, prefix_bytes> prefix;
        _in.copy_to(0, prefix.data(), prefix.size());
        int32_t size = decode_be32(prefix);
        if (size < 0 || static_cast<size_t>(size) > _ctx.cfg.max_request_bytes) {
            ++_ctx.stats.oversized_frames;
            if (size < 0) {
                shard_logger().warn("connection {} from {}: negative frame size {}, closing",
                                    _info.id, _info.peer, size);
            } else {
                shard_logger().warn("connection {} from {}: frame of {} bytes is larger than "
                                    "the {}-byte limit (--max-request-bytes), closing",
                                    _info.id, _info.peer, size, _ctx.cfg.max_request_bytes);
            }
            close(close_reason::bad_frame);
            break;
        }
        _in.trim_front(prefix_bytes);
        size_t units = 0;
        if (!co_await admit(static_cast<size_t>(size), units)) break;
        if (!co_await fill_frame(static_cast<size_t>(size))) {
            _ctx.memory.release(units);
            break;
        }
        iobuf frame = _in.share(0, static_cast<size_t>(size));
        _in.trim_front(static_cast<size_t>(size));
        if (frame.fragment_count() > 1 && frame.size() <= linearize_max_bytes) {
            (void)frame.linearize(0, frame.size());
        }
        dispatch(std::move(frame), units);
    }
}

task<bool> connection::admit(size_t size, size_t& units) {
    size_t depth = _ctx.cfg.max_inflight_requests_per_connection;
    if (_pipeline.size() >= depth) {
        ++_ctx.stats.pipeline_full_waits;
        while (_pipeline.size() >= depth && !_closing) co_await _room.wait();
    }
    if (_closing) co_return false;
    units = std::min(size, _ctx.cfg.max_inflight_bytes);
    if (!_ctx.memory.try_acquire(units)) {
        ++_ctx.stats.backpressure_waits;
        co_await _ctx.memory.acquire(units);
    }
    if (_closing) {
        _ctx.memory.release(units);
        co_return false;
    }
    co_return true;
}

task<bool> connection::fill(size_t need) {
    while (_in.size() < need) {
        if (_closing) co_return false;
        // GCC 12 miscompiles co_await inside || and &&: await in a statement of its own.
        bool received = co_await receive(need - _in.size());
        if (!received) co_return false;
    }
    co_return true;
}

task<bool> connection::fill_frame(size_t size) {
    size_t have = _in.size();
    if (have > 0 && have < size) {
        // The frame's first bytes arrived with the read-ahead. Unless the rest fits after them
        // in the same chunk, move them into a chunk with room for the whole frame (a copy of at
        // most read_ahead_bytes) so that the handler gets one contiguous fragment.
        bool fits = false;
        if (_in.fragment_count() == 1) {
            auto room = _in.reserve(1);
            fits = room[0].iov_base == end_of(_in) && room[0].iov_len >= size - have;
            _in.commit(0);
        }
        if (!fits) {
            iobuf fresh;
            auto room = fresh.reserve(size);
            WHARF_ASSERT(room.size() == 1 && room[0].iov_len >= size,
                         "a fresh reservation of {} bytes is not one chunk", size);
            _in.copy_to(0, room[0].iov_base, have);
            fresh.commit(have);
            _in = std::move(fresh);
        }
    }
    co_return co_await fill(size);
}

task<bool> connection::receive(size_t min_bytes) {
    auto reserved = _in.reserve(min_bytes);
    // Read what the frame needs, and at most read_ahead_bytes more.
    std::array<iovec, 2> iov{};
    size_t count = 0;
    size_t budget = std::max(min_bytes, read_ahead_bytes);
    for (const iovec& v : reserved) {
        if (budget == 0 || count == iov.size()) break;
        size_t len = std::min(v.iov_len, budget);
        iov[count++] = iovec{v.iov_base, len};
        budget -= len;
    }
    msghdr msg{};
    msg.msg_iov = iov.data();
    msg.msg_iovlen = count;
    int32_t got = co_await recvmsg_for(_fd, &msg, recv_timeout());
    if (got > 0) {
        _in.commit(static_cast<size_t>(got));
        _ctx.stats.bytes_received += static_cast<uint64_t>(got);
        _last_activity = steady_now();
        co_return true;
    }
    _in.commit(0);
    if (got == -ECANCELED || got == -ETIME || got == -EINTR) co_return on_recv_timeout();
    close(got == 0 ? close_reason::peer_closed : close_reason::io_error);
    co_return false;
}

std::chrono::nanoseconds connection::recv_timeout() const {
    std::chrono::nanoseconds idle = _ctx.cfg.idle_timeout;
    // With requests in flight the connection is not idle; the recv times out only so that the
    // idle check runs again (a connection that becomes idle meanwhile closes within twice the
    // timeout at most).
    if (!_pipeline.empty()) return idle;
    return std::max<std::chrono::nanoseconds>(idle - (steady_now() - _last_activity), 1ms);
}

bool connection::on_recv_timeout() {
    if (_closing) return false;
    if (reactor::local().stopping()) {
        close(close_reason::server_stopped);
        return false;
    }
    if (_pipeline.empty() && steady_now() - _last_activity >= _ctx.cfg.idle_timeout) {
        ++_ctx.stats.idle_closes;
        shard_logger().info("connection {} from {}: idle for {} ms, closing", _info.id, _info.peer,
                            _ctx.cfg.idle_timeout.count());
        close(close_reason::idle);
        return false;
    }
    return true;
}

void connection::dispatch(iobuf frame, size_t units) {
    ++_ctx.stats.frames_received;
    _pipeline.push_back(slot{.units = units});
    // Runs the handler until its first suspension before the next frame is read. std::deque
    // keeps references to its elements valid across push_back and pop_front.
    spawn(run_handler(_pipeline.back(), std::move(frame)), "net frame handler");
}

task<void> connection::run_handler(slot& s, iobuf frame) {
    auto hold = _handlers.hold();
    WHARF_ASSERT(hold, "connection {}: handler started after the connection ended", _info.id);
    std::optional<result<std::optional<iobuf>>> outcome;
    try {
        outcome.emplace(co_await _ctx.handler(_info, std::move(frame)));
    } catch (const std::exception& e) {
        shard_logger().error("connection {} from {}: request handler threw: {}", _info.id,
                             _info.peer, e.what());
        outcome.emplace(std::make_error_code(std::errc::state_not_recoverable));
    } catch (...) {
        shard_logger().error("connection {} from {}: request handler threw", _info.id, _info.peer);
        outcome.emplace(std::make_error_code(std::errc::state_not_recoverable));
    }
    s.outcome = std::move(outcome);
    s.done = true;
    _writer_wake.notify_all();
}

task<void> connection::write_loop() {
    while (!_pipeline.empty() || !_reader_done) {
        size_t ready = 0;
        while (ready < _pipeline.size() && _pipeline[ready].done) ++ready;
        if (ready == 0) {
            co_await _writer_wake.wait();
            continue;
        }
        // The responses before the first failed handler go out, then the failure closes.
        size_t ok = 0;
        while (ok < ready && _pipeline[ok].outcome->has_value()) ++ok;
        if (!_closing && ok > 0) {
            bool sent = co_await send_responses(ok);
            if (!sent) close(close_reason::io_error);
        }
        if (ok < ready) {
            ++_ctx.stats.handler_errors;
            if (!_closing) {
                shard_logger().warn("connection {} from {}: request handler failed ({}), closing",
                                    _info.id, _info.peer, _pipeline[ok].outcome->error().message());
            }
            close(close_reason::handler_error);
        }
        // A closing connection discards the results that are left.
        size_t done = _closing ? ready : ok;
        for (size_t i = 0; i < done; ++i) {
            _ctx.memory.release(_pipeline.front().units);
            _pipeline.pop_front();
        }
        if (_pipeline.empty()) _last_activity = steady_now();
        _room.notify_all();
    }
}

task<bool> connection::send_responses(size_t count) {
    // The size prefixes live here until the send completes; reserved so they never move.
    std::vector<std::array<std::byte, prefix_bytes>> prefixes;
    prefixes.reserve(count);
    std::vector<iovec> iov;
    size_t responses = 0;
    for (size_t i = 0; i < count; ++i) {
        std::optional<iobuf>& response = _pipeline[i].outcome->value();
        if (!response) continue;  // no response for this request (acks=0), but its turn passed
        if (response->size() > static_cast<size_t>(std::numeric_limits<int32_t>::max())) {
            shard_logger().error("connection {}: response of {} bytes cannot be framed", _info.id,
                                 response->size());
            co_return false;
        }
        prefixes.push_back(encode_be32(static_cast<uint32_t>(response->size())));
        iov.push_back(iovec{prefixes.back().data(), prefix_bytes});
        if (!response->empty()) {
            response->to_iovecs(0, response->size(), iov, response->fragment_count());
        }
        ++responses;
    }
    if (iov.empty()) co_return true;
    bool sent = co_await send_all(iov);
    if (sent) _ctx.stats.responses_sent += responses;
    co_return sent;
}

task<bool> connection::send_all(std::vector<iovec>& iov) {
    size_t i = 0;
    while (i < iov.size()) {
        msghdr msg{};
        msg.msg_iov = &iov[i];
        msg.msg_iovlen = std::min(iov.size() - i, max_iov_per_send);
        int32_t sent = co_await io::sendmsg(_fd, &msg);
        ++_ctx.stats.send_calls;
        if (sent <= 0) co_return false;
        _ctx.stats.bytes_sent += static_cast<uint64_t>(sent);
        // Skip what went out; a short send continues from the middle of an iovec.
        auto left = static_cast<size_t>(sent);
        while (i < iov.size() && left >= iov[i].iov_len) left -= iov[i++].iov_len;
        if (left > 0) {
            iov[i].iov_base = static_cast<std::byte*>(iov[i].iov_base) + left;
            iov[i].iov_len -= left;
        }
    }
    co_return true;
}

}  // namespace wharf::net
