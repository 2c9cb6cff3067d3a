// Idempotent producer state: Kafka's sequence and epoch rules, reservations for asynchronous
// appends, rebuild from the log, and the bound on producers.

#include <gtest/gtest.h>

#include <limits>
#include <random>

#include "core/kafka/producer_state.h"

namespace wharf {
namespace {

using outcome = produce_check_outcome;
constexpr int32_t int32_max = std::numeric_limits<int32_t>::max();

// A partition log in miniature: appends accepted batches at the next offsets and remembers them
// for a rebuild.
struct fake_partition {
    producer_state_manager state;
    int64_t next_offset = 0;
    struct written {
        producer_batch batch;
        kafka_offset base, last;
        timestamp_ms ts;
    };
    std::vector<written> log;

    // check + immediate durable write; returns the outcome and the base offset answered.
    std::pair<outcome, int64_t> produce(producer_batch b) {
        auto c = state.check(b);
        if (c.outcome == outcome::duplicate) return {c.outcome, c.duplicate_of.base_offset.value()};
        if (c.outcome != outcome::accepted) return {c.outcome, -1};
        auto base = write(b);
        EXPECT_EQ(state.complete(c.reservation, base, base + (b.record_count - 1),
                                 timestamp_ms(base.value() * 10)),
                  outcome::accepted);
        return {outcome::accepted, base.value()};
    }
    kafka_offset write(const producer_batch& b) {
        kafka_offset base(next_offset);
        next_offset += b.record_count;
        log.push_back({b, base, base + (b.record_count - 1), timestamp_ms(base.value() * 10)});
        return base;
    }
    producer_state_manager rebuild() const {
        producer_state_manager s;
        for (const auto& w : log) s.observe(w.batch, w.base, w.last, w.ts);
        return s;
    }
};

producer_batch batch(int64_t pid, int16_t epoch, int32_t seq, int32_t count) {
    return {.producer_id = pid, .epoch = epoch, .base_sequence = seq, .record_count = count};
}

TEST(producer_state, last_sequence_wraps) {
    EXPECT_EQ(last_sequence(0, 1), 0);
    EXPECT_EQ(last_sequence(10, 5), 14);
    EXPECT_EQ(last_sequence(int32_max, 1), int32_max);
    EXPECT_EQ(last_sequence(int32_max, 2), 0);
    EXPECT_EQ(last_sequence(int32_max - 1, 5), 2);
}

TEST(producer_state, non_idempotent_batches_are_not_tracked) {
    producer_state_manager s;
    for (int i = 0; i < 3; ++i) {
        auto c = s.check(batch(-1, -1, -1, 3));
        EXPECT_EQ(c.outcome, outcome::accepted);
        EXPECT_TRUE(c.reservation.empty());
        EXPECT_EQ(s.complete(c.reservation, kafka_offset(0), kafka_offset(2), timestamp_ms(0)),
                  outcome::accepted);
        s.abort(c.reservation);
    }
    EXPECT_EQ(s.producer_count(), 0u);
}

TEST(producer_state, in_sequence_batches_are_accepted) {
    fake_partition p;
    EXPECT_EQ(p.produce(batch(7, 0, 0, 3)).first, outcome::accepted);
    EXPECT_EQ(p.produce(batch(7, 0, 3, 1)).first, outcome::accepted);
    EXPECT_EQ(p.produce(batch(7, 0, 4, 10)).first, outcome::accepted);
    EXPECT_EQ(p.produce(batch(7, 0, 15, 1)).first, outcome::out_of_order_sequence);  // gap
    EXPECT_EQ(p.produce(batch(7, 0, 13, 1)).first, outcome::out_of_order_sequence);  // overlap
    EXPECT_EQ(p.produce(batch(7, 0, 14, 1)).first, outcome::accepted);
    auto v = p.state.find(7);
    ASSERT_TRUE(v);
    EXPECT_EQ(v->epoch, 0);
    ASSERT_EQ(v->batches.size(), 4u);
    EXPECT_EQ(v->batches.back().first_seq, 14);
    EXPECT_EQ(v->batches.back().base_offset, kafka_offset(14));
    // Producers are independent.
    EXPECT_EQ(p.produce(batch(8, 0, 0, 1)).first, outcome::accepted);
    EXPECT_EQ(p.produce(batch(7, 0, 15, 1)).first, outcome::accepted);
}

TEST(producer_state, each_of_the_last_five_is_a_duplicate_and_the_sixth_is_not) {
    fake_partition p;
    std::vector<int64_t> bases;
    for (int i = 0; i < 6; ++i) bases.push_back(p.produce(batch(1, 2, i * 2, 2)).second);
    // Batches 1..5 are retained: each retry answers the original offset and writes nothing.
    for (int i = 1; i < 6; ++i) {
        auto [o, base] = p.produce(batch(1, 2, i * 2, 2));
        EXPECT_EQ(o, outcome::duplicate) << i;
        EXPECT_EQ(base, bases[size_t(i)]);
    }
    EXPECT_EQ(p.log.size(), 6u);
    auto c = p.state.check(batch(1, 2, 6, 2));
    EXPECT_EQ(c.duplicate_of.last_offset, kafka_offset(bases[3] + 1));
    EXPECT_EQ(c.duplicate_of.max_timestamp, timestamp_ms(bases[3] * 10));
    // The oldest fell out of the window: out of order, not a duplicate.
    EXPECT_EQ(p.produce(batch(1, 2, 0, 2)).first, outcome::out_of_order_sequence);
    // A batch overlapping a retained one without matching it exactly is out of order too.
    EXPECT_EQ(p.produce(batch(1, 2, 6, 1)).first, outcome::out_of_order_sequence);
    // A duplicate must match the epoch as well.
    EXPECT_EQ(p.produce(batch(1, 1, 10, 2)).first, outcome::invalid_producer_epoch);
}

TEST(producer_state, sequence_wraps_to_zero) {
    fake_partition p;
    EXPECT_EQ(p.produce(batch(3, 0, int32_max - 4, 5)).first, outcome::accepted);  // unknown
    EXPECT_EQ(p.produce(batch(3, 0, 0, 2)).first, outcome::accepted);
    EXPECT_EQ(p.produce(batch(3, 0, 2, 1)).first, outcome::accepted);
    // A batch that itself crosses the wrap.
    fake_partition q;
    EXPECT_EQ(q.produce(batch(3, 0, int32_max - 1, 4)).first, outcome::accepted);
    EXPECT_EQ(q.state.find(3)->batches.back().last_seq, 1);
    EXPECT_EQ(q.produce(batch(3, 0, int32_max - 1, 4)).first, outcome::duplicate);
    EXPECT_EQ(q.produce(batch(3, 0, 2, 1)).first, outcome::accepted);
    EXPECT_EQ(q.produce(batch(3, 0, 0, 1)).first, outcome::out_of_order_sequence);
}

TEST(producer_state, epochs) {
    fake_partition p;
    EXPECT_EQ(p.produce(batch(5, 3, 0, 2)).first, outcome::accepted);
    EXPECT_EQ(p.produce(batch(5, 3, 2, 2)).first, outcome::accepted);
    EXPECT_EQ(p.produce(batch(5, 2, 4, 1)).first, outcome::invalid_producer_epoch);
    EXPECT_EQ(p.produce(batch(5, 2, 0, 2)).first, outcome::invalid_producer_epoch);
    // A new epoch must start at sequence 0.
    EXPECT_EQ(p.produce(batch(5, 4, 4, 1)).first, outcome::out_of_order_sequence);
    EXPECT_EQ(p.produce(batch(5, 4, 0, 1)).first, outcome::accepted);
    EXPECT_EQ(p.state.find(5)->epoch, 4);
    EXPECT_EQ(p.state.find(5)->batches.size(), 1u);  // the old epoch's batches are gone
    // The old epoch's batches are no longer duplicates; old epoch is fenced.
    EXPECT_EQ(p.produce(batch(5, 3, 2, 2)).first, outcome::invalid_producer_epoch);
    EXPECT_EQ(p.produce(batch(5, 4, 1, 1)).first, outcome::accepted);
    // Epoch jumps are allowed (a bump of more than one after a restart).
    EXPECT_EQ(p.produce(batch(5, 9, 0, 1)).first, outcome::accepted);
}

TEST(producer_state, unknown_producers_accept_any_sequence) {
    // Kafka 2.5+ (KIP-360): state lost to retention or eviction must not fence the producer.
    fake_partition p;
    EXPECT_EQ(p.produce(batch(11, 0, 42, 3)).first, outcome::accepted);
    EXPECT_EQ(p.produce(batch(11, 0, 45, 1)).first, outcome::accepted);
    EXPECT_EQ(p.produce(batch(11, 0, 42, 3)).first, outcome::duplicate);
}

TEST(producer_state, malformed_idempotent_batches) {
    producer_state_manager s;
    EXPECT_EQ(s.check(batch(1, 0, -1, 1)).outcome, outcome::invalid_record);
    EXPECT_EQ(s.check(batch(1, 0, 0, 0)).outcome, outcome::invalid_record);
    EXPECT_EQ(s.check(batch(1, -1, 0, 1)).outcome, outcome::invalid_record);
    EXPECT_EQ(s.producer_count(), 0u);
    EXPECT_EQ(kafka_error_code(outcome::invalid_record), 87);
    EXPECT_EQ(kafka_error_code(outcome::out_of_order_sequence), 45);
    EXPECT_EQ(kafka_error_code(outcome::invalid_producer_epoch), 47);
    EXPECT_EQ(kafka_error_code(outcome::duplicate), 0);
}

TEST(producer_state, pipelined_batches_are_checked_against_reservations) {
    producer_state_manager s;
    auto a = s.check(batch(1, 0, 0, 5));
    auto b = s.check(batch(1, 0, 5, 5));
    auto c = s.check(batch(1, 0, 10, 5));
    ASSERT_EQ(a.outcome, outcome::accepted);
    ASSERT_EQ(b.outcome, outcome::accepted);
    ASSERT_EQ(c.outcome, outcome::accepted);
    EXPECT_EQ(s.check(batch(1, 0, 20, 1)).outcome, outcome::out_of_order_sequence);
    // A retry of a batch still in flight cannot be answered yet.
    EXPECT_EQ(s.check(batch(1, 0, 5, 5)).outcome, outcome::in_flight_conflict);
    EXPECT_EQ(s.find(1)->in_flight, 3u);
    EXPECT_TRUE(s.find(1)->batches.empty());

    // Completions out of order: the state advances in reservation order.
    EXPECT_EQ(s.complete(b.reservation, kafka_offset(5), kafka_offset(9), timestamp_ms(1)),
              outcome::accepted);
    EXPECT_TRUE(s.find(1)->batches.empty());
    // b is durable: its retry is a duplicate even before a completes.
    auto dup = s.check(batch(1, 0, 5, 5));
    EXPECT_EQ(dup.outcome, outcome::duplicate);
    EXPECT_EQ(dup.duplicate_of.base_offset, kafka_offset(5));
    EXPECT_EQ(s.complete(a.reservation, kafka_offset(0), kafka_offset(4), timestamp_ms(1)),
              outcome::accepted);
    EXPECT_EQ(s.find(1)->batches.size(), 2u);
    EXPECT_EQ(s.complete(c.reservation, kafka_offset(10), kafka_offset(14), timestamp_ms(1)),
              outcome::accepted);
    EXPECT_EQ(s.find(1)->batches.size(), 3u);
    EXPECT_EQ(s.find(1)->in_flight, 0u);
    EXPECT_EQ(s.check(batch(1, 0, 15, 1)).outcome, outcome::accepted);
}

TEST(producer_state, abort_of_the_last_reservation_allows_the_retry) {
    producer_state_manager s;
    auto a = s.check(batch(1, 0, 0, 2));
    ASSERT_EQ(s.complete(a.reservation, kafka_offset(0), kafka_offset(1), timestamp_ms(0)),
              outcome::accepted);
    auto b = s.check(batch(1, 0, 2, 2));
    EXPECT_FALSE(s.is_doomed(b.reservation));
    s.abort(b.reservation);
    auto retry = s.check(batch(1, 0, 2, 2));
    EXPECT_EQ(retry.outcome, outcome::accepted);
    EXPECT_EQ(s.complete(retry.reservation, kafka_offset(2), kafka_offset(3), timestamp_ms(0)),
              outcome::accepted);
    EXPECT_EQ(s.find(1)->batches.size(), 2u);
}

TEST(producer_state, abort_of_a_first_batch_forgets_the_producer) {
    producer_state_manager s;
    auto a = s.check(batch(1, 0, 0, 2));
    s.abort(a.reservation);
    EXPECT_EQ(s.producer_count(), 0u);
    EXPECT_EQ(s.check(batch(1, 0, 0, 2)).outcome, outcome::accepted);
}

TEST(producer_state, batches_behind_an_aborted_one_fail) {
    producer_state_manager s;
    auto a = s.check(batch(1, 0, 0, 2));
    ASSERT_EQ(s.complete(a.reservation, kafka_offset(0), kafka_offset(1), timestamp_ms(0)),
              outcome::accepted);
    auto b = s.check(batch(1, 0, 2, 2));
    auto c = s.check(batch(1, 0, 4, 2));
    auto d = s.check(batch(1, 0, 6, 2));
    s.abort(b.reservation);
    EXPECT_TRUE(s.is_doomed(c.reservation));
    EXPECT_TRUE(s.is_doomed(d.reservation));
    // While doomed batches are in flight, nothing new of this producer can be decided.
    EXPECT_EQ(s.check(batch(1, 0, 2, 2)).outcome, outcome::in_flight_conflict);
    EXPECT_EQ(s.check(batch(1, 0, 8, 2)).outcome, outcome::in_flight_conflict);
    // Other producers are not affected.
    EXPECT_EQ(s.check(batch(2, 0, 0, 1)).outcome, outcome::accepted);
    // c's write had not started: the handler aborts it. d had been written: it is recorded
    // (it is in the log) but answered out of order.
    s.abort(c.reservation);
    EXPECT_EQ(s.complete(d.reservation, kafka_offset(4), kafka_offset(5), timestamp_ms(0)),
              outcome::out_of_order_sequence);
    EXPECT_EQ(s.find(1)->batches.back().first_seq, 6);
    // The producer's retries of b and c now come after d's sequences: out of order; a retry of d
    // is a duplicate (it is in the log), so it is never written twice.
    EXPECT_EQ(s.check(batch(1, 0, 2, 2)).outcome, outcome::out_of_order_sequence);
    EXPECT_EQ(s.check(batch(1, 0, 4, 2)).outcome, outcome::out_of_order_sequence);
    EXPECT_EQ(s.check(batch(1, 0, 6, 2)).outcome, outcome::duplicate);
    // The producer recovers with a new epoch (what clients do after OUT_OF_ORDER_SEQUENCE).
    EXPECT_EQ(s.check(batch(1, 1, 0, 2)).outcome, outcome::accepted);
}

TEST(producer_state, describe_names_batches_and_reservations) {
    producer_state_manager s;
    EXPECT_EQ(s.describe(1), "unknown producer");
    auto a = s.check(batch(1, 0, 0, 2));
    s.complete(a.reservation, kafka_offset(10), kafka_offset(11), timestamp_ms(0));
    auto b = s.check(batch(1, 0, 2, 1));
    auto c = s.check(batch(1, 0, 3, 1));
    s.abort(b.reservation);
    EXPECT_EQ(s.describe(1),
              "epoch 0, batches 0..1@10, reserved 3..3 (epoch 0, in flight, doomed)");
    s.abort(c.reservation);
}

TEST(producer_state, all_doomed_batches_aborted_lets_the_retry_in) {
    producer_state_manager s;
    auto a = s.check(batch(1, 0, 0, 2));
    auto b = s.check(batch(1, 0, 2, 2));
    ASSERT_EQ(s.complete(a.reservation, kafka_offset(0), kafka_offset(1), timestamp_ms(0)),
              outcome::accepted);
    auto c = s.check(batch(1, 0, 4, 2));
    s.abort(b.reservation);
    s.abort(c.reservation);
    EXPECT_EQ(s.check(batch(1, 0, 4, 2)).outcome, outcome::out_of_order_sequence);
    auto retry = s.check(batch(1, 0, 2, 2));
    EXPECT_EQ(retry.outcome, outcome::accepted);
    EXPECT_FALSE(s.is_doomed(retry.reservation));
}

TEST(producer_state, epoch_bump_while_batches_are_in_flight) {
    producer_state_manager s;
    auto a = s.check(batch(1, 0, 0, 2));
    auto b = s.check(batch(1, 1, 0, 2));  // the producer bumped its epoch
    ASSERT_EQ(b.outcome, outcome::accepted);
    EXPECT_EQ(s.check(batch(1, 0, 2, 1)).outcome, outcome::invalid_producer_epoch);
    ASSERT_EQ(s.complete(a.reservation, kafka_offset(0), kafka_offset(1), timestamp_ms(0)),
              outcome::accepted);
    ASSERT_EQ(s.complete(b.reservation, kafka_offset(2), kafka_offset(3), timestamp_ms(0)),
              outcome::accepted);
    EXPECT_EQ(s.find(1)->epoch, 1);
    EXPECT_EQ(s.find(1)->batches.size(), 1u);
}

TEST(producer_state, in_flight_is_bounded_per_producer) {
    producer_state_manager s;
    std::vector<producer_reservation> rs;
    int32_t seq = 0;
    for (size_t i = 0; i < producer_state_manager::max_in_flight_per_producer; ++i) {
        auto c = s.check(batch(1, 0, seq++, 1));
        ASSERT_EQ(c.outcome, outcome::accepted);
        rs.push_back(c.reservation);
    }
    EXPECT_EQ(s.check(batch(1, 0, seq, 1)).outcome, outcome::in_flight_conflict);
    for (size_t i = 0; i < rs.size(); ++i) {
        auto o = kafka_offset(int64_t(i));
        EXPECT_EQ(s.complete(rs[i], o, o, timestamp_ms(0)), outcome::accepted);
    }
    EXPECT_EQ(s.check(batch(1, 0, seq, 1)).outcome, outcome::accepted);
}

TEST(producer_state, least_recently_used_producers_are_evicted) {
    producer_state_manager s(3);
    auto written = [&](int64_t pid) {
        auto c = s.check(batch(pid, 0, 0, 1));
        ASSERT_EQ(c.outcome, outcome::accepted);
        ASSERT_EQ(s.complete(c.reservation, kafka_offset(pid), kafka_offset(pid), timestamp_ms(0)),
                  outcome::accepted);
    };
    written(1);
    written(2);
    written(3);
    EXPECT_EQ(s.check(batch(1, 0, 0, 1)).outcome, outcome::duplicate);  // 1 is now most recent
    written(4);                                                         // evicts 2
    EXPECT_EQ(s.producer_count(), 3u);
    EXPECT_FALSE(s.find(2));
    EXPECT_TRUE(s.find(1));
    // A producer with a batch in flight is never evicted.
    auto in_flight = s.check(batch(3, 0, 1, 1));
    ASSERT_EQ(in_flight.outcome, outcome::accepted);
    written(5);  // evicts 1 (3 was touched by the check, 4 is newer)
    EXPECT_FALSE(s.find(1));
    written(6);  // the least recent without batches in flight is 4
    EXPECT_TRUE(s.find(3));
    EXPECT_FALSE(s.find(4));
    EXPECT_EQ(s.complete(in_flight.reservation, kafka_offset(9), kafka_offset(9), timestamp_ms(0)),
              outcome::accepted);
}

// A random workload; then a rebuild from the written log answers every probe as the live state.
TEST(producer_state, rebuild_by_observe_gives_the_same_answers) {
    std::mt19937 rng(7);
    fake_partition p;
    std::vector<int32_t> next_seq(8, 0);
    std::vector<int16_t> epoch(8, 0);
    for (int i = 0; i < 3000; ++i) {
        auto pid = int64_t(rng() % 8);
        auto count = int32_t(1 + rng() % 5);
        switch (rng() % 10) {
            case 0:  // retry of something recent
                (void)p.produce(batch(pid, epoch[size_t(pid)],
                                      std::max(0, next_seq[size_t(pid)] - count), count));
                break;
            case 1:  // epoch bump
                epoch[size_t(pid)]++;
                next_seq[size_t(pid)] = 0;
                break;
            case 2:  // a write that fails
            {
                auto c = p.state.check(batch(pid, epoch[size_t(pid)], next_seq[size_t(pid)], 1));
                p.state.abort(c.reservation);
                break;
            }
            default:
                if (p.produce(batch(pid, epoch[size_t(pid)], next_seq[size_t(pid)], count)).first ==
                    outcome::accepted) {
                    next_seq[size_t(pid)] += count;
                }
        }
    }
    auto rebuilt = p.rebuild();
    ASSERT_EQ(rebuilt.producer_count(), p.state.producer_count());
    for (int64_t pid = 0; pid < 8; ++pid) {
        auto live = p.state.find(pid);
        auto back = rebuilt.find(pid);
        ASSERT_EQ(bool(live), bool(back));
        if (!live) continue;
        EXPECT_EQ(live->epoch, back->epoch);
        EXPECT_EQ(live->batches, back->batches);
        for (int16_t e = -1; e <= epoch[size_t(pid)] + 1; ++e) {
            for (int32_t seq = 0; seq < next_seq[size_t(pid)] + 3; ++seq) {
                for (int32_t count : {1, 2, 3}) {
                    auto copy_live = p.state;
                    auto copy_back = rebuilt;
                    auto x = copy_live.check(batch(pid, e, seq, count));
                    auto y = copy_back.check(batch(pid, e, seq, count));
                    ASSERT_EQ(x.outcome, y.outcome) << pid << " " << e << " " << seq;
                    EXPECT_EQ(x.duplicate_of, y.duplicate_of);
                }
            }
        }
    }
}

}  // namespace
}  // namespace wharf
