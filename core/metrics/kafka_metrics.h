#pragma once

// The Kafka front end's per-shard counters for /metrics: requests, errors and latency per API
// and version, and bytes produced and fetched per topic. Recorded on the connection's shard by
// the dispatcher and the Produce and Fetch handlers; each record is a few increments in a
// shard-local table (no locks, no atomics), read only when /metrics is scraped on that shard.
//
// Lives in thread_local storage of each shard; created on first use, never freed before exit.

#include <cstdint>
#include <functional>
#include <string_view>

#include "reactor/metrics/metrics.h"

namespace wharf::metrics {

// Request latency in microseconds, from the decoded header to the encoded response: 8 us to
// ~16.8 s (a long-polling Fetch waits up to its max_wait_ms).
using request_latency_histogram = log2_histogram<22, 3>;

// One request of API `api_key` at `version` took latency_us; `error`: it closed the connection
// or its response carries an error code (response_errors.h).
void record_kafka_request(int16_t api_key, int16_t version, uint64_t latency_us, bool error);

// Record-batch bytes a Produce appended to a topic, and that a Fetch returned from one.
void add_topic_bytes_in(std::string_view topic, uint64_t bytes);
void add_topic_bytes_out(std::string_view topic, uint64_t bytes);

// This shard's Kafka families (no shard label: the scrape sums them over shards). Topics for
// which topic_exists is false are forgotten, so that deleted topics do not accumulate.
void collect_kafka_metrics(metric_families& out,
                           const std::function<bool(std::string_view)>& topic_exists);

}  // namespace wharf::metrics
