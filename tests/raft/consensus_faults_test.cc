// Raft groups of three on real logs under faults: a leader whose disk fails, and rounds of
// stops, restarts and leadership transfers under a steady stream of appends, after which every
// acknowledged batch is in every replica's log, once, in order.

#include <random>
#include <set>

#include "log/record_reader.h"
#include "tests/raft/raft_group_util.h"

namespace wharf {
namespace {

using namespace std::chrono_literals;
using test::group_of_three;
using test::one_batch;
using test::on_shard;

// The record values of partition p on replica i, in offset order.
task<std::vector<std::string>> values(group_of_three& g, int i) {
    std::vector<std::string> out;
    auto& log = *g[i].log;
    kafka_offset next = *log.start_offset(group_of_three::p);
    kafka_offset end = *g[i].raft->high_watermark(group_of_three::p);
    while (next < end) {
        auto read = co_await log.read(group_of_three::p, next, 1 << 20);
        WHARF_ASSERT(read && read->size() > 0, "read at {} on replica {}", next, i);
        auto bytes = read->linearize(0, read->size());
        while (!bytes.empty() && next < end) {
            auto h = read_batch_header(bytes);
            WHARF_ASSERT(h, "batch header at {}", next);
            auto batch = bytes.subspan(0, h->total_bytes());
            record_reader records(batch_records(batch), h->records_count);
            while (!records.at_end()) {
                auto rec = records.next();
                WHARF_ASSERT(rec && rec->value, "record at {}", next);
                out.emplace_back(reinterpret_cast<const char*>(rec->value->data()), rec->value->size());
            }
            next = h->last_offset() + 1;
            bytes = bytes.subspan(h->total_bytes());
        }
    }
    co_return out;
}

TEST(consensus_faults, a_leader_whose_disk_fails_steps_down_and_nothing_acknowledged_is_lost) {
    group_of_three g;
    on_shard([&]() -> task<int> {
        int l = co_await g.start_all_and_elect();
        if (l < 0) co_return 1;
        std::vector<std::string> acked;
        for (int k = 0; k < 5; ++k) {
            std::string v = "before" + std::to_string(k);
            auto r = co_await g[l].raft->replicate_batch(group_of_three::p, one_batch(v));
            EXPECT_TRUE(r);
            if (r) acked.push_back(v);
        }
        term_id term = g[l].raft->term();
        g.set_disk_fault(l, [](disk_op op, uint64_t) {
            return op == disk_op::write ? std::make_error_code(std::errc::io_error)
                                        : std::error_code{};
        });
        auto failed = co_await g[l].raft->replicate_batch(group_of_three::p, one_batch("lost"));
        EXPECT_FALSE(failed);
        // The failed leader steps down; another replica leads a later term.
        int l2 = -1;
        auto deadline = steady_now() + 10s;
        while (steady_now() < deadline && l2 < 0) {
            for (int i = 0; i < 3; ++i) {
                if (i != l && g[i].raft->is_leader() && g[i].raft->machine().leader_commit()) {
                    l2 = i;
                }
            }
            co_await sleep_for(5ms);
        }
        EXPECT_GE(l2, 0);
        EXPECT_FALSE(g[l].raft->is_leader());
        if (l2 < 0) {
            co_await g.stop_all();
            co_return 1;
        }
        EXPECT_GT(g[l2].raft->term(), term);
        for (int k = 0; k < 5; ++k) {
            std::string v = "after" + std::to_string(k);
            auto r = co_await g[l2].raft->replicate_batch(group_of_three::p, one_batch(v));
            EXPECT_TRUE(r);
            if (r) acked.push_back(v);
        }
        // The failed append's outcome was unknown to its client: the leader may have sent it to
        // the followers before its own write failed (entries go out from memory), and then the
        // next leader commits it. Every acknowledged value is there, in order; nothing else but
        // that one, at most once.
        auto got = co_await values(g, l2);
        std::vector<std::string> without_lost;
        for (const auto& v : got) {
            if (v != "lost") without_lost.push_back(v);
        }
        EXPECT_EQ(without_lost, acked);
        EXPECT_LE(got.size(), acked.size() + 1);
        co_await g.stop_all();
        co_return 0;
    });
}

TEST(consensus_faults, rounds_of_stops_restarts_and_transfers_lose_and_duplicate_nothing) {
    group_of_three g;
    on_shard([&]() -> task<int> {
        std::mt19937_64 rng(20261202);
        for (int i = 0; i < 3; ++i) co_await g.start(i);
        std::vector<std::string> acked;
        std::set<std::string> attempted;
        int next_value = 0;
        for (int round = 0; round < 12; ++round) {
            int l = co_await g.leader();
            EXPECT_GE(l, 0) << "round " << round;
            if (l < 0) break;
            // Appends, some of which race the fault below.
            for (int k = 0; k < 8; ++k) {
                if (!g.up(l) || !g[l].raft->is_leader()) break;
                std::string v = "v" + std::to_string(next_value++);
                attempted.insert(v);
                auto r = co_await g[l].raft->replicate_batch(group_of_three::p, one_batch(v));
                if (r) acked.push_back(v);
            }
            int victim = static_cast<int>(rng() % 3);
            switch (rng() % 3) {
                case 0:  // stop one replica (the leader or not) and bring it back
                    if (g.up(victim)) {
                        co_await g.stop(victim);
                        co_await sleep_for(std::chrono::milliseconds(rng() % 300));
                        co_await g.start(victim);
                    }
                    break;
                case 1:  // hand leadership over
                    if (g.up(l) && g[l].raft->is_leader()) {
                        (void)g[l].raft->transfer_leadership(node_id(victim));
                    }
                    break;
                default:  // stop a follower for the next round's appends
                    if (victim != l && g.up(victim)) {
                        co_await g.stop(victim);
                        int l2 = co_await g.leader();
                        for (int k = 0; l2 >= 0 && k < 4; ++k) {
                            std::string v = "v" + std::to_string(next_value++);
                            attempted.insert(v);
                            auto r = co_await g[l2].raft->replicate_batch(group_of_three::p,
                                                                           one_batch(v));
                            if (r) acked.push_back(v);
                        }
                        co_await g.start(victim);
                    }
            }
        }
        int l = co_await g.leader();
        EXPECT_GE(l, 0);
        if (l >= 0) {
            raft_index last = g[l].log->last_index();
            EXPECT_TRUE(co_await g.all_committed(last));
            auto reference = co_await values(g, l);
            // Every acknowledged value, once each, in the order acknowledged; values whose
            // append failed may or may not be there (their outcome was unknown), but only once.
            std::vector<std::string> acked_seen;
            std::set<std::string> seen;
            std::set<std::string> acked_set(acked.begin(), acked.end());
            for (const auto& v : reference) {
                EXPECT_TRUE(attempted.contains(v)) << v;
                EXPECT_TRUE(seen.insert(v).second) << "duplicated " << v;
                if (acked_set.contains(v)) acked_seen.push_back(v);
            }
            EXPECT_EQ(acked_seen, acked);
            for (int i = 0; i < 3; ++i) EXPECT_EQ(co_await values(g, i), reference) << i;
        }
        co_await g.stop_all();
        co_return 0;
    });
}

}  // namespace
}  // namespace wharf
