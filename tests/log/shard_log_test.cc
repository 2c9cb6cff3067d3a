// The shard log end to end on a real reactor and a temporary directory: appends, reads, segment
// rolls, lookups by offset and timestamp, restart, and the raft-facing API, across many
// partitions against a model.

#include "log/shard_log.h"

#include <gtest/gtest.h>

#include <algorithm>
#include <random>

#include "log/errc.h"
#include "reactor/clock.h"
#include "reactor/when_all.h"
#include "tests/log/shardlog_test_util.h"

namespace wharf {
namespace {

using namespace wharf::test;

// Appends a batch to p and records what the log must return for it.
task<bool> append_one(shard_log& log, log_model& model, uint32_t p, uint64_t seed, int records,
                      size_t value_bytes, int64_t ts) {
    auto batch = make_batch(seed, records, value_bytes, ts);
    auto r = co_await log.append_batch(partition_id(p), term_id(1), to_iobuf(batch), 3);
    if (!r) {
        ADD_FAILURE() << "append to " << p << " failed: " << r.error().message();
        co_return false;
    }
    model[p].add({r->base_offset, r->last_offset, ts + records - 1,
                  stamped(std::move(batch), r->base_offset, 3)});
    co_return true;
}

TEST(shard_log, append_and_read_back) {
    temp_dir dir;
    int rc = run_reactor([&]() -> task<int> {
        auto opened = co_await shard_log::open(test_config(dir.path()));
        CO_ASSERT_OK(opened);
        shard_log& log = **opened;
        log.configure_partition(partition_id(1), {});
        log_model model;
        for (int i = 0; i < 20; ++i) {
            CO_ASSERT(co_await append_one(log, model, 1, i, 1 + i % 4, 100 + i, 1000 + i * 10));
        }
        auto& m = model[1];
        CO_ASSERT(m.batches.front().base == kafka_offset(0));
        CO_ASSERT(m.next.value() == 50);  // 5 rounds of 1+2+3+4 records
        co_await expect_partition_matches(log, partition_id(1), m, 1);
        co_await expect_partition_matches(log, partition_id(1), m, 1 << 20);
        // A read from the middle of a batch returns that whole batch first.
        auto mid = co_await log.read(partition_id(1), kafka_offset(4), 1);
        CO_ASSERT_OK(mid);
        auto got = split_batches(to_bytes(*mid));
        CO_ASSERT(got.size() == 1);
        EXPECT_TRUE(got[0] == m.batches[m.find(kafka_offset(4))].bytes);
        // At the end: nothing; past it or unknown: errors.
        auto at_end = co_await log.read(partition_id(1), kafka_offset(50), 1000);
        CO_ASSERT_OK(at_end);
        EXPECT_TRUE(at_end->empty());
        EXPECT_EQ((co_await log.read(partition_id(1), kafka_offset(51), 1000)).error(),
                  log_errc::offset_out_of_range);
        EXPECT_EQ((co_await log.read(partition_id(9), kafka_offset(0), 1000)).error(),
                  log_errc::partition_unknown);
        auto batch = make_batch(1, 1, 10, 0);
        EXPECT_EQ((co_await log.append_batch(partition_id(9), term_id(1), to_iobuf(batch), 0))
                      .error(),
                  log_errc::partition_unknown);
        EXPECT_EQ(log.last_index(), raft_index(20));
        EXPECT_EQ(log.last_term(), term_id(1));
        CO_ASSERT_OK(co_await log.close());
        co_return 0;
    });
    EXPECT_EQ(rc, 0);
}

// 16 waves of 250 concurrent appends to random partitions, random sizes and timestamps.
task<bool> write_random_waves(shard_log& log, log_model& model, std::mt19937_64& rng,
                              uint32_t partitions) {
    int64_t ts = 1'700'000'000'000;
    for (int wave = 0; wave < 16; ++wave) {
        std::vector<task<bool>> appends;
        for (int i = 0; i < 250; ++i) {
            uint32_t p = static_cast<uint32_t>(rng() % partitions);
            int records = 1 + static_cast<int>(rng() % 5);
            size_t value_bytes = 10 + rng() % 1500;
            // Timestamps mostly grow; some producers lag behind.
            ts += 1 + static_cast<int64_t>(rng() % 20);
            int64_t t = ts - (rng() % 8 == 0 ? static_cast<int64_t>(rng() % 500) : 0);
            appends.push_back(append_one(log, model, p, rng(), records, value_bytes, t));
        }
        auto ok = co_await when_all(std::move(appends));
        if (!std::all_of(ok.begin(), ok.end(), [](bool b) { return b; })) co_return false;
    }
    co_return true;
}

// The first batch whose running max timestamp reaches t, by brute force.
std::optional<kafka_offset> model_find_timestamp(const model_partition& m, int64_t t) {
    int64_t running = INT64_MIN;
    for (const auto& b : m.batches) {
        running = std::max(running, b.max_timestamp);
        if (running >= t) return b.base;
    }
    return std::nullopt;
}

// Reads from random offsets with random sizes, and lookups by offset and by timestamp.
task<void> check_random_lookups(shard_log& log, log_model& model, std::mt19937_64& rng,
                                uint32_t partitions) {
    for (int q = 0; q < 3000 && !::testing::Test::HasFailure(); ++q) {
        uint32_t p = static_cast<uint32_t>(rng() % partitions);
        const auto& m = model[p];
        if (m.next.value() == 0) continue;
        kafka_offset o(static_cast<int64_t>(rng() % static_cast<uint64_t>(m.next.value())));
        auto r = co_await log.read(partition_id(p), o, 1 + rng() % 8000);
        if (!r) {
            ADD_FAILURE() << "read failed: " << r.error().message();
            co_return;
        }
        auto got = split_batches(to_bytes(*r));
        EXPECT_FALSE(got.empty());
        size_t i = m.find(o);
        for (const auto& b : got) EXPECT_TRUE(b == m.batches[i++].bytes);
        auto f = log.find_offset(partition_id(p), o);
        EXPECT_TRUE(f && *f && (*f)->base_offset == m.batches[m.find(o)].base) << o.value();
        int64_t first = m.batches.front().max_timestamp;
        int64_t span = m.batches.back().max_timestamp - first + 200;
        int64_t t = first - 100 + static_cast<int64_t>(rng() % static_cast<uint64_t>(span));
        auto ft = log.find_timestamp(partition_id(p), timestamp_ms(t));
        auto want = model_find_timestamp(m, t);
        EXPECT_TRUE(ft && ft->has_value() == want.has_value()) << "timestamp " << t;
        if (ft && *ft && want) {
            EXPECT_EQ((*ft)->base_offset, *want) << "timestamp " << t;
        }
    }
}

// Reopens the log of many_partitions_against_a_model and checks it against the model.
int reopen_and_check(const std::string& data_dir, log_model& model, const log_stats& first_run,
                     size_t segments_before_close) {
    return run_reactor([&]() -> task<int> {
        auto opened = co_await shard_log::open(test_config(data_dir));
        CO_ASSERT_OK(opened);
        shard_log& log = **opened;
        EXPECT_EQ(log.segment_count(), segments_before_close);
        EXPECT_EQ(log.stats().index_files_loaded, segments_before_close - 1);
        EXPECT_EQ(log.stats().index_files_rebuilt, 0u);
        EXPECT_EQ(log.stats().truncated_bytes, 0u);
        EXPECT_LT(log.stats().entries_replayed, first_run.appends / 4)
            << "only the active segment is replayed";
        EXPECT_EQ(log.last_index(), raft_index(static_cast<int64_t>(first_run.appends)));
        // Partitions with batches exist again; those never written to are the topic table's to
        // create.
        for (const auto& [p, m] : model) {
            EXPECT_EQ(log.has_partition(partition_id(p)), !m.batches.empty()) << p;
            log.configure_partition(partition_id(p), {});
        }
        co_await expect_log_matches(log, model, 1 << 16);
        // Appends continue each partition where it ended.
        log.configure_partition(partition_id(7), {});
        auto before = model[7].next;
        CO_ASSERT(co_await append_one(log, model, 7, 99, 3, 10, 0));
        EXPECT_EQ(model[7].batches.back().base, before);
        CO_ASSERT_OK(co_await log.close());
        co_return ::testing::Test::HasFailure() ? 1 : 0;
    });
}

// Many partitions, thousands of batches of random sizes, small segments and a small cache, so
// reads come from the cache, from closed segments and from the active one.
TEST(shard_log, many_partitions_against_a_model) {
    const uint64_t seed = 0x5eed'0001;
    std::printf("seed %llu\n", static_cast<unsigned long long>(seed));
    temp_dir dir;
    const uint32_t partitions = 1000;
    log_model model;
    log_stats first_run{};
    size_t segments_before_close = 0;
    int rc = run_reactor([&]() -> task<int> {
        auto cfg = test_config(dir.path());
        cfg.segment_bytes = 256 << 10;
        cfg.tail_cache_bytes = 128 << 10;
        auto opened = co_await shard_log::open(cfg);
        CO_ASSERT_OK(opened);
        shard_log& log = **opened;
        for (uint32_t p = 0; p < partitions; ++p) log.configure_partition(partition_id(p), {});
        std::mt19937_64 rng(seed);
        CO_ASSERT(co_await write_random_waves(log, model, rng, partitions));
        CO_ASSERT(log.stats().rolls > 5);
        co_await expect_log_matches(log, model, 4096);
        CO_ASSERT(!::testing::Test::HasFailure());
        EXPECT_GT(log.stats().cache_batches, 0u);
        EXPECT_GT(log.stats().disk_batches, 0u);
        EXPECT_LT(log.stats().disk_reads, log.stats().disk_batches) << "adjacent batches share reads";
        EXPECT_LE(log.cache_bytes(), cfg.tail_cache_bytes);

        co_await check_random_lookups(log, model, rng, partitions);
        first_run = log.stats();
        segments_before_close = log.segment_count();
        CO_ASSERT_OK(co_await log.close());
        co_return ::testing::Test::HasFailure() ? 1 : 0;
    });
    ASSERT_EQ(rc, 0);

    // Restart: everything reads back byte-identical, and closed segments come from their index
    // files, not from a scan.
    EXPECT_EQ(reopen_and_check(dir.path(), model, first_run, segments_before_close), 0);
}

TEST(shard_log, log_append_time_is_stamped) {
    temp_dir dir;
    int rc = run_reactor([&]() -> task<int> {
        auto opened = co_await shard_log::open(test_config(dir.path()));
        CO_ASSERT_OK(opened);
        shard_log& log = **opened;
        partition_config pc;
        pc.message_timestamp_type = timestamp_type::log_append_time;
        log.configure_partition(partition_id(2), pc);
        auto batch = make_batch(5, 3, 50, 1000);  // created long ago
        timestamp_ms before = wall_now();
        auto r = co_await log.append_batch(partition_id(2), term_id(1), to_iobuf(batch), 9);
        timestamp_ms after = wall_now();
        CO_ASSERT_OK(r);
        CO_ASSERT(r->log_append_time.has_value());
        EXPECT_GE(*r->log_append_time, before);
        EXPECT_LE(*r->log_append_time, after);
        auto read = co_await log.read(partition_id(2), kafka_offset(0), 1 << 20);
        CO_ASSERT_OK(read);
        auto bytes = to_bytes(*read);
        auto h = read_batch_header(bytes);
        CO_ASSERT_OK(h);
        EXPECT_EQ(h->ts_type(), timestamp_type::log_append_time);
        EXPECT_EQ(h->max_timestamp, r->log_append_time->value());
        EXPECT_EQ(h->partition_leader_epoch, 9);
        EXPECT_TRUE(batch_crc_matches(bytes)) << "the CRC was recomputed";
        // The index knows the append time, not the create time.
        auto f = log.find_timestamp(partition_id(2), timestamp_ms(before));
        CO_ASSERT(f && *f);
        EXPECT_EQ((*f)->base_offset, kafka_offset(0));
        CO_ASSERT_OK(co_await log.close());
        co_return 0;
    });
    EXPECT_EQ(rc, 0);
}

// A steady clock the test moves by hand, for the age-based roll.
struct manual_clock : detail::clock_source {
    steady_time now = steady_time(std::chrono::hours(1000));
    steady_time steady_now() const noexcept override { return now; }
    timestamp_ms wall_now() const noexcept override { return timestamp_ms(1'700'000'000'000); }
};

TEST(shard_log, rolls_by_size_and_by_age) {
    temp_dir dir;
    int rc = run_reactor([&]() -> task<int> {
        manual_clock clock;
        detail::current_clock = &clock;
        auto cfg = test_config(dir.path());
        cfg.segment_bytes = 64 << 10;
        cfg.segment_ms = std::chrono::minutes(10);
        auto opened = co_await shard_log::open(cfg);
        CO_ASSERT_OK(opened);
        shard_log& log = **opened;
        log.configure_partition(partition_id(0), {});
        log_model model;
        CO_ASSERT(co_await append_one(log, model, 0, 1, 1, 100, 0));
        CO_ASSERT(co_await append_one(log, model, 0, 2, 1, 100, 0));
        EXPECT_EQ(log.segment_count(), 1u);
        clock.now += std::chrono::minutes(11);
        CO_ASSERT(co_await append_one(log, model, 0, 3, 1, 100, 0));
        EXPECT_EQ(log.segment_count(), 2u) << "an old segment rolls at the next append";
        // By size: 64 KiB segments, 10 KiB batches.
        for (int i = 0; i < 20; ++i) CO_ASSERT(co_await append_one(log, model, 0, 10 + i, 1, 10000, 0));
        EXPECT_GE(log.segment_count(), 4u);
        EXPECT_LE(log.segment_count(), 6u);
        auto logs = files_with_suffix(log.directory(), ".log");
        EXPECT_EQ(logs.size(), log.segment_count());
        EXPECT_EQ(files_with_suffix(log.directory(), ".index").size(), log.segment_count() - 1);
        for (const auto& path : logs) {
            EXPECT_LE(file_size(path), cfg.segment_bytes + 11000) << path;
        }
        // Segment names are their first raft index, zero-padded to 20 digits.
        EXPECT_EQ(logs.front().substr(logs.front().size() - 24), "00000000000000000001.log");
        co_await expect_log_matches(log, model, 1 << 20);
        CO_ASSERT_OK(co_await log.close());
        detail::current_clock = nullptr;
        co_return ::testing::Test::HasFailure() ? 1 : 0;
    });
    EXPECT_EQ(rc, 0);
}

TEST(shard_log, raft_entries_and_terms) {
    temp_dir dir;
    int rc = run_reactor([&]() -> task<int> {
        auto cfg = test_config(dir.path());
        cfg.segment_bytes = 4096;
        {
            auto opened = co_await shard_log::open(cfg);
            CO_ASSERT_OK(opened);
            shard_log& log = **opened;
            EXPECT_EQ(log.last_index(), raft_index(0));
            EXPECT_EQ(log.last_term(), term_id(0));
            log.configure_partition(partition_id(4), {});
            auto noop = co_await log.append_entry(entry_type::raft_noop, partition_id(0),
                                                  term_id(1), iobuf());
            CO_ASSERT_OK(noop);
            EXPECT_EQ(*noop, raft_index(1));
            std::vector<std::byte> blob(3000, std::byte{7});
            for (int t = 2; t <= 4; ++t) {
                auto c = co_await log.append_entry(entry_type::raft_configuration,
                                                   partition_id(0), term_id(t), to_iobuf(blob));
                CO_ASSERT_OK(c);
            }
            // A follower's data entry: a batch the leader stamped, continuing the partition.
            auto batch = stamped(make_batch(1, 2, 10, 0), kafka_offset(0), 4);
            auto d = co_await log.append_entry(entry_type::data, partition_id(4), term_id(4),
                                               to_iobuf(batch));
            CO_ASSERT_OK(d);
            EXPECT_EQ(*d, raft_index(5));
            EXPECT_EQ(log.end_offset(partition_id(4)).value(), kafka_offset(2));
            // One that does not continue it is refused.
            auto gap = stamped(make_batch(2, 1, 10, 0), kafka_offset(5), 4);
            EXPECT_FALSE(co_await log.append_entry(entry_type::data, partition_id(4), term_id(4),
                                                   to_iobuf(gap)));
            EXPECT_EQ(log.last_index(), raft_index(5));
            EXPECT_EQ(log.next_index(), raft_index(6));
            CO_ASSERT_OK(co_await log.close());
        }
        auto opened = co_await shard_log::open(cfg);
        CO_ASSERT_OK(opened);
        shard_log& log = **opened;
        EXPECT_GT(log.segment_count(), 1u);
        EXPECT_EQ(log.last_index(), raft_index(5));
        EXPECT_EQ(log.last_term(), term_id(4));
        EXPECT_EQ(log.term_at(raft_index(1)), term_id(1));
        EXPECT_EQ(log.term_at(raft_index(2)), term_id(2));
        EXPECT_EQ(log.term_at(raft_index(3)), term_id(3));
        EXPECT_EQ(log.term_at(raft_index(4)), term_id(4));
        EXPECT_EQ(log.term_at(raft_index(5)), term_id(4));
        EXPECT_EQ(log.term_at(raft_index(6)), std::nullopt);
        EXPECT_EQ(log.term_at(raft_index(0)), std::nullopt);
        EXPECT_EQ(log.first_index(), raft_index(1));
        auto read = co_await log.read(partition_id(4), kafka_offset(0), 100);
        CO_ASSERT_OK(read);
        EXPECT_EQ(to_bytes(*read), stamped(make_batch(1, 2, 10, 0), kafka_offset(0), 4));
        CO_ASSERT_OK(co_await log.close());
        co_return ::testing::Test::HasFailure() ? 1 : 0;
    });
    EXPECT_EQ(rc, 0);
}

}  // namespace
}  // namespace wharf
