#pragma once

// Kafka's __consumer_offsets record format, so that lag tools, MirrorMaker 2 and anything else
// that reads Kafka's internal topic can read Wharf's. Every record has a key and (except for
// tombstones, which delete) a value; both start with an int16 version.
//
// Keys. Version 0 and 1: an offset commit (group, topic, partition). Version 2: a group's
// metadata (group). Kafka 3.7+ uses higher key versions for the KIP-848 consumer protocol's
// records; those decode as `unknown_key` so that a loader can skip them.
//
// Values. An offset commit (versions 0-4): offset, leader epoch (v3+), metadata, commit
// timestamp, expire timestamp (v1 only). A group's metadata (versions 0-4): protocol type,
// generation, protocol (nullable), leader (nullable), current state timestamp (v2+) and the
// members (member id, group instance id (v3+), client id, client host, rebalance timeout (v1+),
// session timeout, subscription, assignment). Version 4 of both values is flexible (compact
// strings and tagged fields). Wharf writes what Kafka writes: key version 1 and 2, offset values
// version 3 (version 1 when an explicit expire timestamp is set), group values version 3.
//
// Decoding is bounds-checked: every length and count is checked against the bytes left before
// anything is allocated, so hostile bytes never crash or over-allocate.

#include <cstdint>
#include <optional>
#include <span>
#include <string>
#include <string_view>
#include <variant>
#include <vector>

#include "core/group/errc.h"
#include "reactor/base/result.h"

namespace wharf::groups {

using bytes = std::vector<uint8_t>;

struct offset_commit_key {
    std::string group;
    std::string topic;
    int32_t partition = 0;
    bool operator==(const offset_commit_key&) const = default;
};

struct group_metadata_key {
    std::string group;
    bool operator==(const group_metadata_key&) const = default;
};

// A key version this code does not interpret (the KIP-848 records); a loader skips it.
struct unknown_key {
    int16_t version = 0;
    bool operator==(const unknown_key&) const = default;
};

using record_key = std::variant<offset_commit_key, group_metadata_key, unknown_key>;

struct offset_commit_value {
    int64_t offset = 0;
    int32_t leader_epoch = -1;  // -1: unknown (and always for versions below 3)
    std::string metadata;
    int64_t commit_timestamp_ms = 0;
    int64_t expire_timestamp_ms = -1;  // -1: none; only version 1 carries it
    bool operator==(const offset_commit_value&) const = default;
};

struct group_member_value {
    std::string member_id;
    std::optional<std::string> group_instance_id;  // v3+
    std::string client_id;
    std::string client_host;
    int32_t rebalance_timeout_ms = 0;  // v1+ (version 0 readers use the session timeout)
    int32_t session_timeout_ms = 0;
    bytes subscription;
    bytes assignment;
    bool operator==(const group_member_value&) const = default;
};

struct group_metadata_value {
    std::string protocol_type;
    int32_t generation = 0;
    std::optional<std::string> protocol;
    std::optional<std::string> leader;
    int64_t current_state_timestamp_ms = -1;  // v2+
    std::vector<group_member_value> members;
    bool operator==(const group_metadata_value&) const = default;
};

inline constexpr int16_t offset_commit_key_version = 1;
inline constexpr int16_t group_metadata_key_version = 2;
inline constexpr int16_t max_offset_commit_value_version = 4;
inline constexpr int16_t max_group_metadata_value_version = 4;

bytes encode_key(const offset_commit_key& k, int16_t version = offset_commit_key_version);
bytes encode_key(const group_metadata_key& k);

// REQUIRES: 0 <= version <= 4. Without a version: 1 when an expire timestamp is set, else 3.
bytes encode_value(const offset_commit_value& v, std::optional<int16_t> version = std::nullopt);
// REQUIRES: 0 <= version <= 4.
bytes encode_value(const group_metadata_value& v, int16_t version = 3);

// Errors: group_errc::malformed_record (truncated, negative lengths, trailing bytes) and
// group_errc::unsupported_record_version (a value version above 4).
result<record_key> decode_key(std::span<const uint8_t> b);
result<offset_commit_value> decode_offset_commit_value(std::span<const uint8_t> b);
result<group_metadata_value> decode_group_metadata_value(std::span<const uint8_t> b);

// Java's String.hashCode() of the group id (UTF-16 code units of the UTF-8 string; malformed
// UTF-8 counts as U+FFFD as Java's decoder replaces it).
int32_t java_string_hash(std::string_view s);
// The __consumer_offsets partition of a group, exactly as Kafka computes it:
// Utils.abs(groupId.hashCode) % partition_count, where Utils.abs(INT32_MIN) is 0.
// REQUIRES: partition_count > 0.
int32_t offsets_partition_for(std::string_view group_id, int32_t partition_count);

}  // namespace wharf::groups
