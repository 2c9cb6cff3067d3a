#pragma once

// What one `wharf bench` run measured: the data behind the JSON result file, the HTML report and
// `wharf bench compare`. Plain values, no behaviour beyond the helpers below; the engines fill it
// in (perf/lib/engine/), result_json writes and reads it, report_html draws it.
//
// Units: times in microseconds (latencies) or seconds (elapsed, durations); rates per second;
// bytes as bytes (MB/s means 10^6 bytes per second, as OMB and Kafka's perf tools print).

#include <cstdint>
#include <map>
#include <string>
#include <vector>

#include "perf/lib/histogram.h"

namespace wharf::perf {

// Percentiles of one latency histogram, in microseconds.
struct latency_summary {
    uint64_t count = 0;
    double mean_us = 0;
    uint64_t p50_us = 0;
    uint64_t p90_us = 0;
    uint64_t p99_us = 0;
    uint64_t p999_us = 0;
    uint64_t p9999_us = 0;
    uint64_t max_us = 0;
    // The percentile distribution for plotting (HdrHistogram's "percentile distribution"): pairs
    // (percentile in [0, 100], latency in us) at percentiles 100 * (1 - 10^(-k/10)) for k = 0, 1,
    // ... up to 99.999, then 100 (the max). Increasing in both coordinates.
    std::vector<std::pair<double, uint64_t>> curve;
};

// Summarizes h (empty histogram: all zero, empty curve).
latency_summary summarize(const histogram& h);

// One second (or whatever the progress interval was) of the run.
struct interval_sample {
    double t_s = 0;  // end of the interval, seconds since the producers started
    bool warmup = false;
    double produce_msgs_per_s = 0;
    double produce_mb_per_s = 0;
    double consume_msgs_per_s = 0;
    double consume_mb_per_s = 0;
    uint64_t produce_p50_us = 0;
    uint64_t produce_p99_us = 0;
    uint64_t e2e_p50_us = 0;
    uint64_t e2e_p99_us = 0;
    int64_t backlog_msgs = 0;  // produced (acked) minus consumed, over all groups: consumer lag
    uint64_t errors = 0;       // produce errors in the interval
};

struct run_result {
    // What ran.
    std::string tool_version = "wharf-bench 1";  // the format of this record
    std::string label;          // --label, or the workload name
    std::string workload_name;  // the workload's `name`
    std::string workload_file;  // path as given
    std::string brokers;        // bootstrap addresses as given
    std::string git_rev;        // of the tool's build ("" when unknown)
    std::string started_at;     // ISO 8601 UTC, e.g. 2026-12-01T20:15:00Z
    // Every setting that shapes the load, as strings: workload fields after overrides (topics,
    // partitions, message_sizes, key_distribution, producers, rate, groups, consumers_per_group,
    // duration, warmup) and client settings (smp, acks, compression, batch_bytes, linger,
    // max_in_flight, idempotence, fetch sizes).
    std::map<std::string, std::string> settings;

    // Totals over the measured window (after warm-up, until the producers stopped).
    double measured_s = 0;
    uint64_t produced_msgs = 0;  // acknowledged
    uint64_t produced_bytes = 0;  // value + key bytes acknowledged
    uint64_t produce_errors = 0;  // records whose produce failed
    uint64_t consumed_msgs = 0;   // over all groups
    uint64_t consumed_bytes = 0;
    double produce_msgs_per_s = 0;
    double produce_mb_per_s = 0;
    double consume_msgs_per_s = 0;
    double consume_mb_per_s = 0;

    // Whole-run delivery check (warm-up included), per consumer group: every acknowledged record
    // consumed exactly once. Filled only when the run had consumers.
    uint64_t acked_total = 0;       // records acknowledged over the whole run
    uint64_t consumed_total = 0;    // records of this run consumed, summed over groups
    uint64_t duplicates = 0;        // records a group consumed more than once
    uint64_t missing = 0;           // acknowledged records some group never consumed
    // False when the run had no consumers, or ran with acks=0 (nothing is acknowledged, so the
    // counts above say nothing); the report then shows "not checked" whatever they hold. A drain
    // that timed out leaves it true: its records show in `missing`, and the run fails.
    bool delivery_checked = false;

    latency_summary produce_latency;  // request to acknowledgement, per record
    latency_summary e2e_latency;      // publish (the producer's stamp) to consume, per record
    bool co_corrected = false;        // fixed-rate run: latencies count from each record's due time

    // Process CPU use of the tool over the measured window (user + system seconds per second),
    // to show that the tool is not the bottleneck.
    double tool_cpu_cores = 0;

    std::vector<interval_sample> timeline;
};

}  // namespace wharf::perf
