#include "core/raft_transport/peer_transport.h"

#include <cstring>
#include <utility>

#include "net/rpc/frame.h"
#include "raft/message_codec.h"
#include "reactor/base/assert.h"
#include "reactor/logger.h"
#include "reactor/shard.h"
#include "reactor/spawn.h"

namespace wharf::raft_rpc {

const char* to_string(drop_reason r) noexcept {
    switch (r) {
        case drop_reason::to_self:
            return "to_self";
        case drop_reason::unknown_peer:
            return "unknown_peer";
        case drop_reason::queue_full:
            return "queue_full";
        case drop_reason::too_large:
            return "too_large";
        case drop_reason::connection_failed:
            return "connection_failed";
        case drop_reason::stopped:
            return "stopped";
    }
    return "unknown";
}

peer_transport::peer_transport(raft_transport_config cfg, peer_addresses peers)
    : _cfg(std::move(cfg)), _shard(this_shard()), _addresses(std::move(peers)) {
    std::string why;
    WHARF_ASSERT(validate_config(_cfg, &why), "peer_transport with an invalid config: {}", why);
    _addresses.erase(_cfg.self);
}

peer_transport::~peer_transport() {
    WHARF_ASSERT(_connections.empty() && _retiring.count() == 0,
                 "peer_transport of shard {} destroyed with {} connections; stop() it first",
                 _shard, _connections.size());
}

void peer_transport::check_shard() const {
    WHARF_ASSERT(this_shard() == _shard, "peer_transport of shard {} used on shard {}", _shard,
                 this_shard());
}

void peer_transport::send(raft_message m) {
    check_shard();
    if (_stopped) return drop(drop_reason::stopped, m);
    if (m.to == _cfg.self) return drop(drop_reason::to_self, m);
    auto address = _addresses.find(m.to);
    if (address == _addresses.end()) return drop(drop_reason::unknown_peer, m);
    uint64_t frame_bytes = rpc::frame_header_bytes + encoded_raft_message_bytes(m);
    if (frame_bytes > _cfg.max_frame_bytes) return drop(drop_reason::too_large, m);
    peer_connection& c = connection_for(m.to, address->second);
    if (!c.has_room(frame_bytes)) return drop(drop_reason::queue_full, m);
    c.enqueue(encode_raft_message(m));
}

void peer_transport::set_unreachable_handler(std::function<void(node_id)> handler) {
    check_shard();
    _on_unreachable = std::move(handler);
}

std::vector<node_id> peer_transport::peers() const {
    std::vector<node_id> out;
    for (const auto& [node, address] : _addresses) {
        if (node != _cfg.self) out.push_back(node);
    }
    return out;
}

bool peer_transport::send_info(node_id to, std::span<const std::byte> info) {
    return send_frame(to, info, rpc::frame_type::broker_info);
}

bool peer_transport::send_leaders(node_id to, std::span<const std::byte> leaders) {
    return send_frame(to, leaders, rpc::frame_type::group_members);
}

bool peer_transport::send_frame(node_id to, std::span<const std::byte> bytes,
                                rpc::frame_type type) {
    check_shard();
    if (_stopped || to == _cfg.self) return false;
    auto address = _addresses.find(to);
    if (address == _addresses.end()) return false;
    uint64_t frame_bytes = rpc::frame_header_bytes + bytes.size();
    if (frame_bytes > _cfg.max_frame_bytes) return false;
    peer_connection& c = connection_for(to, address->second);
    if (!c.has_room(frame_bytes)) return false;
    iobuf payload;
    payload.append(bytes.data(), bytes.size());
    c.enqueue(std::move(payload), type);
    return true;
}

void peer_transport::keep_connected() {
    check_shard();
    if (_stopped) return;
    _keep_all = true;
    for (const auto& [node, address] : _addresses) {
        if (node == _cfg.self) continue;
        connection_for(node, address).keep_connected();
    }
}

peer_connection& peer_transport::connection_for(node_id node, const net::socket_address& address) {
    auto it = _connections.find(node);
    if (it == _connections.end()) {
        auto c = std::make_unique<peer_connection>(node, address, _cfg, _stats, _on_unreachable);
        it = _connections.emplace(node, std::move(c)).first;
    }
    return *it->second;
}

void peer_transport::drop(drop_reason why, const raft_message& m) {
    ++_stats.dropped[static_cast<size_t>(why)];
    // A full queue or a failed connection is the weather; the others are misconfigurations or
    // bugs worth a line (at a limited rate).
    if (why == drop_reason::queue_full || why == drop_reason::stopped) return;
    uint64_t skipped = 0;
    if (_drop_log.allow(&skipped)) {
        shard_logger().warn("raft transport: dropped a message from node {} to node {}: {}{}",
                            m.from, m.to, to_string(why), log_limiter::skipped_note(skipped));
    }
}

void peer_transport::set_peers(peer_addresses peers) {
    check_shard();
    peers.erase(_cfg.self);
    if (_stopped) {
        // stop() owns the connections now; send() drops whatever comes.
        _addresses = std::move(peers);
        return;
    }
    for (auto it = _connections.begin(); it != _connections.end();) {
        auto found = peers.find(it->first);
        if (found == peers.end()) {
            retire(std::move(it->second));
            it = _connections.erase(it);
            continue;
        }
        const net::socket_address& old_address = _addresses.at(it->first);
        if (old_address.len != found->second.len ||
            std::memcmp(&old_address.storage, &found->second.storage, old_address.len) != 0) {
            it->second->set_address(found->second);
        }
        ++it;
    }
    _addresses = std::move(peers);
    // A broker that joins later is reached as the first ones were (keep_connected).
    if (_keep_all) keep_connected();
}

void peer_transport::retire(std::unique_ptr<peer_connection> c) {
    auto hold = _retiring.hold();
    WHARF_ASSERT(hold, "peer_transport of shard {}: a connection retired after stop", _shard);
    c->begin_stop();
    auto finish = [](gate::holder, std::unique_ptr<peer_connection> c) -> task<void> {
        co_await c->stopped();
    };
    spawn(finish(std::move(hold), std::move(c)), "rpc peer retirement");
}

task<void> peer_transport::stop() {
    check_shard();
    if (!_stopped) {
        _stopped = true;
        // Every connection starts stopping before any is waited for, so that one slow
        // connection attempt does not delay the others' closing.
        for (auto& [node, c] : _connections) c->begin_stop();
        for (auto& [node, c] : _connections) co_await c->stopped();
        _connections.clear();
    }
    co_await _retiring.close();
}

bool peer_transport::connected(node_id node) const {
    auto it = _connections.find(node);
    return it != _connections.end() && it->second->connected();
}

size_t peer_transport::pending_bytes(node_id node) const {
    auto it = _connections.find(node);
    return it == _connections.end() ? 0 : it->second->pending_bytes();
}

}  // namespace wharf::raft_rpc
