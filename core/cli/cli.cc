#include "core/cli/cli.h"

#include <fmt/format.h>

#include <CLI/CLI.hpp>
#include <cstdlib>
#include <functional>
#include <iostream>

#include "core/cli/commands.h"
#include "net/kafka/error_code.h"
#include "reactor/logger.h"
#include "reactor/smp.h"

namespace wharf::cli {

namespace {

constexpr std::string_view commands[] = {"topic", "produce", "consume", "group", "cluster"};

struct common_flags {
    std::string brokers = "127.0.0.1:9092";
    std::string format = "table";
};

void add_common(CLI::App* cmd, common_flags& c, bool output_format = true) {
    cmd->add_option("-b,--brokers", c.brokers, "bootstrap host:port[,host:port] ($WHARF_BROKERS)")
        ->capture_default_str();
    if (output_format) {
        cmd->add_option("--format", c.format, "table or json")
            ->check(CLI::IsMember({"table", "json"}))
            ->capture_default_str();
    }
}

// Runs body on a one-shard reactor with a connected client; the exit status.
int run_on_reactor(const common_flags& c, std::function<task<void>(context&)> body) {
    auto bootstrap = kafka::client::parse_bootstrap(c.brokers);
    if (!bootstrap) {
        std::cerr << "wharf: --brokers " << c.brokers << ": expected host:port[,host:port]\n";
        return 2;
    }
    int status = 0;
    smp_config cfg;
    cfg.shards = 1;
    auto rc = smp::run(cfg, [&]() -> task<int> {
        kafka::client::kafka_client client(*bootstrap, "wharf-cli");
        context ctx{&client, *bootstrap, c.format == "json"};
        std::string error;
        auto started = co_await client.start();
        if (!started) {
            error = fmt::format("cannot reach {}: {}", c.brokers, started.error().message());
        } else {
            try {
                co_await body(ctx);
            } catch (const cli_error& e) {
                error = e.what();
            } catch (const std::exception& e) {
                // A failure no check names: still one line, and the client closes.
                error = fmt::format("unexpected error: {}", e.what());
            }
        }
        co_await client.close();
        if (!error.empty()) {
            std::cerr << "wharf: " << error << "\n";
            status = 1;
        }
        co_return 0;
    });
    if (!rc) {
        std::cerr << "wharf: cannot start: " << rc.error().message() << "\n";
        return 1;
    }
    return status;
}

}  // namespace

void kafka_failure(const std::string& what, int16_t code,
                   const std::optional<std::string>& message) {
    std::string text =
        fmt::format("{}: {}", what, error_name(static_cast<kafka::error_code>(code)));
    if (message && !message->empty()) text += fmt::format(" ({})", *message);
    throw cli_error(text);
}

void check(const std::string& what, const std::error_code& ec) {
    if (ec) throw cli_error(fmt::format("{}: {}", what, ec.message()));
}

bool is_command(std::string_view arg) {
    for (std::string_view c : commands) {
        if (arg == c) return true;
    }
    return false;
}

int run(int argc, char** argv) {
    (void)init_logging("warn");
    CLI::App app{"wharf: a Kafka command-line client (works against any Kafka-compatible broker)"};
    app.name("wharf");
    app.require_subcommand(1);
    common_flags common;
    if (const char* env = std::getenv("WHARF_BROKERS")) common.brokers = env;

    topic_options topic;
    CLI::App* t =
        app.add_subcommand("topic", "create, list, describe, delete and configure topics");
    t->require_subcommand(1);
    auto topic_cmd = [&](const char* name, const char* help) {
        CLI::App* s = t->add_subcommand(name, help);
        add_common(s, common);
        s->callback([&topic, s] { topic.action = s->get_name(); });
        return s;
    };
    CLI::App* create = topic_cmd("create", "create topics");
    create->add_option("names", topic.names, "topic names")->required();
    create->add_option("-p,--partitions", topic.partitions, "partitions (default: the broker's)");
    create->add_option("-r,--replication-factor", topic.replication,
                       "replicas (default: the broker's)");
    create->add_option("-c,--config", topic.set, "topic config key=value (repeatable)");
    topic_cmd("list", "list topics");
    topic_cmd("describe", "partitions, leaders and replicas")
        ->add_option("names", topic.names, "topic names")
        ->required();
    topic_cmd("delete", "delete topics")
        ->add_option("names", topic.names, "topic names")
        ->required();
    CLI::App* add = topic_cmd("add-partitions", "grow a topic to --partitions N");
    add->add_option("names", topic.names, "topic names")->required();
    add->add_option("-p,--partitions", topic.partitions, "the new total")->required();
    CLI::App* alter = topic_cmd("alter-config", "set or reset topic configs");
    alter->add_option("names", topic.names, "topic names")->required();
    alter->add_option("--set", topic.set, "key=value (repeatable)");
    alter->add_option("--delete", topic.remove, "key back to its default (repeatable)");
    topic_cmd("describe-config", "every config of a topic and where it comes from")
        ->add_option("names", topic.names, "topic names")
        ->required();

    produce_options produce;
    CLI::App* p = app.add_subcommand("produce", "produce lines of stdin as records");
    add_common(p, common);
    p->add_option("topic", produce.topic, "topic")->required();
    p->add_option("-k,--key-separator", produce.key_separator,
                  "split each line into key and value");
    p->add_option("--acks", produce.acks, "all, 1 or 0")->capture_default_str();
    p->add_option("-z,--compression", produce.compression, "none, gzip, snappy, lz4, zstd")
        ->capture_default_str();
    p->add_option("-H,--header", produce.headers, "header key=value on every record (repeatable)");
    p->add_option("-p,--partition", produce.partition,
                  "this partition (default: by key, or spread)");

    consume_options consume;
    CLI::App* c = app.add_subcommand("consume", "print records to stdout");
    add_common(c, common, false);
    c->add_option("topic", consume.topic, "topic")->required();
    c->add_option("-o,--offset", consume.offset, "start, end, N or @timestamp-ms")
        ->capture_default_str();
    c->add_option("-g,--group", consume.group, "consume as a member of this group (commits)");
    c->add_option("-n,--num", consume.num, "stop after this many records");
    c->add_option("-p,--partition", consume.partition, "only this partition");
    c->add_option("-f,--format", consume.format, "kcat-style: %t %p %o %k %v %T %h %s, \\n \\t")
        ->capture_default_str();
    c->add_flag("-e,--exit", consume.exit_at_end, "exit at the end of every partition");

    group_options group;
    CLI::App* g = app.add_subcommand("group", "list, describe, delete and seek consumer groups");
    g->require_subcommand(1);
    auto group_cmd = [&](const char* name, const char* help) {
        CLI::App* s = g->add_subcommand(name, help);
        add_common(s, common);
        s->callback([&group, s] { group.action = s->get_name(); });
        return s;
    };
    group_cmd("list", "every group on every broker");
    group_cmd("describe", "members, committed offsets and lag")
        ->add_option("groups", group.groups, "group ids")
        ->required();
    group_cmd("delete", "delete empty groups")
        ->add_option("groups", group.groups, "group ids")
        ->required();
    CLI::App* seek = group_cmd("seek", "move an empty group's committed offsets");
    seek->add_option("groups", group.groups, "group id")->required();
    seek->add_option("--topic", group.topic, "topic")->required();
    seek->add_option("--to", group.to, "start, end, N or @timestamp-ms")->required();
    seek->add_flag("--dry-run", group.dry_run, "show the new offsets, commit nothing");

    cluster_options cluster;
    CLI::App* cl = app.add_subcommand("cluster", "brokers, controller and partition health");
    cl->require_subcommand(1);
    for (const char* name : {"info", "health"}) {
        CLI::App* s = cl->add_subcommand(name, name == std::string("info")
                                                   ? "brokers and controller"
                                                   : "leaderless and under-replicated partitions");
        add_common(s, common);
        s->callback([&cluster, s] { cluster.action = s->get_name(); });
    }

    try {
        app.parse(argc, argv);
    } catch (const CLI::ParseError& e) {
        int rc = app.exit(e);
        return rc == 0 ? 0 : 2;
    }
    if (t->parsed()) {
        return run_on_reactor(common, [&](context& ctx) { return topic_command(ctx, topic); });
    }
    if (p->parsed()) {
        return run_on_reactor(common, [&](context& ctx) { return produce_command(ctx, produce); });
    }
    if (c->parsed()) {
        return run_on_reactor(common, [&](context& ctx) { return consume_command(ctx, consume); });
    }
    if (g->parsed()) {
        return run_on_reactor(common, [&](context& ctx) { return group_command(ctx, group); });
    }
    return run_on_reactor(common, [&](context& ctx) { return cluster_command(ctx, cluster); });
}

}  // namespace wharf::cli
