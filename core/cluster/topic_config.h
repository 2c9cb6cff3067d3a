#pragma once

// The topic configs Wharf supports, with Kafka's names, value syntax and ranges; the broker-wide
// defaults; and a topic's effective config (its overrides resolved against those defaults).
//
// Used by the topic table (validation before a command is written, resolution when it is
// applied) and by the handlers: CreateTopics and AlterConfigs validate with
// validate_topic_config, DescribeConfigs lists effective_topic_config::describe(), and the
// produce path reads the typed accessors. Plain values: no shard affinity, freely copied.

#include <cstdint>
#include <map>
#include <optional>
#include <span>
#include <string>
#include <string_view>
#include <vector>

#include "core/cluster/errc.h"
#include "log/log_config.h"
#include "log/record_batch.h"

namespace wharf {

struct broker_config;

// A topic's config overrides as clients send them: key -> value, both strings.
using config_map = std::map<std::string, std::string>;

// Kafka's ConfigEntry type codes (DescribeConfigs v3+ config_type).
enum class config_type : int8_t {
    boolean = 1,
    string = 2,
    int32 = 3,    // INT
    int16 = 4,    // SHORT
    int64 = 5,    // LONG
    float64 = 6,  // DOUBLE
    list = 7,
    class_name = 8,  // CLASS
    password = 9,
};

// Kafka's ConfigSource codes (DescribeConfigs v1+ config_source).
enum class config_source : int8_t {
    dynamic_topic_config = 1,  // a per-topic override
    static_broker_config = 4,  // reserved: a value set by a broker flag
    default_config = 5,        // the default (Wharf reports broker defaults as this)
};

// One supported key, for DescribeConfigs and validation.
struct config_key_info {
    std::string_view name;
    config_type type;
    std::string_view documentation;
    bool sensitive;
};

// Every supported key, sorted by name.
std::span<const config_key_info> topic_config_keys() noexcept;
// The key's description, or nullptr when Wharf does not support it.
const config_key_info* find_topic_config_key(std::string_view name) noexcept;

// cleanup.policy: a list of delete and compact (both may be set).
struct cleanup_policy {
    bool delete_ = true;
    bool compact = false;
    bool operator==(const cleanup_policy&) const = default;
};

// compression.type. `producer` keeps whatever codec each batch arrived with; any other value
// makes the produce path store every batch in that codec, recompressing those that arrive in
// another (log/recompress.h), as Kafka's LogValidator does.
enum class topic_compression : uint8_t { producer, uncompressed, zstd, lz4, snappy, gzip };

// The codec a topic stores its batches in; nullopt for `producer` (each batch keeps its own).
std::optional<compression_type> stored_compression(topic_compression c) noexcept;

// The broker-wide defaults of every key: the values a topic has when it sets no override. The
// initial values are Kafka's defaults; topic_defaults_from() takes the ones the broker's flags
// give.
struct topic_defaults {
    int64_t retention_ms = 604800000;  // 7 days; -1 keeps forever
    int64_t retention_bytes = -1;      // -1: no size limit
    // segment.bytes and segment.ms are accepted and reported but not applied per topic: the shard
    // log rolls one segment stream for all partitions of a shard (--segment-bytes, --segment-ms).
    int32_t segment_bytes = 1073741824;
    int64_t segment_ms = 604800000;
    cleanup_policy cleanup{};
    topic_compression compression = topic_compression::producer;
    int32_t max_message_bytes = 1048588;
    timestamp_type message_timestamp_type = timestamp_type::create_time;
    // Not a topic config: every partition is replicated on every broker of the cluster
    // (cluster_config.h), so this is the only replication factor a topic may ask for.
    int16_t replication_factor = 1;
};

// The defaults the broker's flags imply: segment.bytes and segment.ms from --segment-bytes and
// --segment-ms (segment.bytes capped at INT32_MAX) and max.message.bytes from
// --max-batch-bytes; every other key keeps Kafka's default.
topic_defaults topic_defaults_from(const broker_config& config);

// Checks one key and value as CreateTopics and AlterConfigs receive them. Values are parsed as
// Kafka parses them (surrounding whitespace ignored, lists split at commas). Errors are
// invalid_config with Kafka's message: "Unknown topic config name: x" or "Invalid value v for
// configuration k: <why>".
std::optional<topic_error> validate_topic_config(std::string_view key, std::string_view value);
// Every entry of configs, in key order; the first refusal.
std::optional<topic_error> validate_topic_configs(const config_map& configs);

// One line of DescribeConfigs.
struct described_config {
    std::string_view name;
    std::string value;
    config_source source;
    config_type type;
    bool sensitive;
    std::string_view documentation;
};

// A topic's config: its overrides over the broker defaults, parsed once into typed values.
class effective_topic_config {
public:
    // Every key at Kafka's default.
    effective_topic_config() = default;

    // REQUIRES: overrides passed validate_topic_configs (the topic table never stores others); a
    // key that does not parse anyway is ignored (its default applies), so that resolution never
    // fails.
    static effective_topic_config resolve(const config_map& overrides,
                                          const topic_defaults& defaults);

    int64_t retention_ms() const noexcept { return _values.retention_ms; }
    int64_t retention_bytes() const noexcept { return _values.retention_bytes; }
    int32_t segment_bytes() const noexcept { return _values.segment_bytes; }
    int64_t segment_ms() const noexcept { return _values.segment_ms; }
    cleanup_policy cleanup() const noexcept { return _values.cleanup; }
    topic_compression compression() const noexcept { return _values.compression; }
    int32_t max_message_bytes() const noexcept { return _values.max_message_bytes; }
    timestamp_type message_timestamp_type() const noexcept {
        return _values.message_timestamp_type;
    }
    const config_map& overrides() const noexcept { return _overrides; }

    // Every supported key, sorted by name, with its value and whether it is an override
    // (dynamic_topic_config, the value as the client wrote it) or the default (default_config).
    std::vector<described_config> describe() const;

    // What the log applies per partition: message.timestamp.type, retention.ms and
    // retention.bytes (-1 becomes "no limit").
    partition_config to_partition_config() const;

private:
    topic_defaults _values;
    config_map _overrides;
};

// Kafka's value syntax of the enumerated keys.
std::string_view to_string(topic_compression c) noexcept;
std::string_view to_string(timestamp_type t) noexcept;
std::string to_string(cleanup_policy p);

}  // namespace wharf
