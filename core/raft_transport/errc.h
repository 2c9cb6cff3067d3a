#pragma once

// Expected failures of the raft transport that net/rpc's rpc_errc does not name (STYLE.md rule
// 7). A connection attempt that meets one is counted, logged and retried with backoff.

#include <system_error>
#include <type_traits>

namespace wharf::raft_rpc {

// Values are stable and never zero (zero means success).
enum class transport_errc : int {
    // The broker at a peer's address answered the handshake with another node id: the peer map
    // names the wrong address for that node (verify_peer_node::yes).
    wrong_node = 1,
};

const std::error_category& transport_category() noexcept;

inline std::error_code make_error_code(transport_errc e) noexcept {
    return {static_cast<int>(e), transport_category()};
}

}  // namespace wharf::raft_rpc

template <>
struct std::is_error_code_enum<wharf::raft_rpc::transport_errc> : std::true_type {};
