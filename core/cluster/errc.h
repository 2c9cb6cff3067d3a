#pragma once

// Expected failures of the cluster metadata code (STYLE.md rule 7): topic requests that Kafka
// refuses, and metadata commands whose bytes do not decode. Kafka error codes are chosen from
// these only at the handler edge; kafka_error_code() gives the usual mapping.

#include <cstdint>
#include <string>
#include <system_error>
#include <type_traits>

namespace wharf {

// Values are stable (tests and logs print them) and never zero (zero means success).
enum class cluster_errc : int {
    // Kafka-visible outcomes, named after Kafka's error codes.
    topic_already_exists = 1,    // TOPIC_ALREADY_EXISTS (36)
    invalid_topic,               // INVALID_TOPIC_EXCEPTION (17): bad name or a collision
    invalid_partitions,          // INVALID_PARTITIONS (37)
    invalid_replication_factor,  // INVALID_REPLICATION_FACTOR (38)
    invalid_config,              // INVALID_CONFIG (40)
    unknown_topic,               // UNKNOWN_TOPIC_OR_PARTITION (3)
    unknown_topic_id,            // UNKNOWN_TOPIC_ID (100)
    // The metadata log itself: never a client's fault.
    stale_command,                // a command prepared against an older table (ids already used)
    corrupt_command,              // bytes that do not decode to a command
    unsupported_command_version,  // written by a newer Wharf
    // Kafka-visible again: NOT_CONTROLLER (41), this broker does not lead the metadata log.
    not_controller,
    // Broker membership: BROKER_NOT_AVAILABLE (8), a broker the cluster does not know (or one
    // decommissioned already); INVALID_REQUEST (42), a change the cluster cannot make (removing
    // its last broker).
    broker_not_available,
    invalid_request,
};

const std::error_category& cluster_category() noexcept;

inline std::error_code make_error_code(cluster_errc e) noexcept {
    return {static_cast<int>(e), cluster_category()};
}

// The Kafka error code a handler answers for e. stale_command maps to REQUEST_TIMED_OUT (7, a
// retriable error: the client retries and the next attempt is prepared against the new table);
// corrupt_command and unsupported_command_version map to UNKNOWN_SERVER_ERROR (-1).
int16_t kafka_error_code(cluster_errc e) noexcept;

// A refusal with the message Kafka would send with it (the error_message field of
// CreateTopics, CreatePartitions, AlterConfigs...).
struct topic_error {
    cluster_errc code;
    std::string message;
};

}  // namespace wharf

template <>
struct std::is_error_code_enum<wharf::cluster_errc> : std::true_type {};
