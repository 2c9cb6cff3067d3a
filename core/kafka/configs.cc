// DescribeConfigs (key 32, v1-4), AlterConfigs (key 33, v0-2) and IncrementalAlterConfigs
// (key 44, v0-1). Topic configs are the keys of core/cluster/topic_config.h; broker configs are
// listed read-only from the broker's flags.

#include <algorithm>
#include <set>

#include <fmt/format.h>

#include "core/cluster/metadata_service.h"
#include "core/kafka/cluster_view.h"
#include "core/kafka/errors.h"
#include "core/kafka/handlers.h"
#include "reactor/submit_to.h"

namespace wharf::kafka {

namespace {

constexpr int8_t resource_topic = 2;
constexpr int8_t resource_broker = 4;

using described = describe_configs_response::describe_configs_resource_result;

struct broker_entry {
    std::string name;
    std::string value;
    config_type type;
    const char* doc;
};

std::vector<broker_entry> broker_entries(const broker_config& c) {
    const topic_defaults d = topic_defaults_from(c);
    const auto& view = local_cluster_view();
    auto s = [](auto v) { return fmt::format("{}", v); };
    return {
        {"advertised.listeners", "PLAINTEXT://" + view.advertised.to_string(), config_type::string,
         "--advertise-kafka-addr"},
        {"auto.create.topics.enable", c.auto_create_topics ? "true" : "false",
         config_type::boolean, "--auto-create-topics"},
        {"broker.id", s(view.node_id), config_type::int32, "The node id"},
        {"compression.type", std::string(to_string(d.compression)), config_type::string,
         "Default compression.type of topics"},
        {"connections.max.idle.ms", s(c.connections_max_idle.count()), config_type::int64,
         "--connections-max-idle-ms"},
        {"listeners", "PLAINTEXT://" + c.kafka_addr.to_string(), config_type::string,
         "--kafka-addr"},
        {"log.cleanup.policy", to_string(d.cleanup), config_type::list,
         "Default cleanup.policy of topics"},
        {"log.dirs", c.data_dir, config_type::string, "--data-dir"},
        {"log.message.timestamp.type", std::string(to_string(d.message_timestamp_type)),
         config_type::string, "Default message.timestamp.type of topics"},
        {"log.retention.bytes", s(d.retention_bytes), config_type::int64,
         "Default retention.bytes of topics"},
        {"log.retention.check.interval.ms", s(c.retention_check_interval.count()),
         config_type::int64, "--retention-check-interval"},
        {"log.retention.ms", s(d.retention_ms), config_type::int64,
         "Default retention.ms of topics"},
        {"log.roll.ms", s(c.segment_ms.count()), config_type::int64, "--segment-ms"},
        {"log.segment.bytes", s(c.segment_bytes), config_type::int32, "--segment-bytes"},
        {"message.max.bytes", s(c.max_batch_bytes), config_type::int32, "--max-batch-bytes"},
        {"node.id", s(view.node_id), config_type::int32, "The node id"},
        {"num.partitions", s(c.default_partitions), config_type::int32, "--default-partitions"},
        {"socket.request.max.bytes", s(c.max_request_bytes), config_type::int32,
         "--max-request-bytes"},
    };
}

bool wanted(const std::optional<std::vector<std::string>>& keys, std::string_view name) {
    return !keys || keys->empty() || std::find(keys->begin(), keys->end(), name) != keys->end();
}

described entry(std::string_view name, std::string value, bool read_only, config_source source,
                config_type type, bool sensitive, std::string_view doc, bool synonyms,
                bool documentation) {
    described e;
    e.name = std::string(name);
    e.value = sensitive ? std::nullopt : std::optional<std::string>(std::move(value));
    e.read_only = read_only;
    e.config_source = static_cast<int8_t>(source);
    e.is_sensitive = sensitive;
    e.config_type = static_cast<int8_t>(type);
    // Null unless asked for, as Kafka's ConfigHelper answers (the schema's default is "").
    e.documentation = documentation ? std::optional<std::string>(doc) : std::nullopt;
    if (synonyms) {
        auto& syn = e.synonyms.emplace_back();
        syn.name = e.name;
        syn.value = e.value;
        syn.source = e.config_source;
    }
    return e;
}

}  // namespace

task<describe_configs_response> handle_describe_configs(request_context& ctx,
                                                        describe_configs_request req) {
    describe_configs_response resp;
    auto snapshot = metadata_snapshot();
    for (const auto& r : req.resources) {
        auto& out = resp.results.emplace_back();
        out.resource_type = r.resource_type;
        out.resource_name = r.resource_name;
        out.error_code = 0;
        if (r.resource_type == resource_topic) {
            const topic_metadata* t = snapshot->find(r.resource_name);
            if (t == nullptr) {
                out.error_code = code(error_code::unknown_topic_or_partition);
                out.error_message = "Topic " + r.resource_name + " does not exist.";
                continue;
            }
            for (const auto& c : t->config.describe()) {
                if (!wanted(r.configuration_keys, c.name)) continue;
                out.configs.push_back(entry(c.name, c.value, false, c.source, c.type,
                                            c.sensitive, c.documentation, req.include_synonyms,
                                            req.include_documentation));
            }
        } else if (r.resource_type == resource_broker) {
            if (!r.resource_name.empty() &&
                r.resource_name != std::to_string(local_cluster_view().node_id)) {
                out.error_code = code(error_code::invalid_request);
                out.error_message = "Unknown broker " + r.resource_name;
                continue;
            }
            for (const auto& b : broker_entries(ctx.config)) {
                if (!wanted(r.configuration_keys, b.name)) continue;
                out.configs.push_back(entry(b.name, b.value, true,
                                            config_source::static_broker_config, b.type, false,
                                            b.doc, req.include_synonyms,
                                            req.include_documentation));
            }
        } else {
            out.error_code = code(error_code::invalid_request);
            out.error_message = fmt::format("Unsupported resource type {}", r.resource_type);
        }
    }
    co_return resp;
}

namespace {

// One resource's change as the metadata service takes it.
struct config_change {
    config_map set;
    std::vector<std::string> remove;
    std::optional<topic_error> error;
};

template <typename Response>
task<void> apply_change(Response& out, const std::string& topic, config_change change,
                        bool validate_only) {
    if (change.error) {
        out.error_code = kafka_error_code(change.error->code);
        out.error_message = change.error->message;
        co_return;
    }
    auto fn = [topic, set = std::move(change.set), remove = std::move(change.remove),
               validate_only]() mutable -> task<topic_check> {
        auto* m = local_metadata_service();
        co_return co_await m->alter_configs(topic, std::move(set), std::move(remove),
                                            validate_only);
    };
    topic_check e = co_await submit_to(shard_id(0), std::move(fn));
    if (e) {
        out.error_code = kafka_error_code(e->code);
        out.error_message = e->message;
    }
}

// Refusals shared by both alter APIs; true when the resource may be changed.
template <typename Resource, typename Response>
bool check_resource(const Resource& r, Response& out, const topic_table_snapshot& snapshot) {
    out.resource_type = r.resource_type;
    out.resource_name = r.resource_name;
    out.error_code = 0;
    if (r.resource_type == resource_broker) {
        out.error_code = code(error_code::invalid_request);
        out.error_message = "Broker configs are read-only: set them with the broker's flags";
        return false;
    }
    if (r.resource_type != resource_topic) {
        out.error_code = code(error_code::invalid_request);
        out.error_message = fmt::format("Unsupported resource type {}", r.resource_type);
        return false;
    }
    if (snapshot.find(r.resource_name) == nullptr) {
        out.error_code = code(error_code::unknown_topic_or_partition);
        out.error_message = "Topic " + r.resource_name + " does not exist.";
        return false;
    }
    return true;
}

std::vector<std::string> split_list(const std::string& s) {
    std::vector<std::string> out;
    size_t start = 0;
    while (start <= s.size()) {
        size_t comma = s.find(',', start);
        if (comma == std::string::npos) comma = s.size();
        if (comma > start) out.push_back(s.substr(start, comma - start));
        start = comma + 1;
    }
    return out;
}

std::string join_list(const std::vector<std::string>& items) {
    std::string out;
    for (const auto& i : items) out += (out.empty() ? "" : ",") + i;
    return out;
}

}  // namespace

task<alter_configs_response> handle_alter_configs(request_context&, alter_configs_request req) {
    alter_configs_response resp;
    auto snapshot = metadata_snapshot();
    for (const auto& r : req.resources) {
        auto& out = resp.responses.emplace_back();
        if (!check_resource(r, out, *snapshot)) continue;
        // AlterConfigs replaces the whole set of overrides.
        config_change change;
        for (const auto& c : r.configs) {
            if (!c.value) {
                change.error = topic_error{cluster_errc::invalid_config,
                                           "Null value not supported for topic configs: " +
                                               c.name};
                break;
            }
            change.set[c.name] = *c.value;
        }
        for (const auto& [k, v] : snapshot->find(r.resource_name)->overrides) {
            if (!change.set.contains(k)) change.remove.push_back(k);
        }
        co_await apply_change(out, r.resource_name, std::move(change), req.validate_only);
    }
    co_return resp;
}

task<incremental_alter_configs_response> handle_incremental_alter_configs(
    request_context&, incremental_alter_configs_request req) {
    incremental_alter_configs_response resp;
    auto snapshot = metadata_snapshot();
    for (const auto& r : req.resources) {
        auto& out = resp.responses.emplace_back();
        if (!check_resource(r, out, *snapshot)) continue;
        const topic_metadata* t = snapshot->find(r.resource_name);
        config_change change;
        for (const auto& c : r.configs) {
            const config_key_info* key = find_topic_config_key(c.name);
            const bool list = key != nullptr && key->type == config_type::list;
            if ((c.config_operation == 2 || c.config_operation == 3) && !list) {
                change.error = topic_error{cluster_errc::invalid_config,
                                           "Config value append is not allowed for config key: " +
                                               c.name};
                break;
            }
            if (c.config_operation == 0) {  // SET
                if (!c.value) {
                    change.error = topic_error{cluster_errc::invalid_config,
                                               "Null value not supported for : " + c.name};
                    break;
                }
                change.set[c.name] = *c.value;
            } else if (c.config_operation == 1) {  // DELETE
                change.remove.push_back(c.name);
            } else if (c.config_operation == 2 || c.config_operation == 3) {  // APPEND, SUBTRACT
                std::string current;
                for (const auto& d : t->config.describe()) {
                    if (d.name == c.name) current = d.value;
                }
                auto items = split_list(current);
                for (const auto& v : split_list(c.value.value_or(""))) {
                    auto it = std::find(items.begin(), items.end(), v);
                    if (c.config_operation == 2 && it == items.end()) items.push_back(v);
                    if (c.config_operation == 3 && it != items.end()) items.erase(it);
                }
                change.set[c.name] = join_list(items);
            } else {
                change.error = topic_error{cluster_errc::invalid_config,
                                           fmt::format("Unknown config operation {}",
                                                       c.config_operation)};
                break;
            }
        }
        co_await apply_change(out, r.resource_name, std::move(change), req.validate_only);
    }
    co_return resp;
}

}  // namespace wharf::kafka
