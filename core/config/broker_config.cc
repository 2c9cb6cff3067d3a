#include "core/config/broker_config.h"

#include <unistd.h>

#include <algorithm>
#include <charconv>

#include <CLI/CLI.hpp>
#include <fmt/format.h>
#include <fmt/ranges.h>

#include "core/config/config_file.h"
#include "core/config/print_config.h"
#include "core/config/units.h"
#include "reactor/iobuf.h"
#include "reactor/placement.h"

namespace wharf {

namespace {

// Raw flag values as typed; converted and checked in validate().
struct raw_flags {
    std::string smp;
    std::string cpuset;
    std::string poll_us = "0";
    std::string stall_threshold = "25ms";
    std::string memory;
    std::string segment_bytes = "512MiB";
    std::string segment_ms = "7d";
    std::string flush_interval_us = "0";
    std::string fsync = "always";
    std::string max_batch_bytes = "1048588";
    std::string retention_check_interval = "5m";
    std::string test_disk_fault;
    std::string kafka_addr = "127.0.0.1:9092";
    std::string advertise_kafka_addr;
    std::string admin_addr = "127.0.0.1:9644";
    std::string max_request_bytes = "100MiB";
    std::string max_inflight_request_bytes;
    std::string connections_max_idle_ms = "600000";
    std::string default_partitions = "1";
    std::string offsets_partitions = "50";
    std::string offsets_retention_minutes = "10080";
    std::string offsets_retention_check_interval = "600000";
    std::string group_initial_rebalance_delay = "3000";
    std::string group_min_session_timeout = "6000";
    std::string group_max_session_timeout = "1800000";
    std::string node_id = "0";
    std::string rpc_addr = "127.0.0.1:33145";
    std::string advertise_rpc_addr;
    std::string seeds;
};

struct flag_error {
    std::string message;
};

template <typename T>
T or_fail(result<T> r, const char* flag, const std::string& value, const char* expected) {
    if (!r) throw flag_error{fmt::format("invalid value '{}' for {}: expected {}", value, flag, expected)};
    return *r;
}

uint64_t physical_memory_bytes() {
    long pages = ::sysconf(_SC_PHYS_PAGES);
    long page = ::sysconf(_SC_PAGE_SIZE);
    return pages > 0 && page > 0 ? uint64_t(pages) * uint64_t(page) : uint64_t{1} << 30;
}

void choose_cpus(broker_config& cfg, const raw_flags& raw) {
    std::vector<unsigned> usable = allowed_cpus();
    if (!raw.cpuset.empty()) {
        auto set = or_fail(parse_cpuset(raw.cpuset), "--cpuset", raw.cpuset,
                           "a CPU list such as 0-3,8,10-11");
        for (unsigned c : set) {
            if (std::find(usable.begin(), usable.end(), c) == usable.end()) {
                throw flag_error{fmt::format(
                    "invalid value '{}' for --cpuset: CPU {} is not available to this process "
                    "(available: {})", raw.cpuset, c, fmt::join(usable, ","))};
            }
        }
        usable = set;
    }
    if (cfg.smp == 0) cfg.smp = static_cast<unsigned>(usable.size());
    if (cfg.smp > usable.size() && !cfg.overprovisioned) {
        throw flag_error{fmt::format(
            "--smp {} is more than the {} CPUs available ({}); use fewer shards, or "
            "--overprovisioned to run more shards than CPUs without pinning",
            cfg.smp, usable.size(), fmt::join(usable, ","))};
    }
    if (!cfg.overprovisioned) cfg.cpus.assign(usable.begin(), usable.begin() + cfg.smp);
}

void validate_cluster(broker_config& cfg, const raw_flags& raw) {
    cluster_config& c = cfg.cluster;
    auto id = parse_node_id(raw.node_id);
    if (!id) {
        throw flag_error{"invalid value '" + raw.node_id + "' for --node-id: expected 0 to " +
                         std::to_string(INT32_MAX)};
    }
    c.node_id = *id;
    auto numeric = [](const char* flag, const std::string& value, const char* example) {
        auto hp = parse_host_port(value);
        if (!hp || !is_numeric_host(hp->host)) {
            throw flag_error{fmt::format("invalid value '{}' for {}: expected HOST:PORT with a "
                                         "numeric IP address or localhost, such as {}",
                                         value, flag, example)};
        }
        return *hp;
    };
    c.rpc_addr = numeric("--rpc-addr", raw.rpc_addr, "10.0.0.1:33145");
    if (!raw.advertise_rpc_addr.empty()) {
        c.advertise_rpc_addr = numeric("--advertise-rpc-addr", raw.advertise_rpc_addr,
                                       "10.0.0.1:33145");
        if (c.advertise_rpc_addr.port == 0) {
            throw flag_error{"invalid value '" + raw.advertise_rpc_addr +
                             "' for --advertise-rpc-addr: the port must not be 0"};
        }
    }
    if (raw.seeds.empty()) return;
    std::string why;
    auto seeds = parse_seeds(raw.seeds, &why);
    if (!seeds) throw flag_error{"invalid value '" + raw.seeds + "' for --seeds: " + why};
    for (const auto& s : *seeds) {
        if (!is_numeric_host(s.rpc.host)) {
            throw flag_error{fmt::format("invalid value '{}' for --seeds: '{}' is no numeric IP "
                                         "address (brokers never look names up on a shard)",
                                         raw.seeds, s.rpc.host)};
        }
    }
    c.seeds = std::move(*seeds);
    // A --node-id that is not one of the seeds joins the running cluster: the controller
    // registers it when it connects, and every group adds its replica (group_membership.h).
    bool seed = std::any_of(c.seeds.begin(), c.seeds.end(),
                            [&](const seed_broker& s) { return s.node == c.node_id; });
    const host_port& rpc = c.advertise_rpc_addr.host.empty() ? c.rpc_addr : c.advertise_rpc_addr;
    for (const auto& s : c.seeds) {
        if (!seed && s.rpc == rpc) {
            throw flag_error{fmt::format("--node-id {} joins the cluster, but its RPC address {} "
                                         "is seed {}'s: give it its own --rpc-addr",
                                         c.node_id, rpc.to_string(), s.node)};
        }
    }
    if (cfg.kafka_addr.port == 0 && cfg.advertise_kafka_addr.host.empty()) {
        throw flag_error{"invalid value '" + raw.kafka_addr + "' for --kafka-addr: in a cluster "
                         "peers tell clients this address, so it needs a fixed port (or give "
                         "--advertise-kafka-addr)"};
    }
    if (c.rpc_addr.port == 0 && c.seeds.size() > 1) {
        throw flag_error{"invalid value '" + raw.rpc_addr + "' for --rpc-addr: peers need a "
                         "fixed port (0 picks one at random)"};
    }
}

void validate_listeners(broker_config& cfg, const raw_flags& raw) {
    using namespace std::chrono;
    cfg.kafka_addr = or_fail(parse_host_port(raw.kafka_addr), "--kafka-addr", raw.kafka_addr,
                             "HOST:PORT such as 127.0.0.1:9092 or [::1]:9092");
    if (!raw.advertise_kafka_addr.empty()) {
        cfg.advertise_kafka_addr =
            or_fail(parse_host_port(raw.advertise_kafka_addr), "--advertise-kafka-addr",
                    raw.advertise_kafka_addr, "HOST:PORT such as broker1.example:9092");
        if (cfg.advertise_kafka_addr.port == 0) {
            throw flag_error{"invalid value '" + raw.advertise_kafka_addr +
                             "' for --advertise-kafka-addr: the port must not be 0"};
        }
    }
    if (raw.admin_addr.empty()) {
        cfg.admin_addr.reset();
    } else {
        cfg.admin_addr = or_fail(parse_host_port(raw.admin_addr), "--admin-addr", raw.admin_addr,
                                 "HOST:PORT such as 127.0.0.1:9644, or '' to disable");
    }
    cfg.max_request_bytes = or_fail(parse_size(raw.max_request_bytes), "--max-request-bytes",
                                    raw.max_request_bytes, "a size such as 100MiB");
    if (cfg.max_request_bytes < 1024 || cfg.max_request_bytes > (uint64_t{1} << 30)) {
        throw flag_error{"invalid value '" + raw.max_request_bytes +
                         "' for --max-request-bytes: expected 1KiB to 1GiB"};
    }
    if (raw.max_inflight_request_bytes.empty()) {
        // A quarter of each shard's memory share, like the tail cache.
        cfg.max_inflight_request_bytes_per_shard = cfg.tail_cache_bytes_per_shard();
    } else {
        cfg.max_inflight_request_bytes_per_shard =
            or_fail(parse_size(raw.max_inflight_request_bytes), "--max-inflight-request-bytes",
                    raw.max_inflight_request_bytes, "a size such as 256MiB");
        if (cfg.max_inflight_request_bytes_per_shard < (uint64_t{1} << 20)) {
            throw flag_error{"invalid value '" + raw.max_inflight_request_bytes +
                             "' for --max-inflight-request-bytes: expected at least 1MiB"};
        }
    }
    cfg.connections_max_idle = duration_cast<milliseconds>(or_fail(
        parse_duration(raw.connections_max_idle_ms, milliseconds(1)),
        "--connections-max-idle-ms", raw.connections_max_idle_ms,
        "a duration such as 600000 or 10m"));
    if (cfg.connections_max_idle < milliseconds(1)) {
        throw flag_error{"invalid value '" + raw.connections_max_idle_ms +
                         "' for --connections-max-idle-ms: must be at least 1ms"};
    }
    int32_t parts = 0;
    auto [p, ec] = std::from_chars(raw.default_partitions.data(),
                                   raw.default_partitions.data() + raw.default_partitions.size(),
                                   parts);
    if (ec != std::errc() || p != raw.default_partitions.data() + raw.default_partitions.size() ||
        parts < 1 || parts > 100000) {
        throw flag_error{"invalid value '" + raw.default_partitions +
                         "' for --default-partitions: expected 1 to 100000"};
    }
    cfg.default_partitions = parts;
}

int32_t parse_count(const std::string& text, const char* flag, int32_t min, int32_t max) {
    int32_t n = 0;
    auto [p, ec] = std::from_chars(text.data(), text.data() + text.size(), n);
    if (ec != std::errc() || p != text.data() + text.size() || n < min || n > max) {
        throw flag_error{fmt::format("invalid value '{}' for {}: expected {} to {}", text, flag,
                                     min, max)};
    }
    return n;
}

std::chrono::milliseconds parse_ms(const std::string& text, const char* flag) {
    using namespace std::chrono;
    return duration_cast<milliseconds>(or_fail(parse_duration(text, milliseconds(1)), flag, text,
                                               "a duration such as 3000 or 3s"));
}

void validate_groups(broker_config& cfg, const raw_flags& raw) {
    using namespace std::chrono;
    cfg.offsets_partitions = parse_count(raw.offsets_partitions, "--offsets-partitions", 1, 1000);
    cfg.offsets_retention = minutes(parse_count(raw.offsets_retention_minutes,
                                                "--offsets-retention-minutes", 1, 52560000));
    cfg.offsets_retention_check_interval =
        parse_ms(raw.offsets_retention_check_interval, "--offsets-retention-check-interval");
    if (cfg.offsets_retention_check_interval.count() <= 0) {
        throw flag_error{"invalid value '" + raw.offsets_retention_check_interval +
                         "' for --offsets-retention-check-interval: expected a positive duration"};
    }
    cfg.group_initial_rebalance_delay =
        parse_ms(raw.group_initial_rebalance_delay, "--group-initial-rebalance-delay");
    cfg.group_min_session_timeout =
        parse_ms(raw.group_min_session_timeout, "--group-min-session-timeout");
    cfg.group_max_session_timeout =
        parse_ms(raw.group_max_session_timeout, "--group-max-session-timeout");
    if (cfg.group_min_session_timeout > cfg.group_max_session_timeout) {
        throw flag_error{"invalid value '" + raw.group_min_session_timeout +
                         "' for --group-min-session-timeout: above --group-max-session-timeout"};
    }
}

// --test-disk-fault ERROR@DURATION.
broker_config::disk_fault_plan parse_disk_fault(const std::string& text) {
    auto at = text.find('@');
    std::string kind = text.substr(0, at);
    broker_config::disk_fault_plan plan;
    if (kind == "eio") {
        plan.error = std::errc::io_error;
    } else if (kind == "enospc") {
        plan.error = std::errc::no_space_on_device;
    } else {
        throw flag_error{"invalid value '" + text + "' for --test-disk-fault: expected eio@DURATION "
                         "or enospc@DURATION"};
    }
    std::string after = at == std::string::npos ? "0ms" : text.substr(at + 1);
    plan.after = std::chrono::duration_cast<std::chrono::milliseconds>(
        or_fail(parse_duration(after, std::chrono::milliseconds(1)), "--test-disk-fault", text,
                "ERROR@DURATION such as eio@3s"));
    return plan;
}

void validate_stall_threshold(broker_config& cfg, const raw_flags& raw) {
    using namespace std::chrono;
    auto threshold = or_fail(parse_duration(raw.stall_threshold, milliseconds(1)),
                             "--stall-threshold", raw.stall_threshold,
                             "a duration such as 25ms, or 0 to disable");
    if (threshold.count() != 0 && (threshold < milliseconds(1) || threshold > hours(1))) {
        throw flag_error{fmt::format("invalid value '{}' for --stall-threshold: expected 0 "
                                     "(off) or 1ms to 1h", raw.stall_threshold)};
    }
    cfg.stall_threshold = duration_cast<milliseconds>(threshold);
    // A shard busy-polls within one turn; polling as long as the threshold would be reported.
    if (cfg.stall_threshold.count() != 0 && cfg.poll_us >= cfg.stall_threshold) {
        throw flag_error{fmt::format("invalid value '{}' for --poll-us: must be below "
                                     "--stall-threshold ({})", raw.poll_us, raw.stall_threshold)};
    }
}

void validate(broker_config& cfg, const raw_flags& raw) {
    using namespace std::chrono;
    if (!raw.smp.empty()) {
        unsigned n = 0;
        auto [p, ec] = std::from_chars(raw.smp.data(), raw.smp.data() + raw.smp.size(), n);
        if (ec != std::errc() || p != raw.smp.data() + raw.smp.size() || n == 0 ||
            n > iobuf_max_shards) {
            throw flag_error{fmt::format("invalid value '{}' for --smp: expected a number of "
                                         "shards from 1 to {}", raw.smp, iobuf_max_shards)};
        }
        cfg.smp = n;
    }
    choose_cpus(cfg, raw);
    cfg.poll_us = duration_cast<microseconds>(
        or_fail(parse_duration(raw.poll_us, microseconds(1)), "--poll-us", raw.poll_us,
                "a duration such as 50 or 50us"));
    validate_stall_threshold(cfg, raw);
    if (raw.memory.empty()) {
        // Half of the machine, as a conservative default for a shared host.
        cfg.memory_bytes = physical_memory_bytes() / 2;
    } else {
        cfg.memory_bytes = or_fail(parse_size(raw.memory), "--memory", raw.memory,
                                   "a size such as 4GiB");
        uint64_t min_bytes = uint64_t{64} << 20;
        if (cfg.memory_bytes < min_bytes * cfg.smp) {
            throw flag_error{fmt::format("invalid value '{}' for --memory: each of the {} shards "
                                         "needs at least 64MiB", raw.memory, cfg.smp)};
        }
    }
    cfg.segment_bytes = or_fail(parse_size(raw.segment_bytes), "--segment-bytes",
                                raw.segment_bytes, "a size such as 512MiB");
    if (cfg.segment_bytes < (uint64_t{1} << 20) ||
        cfg.segment_bytes > max_configurable_segment_bytes) {
        throw flag_error{fmt::format("invalid value '{}' for --segment-bytes: expected 1MiB to {}",
                                     raw.segment_bytes,
                                     format_size(max_configurable_segment_bytes))};
    }
    cfg.segment_ms = duration_cast<milliseconds>(or_fail(
        parse_duration(raw.segment_ms, milliseconds(1)), "--segment-ms", raw.segment_ms,
        "a duration such as 7d or 3600000"));
    if (cfg.segment_ms < milliseconds(1)) {
        throw flag_error{"invalid value '" + raw.segment_ms + "' for --segment-ms: must be positive"};
    }
    cfg.flush_interval_us = duration_cast<microseconds>(or_fail(
        parse_duration(raw.flush_interval_us, microseconds(1)), "--flush-interval-us",
        raw.flush_interval_us, "a duration such as 0, 500 or 2ms"));
    if (raw.fsync == "always") {
        cfg.fsync = fsync_policy::always;
    } else if (raw.fsync == "never") {
        cfg.fsync = fsync_policy::never;
    } else {
        throw flag_error{"invalid value '" + raw.fsync + "' for --fsync: expected always or never"};
    }
    cfg.max_batch_bytes = or_fail(parse_size(raw.max_batch_bytes), "--max-batch-bytes",
                                  raw.max_batch_bytes, "a size such as 1MiB");
    if (cfg.max_batch_bytes < 1024 || cfg.max_batch_bytes > (uint64_t{256} << 20)) {
        throw flag_error{"invalid value '" + raw.max_batch_bytes +
                         "' for --max-batch-bytes: expected 1KiB to 256MiB"};
    }
    cfg.retention_check_interval = duration_cast<milliseconds>(or_fail(
        parse_duration(raw.retention_check_interval, milliseconds(1)),
        "--retention-check-interval", raw.retention_check_interval,
        "a duration such as 5m or 300000"));
    if (cfg.retention_check_interval < milliseconds(1)) {
        throw flag_error{"invalid value '" + raw.retention_check_interval +
                         "' for --retention-check-interval: must be at least 1ms"};
    }
    if (cfg.data_dir.empty()) throw flag_error{"invalid value '' for --data-dir: expected a path"};
    if (!raw.test_disk_fault.empty()) cfg.test_disk_fault = parse_disk_fault(raw.test_disk_fault);
    validate_listeners(cfg, raw);
    validate_groups(cfg, raw);
    validate_cluster(cfg, raw);
}

}  // namespace

log_config broker_config::shard_log_config(unsigned k) const {
    log_config lc;
    lc.data_dir = data_dir;
    lc.shard = shard_id(k);
    lc.segment_bytes = segment_bytes;
    lc.segment_ms = segment_ms;
    lc.flush_interval_us = flush_interval_us;
    lc.fsync = fsync;
    lc.tail_cache_bytes = tail_cache_bytes_per_shard();
    lc.limits.max_batch_bytes = max_batch_bytes;
    if (test_disk_fault) {
        lc.disk_fault = [plan = *test_disk_fault, opened = std::chrono::steady_clock::now()](
                            disk_op, uint64_t) -> std::error_code {
            if (std::chrono::steady_clock::now() - opened < plan.after) return {};
            return std::make_error_code(plan.error);
        };
    }
    return lc;
}

size_t broker_config::tail_cache_bytes_per_shard() const {
    return static_cast<size_t>(memory_bytes / (smp == 0 ? 1 : smp) / 4);
}

parse_outcome parse_broker_flags(int argc, char** argv) {
    broker_config cfg;
    raw_flags raw;
    CLI::App app{"wharf: a Kafka-compatible message broker, one shard per CPU core.\n"
                 "Sizes take units (B, KiB, MiB, GiB, KB, MB, GB); durations take ns, us, ms, "
                 "s, m, h, d.",
                 "wharf"};
    app.option_defaults()->always_capture_default();

    auto* listeners = "Listeners";
    app.add_option("--kafka-addr", raw.kafka_addr, "Address of the Kafka listener (every shard "
                   "accepts on it with SO_REUSEPORT); port 0 picks a free port")
        ->group(listeners);
    app.add_option("--advertise-kafka-addr", raw.advertise_kafka_addr,
                   "Address that Metadata gives clients [default: the listen address]")
        ->group(listeners);
    app.add_option("--admin-addr", raw.admin_addr,
                   "Address of the admin HTTP API and "
                   "Prometheus /metrics (on shard 0); port 0 picks a free port, '' disables it")
        ->group(listeners);
    app.add_option("--connections-max-idle-ms", raw.connections_max_idle_ms,
                   "Close connections idle this long (milliseconds without a unit)")
        ->group(listeners);

    auto* limits = "Limits";
    app.add_option("--max-request-bytes", raw.max_request_bytes, "Largest request frame; a "
                   "larger one closes the connection")->group(limits);
    app.add_option("--max-inflight-request-bytes", raw.max_inflight_request_bytes,
                   "Request memory in flight per shard before it stops reading sockets "
                   "[default: a quarter of the shard's memory]")->group(limits);

    auto* topics = "Topics";
    app.add_option("--auto-create-topics", cfg.auto_create_topics,
                   "Create unknown topics on Metadata and Produce (true/false)")->group(topics);
    app.add_option("--default-partitions", raw.default_partitions,
                   "Partitions of auto-created topics and of CreateTopics with -1")->group(topics);

    auto* groups = "Consumer groups";
    app.add_option("--offsets-partitions", raw.offsets_partitions,
                   "Partitions of __consumer_offsets (fixed once the topic exists)")->group(groups);
    app.add_option("--offsets-retention-minutes", raw.offsets_retention_minutes,
                   "Committed offsets of an empty group expire after this many minutes")
        ->group(groups);
    app.add_option("--offsets-retention-check-interval", raw.offsets_retention_check_interval,
                   "How often expired offsets and empty groups without offsets are removed "
                   "(milliseconds without a unit)")->group(groups);
    app.add_option("--group-initial-rebalance-delay", raw.group_initial_rebalance_delay,
                   "Wait this long for more members when a group forms (milliseconds without a "
                   "unit)")->group(groups);
    app.add_option("--group-min-session-timeout", raw.group_min_session_timeout,
                   "Smallest session timeout a member may ask for")->group(groups);
    app.add_option("--group-max-session-timeout", raw.group_max_session_timeout,
                   "Largest session timeout a member may ask for")->group(groups);

    auto* runtime = "Runtime";
    app.add_option("--smp", raw.smp, "Number of shards (threads, one per core) [default: one "
                   "per CPU in --cpuset]")->group(runtime);
    app.add_option("--cpuset", raw.cpuset, "CPUs to run shards on, e.g. 0-3,8 [default: every "
                   "CPU this process may use]")->group(runtime);
    app.add_flag("--overprovisioned", cfg.overprovisioned,
                 "Allow more shards than CPUs and do not pin threads (laptops, CI)")->group(runtime);
    app.add_option("--poll-us", raw.poll_us, "Busy-poll this long (microseconds) before an idle "
                   "shard sleeps")->group(runtime);
    app.add_option("--stall-threshold", raw.stall_threshold, "Log a loop turn that keeps a "
                   "shard longer than this, with a backtrace (milliseconds without a unit); 0 "
                   "disables")->group(runtime);
    app.add_option("--memory", raw.memory, "Memory for all shards together [default: half of "
                   "the machine]")->group(runtime);

    auto* storage = "Storage";
    app.add_option("--data-dir", cfg.data_dir, "Directory of the shards' logs")->group(storage);
    app.add_option("--segment-bytes", raw.segment_bytes, "Roll a log segment at this size")
        ->group(storage);
    app.add_option("--segment-ms", raw.segment_ms, "Roll a log segment at this age "
                   "(milliseconds without a unit)")->group(storage);
    app.add_option("--flush-interval-us", raw.flush_interval_us, "Gather appends this long "
                   "(microseconds) into one group commit; 0 = one per reactor turn")
        ->group(storage);
    app.add_option("--fsync", raw.fsync, "always: an append completes when durable; never: "
                   "skip fdatasync (benchmarks only; loses data on power failure)")
        ->group(storage);
    app.add_option("--max-batch-bytes", raw.max_batch_bytes,
                   "Largest record batch accepted (Kafka's message.max.bytes)")->group(storage);
    // Tests only, hence in no group (not in --help): ERROR@DURATION, ERROR eio or enospc.
    app.add_option("--test-disk-fault", raw.test_disk_fault)->group("");
    app.add_option("--retention-check-interval", raw.retention_check_interval,
                   "How often each shard applies retention.ms and retention.bytes "
                   "(milliseconds without a unit)")->group(storage);

    auto* cluster = "Cluster";
    app.add_option("--node-id", raw.node_id,
                   "This broker's node id (one of --seeds, or a new id to join the cluster)")
        ->group(cluster);
    app.add_option("--rpc-addr", raw.rpc_addr, "Address of the internal RPC (raft) listener, a "
                   "numeric IP address or localhost")->group(cluster);
    app.add_option("--advertise-rpc-addr", raw.advertise_rpc_addr,
                   "Internal RPC address that peers are told [default: --rpc-addr]")
        ->group(cluster);
    app.add_option("--seeds", raw.seeds, "Every broker of the cluster as ID@HOST:PORT (their "
                   "--rpc-addr), 1, 3 or 5 of them, the same on every broker; every topic is "
                   "replicated on all of them [default: none, a single broker]")->group(cluster);
    app.add_option("--leader-balancing", cfg.cluster.leader_balancing, "Move each raft group's "
                   "leadership back to its preferred broker (true/false)")->group(cluster);

    app.add_option("--log-level", cfg.log_level, "trace, debug, info, warn, error, critical or off")
        ->group("Logging")
        ->check(CLI::IsMember({"trace", "debug", "info", "warn", "error", "critical", "off"}));

    // What each value looks like, for --help; the units are in the description above the list.
    for (auto [flag, type] : {std::pair{"--kafka-addr", "HOST:PORT"},
                              {"--advertise-kafka-addr", "HOST:PORT"},
                              {"--connections-max-idle-ms", "DURATION"},
                              {"--max-request-bytes", "SIZE"},
                              {"--max-inflight-request-bytes", "SIZE"},
                              {"--default-partitions", "N"},
                              {"--offsets-partitions", "N"},
                              {"--offsets-retention-minutes", "N"},
                              {"--offsets-retention-check-interval", "DURATION"},
                              {"--group-initial-rebalance-delay", "DURATION"},
                              {"--group-min-session-timeout", "DURATION"},
                              {"--group-max-session-timeout", "DURATION"},
                              {"--smp", "N"},
                              {"--cpuset", "LIST"},
                              {"--poll-us", "DURATION"},
                              {"--memory", "SIZE"},
                              {"--data-dir", "PATH"},
                              {"--segment-bytes", "SIZE"},
                              {"--segment-ms", "DURATION"},
                              {"--flush-interval-us", "DURATION"},
                              {"--fsync", "always|never"},
                              {"--max-batch-bytes", "SIZE"},
                              {"--retention-check-interval", "DURATION"},
                              {"--node-id", "N"},
                              {"--rpc-addr", "HOST:PORT"},
                              {"--advertise-rpc-addr", "HOST:PORT"},
                              {"--seeds", "LIST"},
                              {"--log-level", "LEVEL"}}) {
        if (auto* opt = app.get_option_no_throw(flag)) opt->type_name(type);
    }
    app.get_option("--auto-create-topics")->default_str("true");
    app.get_option("--leader-balancing")->default_str("true");

    std::string config_path;
    bool print_config = false;
    app.add_option("--config", config_path, "Read settings from this TOML file: keys are the "
                   "flag names without dashes (segment-bytes = \"1GiB\"); flags given here win")
        ->group("Configuration")->type_name("FILE");
    app.add_flag("--print-config", print_config, "Print the effective configuration and where "
                 "each value came from, then exit")->group("Configuration");

    setting_sources sources;
    try {
        app.parse(argc, argv);
        sources = command_line_sources(app);
        if (!config_path.empty()) apply_config_file(app, config_path, sources);
        validate(cfg, raw);
    } catch (const CLI::ParseError& e) {
        // --help exits 0; every other parse error exits 2, like the validation errors below.
        int code = app.exit(e);
        return parse_outcome{std::nullopt, code == 0 ? 0 : 2};
    } catch (const config_file_error& e) {
        fmt::print(stderr, "wharf: {}\n", e.message);
        return parse_outcome{std::nullopt, 2};
    } catch (const flag_error& e) {
        fmt::print(stderr, "wharf: {}\n", locate_flag_error(e.message, sources));
        return parse_outcome{std::nullopt, 2};
    }
    if (print_config) {
        fmt::print("{}", format_effective_config(app, sources, computed_defaults(cfg)));
        return parse_outcome{std::nullopt, 0};
    }
    return parse_outcome{std::move(cfg), 0};
}

}  // namespace wharf
