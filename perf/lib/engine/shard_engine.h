#pragma once

// The producers and consumers of one shard and their counters, driven by the runner through
// submit_to (each function below runs on the shard it concerns and touches only that shard's
// engine, a thread-local).

#include <cstdint>
#include <memory>
#include <string>
#include <vector>

#include "perf/lib/engine/consumer.h"
#include "perf/lib/engine/producer.h"
#include "perf/lib/engine/stats.h"

namespace wharf::perf::shard_engine {

struct setup {
    std::vector<kafka::client::broker_address> bootstrap;
    std::vector<std::string> topic_names;
    int32_t partitions = 1;
    size_t groups = 0;
    uint64_t nonce = 0;
};

// Creates this shard's engine. REQUIRES: none installed.
void install(setup s);
// Starts the producers (already configured, one per entry); returns the failures to start.
task<std::vector<std::string>> start_producers(std::vector<producer_config> cfgs);
void start_consumers(std::vector<consumer_config> cfgs);

struct member_status {
    size_t group = 0;
    int32_t generation = -1;
    size_t assigned = 0;
};
std::vector<member_status> consumer_status();

interval_snapshot take_interval();
void set_measuring(bool on);
void stop_producers();
void stop_consumers();
// Producers (consumers) whose run has not finished yet.
size_t producers_running();
size_t consumers_running();
// Failures of runs so far (each once).
std::vector<std::string> take_failures();

struct final_counts {
    histogram produce = make_latency_histogram();
    histogram e2e = make_latency_histogram();
    std::vector<uint64_t> acked;
    std::vector<uint64_t> consumed;
};
final_counts collect();
std::vector<uint64_t> acked();
std::vector<uint64_t> consumed();

// Stops whatever still runs, waits for it and closes every client. REQUIRES: installed.
task<void> uninstall();

}  // namespace wharf::perf::shard_engine
