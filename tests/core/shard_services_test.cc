// A shard's services: log and raft group start and stop together, and the periodic retention
// pass applies partitions' retention settings without being asked.

#include <gtest/gtest.h>

#include <chrono>
#include <string>
#include <vector>

#include "core/config/broker_config.h"
#include "core/shard_services.h"
#include "log/record_batch.h"
#include "reactor/smp.h"
#include "reactor/timer.h"
#include "tests/reactor/test_util.h"

namespace wharf {
namespace {

using namespace std::chrono_literals;

broker_config config_in(const std::string& dir, const std::string& interval) {
    std::vector<std::string> args = {"wharf", "--smp", "1", "--data-dir", dir, "--memory", "256MiB",
                                     "--segment-bytes", "1MiB", "--retention-check-interval",
                                     interval};
    std::vector<char*> argv;
    for (auto& a : args) argv.push_back(a.data());
    auto out = parse_broker_flags(static_cast<int>(argv.size()), argv.data());
    WHARF_ASSERT(out.config, "test flags refused");
    return *out.config;
}

iobuf batch_of(size_t value_bytes) {
    std::vector<record_to_build> records(4);
    std::string value(value_bytes, 'v');
    for (auto& r : records) r.value = value;
    auto bytes = build_batch(kafka_offset(0), wall_now().value(), records);
    return iobuf::copy_of(bytes.data(), bytes.size());
}

TEST(shard_services, periodic_retention_advances_the_start_offset) {
    temp_dir dir;
    auto cfg = config_in(dir.path(), "20ms");
    auto rc = smp::run(smp_config{.shards = 1}, [&]() -> task<int> {
        std::string detail;
        EXPECT_TRUE(co_await start_shard(cfg, nullptr, &detail)) << detail;
        auto* s = local_services();
        partition_id p(1);
        partition_config pc;
        pc.retention_bytes = 64 << 10;
        s->log->configure_partition(p, pc);
        // 200 batches of ~16 KiB over several 1 MiB segments; retention keeps about 64 KiB.
        for (int i = 0; i < 200; ++i) {
            auto r = co_await s->raft->replicate_batch(p, batch_of(4000));
            EXPECT_TRUE(r);
        }
        // Passes also run while the appends are going on; wait for one after the last append.
        // 800 offsets were written and about four batches (16 offsets) fit in 64 KiB.
        auto deadline = steady_now() + 20s;
        while (s->log->start_offset(p)->value() <= 700 && steady_now() < deadline) {
            co_await sleep_for(10ms);
        }
        EXPECT_GT(s->log->start_offset(p)->value(), 700);
        EXPECT_EQ(s->log->end_offset(p)->value(), 800);
        EXPECT_GE(s->retention_passes, 1u);
        EXPECT_TRUE(co_await stop_shard());
        EXPECT_EQ(local_services(), nullptr);
        co_return 0;
    });
    ASSERT_TRUE(rc);
}

TEST(shard_services, stop_does_not_wait_for_a_long_retention_interval) {
    temp_dir dir;
    auto cfg = config_in(dir.path(), "1h");
    auto rc = smp::run(smp_config{.shards = 1}, [&]() -> task<int> {
        EXPECT_TRUE(co_await start_shard(cfg, nullptr, nullptr));
        auto t0 = steady_now();
        EXPECT_TRUE(co_await stop_shard());
        EXPECT_LT(steady_now() - t0, 5s);
        co_return 0;
    });
    ASSERT_TRUE(rc);
}

}  // namespace
}  // namespace wharf
