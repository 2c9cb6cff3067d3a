#pragma once

// Expected failures of the internal RPC wire format (frame.h, handshake.h): what a peer, a
// damaged stream or a misconfigured cluster can send us (STYLE.md rule 7). A connection that
// meets one of them is closed with the error logged.

#include <system_error>
#include <type_traits>

namespace wharf::rpc {

// Values are stable and never zero (zero means success). The handshake reply carries the
// refusals among them as handshake_status (handshake.h), whose numbers are fixed on the wire
// separately.
enum class rpc_errc : int {
    bad_magic = 1,        // the bytes are no Wharf RPC handshake or frame
    unsupported_version,  // no protocol version in common, or a frame of another version
    frame_too_large,      // a frame header declares more than max_frame_bytes
    checksum_mismatch,    // a frame or handshake whose xxh3 checksum does not match its bytes
    wrong_cluster,        // the peer belongs to another cluster (its cluster id differs)
    no_such_shard,        // the target shard index is not below the acceptor's shard count
    malformed_handshake,  // a handshake or reply with an unknown status or impossible fields
    malformed_broker_info,  // a broker_info payload that is not one well-formed record
    malformed_group_leaders,  // a group_leaders payload that is not one well-formed list
};

const std::error_category& rpc_category() noexcept;

inline std::error_code make_error_code(rpc_errc e) noexcept {
    return {static_cast<int>(e), rpc_category()};
}

}  // namespace wharf::rpc

template <>
struct std::is_error_code_enum<wharf::rpc::rpc_errc> : std::true_type {};
