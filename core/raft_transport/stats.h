#pragma once

// Counters of the raft transport, for metrics: plain integers that each side increments on its
// own shard and a scrape reads there (STYLE.md: metrics cost the hot path plain increments).
// The listener's live on its shard (shard 0); the inbound and outbound ones on every shard.

#include <array>
#include <cstddef>
#include <cstdint>

#include "net/rpc/handshake.h"

namespace wharf::raft_rpc {

// Why a message to a peer was not sent. Raft resends whatever matters, so every one of these
// is only counted (and logged at a limited rate where it means a misconfiguration).
enum class drop_reason : uint8_t {
    to_self,            // addressed to this node
    unknown_peer,       // addressed to a node with no known address
    queue_full,         // the peer's queue held max_queued_bytes_per_peer
    too_large,          // larger than max_frame_bytes once framed
    connection_failed,  // queued when the connection failed, or could not be established
    stopped,            // sent after stop(), or still queued when it came
};
inline constexpr size_t drop_reason_count = 6;
const char* to_string(drop_reason r) noexcept;

// One shard's outbound side (peer_transport).
struct peer_transport_stats {
    uint64_t messages_queued = 0;
    uint64_t frames_out = 0;
    uint64_t bytes_out = 0;
    // sendmsg calls: fewer than frames_out when queued messages leave together.
    uint64_t send_calls = 0;
    uint64_t connects = 0;
    // Attempts that failed: connect, the handshake's exchange, or a refusal.
    uint64_t connect_failures = 0;
    // Of those, replies that refused the handshake (wrong cluster, no such shard, ...) or came
    // from another node than the one meant.
    uint64_t handshake_refusals = 0;
    // Established connections that ended (peer gone, write error or timeout, stop).
    uint64_t disconnects = 0;
    std::array<uint64_t, drop_reason_count> dropped{};

    uint64_t dropped_for(drop_reason r) const noexcept { return dropped[static_cast<size_t>(r)]; }
};

// One shard's inbound side (rpc_inbound).
struct inbound_stats {
    // Connections handed to this shard after their handshake, and those open now.
    uint64_t connections_adopted = 0;
    uint64_t connections_open = 0;
    // Older connections of a node closed because the node connected again.
    uint64_t connections_replaced = 0;
    // Handed over past max_inbound_connections_per_shard, or after stop(): closed at once.
    uint64_t connections_refused = 0;
    uint64_t frames_in = 0;
    uint64_t bytes_in = 0;
    // Messages handed to the shard's handler.
    uint64_t messages_in = 0;
    // Messages that arrived before a handler was registered.
    uint64_t dropped_no_handler = 0;
    // Frames of a type this build does not know (a newer peer).
    uint64_t dropped_unknown_frame_type = 0;
    // Connections closed for what they sent: a bad frame (magic, version, size, checksum), a
    // raft message that does not decode, a message whose sender is not the handshake's node.
    uint64_t closed_bad_frame = 0;
    uint64_t closed_bad_message = 0;
    uint64_t closed_wrong_sender = 0;
};

// The listener (one per broker, on its shard).
struct listener_stats {
    uint64_t connections_accepted = 0;
    uint64_t accept_errors = 0;
    uint64_t handshakes_accepted = 0;
    // Refused handshakes, by the status of the reply (index: handshake_status).
    std::array<uint64_t, rpc::max_handshake_status + 1> refused{};
    // Connections that sent no complete handshake in time, closed, or failed to take the reply.
    uint64_t handshake_failures = 0;
    // Connections closed at once because max_pending_handshakes were being read.
    uint64_t handshakes_over_limit = 0;

    uint64_t refused_for(rpc::handshake_status s) const noexcept {
        return refused[static_cast<size_t>(s)];
    }
    uint64_t refused_total() const noexcept {
        uint64_t n = 0;
        for (uint64_t r : refused) n += r;
        return n;
    }
};

}  // namespace wharf::raft_rpc
