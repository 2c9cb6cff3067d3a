// The raft group of one: durable term and vote, election at start, commit and high watermark.

#include <gtest/gtest.h>

#include <fstream>
#include <string>
#include <vector>

#include "log/record_batch.h"
#include "log/shard_log.h"
#include "raft/consensus.h"
#include "raft/errc.h"
#include "raft/vote_state.h"
#include "reactor/smp.h"
#include "tests/reactor/test_util.h"

namespace wharf {
namespace {

log_config config_for(const std::string& dir) {
    log_config c;
    c.data_dir = dir;
    c.shard = shard_id(0);
    return c;
}

iobuf one_batch(const std::string& value) {
    std::vector<record_to_build> records(1);
    records[0].value = value;
    auto bytes = build_batch(kafka_offset(0), 1000, records);
    return iobuf::copy_of(bytes.data(), bytes.size());
}

template <typename F>
void on_shard(F body) {
    auto rc = smp::run(smp_config{.shards = 1}, [&]() -> task<int> { co_return co_await body(); });
    ASSERT_TRUE(rc);
    ASSERT_EQ(*rc, 0);
}

TEST(vote_state, round_trip_missing_and_corrupt) {
    temp_dir dir;
    on_shard([&]() -> task<int> {
        auto fresh = co_await load_vote_state(dir.path());
        EXPECT_TRUE(fresh);
        EXPECT_EQ(*fresh, vote_state{});
        vote_state s{term_id(7), node_id(3)};
        EXPECT_TRUE(co_await save_vote_state(dir.path(), s));
        EXPECT_EQ(*(co_await load_vote_state(dir.path())), s);
        vote_state none{term_id(8), std::nullopt};
        EXPECT_TRUE(co_await save_vote_state(dir.path(), none));
        EXPECT_EQ(*(co_await load_vote_state(dir.path())), none);
        co_return 0;
    });
    // A flipped bit or a short file is corruption, never a silent reset to term 0.
    std::string path = dir.path() + "/" + vote_file_name;
    {
        std::fstream f(path, std::ios::in | std::ios::out | std::ios::binary);
        f.seekp(9);
        f.put('\x55');
    }
    on_shard([&]() -> task<int> {
        auto r = co_await load_vote_state(dir.path());
        EXPECT_FALSE(r);
        EXPECT_EQ(r.error(), raft_errc::corrupt_vote_state);
        co_return 0;
    });
    std::ofstream(path, std::ios::trunc | std::ios::binary) << "WVOT";
    on_shard([&]() -> task<int> {
        auto r = co_await load_vote_state(dir.path());
        EXPECT_EQ(r.error(), raft_errc::corrupt_vote_state);
        co_return 0;
    });
}

task<std::unique_ptr<consensus>> start_group(shard_log& log) {
    group_config gc{.self = node_id(0), .voters = {node_id(0)}};
    auto c = co_await consensus::start(gc, log);
    WHARF_ASSERT(c, "start failed: {}", c.error().message());
    co_return std::move(*c);
}

TEST(consensus, elects_itself_in_a_new_durable_term_and_commits_appends) {
    temp_dir dir;
    on_shard([&]() -> task<int> {
        auto log = co_await shard_log::open(config_for(dir.path()));
        EXPECT_TRUE(log);
        auto raft = co_await start_group(**log);
        EXPECT_TRUE(raft->is_leader());
        EXPECT_EQ(raft->term(), term_id(1));
        EXPECT_EQ(raft->leader_epoch(), 1);
        // The term was durable before the no-op of the term was appended.
        EXPECT_EQ((co_await load_vote_state((*log)->directory()))->term, term_id(1));
        EXPECT_EQ((*log)->last_term(), term_id(1));
        EXPECT_EQ(raft->commit_index(), (*log)->last_index());

        partition_id p(5);
        (*log)->configure_partition(p, partition_config{});
        for (int i = 0; i < 3; ++i) {
            auto r = co_await raft->replicate_batch(p, one_batch("v" + std::to_string(i)));
            EXPECT_TRUE(r);
            EXPECT_EQ(r->base_offset, kafka_offset(i));
            EXPECT_EQ(raft->commit_index(), r->index);
            EXPECT_EQ(*raft->high_watermark(p), kafka_offset(i + 1));
        }
        // The batch carries the term as its partition leader epoch.
        auto read = co_await (*log)->read(p, kafka_offset(0), 1 << 20);
        EXPECT_TRUE(read);
        auto bytes = read->linearize(0, batch_header_bytes);
        auto h = read_batch_header(std::span(bytes.data(), read->size()));
        EXPECT_TRUE(h);
        EXPECT_EQ(h->partition_leader_epoch, 1);

        co_await raft->stop();
        EXPECT_FALSE(raft->is_leader());
        auto refused = co_await raft->replicate_batch(p, one_batch("late"));
        EXPECT_EQ(refused.error(), raft_errc::shutting_down);
        EXPECT_TRUE(co_await (*log)->close());
        co_return 0;
    });
}

TEST(consensus, restart_moves_to_a_higher_term_even_without_its_vote_file) {
    temp_dir dir;
    for (int round = 1; round <= 3; ++round) {
        on_shard([&]() -> task<int> {
            auto log = co_await shard_log::open(config_for(dir.path()));
            EXPECT_TRUE(log);
            auto raft = co_await start_group(**log);
            EXPECT_EQ(raft->term(), term_id(round));
            co_await raft->stop();
            EXPECT_TRUE(co_await (*log)->close());
            co_return 0;
        });
    }
    // Without the vote file the term still exceeds every term in the log.
    std::remove((dir.path() + "/shard-0/" + vote_file_name).c_str());
    on_shard([&]() -> task<int> {
        auto log = co_await shard_log::open(config_for(dir.path()));
        auto raft = co_await start_group(**log);
        EXPECT_EQ(raft->term(), term_id(4));
        co_await raft->stop();
        EXPECT_TRUE(co_await (*log)->close());
        co_return 0;
    });
}

}  // namespace
}  // namespace wharf
