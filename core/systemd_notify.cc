#include "core/systemd_notify.h"

#include <sys/socket.h>
#include <sys/un.h>
#include <unistd.h>

#include <cerrno>
#include <cstddef>
#include <cstdlib>
#include <cstring>

namespace wharf {

status notify_systemd(std::string_view state) {
    const char* env = std::getenv("NOTIFY_SOCKET");
    if (env == nullptr || env[0] == '\0') return {};
    std::string_view name(env);
    // systemd 252 passes a filesystem path or an abstract name ('@' standing for the NUL byte).
    if (name[0] != '/' && name[0] != '@') return std::make_error_code(std::errc::invalid_argument);
    sockaddr_un addr{};
    addr.sun_family = AF_UNIX;
    if (name.size() >= sizeof(addr.sun_path)) {
        return std::make_error_code(std::errc::filename_too_long);
    }
    std::memcpy(addr.sun_path, name.data(), name.size());
    if (name[0] == '@') addr.sun_path[0] = '\0';
    // An abstract name's length is exact: a trailing NUL would be part of the name.
    auto len = static_cast<socklen_t>(offsetof(sockaddr_un, sun_path) + name.size());

    int fd = ::socket(AF_UNIX, SOCK_DGRAM | SOCK_CLOEXEC | SOCK_NONBLOCK, 0);
    if (fd < 0) return errno_code(errno);
    ssize_t sent = ::sendto(fd, state.data(), state.size(), MSG_NOSIGNAL,
                            reinterpret_cast<const sockaddr*>(&addr), len);
    int err = errno;
    ::close(fd);
    if (sent < 0) return errno_code(err);
    if (static_cast<size_t>(sent) != state.size()) {
        return std::make_error_code(std::errc::message_size);
    }
    return {};
}

}  // namespace wharf
