#pragma once

// Helpers for the tests of the Kafka listener (net/server.h): a one-shard reactor with a
// watchdog, bounded polling on the reactor, blocking client sockets for helper threads, and a
// latch that keeps handlers waiting until the test releases them.

#include <gtest/gtest.h>

#include <atomic>
#include <chrono>
#include <cstdint>
#include <functional>
#include <optional>
#include <string>
#include <string_view>
#include <thread>

#include "net/server.h"
#include "tests/reactor/run_reactor.h"
#include "reactor/iobuf.h"
#include "reactor/sync.h"
#include "reactor/task.h"

// ASSERT_* returns from a void function; in a coroutine a failure ends it with co_return 1.
#define NET_CO_ASSERT(cond)                              \
    do {                                                 \
        if (!(cond)) {                                   \
            ADD_FAILURE() << "assertion failed: " #cond; \
            co_return 1;                                 \
        }                                                \
    } while (0)

namespace wharf::net::test {

using namespace std::chrono_literals;

// Runs fn on a one-shard reactor and returns its value. Aborts the program with a message when fn
// has not finished after timeout_s seconds (every wait in a test is bounded).
inline int run_on_reactor(std::function<task<int>()> fn, int timeout_s = 120) {
    return wharf::test::run_reactor(std::move(fn), timeout_s);
}

// Listens on 127.0.0.1 (port 0 unless cfg says otherwise), starts the server, runs body and stops
// the server whatever body returned. Returns body's value, or 1 when listen failed.
task<int> with_server(server_config cfg, frame_handler handler,
                      std::function<task<int>(server&)> body);

// A configuration on a free loopback port.
server_config test_config();

// Polls cond on the reactor every millisecond until it holds; false after timeout.
task<bool> wait_until(std::function<bool()> cond, std::chrono::milliseconds timeout = 20s);

// Waits (5 s at most) until the server has counted `count` responses as sent. A client can read a
// response before the reactor reaps the sendmsg completion that counts it, so tests that check the
// counters after their client finished wait for them first.
task<bool> responses_counted(const server& s, uint64_t count);

// The frame for body: its 4-byte big-endian size, then body.
std::string frame(std::string_view body);
std::string frame_of_size(int32_t declared_size);
std::string to_string(const iobuf& buf);
// "r" then s: the answers of the tests' handlers. (Not "r" + s, which makes GCC 12 at -O3 warn
// about a memcpy overlap that cannot happen.)
std::string reply(std::string_view s);
iobuf to_iobuf(std::string_view s);

// A blocking TCP client for a helper thread; every call is bounded by the socket timeouts.
class client {
public:
    explicit client(uint16_t port, std::chrono::milliseconds timeout = 20s);
    ~client();
    client(const client&) = delete;
    client& operator=(const client&) = delete;

    bool connected() const noexcept { return _connected; }
    bool send_raw(std::string_view bytes);
    bool send_frame(std::string_view body) { return send_raw(frame(body)); }
    // One response frame's body; nullopt at end of stream, on an error or a timeout.
    std::optional<std::string> read_frame();
    // Appends what one receive returns (up to 4 KiB) to out; false at end of stream, on an error
    // or a timeout. For protocols without frames (HTTP), whose reader keeps what it over-read.
    bool read_some(std::string& out);
    // True when the server closed the connection (end of stream or reset) before any more bytes
    // arrived, within the timeout.
    bool wait_closed();
    // Closes with a reset (SO_LINGER 0) instead of an orderly end of stream.
    void reset();

private:
    bool read_exact(char* out, size_t n);
    int _fd = -1;
    bool _connected = false;
};

// A helper thread running fn; the reactor side waits for it without blocking the loop.
class client_thread {
public:
    explicit client_thread(std::function<void()> fn);
    ~client_thread();
    bool finished() const noexcept { return _finished.load(); }
    // Waits (polling on the reactor) until fn returned, then joins; false after timeout.
    task<bool> wait(std::chrono::milliseconds timeout = 30s);

private:
    std::atomic<bool> _finished{false};
    std::thread _thread;
};

// Keeps handlers waiting until released (shard-local, like the handlers).
class latch {
public:
    task<void> wait() {
        while (!_open) co_await _ev.wait();
    }
    void release() {
        _open = true;
        _ev.notify_all();
    }
    size_t waiters() const noexcept { return _ev.waiters(); }

private:
    event _ev;
    bool _open = false;
};

}  // namespace wharf::net::test
