// Raft groups of three on one shard: three consensus drivers, each over its own shard log in its
// own directory, connected by an in-memory transport. The real driver, machine and log replicate
// together: elections, commit, failover and catch-up after a restart.

#include "tests/raft/raft_group_util.h"

namespace wharf {
namespace {

using namespace std::chrono_literals;
using test::group_of_three;
using test::one_batch;
using test::on_shard;

TEST(consensus_group, three_replicas_elect_one_leader_and_replicate_committed_batches) {
    group_of_three g;
    on_shard([&]() -> task<int> {
        int l = co_await g.start_all_and_elect();
        if (l < 0) co_return 1;
        int leaders = 0;
        for (int i = 0; i < 3; ++i) leaders += g[i].raft->is_leader() ? 1 : 0;
        EXPECT_EQ(leaders, 1);
        for (int k = 0; k < 20; ++k) {
            auto r = co_await g[l].raft->replicate_batch(group_of_three::p,
                                                         one_batch("v" + std::to_string(k)));
            EXPECT_TRUE(r) << r.error().message();
            if (!r) break;
            EXPECT_EQ(r->base_offset, kafka_offset(k));
            // Committed means on a majority's disks: the leader and one follower at least.
            int holding = 0;
            for (int i = 0; i < 3; ++i) holding += g[i].log->last_index() >= r->index ? 1 : 0;
            EXPECT_GE(holding, 2);
            EXPECT_EQ(*g[l].raft->high_watermark(group_of_three::p), kafka_offset(k + 1));
        }
        raft_index last = g[l].log->last_index();
        EXPECT_TRUE(co_await g.all_committed(last));
        auto reference = co_await g.entries(l, last);
        for (int i = 0; i < 3; ++i) {
            EXPECT_EQ(co_await g.entries(i, last), reference) << "replica " << i;
            EXPECT_EQ(*g[i].raft->high_watermark(group_of_three::p), kafka_offset(20));
        }
        // A follower refuses appends and names no other leader than the real one.
        int f = (l + 1) % 3;
        auto refused = co_await g[f].raft->replicate_batch(group_of_three::p, one_batch("x"));
        EXPECT_EQ(refused.error(), raft_errc::not_leader);
        EXPECT_EQ(g[f].raft->leader(), node_id(l));
        co_await g.stop_all();
        co_return 0;
    });
}

TEST(consensus_group, a_new_leader_keeps_every_committed_batch_and_a_restarted_replica_catches_up) {
    group_of_three g;
    on_shard([&]() -> task<int> {
        int l = co_await g.start_all_and_elect();
        if (l < 0) co_return 1;
        for (int k = 0; k < 10; ++k) {
            auto r = co_await g[l].raft->replicate_batch(group_of_three::p,
                                                         one_batch("a" + std::to_string(k)));
            EXPECT_TRUE(r);
        }
        term_id old_term = g[l].raft->term();
        co_await g.stop(l);
        int l2 = co_await g.leader();
        EXPECT_GE(l2, 0);
        EXPECT_NE(l2, l);
        if (l2 < 0) {
            co_await g.stop_all();
            co_return 1;
        }
        EXPECT_GT(g[l2].raft->term(), old_term);
        // The high watermark a client sees does not go back across the failover.
        EXPECT_EQ(*g[l2].raft->high_watermark(group_of_three::p), kafka_offset(10));
        for (int k = 0; k < 10; ++k) {
            auto r = co_await g[l2].raft->replicate_batch(group_of_three::p,
                                                          one_batch("b" + std::to_string(k)));
            EXPECT_TRUE(r);
            if (r) {
                EXPECT_EQ(r->base_offset, kafka_offset(10 + k));
            }
        }
        // The old leader comes back and catches up from its last durable index.
        co_await g.start(l);
        raft_index last = g[l2].log->last_index();
        EXPECT_TRUE(co_await g.all_committed(last));
        auto reference = co_await g.entries(l2, last);
        EXPECT_EQ(co_await g.entries(l, last), reference);
        auto read = co_await g[l].log->read(group_of_three::p, kafka_offset(0), 1 << 20);
        EXPECT_TRUE(read);
        co_await g.stop_all();
        co_return 0;
    });
}

TEST(consensus_group, leadership_moves_to_the_named_replica) {
    group_of_three g;
    on_shard([&]() -> task<int> {
        int l = co_await g.start_all_and_elect();
        if (l < 0) co_return 1;
        for (int k = 0; k < 5; ++k) {
            auto r = co_await g[l].raft->replicate_batch(group_of_three::p,
                                                         one_batch("t" + std::to_string(k)));
            EXPECT_TRUE(r);
        }
        int target = (l + 1) % 3;
        term_id before = g[l].raft->term();
        EXPECT_TRUE(g[l].raft->transfer_leadership(node_id(target)));
        // While the target catches up the old leader takes no new appends.
        if (g[l].raft->is_leader()) {
            auto refused = co_await g[l].raft->replicate_batch(group_of_three::p, one_batch("x"));
            EXPECT_FALSE(refused);
        }
        auto deadline = steady_now() + 10s;
        while (steady_now() < deadline &&
               !(g[target].raft->is_leader() && g[target].raft->machine().leader_commit())) {
            co_await sleep_for(5ms);
        }
        EXPECT_TRUE(g[target].raft->is_leader());
        EXPECT_GT(g[target].raft->term(), before);
        EXPECT_EQ(*g[target].raft->high_watermark(group_of_three::p), kafka_offset(5));
        EXPECT_EQ(g[target].raft->transfer_leadership(node_id(7)).error(), raft_errc::not_a_voter);
        co_await g.stop_all();
        co_return 0;
    });
}

}  // namespace
}  // namespace wharf
