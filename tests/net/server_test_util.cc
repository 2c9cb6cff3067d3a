#include "tests/net/server_test_util.h"

#include <arpa/inet.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <sys/socket.h>
#include <unistd.h>

#include <cerrno>
#include <condition_variable>
#include <cstdio>
#include <cstdlib>
#include <mutex>

#include "reactor/clock.h"
#include "reactor/smp.h"
#include "reactor/timer.h"

namespace wharf::net::test {

server_config test_config() {
    server_config cfg;
    cfg.host = "127.0.0.1";
    cfg.port = 0;
    return cfg;
}

task<int> with_server(server_config cfg, frame_handler handler,
                      std::function<task<int>(server&)> body) {
    auto s = server::listen(std::move(cfg), std::move(handler));
    if (!s) {
        ADD_FAILURE() << "listen failed: " << s.error().message();
        co_return 1;
    }
    (*s)->start();
    int rc = co_await body(**s);
    co_await (*s)->stop();
    co_return rc;
}

task<bool> wait_until(std::function<bool()> cond, std::chrono::milliseconds timeout) {
    auto deadline = steady_now() + timeout;
    while (!cond()) {
        if (steady_now() >= deadline) co_return false;
        co_await sleep_for(1ms);
    }
    co_return true;
}

task<bool> responses_counted(const server& s, uint64_t count) {
    co_return co_await wait_until([&s, count] { return s.stats().responses_sent >= count; }, 5s);
}

std::string frame_of_size(int32_t declared_size) {
    auto v = static_cast<uint32_t>(declared_size);
    std::string s(4, '\0');
    s[0] = static_cast<char>(v >> 24);
    s[1] = static_cast<char>(v >> 16);
    s[2] = static_cast<char>(v >> 8);
    s[3] = static_cast<char>(v);
    return s;
}

std::string frame(std::string_view body) {
    return frame_of_size(static_cast<int32_t>(body.size())) + std::string(body);
}

std::string to_string(const iobuf& buf) {
    std::string s(buf.size(), '\0');
    if (!s.empty()) buf.copy_to(0, s.data(), s.size());
    return s;
}

std::string reply(std::string_view s) {
    std::string r = "r";
    r.append(s);
    return r;
}

iobuf to_iobuf(std::string_view s) {
    return iobuf::copy_of(s.data(), s.size());
}

client::client(uint16_t port, std::chrono::milliseconds timeout) {
    _fd = ::socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
    if (_fd < 0) return;
    auto us = std::chrono::duration_cast<std::chrono::microseconds>(timeout).count();
    timeval tv{.tv_sec = us / 1'000'000, .tv_usec = us % 1'000'000};
    ::setsockopt(_fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof(tv));
    ::setsockopt(_fd, SOL_SOCKET, SO_SNDTIMEO, &tv, sizeof(tv));
    int one = 1;
    ::setsockopt(_fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof(one));
    sockaddr_in addr{};
    addr.sin_family = AF_INET;
    addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    addr.sin_port = htons(port);
    _connected = ::connect(_fd, reinterpret_cast<sockaddr*>(&addr), sizeof(addr)) == 0;
}

client::~client() {
    if (_fd >= 0) ::close(_fd);
}

bool client::send_raw(std::string_view bytes) {
    size_t off = 0;
    while (off < bytes.size()) {
        ssize_t n = ::send(_fd, bytes.data() + off, bytes.size() - off, MSG_NOSIGNAL);
        if (n < 0 && errno == EINTR) continue;
        if (n <= 0) return false;
        off += static_cast<size_t>(n);
    }
    return true;
}

bool client::read_exact(char* out, size_t n) {
    size_t off = 0;
    while (off < n) {
        ssize_t got = ::recv(_fd, out + off, n - off, 0);
        if (got < 0 && errno == EINTR) continue;
        if (got <= 0) return false;
        off += static_cast<size_t>(got);
    }
    return true;
}

std::optional<std::string> client::read_frame() {
    char prefix[4];
    if (!read_exact(prefix, sizeof(prefix))) return std::nullopt;
    uint32_t size = (uint32_t(uint8_t(prefix[0])) << 24) | (uint32_t(uint8_t(prefix[1])) << 16) |
                    (uint32_t(uint8_t(prefix[2])) << 8) | uint32_t(uint8_t(prefix[3]));
    if (size > (64u << 20)) return std::nullopt;
    std::string body(size, '\0');
    if (size > 0 && !read_exact(body.data(), size)) return std::nullopt;
    return body;
}

bool client::read_some(std::string& out) {
    char buf[4096];
    for (;;) {
        ssize_t n = ::recv(_fd, buf, sizeof(buf), 0);
        if (n < 0 && errno == EINTR) continue;
        if (n <= 0) return false;
        out.append(buf, static_cast<size_t>(n));
        return true;
    }
}

bool client::wait_closed() {
    char b;
    for (;;) {
        ssize_t n = ::recv(_fd, &b, 1, 0);
        if (n < 0 && errno == EINTR) continue;
        return n == 0 || (n < 0 && errno == ECONNRESET);
    }
}

void client::reset() {
    linger l{.l_onoff = 1, .l_linger = 0};
    ::setsockopt(_fd, SOL_SOCKET, SO_LINGER, &l, sizeof(l));
    ::close(_fd);
    _fd = -1;
}

client_thread::client_thread(std::function<void()> fn)
    : _thread([this, fn = std::move(fn)] {
          fn();
          _finished.store(true);
      }) {}

client_thread::~client_thread() {
    if (_thread.joinable()) _thread.join();
}

task<bool> client_thread::wait(std::chrono::milliseconds timeout) {
    bool ok = co_await wait_until([this] { return finished(); }, timeout);
    if (ok) _thread.join();
    co_return ok;
}

}  // namespace wharf::net::test
