// The raft replication benchmark's measuring core (perf/lib/raft_replication.h) keeps working: a
// short run of each case, tiny batches and fsync=never (the figures mean nothing; that both
// groups replicate, are measured and reported does).

#include "perf/lib/raft_replication.h"
#include "tests/reactor/test_util.h"

#include <gtest/gtest.h>

#include <filesystem>
#include <nlohmann/json.hpp>
#include <string>

namespace wharf::perf {
namespace {

using namespace std::chrono_literals;

replication_options tiny(const std::string& dir) {
    replication_options o;
    o.dir = dir;
    o.fsync = fsync_policy::never;
    o.record_bytes = 100;
    o.records_per_batch = 4;
    o.inflight = 8;
    o.partitions = 4;
    o.warmup = 0s;
    o.duration = 1s;
    return o;
}

TEST(raft_replication, both_groups_acknowledge_batches_and_report_them) {
    temp_dir dir;
    const replication_options o = tiny(dir.path());
    replication_case rf1;
    replication_case rf3;
    std::string error;
    ASSERT_TRUE(run_replication_case(o, 1, rf1, error)) << error;
    ASSERT_TRUE(run_replication_case(o, 3, rf3, error)) << error;

    for (const replication_case* c : {&rf1, &rf3}) {
        EXPECT_GT(c->batches, 0u);
        EXPECT_EQ(c->latency_us.count(), c->batches);
        EXPECT_EQ(c->payload_bytes, c->batches * 4 * 100);
        EXPECT_GT(c->mb_per_s(), 0);
        EXPECT_GT(c->seconds, 0.5);
        EXPECT_GE(c->cpu_seconds, 0);
        EXPECT_EQ(c->syncs, 0u) << "fsync=never";
    }
    EXPECT_EQ(rf1.replicas, 1);
    EXPECT_EQ(rf1.rpc_frames_out, 0u);
    EXPECT_EQ(rf3.replicas, 3);
    EXPECT_GE(rf3.leader, 0);
    EXPECT_LE(rf3.leader, 2);
    // Every acknowledged entry reached a follower over TCP.
    EXPECT_GT(rf3.rpc_frames_out, 0u);
    EXPECT_GE(rf3.rpc_bytes_out, rf3.batch_bytes);
    EXPECT_EQ(rf3.rpc_disconnects, 0u);
    // The counting wrapper saw the leader's requests carry at least every committed entry, and
    // the followers answer.
    EXPECT_GT(rf3.append_requests, 0u);
    EXPECT_GE(rf3.appended_entries, rf3.batches);
    EXPECT_GT(rf3.follower_replies, 0u);

    const std::string line = replication_json(o, rf1, rf3);
    EXPECT_EQ(line.find('\n'), std::string::npos);
    auto j = nlohmann::json::parse(line);
    EXPECT_EQ(j["bench"], "raft_replication");
    EXPECT_EQ(j["fsync"], "never");
    EXPECT_GT(j["rf1"]["mb_per_s"].get<double>(), 0);
    EXPECT_GT(j["rf3"]["mb_per_s"].get<double>(), 0);
    EXPECT_EQ(j["rf3"]["transport"], "tcp");
    EXPECT_GT(j["rf3_over_rf1"]["throughput"].get<double>(), 0);
    EXPECT_GT(j["rf3_over_rf1"]["cpu_s_per_gb"].get<double>(), 0);

    const std::string text = replication_report(o, rf1, rf3);
    EXPECT_NE(text.find("WARNING: fsync=never"), std::string::npos) << text;
    EXPECT_NE(text.find("RF3/RF1"), std::string::npos) << text;
}

TEST(raft_replication, refuses_a_replica_count_it_does_not_measure) {
    temp_dir dir;
    replication_case c;
    std::string error;
    EXPECT_FALSE(run_replication_case(tiny(dir.path()), 2, c, error));
    EXPECT_NE(error.find("only 1 and 3"), std::string::npos) << error;
}

}  // namespace
}  // namespace wharf::perf
