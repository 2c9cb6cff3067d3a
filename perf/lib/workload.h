#pragma once

// A benchmark workload, read from a file in a small subset of TOML, in the spirit of the
// OpenMessaging Benchmark's workload files. The subset, by example (perf/workloads/ has more):
//
// clang-format off
//   # a comment (also after a value)
//   name = "1 topic, 16 partitions, 1 KiB"   # strings in double quotes, \" and \\ escapes
//   topics = 1                               # integers (with optional _ separators)
//   partitions = 16
//   message_size = 1KiB                      # sizes: B, KB/MB/GB (10^3), KiB/MiB/GiB (2^10)
//   message_sizes = [100, 1KiB, 4KiB]        # or a list: each message picks one at random
//   key_distribution = "none"                # none | random | round-robin
//   [producer]
//   producers = 4
//   rate = 50000                             # messages/s over all producers; 0 = unlimited
//   [consumer]
//   groups = 1
//   consumers_per_group = 4
//   backlog = 1GiB                           # produced before the consumers start; 0 = none
//   [run]
//   duration = 5m                            # durations: us, ms, s, m, h
//   warmup = 30s
// clang-format on
//
// Keys are `key = value` on one line; `[section]` names one of the sections above (keys before
// any section are top-level). Every key is optional and has the default of `workload` below; an
// unknown key or section, a repeated key, a value of the wrong kind or out of range is an error
// that names the line and the key. Parsing is a pure function; safe from any thread.

#include <chrono>
#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

namespace wharf::perf {

enum class key_distribution { none, random, round_robin };

struct workload {
    std::string name;
    int32_t topics = 1;
    int32_t partitions = 1;  // per topic
    // One size, or several to pick from uniformly at random per message.
    std::vector<uint32_t> message_sizes = {1024};
    key_distribution keys = key_distribution::none;
    int32_t producers = 1;  // in total, spread over the shards
    double rate_per_s = 0;  // messages per second over all producers; 0 = unlimited
    int32_t consumer_groups = 1;
    int32_t consumers_per_group = 1;
    // The catch-up read workload: bytes (message bytes, as produced_bytes counts them) produced
    // before the consumers start; they then read from the beginning of the topics, so the run
    // measures reads of a backlog beside new writes. 0: no backlog, consumers start at once.
    uint64_t backlog_bytes = 0;
    std::chrono::microseconds duration = std::chrono::minutes(1);
    std::chrono::microseconds warmup = std::chrono::seconds(0);
};

// A parse error: "line 7: key 'partitions': expected an integer".
struct workload_error {
    int line = 0;  // 1-based; 0 when not tied to a line
    std::string key;
    std::string message;
    std::string to_string() const;
};

// Either a workload or the first error found.
struct workload_result {
    workload value;
    std::optional<workload_error> error;  // the first error; none on success
    bool ok() const { return !error; }
};

workload_result parse_workload(std::string_view text);

// Limits on what a workload may ask for: they bound the memory the tool will reserve.
inline constexpr int32_t max_topics = 100'000;
inline constexpr int32_t max_partitions = 1'000'000;
inline constexpr uint32_t max_message_bytes = 64 << 20;
inline constexpr size_t max_message_size_choices = 1024;
inline constexpr int32_t max_clients = 100'000;
// A backlog is written to the broker's disk before the measurement: 1 TiB bounds a typo's cost.
inline constexpr uint64_t max_backlog_bytes = uint64_t{1} << 40;

}  // namespace wharf::perf
