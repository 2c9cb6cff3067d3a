#include "core/cluster/topic_config.h"

#include <algorithm>
#include <charconv>
#include <limits>

#include <fmt/format.h>

#include "core/config/broker_config.h"
#include "reactor/base/assert.h"

namespace wharf {

namespace {

// Sorted by name (find_topic_config_key searches it in order; describe() lists it in order).
constexpr config_key_info keys[] = {
    {"cleanup.policy", config_type::list,
     "A string that is either \"delete\" or \"compact\" or both. This string designates the "
     "retention policy to use on old log segments.",
     false},
    {"compression.type", config_type::string,
     "Specify the final compression type for a given topic. Accepts the standard compression "
     "codecs ('gzip', 'snappy', 'lz4', 'zstd'), 'uncompressed' and 'producer' (retain the "
     "original compression codec set by the producer).",
     false},
    {"max.message.bytes", config_type::int32,
     "The largest record batch size allowed by Kafka (after compression if compression is "
     "enabled).",
     false},
    {"message.timestamp.type", config_type::string,
     "Define whether the timestamp in the message is message create time or log append time. "
     "The value should be either CreateTime or LogAppendTime.",
     false},
    {"retention.bytes", config_type::int64,
     "The maximum size a partition can grow to before old batches are discarded to free up "
     "space; -1 means no size limit.",
     false},
    {"retention.ms", config_type::int64,
     "The maximum time a batch is retained before it is discarded to free up space; -1 means no "
     "time limit.",
     false},
    {"segment.bytes", config_type::int32,
     "The segment file size for the log. Accepted for compatibility: Wharf rolls one segment "
     "stream per shard (--segment-bytes).",
     false},
    {"segment.ms", config_type::int64,
     "The period of time after which the log rolls a segment. Accepted for compatibility: "
     "Wharf rolls one segment stream per shard (--segment-ms).",
     false},
};

constexpr std::string_view compression_names[] = {"uncompressed", "zstd", "lz4",
                                                  "snappy",       "gzip", "producer"};
constexpr topic_compression compression_values[] = {
    topic_compression::uncompressed, topic_compression::zstd, topic_compression::lz4,
    topic_compression::snappy,       topic_compression::gzip, topic_compression::producer};

// Java's String.trim: drops every leading and trailing char <= ' '.
std::string_view trim(std::string_view s) {
    while (!s.empty() && static_cast<unsigned char>(s.front()) <= ' ') s.remove_prefix(1);
    while (!s.empty() && static_cast<unsigned char>(s.back()) <= ' ') s.remove_suffix(1);
    return s;
}

// Long.parseLong / Integer.parseInt on the trimmed value: an optional sign and decimal digits.
template <typename Int>
std::optional<Int> parse_int(std::string_view s) {
    s = trim(s);
    if (s.size() > 1 && s.front() == '+' && s[1] != '-') s.remove_prefix(1);
    Int v{};
    auto [end, ec] = std::from_chars(s.data(), s.data() + s.size(), v);
    if (s.empty() || ec != std::errc() || end != s.data() + s.size()) return std::nullopt;
    return v;
}

topic_error invalid_value(std::string_view key, std::string_view value, std::string_view why) {
    return {cluster_errc::invalid_config,
            fmt::format("Invalid value {} for configuration {}: {}", value, key, why)};
}

template <typename Int>
std::optional<topic_error> parse_bounded(std::string_view key, std::string_view value,
                                         Int min_value, Int& out) {
    auto v = parse_int<Int>(value);
    if (!v) {
        return invalid_value(
            key, value,
            sizeof(Int) == 8 ? "Not a number of type LONG" : "Not a number of type INT");
    }
    if (*v < min_value) {
        return invalid_value(key, value, fmt::format("Value must be at least {}", min_value));
    }
    out = *v;
    return std::nullopt;
}

std::optional<topic_error> parse_cleanup(std::string_view value, cleanup_policy& out) {
    constexpr std::string_view why = "String must be one of: compact, delete";
    std::string_view rest = trim(value);
    if (rest.empty()) return invalid_value("cleanup.policy", value, why);
    cleanup_policy p{.delete_ = false, .compact = false};
    while (true) {
        auto comma = rest.find(',');
        auto item = trim(rest.substr(0, comma));
        if (item == "delete") {
            p.delete_ = true;
        } else if (item == "compact") {
            p.compact = true;
        } else {
            return invalid_value("cleanup.policy", value, why);
        }
        if (comma == std::string_view::npos) break;
        rest.remove_prefix(comma + 1);
    }
    out = p;
    return std::nullopt;
}

std::optional<topic_error> parse_compression(std::string_view value, topic_compression& out) {
    auto v = trim(value);
    for (size_t i = 0; i < std::size(compression_names); ++i) {
        if (v == compression_names[i]) {
            out = compression_values[i];
            return std::nullopt;
        }
    }
    return invalid_value("compression.type", value,
                         "String must be one of: uncompressed, zstd, lz4, snappy, gzip, producer");
}

std::optional<topic_error> parse_timestamp_type(std::string_view value, timestamp_type& out) {
    auto v = trim(value);
    if (v == "CreateTime") {
        out = timestamp_type::create_time;
    } else if (v == "LogAppendTime") {
        out = timestamp_type::log_append_time;
    } else {
        return invalid_value("message.timestamp.type", value,
                             "String must be one of: CreateTime, LogAppendTime");
    }
    return std::nullopt;
}

// Parses value for key into its field of v; v is unchanged on a refusal. The one parser behind
// validation and resolution, so that the two never disagree.
std::optional<topic_error> set_config(topic_defaults& v, std::string_view key,
                                      std::string_view value) {
    if (key == "retention.ms") return parse_bounded<int64_t>(key, value, -1, v.retention_ms);
    if (key == "retention.bytes") return parse_bounded<int64_t>(key, value, -1, v.retention_bytes);
    if (key == "segment.bytes") return parse_bounded<int32_t>(key, value, 14, v.segment_bytes);
    if (key == "segment.ms") return parse_bounded<int64_t>(key, value, 1, v.segment_ms);
    if (key == "max.message.bytes") {
        return parse_bounded<int32_t>(key, value, 0, v.max_message_bytes);
    }
    if (key == "cleanup.policy") return parse_cleanup(value, v.cleanup);
    if (key == "compression.type") return parse_compression(value, v.compression);
    if (key == "message.timestamp.type") {
        return parse_timestamp_type(value, v.message_timestamp_type);
    }
    return topic_error{cluster_errc::invalid_config,
                       fmt::format("Unknown topic config name: {}", key)};
}

std::string default_value(const topic_defaults& v, std::string_view key) {
    if (key == "retention.ms") return std::to_string(v.retention_ms);
    if (key == "retention.bytes") return std::to_string(v.retention_bytes);
    if (key == "segment.bytes") return std::to_string(v.segment_bytes);
    if (key == "segment.ms") return std::to_string(v.segment_ms);
    if (key == "max.message.bytes") return std::to_string(v.max_message_bytes);
    if (key == "cleanup.policy") return to_string(v.cleanup);
    if (key == "compression.type") return std::string(to_string(v.compression));
    if (key == "message.timestamp.type") return std::string(to_string(v.message_timestamp_type));
    WHARF_ASSERT(false, "topic config key {} has no default", key);
    return {};
}

}  // namespace

std::span<const config_key_info> topic_config_keys() noexcept {
    return keys;
}

const config_key_info* find_topic_config_key(std::string_view name) noexcept {
    for (const auto& k : keys) {
        if (k.name == name) return &k;
    }
    return nullptr;
}

topic_defaults topic_defaults_from(const broker_config& config) {
    constexpr auto int32_max = static_cast<uint64_t>(std::numeric_limits<int32_t>::max());
    topic_defaults d;
    d.segment_bytes = static_cast<int32_t>(std::min(config.segment_bytes, int32_max));
    d.segment_ms = std::max<int64_t>(1, config.segment_ms.count());
    d.max_message_bytes = static_cast<int32_t>(std::min(config.max_batch_bytes, int32_max));
    d.replication_factor = static_cast<int16_t>(config.cluster.voters().size());
    return d;
}

std::optional<topic_error> validate_topic_config(std::string_view key, std::string_view value) {
    topic_defaults scratch;
    return set_config(scratch, key, value);
}

std::optional<topic_error> validate_topic_configs(const config_map& configs) {
    for (const auto& [key, value] : configs) {
        if (auto err = validate_topic_config(key, value)) return err;
    }
    return std::nullopt;
}

effective_topic_config effective_topic_config::resolve(const config_map& overrides,
                                                       const topic_defaults& defaults) {
    effective_topic_config c;
    c._values = defaults;
    c._overrides = overrides;
    for (const auto& [key, value] : overrides) {
        // A refusal leaves the default in place (see the header's REQUIRES).
        (void)set_config(c._values, key, value);
    }
    return c;
}

std::vector<described_config> effective_topic_config::describe() const {
    std::vector<described_config> out;
    out.reserve(std::size(keys));
    for (const auto& k : keys) {
        auto it = _overrides.find(std::string(k.name));
        bool overridden = it != _overrides.end() && !validate_topic_config(k.name, it->second);
        out.push_back({.name = k.name,
                       .value = overridden ? it->second : default_value(_values, k.name),
                       .source = overridden ? config_source::dynamic_topic_config
                                            : config_source::default_config,
                       .type = k.type,
                       .sensitive = k.sensitive,
                       .documentation = k.documentation});
    }
    return out;
}

partition_config effective_topic_config::to_partition_config() const {
    partition_config p;
    p.message_timestamp_type = _values.message_timestamp_type;
    if (_values.retention_ms >= 0) p.retention_ms = std::chrono::milliseconds(_values.retention_ms);
    if (_values.retention_bytes >= 0) {
        p.retention_bytes = static_cast<uint64_t>(_values.retention_bytes);
    }
    return p;
}

std::string_view to_string(topic_compression c) noexcept {
    for (size_t i = 0; i < std::size(compression_values); ++i) {
        if (compression_values[i] == c) return compression_names[i];
    }
    return "producer";
}

std::optional<compression_type> stored_compression(topic_compression c) noexcept {
    switch (c) {
        case topic_compression::producer:
            return std::nullopt;
        case topic_compression::uncompressed:
            return compression_type::none;
        case topic_compression::zstd:
            return compression_type::zstd;
        case topic_compression::lz4:
            return compression_type::lz4;
        case topic_compression::snappy:
            return compression_type::snappy;
        case topic_compression::gzip:
            return compression_type::gzip;
    }
    return std::nullopt;
}

std::string_view to_string(timestamp_type t) noexcept {
    return t == timestamp_type::log_append_time ? "LogAppendTime" : "CreateTime";
}

std::string to_string(cleanup_policy p) {
    if (p.compact && p.delete_) return "compact,delete";
    return p.compact ? "compact" : "delete";
}

}  // namespace wharf
