#pragma once

// What one shard tells the admin API and /metrics about itself: its metric families, its
// partitions with their offsets, the committed offsets of the consumer groups it coordinates,
// and a summary for /v1/shards. Every function here runs on the calling shard, reads only that
// shard's state, never suspends, and returns plain values that move to the asking shard
// (scrape.h gathers them with submit_to).
//
// Each shard's services may be absent (before start_shard, after stop_shard, or while the
// broker starts): what is missing is left out, never dereferenced.

#include <cstdint>
#include <string>
#include <vector>

#include "reactor/metrics/metrics.h"

namespace wharf::metrics {

struct partition_row {
    std::string topic;
    int32_t partition = 0;
    bool internal = false;
    unsigned shard = 0;
    uint32_t log_partition = 0;
    // -1 when the shard's log does not know the partition (yet).
    int64_t start_offset = -1;
    int64_t high_watermark = -1;
};

struct group_offset_row {
    std::string group;
    std::string topic;
    int32_t partition = 0;
    int64_t committed_offset = 0;
};

struct shard_summary {
    unsigned shard = 0;
    bool running = false;  // the shard's log and raft group are up
    size_t partitions = 0;
    uint64_t log_bytes = 0;
    size_t segments = 0;
    uint64_t tail_cache_bytes = 0;
    uint64_t memory_budget_bytes = 0;
    double utilization = 0;
    size_t kafka_connections = 0;
    uint64_t raft_term = 0;
    bool raft_leader = false;
    uint64_t raft_commit_index = 0;
};

// The share of time this shard's loop was busy (0..1), over the last window of at least a
// second that ended at a previous call (the first call: since the shard started).
double local_utilization();

// This shard's part of a scrape: every family (reactor, log, raft, Kafka listener and requests,
// memory, groups), its partitions and its groups' committed offsets. The partitions are walked
// once (their count is a family) and so are the groups (states, members and offsets).
struct shard_scrape {
    metric_families families;
    std::vector<partition_row> partitions;
    std::vector<group_offset_row> offsets;
};

shard_summary local_shard_summary();
// The Kafka partitions this shard owns: a count over the metadata snapshot, nothing read from
// the log or raft.
size_t local_partition_count();
std::vector<partition_row> local_partitions();
shard_scrape local_scrape();

}  // namespace wharf::metrics
