// The read side of the partition operations (partition_ops.h): Fetch, ListOffsets,
// DeleteRecords and OffsetForLeaderEpoch on the owning shard. Produce is in produce_ops.cc.

#include "core/kafka/partition_ops.h"

#include <algorithm>

#include "core/kafka/errors.h"
#include "core/shard_services.h"
#include "log/record_batch.h"
#include "reactor/clock.h"

namespace wharf::kafka {

namespace {

// The leader-epoch check of Fetch v9+ and ListOffsets v4+ (KIP-320): -1 skips it.
error_code check_epoch(int32_t requested, int32_t current) {
    if (requested < 0 || requested == current) return error_code::none;
    return requested < current ? error_code::fenced_leader_epoch
                               : error_code::unknown_leader_epoch;
}

}  // namespace

task<std::vector<fetch_part_result>> fetch_on_shard(std::vector<fetch_part> parts,
                                                    size_t max_bytes_total,
                                                    std::optional<wake_target> wait) {
    shard_services& s = *local_services();
    std::vector<fetch_part_result> out(parts.size());
    if (wait) {
        for (const auto& p : parts) local_partition_waiters().add(p.log_partition, *wait);
    }
    size_t budget = max_bytes_total;
    bool have_data = false;
    for (size_t i = 0; i < parts.size(); ++i) {
        const fetch_part& p = parts[i];
        fetch_part_result& r = out[i];
        r.leader_epoch = s.raft->leader_epoch();
        auto hwm = s.raft->high_watermark(p.log_partition);
        auto start = s.log->start_offset(p.log_partition);
        if (!hwm || !start) {
            r.error_code = code(to_kafka_error(!hwm ? hwm.error() : start.error()));
            continue;
        }
        r.high_watermark = hwm->value();
        r.log_start_offset = start->value();
        if (auto e = check_epoch(p.current_leader_epoch, r.leader_epoch); e != error_code::none) {
            r.error_code = code(e);
            continue;
        }
        if (p.fetch_offset < r.log_start_offset || p.fetch_offset > r.high_watermark) {
            r.error_code = code(error_code::offset_out_of_range);
            continue;
        }
        if (p.fetch_offset == r.high_watermark || p.max_bytes <= 0) continue;
        // Kafka returns at least one whole batch for the first partition with data, even past
        // the limits, so that a consumer always makes progress.
        if (budget == 0 && have_data) continue;
        size_t limit = std::min<size_t>(static_cast<size_t>(p.max_bytes), budget);
        auto read = co_await s.log->read(p.log_partition, kafka_offset(p.fetch_offset),
                                         std::max<size_t>(limit, 1));
        if (!read) {
            r.error_code = code(to_kafka_error(read.error()));
            continue;
        }
        r.records = std::move(*read);
        budget -= std::min(budget, r.records.size());
        have_data = have_data || r.records.size() > 0;
    }
    co_return out;
}

task<std::vector<offset_answer>> list_offsets_on_shard(std::vector<offset_query> queries) {
    shard_services& s = *local_services();
    std::vector<offset_answer> out(queries.size());
    for (size_t i = 0; i < queries.size(); ++i) {
        const offset_query& q = queries[i];
        offset_answer& a = out[i];
        a.leader_epoch = s.raft->leader_epoch();
        if (auto e = check_epoch(q.current_leader_epoch, a.leader_epoch); e != error_code::none) {
            a.error_code = code(e);
            continue;
        }
        auto hwm = s.raft->high_watermark(q.log_partition);
        auto start = s.log->start_offset(q.log_partition);
        if (!hwm || !start) {
            a.error_code = code(to_kafka_error(!hwm ? hwm.error() : start.error()));
            continue;
        }
        if (q.timestamp == -2) {
            a.offset = start->value();
        } else if (q.timestamp == -1) {
            a.offset = hwm->value();
        } else if (q.timestamp == -3) {
            // The batch holding the greatest timestamp: the first whose running maximum reaches
            // the partition's maximum. Offsets are batch-granular (its last record).
            auto last = s.log->find_offset(q.log_partition, *hwm - 1);
            if (!last || !*last || *hwm == *start) continue;
            auto b = s.log->find_timestamp(q.log_partition, (*last)->max_timestamp);
            if (b && *b) {
                a.offset = (*b)->last_offset.value();
                a.timestamp = (*b)->max_timestamp.value();
            }
        } else if (q.timestamp >= 0) {
            auto b = s.log->find_timestamp(q.log_partition, timestamp_ms(q.timestamp));
            if (!b) {
                a.error_code = code(to_kafka_error(b.error()));
            } else if (*b) {
                a.offset = std::max((*b)->base_offset, *start).value();
                a.timestamp = (*b)->max_timestamp.value();
            }
            // No batch at or after the time: offset -1, timestamp -1, as Kafka answers.
        } else {
            a.error_code = code(error_code::invalid_request);
        }
    }
    co_return out;
}

task<std::vector<offset_answer>> delete_records_on_shard(std::vector<offset_query> queries) {
    shard_services& s = *local_services();
    std::vector<offset_answer> out(queries.size());
    for (size_t i = 0; i < queries.size(); ++i) {
        const offset_query& q = queries[i];
        offset_answer& a = out[i];
        auto hwm = s.raft->high_watermark(q.log_partition);
        if (!hwm) {
            a.error_code = code(to_kafka_error(hwm.error()));
            continue;
        }
        int64_t target = q.timestamp == -1 ? hwm->value() : q.timestamp;
        if (target < 0 || target > hwm->value()) {
            a.error_code = code(error_code::offset_out_of_range);
            continue;
        }
        auto moved = co_await s.log->set_start_offset(q.log_partition, kafka_offset(target),
                                                      s.raft->term());
        if (!moved) {
            a.error_code = code(to_kafka_error(moved.error()));
            continue;
        }
        auto start = s.log->start_offset(q.log_partition);
        a.offset = start ? start->value() : -1;
    }
    co_return out;
}

task<std::vector<offset_answer>> end_offsets_for_epochs_on_shard(
    std::vector<offset_query> queries) {
    shard_services& s = *local_services();
    std::vector<offset_answer> out(queries.size());
    for (size_t i = 0; i < queries.size(); ++i) {
        const offset_query& q = queries[i];
        offset_answer& a = out[i];
        int32_t current = s.raft->leader_epoch();
        if (auto e = check_epoch(q.current_leader_epoch, current); e != error_code::none) {
            a.error_code = code(e);
            continue;
        }
        auto hwm = s.raft->high_watermark(q.log_partition);
        if (!hwm) {
            a.error_code = code(to_kafka_error(hwm.error()));
            continue;
        }
        auto requested = static_cast<int32_t>(q.timestamp);
        if (requested > current) {
            // An epoch this leader never had: Kafka answers UNDEFINED (-1, -1).
            continue;
        }
        // A single broker never truncates its log, so no epoch diverges: every epoch up to the
        // current one ends, for a follower's purposes, at the log end. (Multi-broker raft keeps
        // an epoch -> start offset table; see issue 7.)
        a.leader_epoch = requested;
        a.offset = hwm->value();
    }
    co_return out;
}

}  // namespace wharf::kafka
