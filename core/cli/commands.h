#pragma once

// The commands of the `wharf` CLI (cli.h), each a coroutine on a one-shard reactor. They throw
// cli_error for what they report as one line on stderr (exit status 1).

#include <optional>
#include <stdexcept>
#include <string>
#include <vector>

#include "net/kafka/client/kafka_client.h"
#include "reactor/task.h"

namespace wharf::cli {

struct cli_error : std::runtime_error {
    using std::runtime_error::runtime_error;
};

// "what: NAME (message)" for a Kafka error code; throws. REQUIRES: code != 0.
[[noreturn]] void kafka_failure(const std::string& what, int16_t code,
                                const std::optional<std::string>& message = std::nullopt);
// Throws cli_error when r failed.
void check(const std::string& what, const std::error_code& ec);

struct context {
    kafka::client::kafka_client* client = nullptr;
    std::vector<kafka::client::broker_address> bootstrap;
    bool json = false;
};

struct topic_options {
    std::string action;  // create list describe delete add-partitions alter-config describe-config
    std::vector<std::string> names;
    int32_t partitions = -1;   // create: -1 = the broker's default; add-partitions: the new total
    int16_t replication = -1;  // -1 = the broker's default
    std::vector<std::string> set;     // key=value
    std::vector<std::string> remove;  // alter-config: keys back to their defaults
};
task<void> topic_command(context& ctx, const topic_options& o);

struct cluster_options {
    std::string action;  // info health
};
task<void> cluster_command(context& ctx, const cluster_options& o);

struct produce_options {
    std::string topic;
    std::optional<std::string> key_separator;
    std::string acks = "all";
    std::string compression = "none";
    std::vector<std::string> headers;  // key=value
    std::optional<int32_t> partition;
};
task<void> produce_command(context& ctx, const produce_options& o);

struct consume_options {
    std::string topic;
    std::string offset = "end";  // start | end | N | @timestamp-ms
    std::optional<std::string> group;
    std::optional<int64_t> num;
    std::optional<int32_t> partition;
    std::string format = "%v\\n";
    bool exit_at_end = false;
};
task<void> consume_command(context& ctx, const consume_options& o);

struct group_options {
    std::string action;  // list describe delete seek
    std::vector<std::string> groups;
    std::optional<std::string> topic;
    std::string to;  // seek: start | end | N | @timestamp-ms
    bool dry_run = false;
};
task<void> group_command(context& ctx, const group_options& o);

// Shared by consume and group seek: the offsets of `partitions` of `topic` at "start", "end",
// "@<ms>" (the first offset at or after that time; the end when there is none) or "<N>".
task<std::map<int32_t, int64_t>> resolve_offsets(context& ctx, const std::string& topic,
                                                 const std::vector<int32_t>& partitions,
                                                 const std::string& spec);
// The topic's metadata; throws when it does not exist.
task<kafka::client::topic_info> describe_topic(context& ctx, const std::string& topic);

}  // namespace wharf::cli
