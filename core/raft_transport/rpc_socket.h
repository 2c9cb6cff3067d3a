#pragma once

// Socket pieces shared by both ends of an internal RPC connection: an owning descriptor, the
// options every RPC socket gets, exact reads and writes bounded by time (the handshake on both
// sides), and a limiter for log lines that a peer could repeat at will.

#include <chrono>
#include <cstddef>
#include <span>
#include <string>
#include <utility>

#include "reactor/base/result.h"
#include "reactor/clock.h"
#include "reactor/task.h"

namespace wharf::raft_rpc {

// A socket descriptor with exactly one owner: closed when the owner is destroyed without having
// released it, so that every error path (and a cross-shard hand-off that never ran) closes it.
// The destructor closes synchronously: a TCP close without SO_LINGER does not block.
class owned_fd {
public:
    owned_fd() noexcept = default;
    explicit owned_fd(int fd) noexcept : _fd(fd) {}
    owned_fd(owned_fd&& o) noexcept : _fd(std::exchange(o._fd, -1)) {}
    owned_fd& operator=(owned_fd&& o) noexcept;
    owned_fd(const owned_fd&) = delete;
    owned_fd& operator=(const owned_fd&) = delete;
    ~owned_fd() { reset(); }

    int get() const noexcept { return _fd; }
    explicit operator bool() const noexcept { return _fd >= 0; }
    // Gives the descriptor up to the caller (for io::close, which needs no owner afterwards).
    int release() noexcept { return std::exchange(_fd, -1); }
    void reset() noexcept;
    // Ends pending receives and sends on the socket; the descriptor stays open.
    void shutdown() const noexcept;

private:
    int _fd = -1;
};

// TCP_NODELAY (raft batches its own writes and must not wait for Nagle), keepalives that find
// a silent dead peer within about a minute, and TCP_USER_TIMEOUT so that data a dead peer never
// acknowledges fails the connection instead of retransmitting for many minutes. Failures to set
// them are ignored: the connection works without them.
void tune_rpc_socket(int fd) noexcept;

// Receives exactly out.size() bytes. Errors: std::errc::timed_out when deadline passes first,
// std::errc::connection_aborted at end of stream, the socket's error otherwise.
task<status> recv_exact(int fd, std::span<std::byte> out, steady_time deadline);
// Sends every byte before deadline. Errors as for recv_exact.
task<status> send_exact(int fd, std::span<const std::byte> bytes, steady_time deadline);

// At most one line per interval for a recurring event; the lines skipped meanwhile are counted
// so that the next one can say how many there were. Shard-local.
class log_limiter {
public:
    explicit log_limiter(std::chrono::milliseconds interval = std::chrono::seconds(10)) noexcept
        : _interval(interval) {}
    // Whether to log now; when true, *skipped (if given) receives the lines skipped since.
    bool allow(uint64_t* skipped = nullptr) noexcept;

    // "" when nothing was skipped, else " (N similar lines skipped)", to end a line with.
    static std::string skipped_note(uint64_t skipped);

private:
    std::chrono::milliseconds _interval;
    steady_time _next{};
    uint64_t _skipped = 0;
};

}  // namespace wharf::raft_rpc
