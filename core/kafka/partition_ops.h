#pragma once

// The partition side of the Kafka data path: what a handler sends to the shard that owns the
// partitions (with submit_to, the payload buffers moving with the message) and what comes back.
// Everything here runs on the owning shard against its log and raft group. Plain values in and
// out, so that they cross shards by move.

#include <cstdint>
#include <optional>
#include <string>
#include <vector>

#include "core/cluster/topic_config.h"
#include "core/kafka/fetch_wakeup.h"
#include "reactor/base/ids.h"
#include "reactor/iobuf.h"
#include "reactor/task.h"

namespace wharf::kafka {

// --- Produce ---------------------------------------------------------------------------------
struct produce_part {
    partition_id log_partition;
    raft_group_id group{0};  // the partition's raft group on the shard
    iobuf records;
    int32_t max_message_bytes = 0;
    topic_compression compression = topic_compression::producer;
    // acks=all waits for the raft commit; acks=1 (and 0) for the leader's durable append.
    bool await_commit = true;
};

struct produce_part_result {
    int16_t error_code = 0;
    int64_t base_offset = -1;
    int64_t log_append_time_ms = -1;
    int64_t log_start_offset = -1;
    std::optional<std::string> error_message;
};

// Appends each part (one or more record batches) through the shard's raft group and completes
// once they are committed (acks=all) or durable on this leader (acks=1). Every append is queued before the first suspension, so that requests
// that reach the shard in order append in order.
task<std::vector<produce_part_result>> produce_on_shard(std::vector<produce_part> parts);

// --- Fetch -----------------------------------------------------------------------------------
struct fetch_part {
    partition_id log_partition;
    raft_group_id group{0};  // the partition's raft group on the shard
    int64_t fetch_offset = 0;
    int32_t max_bytes = 0;
    int32_t current_leader_epoch = -1;
    // Fetch v12+ (KIP-320): the epoch of the last batch the consumer read; -1 skips the check.
    int32_t last_fetched_epoch = -1;
};

struct fetch_part_result {
    int16_t error_code = 0;
    int64_t high_watermark = -1;
    int64_t log_start_offset = -1;
    // The group's leader as this shard's raft replica knows it (-1 when unknown) and its epoch:
    // where a refused fetch is sent (KIP-951).
    int32_t leader_id = -1;
    int32_t leader_epoch = -1;
    // Set when the consumer's last fetched epoch ended on this leader before its fetch offset
    // (or never had a batch here): the log it read diverged from this one, and the answer is
    // that epoch's end instead of records (Fetch v12+ DivergingEpoch).
    int32_t diverging_epoch = -1;
    int64_t diverging_end_offset = -1;
    bool diverged() const noexcept { return diverging_end_offset >= 0; }
    iobuf records;
};

// Reads each part (at most max_bytes_total in all, at least one batch for the first part with
// data). With `wait`, the fetch is registered on every part's partition before reading, so that
// an append that lands during or after the read wakes it.
task<std::vector<fetch_part_result>> fetch_on_shard(std::vector<fetch_part> parts,
                                                    size_t max_bytes_total,
                                                    std::optional<wake_target> wait);

// --- ListOffsets, DeleteRecords, OffsetForLeaderEpoch ---------------------------------------
struct offset_query {
    partition_id log_partition;
    raft_group_id group{0};  // the partition's raft group on the shard
    int64_t timestamp = -1;  // -1 latest, -2 earliest, -3 max timestamp, else a time
    int32_t current_leader_epoch = -1;
};

struct offset_answer {
    int16_t error_code = 0;
    int64_t offset = -1;
    int64_t timestamp = -1;
    int32_t leader_epoch = -1;
};

task<std::vector<offset_answer>> list_offsets_on_shard(std::vector<offset_query> queries);

// DeleteRecords: moves each partition's log start offset to `offset` (-1: the high watermark);
// the answer's offset is the new low watermark.
task<std::vector<offset_answer>> delete_records_on_shard(std::vector<offset_query> queries);

// OffsetForLeaderEpoch: `timestamp` carries the requested epoch; the answer is the end offset of
// that epoch and the epoch itself.
task<std::vector<offset_answer>> end_offsets_for_epochs_on_shard(std::vector<offset_query> queries);

}  // namespace wharf::kafka

namespace wharf::kafka {

// Start-up, before the listener accepts: rebuilds the idempotent producers' state of the calling
// shard's partitions from the tail of their logs (produce_ops.cc says how far back).
task<void> rebuild_producer_state(std::vector<partition_id> partitions);
// Shutdown: drops the calling shard's producer state.
void forget_producer_state();

}  // namespace wharf::kafka
