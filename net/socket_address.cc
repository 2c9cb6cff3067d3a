#include "net/socket_address.h"

#include <arpa/inet.h>
#include <netinet/in.h>
#include <unistd.h>

#include <cerrno>

#include <fmt/format.h>

namespace wharf::net {

uint16_t socket_address::port() const noexcept {
    if (storage.ss_family == AF_INET) {
        return ntohs(reinterpret_cast<const sockaddr_in*>(&storage)->sin_port);
    }
    if (storage.ss_family == AF_INET6) {
        return ntohs(reinterpret_cast<const sockaddr_in6*>(&storage)->sin6_port);
    }
    return 0;
}

result<socket_address> parse_address(std::string host, uint16_t port) {
    if (host == "localhost") host = "127.0.0.1";
    if (host.size() >= 2 && host.front() == '[' && host.back() == ']') {
        host = host.substr(1, host.size() - 2);
    }
    socket_address a;
    auto* v4 = reinterpret_cast<sockaddr_in*>(&a.storage);
    if (::inet_pton(AF_INET, host.c_str(), &v4->sin_addr) == 1) {
        v4->sin_family = AF_INET;
        v4->sin_port = htons(port);
        a.len = sizeof(sockaddr_in);
        return a;
    }
    a.storage = {};
    auto* v6 = reinterpret_cast<sockaddr_in6*>(&a.storage);
    if (::inet_pton(AF_INET6, host.c_str(), &v6->sin6_addr) == 1) {
        v6->sin6_family = AF_INET6;
        v6->sin6_port = htons(port);
        a.len = sizeof(sockaddr_in6);
        return a;
    }
    return std::make_error_code(std::errc::invalid_argument);
}

std::string to_string(const sockaddr_storage& s) {
    char text[INET6_ADDRSTRLEN] = {};
    if (s.ss_family == AF_INET) {
        const auto* v4 = reinterpret_cast<const sockaddr_in*>(&s);
        ::inet_ntop(AF_INET, &v4->sin_addr, text, sizeof(text));
        return fmt::format("{}:{}", text, ntohs(v4->sin_port));
    }
    if (s.ss_family == AF_INET6) {
        const auto* v6 = reinterpret_cast<const sockaddr_in6*>(&s);
        ::inet_ntop(AF_INET6, &v6->sin6_addr, text, sizeof(text));
        // fmt, not "[" + std::string: GCC 12 at -O3 warns about a memcpy overlap that cannot be.
        return fmt::format("[{}]:{}", text, ntohs(v6->sin6_port));
    }
    return "unknown";
}

accept_error_action classify_accept_error(int32_t err) noexcept {
    switch (-err) {
        case ECONNABORTED:
        case EPROTO:
        case EPERM:
        case EINTR:
        case EAGAIN:
            return accept_error_action::retry;
        case EMFILE:
        case ENFILE:
        case ENOBUFS:
        case ENOMEM:
            return accept_error_action::pause;
        default:
            return accept_error_action::stop;
    }
}

int set_socket_flag(int fd, int level, int name) noexcept {
    int one = 1;
    return ::setsockopt(fd, level, name, &one, sizeof(one));
}

result<bound_listener> listen_on(const socket_address& addr, int backlog, reuse_port reuse) {
    int fd = ::socket(addr.storage.ss_family, SOCK_STREAM | SOCK_CLOEXEC, 0);
    if (fd < 0) return errno_code(errno);
    auto fail = [fd](int err) -> std::error_code {
        ::close(fd);
        return errno_code(err);
    };
    if (set_socket_flag(fd, SOL_SOCKET, SO_REUSEADDR) != 0) return fail(errno);
    if (reuse == reuse_port::yes && set_socket_flag(fd, SOL_SOCKET, SO_REUSEPORT) != 0) {
        return fail(errno);
    }
    if (::bind(fd, addr.get(), addr.len) != 0) return fail(errno);
    if (::listen(fd, backlog) != 0) return fail(errno);
    bound_listener out{.fd = fd, .address = {}};
    out.address.len = sizeof(out.address.storage);
    if (::getsockname(fd, out.address.get(), &out.address.len) != 0) return fail(errno);
    return out;
}

}  // namespace wharf::net
