#pragma once

// Numeric socket addresses for the listeners (the Kafka server, the admin HTTP server): parsing
// a host and port into a sockaddr, printing one back, binding a listening socket, and what a
// listener does when accept fails. No name lookups: a DNS query could block the shard.

#include <sys/socket.h>

#include <cstdint>
#include <string>

#include "reactor/base/result.h"

namespace wharf::net {

struct socket_address {
    sockaddr_storage storage{};
    socklen_t len = 0;
    sockaddr* get() noexcept { return reinterpret_cast<sockaddr*>(&storage); }
    const sockaddr* get() const noexcept { return reinterpret_cast<const sockaddr*>(&storage); }
    // The port in host byte order (0 for an unknown family).
    uint16_t port() const noexcept;
};

// A numeric IPv4 or IPv6 address ("127.0.0.1", "::1", "[::1]") or "localhost".
// Errors: std::errc::invalid_argument for anything else.
result<socket_address> parse_address(std::string host, uint16_t port);

// "address:port", IPv6 in brackets.
std::string to_string(const sockaddr_storage& s);

// Whether to share the address with other sockets (one per shard) through SO_REUSEPORT.
enum class reuse_port : bool { no = false, yes = true };

struct bound_listener {
    int fd = -1;
    socket_address address;  // as bound: the kernel's port when 0 was asked for
};

// A listening TCP socket on addr (SO_REUSEADDR always, so that a restarted broker binds while
// connections of the previous one linger in TIME_WAIT). The socket is blocking for accept, which
// only io_uring calls. Errors: the system's (EADDRINUSE, EACCES, ...).
result<bound_listener> listen_on(const socket_address& addr, int backlog, reuse_port reuse);

// What a listener does after accept failed. Shared by both servers so that they agree.
enum class accept_error_action : uint8_t {
    // That connection is gone (aborted, refused by a firewall rule, interrupted); the listener is
    // fine: accept again at once.
    retry,
    // Out of descriptors or memory: pause a little, then accept again, instead of spinning on
    // the same error.
    pause,
    // Anything else means the listener itself is broken (EBADF, EINVAL, ENOTSOCK, ...): retrying
    // would fail forever, so stop accepting and say so once.
    stop,
};

// REQUIRES: err < 0, the -errno an io::accept completed with.
accept_error_action classify_accept_error(int32_t err) noexcept;

// setsockopt(fd, level, name, 1).
int set_socket_flag(int fd, int level, int name) noexcept;

}  // namespace wharf::net
