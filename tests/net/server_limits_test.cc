// The Kafka listener's bounds and shutdown (net/server.h): oversized and negative frame sizes,
// request memory back-pressure, pipeline depth, idle timeouts, peers that leave with requests in
// flight, and stop() with blocked handlers.

#include <algorithm>
#include <set>
#include <string>

#include "reactor/iobuf.h"
#include "reactor/spawn.h"
#include "reactor/timer.h"
#include "tests/net/server_test_util.h"

namespace wharf::net::test {
namespace {

// A handler that counts invocations, waits on a latch, and answers "r<first bytes of frame>".
struct blocking_handler {
    latch hold;
    size_t invoked = 0;
    size_t completed = 0;
    // The connections of the frames seen; each outlives its handlers.
    std::set<connection_info*> connections;
    frame_handler handler() {
        return [this](connection_info& conn, iobuf f) -> task<result<std::optional<iobuf>>> {
            ++invoked;
            connections.insert(&conn);
            co_await hold.wait();
            ++completed;
            std::string s = to_string(f);
            co_return std::optional<iobuf>(to_iobuf(reply(s.substr(0, s.find(' ')))));
        };
    }
};

// A body of len bytes that starts with "<i> ".
std::string numbered(int i, size_t len) {
    std::string s = std::to_string(i) + " ";
    s.resize(len, 'x');
    return s;
}

TEST(net_server_limits, oversized_and_negative_sizes_close_before_allocating) {
    blocking_handler h;
    auto cfg = test_config();
    cfg.max_request_bytes = 1 << 20;
    int rc = run_on_reactor([&]() -> task<int> {
        h.hold.release();  // on the shard: events are shard-local
        co_return co_await with_server(cfg, h.handler(), [&](server& s) -> task<int> {
            uint16_t port = s.port();
            std::atomic<bool> closed_big{false}, closed_negative{false};
            client_thread t([&, port] {
                client c(port);
                ASSERT_TRUE(c.send_frame("ok"));
                EXPECT_EQ(c.read_frame(), "rok");
                // Declares 1 GiB and sends a little; the peer stays connected meanwhile.
                ASSERT_TRUE(c.send_raw(frame_of_size(1 << 30) + std::string(1000, 'x')));
                closed_big = c.wait_closed();
                client d(port);
                ASSERT_TRUE(d.send_raw(frame_of_size(-5)));
                closed_negative = d.wait_closed();
            });
            // The shard's chunk memory is sampled all along: it never grows by the declared size.
            size_t base = iobuf_allocated_bytes();
            size_t peak = base;
            bool finished = co_await wait_until([&] {
                peak = std::max(peak, iobuf_allocated_bytes());
                return t.finished();
            });
            NET_CO_ASSERT(finished);
            NET_CO_ASSERT(co_await t.wait());
            EXPECT_TRUE(closed_big);
            EXPECT_TRUE(closed_negative);
            EXPECT_LT(peak - base, size_t{1} << 20);
            EXPECT_EQ(s.stats().oversized_frames, 2u);
            EXPECT_EQ(h.invoked, 1u);
            NET_CO_ASSERT(co_await wait_until([&] { return s.connection_count() == 0; }));
            EXPECT_EQ(s.memory_available(), s.config().max_inflight_bytes);
            co_return 0;
        });
    });
    EXPECT_EQ(rc, 0);
}

TEST(net_server_limits, request_memory_bound_stops_reading_until_memory_frees) {
    constexpr size_t frame_bytes = 20'000;
    constexpr int frames = 20;
    blocking_handler h;
    auto cfg = test_config();
    cfg.max_inflight_bytes = 50'000;  // two frames fit, the third waits
    int rc = run_on_reactor([&]() -> task<int> {
        co_return co_await with_server(cfg, h.handler(), [&](server& s) -> task<int> {
            uint16_t port = s.port();
            client_thread t([port] {
                client c(port);
                std::string all;
                for (int i = 0; i < frames; ++i) all += frame(numbered(i, frame_bytes));
                // One frame above the bound takes the whole bound and still gets through.
                all += frame(numbered(frames, 80'000));
                ASSERT_TRUE(c.send_raw(all));
                for (int i = 0; i <= frames; ++i)
                    EXPECT_EQ(c.read_frame(), reply(std::to_string(i)));
            });
            bool blocked = co_await wait_until(
                [&] { return h.invoked == 2 && s.stats().backpressure_waits == 1; });
            // Given time, the server still reads nothing more than its read-ahead.
            co_await sleep_for(100ms);
            size_t invoked_while_blocked = h.invoked;
            uint64_t received_while_blocked = s.stats().bytes_received;
            size_t available_while_blocked = s.memory_available();
            h.hold.release();
            NET_CO_ASSERT(blocked);
            EXPECT_EQ(invoked_while_blocked, 2u);
            EXPECT_LE(received_while_blocked, 2 * (frame_bytes + 4) + connection::read_ahead_bytes);
            EXPECT_EQ(available_while_blocked, 50'000 - 2 * frame_bytes);
            NET_CO_ASSERT(co_await t.wait());
            EXPECT_EQ(h.completed, size_t(frames + 1));
            NET_CO_ASSERT(co_await responses_counted(s, uint64_t(frames + 1)));
            EXPECT_EQ(s.stats().responses_sent, uint64_t(frames + 1));
            EXPECT_EQ(s.memory_available(), 50'000u);
            co_return 0;
        });
    });
    EXPECT_EQ(rc, 0);
}

TEST(net_server_limits, pipeline_depth_bound_stops_reading) {
    blocking_handler h;
    auto cfg = test_config();
    cfg.max_inflight_requests_per_connection = 3;
    int rc = run_on_reactor([&]() -> task<int> {
        co_return co_await with_server(cfg, h.handler(), [&](server& s) -> task<int> {
            uint16_t port = s.port();
            client_thread t([port] {
                client c(port);
                std::string all;
                for (int i = 0; i < 10; ++i) all += frame(numbered(i, 10));
                ASSERT_TRUE(c.send_raw(all));
                for (int i = 0; i < 10; ++i) EXPECT_EQ(c.read_frame(), reply(std::to_string(i)));
            });
            bool full = co_await wait_until(
                [&] { return h.invoked == 3 && s.stats().pipeline_full_waits == 1; });
            co_await sleep_for(50ms);
            size_t invoked_while_full = h.invoked;
            h.hold.release();
            NET_CO_ASSERT(full);
            EXPECT_EQ(invoked_while_full, 3u);
            NET_CO_ASSERT(co_await t.wait());
            EXPECT_EQ(h.completed, 10u);
            co_return 0;
        });
    });
    EXPECT_EQ(rc, 0);
}

TEST(net_server_limits, idle_connections_close_and_busy_ones_do_not) {
    frame_handler slow = [](connection_info&, iobuf f) -> task<result<std::optional<iobuf>>> {
        co_await sleep_for(300ms);  // three idle timeouts with a request in flight
        co_return std::optional<iobuf>(std::move(f));
    };
    auto cfg = test_config();
    cfg.idle_timeout = 100ms;
    int rc = run_on_reactor([&]() -> task<int> {
        co_return co_await with_server(cfg, slow, [&](server& s) -> task<int> {
            uint16_t port = s.port();
            std::atomic<int64_t> idle_ms{0};
            client_thread t([&, port] {
                client quiet(port);
                auto t0 = std::chrono::steady_clock::now();
                EXPECT_TRUE(quiet.wait_closed());
                idle_ms = std::chrono::duration_cast<std::chrono::milliseconds>(
                              std::chrono::steady_clock::now() - t0)
                              .count();
                // A peer that stops in the middle of a frame is idle too.
                client stalled(port);
                ASSERT_TRUE(stalled.send_raw(frame_of_size(100) + "abc"));
                EXPECT_TRUE(stalled.wait_closed());
                client busy(port);
                ASSERT_TRUE(busy.send_frame("slow"));
                EXPECT_EQ(busy.read_frame(), "slow");
                EXPECT_TRUE(busy.wait_closed());  // idle once answered
            });
            NET_CO_ASSERT(co_await t.wait());
            EXPECT_GE(idle_ms.load(), 90);
            EXPECT_EQ(s.stats().idle_closes, 3u);
            NET_CO_ASSERT(co_await responses_counted(s, 1u));
            EXPECT_EQ(s.stats().responses_sent, 1u);
            co_return 0;
        });
    });
    EXPECT_EQ(rc, 0);
}

TEST(net_server_limits, peers_that_leave_with_requests_in_flight_release_everything) {
    blocking_handler h;
    int rc = run_on_reactor([&]() -> task<int> {
        co_return co_await with_server(test_config(), h.handler(), [&](server& s) -> task<int> {
            uint16_t port = s.port();
            std::atomic<bool> all_read{false};
            client_thread t([&, port] {
                client reset(port);
                ASSERT_TRUE(reset.send_raw(frame("1 a") + frame("2 b") + frame("3 c")));
                client eof(port);
                ASSERT_TRUE(eof.send_raw(frame("4 d") + frame("5 e")));
                // Leave once the server has every frame (a reset may drop unread bytes).
                auto deadline = std::chrono::steady_clock::now() + 20s;
                while (!all_read && std::chrono::steady_clock::now() < deadline) {
                    std::this_thread::sleep_for(1ms);
                }
                reset.reset();
            });
            bool seen = co_await wait_until([&] { return h.invoked == 5; });
            all_read = true;
            NET_CO_ASSERT(co_await t.wait());
            // Both connections wait for their handlers, then end with nothing answered.
            bool both_closing = co_await wait_until([&] {
                return std::all_of(h.connections.begin(), h.connections.end(),
                                   [](connection_info* c) { return c->closing; });
            });
            co_await sleep_for(20ms);
            size_t open_while_blocked = s.connection_count();
            h.hold.release();
            NET_CO_ASSERT(seen);
            NET_CO_ASSERT(both_closing);
            EXPECT_EQ(h.connections.size(), 2u);
            EXPECT_EQ(open_while_blocked, 2u);
            NET_CO_ASSERT(co_await wait_until([&] { return s.connection_count() == 0; }));
            EXPECT_EQ(h.completed, 5u);
            EXPECT_EQ(s.stats().responses_sent, 0u);
            EXPECT_EQ(s.stats().connections_open, 0u);
            EXPECT_EQ(s.memory_available(), s.config().max_inflight_bytes);
            co_return 0;
        });
    });
    EXPECT_EQ(rc, 0);
}

TEST(net_server_limits, stop_closes_connections_and_waits_for_blocked_handlers) {
    blocking_handler h;
    int rc = run_on_reactor([&]() -> task<int> {
        co_return co_await with_server(test_config(), h.handler(), [&](server& s) -> task<int> {
            uint16_t port = s.port();
            std::atomic<int> closed{0};
            std::atomic<bool> sent{false};
            client_thread t([&, port] {
                client a(port), b(port), c(port);
                ASSERT_TRUE(a.send_raw(frame("1") + frame("2")));
                ASSERT_TRUE(b.send_raw(frame("3") + frame("4")));
                ASSERT_TRUE(c.send_raw(frame("5") + frame("6")));
                sent = true;
                for (client* x : {&a, &b, &c}) closed += x->wait_closed() ? 1 : 0;
            });
            bool all_invoked = co_await wait_until([&] { return h.invoked == 6; });
            bool stopped = false;
            auto stop_it = [&]() -> task<void> {
                co_await s.stop();
                stopped = true;
            };
            spawn(stop_it(), "test stop");
            co_await sleep_for(50ms);
            bool stopped_while_blocked = stopped;
            h.hold.release();
            bool stop_done = co_await wait_until([&] { return stopped; });
            NET_CO_ASSERT(all_invoked);
            NET_CO_ASSERT(stop_done);
            EXPECT_FALSE(stopped_while_blocked);
            NET_CO_ASSERT(co_await t.wait());
            EXPECT_EQ(closed.load(), 3);
            EXPECT_EQ(h.completed, 6u);
            EXPECT_EQ(s.connection_count(), 0u);
            EXPECT_EQ(s.stats().connections_open, 0u);
            EXPECT_EQ(s.memory_available(), s.config().max_inflight_bytes);
            // New connections are refused once stopped.
            client late(port, 2s);
            EXPECT_FALSE(late.connected());
            co_return 0;
        });
    });
    EXPECT_EQ(rc, 0);
}

TEST(net_server_limits, stop_without_start_or_connections_returns) {
    blocking_handler h;
    int rc = run_on_reactor([&]() -> task<int> {
        auto never_started = server::listen(test_config(), h.handler());
        NET_CO_ASSERT(never_started);
        co_await (*never_started)->stop();
        auto idle = server::listen(test_config(), h.handler());
        NET_CO_ASSERT(idle);
        (*idle)->start();
        co_await (*idle)->stop();
        co_await (*idle)->stop();  // idempotent
        co_return 0;
    });
    EXPECT_EQ(rc, 0);
}

}  // namespace
}  // namespace wharf::net::test
