#pragma once

// Expected failures of Wharf's own Kafka client (connection.h, kafka_client.h). A broker's
// Kafka error code is carried in its own category (kafka_category) so that a failed call says
// which Kafka error it was ("kafka: NOT_LEADER_OR_FOLLOWER").

#include <system_error>
#include <type_traits>

#include "net/kafka/error_code.h"
#include "reactor/base/result.h"

namespace wharf::kafka::client {

// Values are stable and never zero (zero means success).
enum class client_errc : int {
    bad_address = 1,      // not host:port
    resolve_failed,       // the host name does not resolve
    connect_failed,       // refused, unreachable, or timed out
    connection_closed,    // the broker closed the connection, or close() was called
    malformed_response,   // a response that does not decode, or answers another request
    unsupported_version,  // the broker does not serve a version this client can speak
    unknown_broker,       // a node id the metadata does not list
    timed_out,            // an operation did not finish within its deadline
};

const std::error_category& client_category() noexcept;
const std::error_category& kafka_category() noexcept;

inline std::error_code make_error_code(client_errc e) noexcept {
    return {static_cast<int>(e), client_category()};
}

// A Kafka error code from a response as an error. REQUIRES: code != none.
inline std::error_code kafka_error(kafka::error_code code) noexcept {
    return {static_cast<int>(code), kafka_category()};
}

}  // namespace wharf::kafka::client

template <>
struct std::is_error_code_enum<wharf::kafka::client::client_errc> : std::true_type {};
