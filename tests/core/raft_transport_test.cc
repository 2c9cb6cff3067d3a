// The raft transport between brokers (core/raft_transport/): one process, two shards, one RPC
// listener on a free loopback port and, on every shard, the transports of nodes 1 and 2, both
// pointing at that listener (its broker plays every node, so verify_peer is off). Each shard's
// handler records what reaches it. Every wait polls a condition with a deadline.

#include <gtest/gtest.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <unistd.h>

#include <array>
#include <chrono>
#include <condition_variable>
#include <cstdio>
#include <cstdlib>
#include <functional>
#include <memory>
#include <mutex>
#include <thread>
#include <vector>

#include "core/raft_transport/config.h"
#include "core/raft_transport/listener.h"
#include "core/raft_transport/peer_transport.h"
#include "core/raft_transport/rpc_socket.h"
#include "net/rpc/frame.h"
#include "net/rpc/handshake.h"
#include "raft/message_codec.h"
#include "reactor/clock.h"
#include "reactor/io.h"
#include "reactor/shard.h"
#include "reactor/smp.h"
#include "reactor/submit_to.h"
#include "reactor/timer.h"

// ASSERT_* returns from a void function; in a coroutine a failure ends it with co_return 1.
#define RT_CO_ASSERT(cond)                               \
    do {                                                 \
        if (!(cond)) {                                   \
            ADD_FAILURE() << "assertion failed: " #cond; \
            co_return 1;                                 \
        }                                                \
    } while (0)

namespace wharf::raft_rpc {
namespace {

using namespace std::chrono_literals;

constexpr unsigned shard_count = 2;
const node_id node1(1);
const node_id node2(2);

// Runs fn on shard 0 of a two-shard smp; aborts when it has not finished after timeout_s (so a
// hung test fails instead of waiting for the ctest timeout).
int run_two_shards(std::function<task<int>()> fn, int timeout_s = 120) {
    std::mutex m;
    std::condition_variable cv;
    bool done = false;
    std::thread watchdog([&] {
        std::unique_lock lock(m);
        if (!cv.wait_for(lock, std::chrono::seconds(timeout_s), [&] { return done; })) {
            std::fprintf(stderr, "raft transport test did not finish within %d s\n", timeout_s);
            std::abort();
        }
    });
    auto r = smp::run(smp_config{.shards = shard_count}, std::move(fn));
    {
        std::lock_guard lock(m);
        done = true;
    }
    cv.notify_all();
    watchdog.join();
    if (!r) {
        ADD_FAILURE() << "smp::run failed: " << r.error().message();
        return -1;
    }
    return *r;
}

rpc::cluster_id test_cluster() {
    rpc::cluster_id c;
    for (size_t i = 0; i < c.bytes.size(); ++i) c.bytes[i] = static_cast<uint8_t>(0xa0 + i);
    return c;
}

net::socket_address loopback(uint16_t port) {
    auto a = net::parse_address("127.0.0.1", port);
    WHARF_ASSERT(a, "loopback address");
    return *a;
}

raft_transport_config base_config() {
    raft_transport_config cfg;
    cfg.cluster = test_cluster();
    cfg.self = node1;
    cfg.listen_address = loopback(0);
    cfg.verify_peer = verify_peer_node::no;
    return cfg;
}

// A port that nothing listens on (bound and closed again; another process could take it in
// between, which would only make the reconnection test connect earlier).
uint16_t unused_port() {
    int fd = ::socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
    WHARF_ASSERT(fd >= 0, "socket");
    auto a = loopback(0);
    WHARF_ASSERT(::bind(fd, a.get(), a.len) == 0, "bind");
    socklen_t len = a.len;
    WHARF_ASSERT(::getsockname(fd, a.get(), &len) == 0, "getsockname");
    ::close(fd);
    return a.port();
}

// ---- messages

iobuf pattern(size_t n, unsigned seed) {
    std::vector<std::byte> v(n);
    for (size_t i = 0; i < n; ++i) v[i] = std::byte((seed * 31 + i * 7 + (i >> 8)) & 0xff);
    return iobuf::copy_of(v.data(), v.size());
}

// Message `seq` of a stream from `from` on `shard`: mostly append requests with entries (every
// 8th carries an entry larger than the reader's scratch buffer), every 5th a vote request. The
// entries' partition ids name the shard, so a message on the wrong shard is seen.
raft_message message_of(node_id from, node_id to, unsigned shard, int seq) {
    raft_message m;
    m.from = from;
    m.to = to;
    if (seq % 5 == 4) {
        m.body = vote_request{term_id(seq), raft_index(seq), term_id(seq - 1), seq % 2 == 0, false};
        return m;
    }
    append_request a;
    a.term = term_id(7);
    a.prev_index = raft_index(seq * 10);
    a.prev_term = term_id(6);
    a.leader_commit = raft_index(seq * 10);
    for (int e = 0; e < 3; ++e) {
        size_t len = (e == 2 && seq % 8 == 0) ? 100'000 : (seq * 131 + e * 17) % 3000;
        a.entries.push_back(raft_entry{raft_index(seq * 10 + 1 + e), term_id(7), entry_type::data,
                                       partition_id(shard * 1000 + e),
                                       pattern(len, seq * 3 + e + shard)});
    }
    m.body = std::move(a);
    return m;
}

raft_message heartbeat_of(node_id from, node_id to, int seq) {
    raft_message m;
    m.from = from;
    m.to = to;
    m.body = append_request{term_id(3), raft_index(seq), term_id(3), raft_index(seq), {}};
    return m;
}

// A message whose one entry carries `payload_bytes`.
raft_message sized_message(node_id from, node_id to, size_t payload_bytes) {
    raft_message m;
    m.from = from;
    m.to = to;
    append_request a{term_id(2), raft_index(0), term_id(0), raft_index(0), {}};
    a.entries.push_back(raft_entry{raft_index(1), term_id(2), entry_type::data, partition_id(0),
                                   pattern(payload_bytes, 1)});
    m.body = std::move(a);
    return m;
}

testing::AssertionResult same(const raft_message& a, const raft_message& b) {
    auto fail = [](const char* what) { return testing::AssertionFailure() << what << " differs"; };
    if (a.from != b.from || a.to != b.to) return fail("from/to");
    if (a.body.index() != b.body.index()) return fail("type");
    if (auto* x = std::get_if<vote_request>(&a.body)) {
        auto& y = std::get<vote_request>(b.body);
        if (x->term != y.term || x->last_index != y.last_index || x->last_term != y.last_term ||
            x->pre_vote != y.pre_vote || x->leadership_transfer != y.leadership_transfer) {
            return fail("vote_request");
        }
    } else if (auto* x = std::get_if<append_request>(&a.body)) {
        auto& y = std::get<append_request>(b.body);
        if (x->term != y.term || x->prev_index != y.prev_index || x->prev_term != y.prev_term ||
            x->leader_commit != y.leader_commit || x->entries.size() != y.entries.size()) {
            return fail("append_request");
        }
        for (size_t i = 0; i < x->entries.size(); ++i) {
            const raft_entry& e = x->entries[i];
            const raft_entry& f = y.entries[i];
            if (e.index != f.index || e.term != f.term || e.type != f.type ||
                e.partition != f.partition || !(e.payload == f.payload)) {
                return testing::AssertionFailure() << "entry " << i << " differs";
            }
        }
    } else {
        return fail("unexpected type");
    }
    return testing::AssertionSuccess();
}

std::vector<std::byte> bytes_of(const iobuf& b) {
    std::vector<std::byte> v(b.size());
    b.copy_to(0, v.data(), v.size());
    return v;
}

std::vector<std::byte> frame_bytes(rpc::frame_type type, iobuf payload) {
    iobuf f = rpc::encode_frame(rpc::max_protocol_version, type, 0, std::move(payload));
    return bytes_of(f);
}

std::vector<std::byte> handshake_bytes(node_id node, unsigned target,
                                       rpc::cluster_id cluster = test_cluster()) {
    rpc::handshake_request r;
    r.cluster = cluster;
    r.node = node;
    r.target_shard = shard_id(target);
    auto b = rpc::encode_handshake(r);
    return {b.begin(), b.end()};
}

// ---- waiting

// Polls cond every 5 ms until it holds; false once timeout has passed.
task<bool> eventually(std::function<task<bool>()> cond, std::chrono::milliseconds timeout = 20s) {
    steady_time deadline = steady_now() + timeout;
    while (true) {
        bool ok = co_await cond();
        if (ok) co_return true;
        if (steady_now() >= deadline) co_return false;
        co_await sleep_for(5ms);
    }
}

// ---- the harness: a listener and the transports of nodes 1 and 2 on every shard

struct harness {
    raft_transport_config cfg = base_config();
    std::unique_ptr<rpc_listener> listener;
    // What each shard's handler received; inbox[k] is touched only on shard k.
    std::array<std::vector<raft_message>, shard_count> inbox;
    // nodes[k][i]: the transport of node i + 1 on shard k, used only there.
    std::array<std::array<std::unique_ptr<peer_transport>, 2>, shard_count> nodes;

    // Listens on cfg.listen_address and starts; registers the recording handlers unless told.
    task<bool> listen(bool register_handlers = true) {
        auto l = co_await rpc_listener::listen(cfg);
        if (!l) {
            ADD_FAILURE() << "listen failed: " << l.error().message();
            co_return false;
        }
        listener = std::move(*l);
        if (register_handlers) {
            for (unsigned k = 0; k < shard_count; ++k) co_await register_handler(k);
        }
        listener->start();
        co_return true;
    }

    task<void> register_handler(unsigned k) {
        auto reg = [this] {
            auto& box = inbox[this_shard().value()];
            listener->local().set_handler([&box](raft_message m) { box.push_back(std::move(m)); });
        };
        shard_id target(k);
        co_await submit_to(target, reg);
    }

    // Creates, on every shard, node 1's transport (knowing node 2 at port) and node 2's (knowing
    // node 1 at port).
    task<void> create_nodes(uint16_t port, const raft_transport_config& node_cfg) {
        for (unsigned k = 0; k < shard_count; ++k) {
            auto make = [this, k, port, &node_cfg] {
                for (int i = 0; i < 2; ++i) {
                    raft_transport_config c = node_cfg;
                    c.self = node_id(i + 1);
                    peer_addresses peers{{node_id(2 - i), loopback(port)}};
                    nodes[k][i] = std::make_unique<peer_transport>(c, peers);
                }
            };
            shard_id target(k);
            co_await submit_to(target, make);
        }
    }
    task<void> create_nodes() { co_await create_nodes(listener->port(), cfg); }

    peer_transport& node(unsigned k, node_id id) { return *nodes[k][id.value() - 1]; }

    task<void> on(unsigned k, std::function<void()> fn) {
        shard_id target(k);
        co_await submit_to(target, fn);
    }
    task<size_t> inbox_size(unsigned k) {
        auto size = [this, k] { return inbox[k].size(); };
        shard_id target(k);
        co_return co_await submit_to(target, size);
    }
    task<peer_transport_stats> stats_of(unsigned k, node_id id) {
        auto get = [this, k, id] { return node(k, id).stats(); };
        shard_id target(k);
        co_return co_await submit_to(target, get);
    }
    task<inbound_stats> inbound_of(unsigned k) {
        auto get = [this] { return listener->local().stats(); };
        shard_id target(k);
        co_return co_await submit_to(target, get);
    }
    // Waits until node `id` on shard k has written n frames (its counters move when the write
    // completes, which can be after the receiver has read the bytes).
    task<bool> written(unsigned k, node_id id, uint64_t n) {
        auto cond = [this, k, id, n]() -> task<bool> {
            peer_transport_stats s = co_await stats_of(k, id);
            co_return s.frames_out == n;
        };
        co_return co_await eventually(cond);
    }
    // Waits until shard k has received n messages in all.
    task<bool> received(unsigned k, size_t n, std::chrono::milliseconds timeout = 20s) {
        auto cond = [this, k, n]() -> task<bool> {
            size_t have = co_await inbox_size(k);
            co_return have >= n;
        };
        co_return co_await eventually(cond, timeout);
    }

    // Stops the transports, then the listener, and clears each inbox on its shard.
    task<void> stop() {
        for (unsigned k = 0; k < shard_count; ++k) {
            auto stop_there = [this, k]() -> task<void> {
                for (auto& t : nodes[k]) {
                    if (t) co_await t->stop();
                    t.reset();
                }
                inbox[k].clear();
            };
            shard_id target(k);
            co_await submit_to(target, stop_there);
        }
        if (listener) co_await listener->stop();
    }
};

// ---- raw peers for the refusal tests, on shard 0

task<owned_fd> raw_connect(uint16_t port) {
    net::socket_address a = loopback(port);
    owned_fd fd(::socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0));
    std::chrono::nanoseconds limit = 5s;
    int32_t rc = co_await io::connect_for(fd.get(), a.get(), a.len, limit);
    if (rc < 0) co_return owned_fd();
    co_return std::move(fd);
}

task<bool> raw_send(const owned_fd& fd, const std::vector<std::byte>& bytes) {
    std::span<const std::byte> out(bytes);
    steady_time deadline = steady_now() + 5s;
    status sent = co_await send_exact(fd.get(), out, deadline);
    co_return sent.has_value();
}

// The listener's reply, or nullopt when none came.
task<std::optional<rpc::handshake_reply>> raw_reply(const owned_fd& fd) {
    std::array<std::byte, rpc::handshake_reply_bytes> b{};
    std::span<std::byte> in(b);
    steady_time deadline = steady_now() + 5s;
    status got = co_await recv_exact(fd.get(), in, deadline);
    if (!got) co_return std::nullopt;
    auto r = rpc::decode_handshake_reply(b);
    if (!r) co_return std::nullopt;
    co_return *r;
}

// Whether the other end closes the connection (end of stream or reset) within the timeout,
// without sending anything first.
task<bool> closed_by_peer(const owned_fd& fd, std::chrono::milliseconds timeout = 10s) {
    std::array<std::byte, 64> b{};
    std::chrono::nanoseconds limit = timeout;
    int32_t got = co_await io::recv_for(fd.get(), b.data(), b.size(), limit);
    co_return got == 0 || (got < 0 && got != -ECANCELED && got != -ETIME);
}

// A connection whose handshake as `node` for shard `target` was accepted.
task<owned_fd> raw_accepted(uint16_t port, node_id node, unsigned target) {
    owned_fd fd = co_await raw_connect(port);
    if (!fd) co_return owned_fd();
    std::vector<std::byte> hello = handshake_bytes(node, target);
    bool sent = co_await raw_send(fd, hello);
    if (!sent) co_return owned_fd();
    auto reply = co_await raw_reply(fd);
    if (!reply || reply->status != rpc::handshake_status::accepted) co_return owned_fd();
    co_return std::move(fd);
}

// ---- tests

TEST(raft_transport, delivers_each_shard_to_the_same_shard_in_order) {
    harness h;
    int rc = run_two_shards([&]() -> task<int> {
        RT_CO_ASSERT(co_await h.listen());
        co_await h.create_nodes();
        static constexpr int count = 40;
        // Each shard's two nodes send to each other, a few messages per turn.
        for (int seq = 0; seq < count; seq += 4) {
            for (unsigned k = 0; k < shard_count; ++k) {
                auto send = [&h, k, seq] {
                    for (int s = seq; s < seq + 4; ++s) {
                        h.node(k, node1).send(message_of(node1, node2, k, s));
                        h.node(k, node2).send(message_of(node2, node1, k, s));
                    }
                };
                co_await h.on(k, send);
            }
            co_await sleep_for(1ms);
        }
        for (unsigned k = 0; k < shard_count; ++k) {
            RT_CO_ASSERT(co_await h.received(k, 2 * count));
        }
        for (unsigned k = 0; k < shard_count; ++k) {
            RT_CO_ASSERT(co_await h.written(k, node1, count));
            RT_CO_ASSERT(co_await h.written(k, node2, count));
        }
        for (unsigned k = 0; k < shard_count; ++k) {
            auto check = [&h, k] {
                std::array<int, 2> next{0, 0};
                for (const raft_message& m : h.inbox[k]) {
                    int i = m.from.value() - 1;
                    ASSERT_TRUE(i == 0 || i == 1) << "from " << m.from.value();
                    // Built here, on shard k, like the original.
                    raft_message want = message_of(m.from, m.to, k, next[i]++);
                    ASSERT_TRUE(same(m, want)) << "shard " << k << " from " << m.from.value()
                                               << " message " << next[i] - 1;
                }
                EXPECT_EQ(next[0], count);
                EXPECT_EQ(next[1], count);
                EXPECT_EQ(h.node(k, node1).stats().connects, 1u);
                EXPECT_EQ(h.node(k, node2).stats().connects, 1u);
                EXPECT_EQ(h.listener->local().stats().messages_in, size_t(2 * count));
                EXPECT_EQ(h.listener->local().stats().connections_open, 2u);
            };
            co_await h.on(k, check);
        }
        EXPECT_EQ(h.listener->stats().handshakes_accepted, 2u * shard_count);
        co_await h.stop();
        co_return 0;
    });
    EXPECT_EQ(rc, 0);
}

TEST(raft_transport, batches_messages_sent_in_one_turn) {
    harness h;
    int rc = run_two_shards([&]() -> task<int> {
        RT_CO_ASSERT(co_await h.listen());
        co_await h.create_nodes();
        auto first = [&h] { h.node(1, node1).send(heartbeat_of(node1, node2, 0)); };
        co_await h.on(1, first);
        RT_CO_ASSERT(co_await h.received(1, 1));
        RT_CO_ASSERT(co_await h.written(1, node1, 1));
        peer_transport_stats before = co_await h.stats_of(1, node1);
        static constexpr int count = 1000;
        auto burst = [&h] {
            for (int i = 1; i <= count; ++i) h.node(1, node1).send(heartbeat_of(node1, node2, i));
        };
        co_await h.on(1, burst);
        RT_CO_ASSERT(co_await h.received(1, count + 1));
        RT_CO_ASSERT(co_await h.written(1, node1, count + 1));
        peer_transport_stats after = co_await h.stats_of(1, node1);
        EXPECT_EQ(after.frames_out - before.frames_out, uint64_t(count));
        // All of them were queued before the writer ran: one flush, one sendmsg unless the
        // socket took the bytes in pieces.
        EXPECT_LE(after.send_calls - before.send_calls, 3u);
        auto check = [&h] {
            ASSERT_EQ(h.inbox[1].size(), size_t(count + 1));
            for (int i = 0; i <= count; ++i) {
                const auto& a = std::get<append_request>(h.inbox[1][i].body);
                ASSERT_EQ(a.prev_index, raft_index(i));
            }
        };
        co_await h.on(1, check);
        size_t on_shard0 = co_await h.inbox_size(0);
        EXPECT_EQ(on_shard0, 0u);
        co_await h.stop();
        co_return 0;
    });
    EXPECT_EQ(rc, 0);
}

TEST(raft_transport, reconnects_once_the_listener_comes_up) {
    harness h;
    uint16_t port = unused_port();
    h.cfg.listen_address = loopback(port);
    int rc = run_two_shards([&]() -> task<int> {
        raft_transport_config node_cfg = h.cfg;
        node_cfg.reconnect_backoff_max = 200ms;
        co_await h.create_nodes(port, node_cfg);
        int sent = 0;
        auto send_one = [&h, &sent] { h.node(0, node1).send(heartbeat_of(node1, node2, sent++)); };
        // Nobody listens: attempts fail and their messages are dropped.
        auto failed_twice = [&h, &send_one]() -> task<bool> {
            co_await h.on(0, send_one);
            peer_transport_stats s = co_await h.stats_of(0, node1);
            co_return s.connect_failures >= 2;
        };
        RT_CO_ASSERT(co_await eventually(failed_twice));
        RT_CO_ASSERT(co_await h.listen());
        // Messages sent now either wait out the backoff in the queue or start the next attempt,
        // which finds the listener.
        auto delivered = [&h, &send_one]() -> task<bool> {
            co_await h.on(0, send_one);
            size_t n = co_await h.inbox_size(0);
            co_return n > 0;
        };
        RT_CO_ASSERT(co_await eventually(delivered, 10s));
        // Everything sent either arrived or was dropped with a failed attempt.
        auto settled = [&h, &sent]() -> task<bool> {
            peer_transport_stats s = co_await h.stats_of(0, node1);
            size_t n = co_await h.inbox_size(0);
            co_return n + s.dropped_for(drop_reason::connection_failed) == size_t(sent);
        };
        RT_CO_ASSERT(co_await eventually(settled));
        peer_transport_stats s = co_await h.stats_of(0, node1);
        EXPECT_EQ(s.connects, 1u);
        EXPECT_GE(s.connect_failures, 2u);
        EXPECT_EQ(s.handshake_refusals, 0u);
        co_await h.stop();
        co_return 0;
    });
    EXPECT_EQ(rc, 0);
}

TEST(raft_transport, queue_bound_and_addressing_drop_and_count) {
    harness h;
    int rc = run_two_shards([&]() -> task<int> {
        RT_CO_ASSERT(co_await h.listen());
        raft_transport_config node_cfg = h.cfg;
        node_cfg.max_queued_bytes_per_peer = 8 * 1024;
        co_await h.create_nodes(h.listener->port(), node_cfg);
        static constexpr int count = 50;
        // In one turn: the connection is still being made, so the queue fills.
        auto burst = [&h] {
            for (int i = 0; i < count; ++i) {
                h.node(0, node1).send(sized_message(node1, node2, 1000));
            }
            h.node(0, node1).send(heartbeat_of(node1, node1, 0));
            h.node(0, node1).send(heartbeat_of(node1, node_id(77), 0));
        };
        co_await h.on(0, burst);
        peer_transport_stats s = co_await h.stats_of(0, node1);
        uint64_t queued = s.messages_queued;
        EXPECT_GT(queued, 0u);
        EXPECT_LT(queued, 10u);  // about 8 KiB of ~1.1 KiB frames
        EXPECT_EQ(s.dropped_for(drop_reason::queue_full), count - queued);
        EXPECT_EQ(s.dropped_for(drop_reason::to_self), 1u);
        EXPECT_EQ(s.dropped_for(drop_reason::unknown_peer), 1u);
        RT_CO_ASSERT(co_await h.received(0, queued));
        // A message larger than the bound is taken when nothing is pending.
        auto pending_empty = [&h]() -> task<bool> {
            auto get = [&h] { return h.node(0, node1).pending_bytes(node2); };
            shard_id zero(0);
            size_t pending = co_await submit_to(zero, get);
            co_return pending == 0;
        };
        RT_CO_ASSERT(co_await eventually(pending_empty));
        // 3 MB: also received in several reserve steps of the inbound reader.
        auto big = [&h] { h.node(0, node1).send(sized_message(node1, node2, 3'000'000)); };
        co_await h.on(0, big);
        RT_CO_ASSERT(co_await h.received(0, queued + 1));
        auto check_big = [&h] {
            EXPECT_TRUE(same(h.inbox[0].back(), sized_message(node1, node2, 3'000'000)));
        };
        co_await h.on(0, check_big);
        s = co_await h.stats_of(0, node1);
        EXPECT_EQ(s.dropped_for(drop_reason::queue_full), count - queued);
        // Nothing was sent to shard 1.
        size_t on_shard1 = co_await h.inbox_size(1);
        EXPECT_EQ(on_shard1, 0u);
        co_await h.stop();
        co_return 0;
    });
    EXPECT_EQ(rc, 0);
}

TEST(raft_transport, drops_messages_until_a_handler_is_registered) {
    harness h;
    int rc = run_two_shards([&]() -> task<int> {
        RT_CO_ASSERT(co_await h.listen(false));
        co_await h.create_nodes();
        auto send = [&h] { h.node(1, node1).send(heartbeat_of(node1, node2, 1)); };
        co_await h.on(1, send);
        auto dropped = [&h]() -> task<bool> {
            inbound_stats s = co_await h.inbound_of(1);
            co_return s.dropped_no_handler == 1;
        };
        RT_CO_ASSERT(co_await eventually(dropped));
        co_await h.register_handler(1);
        auto send_again = [&h] { h.node(1, node1).send(heartbeat_of(node1, node2, 2)); };
        co_await h.on(1, send_again);
        RT_CO_ASSERT(co_await h.received(1, 1));
        inbound_stats s = co_await h.inbound_of(1);
        EXPECT_EQ(s.messages_in, 1u);
        co_await h.stop();
        co_return 0;
    });
    EXPECT_EQ(rc, 0);
}

// A handshake that the listener refuses gets a reply with the reason, then the connection closes.
task<int> expect_refused(uint16_t port, const std::vector<std::byte>& handshake,
                         rpc::handshake_status want) {
    owned_fd fd = co_await raw_connect(port);
    RT_CO_ASSERT(fd);
    RT_CO_ASSERT(co_await raw_send(fd, handshake));
    auto reply = co_await raw_reply(fd);
    RT_CO_ASSERT(reply.has_value());
    EXPECT_EQ(reply->status, want) << rpc::to_string(reply->status);
    EXPECT_EQ(reply->shard_count, shard_count);
    RT_CO_ASSERT(co_await closed_by_peer(fd));
    co_return 0;
}

// An accepted connection that sends `bytes` is closed.
task<int> expect_closed_after(uint16_t port, node_id node, unsigned target,
                              const std::vector<std::byte>& bytes) {
    owned_fd fd = co_await raw_accepted(port, node, target);
    RT_CO_ASSERT(fd);
    RT_CO_ASSERT(co_await raw_send(fd, bytes));
    RT_CO_ASSERT(co_await closed_by_peer(fd));
    co_return 0;
}

TEST(raft_transport, refuses_bad_peers_and_keeps_serving) {
    harness h;
    h.cfg.handshake_timeout = 300ms;
    int rc = run_two_shards([&]() -> task<int> {
        RT_CO_ASSERT(co_await h.listen());
        uint16_t port = h.listener->port();
        std::vector<std::byte> garbage(rpc::handshake_request_bytes, std::byte{'x'});
        int r = co_await expect_refused(port, garbage, rpc::handshake_status::bad_magic);
        RT_CO_ASSERT(r == 0);
        rpc::cluster_id other = test_cluster();
        other.bytes[0] ^= 1;
        auto wrong_cluster = handshake_bytes(node_id(5), 0, other);
        r = co_await expect_refused(port, wrong_cluster, rpc::handshake_status::wrong_cluster);
        RT_CO_ASSERT(r == 0);
        auto no_shard = handshake_bytes(node_id(5), shard_count);
        r = co_await expect_refused(port, no_shard, rpc::handshake_status::no_such_shard);
        RT_CO_ASSERT(r == 0);
        // A handshake that never completes is closed after handshake_timeout.
        {
            owned_fd fd = co_await raw_connect(port);
            RT_CO_ASSERT(fd);
            std::vector<std::byte> part(10, std::byte{'W'});
            RT_CO_ASSERT(co_await raw_send(fd, part));
            RT_CO_ASSERT(co_await closed_by_peer(fd, 5s));
        }
        // Accepted connections that then send garbage, a frame with a bad checksum, a payload
        // that is no raft message, or a message of another node.
        std::vector<std::byte> junk(64, std::byte{0xff});
        r = co_await expect_closed_after(port, node_id(7), 1, junk);
        RT_CO_ASSERT(r == 0);
        iobuf hb = encode_raft_message(heartbeat_of(node_id(8), node1, 1));
        auto corrupt = frame_bytes(rpc::frame_type::raft_message, std::move(hb));
        corrupt.back() ^= std::byte{1};
        r = co_await expect_closed_after(port, node_id(8), 0, corrupt);
        RT_CO_ASSERT(r == 0);
        auto not_raft = frame_bytes(rpc::frame_type::raft_message, pattern(40, 3));
        r = co_await expect_closed_after(port, node_id(9), 1, not_raft);
        RT_CO_ASSERT(r == 0);
        iobuf other_node = encode_raft_message(heartbeat_of(node_id(11), node1, 1));
        auto wrong_sender = frame_bytes(rpc::frame_type::raft_message, std::move(other_node));
        r = co_await expect_closed_after(port, node_id(10), 0, wrong_sender);
        RT_CO_ASSERT(r == 0);
        // A frame of an unknown type is dropped; the connection stays and the next one counts.
        {
            owned_fd fd = co_await raw_accepted(port, node_id(12), 1);
            RT_CO_ASSERT(fd);
            auto unknown = frame_bytes(static_cast<rpc::frame_type>(99), pattern(10, 1));
            auto good = frame_bytes(rpc::frame_type::raft_message,
                                    encode_raft_message(heartbeat_of(node_id(12), node1, 5)));
            unknown.insert(unknown.end(), good.begin(), good.end());
            RT_CO_ASSERT(co_await raw_send(fd, unknown));
            RT_CO_ASSERT(co_await h.received(1, 1));
        }
        const listener_stats& ls = h.listener->stats();
        EXPECT_EQ(ls.refused_for(rpc::handshake_status::bad_magic), 1u);
        EXPECT_EQ(ls.refused_for(rpc::handshake_status::wrong_cluster), 1u);
        EXPECT_EQ(ls.refused_for(rpc::handshake_status::no_such_shard), 1u);
        EXPECT_EQ(ls.handshake_failures, 1u);
        inbound_stats s0 = co_await h.inbound_of(0);
        inbound_stats s1 = co_await h.inbound_of(1);
        EXPECT_EQ(s1.closed_bad_frame, 1u);    // the junk
        EXPECT_EQ(s0.closed_bad_frame, 1u);    // the checksum
        EXPECT_EQ(s1.closed_bad_message, 1u);  // not a raft message
        EXPECT_EQ(s0.closed_wrong_sender, 1u);
        EXPECT_EQ(s1.dropped_unknown_frame_type, 1u);
        EXPECT_EQ(s1.messages_in, 1u);
        // The listener still serves real peers on both shards.
        co_await h.create_nodes();
        for (unsigned k = 0; k < shard_count; ++k) {
            auto send = [&h, k] { h.node(k, node2).send(message_of(node2, node1, k, 0)); };
            co_await h.on(k, send);
        }
        RT_CO_ASSERT(co_await h.received(0, 1));
        RT_CO_ASSERT(co_await h.received(1, 2));
        co_await h.stop();
        co_return 0;
    });
    EXPECT_EQ(rc, 0);
}

TEST(raft_transport, stop_with_connections_open_finishes) {
    harness h;
    int rc = run_two_shards([&]() -> task<int> {
        RT_CO_ASSERT(co_await h.listen());
        co_await h.create_nodes();
        for (unsigned k = 0; k < shard_count; ++k) {
            auto send = [&h, k] {
                h.node(k, node1).send(message_of(node1, node2, k, 0));
                h.node(k, node2).send(message_of(node2, node1, k, 0));
            };
            co_await h.on(k, send);
        }
        for (unsigned k = 0; k < shard_count; ++k) RT_CO_ASSERT(co_await h.received(k, 2));
        // A connection in the middle of its handshake, and messages still queued.
        owned_fd idle = co_await raw_connect(h.listener->port());
        RT_CO_ASSERT(idle);
        for (unsigned k = 0; k < shard_count; ++k) {
            auto send = [&h, k] {
                for (int s = 1; s < 20; ++s) h.node(k, node1).send(message_of(node1, node2, k, s));
            };
            co_await h.on(k, send);
        }
        steady_time t0 = steady_now();
        // The listener first, while the transports' connections are open.
        co_await h.listener->stop();
        RT_CO_ASSERT(co_await closed_by_peer(idle, 5s));
        co_await h.stop();
        EXPECT_LT(steady_now() - t0, 5s);
        co_return 0;
    });
    EXPECT_EQ(rc, 0);
}

TEST(raft_transport, set_peers_redirects_and_removes) {
    harness h;
    int rc = run_two_shards([&]() -> task<int> {
        RT_CO_ASSERT(co_await h.listen());
        co_await h.create_nodes(unused_port(), h.cfg);
        auto send = [&h] { h.node(0, node1).send(heartbeat_of(node1, node2, 1)); };
        auto failed = [&h, &send]() -> task<bool> {
            co_await h.on(0, send);
            peer_transport_stats s = co_await h.stats_of(0, node1);
            co_return s.connect_failures >= 1;
        };
        RT_CO_ASSERT(co_await eventually(failed));
        // The right address now: the next attempt finds the listener.
        auto redirect = [&h] {
            h.node(0, node1).set_peers({{node2, loopback(h.listener->port())}});
        };
        co_await h.on(0, redirect);
        auto delivered = [&h, &send]() -> task<bool> {
            co_await h.on(0, send);
            size_t n = co_await h.inbox_size(0);
            co_return n > 0;
        };
        RT_CO_ASSERT(co_await eventually(delivered, 10s));
        // Removed: the connection closes and messages to the node are dropped.
        auto remove = [&h] {
            h.node(0, node1).set_peers({});
            h.node(0, node1).send(heartbeat_of(node1, node2, 2));
            EXPECT_EQ(h.node(0, node1).stats().dropped_for(drop_reason::unknown_peer), 1u);
            EXPECT_FALSE(h.node(0, node1).connected(node2));
        };
        co_await h.on(0, remove);
        co_await h.stop();
        co_return 0;
    });
    EXPECT_EQ(rc, 0);
}

TEST(raft_transport, verify_peer_refuses_another_node) {
    harness h;
    int rc = run_two_shards([&]() -> task<int> {
        RT_CO_ASSERT(co_await h.listen());  // the listener is node 1
        raft_transport_config node_cfg = h.cfg;
        node_cfg.verify_peer = verify_peer_node::yes;
        co_await h.create_nodes(h.listener->port(), node_cfg);
        // Node 2 reaches node 1; node 1's "node 2" is node 1 again and is refused.
        auto send = [&h] {
            h.node(1, node2).send(heartbeat_of(node2, node1, 1));
            h.node(1, node1).send(heartbeat_of(node1, node2, 1));
        };
        co_await h.on(1, send);
        RT_CO_ASSERT(co_await h.received(1, 1));
        auto refused = [&h]() -> task<bool> {
            peer_transport_stats s = co_await h.stats_of(1, node1);
            co_return s.handshake_refusals == 1 &&
                s.dropped_for(drop_reason::connection_failed) == 1;
        };
        RT_CO_ASSERT(co_await eventually(refused));
        auto check = [&h] { EXPECT_EQ(h.inbox[1].front().from, node2); };
        co_await h.on(1, check);
        co_await h.stop();
        co_return 0;
    });
    EXPECT_EQ(rc, 0);
}

TEST(raft_transport, config_and_addresses) {
    auto a = parse_rpc_address("127.0.0.1:33145");
    ASSERT_TRUE(a);
    EXPECT_EQ(a->port(), 33145);
    EXPECT_TRUE(parse_rpc_address("[::1]:0"));
    EXPECT_TRUE(parse_rpc_address("localhost:1"));
    EXPECT_FALSE(parse_rpc_address("::1:80"));
    EXPECT_FALSE(parse_rpc_address("127.0.0.1"));
    EXPECT_FALSE(parse_rpc_address("127.0.0.1:65536"));
    EXPECT_FALSE(parse_rpc_address("127.0.0.1:x"));
    EXPECT_FALSE(parse_rpc_address("broker-1:33145"));  // no name lookups on a shard

    raft_transport_config cfg = base_config();
    std::string why;
    EXPECT_TRUE(validate_config(cfg, &why)) << why;
    cfg.max_frame_bytes = 32u << 20;
    EXPECT_FALSE(validate_config(cfg, &why));
    EXPECT_NE(why.find("max_frame_bytes"), std::string::npos) << why;
    cfg = base_config();
    cfg.reconnect_backoff_max = 10ms;
    EXPECT_FALSE(validate_config(cfg, &why));
}

}  // namespace
}  // namespace wharf::raft_rpc
