#include "core/raft_transport/rpc_socket.h"

#include <netinet/in.h>
#include <netinet/tcp.h>
#include <sys/socket.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>

#include <fmt/format.h>

#include "reactor/io.h"

namespace wharf::raft_rpc {

namespace {

using namespace std::chrono_literals;

void set_int_option(int fd, int level, int name, int value) noexcept {
    (void)::setsockopt(fd, level, name, &value, sizeof(value));
}

// The error of an exact read or write that ended early: res is what the operation returned.
std::error_code transfer_error(int32_t res, steady_time deadline) noexcept {
    if (res == 0) return std::make_error_code(std::errc::connection_aborted);
    // A link timeout cancels the operation; a deadline that passed says which it was.
    if (res == -ECANCELED || res == -ETIME || steady_now() >= deadline) {
        return std::make_error_code(std::errc::timed_out);
    }
    return errno_code(res);
}

std::chrono::nanoseconds time_left(steady_time deadline) noexcept {
    return std::max<std::chrono::nanoseconds>(deadline - steady_now(), 1ms);
}

}  // namespace

owned_fd& owned_fd::operator=(owned_fd&& o) noexcept {
    if (this != &o) {
        reset();
        _fd = std::exchange(o._fd, -1);
    }
    return *this;
}

void owned_fd::reset() noexcept {
    if (_fd >= 0) ::close(std::exchange(_fd, -1));
}

void owned_fd::shutdown() const noexcept {
    if (_fd >= 0) ::shutdown(_fd, SHUT_RDWR);
}

void tune_rpc_socket(int fd) noexcept {
    set_int_option(fd, IPPROTO_TCP, TCP_NODELAY, 1);
    set_int_option(fd, SOL_SOCKET, SO_KEEPALIVE, 1);
    set_int_option(fd, IPPROTO_TCP, TCP_KEEPIDLE, 30);
    set_int_option(fd, IPPROTO_TCP, TCP_KEEPINTVL, 10);
    set_int_option(fd, IPPROTO_TCP, TCP_KEEPCNT, 3);
    set_int_option(fd, IPPROTO_TCP, TCP_USER_TIMEOUT, 60'000);
}

task<status> recv_exact(int fd, std::span<std::byte> out, steady_time deadline) {
    size_t have = 0;
    while (have < out.size()) {
        if (steady_now() >= deadline) co_return std::make_error_code(std::errc::timed_out);
        int32_t got =
            co_await io::recv_for(fd, out.data() + have, out.size() - have, time_left(deadline));
        if (got == -EINTR) continue;
        if (got <= 0) co_return transfer_error(got, deadline);
        have += static_cast<size_t>(got);
    }
    co_return status{};
}

task<status> send_exact(int fd, std::span<const std::byte> bytes, steady_time deadline) {
    size_t sent = 0;
    while (sent < bytes.size()) {
        if (steady_now() >= deadline) co_return std::make_error_code(std::errc::timed_out);
        iovec iov{const_cast<std::byte*>(bytes.data() + sent), bytes.size() - sent};
        msghdr msg{};
        msg.msg_iov = &iov;
        msg.msg_iovlen = 1;
        int32_t n = co_await io::sendmsg_for(fd, &msg, time_left(deadline));
        if (n == -EINTR) continue;
        if (n <= 0) co_return transfer_error(n, deadline);
        sent += static_cast<size_t>(n);
    }
    co_return status{};
}

bool log_limiter::allow(uint64_t* skipped) noexcept {
    steady_time now = steady_now();
    if (now < _next) {
        ++_skipped;
        return false;
    }
    _next = now + _interval;
    if (skipped != nullptr) *skipped = _skipped;
    _skipped = 0;
    return true;
}

std::string log_limiter::skipped_note(uint64_t skipped) {
    if (skipped == 0) return {};
    return fmt::format(" ({} similar lines skipped)", skipped);
}

}  // namespace wharf::raft_rpc
