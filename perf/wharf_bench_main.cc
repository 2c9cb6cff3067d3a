// wharf-bench: the Kafka load generator of issue 5 (perf/README.md, section "wharf-bench").
//
//   wharf-bench run -b 127.0.0.1:9092 -w perf/workloads/1-topic-16-partitions-1kb.toml
//       --smp 2 --output result.json --report report.html
//   wharf-bench compare wharf.json kafka.json --report compare.html
//
// Speaks plain Kafka through Wharf's codec on Wharf's reactor: one engine per shard (--smp),
// producers and consumers spread over them. Exit status: 0 ok, 1 the run failed (cannot connect,
// producer or consumer errors, the delivery check), 2 bad usage.

#include <fmt/format.h>

#include <CLI/CLI.hpp>
#include <cstdlib>
#include <fstream>
#include <iostream>
#include <sstream>

#include "core/config/units.h"
#include "log/compression.h"
#include "net/kafka/client/connection.h"
#include "perf/lib/engine/runner.h"
#include "perf/lib/engine/stamp.h"
#include "perf/lib/report_html.h"
#include "perf/lib/result_json.h"
#include "reactor/smp.h"

#ifndef WHARF_GIT_REV
#define WHARF_GIT_REV ""
#endif

namespace {

using namespace wharf;
using namespace wharf::perf;

// Flags as written; parsed and checked once CLI11 has them all.
struct run_flags {
    std::string brokers = "127.0.0.1:9092";
    std::string workload_file;
    unsigned smp = 1;
    std::string label;
    std::string output;
    std::string report;
    bool quiet = false;
    std::optional<int32_t> topics, partitions, producers, groups, consumers_per_group;
    std::optional<std::string> message_size, duration, warmup;
    std::optional<double> rate;
    std::string acks = "all";
    std::string compression = "none";
    std::string batch_bytes = "128KiB";
    std::string linger = "1ms";
    int max_in_flight = 5;
    bool idempotence = false;
    std::string fetch_max_bytes = "50MiB";
    std::string partition_max_bytes = "1MiB";
    std::string topic_prefix = "wharf-bench";
    bool keep_topics = false;
    std::string drain_timeout = "30s";
};

[[noreturn]] void usage_error(const std::string& what) {
    std::cerr << "wharf-bench: " << what << "\n";
    std::exit(2);
}

uint64_t size_flag(const char* flag, const std::string& text) {
    auto v = parse_size(text);
    if (!v) usage_error(fmt::format("{} {}: not a size (e.g. 16KiB, 1MB)", flag, text));
    return *v;
}

std::chrono::microseconds duration_flag(const char* flag, const std::string& text) {
    auto v = parse_duration(text, std::chrono::seconds(1));
    if (!v) usage_error(fmt::format("{} {}: not a duration (e.g. 250ms, 30s, 5m)", flag, text));
    return std::chrono::duration_cast<std::chrono::microseconds>(*v);
}

workload load_workload(const run_flags& f) {
    std::ifstream in(f.workload_file);
    if (!in) usage_error(fmt::format("cannot read workload file {}", f.workload_file));
    std::stringstream text;
    text << in.rdbuf();
    workload_result parsed = parse_workload(text.str());
    if (!parsed.ok()) {
        usage_error(fmt::format("{}: {}", f.workload_file, parsed.error->to_string()));
    }
    workload w = parsed.value;
    if (f.topics) w.topics = *f.topics;
    if (f.partitions) w.partitions = *f.partitions;
    if (f.producers) w.producers = *f.producers;
    if (f.groups) w.consumer_groups = *f.groups;
    if (f.consumers_per_group) w.consumers_per_group = *f.consumers_per_group;
    if (f.rate) w.rate_per_s = *f.rate;
    if (f.message_size) {
        w.message_sizes = {static_cast<uint32_t>(size_flag("--message-size", *f.message_size))};
    }
    if (f.duration) w.duration = duration_flag("--duration", *f.duration);
    if (f.warmup) w.warmup = duration_flag("--warmup", *f.warmup);
    if (w.topics < 1 || w.topics > max_topics) usage_error("topics must be 1 to 100000");
    if (w.partitions < 1 || w.partitions > max_partitions) usage_error("partitions out of range");
    if (w.producers < 1 || w.producers > max_clients) usage_error("producers must be 1 to 100000");
    if (w.consumer_groups < 0 || w.consumers_per_group < 0 ||
        static_cast<int64_t>(w.consumer_groups) * w.consumers_per_group > max_clients) {
        usage_error("groups x consumers-per-group must be 0 to 100000");
    }
    if (w.rate_per_s < 0) usage_error("--rate must not be negative");
    for (uint32_t s : w.message_sizes) {
        if (s > max_message_bytes) usage_error("message size above 64 MiB");
        if (s < stamp_bytes && w.consumer_groups > 0 && w.consumers_per_group > 0) {
            usage_error(
                fmt::format("message size {} B: consumers need at least {} B for the latency stamp",
                            s, stamp_bytes));
        }
    }
    return w;
}

run_options make_options(const run_flags& f) {
    run_options o;
    o.load = load_workload(f);
    auto bootstrap = kafka::client::parse_bootstrap(f.brokers);
    if (!bootstrap)
        usage_error(fmt::format("--brokers {}: expected host:port[,host:port]", f.brokers));
    o.bootstrap = *bootstrap;
    o.brokers_text = f.brokers;
    o.label = f.label;
    o.workload_file = f.workload_file;
    o.git_rev = WHARF_GIT_REV;
    if (f.smp < 1 || f.smp > 1024) usage_error("--smp must be 1 to 1024");
    o.smp = f.smp;
    if (f.acks == "all" || f.acks == "-1") {
        o.acks = -1;
    } else if (f.acks == "1" || f.acks == "0") {
        o.acks = static_cast<int16_t>(f.acks[0] - '0');
    } else {
        usage_error("--acks must be all, 1 or 0");
    }
    auto codec = codec_from_name(f.compression);
    if (!codec) usage_error("--compression must be none, gzip, snappy, lz4 or zstd");
    o.compression = *codec;
    o.batch_bytes = size_flag("--batch-bytes", f.batch_bytes);
    if (o.batch_bytes < 1 || o.batch_bytes > (64u << 20)) usage_error("--batch-bytes: 1B to 64MiB");
    o.linger = duration_flag("--linger", f.linger);
    if (f.max_in_flight < 1 || f.max_in_flight > 1000) usage_error("--max-in-flight: 1 to 1000");
    if (f.idempotence && f.max_in_flight > 5) {
        usage_error("--idempotence allows at most 5 requests in flight (as Kafka's producer)");
    }
    if (f.idempotence && o.acks != -1) usage_error("--idempotence needs --acks all");
    o.max_in_flight = f.max_in_flight;
    o.idempotence = f.idempotence;
    o.fetch_max_bytes = static_cast<int32_t>(
        std::min<uint64_t>(size_flag("--fetch-max-bytes", f.fetch_max_bytes), INT32_MAX));
    o.partition_max_bytes = static_cast<int32_t>(
        std::min<uint64_t>(size_flag("--partition-max-bytes", f.partition_max_bytes), INT32_MAX));
    o.topic_prefix = f.topic_prefix;
    o.keep_topics = f.keep_topics;
    o.quiet = f.quiet;
    o.drain_timeout = std::chrono::duration_cast<std::chrono::seconds>(
        duration_flag("--drain-timeout", f.drain_timeout));
    return o;
}

void print_summary(const run_result& r) {
    auto ms = [](uint64_t us) { return us / 1e3; };
    auto lat = [&](const latency_summary& l) {
        return fmt::format(
            "p50 {:.2f}  p90 {:.2f}  p99 {:.2f}  p99.9 {:.2f}  p99.99 {:.2f}  max {:.2f} ms",
            ms(l.p50_us), ms(l.p90_us), ms(l.p99_us), ms(l.p999_us), ms(l.p9999_us), ms(l.max_us));
    };
    std::cout << fmt::format("wharf-bench: {} ({:.1f} s measured, tool CPU {:.2f} cores)\n",
                             r.label, r.measured_s, r.tool_cpu_cores);
    std::cout << fmt::format("  produce  {:>12.0f} msg/s {:>9.1f} MB/s   {}\n",
                             r.produce_msgs_per_s, r.produce_mb_per_s, lat(r.produce_latency));
    std::cout << fmt::format("  consume  {:>12.0f} msg/s {:>9.1f} MB/s   e2e {}\n",
                             r.consume_msgs_per_s, r.consume_mb_per_s, lat(r.e2e_latency));
    if (r.delivery_checked) {
        bool ok = r.duplicates == 0 && r.missing == 0;
        std::cout << fmt::format(
            "  delivery {} acknowledged, {} consumed, {} duplicates, {} missing: {}\n",
            r.acked_total, r.consumed_total, r.duplicates, r.missing, ok ? "OK" : "FAILED");
    }
    if (r.produce_errors > 0) std::cout << fmt::format("  produce errors {}\n", r.produce_errors);
}

int run_command(const run_flags& f) {
    run_options opts = make_options(f);
    smp_config cfg;
    cfg.shards = opts.smp;
    run_outcome outcome;
    auto rc = smp::run(cfg, [&]() -> task<int> {
        outcome = co_await run_benchmark(opts);
        co_return 0;
    });
    if (!rc) {
        std::cerr << "wharf-bench: cannot start the reactor: " << rc.error().message() << "\n";
        return 1;
    }
    const run_result& r = outcome.result;
    bool measured = r.measured_s > 0;
    if (measured) print_summary(r);
    std::string error;
    if (measured && !f.output.empty() && !write_result_file(f.output, r, &error)) {
        outcome.failures.push_back(fmt::format("writing {}: {}", f.output, error));
    }
    if (measured && !f.report.empty()) {
        std::ofstream out(f.report);
        out << render_run_report(r);
        if (!out) outcome.failures.push_back(fmt::format("writing {}", f.report));
    }
    for (const std::string& failure : outcome.failures) {
        std::cerr << "wharf-bench: " << failure << "\n";
    }
    return outcome.failures.empty() ? 0 : 1;
}

int compare_command(const std::vector<std::string>& files, const std::string& report) {
    std::vector<run_result> runs;
    for (const std::string& file : files) {
        std::string error;
        auto r = read_result_file(file, &error);
        if (!r) usage_error(fmt::format("{}: {}", file, error));
        runs.push_back(std::move(*r));
    }
    std::cout << compare_table(runs);
    if (!report.empty()) {
        std::ofstream out(report);
        out << render_compare_report(runs);
        if (!out) {
            std::cerr << "wharf-bench: cannot write " << report << "\n";
            return 1;
        }
    }
    return 0;
}

}  // namespace

int main(int argc, char** argv) {
    CLI::App app{
        "wharf-bench: a Kafka load generator (throughput, produce and end-to-end latency)"};
    app.require_subcommand(1);
    run_flags f;
    if (const char* env = std::getenv("WHARF_BROKERS")) f.brokers = env;
    CLI::App* run = app.add_subcommand("run", "run a workload against a Kafka-compatible broker");
    run->add_option("-b,--brokers", f.brokers, "bootstrap host:port[,host:port] (WHARF_BROKERS)");
    run->add_option("-w,--workload", f.workload_file, "workload file (perf/workloads/*.toml)")
        ->required();
    run->add_option("--smp", f.smp,
                    "engine shards (threads); producers and consumers spread over them");
    run->add_option("--label", f.label,
                    "name of this run in reports (default: the workload's name)");
    run->add_option("--output", f.output, "write the result as JSON to this file");
    run->add_option("--report", f.report, "write an HTML report with SVG charts to this file");
    run->add_flag("--quiet", f.quiet, "no progress line per second");
    run->add_option("--topics", f.topics, "override the workload's topics");
    run->add_option("--partitions", f.partitions, "override partitions per topic");
    run->add_option("--message-size", f.message_size, "override the message size (e.g. 1KiB)");
    run->add_option("--rate", f.rate, "override messages/s over all producers (0 = unlimited)");
    run->add_option("--producers", f.producers, "override the number of producers (connections)");
    run->add_option("--groups", f.groups, "override the consumer groups");
    run->add_option("--consumers-per-group", f.consumers_per_group, "override consumers per group");
    run->add_option("--duration", f.duration, "override the measured duration (e.g. 60s)");
    run->add_option("--warmup", f.warmup, "override the warm-up (e.g. 10s)");
    run->add_option("--acks", f.acks, "all, 1 or 0")->capture_default_str();
    run->add_option("--compression", f.compression, "none, gzip, snappy, lz4, zstd")
        ->capture_default_str();
    run->add_option("--batch-bytes", f.batch_bytes, "batch size per partition")
        ->capture_default_str();
    run->add_option("--linger", f.linger, "how long a batch waits to fill")->capture_default_str();
    run->add_option("--max-in-flight", f.max_in_flight, "produce requests in flight per broker")
        ->capture_default_str();
    run->add_flag("--idempotence", f.idempotence,
                  "idempotent producers (acks=all, <= 5 in flight)");
    run->add_option("--fetch-max-bytes", f.fetch_max_bytes, "fetch response limit")
        ->capture_default_str();
    run->add_option("--partition-max-bytes", f.partition_max_bytes, "fetch limit per partition")
        ->capture_default_str();
    run->add_option("--topic-prefix", f.topic_prefix, "prefix of the topics created for the run")
        ->capture_default_str();
    run->add_flag("--keep-topics", f.keep_topics, "do not delete the run's topics at the end");
    run->add_option("--drain-timeout", f.drain_timeout,
                    "how long consumers may take to catch up after the producers stop")
        ->capture_default_str();

    std::vector<std::string> files;
    std::string compare_report;
    CLI::App* compare =
        app.add_subcommand("compare", "compare result files (ratios against the first)");
    compare->add_option("files", files, "result JSON files")->required()->expected(1, -1);
    compare->add_option("--report", compare_report, "write an HTML comparison to this file");

    try {
        app.parse(argc, argv);
    } catch (const CLI::ParseError& e) {
        int rc = app.exit(e);
        return rc == 0 ? 0 : 2;
    }
    if (run->parsed()) return run_command(f);
    return compare_command(files, compare_report);
}
