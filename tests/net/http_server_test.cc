// The admin HTTP server (net/http/): routes, GET/HEAD only, keep-alive and pipelining, the
// bounds on the head and the body (400 and a closed connection), timeouts, the connection limit,
// and that a refused request leaves the server serving. Real sockets on loopback; the client
// runs on a helper thread (net::test::client: blocking calls bounded by socket timeouts).

#include <atomic>
#include <cctype>
#include <cerrno>
#include <map>
#include <optional>
#include <stdexcept>
#include <string>
#include <utility>
#include <vector>

#include "net/http/http_server.h"
#include "net/socket_address.h"
#include "tests/net/server_test_util.h"

namespace wharf::net::http::test {
namespace {

using namespace std::chrono_literals;
using net::test::client;
using net::test::client_thread;
using net::test::run_on_reactor;

struct reply {
    int status = 0;
    std::map<std::string, std::string> headers;  // names in lower case
    std::string body;
};

// Reads one response from c; `in` keeps the bytes read past it (the start of the next pipelined
// response). For HEAD the body is not read (there is none on the wire).
std::optional<reply> read_response(client& c, std::string& in, bool head = false) {
    size_t end;
    while ((end = in.find("\r\n\r\n")) == std::string::npos) {
        if (!c.read_some(in)) return std::nullopt;
    }
    reply r;
    std::string head_text = in.substr(0, end);
    in.erase(0, end + 4);
    size_t line_end = head_text.find("\r\n");
    std::string status_line = head_text.substr(0, line_end);
    if (status_line.rfind("HTTP/1.1 ", 0) != 0) return std::nullopt;
    r.status = std::stoi(status_line.substr(9, 3));
    size_t pos = line_end == std::string::npos ? head_text.size() : line_end + 2;
    while (pos < head_text.size()) {
        size_t next = head_text.find("\r\n", pos);
        if (next == std::string::npos) next = head_text.size();
        std::string line = head_text.substr(pos, next - pos);
        size_t colon = line.find(':');
        std::string name = line.substr(0, colon);
        for (auto& ch : name) ch = static_cast<char>(std::tolower(ch));
        r.headers[name] = line.substr(line.find_first_not_of(' ', colon + 1));
        pos = next + 2;
    }
    size_t length = std::stoul(r.headers["content-length"]);
    if (head) return r;
    while (in.size() < length) {
        if (!c.read_some(in)) return std::nullopt;
    }
    r.body = in.substr(0, length);
    in.erase(0, length);
    return r;
}

// True when the server ends the connection with no more bytes (within the client's timeout).
bool closed_after(client& c, const std::string& in) {
    return in.empty() && c.wait_closed();
}

std::string get(std::string_view path, std::string_view extra_headers = "") {
    std::string s = "GET ";
    s.append(path);
    s += " HTTP/1.1\r\nHost: x\r\n";
    s.append(extra_headers);
    s += "\r\n";
    return s;
}

server_config test_config() {
    server_config cfg;
    cfg.port = 0;
    return cfg;
}

// Listens, registers /hello (and what `setup` adds), runs body with the port on a client thread,
// then stops the server. Returns 0 when the client finished in time.
int with_http_server(server_config cfg, const std::function<void(server&)>& setup,
                     const std::function<void(uint16_t, const server_stats&)>& client,
                     std::function<void(const server_stats&)> after = {}) {
    return run_on_reactor([&]() -> task<int> {
        auto s = server::listen(cfg);
        if (!s) {
            ADD_FAILURE() << "listen: " << s.error().message();
            co_return 1;
        }
        server& srv = **s;
        srv.route("/hello", [](const request&) -> task<response> {
            co_return response::text(200, "hello\n");
        });
        if (setup) setup(srv);
        srv.start();
        uint16_t port = srv.port();
        const server_stats* stats = &srv.stats();
        client_thread t([&client, port, stats] { client(port, *stats); });
        bool finished = co_await t.wait(60s);
        if (after) after(srv.stats());
        co_await srv.stop();
        co_return finished ? 0 : 1;
    });
}

TEST(http_server, get_and_head_on_a_kept_alive_connection) {
    int rc = with_http_server(test_config(), {}, [](uint16_t port, const server_stats&) {
        client c(port);
        std::string c_in;
        ASSERT_TRUE(c.connected());
        ASSERT_TRUE(c.send_raw(get("/hello")));
        auto r = read_response(c, c_in);
        ASSERT_TRUE(r);
        EXPECT_EQ(r->status, 200);
        EXPECT_EQ(r->body, "hello\n");
        EXPECT_EQ(r->headers["content-type"], "text/plain; charset=utf-8");
        EXPECT_EQ(r->headers["connection"], "keep-alive");
        ASSERT_TRUE(c.send_raw("HEAD /hello HTTP/1.1\r\n\r\n"));
        r = read_response(c, c_in, true);
        ASSERT_TRUE(r);
        EXPECT_EQ(r->status, 200);
        EXPECT_EQ(r->headers["content-length"], "6");
        // No body followed the HEAD answer: the next response starts right away.
        ASSERT_TRUE(c.send_raw(get("/hello")));
        r = read_response(c, c_in);
        ASSERT_TRUE(r);
        EXPECT_EQ(r->body, "hello\n");
    });
    EXPECT_EQ(rc, 0);
}

TEST(http_server, put_goes_to_the_longest_registered_prefix_and_nowhere_else) {
    auto setup = [](server& srv) {
        srv.route_put_prefix("/v1/things/", [](const request& r) -> task<response> {
            co_return response::text(200, "thing " + r.path.substr(11) + "\n");
        });
        srv.route_put_prefix("/v1/things/special/", [](const request& r) -> task<response> {
            co_return response::text(202, "special " + r.path.substr(19) + "\n");
        });
    };
    int rc = with_http_server(test_config(), setup, [](uint16_t port, const server_stats&) {
        client c(port);
        std::string c_in;
        ASSERT_TRUE(c.send_raw("PUT /v1/things/7/go HTTP/1.1\r\nContent-Length: 0\r\n\r\n"));
        auto r = read_response(c, c_in);
        ASSERT_TRUE(r);
        EXPECT_EQ(r->status, 200);
        EXPECT_EQ(r->body, "thing 7/go\n");
        ASSERT_TRUE(c.send_raw("PUT /v1/things/special/x HTTP/1.1\r\nContent-Length: 0\r\n\r\n"));
        r = read_response(c, c_in);
        ASSERT_TRUE(r);
        EXPECT_EQ(r->status, 202);
        EXPECT_EQ(r->body, "special x\n");
        // GET routes take no PUT, and PUT routes no GET.
        ASSERT_TRUE(c.send_raw("PUT /hello HTTP/1.1\r\nContent-Length: 0\r\n\r\n"));
        r = read_response(c, c_in);
        ASSERT_TRUE(r);
        EXPECT_EQ(r->status, 405);
        EXPECT_EQ(r->headers["allow"], "GET, HEAD");
        ASSERT_TRUE(c.send_raw(get("/v1/things/7/go")));
        r = read_response(c, c_in);
        ASSERT_TRUE(r);
        EXPECT_EQ(r->status, 405);
        EXPECT_EQ(r->headers["allow"], "PUT");
    });
    EXPECT_EQ(rc, 0);
}

TEST(http_server, post_goes_to_post_prefixes_and_put_to_put_prefixes) {
    auto setup = [](server& srv) {
        srv.route_put_prefix("/v1/brokers/", [](const request&) -> task<response> {
            co_return response::text(200, "put\n");
        });
        srv.route_post_prefix("/v1/raft/", [](const request& r) -> task<response> {
            co_return response::text(200, "post " + r.path.substr(9) + " " + r.query + "\n");
        });
    };
    int rc = with_http_server(test_config(), setup, [](uint16_t port, const server_stats&) {
        client c(port);
        std::string c_in;
        ASSERT_TRUE(c.send_raw(
            "POST /v1/raft/1/transfer_leadership?target=3 HTTP/1.1\r\nContent-Length: 0\r\n\r\n"));
        auto r = read_response(c, c_in);
        ASSERT_TRUE(r);
        EXPECT_EQ(r->status, 200);
        EXPECT_EQ(r->body, "post 1/transfer_leadership target=3\n");
        ASSERT_TRUE(c.send_raw("PUT /v1/raft/1 HTTP/1.1\r\nContent-Length: 0\r\n\r\n"));
        r = read_response(c, c_in);
        ASSERT_TRUE(r);
        EXPECT_EQ(r->status, 405);
        EXPECT_EQ(r->headers["allow"], "POST");  // what the path does take
        ASSERT_TRUE(c.send_raw("POST /v1/brokers/1 HTTP/1.1\r\nContent-Length: 0\r\n\r\n"));
        r = read_response(c, c_in);
        ASSERT_TRUE(r);
        EXPECT_EQ(r->status, 405);
        EXPECT_EQ(r->headers["allow"], "PUT");
        // A path no method serves is unknown, whatever the method.
        ASSERT_TRUE(c.send_raw("POST /v1/other/1 HTTP/1.1\r\nContent-Length: 0\r\n\r\n"));
        r = read_response(c, c_in);
        ASSERT_TRUE(r);
        EXPECT_EQ(r->status, 404);
        ASSERT_TRUE(c.send_raw(get("/v1/raft/1/transfer_leadership")));
        r = read_response(c, c_in);
        ASSERT_TRUE(r);
        EXPECT_EQ(r->status, 405);
        EXPECT_EQ(r->headers["allow"], "POST");
        ASSERT_TRUE(c.send_raw("DELETE /v1/raft/1 HTTP/1.1\r\nContent-Length: 0\r\n\r\n"));
        r = read_response(c, c_in);
        ASSERT_TRUE(r);
        EXPECT_EQ(r->status, 405);
        EXPECT_EQ(r->headers["allow"], "POST");
    });
    EXPECT_EQ(rc, 0);
}

TEST(http_server, get_prefixes_serve_what_no_exact_route_names) {
    auto setup = [](server& srv) {
        srv.route("/v1/brokers", [](const request&) -> task<response> {
            co_return response::text(200, "exact\n");
        });
        srv.route_get_prefix("/v1/brokers/", [](const request& r) -> task<response> {
            co_return response::text(200, "get " + r.path.substr(12) + "\n");
        });
        srv.route_put_prefix("/v1/brokers/", [](const request&) -> task<response> {
            co_return response::text(200, "put\n");
        });
    };
    int rc = with_http_server(test_config(), setup, [](uint16_t port, const server_stats&) {
        client c(port);
        std::string c_in;
        ASSERT_TRUE(c.send_raw(get("/v1/brokers")));
        auto r = read_response(c, c_in);
        ASSERT_TRUE(r);
        EXPECT_EQ(r->body, "exact\n");
        ASSERT_TRUE(c.send_raw(get("/v1/brokers/3/decommission")));
        r = read_response(c, c_in);
        ASSERT_TRUE(r);
        EXPECT_EQ(r->status, 200);
        EXPECT_EQ(r->body, "get 3/decommission\n");
        ASSERT_TRUE(c.send_raw("POST /v1/brokers/3/decommission HTTP/1.1\r\n"
                               "Content-Length: 0\r\n\r\n"));
        r = read_response(c, c_in);
        ASSERT_TRUE(r);
        EXPECT_EQ(r->status, 405);
        EXPECT_EQ(r->headers["allow"], "GET, HEAD, PUT");
    });
    EXPECT_EQ(rc, 0);
}

TEST(http_server, unknown_paths_404_other_methods_405_and_the_connection_stays) {
    int rc = with_http_server(test_config(), {}, [](uint16_t port, const server_stats&) {
        client c(port);
        std::string c_in;
        ASSERT_TRUE(c.send_raw(get("/nope")));
        auto r = read_response(c, c_in);
        ASSERT_TRUE(r);
        EXPECT_EQ(r->status, 404);
        ASSERT_TRUE(c.send_raw("POST /hello HTTP/1.1\r\nContent-Length: 5\r\n\r\nabcde"));
        r = read_response(c, c_in);
        ASSERT_TRUE(r);
        EXPECT_EQ(r->status, 405);
        EXPECT_EQ(r->headers["allow"], "GET, HEAD");
        ASSERT_TRUE(c.send_raw(get("/hello")));
        r = read_response(c, c_in);
        ASSERT_TRUE(r);
        EXPECT_EQ(r->status, 200);
    });
    EXPECT_EQ(rc, 0);
}

// Three requests in one send: the parser stops after each, the rest of the buffer is parsed
// after the answer, and the query is split off the path. (The order of the answers is not what
// this checks: one connection's requests are answered strictly one after the other.)
TEST(http_server, pipelined_requests_in_one_send_are_each_parsed_and_queries_split_off) {
    std::vector<std::string> queries;
    auto setup = [&queries](server& s) {
        s.route("/query", [&queries](const request& r) -> task<response> {
            queries.push_back(r.query);
            co_return response::text(200, "query\n");
        });
    };
    int rc = with_http_server(test_config(), setup, [](uint16_t port, const server_stats&) {
        client c(port);
        std::string c_in;
        ASSERT_TRUE(c.send_raw(get("/query?a=1") + get("/hello") + get("/query?b=2&c")));
        for (const char* want : {"query\n", "hello\n", "query\n"}) {
            auto r = read_response(c, c_in);
            ASSERT_TRUE(r);
            EXPECT_EQ(r->body, want);
        }
    });
    EXPECT_EQ(rc, 0);
    EXPECT_EQ(queries, (std::vector<std::string>{"a=1", "b=2&c"}));
}

// A body larger than the socket buffer leaves with its head in one sendmsg, which the kernel may
// take in parts: every byte arrives, in order, and the connection stays usable.
TEST(http_server, a_large_body_arrives_whole_after_its_head) {
    std::string big(4 << 20, '\0');
    for (size_t i = 0; i < big.size(); ++i) big[i] = static_cast<char>('a' + i % 26);
    auto setup = [&big](server& s) {
        s.route("/big",
                [&big](const request&) -> task<response> { co_return response::text(200, big); });
    };
    int rc = with_http_server(test_config(), setup, [&big](uint16_t port, const server_stats&) {
        client c(port);
        std::string c_in;
        ASSERT_TRUE(c.send_raw(get("/big")));
        auto r = read_response(c, c_in);
        ASSERT_TRUE(r);
        EXPECT_EQ(r->status, 200);
        EXPECT_EQ(r->headers["content-length"], std::to_string(big.size()));
        EXPECT_TRUE(r->body == big);
        ASSERT_TRUE(c.send_raw("HEAD /big HTTP/1.1\r\n\r\n" + get("/hello")));
        r = read_response(c, c_in, true);
        ASSERT_TRUE(r);
        EXPECT_EQ(r->headers["content-length"], std::to_string(big.size()));
        r = read_response(c, c_in);
        ASSERT_TRUE(r);
        EXPECT_EQ(r->body, "hello\n");
    });
    EXPECT_EQ(rc, 0);
}

TEST(http_server, malformed_requests_get_400_and_a_closed_connection) {
    int rc = with_http_server(
        test_config(), {},
        [](uint16_t port, const server_stats&) {
            for (std::string bad : {std::string("GARBAGE\r\n\r\n"),
                                    std::string("GET /hello HTTP/1.1\r\nBad Header\r\n\r\n"),
                                    std::string("GET /hello HTTP/9.9.9\r\n\r\n")}) {
                client c(port);
                std::string c_in;
                ASSERT_TRUE(c.send_raw(bad));
                auto r = read_response(c, c_in);
                ASSERT_TRUE(r) << bad;
                EXPECT_EQ(r->status, 400) << bad;
                EXPECT_EQ(r->headers["connection"], "close");
                EXPECT_TRUE(closed_after(c, c_in)) << bad;
            }
            client ok(port);
            std::string ok_in;
            ASSERT_TRUE(ok.send_raw(get("/hello")));
            auto r = read_response(ok, ok_in);
            ASSERT_TRUE(r);
            EXPECT_EQ(r->status, 200);
        },
        [](const server_stats& s) { EXPECT_EQ(s.bad_requests, 3u); });
    EXPECT_EQ(rc, 0);
}

TEST(http_server, a_head_past_8_kib_gets_400_and_one_just_under_is_served) {
    int rc = with_http_server(test_config(), {}, [](uint16_t port, const server_stats&) {
        {
            client c(port);
            std::string c_in;
            std::string filler(8192 - 200, 'a');
            ASSERT_TRUE(c.send_raw(get("/hello", std::string("X-Filler: ") + filler + "\r\n")));
            auto r = read_response(c, c_in);
            ASSERT_TRUE(r);
            EXPECT_EQ(r->status, 200);
        }
        client c(port);
        std::string c_in;
        std::string filler(9000, 'a');
        // Sent without the final blank line: the server must refuse before the head ends.
        ASSERT_TRUE(c.send_raw(std::string("GET /hello HTTP/1.1\r\nX-Filler: ") + filler));
        auto r = read_response(c, c_in);
        ASSERT_TRUE(r);
        EXPECT_EQ(r->status, 400);
        EXPECT_NE(r->body.find("8192"), std::string::npos) << r->body;
        EXPECT_TRUE(closed_after(c, c_in));
    });
    EXPECT_EQ(rc, 0);
}

TEST(http_server, bodies_past_64_kib_get_400_whether_declared_or_chunked) {
    int rc = with_http_server(test_config(), {}, [](uint16_t port, const server_stats&) {
        {
            client c(port);
            std::string c_in;
            ASSERT_TRUE(
                c.send_raw(std::string("GET /hello HTTP/1.1\r\nContent-Length: 1000\r\n\r\n") +
                           std::string(1000, 'b')));
            auto r = read_response(c, c_in);
            ASSERT_TRUE(r);
            EXPECT_EQ(r->status, 200);
        }
        {
            client c(port);
            std::string c_in;
            ASSERT_TRUE(c.send_raw("GET /hello HTTP/1.1\r\nContent-Length: 65537\r\n\r\n"));
            auto r = read_response(c, c_in);
            ASSERT_TRUE(r);
            EXPECT_EQ(r->status, 400);
            EXPECT_TRUE(closed_after(c, c_in));
        }
        client c(port);
        std::string c_in;
        std::string chunk = std::string("8000\r\n") + std::string(0x8000, 'c') + "\r\n";
        std::string req = "GET /hello HTTP/1.1\r\nTransfer-Encoding: chunked\r\n\r\n";
        for (int i = 0; i < 3; ++i) req += chunk;  // 96 KiB
        (void)c.send_raw(req);  // the server may close before it has read everything
        auto r = read_response(c, c_in);
        ASSERT_TRUE(r);
        EXPECT_EQ(r->status, 400);
        EXPECT_TRUE(closed_after(c, c_in));
    });
    EXPECT_EQ(rc, 0);
}

TEST(http_server, connection_close_and_http_1_0_end_the_connection_after_the_response) {
    int rc = with_http_server(test_config(), {}, [](uint16_t port, const server_stats&) {
        for (std::string req :
             {get("/hello", "Connection: close\r\n"), std::string("GET /hello HTTP/1.0\r\n\r\n")}) {
            client c(port);
            std::string c_in;
            ASSERT_TRUE(c.send_raw(req));
            auto r = read_response(c, c_in);
            ASSERT_TRUE(r);
            EXPECT_EQ(r->status, 200);
            EXPECT_EQ(r->headers["connection"], "close");
            EXPECT_TRUE(closed_after(c, c_in));
        }
    });
    EXPECT_EQ(rc, 0);
}

TEST(http_server, idle_connections_close_and_slow_requests_get_408) {
    server_config cfg = test_config();
    cfg.idle_timeout = 200ms;
    cfg.request_timeout = 300ms;
    int rc = with_http_server(
        cfg, {},
        [](uint16_t port, const server_stats&) {
            {
                client idle(port);
                ASSERT_TRUE(idle.connected());
                EXPECT_TRUE(idle.wait_closed());
            }
            client slow(port);
            std::string slow_in;
            ASSERT_TRUE(slow.send_raw("GET /hello HTTP/1.1\r\n"));
            auto r = read_response(slow, slow_in);
            ASSERT_TRUE(r);
            EXPECT_EQ(r->status, 408);
            EXPECT_TRUE(closed_after(slow, slow_in));
        },
        [](const server_stats& s) {
            EXPECT_EQ(s.idle_closes, 1u);
            EXPECT_EQ(s.timeouts, 1u);
        });
    EXPECT_EQ(rc, 0);
}

TEST(http_server, a_throwing_route_gives_500_and_the_server_keeps_serving) {
    auto setup = [](server& s) {
        s.route("/boom", [](const request&) -> task<response> {
            throw std::runtime_error("boom");
            co_return response::text(200, "unreachable");
        });
    };
    int rc = with_http_server(
        test_config(), setup,
        [](uint16_t port, const server_stats&) {
            client c(port);
            std::string c_in;
            ASSERT_TRUE(c.send_raw(get("/boom") + get("/hello")));
            auto r = read_response(c, c_in);
            ASSERT_TRUE(r);
            EXPECT_EQ(r->status, 500);
            r = read_response(c, c_in);
            ASSERT_TRUE(r);
            EXPECT_EQ(r->status, 200);
        },
        [](const server_stats& s) { EXPECT_EQ(s.handler_errors, 1u); });
    EXPECT_EQ(rc, 0);
}

TEST(http_server, connections_past_the_limit_are_closed_at_once) {
    server_config cfg = test_config();
    cfg.max_connections = 2;
    int rc = with_http_server(
        cfg, {},
        [](uint16_t port, const server_stats&) {
            client a(port);
            std::string a_in;
            client b(port);
            std::string b_in;
            for (auto [c, in] : {std::pair{&a, &a_in}, std::pair{&b, &b_in}}) {
                ASSERT_TRUE(c->send_raw(get("/hello")));
                ASSERT_TRUE(read_response(*c, *in));
            }
            client refused(port);
            ASSERT_TRUE(refused.connected());  // the kernel accepts; the server closes it
            EXPECT_TRUE(refused.wait_closed());
            ASSERT_TRUE(a.send_raw(get("/hello")));
            EXPECT_TRUE(read_response(a, a_in));
        },
        [](const server_stats& s) { EXPECT_EQ(s.connections_refused, 1u); });
    EXPECT_EQ(rc, 0);
}

TEST(http_server, stop_ends_open_connections) {
    int rc = run_on_reactor([]() -> task<int> {
        auto s = server::listen(test_config());
        NET_CO_ASSERT(s.has_value());
        (*s)->route("/hello", [](const request&) -> task<response> {
            co_return response::text(200, "hello\n");
        });
        (*s)->start();
        uint16_t port = (*s)->port();
        std::atomic<bool> connected{false};
        std::atomic<bool> closed{false};
        client_thread t([port, &connected, &closed] {
            client c(port);
            std::string c_in;
            (void)c.send_raw(get("/hello"));
            (void)read_response(c, c_in);
            connected = true;
            closed = closed_after(c, c_in);
        });
        NET_CO_ASSERT(co_await net::test::wait_until([&] { return connected.load(); }));
        NET_CO_ASSERT((*s)->stats().connections_open == 1);
        co_await (*s)->stop();
        NET_CO_ASSERT(co_await t.wait());
        NET_CO_ASSERT(closed.load());
        co_return 0;
    });
    EXPECT_EQ(rc, 0);
}

// Both listeners (Kafka and HTTP) act on accept errors through this one classification: a broken
// listening socket stops its accept loop instead of being retried forever.
TEST(http_server, accept_errors_retry_pause_or_stop) {
    for (int e : {ECONNABORTED, EPROTO, EPERM, EINTR, EAGAIN}) {
        EXPECT_EQ(classify_accept_error(-e), accept_error_action::retry) << e;
    }
    for (int e : {EMFILE, ENFILE, ENOBUFS, ENOMEM}) {
        EXPECT_EQ(classify_accept_error(-e), accept_error_action::pause) << e;
    }
    for (int e : {EBADF, EINVAL, ENOTSOCK, EOPNOTSUPP}) {
        EXPECT_EQ(classify_accept_error(-e), accept_error_action::stop) << e;
    }
}

}  // namespace
}  // namespace wharf::net::http::test
