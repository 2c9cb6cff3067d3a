// Topic configs: Kafka's keys, value syntax and ranges, defaults, resolution and DescribeConfigs.

#include <gtest/gtest.h>

#include <string>

#include "core/cluster/topic_config.h"
#include "core/cluster/topic_name.h"
#include "core/config/broker_config.h"

namespace wharf {
namespace {

void expect_invalid(std::string_view key, std::string_view value, std::string_view message) {
    auto err = validate_topic_config(key, value);
    ASSERT_TRUE(err) << key << "=" << value;
    EXPECT_EQ(err->code, cluster_errc::invalid_config);
    EXPECT_EQ(err->message, message);
}

TEST(topic_config, keys_are_described_and_sorted) {
    auto keys = topic_config_keys();
    ASSERT_EQ(keys.size(), 8u);
    for (size_t i = 1; i < keys.size(); ++i) EXPECT_LT(keys[i - 1].name, keys[i].name);
    ASSERT_NE(find_topic_config_key("retention.ms"), nullptr);
    EXPECT_EQ(find_topic_config_key("retention.ms")->type, config_type::int64);
    EXPECT_EQ(find_topic_config_key("segment.bytes")->type, config_type::int32);
    EXPECT_EQ(find_topic_config_key("cleanup.policy")->type, config_type::list);
    EXPECT_EQ(find_topic_config_key("compression.type")->type, config_type::string);
    EXPECT_EQ(find_topic_config_key("flush.ms"), nullptr);
    for (const auto& k : keys) {
        EXPECT_FALSE(k.sensitive);
        EXPECT_FALSE(k.documentation.empty());
    }
}

TEST(topic_config, accepts_kafka_values) {
    for (auto [k, v] : std::initializer_list<std::pair<const char*, const char*>>{
             {"retention.ms", "-1"},
             {"retention.ms", "0"},
             {"retention.ms", "9223372036854775807"},
             {"retention.ms", " 100 "},
             {"retention.ms", "+5"},
             {"retention.bytes", "-1"},
             {"retention.bytes", "1073741824"},
             {"segment.bytes", "14"},
             {"segment.bytes", "2147483647"},
             {"segment.ms", "1"},
             {"cleanup.policy", "delete"},
             {"cleanup.policy", "compact"},
             {"cleanup.policy", "compact,delete"},
             {"cleanup.policy", " delete , compact "},
             {"compression.type", "uncompressed"},
             {"compression.type", "zstd"},
             {"compression.type", "lz4"},
             {"compression.type", "snappy"},
             {"compression.type", "gzip"},
             {"compression.type", "producer"},
             {"max.message.bytes", "0"},
             {"max.message.bytes", "1048588"},
             {"message.timestamp.type", "CreateTime"},
             {"message.timestamp.type", "LogAppendTime"}}) {
        EXPECT_FALSE(validate_topic_config(k, v)) << k << "=" << v;
    }
}

TEST(topic_config, refuses_with_kafka_messages) {
    expect_invalid("flush.ms", "1", "Unknown topic config name: flush.ms");
    expect_invalid("", "1", "Unknown topic config name: ");
    expect_invalid("retention.ms", "-2",
                   "Invalid value -2 for configuration retention.ms: Value must be at least -1");
    expect_invalid("retention.ms", "abc",
                   "Invalid value abc for configuration retention.ms: Not a number of type LONG");
    expect_invalid("retention.ms", "",
                   "Invalid value  for configuration retention.ms: Not a "
                   "number of type LONG");
    expect_invalid("retention.ms", "9223372036854775808",
                   "Invalid value 9223372036854775808 for configuration retention.ms: Not a "
                   "number of type LONG");
    expect_invalid("retention.ms", "1.5",
                   "Invalid value 1.5 for configuration retention.ms: Not a number of type LONG");
    expect_invalid("retention.bytes", "-3",
                   "Invalid value -3 for configuration retention.bytes: "
                   "Value must be at least -1");
    expect_invalid("segment.bytes", "13",
                   "Invalid value 13 for configuration segment.bytes: Value must be at least 14");
    expect_invalid("segment.bytes", "2147483648",
                   "Invalid value 2147483648 for configuration segment.bytes: Not a number of "
                   "type INT");
    expect_invalid("segment.ms", "0",
                   "Invalid value 0 for configuration segment.ms: Value must be at least 1");
    expect_invalid("max.message.bytes", "-1",
                   "Invalid value -1 for configuration "
                   "max.message.bytes: Value must be at least 0");
    expect_invalid("cleanup.policy", "purge",
                   "Invalid value purge for configuration "
                   "cleanup.policy: String must be one of: compact, "
                   "delete");
    expect_invalid("cleanup.policy", "delete,",
                   "Invalid value delete, for configuration "
                   "cleanup.policy: String must be one of: compact, "
                   "delete");
    expect_invalid("cleanup.policy", "",
                   "Invalid value  for configuration cleanup.policy: "
                   "String must be one of: compact, delete");
    expect_invalid("compression.type", "ZSTD",
                   "Invalid value ZSTD for configuration compression.type: String must be one "
                   "of: uncompressed, zstd, lz4, snappy, gzip, producer");
    expect_invalid("message.timestamp.type", "createtime",
                   "Invalid value createtime for configuration message.timestamp.type: String "
                   "must be one of: CreateTime, LogAppendTime");

    config_map configs{{"retention.ms", "1"}, {"segment.ms", "0"}, {"zzz", "1"}};
    auto err = validate_topic_configs(configs);
    ASSERT_TRUE(err);
    EXPECT_EQ(err->message,
              "Invalid value 0 for configuration segment.ms: Value must be at least 1");
    EXPECT_FALSE(validate_topic_configs({{"retention.ms", "1"}}));
}

TEST(topic_config, defaults_are_kafkas) {
    effective_topic_config c;
    EXPECT_EQ(c.retention_ms(), 604800000);
    EXPECT_EQ(c.retention_bytes(), -1);
    EXPECT_EQ(c.segment_bytes(), 1073741824);
    EXPECT_EQ(c.segment_ms(), 604800000);
    EXPECT_EQ(c.cleanup(), (cleanup_policy{.delete_ = true, .compact = false}));
    EXPECT_EQ(c.compression(), topic_compression::producer);
    EXPECT_EQ(c.max_message_bytes(), 1048588);
    EXPECT_EQ(c.message_timestamp_type(), timestamp_type::create_time);

    broker_config broker;
    broker.segment_bytes = uint64_t{4} << 30;  // above INT32_MAX: capped
    broker.segment_ms = std::chrono::hours(1);
    broker.max_batch_bytes = 2000000;
    auto d = topic_defaults_from(broker);
    EXPECT_EQ(d.segment_bytes, 2147483647);
    EXPECT_EQ(d.segment_ms, 3600000);
    EXPECT_EQ(d.max_message_bytes, 2000000);
    EXPECT_EQ(d.retention_ms, 604800000);
}

TEST(topic_config, resolves_overrides_over_defaults) {
    topic_defaults defaults;
    defaults.retention_ms = 1000;
    auto c = effective_topic_config::resolve({{"retention.bytes", " 4096"},
                                              {"cleanup.policy", "compact,delete"},
                                              {"compression.type", "zstd"},
                                              {"message.timestamp.type", "LogAppendTime"}},
                                             defaults);
    EXPECT_EQ(c.retention_ms(), 1000);
    EXPECT_EQ(c.retention_bytes(), 4096);
    EXPECT_EQ(c.cleanup(), (cleanup_policy{.delete_ = true, .compact = true}));
    EXPECT_EQ(c.compression(), topic_compression::zstd);
    EXPECT_EQ(c.message_timestamp_type(), timestamp_type::log_append_time);

    auto p = c.to_partition_config();
    EXPECT_EQ(p.message_timestamp_type, timestamp_type::log_append_time);
    ASSERT_TRUE(p.retention_ms);
    EXPECT_EQ(p.retention_ms->count(), 1000);
    ASSERT_TRUE(p.retention_bytes);
    EXPECT_EQ(*p.retention_bytes, 4096u);

    auto forever = effective_topic_config::resolve({{"retention.ms", "-1"}}, {});
    auto fp = forever.to_partition_config();
    EXPECT_FALSE(fp.retention_ms);
    EXPECT_FALSE(fp.retention_bytes);

    // An override that does not parse (never stored by the table) falls back to the default.
    auto bad = effective_topic_config::resolve({{"retention.ms", "x"}}, defaults);
    EXPECT_EQ(bad.retention_ms(), 1000);
}

TEST(topic_config, describe_lists_every_key_with_its_source) {
    auto c = effective_topic_config::resolve(
        {{"retention.ms", " 5000"}, {"cleanup.policy", "compact"}}, {});
    auto d = c.describe();
    ASSERT_EQ(d.size(), topic_config_keys().size());
    std::map<std::string, described_config> by_name;
    for (auto& e : d) by_name.emplace(std::string(e.name), e);
    EXPECT_EQ(by_name.at("retention.ms").value, " 5000");  // as the client wrote it
    EXPECT_EQ(by_name.at("retention.ms").source, config_source::dynamic_topic_config);
    EXPECT_EQ(by_name.at("cleanup.policy").value, "compact");
    EXPECT_EQ(by_name.at("cleanup.policy").type, config_type::list);
    EXPECT_EQ(by_name.at("retention.bytes").value, "-1");
    EXPECT_EQ(by_name.at("retention.bytes").source, config_source::default_config);
    EXPECT_EQ(by_name.at("segment.bytes").value, "1073741824");
    EXPECT_EQ(by_name.at("compression.type").value, "producer");
    EXPECT_EQ(by_name.at("message.timestamp.type").value, "CreateTime");
    EXPECT_EQ(by_name.at("max.message.bytes").value, "1048588");
    EXPECT_EQ(static_cast<int>(config_source::dynamic_topic_config), 1);
    EXPECT_EQ(static_cast<int>(config_source::default_config), 5);
}

// compression.type names the codec the produce path stores batches in (log/recompress.h).
TEST(topic_config, compression_type_maps_to_a_stored_codec) {
    EXPECT_EQ(stored_compression(topic_compression::producer), std::nullopt);
    EXPECT_EQ(stored_compression(topic_compression::uncompressed), compression_type::none);
    EXPECT_EQ(stored_compression(topic_compression::gzip), compression_type::gzip);
    EXPECT_EQ(stored_compression(topic_compression::snappy), compression_type::snappy);
    EXPECT_EQ(stored_compression(topic_compression::lz4), compression_type::lz4);
    EXPECT_EQ(stored_compression(topic_compression::zstd), compression_type::zstd);
    const auto gzip = effective_topic_config::resolve({{"compression.type", "gzip"}}, {});
    EXPECT_EQ(stored_compression(gzip.compression()), compression_type::gzip);
}

TEST(topic_name, kafka_rules) {
    EXPECT_EQ(validate_topic_name("orders"), topic_name_check::ok);
    EXPECT_EQ(validate_topic_name("a.b_c-D9"), topic_name_check::ok);
    EXPECT_EQ(validate_topic_name("__consumer_offsets"), topic_name_check::ok);
    EXPECT_EQ(validate_topic_name(""), topic_name_check::empty);
    EXPECT_EQ(validate_topic_name("."), topic_name_check::dot_or_dot_dot);
    EXPECT_EQ(validate_topic_name(".."), topic_name_check::dot_or_dot_dot);
    EXPECT_EQ(validate_topic_name("..."), topic_name_check::ok);
    EXPECT_EQ(validate_topic_name(std::string(249, 'a')), topic_name_check::ok);
    EXPECT_EQ(validate_topic_name(std::string(250, 'a')), topic_name_check::too_long);
    for (const char* bad : {"a b", "a/b", "a:b", "é", "a\nb", "a*"}) {
        EXPECT_EQ(validate_topic_name(bad), topic_name_check::illegal_character) << bad;
    }
    EXPECT_EQ(validate_topic_name(std::string_view("a\0b", 3)),
              topic_name_check::illegal_character);
    EXPECT_EQ(topic_name_error_message(topic_name_check::illegal_character, "a b"),
              "Topic name \"a b\" is illegal, it contains a character other than ASCII "
              "alphanumerics, '.', '_' and '-'");
    EXPECT_EQ(topic_name_error_message(topic_name_check::empty, ""),
              "Topic name is illegal, it can't be empty");
    EXPECT_TRUE(is_internal_topic_name("__consumer_offsets"));
    EXPECT_FALSE(is_internal_topic_name("_single"));
    EXPECT_EQ(topic_collision_key("a.b_c"), topic_collision_key("a_b.c"));
    EXPECT_NE(topic_collision_key("a.b"), topic_collision_key("a-b"));
}

}  // namespace
}  // namespace wharf
