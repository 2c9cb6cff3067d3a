// Flag values with units, and the broker's flag validation (the cluster flags included).

#include <gtest/gtest.h>

#include <string>
#include <vector>

#include "core/cluster/cluster_rpc.h"
#include "core/cluster/topic_config.h"
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

TEST(broker_flags, test_disk_fault_makes_every_log_write_fail_after_its_delay) {
    auto none = parse({"--smp", "1"});
    ASSERT_TRUE(none.config);
    EXPECT_FALSE(none.config->test_disk_fault);
    EXPECT_FALSE(none.config->shard_log_config(0).disk_fault);

    auto later = parse({"--smp", "1", "--test-disk-fault", "eio@1h"});
    ASSERT_TRUE(later.config);
    ASSERT_TRUE(later.config->test_disk_fault);
    EXPECT_EQ(later.config->test_disk_fault->error, std::errc::io_error);
    EXPECT_EQ(later.config->test_disk_fault->after, hours(1));
    auto lc = later.config->shard_log_config(0);
    ASSERT_TRUE(lc.disk_fault);
    EXPECT_FALSE(lc.disk_fault(disk_op::write, 4096)) << "fails before its delay";

    auto now = parse({"--smp", "1", "--test-disk-fault", "enospc@0"});
    ASSERT_TRUE(now.config);
    auto full = now.config->shard_log_config(0);
    ASSERT_TRUE(full.disk_fault);
    EXPECT_EQ(full.disk_fault(disk_op::allocate, 1 << 20),
              std::make_error_code(std::errc::no_space_on_device));
    EXPECT_EQ(full.disk_fault(disk_op::write, 4096),
              std::make_error_code(std::errc::no_space_on_device));

    for (const char* bad : {"ebadf@1s", "eio@soon", "@1s", "eio@-1s"}) {
        EXPECT_EQ(parse({"--smp", "1", "--test-disk-fault", bad}).exit_code, 2) << bad;
    }
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

// --- The cluster flags (core/config/cluster_config.h) and the cluster id (cluster_rpc.h) ---

const std::string three = "0@127.0.0.1:34100,1@127.0.0.1:34101,2@127.0.0.1:34102";

TEST(cluster_flags, seeds_with_ids_sort_by_node) {
    std::string why;
    auto s = parse_seeds("2@10.0.0.3:33145,0@10.0.0.1:33145,1@[::1]:33145", &why);
    ASSERT_TRUE(s) << why;
    ASSERT_EQ(s->size(), 3u);
    EXPECT_EQ((*s)[0].node, 0);
    EXPECT_EQ((*s)[0].rpc.host, "10.0.0.1");
    EXPECT_EQ((*s)[1].rpc.host, "::1");
    EXPECT_EQ((*s)[2].node, 2);
}

TEST(cluster_flags, seeds_without_ids_take_their_position) {
    std::string why;
    auto s = parse_seeds("127.0.0.1:1,127.0.0.1:2,127.0.0.1:3", &why);
    ASSERT_TRUE(s) << why;
    EXPECT_EQ((*s)[2].node, 2);
    EXPECT_EQ((*s)[2].rpc.port, 3);
}

TEST(cluster_flags, bad_seeds_are_refused_with_a_reason) {
    for (const char* bad : {"", "0@127.0.0.1:1,1@127.0.0.1:2",            // two: even
                            "0@127.0.0.1:1,0@127.0.0.1:2,2@127.0.0.1:3",  // id twice
                            "0@127.0.0.1:1,1@127.0.0.1:1,2@127.0.0.1:3",  // address twice
                            "x@127.0.0.1:1", "-1@127.0.0.1:1", "1024@127.0.0.1:1",
                            "0@127.0.0.1", "0@127.0.0.1:0", "0@127.0.0.1:1,",
                            "0@::1:5"}) {
        std::string why;
        EXPECT_FALSE(parse_seeds(bad, &why)) << bad;
        EXPECT_FALSE(why.empty()) << bad;
    }
}

TEST(cluster_flags, a_broker_without_seeds_is_node_0_alone) {
    auto out = parse({"--smp", "1"});
    ASSERT_TRUE(out.config);
    EXPECT_FALSE(out.config->cluster.is_cluster());
    EXPECT_EQ(out.config->cluster.voters(), std::vector<int32_t>{0});
}

TEST(cluster_flags, a_cluster_broker_is_a_seed_or_joins) {
    auto out = parse({"--smp", "1", "--node-id", "1", "--rpc-addr", "127.0.0.1:34101",
                      "--seeds", three});
    ASSERT_TRUE(out.config);
    const cluster_config& c = out.config->cluster;
    EXPECT_TRUE(c.is_cluster());
    EXPECT_EQ(c.voters(), (std::vector<int32_t>{0, 1, 2}));
    // Group k prefers the (k mod N)-th seed.
    EXPECT_EQ(c.preferred_leader(0), 0);
    EXPECT_EQ(c.preferred_leader(4), 1);

    // A node id beyond the seeds joins the cluster, with an RPC address of its own.
    auto joiner = parse({"--smp", "1", "--node-id", "3", "--rpc-addr", "127.0.0.1:34103",
                         "--seeds", three});
    ASSERT_TRUE(joiner.config);
    EXPECT_EQ(joiner.config->cluster.voters(), (std::vector<int32_t>{0, 1, 2}));
    EXPECT_EQ(parse({"--smp", "1", "--node-id", "3", "--rpc-addr", "127.0.0.1:34101",
                     "--seeds", three})
                  .exit_code,
              2);
    EXPECT_EQ(parse({"--smp", "1", "--node-id", "x"}).exit_code, 2);
    EXPECT_EQ(parse({"--smp", "1", "--rpc-addr", "broker1:33145"}).exit_code, 2);
    EXPECT_EQ(parse({"--smp", "1", "--seeds", "0@broker1:33145"}).exit_code, 2);
    // Peers tell clients this broker's Kafka address, so it needs a real port.
    EXPECT_EQ(parse({"--smp", "1", "--kafka-addr", "127.0.0.1:0", "--seeds", three}).exit_code,
              2);
}

TEST(cluster_flags, replication_factor_is_every_broker) {
    auto out = parse({"--smp", "1", "--seeds", three});
    ASSERT_TRUE(out.config);
    EXPECT_EQ(topic_defaults_from(*out.config).replication_factor, 3);
}

TEST(cluster_id, same_seeds_same_id_other_seeds_other_id) {
    cluster_config a;
    a.seeds = *parse_seeds(three, nullptr);
    cluster_config b = a;
    b.node_id = 2;  // another broker of the same cluster
    EXPECT_EQ(derive_cluster_id(a), derive_cluster_id(b));
    cluster_config c;
    c.seeds = *parse_seeds("0@127.0.0.1:34100,1@127.0.0.1:34101,2@127.0.0.1:34103", nullptr);
    EXPECT_NE(derive_cluster_id(a), derive_cluster_id(c));
    EXPECT_EQ(kafka_cluster_id(derive_cluster_id(a).bytes).size(), 22u);
}

}  // namespace
}  // namespace wharf
