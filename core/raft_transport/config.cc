#include "core/raft_transport/config.h"

#include <charconv>

#include <fmt/format.h>

namespace wharf::raft_rpc {

result<net::socket_address> parse_rpc_address(std::string_view host_port) {
    auto invalid = std::make_error_code(std::errc::invalid_argument);
    auto colon = host_port.rfind(':');
    if (colon == std::string_view::npos || colon == 0 || colon + 1 == host_port.size()) {
        return invalid;
    }
    std::string_view host = host_port.substr(0, colon);
    std::string_view port_text = host_port.substr(colon + 1);
    // An IPv6 host must be bracketed: "::1:80" would be ambiguous.
    if (host.find(':') != std::string_view::npos && host.front() != '[') return invalid;
    unsigned port = 0;
    const char* end = port_text.data() + port_text.size();
    auto [ptr, ec] = std::from_chars(port_text.data(), end, port);
    if (ec != std::errc() || ptr != end || port > 65535) return invalid;
    return net::parse_address(std::string(host), static_cast<uint16_t>(port));
}

status validate_config(const raft_transport_config& cfg, std::string* why) {
    auto fail = [why](std::string reason) -> status {
        if (why != nullptr) *why = std::move(reason);
        return std::make_error_code(std::errc::invalid_argument);
    };
    if (cfg.self.value() < 0) return fail(fmt::format("node id {} is negative", cfg.self));
    if (cfg.max_frame_bytes < min_max_frame_bytes ||
        cfg.max_frame_bytes - rpc::frame_header_bytes > rpc::max_frame_payload_bytes) {
        return fail(
            fmt::format("max_frame_bytes {} is outside [{}, {}]: one maximal log entry "
                        "must fit in a frame, and a frame header describes at most "
                        "2^32 - 1 bytes",
                        cfg.max_frame_bytes, min_max_frame_bytes,
                        rpc::frame_header_bytes + rpc::max_frame_payload_bytes));
    }
    if (cfg.max_queued_bytes_per_peer == 0) return fail("max_queued_bytes_per_peer is 0");
    if (cfg.listen_backlog <= 0) return fail("listen_backlog must be positive");
    if (cfg.max_pending_handshakes == 0) return fail("max_pending_handshakes is 0");
    if (cfg.max_inbound_connections_per_shard == 0) {
        return fail("max_inbound_connections_per_shard is 0");
    }
    if (cfg.handshake_timeout.count() <= 0 || cfg.connect_timeout.count() <= 0 ||
        cfg.send_timeout.count() <= 0) {
        return fail("handshake, connect and send timeouts must be positive");
    }
    if (cfg.reconnect_backoff_min.count() <= 0 ||
        cfg.reconnect_backoff_max < cfg.reconnect_backoff_min) {
        return fail(fmt::format("reconnect backoff [{} ms, {} ms] must be positive and ordered",
                                cfg.reconnect_backoff_min.count(),
                                cfg.reconnect_backoff_max.count()));
    }
    return {};
}

}  // namespace wharf::raft_rpc
