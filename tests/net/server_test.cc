// The Kafka listener's framing and ordering (net/server.h): frames split and batched any way,
// responses in request order whatever order handlers finish in, nullopt responses, handler
// errors, and binding with SO_REUSEPORT.

#include <arpa/inet.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <unistd.h>

#include <string>
#include <vector>

#include "reactor/timer.h"
#include "tests/net/server_test_util.h"

namespace wharf::net::test {
namespace {

// Echoes every frame and records whether it arrived as one fragment.
struct echo {
    size_t frames = 0;
    size_t max_fragments = 0;
    frame_handler handler() {
        return [this](connection_info&, iobuf f) -> task<result<std::optional<iobuf>>> {
            ++frames;
            max_fragments = std::max(max_fragments, f.fragment_count());
            co_return std::optional<iobuf>(std::move(f));
        };
    }
};

std::string body_for(int i, size_t len) {
    std::string s(len, '\0');
    for (size_t k = 0; k < len; ++k) s[k] = static_cast<char>('a' + (i * 7 + k) % 26);
    return s;
}

TEST(net_server, echoes_many_frames_sent_in_one_write) {
    echo e;
    int rc = run_on_reactor([&]() -> task<int> {
        co_return co_await with_server(test_config(), e.handler(), [&](server& s) -> task<int> {
            uint16_t port = s.port();
            client_thread t([port] {
                client c(port);
                ASSERT_TRUE(c.connected());
                std::string all;
                for (int i = 0; i < 300; ++i) all += frame(body_for(i, (i * 37) % 400));
                ASSERT_TRUE(c.send_raw(all));
                for (int i = 0; i < 300; ++i) {
                    auto r = c.read_frame();
                    ASSERT_TRUE(r) << "response " << i;
                    ASSERT_EQ(*r, body_for(i, (i * 37) % 400)) << "response " << i;
                }
            });
            NET_CO_ASSERT(co_await t.wait());
            EXPECT_EQ(s.stats().frames_received, 300u);
            NET_CO_ASSERT(co_await responses_counted(s, 300u));
            EXPECT_EQ(s.stats().responses_sent, 300u);
            // Small frames reach the handler as one fragment, even across chunk boundaries.
            EXPECT_EQ(e.max_fragments, 1u);
            co_return 0;
        });
    });
    EXPECT_EQ(rc, 0);
}

TEST(net_server, reassembles_a_frame_sent_one_byte_at_a_time) {
    echo e;
    int rc = run_on_reactor([&]() -> task<int> {
        co_return co_await with_server(test_config(), e.handler(), [&](server& s) -> task<int> {
            uint16_t port = s.port();
            client_thread t([port] {
                client c(port);
                ASSERT_TRUE(c.connected());
                std::string body = body_for(1, 3000);
                std::string bytes = frame(body) + frame("next");
                for (char ch : bytes) ASSERT_TRUE(c.send_raw(std::string_view(&ch, 1)));
                EXPECT_EQ(c.read_frame(), body);
                EXPECT_EQ(c.read_frame(), "next");
            });
            NET_CO_ASSERT(co_await t.wait());
            EXPECT_EQ(e.frames, 2u);
            EXPECT_EQ(e.max_fragments, 1u);
            co_return 0;
        });
    });
    EXPECT_EQ(rc, 0);
}

TEST(net_server, large_frames_arrive_contiguous_and_intact) {
    echo e;
    int rc = run_on_reactor([&]() -> task<int> {
        co_return co_await with_server(test_config(), e.handler(), [&](server& s) -> task<int> {
            uint16_t port = s.port();
            client_thread t([port] {
                client c(port);
                ASSERT_TRUE(c.connected());
                // Small and large frames mixed, sent in pieces that cut frames anywhere.
                std::string all;
                for (int i = 0; i < 12; ++i) {
                    all += frame(body_for(i, i % 3 == 0 ? 10 : 40'000 + 1'000 * i));
                }
                for (size_t off = 0; off < all.size(); off += 7'001) {
                    ASSERT_TRUE(c.send_raw(std::string_view(all).substr(off, 7'001)));
                }
                for (int i = 0; i < 12; ++i) {
                    auto r = c.read_frame();
                    ASSERT_TRUE(r);
                    EXPECT_EQ(*r, body_for(i, i % 3 == 0 ? 10 : 40'000 + 1'000 * i));
                }
            });
            NET_CO_ASSERT(co_await t.wait());
            EXPECT_EQ(e.max_fragments, 1u);
            EXPECT_EQ(s.memory_available(), s.config().max_inflight_bytes);
            co_return 0;
        });
    });
    EXPECT_EQ(rc, 0);
}

TEST(net_server, answers_in_request_order_when_handlers_finish_out_of_order) {
    constexpr int n = 20;
    std::vector<int> completion_order;
    frame_handler h = [&](connection_info&, iobuf f) -> task<result<std::optional<iobuf>>> {
        int i = std::stoi(to_string(f));
        co_await sleep_for(std::chrono::milliseconds(3 * (n - i)));
        completion_order.push_back(i);
        co_return std::optional<iobuf>(to_iobuf(reply(std::to_string(i))));
    };
    int rc = run_on_reactor([&]() -> task<int> {
        co_return co_await with_server(test_config(), h, [&](server& s) -> task<int> {
            uint16_t port = s.port();
            client_thread t([port] {
                client c(port);
                std::string all;
                for (int i = 0; i < n; ++i) all += frame(std::to_string(i));
                ASSERT_TRUE(c.send_raw(all));
                for (int i = 0; i < n; ++i) EXPECT_EQ(c.read_frame(), reply(std::to_string(i)));
            });
            NET_CO_ASSERT(co_await t.wait());
            co_return 0;
        });
    });
    EXPECT_EQ(rc, 0);
    // The handlers really did finish in reverse.
    ASSERT_EQ(completion_order.size(), size_t(n));
    EXPECT_EQ(completion_order.front(), n - 1);
    EXPECT_EQ(completion_order.back(), 0);
}

TEST(net_server, invokes_handlers_in_frame_order_up_to_their_first_suspension) {
    std::vector<std::string> log;
    frame_handler h = [&](connection_info&, iobuf f) -> task<result<std::optional<iobuf>>> {
        log.push_back("start " + to_string(f));
        co_await sleep_for(1ms);
        log.push_back("end " + to_string(f));
        co_return std::optional<iobuf>(std::move(f));
    };
    int rc = run_on_reactor([&]() -> task<int> {
        co_return co_await with_server(test_config(), h, [&](server& s) -> task<int> {
            uint16_t port = s.port();
            client_thread t([port] {
                client c(port);
                ASSERT_TRUE(c.send_raw(frame("a") + frame("b") + frame("c")));
                for (auto want : {"a", "b", "c"}) EXPECT_EQ(c.read_frame(), want);
            });
            NET_CO_ASSERT(co_await t.wait());
            co_return 0;
        });
    });
    EXPECT_EQ(rc, 0);
    ASSERT_EQ(log.size(), 6u);
    // Every handler started before any finished: they ran concurrently, started in order.
    EXPECT_EQ(log[0], "start a");
    EXPECT_EQ(log[1], "start b");
    EXPECT_EQ(log[2], "start c");
}

TEST(net_server, ready_responses_go_out_in_one_sendmsg) {
    latch hold;
    size_t invoked = 0;
    frame_handler h = [&](connection_info&, iobuf f) -> task<result<std::optional<iobuf>>> {
        ++invoked;
        co_await hold.wait();
        co_return std::optional<iobuf>(std::move(f));
    };
    int rc = run_on_reactor([&]() -> task<int> {
        co_return co_await with_server(test_config(), h, [&](server& s) -> task<int> {
            uint16_t port = s.port();
            client_thread t([port] {
                client c(port);
                std::string all;
                for (int i = 0; i < 10; ++i) all += frame(std::to_string(i));
                ASSERT_TRUE(c.send_raw(all));
                for (int i = 0; i < 10; ++i) EXPECT_EQ(c.read_frame(), std::to_string(i));
            });
            bool all_invoked = co_await wait_until([&] { return invoked == 10; });
            hold.release();
            NET_CO_ASSERT(all_invoked);
            NET_CO_ASSERT(co_await t.wait());
            NET_CO_ASSERT(co_await responses_counted(s, 10u));
            EXPECT_EQ(s.stats().responses_sent, 10u);
            EXPECT_EQ(s.stats().send_calls, 1u);
            co_return 0;
        });
    });
    EXPECT_EQ(rc, 0);
}

TEST(net_server, requests_without_response_keep_their_place) {
    frame_handler h = [&](connection_info&, iobuf f) -> task<result<std::optional<iobuf>>> {
        std::string s = to_string(f);
        // Odd requests are answered late, even ones (acks=0 style) never.
        if (s != "end" && std::stoi(s) % 2 == 0) co_return std::optional<iobuf>();
        co_await sleep_for(2ms);
        co_return std::optional<iobuf>(to_iobuf(reply(s)));
    };
    int rc = run_on_reactor([&]() -> task<int> {
        co_return co_await with_server(test_config(), h, [&](server& s) -> task<int> {
            uint16_t port = s.port();
            client_thread t([port] {
                client c(port);
                std::string all;
                for (int i = 0; i < 10; ++i) all += frame(std::to_string(i));
                ASSERT_TRUE(c.send_raw(all + frame("end")));
                for (int i = 1; i < 10; i += 2) EXPECT_EQ(c.read_frame(), reply(std::to_string(i)));
                EXPECT_EQ(c.read_frame(), "rend");
            });
            NET_CO_ASSERT(co_await t.wait());
            EXPECT_EQ(s.stats().frames_received, 11u);
            NET_CO_ASSERT(co_await responses_counted(s, 6u));
            EXPECT_EQ(s.stats().responses_sent, 6u);
            co_return 0;
        });
    });
    EXPECT_EQ(rc, 0);
}

TEST(net_server, handler_error_closes_after_the_earlier_responses) {
    size_t finished = 0;
    frame_handler h = [&](connection_info&, iobuf f) -> task<result<std::optional<iobuf>>> {
        std::string s = to_string(f);
        if (s == "fail") co_return std::make_error_code(std::errc::invalid_argument);
        if (s == "throw") throw std::runtime_error("handler bug");
        // The requests before the failure finish after it.
        if (s == "0" || s == "1") co_await sleep_for(20ms);
        ++finished;
        co_return std::optional<iobuf>(to_iobuf(reply(s)));
    };
    int rc = run_on_reactor([&]() -> task<int> {
        co_return co_await with_server(test_config(), h, [&](server& s) -> task<int> {
            uint16_t port = s.port();
            client_thread t([port] {
                client c(port);
                ASSERT_TRUE(c.send_raw(frame("0") + frame("1") + frame("fail") + frame("3")));
                EXPECT_EQ(c.read_frame(), "r0");
                EXPECT_EQ(c.read_frame(), "r1");
                EXPECT_TRUE(c.wait_closed());
                // An exception escaping a handler is a handler error too.
                client d(port);
                ASSERT_TRUE(d.send_raw(frame("0") + frame("throw")));
                EXPECT_EQ(d.read_frame(), "r0");
                EXPECT_TRUE(d.wait_closed());
            });
            NET_CO_ASSERT(co_await t.wait());
            NET_CO_ASSERT(co_await wait_until([&] { return s.connection_count() == 0; }));
            EXPECT_EQ(s.stats().handler_errors, 2u);
            EXPECT_EQ(finished, 4u);  // "3" ran; its result was discarded
            EXPECT_EQ(s.memory_available(), s.config().max_inflight_bytes);
            co_return 0;
        });
    });
    EXPECT_EQ(rc, 0);
}

TEST(net_server, listen_reports_bad_addresses_and_ports_in_use_as_values) {
    echo e;
    int rc = run_on_reactor([&]() -> task<int> {
        auto cfg = test_config();
        cfg.host = "not-an-address";
        auto bad = server::listen(cfg, e.handler());
        EXPECT_FALSE(bad);
        EXPECT_EQ(bad.error(), std::make_error_code(std::errc::invalid_argument));
        // A port held by a socket without SO_REUSEPORT.
        int plain = ::socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
        sockaddr_in addr{};
        addr.sin_family = AF_INET;
        addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
        socklen_t len = sizeof(addr);
        NET_CO_ASSERT(::bind(plain, reinterpret_cast<sockaddr*>(&addr), len) == 0);
        NET_CO_ASSERT(::listen(plain, 4) == 0);
        ::getsockname(plain, reinterpret_cast<sockaddr*>(&addr), &len);
        cfg = test_config();
        cfg.port = ntohs(addr.sin_port);
        auto in_use = server::listen(cfg, e.handler());
        ::close(plain);
        EXPECT_FALSE(in_use);
        EXPECT_EQ(in_use.error(), std::error_code(EADDRINUSE, std::system_category()));
        co_return 0;
    });
    EXPECT_EQ(rc, 0);
}

TEST(net_server, shards_share_the_port_that_the_first_one_got) {
    echo e;
    int rc = run_on_reactor([&]() -> task<int> {
        auto first = server::listen(test_config(), e.handler());
        NET_CO_ASSERT(first);
        auto cfg = test_config();
        cfg.port = (*first)->port();
        NET_CO_ASSERT(cfg.port != 0);
        auto second = server::listen(cfg, e.handler());
        NET_CO_ASSERT(second);
        EXPECT_EQ((*second)->port(), cfg.port);
        (*first)->start();
        (*second)->start();
        client_thread t([port = cfg.port] {
            for (int i = 0; i < 8; ++i) {
                client c(port);
                ASSERT_TRUE(c.send_frame("hi"));
                EXPECT_EQ(c.read_frame(), "hi");
            }
        });
        bool ok = co_await t.wait();
        co_await (*first)->stop();
        co_await (*second)->stop();
        NET_CO_ASSERT(ok);
        EXPECT_EQ((*first)->stats().connections_accepted + (*second)->stats().connections_accepted,
                  8u);
        co_return 0;
    });
    EXPECT_EQ(rc, 0);
}

}  // namespace
}  // namespace wharf::net::test
