#pragma once

// The broker's configuration: every setting is a command-line flag (`wharf --help` lists them
// with defaults and units). Parsed once in main, validated, then read-only and shared by every
// shard as start-up configuration.

#include <chrono>
#include <cstdint>
#include <optional>
#include <string>
#include <vector>

#include "core/config/cluster_config.h"
#include "log/log_config.h"

namespace wharf {

struct broker_config {
    // listeners and limits
    host_port kafka_addr{"127.0.0.1", 9092};
    // What Metadata tells clients to connect to; empty host = kafka_addr (with its bound port).
    host_port advertise_kafka_addr;
    // The admin HTTP API and /metrics, on shard 0; nullopt when disabled (--admin-addr '').
    std::optional<host_port> admin_addr = host_port{"127.0.0.1", 9644};
    uint64_t max_request_bytes = uint64_t{100} << 20;
    // Request memory in flight per shard; past it, shards stop reading sockets (back-pressure).
    uint64_t max_inflight_request_bytes_per_shard = 0;
    std::chrono::milliseconds connections_max_idle{600000};
    // topics
    bool auto_create_topics = true;
    int32_t default_partitions = 1;
    // consumer groups (Kafka's offsets.topic.num.partitions, offsets.retention.minutes,
    // offsets.retention.check.interval.ms, group.initial.rebalance.delay.ms,
    // group.min/max.session.timeout.ms)
    int32_t offsets_partitions = 50;
    std::chrono::minutes offsets_retention{10080};
    std::chrono::milliseconds offsets_retention_check_interval{600000};
    std::chrono::milliseconds group_initial_rebalance_delay{3000};
    std::chrono::milliseconds group_min_session_timeout{6000};
    std::chrono::milliseconds group_max_session_timeout{1800000};
    // runtime
    unsigned smp = 0;                  // shards; 0 before validation means "one per CPU"
    std::vector<unsigned> cpus;        // the CPU of each shard (empty when overprovisioned)
    bool overprovisioned = false;
    std::chrono::microseconds poll_us{0};
    // Log loop turns longer than this, with a backtrace; 0 disables the stall detector.
    std::chrono::milliseconds stall_threshold{25};
    uint64_t memory_bytes = 0;         // for all shards together
    // storage
    std::string data_dir = "./data";
    uint64_t segment_bytes = uint64_t{512} << 20;
    std::chrono::milliseconds segment_ms = std::chrono::hours(24 * 7);
    std::chrono::microseconds flush_interval_us{0};
    fsync_policy fsync = fsync_policy::always;
    uint64_t max_batch_bytes = 1048588;  // Kafka's message.max.bytes default
    // How often each shard applies retention (Kafka's log.retention.check.interval.ms).
    std::chrono::milliseconds retention_check_interval{std::chrono::minutes(5)};
    // Tests only (--test-disk-fault, hidden): every log write and preallocation of every shard
    // fails with `error` once `after` has passed since the shard opened its log, as if the disk
    // had failed (tests/fault's disk faults; log_config::disk_fault).
    struct disk_fault_plan {
        std::errc error = std::errc::io_error;
        std::chrono::milliseconds after{0};
    };
    std::optional<disk_fault_plan> test_disk_fault;
    // logging
    std::string log_level = "info";
    // cluster (cluster_config.h)
    cluster_config cluster;

    // The shard log configuration of shard k.
    log_config shard_log_config(unsigned k) const;
    // The tail cache budget of one shard: a quarter of its memory share.
    size_t tail_cache_bytes_per_shard() const;
};

// What parsing decided: run with a configuration, or exit (after --help, or on an error whose
// message has been printed) with a code.
struct parse_outcome {
    std::optional<broker_config> config;
    int exit_code = 0;
};

// Parses and validates argv. Errors name the flag and what is wrong with it.
parse_outcome parse_broker_flags(int argc, char** argv);

}  // namespace wharf
