// A full disk. There is no way to fill a filesystem here without root (no tmpfs to mount, and
// filling /tmp would hurt everyone), so the log's fault hook (log_config::disk_fault) makes the
// next preallocation or write fail with ENOSPC exactly as the kernel would report it; the log
// takes the same path as for a real failure. A second test uses RLIMIT_FSIZE, which makes the
// kernel itself cut a write short and fail it (EFBIG): the real partial-write path.

#include <gtest/gtest.h>
#include <signal.h>
#include <sys/resource.h>

#include <cerrno>

#include "log/errc.h"
#include "log/shard_log.h"
#include "reactor/reactor.h"
#include "reactor/when_all.h"
#include "tests/log/shardlog_test_util.h"

namespace wharf {
namespace {

using namespace wharf::test;

struct fault_switch {
    int fail_next = 0;  // how many more operations of kind `op` fail
    disk_op op = disk_op::write;
};

log_config faulty_config(const std::string& dir, fault_switch& sw) {
    auto cfg = test_config(dir);
    cfg.disk_fault = [&sw](disk_op op, uint64_t) -> std::error_code {
        if (op != sw.op || sw.fail_next == 0) return {};
        --sw.fail_next;
        return std::make_error_code(std::errc::no_space_on_device);
    };
    return cfg;
}

task<result<append_result>> append(shard_log& log, uint64_t seed) {
    auto batch = make_batch(seed, 2, 300, 1000);
    co_return co_await log.append_batch(partition_id(0), term_id(1), to_iobuf(batch), 0);
}

// Records an acknowledged append of append(log, seed) in the model.
void record(log_model& model, const append_result& r, uint64_t seed) {
    auto& m = model[0];
    m.batches.push_back({r.base_offset, r.last_offset, 0,
                         stamped(make_batch(seed, 2, 300, 1000), r.base_offset, 0)});
    m.next = r.last_offset + 1;
}

// A write fails while the next group waits behind it; the waiting one was given offsets after
// the failed ones, so it fails too rather than leave a gap. Then appends go on.
task<bool> pipelined_failure(shard_log& log, fault_switch& sw, log_model& model) {
    sw.fail_next = 1;
    auto second = [&]() -> task<std::vector<result<append_result>>> {
        co_await reactor::local().turn_end();
        std::vector<task<result<append_result>>> g;
        for (uint64_t i = 300; i < 305; ++i) g.push_back(append(log, i));
        co_return co_await when_all(std::move(g));
    };
    auto first = [&]() -> task<std::vector<result<append_result>>> {
        std::vector<task<result<append_result>>> g;
        for (uint64_t i = 200; i < 205; ++i) g.push_back(append(log, i));
        co_return co_await when_all(std::move(g));
    };
    auto [a, b] = co_await when_all(first(), second());
    for (auto& r : a) EXPECT_EQ(r.error(), log_errc::disk_full);
    for (auto& r : b) EXPECT_EQ(r.error(), log_errc::disk_full);
    auto r = co_await append(log, 8);
    if (!r) co_return false;
    EXPECT_EQ(r->base_offset, model[0].next);
    record(model, *r, 8);
    co_return true;
}

void run_disk_full(disk_op op) {
    temp_dir dir;
    fault_switch sw;
    sw.op = op;
    log_model model;
    int rc = run_reactor([&]() -> task<int> {
        auto opened = co_await shard_log::open(faulty_config(dir.path(), sw));
        CO_ASSERT_OK(opened);
        shard_log& log = **opened;
        log.configure_partition(partition_id(0), {});
        for (uint64_t i = 0; i < 5; ++i) {
            auto r = co_await append(log, i);
            CO_ASSERT_OK(r);
            record(model, *r, i);
        }
        // One failing group commit of 10 appends: all fail, nothing is stored.
        sw.fail_next = 1;
        std::vector<task<result<append_result>>> group;
        for (uint64_t i = 100; i < 110; ++i) group.push_back(append(log, i));
        auto failed = co_await when_all(std::move(group));
        for (auto& r : failed) {
            CO_ASSERT(!r);
            EXPECT_EQ(r.error(), log_errc::disk_full);
        }
        EXPECT_EQ(log.end_offset(partition_id(0)).value(), kafka_offset(10));
        EXPECT_EQ(log.last_index(), raft_index(5));
        EXPECT_EQ(log.next_index(), raft_index(6));
        co_await expect_log_matches(log, model, 1 << 20);
        // Space is back: appends continue with the next offsets, no gap.
        for (uint64_t i = 5; i < 8; ++i) {
            auto r = co_await append(log, i);
            CO_ASSERT_OK(r);
            EXPECT_EQ(r->base_offset, model[0].next);
            record(model, *r, i);
        }
        if (op != disk_op::write) {
            CO_ASSERT_OK(co_await log.close());
            co_return ::testing::Test::HasFailure() ? 1 : 0;
        }
        CO_ASSERT(co_await pipelined_failure(log, sw, model));
        co_await expect_log_matches(log, model, 1 << 20);
        CO_ASSERT_OK(co_await log.close());
        co_return ::testing::Test::HasFailure() ? 1 : 0;
    });
    ASSERT_EQ(rc, 0);
    // After a restart exactly the acknowledged appends are there.
    rc = run_reactor([&]() -> task<int> {
        auto opened = co_await shard_log::open(test_config(dir.path()));
        CO_ASSERT_OK(opened);
        EXPECT_EQ((*opened)->stats().truncated_bytes, 0u);
        co_await expect_log_matches(**opened, model, 1 << 20);
        CO_ASSERT_OK(co_await (*opened)->close());
        co_return ::testing::Test::HasFailure() ? 1 : 0;
    });
    EXPECT_EQ(rc, 0);
}

TEST(disk_full, failed_preallocation_leaves_the_log_consistent) { run_disk_full(disk_op::allocate); }

TEST(disk_full, failed_write_leaves_the_log_consistent) { run_disk_full(disk_op::write); }

TEST(disk_full, a_write_the_kernel_cuts_short_is_cut_back) {
    temp_dir dir;
    log_model model;
    // The kernel sends SIGXFSZ with EFBIG; the log only needs the error.
    struct sigaction old_action{};
    struct sigaction ignore{};
    ignore.sa_handler = SIG_IGN;
    ASSERT_EQ(::sigaction(SIGXFSZ, &ignore, &old_action), 0);
    rlimit old_limit{};
    ASSERT_EQ(::getrlimit(RLIMIT_FSIZE, &old_limit), 0);
    int rc = run_reactor([&]() -> task<int> {
        auto cfg = test_config(dir.path());
        cfg.preallocate_bytes = 4096;  // preallocation keeps the size: only the write is limited
        auto opened = co_await shard_log::open(cfg);
        CO_ASSERT_OK(opened);
        shard_log& log = **opened;
        log.configure_partition(partition_id(0), {});
        for (uint64_t i = 0; i < 3; ++i) {
            auto r = co_await append(log, i);
            CO_ASSERT_OK(r);
            model[0].batches.push_back({r->base_offset, r->last_offset, 0,
                                        stamped(make_batch(i, 2, 300, 1000), r->base_offset, 0)});
            model[0].next = r->last_offset + 1;
        }
        auto seg = files_with_suffix(log.directory(), ".log").at(0);
        uint64_t size = file_size(seg);
        // Room for part of the next entry only.
        rlimit lim = old_limit;
        lim.rlim_cur = size + 100;
        CO_ASSERT(::setrlimit(RLIMIT_FSIZE, &lim) == 0);
        auto r = co_await append(log, 50);
        ::setrlimit(RLIMIT_FSIZE, &old_limit);
        CO_ASSERT(!r);
        EXPECT_EQ(r.error(), log_errc::io_error);
        EXPECT_EQ(file_size(seg), size) << "the partial write was cut back";
        // An error other than a full disk leaves the file in doubt: no more writes until reopen.
        EXPECT_EQ((co_await append(log, 51)).error(), log_errc::io_error);
        co_await expect_log_matches(log, model, 1 << 20);
        CO_ASSERT_OK(co_await log.close());
        co_return ::testing::Test::HasFailure() ? 1 : 0;
    });
    ::setrlimit(RLIMIT_FSIZE, &old_limit);
    ::sigaction(SIGXFSZ, &old_action, nullptr);
    ASSERT_EQ(rc, 0);
    rc = run_reactor([&]() -> task<int> {
        auto opened = co_await shard_log::open(test_config(dir.path()));
        CO_ASSERT_OK(opened);
        co_await expect_log_matches(**opened, model, 1 << 20);
        auto r = co_await append(**opened, 52);
        CO_ASSERT_OK(r);
        EXPECT_EQ(r->base_offset, model[0].next);
        CO_ASSERT_OK(co_await (*opened)->close());
        co_return ::testing::Test::HasFailure() ? 1 : 0;
    });
    EXPECT_EQ(rc, 0);
}

}  // namespace
}  // namespace wharf
