// The persisted membership history (raft/config_state.h): it round-trips, refuses damage, is
// empty when missing, and a start resolves an install bracket by the log's snapshot point.

#include "raft/config_state.h"

#include <gtest/gtest.h>

#include <fstream>

#include "raft/errc.h"
#include "tests/raft/raft_group_util.h"

namespace wharf {
namespace {

using test::on_shard;


config_entry at(int64_t index, int64_t term, std::vector<node_id> voters,
                std::vector<node_id> learners = {}) {
    return config_entry{raft_index(index), term_id(term), raft_config{voters, learners}};
}

config_state sample() {
    config_state s;
    s.history = {at(0, 0, {node_id(0), node_id(1), node_id(2)}),
                 at(7, 2, {node_id(0), node_id(1), node_id(2)}, {node_id(3)})};
    s.installing = config_state::install{
        raft_index(40), term_id(3), {at(30, 3, {node_id(0), node_id(1), node_id(2), node_id(3)})}};
    return s;
}

TEST(raft_config_state, round_trips) {
    for (const config_state& s : {config_state{}, sample()}) {
        auto back = decode_config_state(encode_config_state(s));
        ASSERT_TRUE(back) << back.error().message();
        EXPECT_EQ(*back, s);
    }
}

TEST(raft_config_state, every_damage_is_refused) {
    auto good = encode_config_state(sample());
    const auto corrupt = make_error_code(raft_errc::corrupt_config_state);
    for (size_t n = 0; n < good.size(); ++n) {
        auto cut = std::vector<std::byte>(good.begin(), good.begin() + n);
        EXPECT_EQ(decode_config_state(cut).error(), corrupt) << "cut at " << n;
        auto flipped = good;
        flipped[n] ^= std::byte{0x10};
        EXPECT_EQ(decode_config_state(flipped).error(), corrupt) << "flip at " << n;
    }
}

TEST(raft_config_state, a_start_takes_the_history_that_matches_the_log) {
    config_state s = sample();
    // The install happened: the log's snapshot point is the one the bracket names.
    EXPECT_EQ(s.at_start(raft_index(40), term_id(3)), s.installing->history);
    // It did not (the old log, or a point of another term): the history before it counts.
    EXPECT_EQ(s.at_start(raft_index(0), term_id(0)), s.history);
    EXPECT_EQ(s.at_start(raft_index(40), term_id(2)), s.history);
    s.installing.reset();
    EXPECT_EQ(s.at_start(raft_index(40), term_id(3)), s.history);
}

TEST(raft_config_state, saved_durably_and_loaded_back) {
    temp_dir dir;
    on_shard([&]() -> task<int> {
        auto missing = co_await load_config_state(dir.path());
        EXPECT_TRUE(missing && missing->history.empty() && !missing->installing);
        EXPECT_TRUE(co_await save_config_state(dir.path(), sample()));
        auto loaded = co_await load_config_state(dir.path());
        EXPECT_TRUE(loaded && *loaded == sample());
        co_return 0;
    });
    // A damaged file is an error, never an empty (initial) membership.
    {
        std::fstream f(dir.path() + "/" + config_file_name,
                       std::ios::in | std::ios::out | std::ios::binary);
        f.seekp(9);
        f.put('\x7f');
    }
    on_shard([&]() -> task<int> {
        auto loaded = co_await load_config_state(dir.path());
        EXPECT_EQ(loaded.error(), raft_errc::corrupt_config_state);
        co_return 0;
    });
}

}  // namespace
}  // namespace wharf
