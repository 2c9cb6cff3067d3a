// The raft transport between brokers (core/raft_transport/): one process, two shards, one RPC
// listener on a free loopback port and, on every shard, the transports of nodes 1 and 2, both
// pointing at that listener (its broker plays every node, so verify_peer is off). Each shard's
// handler records what reaches it. Every wait polls a condition with a deadline.
//
// This file: delivery between real transports. Order per shard, batching, reconnection,
// the queue bound and addressing, messages dropped before a handler exists, and peers that
// change address or go away.

#include <gtest/gtest.h>

#include "tests/core/raft_transport_test_util.h"

namespace wharf::raft_rpc::test {
namespace {

using namespace std::chrono_literals;

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

// The shard-0 transport keeps every peer connected (its handshake carries the broker's hello):
// a peer that set_peers adds later, a broker that joined the cluster, is dialed at once too,
// although no raft message ever goes to it (it joined as a follower of this follower's group).
TEST(raft_transport, keep_connected_reaches_peers_added_later) {
    harness h;
    int rc = run_two_shards([&]() -> task<int> {
        RT_CO_ASSERT(co_await h.listen());
        co_await h.create_nodes();
        auto keep_none = [&h] {
            h.node(0, node1).set_peers({});
            h.node(0, node1).keep_connected();
        };
        co_await h.on(0, keep_none);
        auto add = [&h] { h.node(0, node1).set_peers({{node2, loopback(h.listener->port())}}); };
        co_await h.on(0, add);
        auto up = [&h]() -> task<bool> {
            auto connected = [&h] { return h.node(0, node1).connected(node2); };
            co_return co_await submit_to(shard_id(0), connected);
        };
        RT_CO_ASSERT(co_await eventually(up, 10s));
        peer_transport_stats s = co_await h.stats_of(0, node1);
        EXPECT_EQ(s.frames_out, 0u);
        co_await h.stop();
        co_return 0;
    });
    EXPECT_EQ(rc, 0);
}

// A peer whose process is gone: its side ends the connection and the reconnection that follows
// at once, with no message waiting, is refused. The owner hears of it (a follower of that peer
// campaigns at once, raft_machine::peer_unreachable).
TEST(raft_transport, a_peer_that_closed_and_refuses_is_reported_unreachable) {
    harness h;
    std::vector<node_id> unreachable;
    int rc = run_two_shards([&]() -> task<int> {
        RT_CO_ASSERT(co_await h.listen());
        co_await h.create_nodes();
        auto watch = [&h, &unreachable] {
            h.node(0, node1).set_unreachable_handler(
                [&unreachable](node_id n) { unreachable.push_back(n); });
            h.node(0, node1).send(heartbeat_of(node1, node2, 1));
        };
        co_await h.on(0, watch);
        RT_CO_ASSERT(co_await h.received(0, 1));
        RT_CO_ASSERT(unreachable.empty());
        // The listener goes (its connections end, its port refuses): nothing is sent after.
        co_await h.listener->stop();
        h.listener.reset();
        auto reported = [&h, &unreachable]() -> task<bool> {
            auto size = [&unreachable] { return unreachable.size(); };
            co_return co_await submit_to(shard_id(0), size) > 0;
        };
        RT_CO_ASSERT(co_await eventually(reported, 10s));
        auto check = [&unreachable] { EXPECT_EQ(unreachable.front(), node2); };
        co_await h.on(0, check);
        co_await h.stop();
        co_return 0;
    });
    EXPECT_EQ(rc, 0);
}

}  // namespace
}  // namespace wharf::raft_rpc::test
