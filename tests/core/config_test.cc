// Flag values with units, and the broker's flag validation.

#include <gtest/gtest.h>

#include <string>
#include <vector>

#include "core/config/broker_config.h"
#include "core/config/units.h"
#include "reactor/placement.h"

namespace wharf {
namespace {

using namespace std::chrono;

TEST(units, sizes) {
    EXPECT_EQ(*parse_size("0"), 0u);
    EXPECT_EQ(*parse_size("16384"), 16384u);
    EXPECT_EQ(*parse_size("16KiB"), 16384u);
    EXPECT_EQ(*parse_size("16K"), 16384u);
    EXPECT_EQ(*parse_size("16KB"), 16000u);
    EXPECT_EQ(*parse_size("512MiB"), 512ull << 20);
    EXPECT_EQ(*parse_size("1GB"), 1000000000ull);
    EXPECT_EQ(*parse_size("2 GiB"), 2ull << 30);
    EXPECT_EQ(*parse_size("1TiB"), 1ull << 40);
    for (const char* bad : {"", "KiB", "12XB", "-1", "1.5GiB", "99999999999999999999",
                            "17179869184TiB", "1 2"}) {
        EXPECT_FALSE(parse_size(bad)) << bad;
    }
    EXPECT_EQ(format_size(512ull << 20), "512MiB");
    EXPECT_EQ(format_size(1536), "1.5KiB");
    EXPECT_EQ(format_size(1000), "1000B");
}

TEST(units, durations) {
    EXPECT_EQ(*parse_duration("250ms", milliseconds(1)), milliseconds(250));
    EXPECT_EQ(*parse_duration("250", milliseconds(1)), milliseconds(250));
    EXPECT_EQ(*parse_duration("50", microseconds(1)), microseconds(50));
    EXPECT_EQ(*parse_duration("7d", milliseconds(1)), hours(24 * 7));
    EXPECT_EQ(*parse_duration("2h", milliseconds(1)), hours(2));
    EXPECT_EQ(*parse_duration("3m", milliseconds(1)), minutes(3));
    EXPECT_EQ(*parse_duration("10s", milliseconds(1)), seconds(10));
    EXPECT_EQ(*parse_duration("100us", milliseconds(1)), microseconds(100));
    EXPECT_EQ(*parse_duration("5ns", milliseconds(1)), nanoseconds(5));
    for (const char* bad : {"", "ms", "soon", "-5s", "5 fortnights", "999999999999d"}) {
        EXPECT_FALSE(parse_duration(bad, milliseconds(1))) << bad;
    }
}

parse_outcome parse(std::vector<std::string> args) {
    args.insert(args.begin(), "wharf");
    std::vector<char*> argv;
    for (auto& a : args) argv.push_back(a.data());
    return parse_broker_flags(static_cast<int>(argv.size()), argv.data());
}

TEST(broker_flags, defaults_use_every_allowed_cpu) {
    auto out = parse({});
    ASSERT_TRUE(out.config);
    EXPECT_EQ(out.config->smp, allowed_cpus().size());
    EXPECT_EQ(out.config->cpus, allowed_cpus());
    EXPECT_EQ(out.config->data_dir, "./data");
    EXPECT_EQ(out.config->fsync, fsync_policy::always);
    EXPECT_EQ(out.config->segment_bytes, 512ull << 20);
    auto lc = out.config->shard_log_config(0);
    EXPECT_EQ(lc.segment_bytes, 512ull << 20);
    EXPECT_EQ(lc.tail_cache_bytes, out.config->tail_cache_bytes_per_shard());
}

TEST(broker_flags, values_with_units_reach_the_log_config) {
    auto out = parse({"--smp", "1", "--segment-bytes", "64MiB", "--segment-ms", "1h",
                      "--flush-interval-us", "2ms", "--fsync", "never", "--memory", "1GiB",
                      "--max-batch-bytes", "2MiB", "--data-dir", "/tmp/x", "--poll-us", "20"});
    ASSERT_TRUE(out.config);
    const auto& c = *out.config;
    EXPECT_EQ(c.smp, 1u);
    EXPECT_EQ(c.cpus.size(), 1u);
    auto lc = c.shard_log_config(0);
    EXPECT_EQ(lc.data_dir, "/tmp/x");
    EXPECT_EQ(lc.segment_bytes, 64ull << 20);
    EXPECT_EQ(lc.segment_ms, hours(1));
    EXPECT_EQ(lc.flush_interval_us, microseconds(2000));
    EXPECT_EQ(lc.fsync, fsync_policy::never);
    EXPECT_EQ(lc.limits.max_batch_bytes, 2u << 20);
    EXPECT_EQ(lc.tail_cache_bytes, (1u << 30) / 4);
    EXPECT_EQ(c.poll_us, microseconds(20));
}

TEST(broker_flags, overprovisioned_allows_more_shards_than_cpus_without_pinning) {
    unsigned n = static_cast<unsigned>(allowed_cpus().size()) + 3;
    EXPECT_FALSE(parse({"--smp", std::to_string(n)}).config);
    EXPECT_EQ(parse({"--smp", std::to_string(n)}).exit_code, 2);
    auto out = parse({"--smp", std::to_string(n), "--overprovisioned"});
    ASSERT_TRUE(out.config);
    EXPECT_EQ(out.config->smp, n);
    EXPECT_TRUE(out.config->cpus.empty());
}

TEST(broker_flags, invalid_values_exit_2) {
    for (auto args : std::vector<std::vector<std::string>>{
             {"--smp", "0"}, {"--smp", "2000"}, {"--smp", "1x"}, {"--segment-bytes", "1KiB"},
             {"--segment-bytes", "12XB"}, {"--fsync", "maybe"}, {"--cpuset", "9999"},
             {"--max-batch-bytes", "1"}, {"--log-level", "chatty"},
             {"--offsets-retention-check-interval", "0"},
             {"--offsets-retention-check-interval", "soon"}, {"--bogus"}}) {
        auto out = parse(args);
        EXPECT_FALSE(out.config) << args[0];
        EXPECT_EQ(out.exit_code, 2) << args[0];
    }
}

}  // namespace
}  // namespace wharf
