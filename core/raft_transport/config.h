#pragma once

// The settings of the raft transport between brokers (DESIGN.md section 5): the listener of
// internal RPC connections (listener.h), the inbound side of each shard (inbound.h) and the
// outbound connections to peers (peer_transport.h). One value is made at start-up and copied
// to every shard; nothing in it changes afterwards except the peer addresses, which
// peer_transport::set_peers replaces.

#include <chrono>
#include <cstddef>
#include <cstdint>
#include <string>
#include <string_view>
#include <unordered_map>
#include <vector>

#include "log/entry.h"
#include "net/rpc/frame.h"
#include "net/rpc/handshake.h"
#include "net/socket_address.h"
#include "raft/message_codec.h"
#include "reactor/base/ids.h"
#include "reactor/base/result.h"

namespace wharf::raft_rpc {

// The smallest max_frame_bytes that lets one append request carrying one entry of the log's
// largest payload through: raft could otherwise never replicate such an entry.
inline constexpr size_t min_max_frame_bytes =
    rpc::frame_header_bytes + append_request_bytes(1, max_entry_payload_bytes);
static_assert(rpc::default_max_frame_bytes >= min_max_frame_bytes,
              "the default frame bound must carry one maximal log entry");

// Whether a dialer checks that the node answering a handshake is the node it meant to reach.
// A peer map that names the wrong address for a node would otherwise deliver that node's raft
// messages to another broker. Tests in which one broker plays every node turn it off.
enum class verify_peer_node : bool { no = false, yes = true };

struct raft_transport_config {
    rpc::cluster_id cluster;
    // This broker's node id: sent in every handshake and as the `from` of every message.
    node_id self{0};
    // --rpc-addr: where the listener binds (parse_rpc_address). Port 0 picks a free port
    // (tests); rpc_listener::port() says which.
    net::socket_address listen_address;
    int listen_backlog = 128;

    // The largest frame a connection accepts, header included (frame_decoder); larger
    // messages are not sent either. Between min_max_frame_bytes and header + 2^32 - 1.
    size_t max_frame_bytes = rpc::default_max_frame_bytes;
    // Bytes of encoded messages waiting for one peer, queued or being written. Past it new
    // messages to that peer are dropped and counted (raft resends). A message that finds the
    // queue empty is always taken, so one maximal entry gets through even when it is larger.
    size_t max_queued_bytes_per_peer = 32u << 20;

    // An accepted connection that has not sent its whole handshake by then is closed; also the
    // dialer's wait for the reply.
    std::chrono::milliseconds handshake_timeout{5000};
    // Accepted connections whose handshake is still being read; more are closed at once.
    size_t max_pending_handshakes = 256;
    // Inbound connections one shard keeps; a newer connection of the same node replaces the
    // older one, so real peers need one each.
    size_t max_inbound_connections_per_shard = 1024;

    std::chrono::milliseconds connect_timeout{3000};
    // A write the peer does not take within this closes the connection (a peer that stopped
    // reading; a dead one is also found by TCP_USER_TIMEOUT and keepalives).
    std::chrono::milliseconds send_timeout{30000};
    // Reconnection after a failed attempt waits min, then doubles up to max.
    std::chrono::milliseconds reconnect_backoff_min{50};
    std::chrono::milliseconds reconnect_backoff_max{2000};
    verify_peer_node verify_peer = verify_peer_node::yes;
    // When not empty: an encoded broker_info (net/rpc/broker_info.h) that every outbound
    // connection sends right after its handshake. Core sets it on shard 0's transport.
    std::vector<std::byte> hello;
};

// The internal RPC address of each peer broker (not this one).
using peer_addresses = std::unordered_map<node_id, net::socket_address>;

// "HOST:PORT" with a numeric IPv4 or IPv6 host ("[::1]:33145") or "localhost"; port 0 is
// allowed (a listener on a free port). No name lookups: a DNS query could block a shard.
// Errors: std::errc::invalid_argument.
result<net::socket_address> parse_rpc_address(std::string_view host_port);

// Whether cfg can be used. Errors: std::errc::invalid_argument, with *why (when given) naming
// the field and its bound.
status validate_config(const raft_transport_config& cfg, std::string* why = nullptr);

}  // namespace wharf::raft_rpc
