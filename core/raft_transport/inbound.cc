#include "core/raft_transport/inbound.h"

#include <utility>

#include "reactor/base/assert.h"
#include "reactor/logger.h"
#include "reactor/shard.h"
#include "reactor/spawn.h"

namespace wharf::raft_rpc {

rpc_inbound::rpc_inbound(const raft_transport_config& cfg)
    : _cfg(cfg),
      _shard(this_shard()),
      _ctx{.cfg = _cfg,
           .handler = _handler,
           .info_handler = _info_handler,
           .leaders_handler = _leaders_handler,
           .stats = _stats,
           .drop_log = _drop_log} {}

rpc_inbound::~rpc_inbound() {
    WHARF_ASSERT(_gate.count() == 0 && _connections.empty(),
                 "rpc_inbound of shard {} destroyed with {} connections; stop() it first", _shard,
                 _connections.size());
}

void rpc_inbound::check_shard() const {
    WHARF_ASSERT(this_shard() == _shard, "rpc_inbound of shard {} used on shard {}", _shard,
                 this_shard());
}

void rpc_inbound::set_handler(raft_message_handler handler) {
    check_shard();
    _handler = std::move(handler);
}

void rpc_inbound::set_info_handler(broker_info_handler handler) {
    check_shard();
    _info_handler = std::move(handler);
}

void rpc_inbound::set_leaders_handler(group_leaders_handler handler) {
    check_shard();
    _leaders_handler = std::move(handler);
}

void rpc_inbound::adopt(owned_fd fd, inbound_peer peer) {
    check_shard();
    auto hold = _gate.hold();
    if (!hold || _connections.size() >= _cfg.max_inbound_connections_per_shard) {
        ++_stats.connections_refused;
        uint64_t skipped = 0;
        if (_refusal_log.allow(&skipped)) {
            shard_logger().warn("rpc connection from node {} at {} closed: {}{}", peer.node,
                                peer.address,
                                hold ? "too many connections on this shard" : "shard stopping",
                                log_limiter::skipped_note(skipped));
        }
        return;  // fd closes here
    }
    // The peer keeps one connection per shard: an older one of the same node is stale.
    for (auto& [id, c] : _connections) {
        if (c->peer().node == peer.node) {
            ++_stats.connections_replaced;
            shard_logger().info("rpc connection {} from node {} replaced by a new one from {}", id,
                                peer.node, peer.address);
            c->close();
        }
    }
    ++_stats.connections_adopted;
    uint64_t id = _next_id++;
    shard_logger().debug("rpc connection {} from node {} at {} (protocol {})", id, peer.node,
                         peer.address, peer.version);
    spawn(serve(std::move(hold), std::move(fd), std::move(peer), id), "rpc inbound connection");
}

task<void> rpc_inbound::serve([[maybe_unused]] gate::holder hold, owned_fd fd, inbound_peer peer,
                              uint64_t id) {
    inbound_connection conn(std::move(fd), std::move(peer), id, _ctx);
    // However run() ends (a handler that throws breaks its contract, but must not leave a
    // dangling entry for stop() to touch), the connection leaves the table.
    struct registration {
        rpc_inbound& self;
        uint64_t id;
        ~registration() {
            self._connections.erase(id);
            --self._stats.connections_open;
        }
    };
    _connections.emplace(id, &conn);
    ++_stats.connections_open;
    registration registered{*this, id};
    co_await conn.run();
}

task<void> rpc_inbound::stop() {
    check_shard();
    if (!_gate.closed()) {
        for (auto& [id, c] : _connections) c->close();
    }
    // A second caller waits for the first one's connections too.
    co_await _gate.close();
}

}  // namespace wharf::raft_rpc
