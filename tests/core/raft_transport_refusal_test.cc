// The raft transport between brokers (core/raft_transport/): one process, two shards, one RPC
// listener on a free loopback port and, on every shard, the transports of nodes 1 and 2, both
// pointing at that listener (its broker plays every node, so verify_peer is off). Each shard's
// handler records what reaches it. Every wait polls a condition with a deadline.
//
// This file: what the listener refuses (garbage, bad checksums, the wrong cluster, shard or
// node), stopping with connections open, and configurations and addresses that are refused.

#include <gtest/gtest.h>

#include "tests/core/raft_transport_test_util.h"

namespace wharf::raft_rpc::test {
namespace {

using namespace std::chrono_literals;

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
}  // namespace wharf::raft_rpc::test
