// DescribeConfigs (v1, v4), AlterConfigs (v0, v2) and IncrementalAlterConfigs (v0, v1) against
// the real broker.

#include <gtest/gtest.h>

#include "tests/kafka_api/api_test_util.h"

namespace wharf::kafka::test {
namespace {

using describe_configs = shared_broker_test;
using alter_configs = shared_broker_test;
using incremental_alter_configs = shared_broker_test;
using config_entry = describe_configs_response::describe_configs_resource_result;

constexpr int8_t resource_topic = 2;
constexpr int8_t resource_broker = 4;
constexpr int8_t source_topic = 1;  // DYNAMIC_TOPIC_CONFIG

describe_configs_response describe(kafka_client& c, int8_t type, const std::string& name,
                                   std::optional<std::vector<std::string>> keys, int16_t v,
                                   bool documentation = false) {
    describe_configs_request req;
    req.resources.push_back(
        {.resource_type = type, .resource_name = name, .configuration_keys = std::move(keys)});
    req.include_documentation = documentation;
    return c.call(req, v);
}

// The topic's entry for `key` (DescribeConfigs v4); fails the test when it is missing.
config_entry entry_of(kafka_client& c, const std::string& topic, const std::string& key) {
    auto resp = describe(c, resource_topic, topic, std::vector<std::string>{key}, 4);
    if (resp.results.size() != 1 || resp.results[0].configs.size() != 1) {
        ADD_FAILURE() << "no entry for " << key;
        return {};
    }
    return resp.results[0].configs[0];
}

TEST_F(describe_configs, topic_and_broker_resources_with_key_filters_at_v1_and_v4) {
    std::string topic = unique_topic("dc");
    ASSERT_EQ(create_topic(client(), topic, 1, {{"retention.ms", "86400000"}}).error_code, 0);
    for (int16_t v : {1, 4}) {
        SCOPED_TRACE("DescribeConfigs v" + std::to_string(v));
        auto all = describe(client(), resource_topic, topic, std::nullopt, v);
        ASSERT_EQ(all.results.size(), 1u);
        EXPECT_EQ(all.results[0].error_code, 0);
        EXPECT_EQ(all.results[0].resource_name, topic);
        std::map<std::string, config_entry> by_name;
        for (const auto& e : all.results[0].configs) by_name[e.name] = e;
        for (const char* key : {"cleanup.policy", "retention.ms", "max.message.bytes",
                                "retention.bytes", "segment.bytes", "compression.type"}) {
            EXPECT_TRUE(by_name.contains(key)) << key;
        }
        EXPECT_EQ(by_name["retention.ms"].value, "86400000");
        EXPECT_EQ(by_name["retention.ms"].config_source, source_topic);
        EXPECT_FALSE(by_name["retention.ms"].read_only);
        EXPECT_NE(by_name["cleanup.policy"].config_source, source_topic);
        EXPECT_EQ(by_name["cleanup.policy"].value, "delete");

        auto some = describe(client(), resource_topic, topic,
                             std::vector<std::string>{"cleanup.policy", "retention.ms"}, v);
        ASSERT_EQ(some.results.at(0).configs.size(), 2u);

        auto broker = describe(client(), resource_broker, "", std::nullopt, v);
        ASSERT_EQ(broker.results.size(), 1u);
        EXPECT_EQ(broker.results[0].error_code, 0);
        EXPECT_FALSE(broker.results[0].configs.empty());
        auto one = describe(client(), resource_broker, "",
                            std::vector<std::string>{"log.retention.ms"}, v);
        ASSERT_EQ(one.results.at(0).configs.size(), 1u);
        EXPECT_EQ(one.results[0].configs[0].name, "log.retention.ms");

        auto missing =
            describe(client(), resource_topic, unique_topic("dc-missing"), std::nullopt, v);
        EXPECT_EQ(missing.results.at(0).error_code, err(error_code::unknown_topic_or_partition));
    }
    // Documentation (v3+) only when asked; null otherwise.
    auto with_doc = describe(client(), resource_topic, topic,
                             std::vector<std::string>{"retention.ms"}, 4, true);
    ASSERT_EQ(with_doc.results.at(0).configs.size(), 1u);
    ASSERT_TRUE(with_doc.results[0].configs[0].documentation.has_value());
    EXPECT_FALSE(with_doc.results[0].configs[0].documentation->empty());
    auto without = describe(client(), resource_topic, topic,
                            std::vector<std::string>{"retention.ms"}, 4, false);
    ASSERT_EQ(without.results.at(0).configs.size(), 1u);
    EXPECT_FALSE(without.results[0].configs[0].documentation.has_value());
}

TEST_F(alter_configs, replaces_the_whole_override_set_at_v0_and_v2) {
    for (int16_t v : {0, 2}) {
        SCOPED_TRACE("AlterConfigs v" + std::to_string(v));
        std::string topic = unique_topic("ac");
        ASSERT_EQ(create_topic(client(), topic, 1,
                               {{"retention.ms", "1000"}, {"max.message.bytes", "5000"}})
                      .error_code,
                  0);
        auto alter = [&](std::vector<alter_configs_request::alterable_config> configs,
                         bool validate_only) {
            alter_configs_request req;
            req.validate_only = validate_only;
            req.resources.push_back({.resource_type = resource_topic,
                                     .resource_name = topic,
                                     .configs = std::move(configs)});
            return client().call(req, v).responses.at(0);
        };
        auto r = alter({{.name = "cleanup.policy", .value = "compact"}}, true);
        EXPECT_EQ(r.error_code, 0);
        EXPECT_EQ(entry_of(client(), topic, "retention.ms").value, "1000") << "validate_only";
        r = alter({{.name = "cleanup.policy", .value = "compact"}}, false);
        EXPECT_EQ(r.error_code, 0);
        EXPECT_EQ(r.resource_name, topic);
        EXPECT_EQ(entry_of(client(), topic, "cleanup.policy").value, "compact");
        EXPECT_EQ(entry_of(client(), topic, "cleanup.policy").config_source, source_topic);
        EXPECT_NE(entry_of(client(), topic, "retention.ms").config_source, source_topic);
        EXPECT_NE(entry_of(client(), topic, "max.message.bytes").config_source, source_topic);
        EXPECT_NE(entry_of(client(), topic, "retention.ms").value, "1000");

        EXPECT_EQ(alter({{.name = "no.such.key", .value = "1"}}, false).error_code,
                  err(error_code::invalid_config));
        EXPECT_EQ(entry_of(client(), topic, "cleanup.policy").value, "compact");
    }
}

TEST_F(incremental_alter_configs, set_delete_append_subtract_at_v0_and_v1) {
    for (int16_t v : {0, 1}) {
        SCOPED_TRACE("IncrementalAlterConfigs v" + std::to_string(v));
        std::string topic = unique_topic("iac");
        ASSERT_EQ(create_topic(client(), topic).error_code, 0);
        auto alter = [&](const std::string& name, int8_t op, std::optional<std::string> value) {
            incremental_alter_configs_request req;
            req.resources.push_back(
                {.resource_type = resource_topic,
                 .resource_name = topic,
                 .configs = {{.name = name, .config_operation = op, .value = std::move(value)}}});
            return client().call(req, v).responses.at(0).error_code;
        };
        EXPECT_EQ(alter("retention.ms", 0, "12345"), 0);  // SET
        EXPECT_EQ(entry_of(client(), topic, "retention.ms").value, "12345");
        EXPECT_EQ(entry_of(client(), topic, "retention.ms").config_source, source_topic);
        EXPECT_EQ(alter("max.message.bytes", 0, "4096"), 0);
        EXPECT_EQ(entry_of(client(), topic, "retention.ms").value, "12345") << "SET replaced";

        EXPECT_EQ(alter("retention.ms", 1, std::nullopt), 0);  // DELETE
        EXPECT_NE(entry_of(client(), topic, "retention.ms").config_source, source_topic);
        EXPECT_EQ(entry_of(client(), topic, "max.message.bytes").value, "4096");

        EXPECT_EQ(alter("cleanup.policy", 2, "compact"), 0);  // APPEND
        EXPECT_EQ(entry_of(client(), topic, "cleanup.policy").value, "delete,compact");
        EXPECT_EQ(alter("cleanup.policy", 2, "compact"), 0);  // already there
        EXPECT_EQ(entry_of(client(), topic, "cleanup.policy").value, "delete,compact");
        EXPECT_EQ(alter("cleanup.policy", 3, "delete"), 0);  // SUBTRACT
        EXPECT_EQ(entry_of(client(), topic, "cleanup.policy").value, "compact");

        EXPECT_EQ(alter("retention.ms", 2, "5"), err(error_code::invalid_config));
        EXPECT_EQ(alter("retention.ms", 3, "5"), err(error_code::invalid_config));
        EXPECT_EQ(alter("no.such.key", 0, "5"), err(error_code::invalid_config));
        EXPECT_EQ(alter("retention.ms", 0, "soon"), err(error_code::invalid_config));
        EXPECT_NE(entry_of(client(), topic, "retention.ms").config_source, source_topic);
    }
}

}  // namespace
}  // namespace wharf::kafka::test
