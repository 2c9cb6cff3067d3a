// `wharf topic ...` and `wharf cluster ...`: the admin APIs (CreateTopics, DeleteTopics,
// CreatePartitions, DescribeConfigs, IncrementalAlterConfigs, Metadata).

#include <fmt/format.h>

#include <algorithm>
#include <map>

#include "core/cli/commands.h"
#include "core/cli/output.h"
#include "net/kafka/error_code.h"

namespace wharf::cli {

namespace {

using namespace kafka;
constexpr int32_t admin_timeout_ms = 30'000;
constexpr int8_t topic_resource = 2;

std::pair<std::string, std::string> split_setting(const std::string& kv) {
    auto eq = kv.find('=');
    if (eq == std::string::npos || eq == 0) {
        throw cli_error(fmt::format("'{}': expected key=value", kv));
    }
    return {kv.substr(0, eq), kv.substr(eq + 1)};
}

std::string join(const std::vector<int32_t>& v) {
    std::string out;
    for (int32_t x : v) {
        if (!out.empty()) out += ',';
        out += std::to_string(x);
    }
    return out;
}

int32_t controller(context& ctx) {
    int32_t id = ctx.client->metadata().controller;
    return ctx.client->metadata().brokers.contains(id) ? id : -1;
}

task<void> create(context& ctx, const topic_options& o) {
    create_topics_request req;
    req.timeout_ms = admin_timeout_ms;
    for (const std::string& name : o.names) {
        create_topics_request::creatable_topic t;
        t.name = name;
        t.num_partitions = o.partitions;
        t.replication_factor = o.replication;
        for (const std::string& kv : o.set) {
            auto [k, v] = split_setting(kv);
            create_topics_request::creatable_topic_config c;
            c.name = k;
            c.value = v;
            t.configs.push_back(std::move(c));
        }
        req.topics.push_back(std::move(t));
    }
    auto md = co_await ctx.client->refresh_metadata({});
    check("metadata", md.error());
    auto resp = co_await ctx.client->call<create_topics_request, create_topics_response>(
        controller(ctx), req);
    check("create topics", resp.error());
    table t{{"topic", "partitions", "replication", "result"}, {}};
    for (const auto& r : resp->topics) {
        if (r.error_code != 0) kafka_failure("create " + r.name, r.error_code, r.error_message);
        t.add({r.name, std::to_string(r.num_partitions), std::to_string(r.replication_factor),
               "created"});
    }
    print(t, ctx.json);
}

task<void> list(context& ctx) {
    auto md = co_await ctx.client->refresh_metadata({});
    check("metadata", md.error());
    table t{{"topic", "partitions", "id"}, {}};
    for (const auto& [name, info] : ctx.client->metadata().topics) {
        std::string id;
        for (uint8_t b : info.id.bytes) id += fmt::format("{:02x}", b);
        t.add({name, std::to_string(info.partitions.size()), id});
    }
    print(t, ctx.json);
}

task<void> describe(context& ctx, const topic_options& o) {
    table t{{"topic", "partition", "leader", "epoch", "replicas", "isr"}, {}};
    for (const std::string& name : o.names) {
        metadata_request req;
        req.allow_auto_topic_creation = false;
        metadata_request::metadata_request_topic rt;
        rt.name = name;
        req.topics->push_back(std::move(rt));
        auto resp = co_await ctx.client->call<metadata_request, metadata_response>(-1, req);
        check("metadata", resp.error());
        for (const auto& topic : resp->topics) {
            if (topic.error_code != 0) kafka_failure("describe " + name, topic.error_code);
            for (const auto& p : topic.partitions) {
                t.add({name, std::to_string(p.partition_index), std::to_string(p.leader_id),
                       std::to_string(p.leader_epoch), join(p.replica_nodes), join(p.isr_nodes)});
            }
        }
    }
    print(t, ctx.json);
}

task<void> remove(context& ctx, const topic_options& o) {
    delete_topics_request req;
    req.timeout_ms = admin_timeout_ms;
    for (const std::string& name : o.names) {
        delete_topics_request::delete_topic_state s;
        s.name = name;
        req.topics.push_back(std::move(s));
        req.topic_names.push_back(name);
    }
    auto md = co_await ctx.client->refresh_metadata({});
    check("metadata", md.error());
    auto resp = co_await ctx.client->call<delete_topics_request, delete_topics_response>(
        controller(ctx), req);
    check("delete topics", resp.error());
    table t{{"topic", "result"}, {}};
    for (const auto& r : resp->responses) {
        std::string name = r.name.value_or("");
        if (r.error_code != 0) kafka_failure("delete " + name, r.error_code, r.error_message);
        t.add({name, "deleted"});
    }
    print(t, ctx.json);
}

task<void> add_partitions(context& ctx, const topic_options& o) {
    if (o.partitions < 1) throw cli_error("add-partitions needs --partitions N (the new total)");
    create_partitions_request req;
    req.timeout_ms = admin_timeout_ms;
    for (const std::string& name : o.names) {
        create_partitions_request::create_partitions_topic t;
        t.name = name;
        t.count = o.partitions;
        t.assignments.reset();
        req.topics.push_back(std::move(t));
    }
    auto md = co_await ctx.client->refresh_metadata({});
    check("metadata", md.error());
    auto resp = co_await ctx.client->call<create_partitions_request, create_partitions_response>(
        controller(ctx), req);
    check("add partitions", resp.error());
    table t{{"topic", "partitions", "result"}, {}};
    for (const auto& r : resp->results) {
        if (r.error_code != 0)
            kafka_failure("add partitions to " + r.name, r.error_code, r.error_message);
        t.add({r.name, std::to_string(o.partitions), "done"});
    }
    print(t, ctx.json);
}

task<void> alter_config(context& ctx, const topic_options& o) {
    incremental_alter_configs_request req;
    for (const std::string& name : o.names) {
        incremental_alter_configs_request::alter_configs_resource r;
        r.resource_type = topic_resource;
        r.resource_name = name;
        for (const std::string& kv : o.set) {
            auto [k, v] = split_setting(kv);
            incremental_alter_configs_request::alterable_config c;
            c.name = k;
            c.config_operation = 0;  // SET
            c.value = v;
            r.configs.push_back(std::move(c));
        }
        for (const std::string& k : o.remove) {
            incremental_alter_configs_request::alterable_config c;
            c.name = k;
            c.config_operation = 1;  // DELETE: back to the default
            c.value.reset();
            r.configs.push_back(std::move(c));
        }
        req.resources.push_back(std::move(r));
    }
    auto resp =
        co_await ctx.client
            ->call<incremental_alter_configs_request, incremental_alter_configs_response>(-1, req);
    check("alter configs", resp.error());
    table t{{"topic", "result"}, {}};
    for (const auto& r : resp->responses) {
        if (r.error_code != 0) {
            kafka_failure("alter config of " + r.resource_name, r.error_code, r.error_message);
        }
        t.add({r.resource_name, "altered"});
    }
    print(t, ctx.json);
}

task<void> describe_config(context& ctx, const topic_options& o) {
    describe_configs_request req;
    for (const std::string& name : o.names) {
        describe_configs_request::describe_configs_resource r;
        r.resource_type = topic_resource;
        r.resource_name = name;
        r.configuration_keys.reset();  // all
        req.resources.push_back(std::move(r));
    }
    auto resp =
        co_await ctx.client->call<describe_configs_request, describe_configs_response>(-1, req);
    check("describe configs", resp.error());
    static const char* const sources[] = {"unknown", "topic",   "broker-dynamic", "broker-dynamic",
                                          "broker",  "default", "broker-dynamic"};
    table t{{"topic", "config", "value", "source"}, {}};
    for (const auto& r : resp->results) {
        if (r.error_code != 0) {
            kafka_failure("describe config of " + r.resource_name, r.error_code, r.error_message);
        }
        for (const auto& c : r.configs) {
            auto s = static_cast<size_t>(std::clamp<int>(c.config_source, 0, 6));
            t.add({r.resource_name, c.name, c.value.value_or("(null)"), sources[s]});
        }
    }
    print(t, ctx.json);
}

}  // namespace

task<void> topic_command(context& ctx, const topic_options& o) {
    const std::string& a = o.action;
    if (a != "list" && o.names.empty()) throw cli_error("topic " + a + ": name a topic");
    if (a == "create") co_return co_await create(ctx, o);
    if (a == "list") co_return co_await list(ctx);
    if (a == "describe") co_return co_await describe(ctx, o);
    if (a == "delete") co_return co_await remove(ctx, o);
    if (a == "add-partitions") co_return co_await add_partitions(ctx, o);
    if (a == "alter-config") co_return co_await alter_config(ctx, o);
    if (a == "describe-config") co_return co_await describe_config(ctx, o);
    throw cli_error("unknown topic command " + a);
}

task<void> cluster_command(context& ctx, const cluster_options& o) {
    metadata_request req;
    req.topics.reset();  // every topic: health needs them all
    req.allow_auto_topic_creation = false;
    auto resp = co_await ctx.client->call<metadata_request, metadata_response>(-1, req);
    check("metadata", resp.error());
    size_t partitions = 0, leaderless = 0, under_replicated = 0;
    for (const auto& t : resp->topics) {
        for (const auto& p : t.partitions) {
            ++partitions;
            if (p.leader_id < 0) ++leaderless;
            if (p.isr_nodes.size() < p.replica_nodes.size()) ++under_replicated;
        }
    }
    if (o.action == "info") {
        table t{{"broker", "host", "port", "controller"}, {}};
        for (const auto& b : resp->brokers) {
            t.add({std::to_string(b.node_id), b.host, std::to_string(b.port),
                   b.node_id == resp->controller_id ? "yes" : ""});
        }
        print(t, ctx.json);
        if (!ctx.json) {
            fmt::print("cluster id {}, {} topics, {} partitions\n", resp->cluster_id.value_or("-"),
                       resp->topics.size(), partitions);
        }
        co_return;
    }
    if (o.action != "health") throw cli_error("unknown cluster command " + o.action);
    bool healthy = leaderless == 0 && under_replicated == 0 && !resp->brokers.empty();
    table t{{"healthy", "brokers", "controller", "partitions", "leaderless", "under_replicated"},
            {}};
    t.add({healthy ? "yes" : "no", std::to_string(resp->brokers.size()),
           std::to_string(resp->controller_id), std::to_string(partitions),
           std::to_string(leaderless), std::to_string(under_replicated)});
    print(t, ctx.json);
    if (!healthy) throw cli_error("cluster unhealthy");
}

}  // namespace wharf::cli
