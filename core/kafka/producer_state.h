#pragma once

// Idempotent-producer state of one partition: for each producer id, its epoch and the last five
// batches it wrote, as Kafka's ProducerStateManager keeps them, and the checks Kafka makes on
// every produced batch (ProducerAppendInfo, Kafka 3.x / 4.x, non-transactional producers).
//
// Rules for a batch (producer_id, epoch, base_sequence, record_count), in this order:
//  - producer_id < 0: not idempotent; accepted and not tracked.
//  - the same epoch and the same first and last sequence as one of the producer's last five
//    batches: a duplicate (a retry). The original's offsets come back; Kafka answers success with
//    the original base offset (and the original's timestamp as log_append_time).
//  - epoch < the producer's epoch: invalid_producer_epoch (INVALID_PRODUCER_EPOCH, 47).
//  - epoch > the producer's epoch: the sequence must be 0, else out_of_order_sequence (45).
//  - the same epoch: base_sequence must follow the last batch's last sequence (with int32
//    wrap-around: after INT32_MAX comes 0), else out_of_order_sequence.
//  - a producer this partition does not know: any sequence is accepted. This is modern Kafka's
//    rule (since 2.5, KIP-360): the state may have been lost to retention or eviction, and the
//    old UNKNOWN_PRODUCER_ID answer made clients reset. Kafka's stricter rule for
//    transactions-v2 producers does not apply: Wharf has no transactions.
//
// Asynchronous appends. A batch is checked, then written; the write may fail. check() therefore
// reserves the batch's sequences, so that a batch pipelined right behind it is checked as if
// the first had been written, and the outcome is reported later: complete() once the batch is
// durable, abort() when its write failed. Reservations of one producer resolve in the order they
// were made (completions may arrive in any order; the state advances in reservation order).
// After an abort, the producer's later reservations are doomed: their sequences assume batches
// that never reached the log.
//  - A doomed reservation whose write has not started should be aborted (is_doomed() says so).
//  - A doomed reservation that completes was written after a hole: complete() records it (it is
//    in the log, and the state must say what the log says, or a retry would be written twice)
//    and returns out_of_order_sequence for the handler to answer.
//  - While a doomed reservation is still in flight, a new batch of that producer gets
//    in_flight_conflict: its fate decides what the next sequence is.
//  - A retry of a batch that is still in flight gets in_flight_conflict too (its offsets are not
//    known yet).
// in_flight_conflict is for the handler to answer with a retriable error (REQUEST_TIMED_OUT, 7,
// which kafka_error_code gives) or to wait for the earlier batch and check again; never a fatal
// one.
//
// Rebuild. At start-up the handler scans the partition's batches in log order and calls observe()
// for each: no checks, as Kafka loads its state from the log. The result answers every check as
// the live state did.
//
// Bounds. At most max_producers producers are tracked; beyond that the least recently used one
// with nothing in flight is forgotten (and then treated as unknown, see above). Kafka instead
// expires producers after producer.id.expiration.ms; Wharf does not expire by time yet. At most
// max_in_flight_per_producer reservations per producer (Kafka clients keep at most 5 in flight);
// more get in_flight_conflict.
//
// Lifecycle: one per partition, on the partition's owning shard; not thread-safe, copyable.

#include <cstdint>
#include <deque>
#include <map>
#include <optional>
#include <string>
#include <unordered_map>
#include <vector>

#include "log/record_batch.h"
#include "reactor/base/ids.h"

namespace wharf {

enum class produce_check_outcome : uint8_t {
    accepted,
    duplicate,  // a retry of a written batch: answer success with duplicate_of's offsets
    invalid_producer_epoch,
    out_of_order_sequence,
    in_flight_conflict,  // retriable; see the file comment
    invalid_record,      // an idempotent batch with a negative sequence, epoch or record count
};

// The Kafka error code for an outcome: 0 (NONE) for accepted and duplicate,
// INVALID_PRODUCER_EPOCH 47, OUT_OF_ORDER_SEQUENCE_NUMBER 45, REQUEST_TIMED_OUT 7,
// INVALID_RECORD 87.
int16_t kafka_error_code(produce_check_outcome o) noexcept;

// The header fields of a batch that the checks read.
struct producer_batch {
    int64_t producer_id = -1;
    int16_t epoch = -1;
    int32_t base_sequence = -1;
    int32_t record_count = 0;  // the batch's last_offset_delta + 1

    static producer_batch from(const batch_header& h) noexcept {
        return {h.producer_id, h.producer_epoch, h.base_sequence, h.last_offset_delta + 1};
    }
};

// What is kept of one written batch.
struct batch_metadata {
    int32_t first_seq = 0;
    int32_t last_seq = 0;
    kafka_offset base_offset{0};
    kafka_offset last_offset{0};
    timestamp_ms max_timestamp{0};
    bool operator==(const batch_metadata&) const = default;
};

// The last sequence of a batch: base + count - 1, wrapping past INT32_MAX to 0.
int32_t last_sequence(int32_t base_sequence, int32_t record_count) noexcept;

// A batch accepted by check(); give it back to complete() or abort(). Empty (token 0) for a
// batch that is not idempotent: complete() and abort() accept it and do nothing.
struct producer_reservation {
    int64_t producer_id = -1;
    uint64_t token = 0;
    bool empty() const noexcept { return token == 0; }
};

struct producer_check {
    produce_check_outcome outcome = produce_check_outcome::accepted;
    producer_reservation reservation;  // when accepted
    batch_metadata duplicate_of;       // when duplicate
};

// What a producer's durable state is (for tests, logs and admin APIs).
struct producer_view {
    int16_t epoch = -1;
    std::vector<batch_metadata> batches;  // oldest first, at most batches_retained
    size_t in_flight = 0;                 // reservations not yet resolved
};

class producer_state_manager {
public:
    static constexpr size_t batches_retained = 5;  // Kafka's NUM_BATCHES_TO_RETAIN
    static constexpr size_t default_max_producers = 10000;
    static constexpr size_t max_in_flight_per_producer = 64;

    explicit producer_state_manager(size_t max_producers = default_max_producers);

    // Checks b against the producer's state plus its reservations in flight; reserves b's
    // sequences when accepted.
    producer_check check(const producer_batch& b);

    // r's batch is durable at [base_offset, last_offset]. Returns accepted, or
    // out_of_order_sequence when r was doomed by an earlier abort (the batch is recorded
    // anyway). REQUIRES: r came from check() and was neither completed nor aborted.
    produce_check_outcome complete(const producer_reservation& r, kafka_offset base_offset,
                                   kafka_offset last_offset, timestamp_ms max_timestamp);
    // r's batch was not written. REQUIRES: as for complete().
    void abort(const producer_reservation& r);
    // Whether an earlier reservation of r's producer was aborted (see the file comment).
    bool is_doomed(const producer_reservation& r) const;

    // Rebuild from the log: records b as written at [base_offset, last_offset], unchecked.
    // Ignores batches that are not idempotent. REQUIRES: nothing in flight for the producer.
    void observe(const producer_batch& b, kafka_offset base_offset, kafka_offset last_offset,
                 timestamp_ms max_timestamp);

    std::optional<producer_view> find(int64_t producer_id) const;
    // One line on what the producer's state is, durable batches and reservations (for the log
    // line of an OUT_OF_ORDER_SEQUENCE_NUMBER answer).
    std::string describe(int64_t producer_id) const;
    size_t producer_count() const noexcept { return _producers.size(); }

private:
    enum class pending_state : uint8_t { in_flight, done, aborted };
    struct pending_batch {
        uint64_t token;
        int16_t epoch;
        pending_state state = pending_state::in_flight;
        bool doomed = false;
        batch_metadata meta;  // sequences at check(), offsets once done
    };
    struct producer_entry {
        int16_t epoch = -1;  // of the durable batches; -1 before the first
        std::deque<batch_metadata> batches;
        std::deque<pending_batch> pending;  // in reservation order
        uint64_t last_used = 0;             // key in _lru
    };
    // The producer's state as it will be once everything in flight is written.
    struct projection {
        int16_t epoch = -1;
        std::vector<const pending_batch*> window_pending;  // parallel to window
        std::vector<batch_metadata> window;                // the last five, oldest first
        bool in_flight_doomed = false;
    };

    projection project(const producer_entry& e) const;
    producer_check check_known(int64_t pid, producer_entry& e, const producer_batch& b,
                               int32_t last_seq);
    pending_batch& find_pending(const producer_reservation& r);
    static void record(producer_entry& e, int16_t epoch, const batch_metadata& meta);
    void drain(int64_t pid, producer_entry& e);
    producer_entry& get_or_create(int64_t pid);
    void touch(producer_entry& e, int64_t pid);
    void evict_beyond_bound();

    size_t _max_producers;
    std::unordered_map<int64_t, producer_entry> _producers;
    // last_used tick -> producer id; the first entry is the least recently used.
    std::map<uint64_t, int64_t> _lru;
    uint64_t _clock = 0;
    uint64_t _next_token = 1;
};

}  // namespace wharf
