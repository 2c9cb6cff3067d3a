// shard_log::end_offset_for_epoch: where each leader epoch of a partition ended, found by a
// binary search over its batches, against a model of what was appended, on a fresh log (the
// last epoch known from the appends), after a restart (read from disk), after DeleteRecords
// and after a raft truncation.

#include <gtest/gtest.h>

#include <vector>

#include "log/errc.h"
#include "log/shard_log.h"
#include "tests/log/shardlog_test_util.h"

namespace wharf {
namespace {

using namespace wharf::test;

// The batches appended, in order: each one's epoch and offsets.
struct appended {
    int32_t epoch;
    int64_t base;
    int64_t next;
};

task<bool> append_epoch(shard_log& log, std::vector<appended>& model, int32_t epoch, int batches,
                        uint64_t seed) {
    for (int i = 0; i < batches; ++i) {
        int records = 1 + static_cast<int>((seed + static_cast<uint64_t>(i)) % 3);
        auto batch = make_batch(seed + static_cast<uint64_t>(i), records, 40, 1000);
        auto r = co_await log.append_batch(partition_id(1), term_id(static_cast<uint64_t>(epoch)),
                                           to_iobuf(batch), epoch);
        if (!r) {
            ADD_FAILURE() << "append failed: " << r.error().message();
            co_return false;
        }
        model.push_back({epoch, r->base_offset.value(), r->last_offset.value() + 1});
    }
    co_return true;
}

// Kafka's answer from the model: the first batch of a later epoch, at or after `start`.
epoch_end expected(const std::vector<appended>& model, int32_t epoch, int64_t start) {
    epoch_end e{epoch, kafka_offset(model.empty() ? start : model.back().next)};
    for (const auto& b : model) {
        if (b.next <= start) continue;  // dropped below the start offset
        if (b.epoch > epoch) {
            e.end_offset = kafka_offset(std::max(b.base, start));
            return e;
        }
        e.epoch = b.epoch;
    }
    return e;
}

// Asks about every epoch from 0 to 12 and compares with the model.
task<bool> check_all(shard_log& log, const std::vector<appended>& model, int64_t start,
                     const char* when) {
    for (int32_t epoch = 0; epoch <= 12; ++epoch) {
        auto got = co_await log.end_offset_for_epoch(partition_id(1), epoch);
        if (!got) {
            ADD_FAILURE() << when << ": epoch " << epoch << ": " << got.error().message();
            co_return false;
        }
        epoch_end want = expected(model, epoch, start);
        EXPECT_EQ(got->epoch, want.epoch) << when << ": epoch " << epoch;
        EXPECT_EQ(got->end_offset, want.end_offset) << when << ": epoch " << epoch;
    }
    co_return true;
}

TEST(shard_log_epochs, end_offsets_from_appends_restart_and_start_offset) {
    temp_dir dir;
    int rc = run_reactor([&]() -> task<int> {
        std::vector<appended> model;
        {
            auto opened = co_await shard_log::open(test_config(dir.path()));
            CO_ASSERT_OK(opened);
            shard_log& log = **opened;
            log.configure_partition(partition_id(1), {});
            // Before any batch: every epoch ends at offset 0.
            CO_ASSERT(co_await check_all(log, model, 0, "empty"));
            CO_ASSERT(co_await append_epoch(log, model, 3, 37, 1));
            CO_ASSERT(co_await append_epoch(log, model, 5, 1, 100));
            CO_ASSERT(co_await append_epoch(log, model, 6, 5, 200));
            CO_ASSERT(co_await append_epoch(log, model, 9, 61, 300));
            CO_ASSERT(co_await check_all(log, model, 0, "appended"));
            EXPECT_EQ((co_await log.end_offset_for_epoch(partition_id(7), 3)).error(),
                      log_errc::partition_unknown);
            CO_ASSERT_OK(co_await log.close());
        }
        // Reopened: nothing is cached and the last epoch is read from disk.
        auto opened = co_await shard_log::open(test_config(dir.path()));
        CO_ASSERT_OK(opened);
        shard_log& log = **opened;
        CO_ASSERT(co_await check_all(log, model, 0, "reopened"));
        CO_ASSERT(log.stats().disk_reads > 0);
        // DeleteRecords into epoch 9: the earlier epochs end at the start offset.
        int64_t start = model[50].base + 1;
        CO_ASSERT_OK(co_await log.set_start_offset(partition_id(1), kafka_offset(start),
                                                   term_id(9)));
        CO_ASSERT(co_await check_all(log, model, start, "start moved"));
        CO_ASSERT_OK(co_await log.close());
        co_return 0;
    });
    EXPECT_EQ(rc, 0);
}

TEST(shard_log_epochs, a_truncation_forgets_the_removed_epochs) {
    temp_dir dir;
    int rc = run_reactor([&]() -> task<int> {
        auto opened = co_await shard_log::open(test_config(dir.path()));
        CO_ASSERT_OK(opened);
        shard_log& log = **opened;
        log.configure_partition(partition_id(1), {});
        std::vector<appended> model;
        CO_ASSERT(co_await append_epoch(log, model, 2, 20, 1));
        CO_ASSERT(co_await append_epoch(log, model, 4, 20, 50));
        CO_ASSERT(co_await append_epoch(log, model, 7, 20, 90));
        // Raft removes the 25 newest entries (one batch each): epoch 7 goes, and part of 4.
        CO_ASSERT_OK(co_await log.truncate_suffix(raft_index(35)));
        model.resize(35);
        CO_ASSERT(co_await check_all(log, model, 0, "truncated"));
        // A later leader's batches: epoch 4 now ends where epoch 10 begins.
        CO_ASSERT(co_await append_epoch(log, model, 10, 8, 400));
        CO_ASSERT(co_await check_all(log, model, 0, "appended after the truncation"));
        CO_ASSERT_OK(co_await log.close());
        co_return 0;
    });
    EXPECT_EQ(rc, 0);
}

}  // namespace
}  // namespace wharf
