#pragma once

// The `wharf bench run` orchestration, on shard 0 of an smp whose shards each run a share of the
// producers and consumers (producer i and consumer i on shard i % smp, each with its own client
// and connections, nothing shared between shards).
//
// The order of a run, as OMB runs one:
//   1. create the workload's topics (fresh names: prefix-nonce-index) and wait for their leaders;
//   2. start the consumers and wait until every group is stable: all its members in one
//      generation, every partition assigned, start positions known (the end of each partition);
//      a catch-up run instead produces its backlog first, then starts consumers at the beginning;
//   3. produce for warm-up + duration; a progress line per second; latencies count only after
//      the warm-up;
//   4. stop the producers and wait for their requests, then let the consumers drain (until every
//      group has consumed what was acknowledged, or the drain timeout), stop them;
//   5. collect histograms and the delivery check from every shard, delete the topics.

#include <chrono>
#include <cstdint>
#include <string>
#include <vector>

#include "log/record_batch.h"
#include "net/kafka/client/connection.h"
#include "perf/lib/result.h"
#include "perf/lib/workload.h"

namespace wharf::perf {

struct run_options {
    workload load;
    std::vector<kafka::client::broker_address> bootstrap;
    std::string brokers_text;
    std::string label;
    std::string workload_file;
    std::string git_rev;
    unsigned smp = 1;
    // Producer settings.
    int16_t acks = -1;
    compression_type compression = compression_type::none;
    size_t batch_bytes = 128 * 1024;
    std::chrono::microseconds linger{1000};
    int max_in_flight = 5;
    bool idempotence = false;
    // Consumer settings.
    int32_t fetch_max_bytes = 50 << 20;
    int32_t partition_max_bytes = 1 << 20;
    // Run control.
    std::string topic_prefix = "wharf-bench";
    bool keep_topics = false;
    bool quiet = false;  // no progress lines
    std::chrono::seconds ready_timeout{60};
    std::chrono::seconds drain_timeout{30};
};

struct run_outcome {
    run_result result;
    // Why the run could not be completed, or what went wrong in it (a producer or consumer
    // that failed, a drain that timed out); empty when all went well.
    std::vector<std::string> failures;
};

// Runs the benchmark. REQUIRES: called on shard 0 of an smp with opts.smp shards.
task<run_outcome> run_benchmark(const run_options& opts);

// The progress line of one interval (also used by tests).
std::string progress_line(const interval_sample& s);

}  // namespace wharf::perf
