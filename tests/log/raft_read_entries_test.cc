// shard_log::read_entries (log/entry_read.cc): what a raft leader sends to a follower. Entries
// come back whole, in order, byte for byte as appended with their terms and types; calls stop at
// max_bytes; the sparse raft index bounds how much a read scans; checksums are verified.

#include <gtest/gtest.h>

#include <array>
#include <filesystem>

#include "log/errc.h"
#include "log/shard_log.h"
#include "tests/log/raft_log_test_util.h"

namespace wharf {
namespace {

using namespace wharf::test;


// Entries of every kind over three partitions, in terms 1, 2 and 5, values of varied sizes.
task<bool> fill_mixed(shard_log& log, raft_model& m, int n) {
    term_id term(1);
    for (int i = 0; i < n; ++i) {
        if (i == n / 3) term = term_id(2);
        if (i == 2 * n / 3) term = term_id(5);
        uint32_t p = static_cast<uint32_t>(i) % 3;
        bool ok = true;
        if (i % 17 == 5) {
            ok = co_await append_raw(log, m, entry_type::raft_noop, 0, term, {});
        } else if (i % 23 == 7) {
            std::vector<std::byte> config(40 + static_cast<size_t>(i), std::byte{0x5a});
            ok = co_await append_raw(log, m, entry_type::raft_configuration, 0, term, config);
        } else if (i % 29 == 11) {
            auto start = log.end_offset(partition_id(p)).value();
            ok = co_await append_raw(log, m, entry_type::control, p, term,
                                     control_payload(start.value()));
        } else {
            ok = co_await append_data(log, m, p, term, static_cast<uint64_t>(i) * 7 + 1,
                                      20 + static_cast<size_t>(i * 37 % 400));
        }
        if (!ok) co_return false;
    }
    co_return true;
}

TEST(raft_read_entries, from_the_start_the_middle_and_across_segments) {
    temp_dir dir;
    auto cfg = test_config(dir.path());
    cfg.segment_bytes = 8 << 10;
    cfg.raft_index_interval_bytes = 1 << 10;
    raft_model m;
    auto check = [&](shard_log& log) -> task<int> {
        CO_ASSERT(log.segment_count() >= 5);
        // Everything in one call, then from the middle of segments and from a segment's first
        // entry, in calls of one entry, of about two, and of a few KiB.
        co_await expect_entries_match(log, m, raft_index(1), 1 << 20);
        const std::array<int64_t, 5> froms{1, 2, 47, 100, 151};
        const std::array<size_t, 3> limits{0, 500, 3000};
        for (int64_t from : froms) {
            for (size_t max_bytes : limits) {
                co_await expect_entries_match(log, m, raft_index(from), max_bytes);
                CO_ASSERT(!::testing::Test::HasFailure());
            }
        }
        for (const auto& name : files_with_suffix(log.directory(), ".log")) {
            int64_t first = std::stoll(std::filesystem::path(name).filename().string());
            co_await expect_entries_match(log, m, raft_index(first), 2000);
        }
        co_return 0;
    };
    int rc = with_log(cfg, [&](shard_log& log) -> task<int> {
        for (uint32_t p = 0; p < 3; ++p) log.configure_partition(partition_id(p), {});
        CO_ASSERT(co_await fill_mixed(log, m, 180));
        co_return co_await check(log);
    });
    ASSERT_EQ(rc, 0);
    // Reopened: closed segments have no points until read, the active one is replayed.
    rc = with_log(cfg, [&](shard_log& log) -> task<int> { co_return co_await check(log); });
    EXPECT_EQ(rc, 0);
}

TEST(raft_read_entries, max_bytes_bounds_and_edges) {
    temp_dir dir;
    raft_model m;
    int rc = with_log(test_config(dir.path()), [&](shard_log& log) -> task<int> {
        log.configure_partition(partition_id(0), {});
        auto empty = co_await log.read_entries(raft_index(1), 1 << 20);
        EXPECT_TRUE(empty.has_value() && empty->empty()) << "an empty log has no entries";
        auto zero = co_await log.read_entries(raft_index(0), 1 << 20);
        EXPECT_EQ(zero.error(), log_errc::out_of_range);
        for (int i = 0; i < 6; ++i) {
            CO_ASSERT(co_await append_data(log, m, 0, term_id(1), static_cast<uint64_t>(i), 300));
        }
        size_t a = m.entries[1].payload.size();
        size_t b = m.entries[2].payload.size();
        // At least one entry, however small max_bytes is.
        auto one = co_await log.read_entries(raft_index(2), 0);
        CO_ASSERT_OK(one);
        CO_ASSERT(one->size() == 1);
        expect_entry(one->front(), m.entries[1]);
        auto still_one = co_await log.read_entries(raft_index(2), a + b - 1);
        CO_ASSERT_OK(still_one);
        EXPECT_EQ(still_one->size(), 1u);
        auto two = co_await log.read_entries(raft_index(2), a + b);
        CO_ASSERT_OK(two);
        CO_ASSERT(two->size() == 2);
        expect_entry((*two)[1], m.entries[2]);
        auto tail = co_await log.read_entries(raft_index(6), 1 << 20);
        CO_ASSERT_OK(tail);
        EXPECT_EQ(tail->size(), 1u);
        auto past = co_await log.read_entries(raft_index(7), 1 << 20);
        EXPECT_TRUE(past.has_value() && past->empty());
        auto far = co_await log.read_entries(raft_index(1000), 1 << 20);
        EXPECT_TRUE(far.has_value() && far->empty());
        EXPECT_EQ(log.stats().entries_read, 1u + 1u + 2u + 1u);
        co_return 0;
    });
    EXPECT_EQ(rc, 0);
}

TEST(raft_read_entries, below_the_first_index_needs_a_snapshot) {
    temp_dir dir;
    auto cfg = test_config(dir.path());
    cfg.segment_bytes = 4 << 10;
    raft_model m;
    int rc = with_log(cfg, [&](shard_log& log) -> task<int> {
        log.configure_partition(partition_id(0), {});
        for (int i = 0; i < 40; ++i) {
            CO_ASSERT(co_await append_data(log, m, 0, term_id(1), static_cast<uint64_t>(i), 200));
        }
        auto end = log.end_offset(partition_id(0)).value();
        CO_ASSERT_OK(co_await log.set_start_offset(partition_id(0), end, term_id(1)));
        raft_index first = log.first_index();
        CO_ASSERT(first > raft_index(1));
        auto below = co_await log.read_entries(first - 1, 1 << 20);
        EXPECT_EQ(below.error(), log_errc::out_of_range);
        auto oldest = co_await log.read_entries(raft_index(1), 1 << 20);
        EXPECT_EQ(oldest.error(), log_errc::out_of_range);
        auto r = co_await log.read_entries(first, 1 << 20);
        CO_ASSERT_OK(r);
        CO_ASSERT(!r->empty());
        EXPECT_EQ(r->front().index, first);
        EXPECT_EQ(r->back().index, log.last_index());
        EXPECT_EQ(r->back().type, entry_type::control);
        co_return 0;
    });
    EXPECT_EQ(rc, 0);
}

TEST(raft_read_entries, the_sparse_index_bounds_the_scan) {
    temp_dir dir;
    auto cfg = test_config(dir.path());
    cfg.segment_bytes = 128 << 10;
    cfg.raft_index_interval_bytes = 4 << 10;
    raft_model m;
    // Entries are about 1.1 KiB: a read scans at most one interval plus one entry before `from`.
    const uint64_t bound = (4 << 10) + 1200;
    // An index halfway through the active segment, which holds a few dozen entries.
    auto middle_of_active = [](const shard_log& log) {
        auto name = std::filesystem::path(files_with_suffix(log.directory(), ".log").back());
        raft_index base(std::stoll(name.filename().string()));
        EXPECT_GE(log.last_index() - base, 20);
        return base + (log.last_index() - base) / 2;
    };
    auto skipped_reading = [](shard_log& log, raft_index from) -> task<uint64_t> {
        uint64_t before = log.stats().entry_skipped_bytes;
        auto r = co_await log.read_entries(from, 1);
        EXPECT_TRUE(r.has_value() && r->size() == 1 && r->front().index == from);
        co_return log.stats().entry_skipped_bytes - before;
    };
    int rc = with_log(cfg, [&](shard_log& log) -> task<int> {
        log.configure_partition(partition_id(0), {});
        for (int i = 0; i < 300; ++i) {
            CO_ASSERT(co_await append_data(log, m, 0, term_id(1), static_cast<uint64_t>(i), 500));
        }
        CO_ASSERT(log.segment_count() >= 2);
        EXPECT_GT(log.active_points_bytes(), 0u);
        raft_index last = log.last_index();
        uint64_t skipped = co_await skipped_reading(log, last);
        EXPECT_LE(skipped, bound) << "active segment, from appends";
        skipped = co_await skipped_reading(log, middle_of_active(log));
        EXPECT_LE(skipped, bound);
        co_return 0;
    });
    ASSERT_EQ(rc, 0);
    rc = with_log(cfg, [&](shard_log& log) -> task<int> {
        uint64_t skipped = co_await skipped_reading(log, middle_of_active(log));
        EXPECT_LE(skipped, bound) << "active segment, replayed";
        // A closed segment has no points after a restart: the first read scans from its start
        // and leaves points behind, so the next one does not.
        EXPECT_EQ(log.closed_points_bytes(), 0u);
        skipped = co_await skipped_reading(log, raft_index(100));
        EXPECT_GT(skipped, 2 * bound);
        EXPECT_GT(log.closed_points_bytes(), 0u);
        skipped = co_await skipped_reading(log, raft_index(99));
        EXPECT_LE(skipped, bound);
        skipped = co_await skipped_reading(log, raft_index(60));
        EXPECT_LE(skipped, bound);
        co_await expect_entries_match(log, m, raft_index(1), 5000);
        co_return 0;
    });
    EXPECT_EQ(rc, 0);
}

TEST(raft_read_entries, points_of_closed_segments_stay_within_their_memory) {
    temp_dir dir;
    auto cfg = test_config(dir.path());
    cfg.segment_bytes = 16 << 10;
    cfg.raft_index_interval_bytes = 1 << 10;
    cfg.raft_index_memory_bytes = 10 * sizeof(index_point);
    raft_model m;
    int rc = with_log(cfg, [&](shard_log& log) -> task<int> {
        log.configure_partition(partition_id(0), {});
        for (int i = 0; i < 200; ++i) {
            CO_ASSERT(co_await append_data(log, m, 0, term_id(1), static_cast<uint64_t>(i), 400));
        }
        CO_ASSERT(log.segment_count() >= 5);
        // Reading every closed segment would take far more points than the bound allows.
        for (raft_index from(1); from <= log.last_index(); from += 7) {
            auto r = co_await log.read_entries(from, 1);
            CO_ASSERT_OK(r);
            CO_ASSERT(r->size() == 1 && r->front().index == from);
            EXPECT_LE(log.closed_points_bytes(), cfg.raft_index_memory_bytes);
        }
        EXPECT_GT(log.closed_points_bytes(), 0u);
        co_await expect_entries_match(log, m, raft_index(1), 3000);
        co_return 0;
    });
    EXPECT_EQ(rc, 0);
}

TEST(raft_read_entries, a_damaged_entry_is_reported_not_returned) {
    temp_dir dir;
    auto cfg = test_config(dir.path());
    cfg.segment_bytes = 4 << 10;
    raft_model m;
    int rc = with_log(cfg, [&](shard_log& log) -> task<int> {
        log.configure_partition(partition_id(0), {});
        for (int i = 0; i < 30; ++i) {
            CO_ASSERT(co_await append_data(log, m, 0, term_id(1), static_cast<uint64_t>(i), 200));
        }
        CO_ASSERT(log.segment_count() >= 3);
        co_return 0;
    });
    ASSERT_EQ(rc, 0);
    // Flip a payload byte of the second entry of the first segment, a closed one: its index file
    // still loads, so only the read's checksum can notice.
    auto first = files_with_suffix(dir.path() + "/shard-0", ".log").front();
    auto bytes = read_file(first);
    auto bounds = entry_boundaries(first);
    ASSERT_GE(bounds.size(), 3u);
    bytes[bounds[1] + entry_header_bytes + 70] ^= std::byte{0x01};
    write_file(first, bytes);
    rc = with_log(cfg, [&](shard_log& log) -> task<int> {
        EXPECT_EQ(log.stats().index_files_rebuilt, 0u);
        auto r = co_await log.read_entries(raft_index(1), 1 << 20);
        EXPECT_EQ(r.error(), log_errc::corrupt_entry);
        auto before = co_await log.read_entries(raft_index(1), 0);
        CO_ASSERT_OK(before);
        CO_ASSERT(before->size() == 1);
        expect_entry(before->front(), m.entries[0]);
        auto damaged = co_await log.read_entries(raft_index(2), 0);
        EXPECT_EQ(damaged.error(), log_errc::corrupt_entry);
        co_await expect_entries_match(log, m, raft_index(bounds.size()), 1 << 20);
        co_return 0;
    });
    EXPECT_EQ(rc, 0);
}

}  // namespace
}  // namespace wharf
