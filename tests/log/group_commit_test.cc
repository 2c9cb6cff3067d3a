// Group commit (log/group_commit.cc): the appends of one reactor turn become one write and one
// fdatasync; appends made during a write form the next group; fsync=never skips the fdatasync.

#include <gtest/gtest.h>

#include <algorithm>

#include "log/shard_log.h"
#include "reactor/reactor.h"
#include "reactor/when_all.h"
#include "tests/log/shardlog_test_util.h"

namespace wharf {
namespace {

using namespace wharf::test;

task<result<append_result>> append(shard_log& log, uint32_t p, uint64_t seed, size_t value_bytes) {
    auto batch = make_batch(seed, 2, value_bytes, 1000);
    co_return co_await log.append_batch(partition_id(p), term_id(1), to_iobuf(batch), 0);
}

// Checks that each partition's results are contiguous in the order the appends were made.
bool offsets_follow_call_order(const std::vector<uint32_t>& parts,
                               const std::vector<result<append_result>>& results) {
    std::map<uint32_t, int64_t> next;
    for (size_t i = 0; i < results.size(); ++i) {
        if (!results[i]) return false;
        if (results[i]->base_offset.value() != next[parts[i]]) return false;
        next[parts[i]] = results[i]->last_offset.value() + 1;
    }
    return true;
}

TEST(group_commit, appends_of_one_turn_share_one_write_and_one_sync) {
    temp_dir dir;
    int rc = run_reactor([&]() -> task<int> {
        auto opened = co_await shard_log::open(test_config(dir.path()));
        CO_ASSERT_OK(opened);
        shard_log& log = **opened;
        for (uint32_t p = 0; p < 10; ++p) log.configure_partition(partition_id(p), {});
        const int n = 100;
        std::vector<uint32_t> parts;
        std::vector<task<result<append_result>>> appends;
        for (int i = 0; i < n; ++i) {
            parts.push_back(static_cast<uint32_t>(i * 7 % 10));
            appends.push_back(append(log, parts.back(), i, 200));
        }
        auto results = co_await when_all(std::move(appends));
        EXPECT_TRUE(offsets_follow_call_order(parts, results));
        EXPECT_EQ(log.stats().writes, 1u);
        EXPECT_EQ(log.stats().syncs, 1u);
        EXPECT_EQ(log.stats().flushes, 1u);
        EXPECT_EQ(log.stats().appends, static_cast<uint64_t>(n));
        // Raft indexes follow the call order too.
        for (int i = 0; i < n; ++i) EXPECT_EQ(results[i]->index, raft_index(i + 1));
        auto segs = files_with_suffix(log.directory(), ".log");
        CO_ASSERT(segs.size() == 1);
        EXPECT_EQ(entry_boundaries(segs[0]).size(), static_cast<size_t>(n) + 1);
        CO_ASSERT_OK(co_await log.close());
        co_return ::testing::Test::HasFailure() ? 1 : 0;
    });
    EXPECT_EQ(rc, 0);
}

TEST(group_commit, appends_during_a_write_form_the_next_group) {
    temp_dir dir;
    int rc = run_reactor([&]() -> task<int> {
        auto opened = co_await shard_log::open(test_config(dir.path()));
        CO_ASSERT_OK(opened);
        shard_log& log = **opened;
        log.configure_partition(partition_id(0), {});
        std::vector<uint32_t> parts(150, 0);
        auto wave = [&](int first, int count) -> task<std::vector<result<append_result>>> {
            std::vector<task<result<append_result>>> appends;
            for (int i = first; i < first + count; ++i) appends.push_back(append(log, 0, i, 100));
            co_return co_await when_all(std::move(appends));
        };
        // The second wave starts at the end of the first turn, right after the first wave's
        // leader has submitted its write, so it queues while that write is in flight.
        auto late = [&]() -> task<std::vector<result<append_result>>> {
            co_await reactor::local().turn_end();
            co_return co_await wave(50, 100);
        };
        auto [a, b] = co_await when_all(wave(0, 50), late());
        std::vector<result<append_result>> all;
        for (auto& r : a) all.push_back(std::move(r));
        for (auto& r : b) all.push_back(std::move(r));
        EXPECT_TRUE(offsets_follow_call_order(parts, all));
        EXPECT_EQ(log.stats().writes, 2u);
        EXPECT_EQ(log.stats().syncs, 2u);
        EXPECT_EQ(log.stats().appends, 150u);
        CO_ASSERT_OK(co_await log.close());
        co_return ::testing::Test::HasFailure() ? 1 : 0;
    });
    EXPECT_EQ(rc, 0);
}

TEST(group_commit, a_group_is_cut_at_max_write_bytes) {
    temp_dir dir;
    int rc = run_reactor([&]() -> task<int> {
        auto cfg = test_config(dir.path());
        cfg.max_write_bytes = 64 << 10;
        auto opened = co_await shard_log::open(cfg);
        CO_ASSERT_OK(opened);
        shard_log& log = **opened;
        log.configure_partition(partition_id(0), {});
        std::vector<uint32_t> parts(40, 0);
        std::vector<task<result<append_result>>> appends;
        for (int i = 0; i < 40; ++i) appends.push_back(append(log, 0, i, 5000));  // ~10 KiB each
        auto results = co_await when_all(std::move(appends));
        EXPECT_TRUE(offsets_follow_call_order(parts, results));
        // About 400 KiB in writes of at most 64 KiB.
        EXPECT_GE(log.stats().writes, 7u);
        EXPECT_LE(log.stats().writes, 9u);
        EXPECT_EQ(log.stats().syncs, log.stats().writes);
        CO_ASSERT_OK(co_await log.close());
        co_return ::testing::Test::HasFailure() ? 1 : 0;
    });
    EXPECT_EQ(rc, 0);
}

TEST(group_commit, flush_interval_gathers_appends_of_several_turns) {
    temp_dir dir;
    int rc = run_reactor([&]() -> task<int> {
        auto cfg = test_config(dir.path());
        cfg.flush_interval_us = std::chrono::microseconds(200'000);
        auto opened = co_await shard_log::open(cfg);
        CO_ASSERT_OK(opened);
        shard_log& log = **opened;
        log.configure_partition(partition_id(0), {});
        // Append i is made i turns later than the first.
        auto delayed = [&](int i) -> task<result<append_result>> {
            for (int k = 0; k < i; ++k) co_await reactor::local().turn_end();
            co_return co_await append(log, 0, i, 100);
        };
        std::vector<task<result<append_result>>> appends;
        for (int i = 0; i < 10; ++i) appends.push_back(delayed(i));
        auto turns_before = reactor::local().stats().turns;
        auto results = co_await when_all(std::move(appends));
        for (auto& r : results) CO_ASSERT_OK(r);
        EXPECT_GE(reactor::local().stats().turns - turns_before, 10u);
        EXPECT_EQ(log.stats().writes, 1u) << "ten turns' appends in one write";
        CO_ASSERT_OK(co_await log.close());
        co_return ::testing::Test::HasFailure() ? 1 : 0;
    });
    EXPECT_EQ(rc, 0);
}

TEST(group_commit, fsync_never_writes_without_fdatasync) {
    temp_dir dir;
    int rc = run_reactor([&]() -> task<int> {
        auto cfg = test_config(dir.path());
        cfg.fsync = fsync_policy::never;
        {
            auto opened = co_await shard_log::open(cfg);
            CO_ASSERT_OK(opened);
            shard_log& log = **opened;
            log.configure_partition(partition_id(0), {});
            for (int i = 0; i < 10; ++i) CO_ASSERT_OK(co_await append(log, 0, i, 100));
            EXPECT_EQ(log.stats().writes, 10u);
            EXPECT_EQ(log.stats().syncs, 0u);
            CO_ASSERT_OK(co_await log.close());
        }
        auto opened = co_await shard_log::open(cfg);
        CO_ASSERT_OK(opened);
        EXPECT_EQ((*opened)->end_offset(partition_id(0)).value(), kafka_offset(20));
        CO_ASSERT_OK(co_await (*opened)->close());
        co_return ::testing::Test::HasFailure() ? 1 : 0;
    });
    EXPECT_EQ(rc, 0);
}

TEST(group_commit, an_append_completes_after_its_bytes_are_written) {
    temp_dir dir;
    int rc = run_reactor([&]() -> task<int> {
        auto opened = co_await shard_log::open(test_config(dir.path()));
        CO_ASSERT_OK(opened);
        shard_log& log = **opened;
        log.configure_partition(partition_id(0), {});
        auto segs = files_with_suffix(log.directory(), ".log");
        CO_ASSERT(segs.size() == 1);
        uint64_t syncs = 0;
        for (int i = 0; i < 5; ++i) {
            auto before = file_size(segs[0]);
            CO_ASSERT_OK(co_await append(log, 0, i, 1000));
            EXPECT_GT(file_size(segs[0]), before);
            EXPECT_EQ(log.stats().syncs, ++syncs) << "completed before its fdatasync";
            EXPECT_EQ(entry_boundaries(segs[0]).back(), file_size(segs[0]));
        }
        CO_ASSERT_OK(co_await log.close());
        co_return ::testing::Test::HasFailure() ? 1 : 0;
    });
    EXPECT_EQ(rc, 0);
}

}  // namespace
}  // namespace wharf

namespace wharf {
namespace {

// Producers that append again as soon as their previous append is durable (a loaded broker):
// every group must carry all of them. A leader that ran ahead of the appenders it completed
// would lead groups of one in between, doubling the fdatasyncs.
TEST(group_commit, steady_appenders_fill_every_group) {
    temp_dir dir;
    int rc = run_reactor([&]() -> task<int> {
        auto opened = co_await shard_log::open(test_config(dir.path()));
        CO_ASSERT_OK(opened);
        shard_log& log = **opened;
        const int appenders = 32;
        const int rounds = 20;
        for (uint32_t p = 0; p < appenders; ++p) log.configure_partition(partition_id(p), {});
        auto appender = [&](uint32_t p) -> task<void> {
            for (int i = 0; i < rounds; ++i) {
                auto r = co_await append(log, p, i, 100);
                EXPECT_TRUE(r);
            }
        };
        std::vector<task<void>> all;
        for (uint32_t p = 0; p < appenders; ++p) all.push_back(appender(p));
        co_await when_all(std::move(all));
        const auto& s = log.stats();
        EXPECT_EQ(s.group_entries, static_cast<uint64_t>(appenders * rounds));
        // One group per round, give or take a split at the start.
        EXPECT_LE(s.flushes, static_cast<uint64_t>(rounds + 2)) << "groups alternate";
        EXPECT_GE(s.group_entries / s.flushes, static_cast<uint64_t>(appenders * 9 / 10));
        CO_ASSERT_OK(co_await log.close());
        co_return ::testing::Test::HasFailure() ? 1 : 0;
    });
    EXPECT_EQ(rc, 0);
}

}  // namespace
}  // namespace wharf
