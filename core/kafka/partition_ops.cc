// The read side of the partition operations (partition_ops.h): Fetch, ListOffsets,
// DeleteRecords and OffsetForLeaderEpoch on the owning shard. Produce is in produce_ops.cc.

#include "core/kafka/partition_ops.h"

#include <algorithm>

#include "core/kafka/errors.h"
#include "core/shard_services.h"
#include "log/compression.h"
#include "log/record_batch.h"
#include "log/record_reader.h"
#include "reactor/clock.h"

namespace wharf::kafka {

namespace {

// The leader-epoch check of Fetch v9+ and ListOffsets v4+ (KIP-320): -1 skips it.
error_code check_epoch(int32_t requested, int32_t current) {
    if (requested < 0 || requested == current) return error_code::none;
    return requested < current ? error_code::fenced_leader_epoch
                               : error_code::unknown_leader_epoch;
}

// The record a timestamp lookup lands on, as Kafka's FileRecords.searchForTimestamp finds it:
// the first record, at or after `start`, whose timestamp is at least `target`, in the batches
// read from `from` on. Only the batches whose own maxTimestamp reaches the target are opened.
struct record_hit {
    int64_t offset = -1;
    int64_t timestamp = -1;
};

// The first record of one batch (the whole batch in `bytes`) at or after start with a timestamp
// of at least target; nullopt when none (or when the records cannot be read: a codec without a
// decoder here, which then answers with the batch's first offset and maximum, as before).
std::optional<record_hit> search_batch(std::span<const std::byte> bytes, const batch_header& h,
                                       int64_t target, int64_t start) {
    if (h.max_timestamp < target) return std::nullopt;
    if (h.ts_type() == timestamp_type::log_append_time ||
        (h.compression() != compression_type::none && h.compression() != compression_type::zstd)) {
        // Every record of a LogAppendTime batch carries maxTimestamp.
        int64_t first = std::max(h.base_offset.value(), start);
        if (first > h.last_offset().value()) return std::nullopt;
        return record_hit{first, h.max_timestamp};
    }
    std::span<const std::byte> records = batch_records(bytes);
    std::vector<std::byte> inflated;
    if (h.compression() == compression_type::zstd) {
        auto out = zstd_decompress(records, batch_limits{}.max_uncompressed_bytes);
        if (!out) return std::nullopt;
        inflated = std::move(*out);
        records = inflated;
    }
    record_reader reader(records, h.records_count);
    while (!reader.at_end()) {
        auto r = reader.next();
        if (!r) return std::nullopt;
        int64_t offset = h.base_offset.value() + r->offset_delta;
        int64_t ts = h.base_timestamp + r->timestamp_delta;
        if (offset >= start && ts >= target) return record_hit{offset, ts};
    }
    return std::nullopt;
}

constexpr size_t timestamp_search_read_bytes = 1 << 20;

task<record_hit> search_timestamp(shard_log& log, partition_id p, kafka_offset from, int64_t target,
                                  int64_t start) {
    auto read = co_await log.read(p, from, timestamp_search_read_bytes);
    if (!read || read->size() == 0) co_return record_hit{};
    auto bytes = read->linearize(0, read->size());
    while (!bytes.empty()) {
        auto h = read_batch_header(bytes);
        if (!h) break;
        if (auto hit = search_batch(bytes.first(h->total_bytes()), *h, target, start)) {
            co_return *hit;
        }
        bytes = bytes.subspan(h->total_bytes());
    }
    co_return record_hit{};
}

// Where leader epoch `requested` (at most `current`, the raft term this replica leads in) ended
// in the partition, as OffsetForLeaderEpoch and Fetch's diverging-epoch check need it. The current
// epoch runs to the log's end; an earlier one ends where the partition's first batch of a later
// epoch begins (shard_log::end_offset_for_epoch), which may be this leader's first batch. Never
// past the high watermark: a consumer sees nothing beyond it, and what lies beyond it is not
// committed, so a later leader may replace it.
task<result<epoch_end>> epoch_end_offset(shard_log& log, partition_id p, int32_t requested,
                                         int32_t current, kafka_offset hwm) {
    epoch_end end{current, hwm};
    if (requested < current) {
        auto found = co_await log.end_offset_for_epoch(p, requested);
        if (!found) co_return found.error();
        end = *found;
    }
    end.end_offset = std::min(end.end_offset, hwm);
    co_return end;
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
        group_ref g = s.group(p.group);
        if (!g) {
            r.error_code = code(error_code::not_leader_or_follower);
            continue;
        }
        r.leader_epoch = g.raft->leader_epoch();
        if (auto leader = g.raft->leader()) r.leader_id = leader->value();
        // Consumers read from leaders only (no follower fetching, KIP-392).
        if (!g.raft->is_leader()) {
            r.error_code = code(error_code::not_leader_or_follower);
            continue;
        }
        auto hwm = g.raft->high_watermark(p.log_partition);
        auto start = g.log->start_offset(p.log_partition);
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
        if (p.fetch_offset < r.log_start_offset) {
            r.error_code = code(error_code::offset_out_of_range);
            continue;
        }
        // Kafka's Partition.fetchRecords: an epoch the consumer read that ended here before its
        // position means its log and this one diverged. (Its own epoch, or none, cannot.)
        if (p.last_fetched_epoch >= 0 && p.last_fetched_epoch < r.leader_epoch) {
            auto end = co_await epoch_end_offset(*g.log, p.log_partition, p.last_fetched_epoch,
                                                 r.leader_epoch, *hwm);
            if (!end) {
                r.error_code = code(to_kafka_error(end.error()));
                continue;
            }
            if (end->epoch < p.last_fetched_epoch || end->end_offset.value() < p.fetch_offset) {
                r.diverging_epoch = end->epoch;
                r.diverging_end_offset = end->end_offset.value();
                continue;
            }
        }
        if (p.fetch_offset > r.high_watermark) {
            r.error_code = code(error_code::offset_out_of_range);
            continue;
        }
        if (p.fetch_offset == r.high_watermark || p.max_bytes <= 0) continue;
        // Kafka returns at least one whole batch for the first partition with data, even past
        // the limits, so that a consumer always makes progress.
        if (budget == 0 && have_data) continue;
        size_t limit = std::min<size_t>(static_cast<size_t>(p.max_bytes), budget);
        auto read = co_await g.log->read(p.log_partition, kafka_offset(p.fetch_offset),
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
        group_ref g = s.group(q.group);
        if (!g) {
            a.error_code = code(error_code::not_leader_or_follower);
            continue;
        }
        a.leader_epoch = g.raft->leader_epoch();
        if (!g.raft->is_leader()) {
            a.error_code = code(error_code::not_leader_or_follower);
            continue;
        }
        if (auto e = check_epoch(q.current_leader_epoch, a.leader_epoch); e != error_code::none) {
            a.error_code = code(e);
            continue;
        }
        auto hwm = g.raft->high_watermark(q.log_partition);
        auto start = g.log->start_offset(q.log_partition);
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
            auto last = g.log->find_offset(q.log_partition, *hwm - 1);
            if (!last || !*last || *hwm == *start) continue;
            auto b = g.log->find_timestamp(q.log_partition, (*last)->max_timestamp);
            if (b && *b) {
                // The first record holding the maximum (KIP-734; Kafka 3.8+ reads the records).
                auto hit =
                    co_await search_timestamp(*g.log, q.log_partition, (*b)->base_offset,
                                              (*last)->max_timestamp.value(), start->value());
                a.offset = hit.offset;
                a.timestamp = hit.timestamp;
            }
        } else if (q.timestamp >= 0) {
            auto b = g.log->find_timestamp(q.log_partition, timestamp_ms(q.timestamp));
            if (!b) {
                a.error_code = code(to_kafka_error(b.error()));
            } else if (*b) {
                auto hit = co_await search_timestamp(*g.log, q.log_partition, (*b)->base_offset,
                                                     q.timestamp, start->value());
                a.offset = hit.offset;
                a.timestamp = hit.timestamp;
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
        group_ref g = s.group(q.group);
        if (!g) {
            a.error_code = code(error_code::not_leader_or_follower);
            continue;
        }
        auto hwm = g.raft->high_watermark(q.log_partition);
        if (!hwm) {
            a.error_code = code(to_kafka_error(hwm.error()));
            continue;
        }
        int64_t target = q.timestamp == -1 ? hwm->value() : q.timestamp;
        if (target < 0 || target > hwm->value()) {
            a.error_code = code(error_code::offset_out_of_range);
            continue;
        }
        // A control entry, a raft entry: written by the leader only.
        auto term = co_await g.raft->ready_to_append();
        if (!term) {
            a.error_code = code(to_kafka_error(term.error()));
            continue;
        }
        auto moved = co_await g.log->set_start_offset(q.log_partition, kafka_offset(target), *term);
        if (!moved) {
            a.error_code = code(to_kafka_error(moved.error()));
            continue;
        }
        auto start = g.log->start_offset(q.log_partition);
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
        group_ref g = s.group(q.group);
        if (!g) {
            a.error_code = code(error_code::not_leader_or_follower);
            continue;
        }
        int32_t current = g.raft->leader_epoch();
        if (!g.raft->is_leader()) {
            a.error_code = code(error_code::not_leader_or_follower);
            continue;
        }
        if (auto e = check_epoch(q.current_leader_epoch, current); e != error_code::none) {
            a.error_code = code(e);
            continue;
        }
        auto hwm = g.raft->high_watermark(q.log_partition);
        if (!hwm) {
            a.error_code = code(to_kafka_error(hwm.error()));
            continue;
        }
        auto requested = static_cast<int32_t>(q.timestamp);
        if (requested < 0 || requested > current) {
            // An epoch this leader never had: Kafka answers UNDEFINED (-1, -1).
            continue;
        }
        auto end = co_await epoch_end_offset(*g.log, q.log_partition, requested, current, *hwm);
        if (!end) {
            a.error_code = code(to_kafka_error(end.error()));
            continue;
        }
        a.leader_epoch = end->epoch;
        a.offset = end->end_offset.value();
    }
    co_return out;
}

}  // namespace wharf::kafka
