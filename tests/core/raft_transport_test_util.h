#pragma once

// The raft transport between brokers (core/raft_transport/): one process, two shards, one RPC
// listener on a free loopback port and, on every shard, the transports of nodes 1 and 2, both
// pointing at that listener (its broker plays every node, so verify_peer is off). Each shard's
// handler records what reaches it. Every wait polls a condition with a deadline.
//
// This header holds what the tests share: the smp runner, the messages, the harness and the
// raw peers of the refusal tests (tests/core/raft_transport_*_test.cc).

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
#include "tests/raft/raft_message_same.h"
#include "tests/reactor/run_reactor.h"
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

namespace wharf::raft_rpc::test {

using namespace std::chrono_literals;

inline constexpr unsigned shard_count = 2;
inline const node_id node1(1);
inline const node_id node2(2);

// Runs fn on shard 0 of a two-shard smp, with run_reactor's watchdog.
inline int run_two_shards(std::function<task<int>()> fn, int timeout_s = 120) {
    return wharf::test::run_reactor(std::move(fn), timeout_s, shard_count);
}

inline rpc::cluster_id test_cluster() {
    rpc::cluster_id c;
    for (size_t i = 0; i < c.bytes.size(); ++i) c.bytes[i] = static_cast<uint8_t>(0xa0 + i);
    return c;
}

inline net::socket_address loopback(uint16_t port) {
    auto a = net::parse_address("127.0.0.1", port);
    WHARF_ASSERT(a, "loopback address");
    return *a;
}

inline raft_transport_config base_config() {
    raft_transport_config cfg;
    cfg.cluster = test_cluster();
    cfg.self = node1;
    cfg.listen_address = loopback(0);
    cfg.verify_peer = verify_peer_node::no;
    return cfg;
}

// A port that nothing listens on (bound and closed again; another process could take it in
// between, which would only make the reconnection test connect earlier).
inline uint16_t unused_port() {
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

inline iobuf pattern(size_t n, unsigned seed) {
    std::vector<std::byte> v(n);
    for (size_t i = 0; i < n; ++i) v[i] = std::byte((seed * 31 + i * 7 + (i >> 8)) & 0xff);
    return iobuf::copy_of(v.data(), v.size());
}

// Message `seq` of a stream from `from` on `shard`: mostly append requests with entries (every
// 8th carries an entry larger than the reader's scratch buffer), every 5th a vote request. The
// entries' partition ids name the shard, so a message on the wrong shard is seen.
inline raft_message message_of(node_id from, node_id to, unsigned shard, int seq) {
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

inline raft_message heartbeat_of(node_id from, node_id to, int seq) {
    raft_message m;
    m.from = from;
    m.to = to;
    m.body = append_request{term_id(3), raft_index(seq), term_id(3), raft_index(seq), {}};
    return m;
}

// A message whose one entry carries `payload_bytes`.
inline raft_message sized_message(node_id from, node_id to, size_t payload_bytes) {
    raft_message m;
    m.from = from;
    m.to = to;
    append_request a{term_id(2), raft_index(0), term_id(0), raft_index(0), {}};
    a.entries.push_back(raft_entry{raft_index(1), term_id(2), entry_type::data, partition_id(0),
                                   pattern(payload_bytes, 1)});
    m.body = std::move(a);
    return m;
}
using wharf::test::same;

inline std::vector<std::byte> bytes_of(const iobuf& b) {
    std::vector<std::byte> v(b.size());
    b.copy_to(0, v.data(), v.size());
    return v;
}

inline std::vector<std::byte> frame_bytes(rpc::frame_type type, iobuf payload) {
    iobuf f = rpc::encode_frame(rpc::max_protocol_version, type, 0, std::move(payload));
    return bytes_of(f);
}

inline std::vector<std::byte> handshake_bytes(node_id node, unsigned target,
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
inline task<bool> eventually(std::function<task<bool>()> cond,
                             std::chrono::milliseconds timeout = 20s) {
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

inline task<owned_fd> raw_connect(uint16_t port) {
    net::socket_address a = loopback(port);
    owned_fd fd(::socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0));
    std::chrono::nanoseconds limit = 5s;
    int32_t rc = co_await io::connect_for(fd.get(), a.get(), a.len, limit);
    if (rc < 0) co_return owned_fd();
    co_return std::move(fd);
}

inline task<bool> raw_send(const owned_fd& fd, const std::vector<std::byte>& bytes) {
    std::span<const std::byte> out(bytes);
    steady_time deadline = steady_now() + 5s;
    status sent = co_await send_exact(fd.get(), out, deadline);
    co_return sent.has_value();
}

// The listener's reply, or nullopt when none came.
inline task<std::optional<rpc::handshake_reply>> raw_reply(const owned_fd& fd) {
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
inline task<bool> closed_by_peer(const owned_fd& fd, std::chrono::milliseconds timeout = 10s) {
    std::array<std::byte, 64> b{};
    std::chrono::nanoseconds limit = timeout;
    int32_t got = co_await io::recv_for(fd.get(), b.data(), b.size(), limit);
    co_return got == 0 || (got < 0 && got != -ECANCELED && got != -ETIME);
}

// A connection whose handshake as `node` for shard `target` was accepted.
inline task<owned_fd> raw_accepted(uint16_t port, node_id node, unsigned target) {
    owned_fd fd = co_await raw_connect(port);
    if (!fd) co_return owned_fd();
    std::vector<std::byte> hello = handshake_bytes(node, target);
    bool sent = co_await raw_send(fd, hello);
    if (!sent) co_return owned_fd();
    auto reply = co_await raw_reply(fd);
    if (!reply || reply->status != rpc::handshake_status::accepted) co_return owned_fd();
    co_return std::move(fd);
}

}  // namespace wharf::raft_rpc::test
