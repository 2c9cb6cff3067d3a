// Recovery at open (log/recovery.cc): torn tails are cut to the last whole entry; corruption of
// acknowledged data (a bad entry followed by a later write, or anything in a closed segment) is
// refused with the file and byte offset named, or, for a replica that others can repair, cut off
// behind the repair marker; damaged or missing index files are rebuilt.

#include <gtest/gtest.h>

#include <algorithm>

#include <filesystem>
#include <random>

#include "log/errc.h"
#include "log/shard_log.h"
#include "reactor/when_all.h"
#include "tests/log/shardlog_test_util.h"

namespace wharf {
namespace {

using namespace wharf::test;
namespace fs = std::filesystem;

// One append made by the builder, in log order.
struct appended {
    uint32_t partition;
    model_batch batch;
    raft_index index{0};
};

task<bool> append_one(shard_log& log, std::vector<appended>& out, uint32_t p, uint64_t seed) {
    auto batch = make_batch(seed, 1 + seed % 3, 100 + seed * 37 % 400, 1000);
    auto r = co_await log.append_batch(partition_id(p), term_id(1), to_iobuf(batch), 0);
    if (!r) {
        ADD_FAILURE() << "append failed: " << r.error().message();
        co_return false;
    }
    out.push_back({p, {r->base_offset, r->last_offset, 0, stamped(batch, r->base_offset, 0)},
                   r->index});
    co_return true;
}

// n appends to 3 partitions, one write each, except the last `group` appends: one group commit.
std::vector<appended> build_log(const log_config& cfg, int n, int group) {
    std::vector<appended> out;
    int rc = run_reactor([&]() -> task<int> {
        auto opened = co_await shard_log::open(cfg);
        CO_ASSERT_OK(opened);
        shard_log& log = **opened;
        for (uint32_t p = 0; p < 3; ++p) log.configure_partition(partition_id(p), {});
        for (int i = 0; i < n - group; ++i) CO_ASSERT(co_await append_one(log, out, i % 3, i));
        std::vector<task<bool>> last;
        for (int i = n - group; i < n; ++i) last.push_back(append_one(log, out, i % 3, i));
        co_await when_all(std::move(last));
        CO_ASSERT_OK(co_await log.close());
        co_return 0;
    });
    EXPECT_EQ(rc, 0);
    // Appends of one group commit complete together, in no promised order: the log's order is
    // that of the raft indexes.
    std::sort(out.begin(), out.end(),
              [](const appended& a, const appended& b) { return a.index < b.index; });
    return out;
}

log_model model_of(const std::vector<appended>& all, size_t kept) {
    log_model m;
    for (uint32_t p = 0; p < 3; ++p) m[p];
    for (size_t i = 0; i < kept; ++i) {
        auto& mp = m[all[i].partition];
        mp.batches.push_back(all[i].batch);
        mp.next = all[i].batch.last + 1;
    }
    return m;
}

void copy_dir(const std::string& from, const std::string& to) {
    fs::remove_all(to);
    fs::copy(from, to, fs::copy_options::recursive);
}

std::string shard_dir(const std::string& data_dir) { return data_dir + "/shard-0"; }

// Opens the log in data_dir and checks it holds exactly the first `kept` appends and still takes
// new ones. Returns the log's stats.
// With `repairing`, also reports whether the log says it awaits repair.
log_stats expect_recovers_to(const log_config& cfg, const std::vector<appended>& all,
                             size_t kept, bool* repairing = nullptr) {
    log_stats stats{};
    int rc = run_reactor([&]() -> task<int> {
        std::string detail;
        auto opened = co_await shard_log::open(cfg, &detail);
        if (!opened) {
            ADD_FAILURE() << "open failed: " << opened.error().message() << ": " << detail;
            co_return 1;
        }
        shard_log& log = **opened;
        for (uint32_t p = 0; p < 3; ++p) log.configure_partition(partition_id(p), {});
        auto model = model_of(all, kept);
        co_await expect_log_matches(log, model, 1 << 20);
        EXPECT_EQ(log.last_index(), raft_index(static_cast<int64_t>(kept)));
        auto batch = make_batch(999, 1, 10, 0);
        auto r = co_await log.append_batch(partition_id(1), term_id(1), to_iobuf(batch), 0);
        CO_ASSERT_OK(r);
        EXPECT_EQ(r->base_offset, model[1].next);
        EXPECT_EQ(r->index, raft_index(static_cast<int64_t>(kept) + 1));
        stats = log.stats();
        if (repairing != nullptr) *repairing = log.repairing();
        CO_ASSERT_OK(co_await log.close());
        co_return ::testing::Test::HasFailure() ? 1 : 0;
    });
    EXPECT_EQ(rc, 0);
    return stats;
}

log_stats expect_recovers_to(const std::string& data_dir, const std::vector<appended>& all,
                             size_t kept) {
    return expect_recovers_to(test_config(data_dir), all, kept);
}

log_config repair_config(const std::string& data_dir) {
    auto cfg = test_config(data_dir);
    cfg.repair_corruption = true;
    return cfg;
}

// Opens a log whose entry `kept` (0-based) is damaged, as a replica that may repair: the log is
// cut before it and says it awaits repair, across a reopen, until end_repair.
void expect_cut_for_repair(const std::string& data_dir, const std::vector<appended>& all,
                           size_t kept) {
    bool repairing = false;
    auto stats = expect_recovers_to(repair_config(data_dir), all, kept, &repairing);
    EXPECT_EQ(stats.corruption_cuts, 1u);
    EXPECT_TRUE(repairing);
    // expect_recovers_to appended one batch after the cut: it is kept too.
    std::vector<appended> now(all.begin(), all.begin() + static_cast<ptrdiff_t>(kept));
    int rc = run_reactor([&]() -> task<int> {
        auto opened = co_await shard_log::open(repair_config(data_dir));
        CO_ASSERT_OK(opened);
        shard_log& log = **opened;
        EXPECT_TRUE(log.repairing()) << "the marker must survive a restart";
        EXPECT_EQ(log.stats().corruption_cuts, 0u);
        EXPECT_EQ(log.last_index(), raft_index(static_cast<int64_t>(kept) + 1));
        CO_ASSERT_OK(co_await log.end_repair());
        EXPECT_FALSE(log.repairing());
        CO_ASSERT_OK(co_await log.close());
        auto again = co_await shard_log::open(repair_config(data_dir));
        CO_ASSERT_OK(again);
        EXPECT_FALSE((*again)->repairing());
        CO_ASSERT_OK(co_await (*again)->close());
        co_return ::testing::Test::HasFailure() ? 1 : 0;
    });
    EXPECT_EQ(rc, 0);
}

// Opens the log and expects a refusal naming `file` and `byte`.
void expect_refused(const std::string& data_dir, const std::string& file, uint64_t byte) {
    int rc = run_reactor([&]() -> task<int> {
        std::string detail;
        auto opened = co_await shard_log::open(test_config(data_dir), &detail);
        CO_ASSERT(!opened);
        EXPECT_EQ(opened.error(), log_errc::corrupt_segment);
        EXPECT_NE(detail.find(fs::path(file).filename().string()), std::string::npos) << detail;
        EXPECT_NE(detail.find("byte " + std::to_string(byte)), std::string::npos) << detail;
        co_return ::testing::Test::HasFailure() ? 1 : 0;
    });
    EXPECT_EQ(rc, 0);
}

void flip_byte(const std::string& path, uint64_t at, std::byte mask) {
    auto bytes = read_file(path);
    ASSERT_LT(at, bytes.size());
    bytes[at] ^= mask;
    write_file(path, bytes);
}

TEST(recovery, torn_tails_are_cut_at_the_last_whole_entry) {
    const uint32_t seed = 1234;
    std::printf("seed %u\n", seed);
    temp_dir base;
    auto all = build_log(test_config(base.path()), 30, 1);
    auto seg = files_with_suffix(shard_dir(base.path()), ".log").at(0);
    auto bounds = entry_boundaries(seg);
    ASSERT_EQ(bounds.size(), 31u);
    const uint64_t size = bounds.back();
    std::mt19937 rng(seed);
    temp_dir work;
    for (int round = 0; round < 25; ++round) {
        uint64_t cut = round == 0 ? 0 : rng() % size;
        SCOPED_TRACE(::testing::Message() << "cut at " << cut);
        copy_dir(base.path(), work.path());
        fs::resize_file(shard_dir(work.path()) + "/" + fs::path(seg).filename().string(), cut);
        size_t kept = std::upper_bound(bounds.begin(), bounds.end(), cut) - bounds.begin() - 1;
        auto stats = expect_recovers_to(work.path(), all, kept);
        EXPECT_EQ(stats.truncated_bytes, cut - bounds[kept]);
        if (::testing::Test::HasFailure()) return;
    }
}

TEST(recovery, damage_in_the_last_write_is_cut) {
    const uint32_t seed = 99;
    std::printf("seed %u\n", seed);
    temp_dir base;
    auto all = build_log(test_config(base.path()), 20, 1);
    auto name = fs::path(files_with_suffix(shard_dir(base.path()), ".log").at(0)).filename();
    auto bounds = entry_boundaries(shard_dir(base.path()) + "/" + name.string());
    std::mt19937 rng(seed);
    temp_dir work;
    for (int round = 0; round < 10; ++round) {
        uint64_t at = bounds[19] + rng() % (bounds[20] - bounds[19]);
        SCOPED_TRACE(::testing::Message() << "damage at " << at);
        copy_dir(base.path(), work.path());
        flip_byte(shard_dir(work.path()) + "/" + name.string(), at, std::byte(1 + rng() % 255));
        auto stats = expect_recovers_to(work.path(), all, 19);
        EXPECT_EQ(stats.truncated_bytes, bounds[20] - bounds[19]);
        if (::testing::Test::HasFailure()) return;
    }
}

TEST(recovery, damage_inside_one_torn_group_commit_is_cut) {
    // The last write carried 5 entries; its second is bad, the 3 after it intact. They all come
    // from the same, never acknowledged, write: a torn write whose pages reached the disk out of
    // order. Everything from the bad entry on goes.
    temp_dir base;
    auto all = build_log(test_config(base.path()), 20, 5);
    auto name = fs::path(files_with_suffix(shard_dir(base.path()), ".log").at(0)).filename();
    auto bounds = entry_boundaries(shard_dir(base.path()) + "/" + name.string());
    temp_dir work;
    copy_dir(base.path(), work.path());
    flip_byte(shard_dir(work.path()) + "/" + name.string(), bounds[16] + 60, std::byte{0x10});
    auto stats = expect_recovers_to(work.path(), all, 16);
    EXPECT_EQ(stats.truncated_bytes, bounds[20] - bounds[16]);
}

TEST(recovery, damage_followed_by_a_later_write_is_refused) {
    const uint32_t seed = 5150;
    std::printf("seed %u\n", seed);
    temp_dir base;
    build_log(test_config(base.path()), 20, 1);
    auto name = fs::path(files_with_suffix(shard_dir(base.path()), ".log").at(0)).filename();
    auto bounds = entry_boundaries(shard_dir(base.path()) + "/" + name.string());
    std::mt19937 rng(seed);
    temp_dir work;
    for (int round = 0; round < 10; ++round) {
        size_t k = rng() % 19;  // any entry but the last
        uint64_t at = bounds[k] + rng() % (bounds[k + 1] - bounds[k]);
        SCOPED_TRACE(::testing::Message() << "damage at " << at << " in entry " << k);
        copy_dir(base.path(), work.path());
        auto path = shard_dir(work.path()) + "/" + name.string();
        flip_byte(path, at, std::byte(1 + rng() % 255));
        expect_refused(work.path(), path, bounds[k]);
        // Refusing changed nothing on disk.
        EXPECT_EQ(file_size(path), bounds.back());
    }
}

// Protocol-aware recovery: a replica that others can repair cuts the damage off instead.
TEST(recovery, damage_followed_by_a_later_write_is_cut_for_repair_when_others_hold_it) {
    temp_dir base;
    auto all = build_log(test_config(base.path()), 20, 1);
    auto name = fs::path(files_with_suffix(shard_dir(base.path()), ".log").at(0)).filename();
    auto bounds = entry_boundaries(shard_dir(base.path()) + "/" + name.string());
    temp_dir work;
    for (size_t k : {size_t{0}, size_t{7}, size_t{18}}) {
        SCOPED_TRACE(::testing::Message() << "damage in entry " << k);
        copy_dir(base.path(), work.path());
        flip_byte(shard_dir(work.path()) + "/" + name.string(), bounds[k] + 30, std::byte{0x10});
        expect_cut_for_repair(work.path(), all, k);
    }
}

TEST(recovery, damage_in_a_scanned_closed_segment_is_cut_for_repair_with_every_later_segment) {
    temp_dir base;
    auto cfg = test_config(base.path());
    cfg.segment_bytes = 4096;
    auto all = build_log(cfg, 40, 1);
    auto logs = files_with_suffix(shard_dir(base.path()), ".log");
    ASSERT_GE(logs.size(), 3u);
    auto seg1 = fs::path(logs.at(1)).filename().string();
    auto bounds = entry_boundaries(logs.at(1));
    ASSERT_GE(bounds.size(), 4u);
    // Entries of segment 0, then two of segment 1, survive.
    size_t kept = entry_boundaries(logs.at(0)).size() - 1 + 2;

    temp_dir work;
    copy_dir(base.path(), work.path());
    auto wdir = shard_dir(work.path());
    fs::remove(files_with_suffix(wdir, ".index").at(1));
    flip_byte(wdir + "/" + seg1, bounds[2] + 70, std::byte{0x20});
    auto repair_cfg = repair_config(work.path());
    repair_cfg.segment_bytes = 4096;
    bool repairing = false;
    auto stats = expect_recovers_to(repair_cfg, all, kept, &repairing);
    EXPECT_EQ(stats.corruption_cuts, 1u);
    EXPECT_TRUE(repairing);
    EXPECT_EQ(files_with_suffix(wdir, ".log").size(), 2u) << "later segments stay";
    EXPECT_TRUE(fs::exists(wdir + "/" + std::string(repair_marker_file_name)));
}

TEST(recovery, closed_segments_use_their_index_files_or_rebuild_them) {
    temp_dir base;
    auto cfg = test_config(base.path());
    cfg.segment_bytes = 4096;
    auto all = build_log(cfg, 40, 1);
    auto dir = shard_dir(base.path());
    auto logs = files_with_suffix(dir, ".log");
    ASSERT_GE(logs.size(), 3u);
    ASSERT_EQ(files_with_suffix(dir, ".index").size(), logs.size() - 1);

    // (expect_recovers_to appends one more batch: each check works on a copy.)
    temp_dir work;
    copy_dir(base.path(), work.path());
    auto stats = expect_recovers_to(work.path(), all, all.size());
    EXPECT_EQ(stats.index_files_loaded, logs.size() - 1);
    EXPECT_EQ(stats.index_files_rebuilt, 0u);

    // A missing index file is rebuilt by scanning its segment, and written again.
    copy_dir(base.path(), work.path());
    auto wdir = shard_dir(work.path());
    auto index1 = files_with_suffix(wdir, ".index").at(1);
    fs::remove(index1);
    stats = expect_recovers_to(work.path(), all, all.size());
    EXPECT_EQ(stats.index_files_rebuilt, 1u);
    EXPECT_TRUE(fs::exists(index1));

    // So is a damaged one.
    copy_dir(base.path(), work.path());
    flip_byte(files_with_suffix(wdir, ".index").at(0), 70, std::byte{4});
    stats = expect_recovers_to(work.path(), all, all.size());
    EXPECT_EQ(stats.index_files_rebuilt, 1u);
    EXPECT_EQ(stats.index_files_loaded, logs.size() - 2);
}

TEST(recovery, damage_in_a_closed_segment_is_refused_or_caught_on_read) {
    temp_dir base;
    auto cfg = test_config(base.path());
    cfg.segment_bytes = 4096;
    build_log(cfg, 40, 1);
    auto logs = files_with_suffix(shard_dir(base.path()), ".log");
    auto seg = fs::path(logs.at(0)).filename().string();
    auto bounds = entry_boundaries(logs.at(0));
    ASSERT_GE(bounds.size(), 4u);

    // Without its index the segment is scanned, and a bad entry in a closed segment is never a
    // torn write: refused, even at its very end.
    temp_dir work;
    for (size_t k : {size_t{1}, bounds.size() - 2}) {
        copy_dir(base.path(), work.path());
        auto path = shard_dir(work.path()) + "/" + seg;
        fs::remove(files_with_suffix(shard_dir(work.path()), ".index").at(0));
        flip_byte(path, bounds[k] + 70, std::byte{0x20});
        expect_refused(work.path(), path, bounds[k]);
    }

    // With its index the open trusts it; the read verifies the entry checksum and refuses.
    copy_dir(base.path(), work.path());
    flip_byte(shard_dir(work.path()) + "/" + seg, bounds[1] + 70, std::byte{0x20});
    int rc = run_reactor([&]() -> task<int> {
        auto opened = co_await shard_log::open(test_config(work.path()));
        CO_ASSERT_OK(opened);
        shard_log& log = **opened;
        // Entry 1 is partition 1's first batch.
        auto r = co_await log.read(partition_id(1), kafka_offset(0), 1 << 20);
        CO_ASSERT(!r);
        EXPECT_EQ(r.error(), log_errc::corrupt_entry);
        // Other partitions' batches in the same segment still read.
        EXPECT_TRUE(co_await log.read(partition_id(0), kafka_offset(0), 1));
        CO_ASSERT_OK(co_await log.close());
        co_return ::testing::Test::HasFailure() ? 1 : 0;
    });
    EXPECT_EQ(rc, 0);
}

}  // namespace
}  // namespace wharf
