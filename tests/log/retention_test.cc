// Retention by bytes and by time, DeleteRecords (set_start_offset), the deletion of dead
// segments, and that all of it survives a restart.

#include <gtest/gtest.h>

#include <filesystem>
#include <random>

#include "log/errc.h"
#include "log/index_file.h"
#include "log/shard_log.h"
#include "reactor/clock.h"
#include "reactor/when_all.h"
#include "tests/log/shardlog_test_util.h"

namespace wharf {
namespace {

using namespace wharf::test;

task<bool> append_one(shard_log& log, log_model& model, uint32_t p, uint64_t seed,
                      size_t value_bytes, int64_t ts) {
    auto batch = make_batch(seed, 2, value_bytes, ts);
    auto r = co_await log.append_batch(partition_id(p), term_id(1), to_iobuf(batch), 0);
    if (!r) {
        ADD_FAILURE() << "append failed: " << r.error().message();
        co_return false;
    }
    model[p].add({r->base_offset, r->last_offset, ts + 1,
                  stamped(std::move(batch), r->base_offset, 0)});
    co_return true;
}

// The start offset retention.bytes gives: drop the oldest batches while more than limit remain.
kafka_offset bytes_retention_start(const model_partition& m, uint64_t limit) {
    uint64_t held = 0;
    size_t first = m.find(m.start);
    for (size_t i = first; i < m.batches.size(); ++i) held += m.batches[i].bytes.size();
    size_t i = first;
    while (i < m.batches.size() && held > limit) held -= m.batches[i++].bytes.size();
    kafka_offset s = i < m.batches.size() ? m.batches[i].base : m.next;
    return std::max(s, m.start);
}

// Fills 20 partitions over many segments, then retention.bytes on half of them.
int fill_and_retain_half(const log_config& cfg, log_model& model, uint64_t seed) {
    return run_reactor([&]() -> task<int> {
        auto opened = co_await shard_log::open(cfg);
        CO_ASSERT_OK(opened);
        shard_log& log = **opened;
        std::mt19937_64 rng(seed);
        for (uint32_t p = 0; p < 20; ++p) log.configure_partition(partition_id(p), {});
        for (int wave = 0; wave < 20; ++wave) {
            std::vector<task<bool>> appends;
            for (int i = 0; i < 20; ++i) {
                appends.push_back(append_one(log, model, static_cast<uint32_t>(rng() % 20), rng(),
                                             50 + rng() % 800, 1000));
            }
            co_await when_all(std::move(appends));
        }
        CO_ASSERT(log.segment_count() > 5);
        // Half of the partitions keep at most 2 KiB.
        partition_config limited;
        limited.retention_bytes = 2048;
        for (uint32_t p = 0; p < 10; ++p) {
            log.configure_partition(partition_id(p), limited);
            model[p].start = bytes_retention_start(model[p], 2048);
        }
        auto segments = log.segment_count();
        CO_ASSERT_OK(co_await log.apply_retention(term_id(1)));
        co_await expect_log_matches(log, model, 1 << 20);
        // Partitions 10..19 keep the old segments alive: nothing can be deleted yet.
        EXPECT_EQ(log.segment_count(), segments);
        for (uint32_t p = 0; p < 10; ++p) {
            if (model[p].start.value() == 0) continue;
            EXPECT_EQ((co_await log.read(partition_id(p), model[p].start - 1, 100)).error(),
                      log_errc::offset_out_of_range);
        }
        // Retention is idempotent: nothing more to do, no new control entries.
        auto index = log.next_index();
        CO_ASSERT_OK(co_await log.apply_retention(term_id(1)));
        EXPECT_EQ(log.next_index(), index);
        CO_ASSERT_OK(co_await log.close());
        co_return ::testing::Test::HasFailure() ? 1 : 0;
    });
}

// After a restart, retention drops everything: all closed segments go.
int retain_nothing(const log_config& cfg, log_model& model) {
    return run_reactor([&]() -> task<int> {
        auto opened = co_await shard_log::open(cfg);
        CO_ASSERT_OK(opened);
        shard_log& log = **opened;
        co_await expect_log_matches(log, model, 1 << 20);
        // Now every partition drops everything: every closed segment is dead and goes.
        partition_config none;
        none.retention_bytes = 0;
        for (auto& [p, m] : model) {
            log.configure_partition(partition_id(p), none);
            m.start = m.next;
        }
        CO_ASSERT_OK(co_await log.apply_retention(term_id(1)));
        co_await expect_log_matches(log, model, 1 << 20);
        EXPECT_EQ(log.segment_count(), 1u) << "only the active segment remains";
        EXPECT_GT(log.stats().segments_deleted, 0u);
        EXPECT_EQ(files_with_suffix(log.directory(), ".log").size(), 1u);
        EXPECT_TRUE(files_with_suffix(log.directory(), ".index").empty());
        EXPECT_TRUE(std::filesystem::exists(log.directory() + "/" +
                                            std::string(checkpoint_file_name)));
        EXPECT_GT(log.first_index(), raft_index(1));
        EXPECT_TRUE(log.term_at(log.first_index() - 1).has_value()) << "raft's snapshot point";
        CO_ASSERT_OK(co_await log.close());
        co_return ::testing::Test::HasFailure() ? 1 : 0;
    });
}

// After a restart with the old segments gone, offsets continue and nothing comes back.
int check_after_deletion(const log_config& cfg, log_model& model) {
    return run_reactor([&]() -> task<int> {
        auto opened = co_await shard_log::open(cfg);
        CO_ASSERT_OK(opened);
        shard_log& log = **opened;
        co_await expect_log_matches(log, model, 1 << 20);
        log.configure_partition(partition_id(3), {});
        auto end = model[3].next;
        CO_ASSERT(co_await append_one(log, model, 3, 1, 10, 1000));
        EXPECT_EQ(model[3].batches.back().base, end);
        EXPECT_TRUE(log.term_at(log.first_index() - 1).has_value()) << "raft's snapshot point";
        CO_ASSERT_OK(co_await log.close());
        co_return ::testing::Test::HasFailure() ? 1 : 0;
    });
}

TEST(retention, by_bytes_then_everything_and_restart) {
    const uint64_t seed = 77;
    std::printf("seed %llu\n", static_cast<unsigned long long>(seed));
    temp_dir dir;
    log_model model;
    auto cfg = test_config(dir.path());
    cfg.segment_bytes = 32 << 10;
    ASSERT_EQ(fill_and_retain_half(cfg, model, seed), 0);
    // Restart: start offsets come back from the control entries and index files.
    ASSERT_EQ(retain_nothing(cfg, model), 0);
    EXPECT_EQ(check_after_deletion(cfg, model), 0);
}

TEST(retention, by_time) {
    temp_dir dir;
    int rc = run_reactor([&]() -> task<int> {
        auto opened = co_await shard_log::open(test_config(dir.path()));
        CO_ASSERT_OK(opened);
        shard_log& log = **opened;
        log_model model;
        log.configure_partition(partition_id(0), {});
        int64_t now = wall_now().value();
        int64_t hour = 3'600'000;
        for (int i = 0; i < 5; ++i) CO_ASSERT(co_await append_one(log, model, 0, i, 10, now - 3 * hour));
        for (int i = 0; i < 5; ++i) CO_ASSERT(co_await append_one(log, model, 0, 9 + i, 10, now));
        partition_config pc;
        pc.retention_ms = std::chrono::hours(1);
        log.configure_partition(partition_id(0), pc);
        CO_ASSERT_OK(co_await log.apply_retention(term_id(1)));
        model[0].start = kafka_offset(10);
        co_await expect_log_matches(log, model, 1 << 20);
        CO_ASSERT_OK(co_await log.close());
        co_return ::testing::Test::HasFailure() ? 1 : 0;
    });
    EXPECT_EQ(rc, 0);
}

TEST(retention, delete_records_moves_the_start_offset) {
    temp_dir dir;
    log_model model;
    int rc = run_reactor([&]() -> task<int> {
        auto opened = co_await shard_log::open(test_config(dir.path()));
        CO_ASSERT_OK(opened);
        shard_log& log = **opened;
        log.configure_partition(partition_id(0), {});
        for (int i = 0; i < 10; ++i) CO_ASSERT(co_await append_one(log, model, 0, i, 10, 1000));
        // Into the middle of the batch [6, 7]: that batch stays readable, as Kafka does.
        CO_ASSERT_OK(co_await log.set_start_offset(partition_id(0), kafka_offset(7), term_id(1)));
        EXPECT_EQ(log.start_offset(partition_id(0)).value(), kafka_offset(7));
        auto r = co_await log.read(partition_id(0), kafka_offset(7), 1);
        CO_ASSERT_OK(r);
        EXPECT_EQ(to_bytes(*r), model[0].batches[3].bytes);
        EXPECT_EQ((co_await log.read(partition_id(0), kafka_offset(6), 1)).error(),
                  log_errc::offset_out_of_range);
        // Backwards is nothing to do; past the end is refused.
        auto index = log.next_index();
        CO_ASSERT_OK(co_await log.set_start_offset(partition_id(0), kafka_offset(3), term_id(1)));
        EXPECT_EQ(log.next_index(), index);
        EXPECT_EQ((co_await log.set_start_offset(partition_id(0), kafka_offset(21), term_id(1)))
                      .error(),
                  log_errc::offset_out_of_range);
        EXPECT_EQ(log.start_offset(partition_id(0)).value(), kafka_offset(7));
        CO_ASSERT_OK(co_await log.close());
        co_return ::testing::Test::HasFailure() ? 1 : 0;
    });
    ASSERT_EQ(rc, 0);
    model[0].start = kafka_offset(7);
    rc = run_reactor([&]() -> task<int> {
        auto opened = co_await shard_log::open(test_config(dir.path()));
        CO_ASSERT_OK(opened);
        co_await expect_log_matches(**opened, model, 1 << 20);
        CO_ASSERT_OK(co_await (*opened)->close());
        co_return ::testing::Test::HasFailure() ? 1 : 0;
    });
    EXPECT_EQ(rc, 0);
}

}  // namespace
}  // namespace wharf
