#include "tests/kafka_api/kafka_client.h"

#include <arpa/inet.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <poll.h>
#include <sys/socket.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>

namespace wharf::kafka::test {

namespace {

// Kafka's own bound on a response frame is the client's receive buffer; this one only keeps a
// broken length prefix from allocating without bound.
constexpr int32_t max_response_bytes = 256 << 20;

}  // namespace

kafka_client::kafka_client(uint16_t port, std::chrono::milliseconds timeout) : _timeout(timeout) {
    _fd = ::socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
    if (_fd < 0) throw client_error("socket: " + std::string(std::strerror(errno)));
    sockaddr_in addr{};
    addr.sin_family = AF_INET;
    addr.sin_port = htons(port);
    addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    if (::connect(_fd, reinterpret_cast<const sockaddr*>(&addr), sizeof addr) != 0) {
        int e = errno;
        ::close(_fd);
        _fd = -1;
        throw client_error("connect to port " + std::to_string(port) + ": " + std::strerror(e));
    }
    int one = 1;
    ::setsockopt(_fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
}

kafka_client::~kafka_client() {
    if (_fd >= 0) ::close(_fd);
}

void kafka_client::send_bytes(std::string_view bytes) {
    size_t sent = 0;
    while (sent < bytes.size()) {
        ssize_t n = ::send(_fd, bytes.data() + sent, bytes.size() - sent, MSG_NOSIGNAL);
        if (n < 0 && errno == EINTR) continue;
        if (n <= 0) throw client_error("send: " + std::string(std::strerror(errno)));
        sent += static_cast<size_t>(n);
    }
}

void kafka_client::send_payload(const iobuf& payload) {
    std::string bytes(4 + payload.size(), '\0');
    uint32_t size = htonl(static_cast<uint32_t>(payload.size()));
    std::memcpy(bytes.data(), &size, 4);
    payload.copy_to(0, bytes.data() + 4, payload.size());
    send_bytes(bytes);
}

bool kafka_client::read_exact(char* out, size_t n, std::chrono::steady_clock::time_point deadline) {
    size_t got = 0;
    while (got < n) {
        auto left = std::chrono::duration_cast<std::chrono::milliseconds>(
            deadline - std::chrono::steady_clock::now());
        if (left.count() <= 0) return false;
        pollfd p{.fd = _fd, .events = POLLIN, .revents = 0};
        int ready = ::poll(&p, 1, static_cast<int>(left.count()));
        if (ready < 0 && errno == EINTR) continue;
        if (ready < 0) throw client_error("poll: " + std::string(std::strerror(errno)));
        if (ready == 0) return false;
        ssize_t r = ::recv(_fd, out + got, n - got, 0);
        if (r < 0 && errno == EINTR) continue;
        if (r < 0 && errno == ECONNRESET) return false;
        if (r < 0) throw client_error("recv: " + std::string(std::strerror(errno)));
        if (r == 0) return false;
        got += static_cast<size_t>(r);
    }
    return true;
}

std::optional<std::string> kafka_client::read_frame(std::chrono::milliseconds timeout) {
    auto deadline = std::chrono::steady_clock::now() + timeout;
    char head[4];
    if (!read_exact(head, 4, deadline)) return std::nullopt;
    uint32_t raw = 0;
    std::memcpy(&raw, head, 4);
    auto size = static_cast<int32_t>(ntohl(raw));
    if (size < 0 || size > max_response_bytes) {
        throw client_error("response frame of " + std::to_string(size) + " bytes");
    }
    std::string body(static_cast<size_t>(size), '\0');
    // Once the size is in, the rest must follow within the client's timeout.
    if (!read_exact(body.data(), body.size(), std::chrono::steady_clock::now() + _timeout)) {
        throw client_error("the connection ended inside a response frame");
    }
    return body;
}

std::string kafka_client::must_read_frame() {
    auto frame = read_frame(_timeout);
    if (!frame) {
        throw client_error("no response within " + std::to_string(_timeout.count()) +
                           " ms (or the broker closed the connection)");
    }
    return std::move(*frame);
}

void kafka_client::read_response_header(protocol_reader& r, api_key key, int16_t version,
                                        int32_t correlation_id) {
    response_header h;
    if (!decode_response_header(r, key, version, h)) {
        throw client_error(std::string("bad response header: ") + r.error());
    }
    if (h.correlation_id != correlation_id) {
        throw client_error("response to correlation id " + std::to_string(h.correlation_id) +
                           ", expected " + std::to_string(correlation_id));
    }
}

}  // namespace wharf::kafka::test
