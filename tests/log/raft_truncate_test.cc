// shard_log::truncate_suffix (log/truncate.cc): a raft follower removes its conflicting suffix,
// and afterwards nothing can tell the removed entries were appended: raft positions, segment
// files, partitions' offsets and indexes, reads, the tail cache, and the log reopened.

#include <gtest/gtest.h>

#include <filesystem>

#include "log/errc.h"
#include "log/index_file.h"
#include "log/shard_log.h"
#include "reactor/when_all.h"
#include "tests/log/raft_log_test_util.h"

namespace wharf {
namespace {

using namespace wharf::test;


// Appends n data entries in term `term`, over partitions 0..parts-1 in turn.
task<bool> fill(shard_log& log, raft_model& m, int n, uint32_t parts, term_id term,
                size_t value_bytes, uint64_t seed) {
    for (int i = 0; i < n; ++i) {
        uint32_t p = static_cast<uint32_t>(i) % parts;
        if (!co_await append_data(log, m, p, term, seed + static_cast<uint64_t>(i), value_bytes)) {
            co_return false;
        }
    }
    co_return true;
}

// The last segment file holds exactly the entries from its first index to the log's last.
void expect_active_file_ends_at(const shard_log& log) {
    auto segs = files_with_suffix(log.directory(), ".log");
    ASSERT_FALSE(segs.empty());
    auto bounds = entry_boundaries(segs.back());
    EXPECT_EQ(bounds.back(), file_size(segs.back())) << "only whole entries in " << segs.back();
    auto name = std::filesystem::path(segs.back()).filename().string();
    int64_t first = std::stoll(name.substr(0, 20));
    EXPECT_EQ(static_cast<int64_t>(bounds.size()) - 1, log.last_index().value() - first + 1)
        << "entries in " << segs.back();
}

TEST(raft_truncate, middle_of_the_active_segment) {
    temp_dir dir;
    auto cfg = test_config(dir.path());
    raft_model m;
    int rc = with_log(cfg, [&](shard_log& log) -> task<int> {
        for (uint32_t p = 0; p < 3; ++p) log.configure_partition(partition_id(p), {});
        CO_ASSERT(co_await fill(log, m, 20, 2, term_id(1), 100, 1));
        // Partition 2's only batches come after the cut.
        CO_ASSERT(co_await append_data(log, m, 2, term_id(2), 500, 100));
        CO_ASSERT(co_await fill(log, m, 4, 2, term_id(2), 100, 600));
        EXPECT_EQ(log.segment_count(), 1u);
        auto end0 = log.end_offset(partition_id(0)).value();

        CO_ASSERT_OK(co_await log.truncate_suffix(raft_index(12)));
        m.truncate(raft_index(12));
        EXPECT_EQ(log.last_index(), raft_index(12));
        EXPECT_EQ(log.last_term(), term_id(1));
        EXPECT_EQ(log.next_index(), raft_index(13));
        EXPECT_FALSE(log.term_at(raft_index(13)).has_value());
        EXPECT_EQ(log.stats().suffix_truncations, 1u);
        EXPECT_EQ(log.stats().suffix_truncated_entries, 13u);
        co_await expect_raft_log_matches(log, m);
        expect_active_file_ends_at(log);
        // Partition 0 had batches 0..9 (two records each) before; 6 remain.
        EXPECT_LT(log.end_offset(partition_id(0)).value(), end0);
        EXPECT_EQ(log.end_offset(partition_id(0)).value(), kafka_offset(12));
        auto gone = log.find_offset(partition_id(0), kafka_offset(12));
        EXPECT_TRUE(gone.has_value() && !gone->has_value()) << "removed batches are not found";
        auto refused1 = co_await log.read(partition_id(0), kafka_offset(14), 100);
        EXPECT_EQ(refused1.error(), log_errc::offset_out_of_range);
        // A partition whose only batches went is empty again.
        EXPECT_EQ(log.end_offset(partition_id(2)).value(), kafka_offset(0));
        auto empty = co_await log.read(partition_id(2), kafka_offset(0), 1 << 20);
        EXPECT_TRUE(empty.has_value() && empty->size() == 0);

        // Appends continue at 13 in a later term, at the partitions' truncated offsets, and
        // reads return the new batches (not the removed ones the tail cache held).
        CO_ASSERT(co_await fill(log, m, 6, 3, term_id(3), 120, 900));
        EXPECT_EQ(m.entries[12].index, raft_index(13));
        EXPECT_EQ(log.last_term(), term_id(3));
        co_await expect_raft_log_matches(log, m);
        co_return 0;
    });
    ASSERT_EQ(rc, 0);
    // Reopened, the log is what it was.
    rc = with_log(cfg, [&](shard_log& log) -> task<int> {
        for (uint32_t p = 0; p < 3; ++p) log.configure_partition(partition_id(p), {});
        co_await expect_raft_log_matches(log, m);
        co_return 0;
    });
    EXPECT_EQ(rc, 0);
}

TEST(raft_truncate, to_the_last_index_or_past_it_changes_nothing) {
    temp_dir dir;
    raft_model m;
    int rc = with_log(test_config(dir.path()), [&](shard_log& log) -> task<int> {
        log.configure_partition(partition_id(0), {});
        CO_ASSERT(co_await fill(log, m, 5, 1, term_id(1), 50, 1));
        auto seg = files_with_suffix(log.directory(), ".log").back();
        auto size = file_size(seg);
        CO_ASSERT_OK(co_await log.truncate_suffix(raft_index(5)));
        CO_ASSERT_OK(co_await log.truncate_suffix(raft_index(9)));
        EXPECT_EQ(log.stats().suffix_truncations, 0u);
        EXPECT_EQ(file_size(seg), size);
        co_await expect_raft_log_matches(log, m);
        // An empty log can be truncated to 0, and everything can go.
        CO_ASSERT_OK(co_await log.truncate_suffix(raft_index(0)));
        m.truncate(raft_index(0));
        EXPECT_EQ(log.last_index(), raft_index(0));
        EXPECT_EQ(log.last_term(), term_id(0));
        EXPECT_EQ(file_size(seg), 0u);
        EXPECT_EQ(log.end_offset(partition_id(0)).value(), kafka_offset(0));
        CO_ASSERT(co_await fill(log, m, 2, 1, term_id(4), 50, 70));
        EXPECT_EQ(m.entries.front().index, raft_index(1));
        co_await expect_raft_log_matches(log, m);
        co_return 0;
    });
    EXPECT_EQ(rc, 0);
}

TEST(raft_truncate, across_segment_boundaries) {
    temp_dir dir;
    auto cfg = test_config(dir.path());
    cfg.segment_bytes = 4 << 10;
    raft_model m;
    raft_index boundary{0};
    int rc = with_log(cfg, [&](shard_log& log) -> task<int> {
        for (uint32_t p = 0; p < 3; ++p) log.configure_partition(partition_id(p), {});
        CO_ASSERT(co_await fill(log, m, 120, 3, term_id(1), 200, 1));
        CO_ASSERT(co_await fill(log, m, 30, 3, term_id(2), 200, 500));
        auto segments = log.segment_count();
        CO_ASSERT(segments >= 8);

        // Into the middle of a closed segment a few segments back: it becomes the active one.
        CO_ASSERT_OK(co_await log.truncate_suffix(raft_index(70)));
        m.truncate(raft_index(70));
        EXPECT_LT(log.segment_count(), segments - 2);
        EXPECT_EQ(files_with_suffix(log.directory(), ".log").size(), log.segment_count());
        EXPECT_EQ(files_with_suffix(log.directory(), ".index").size(), log.segment_count() - 1)
            << "the active segment has no index file";
        expect_active_file_ends_at(log);
        co_await expect_raft_log_matches(log, m);
        if (::testing::Test::HasFailure()) co_return 1;

        // New entries fill the segment again and roll it with a fresh index file.
        CO_ASSERT(co_await fill(log, m, 60, 3, term_id(3), 200, 900));
        co_await expect_raft_log_matches(log, m);

        // Exactly at a segment boundary: the next segment stays, empty, as the active one.
        auto segs = files_with_suffix(log.directory(), ".log");
        CO_ASSERT(segs.size() >= 3);
        auto name = std::filesystem::path(segs[segs.size() - 2]).filename().string();
        boundary = raft_index(std::stoll(name.substr(0, 20)) - 1);
        CO_ASSERT_OK(co_await log.truncate_suffix(boundary));
        m.truncate(boundary);
        EXPECT_EQ(file_size(files_with_suffix(log.directory(), ".log").back()), 0u);
        co_await expect_raft_log_matches(log, m);
        CO_ASSERT(co_await fill(log, m, 5, 3, term_id(4), 200, 2000));
        co_await expect_raft_log_matches(log, m);
        co_return 0;
    });
    ASSERT_EQ(rc, 0);
    rc = with_log(cfg, [&](shard_log& log) -> task<int> {
        EXPECT_EQ(log.stats().index_files_rebuilt, 0u) << "index files stayed right";
        co_await expect_raft_log_matches(log, m);
        co_return 0;
    });
    EXPECT_EQ(rc, 0);
}

TEST(raft_truncate, a_removed_control_entry_gives_the_start_offset_back) {
    temp_dir dir;
    auto cfg = test_config(dir.path());
    cfg.segment_bytes = 4 << 10;
    raft_model m;
    int rc = with_log(cfg, [&](shard_log& log) -> task<int> {
        log.configure_partition(partition_id(0), {});
        log.configure_partition(partition_id(1), {});
        CO_ASSERT(co_await fill(log, m, 40, 2, term_id(1), 200, 1));
        raft_index before = log.last_index();
        // DeleteRecords as a follower sees it, then more batches. Partition 1 keeps the old
        // segments alive, so nothing is deleted.
        CO_ASSERT(
            co_await append_raw(log, m, entry_type::control, 0, term_id(1), control_payload(30)));
        CO_ASSERT(co_await fill(log, m, 10, 2, term_id(1), 200, 100));
        EXPECT_EQ(log.start_offset(partition_id(0)).value(), kafka_offset(30));
        CO_ASSERT(log.segment_count() >= 4);

        CO_ASSERT_OK(co_await log.truncate_suffix(before));
        m.truncate(before);
        EXPECT_EQ(log.start_offset(partition_id(0)).value(), kafka_offset(0));
        // Batches trimmed by the control entry, in closed segments, are readable again.
        co_await expect_raft_log_matches(log, m);
        CO_ASSERT(co_await fill(log, m, 4, 2, term_id(2), 200, 300));
        co_await expect_raft_log_matches(log, m);
        co_return 0;
    });
    ASSERT_EQ(rc, 0);
    rc = with_log(cfg, [&](shard_log& log) -> task<int> {
        co_await expect_raft_log_matches(log, m);
        co_return 0;
    });
    EXPECT_EQ(rc, 0);
}

TEST(raft_truncate, a_control_entry_in_the_cut_segment_is_replayed) {
    temp_dir dir;
    raft_model m;
    int rc = with_log(test_config(dir.path()), [&](shard_log& log) -> task<int> {
        log.configure_partition(partition_id(0), {});
        CO_ASSERT(co_await fill(log, m, 10, 1, term_id(1), 50, 1));
        CO_ASSERT(
            co_await append_raw(log, m, entry_type::control, 0, term_id(1), control_payload(6)));
        raft_index keep = log.last_index();
        CO_ASSERT(co_await fill(log, m, 3, 1, term_id(1), 50, 20));
        CO_ASSERT(
            co_await append_raw(log, m, entry_type::control, 0, term_id(1), control_payload(16)));
        CO_ASSERT(co_await fill(log, m, 3, 1, term_id(1), 50, 40));
        EXPECT_EQ(log.start_offset(partition_id(0)).value(), kafka_offset(16));
        // The second control entry goes, the first stays.
        CO_ASSERT_OK(co_await log.truncate_suffix(keep + 1));
        m.truncate(keep + 1);
        EXPECT_EQ(log.start_offset(partition_id(0)).value(), kafka_offset(6));
        co_await expect_raft_log_matches(log, m);
        co_return 0;
    });
    EXPECT_EQ(rc, 0);
}

TEST(raft_truncate, below_the_retention_point_is_refused) {
    temp_dir dir;
    auto cfg = test_config(dir.path());
    cfg.segment_bytes = 4 << 10;
    raft_model m;
    int rc = with_log(cfg, [&](shard_log& log) -> task<int> {
        log.configure_partition(partition_id(0), {});
        CO_ASSERT(co_await fill(log, m, 60, 1, term_id(1), 200, 1));
        raft_index before = log.last_index();
        // DeleteRecords of everything: the closed segments are deleted.
        auto end = log.end_offset(partition_id(0)).value();
        CO_ASSERT_OK(co_await log.set_start_offset(partition_id(0), end, term_id(1)));
        CO_ASSERT(log.first_index() > raft_index(1));
        raft_index removed = log.first_index() - 1;
        CO_ASSERT(removed < before);
        auto last = log.last_index();
        auto refused2 = co_await log.truncate_suffix(removed - 1);
        EXPECT_EQ(refused2.error(), log_errc::out_of_range);
        // Removing the control entry would expose batches that are gone.
        auto refused3 = co_await log.truncate_suffix(before);
        EXPECT_EQ(refused3.error(), log_errc::out_of_range);
        EXPECT_EQ(log.last_index(), last);
        EXPECT_EQ(log.start_offset(partition_id(0)).value(), end);
        // Truncating after the control entry is fine.
        CO_ASSERT(co_await fill(log, m, 3, 1, term_id(2), 200, 100));
        CO_ASSERT_OK(co_await log.truncate_suffix(last));
        EXPECT_EQ(log.last_index(), last);
        EXPECT_EQ(log.end_offset(partition_id(0)).value(), end);
        co_return 0;
    });
    EXPECT_EQ(rc, 0);
}

TEST(raft_truncate, to_exactly_the_snapshot_point) {
    temp_dir dir;
    auto cfg = test_config(dir.path());
    // Every group commit starts a new segment: one entry per segment.
    cfg.segment_ms = std::chrono::milliseconds(0);
    raft_model m;
    int rc = with_log(cfg, [&](shard_log& log) -> task<int> {
        log.configure_partition(partition_id(0), {});
        CO_ASSERT(co_await fill(log, m, 10, 1, term_id(1), 50, 1));
        auto end = log.end_offset(partition_id(0)).value();
        // The control entry (index 11) lets retention delete entries 1..10, then a batch (12)
        // closes its segment, and the next pass deletes the control entry's segment too.
        CO_ASSERT_OK(co_await log.set_start_offset(partition_id(0), end, term_id(1)));
        CO_ASSERT(co_await fill(log, m, 1, 1, term_id(1), 50, 20));
        CO_ASSERT_OK(co_await log.apply_retention(term_id(1)));
        CO_ASSERT(log.first_index() == raft_index(12));
        EXPECT_EQ(log.term_at(raft_index(11)), std::optional<term_id>(term_id(1)));
        auto refused4 = co_await log.truncate_suffix(raft_index(10));
        EXPECT_EQ(refused4.error(), log_errc::out_of_range);
        CO_ASSERT_OK(co_await log.truncate_suffix(raft_index(11)));
        EXPECT_EQ(log.last_index(), raft_index(11));
        EXPECT_EQ(log.last_term(), term_id(1));
        EXPECT_EQ(log.first_index(), raft_index(12));
        EXPECT_EQ(log.start_offset(partition_id(0)).value(), end);
        EXPECT_EQ(log.end_offset(partition_id(0)).value(), end);
        auto none = co_await log.read_entries(raft_index(12), 1 << 20);
        EXPECT_TRUE(none.has_value() && none->empty());
        CO_ASSERT(co_await append_data(log, m, 0, term_id(2), 30, 50));
        EXPECT_EQ(m.entries.back().index, raft_index(12));
        EXPECT_EQ(log.end_offset(partition_id(0)).value(), end + 2);
        co_return 0;
    });
    ASSERT_EQ(rc, 0);
    rc = with_log(cfg, [&](shard_log& log) -> task<int> {
        EXPECT_EQ(log.first_index(), raft_index(12));
        EXPECT_EQ(log.last_index(), raft_index(12));
        EXPECT_EQ(log.last_term(), term_id(2));
        EXPECT_EQ(log.term_at(raft_index(11)), std::optional<term_id>(term_id(1)));
        co_return 0;
    });
    EXPECT_EQ(rc, 0);
}

TEST(raft_truncate, waits_for_appends_in_flight_and_holds_new_ones) {
    temp_dir dir;
    raft_model m;
    int rc = with_log(test_config(dir.path()), [&](shard_log& log) -> task<int> {
        log.configure_partition(partition_id(0), {});
        CO_ASSERT(co_await fill(log, m, 10, 1, term_id(1), 50, 1));
        // An append in flight (queued, not yet written) when the truncation starts.
        auto in_flight = append_data(log, m, 0, term_id(1), 100, 50);
        auto truncation = log.truncate_suffix(raft_index(5));
        auto after = append_data(log, m, 0, term_id(2), 200, 50);
        auto [a, t, b] =
            co_await when_all(std::move(in_flight), std::move(truncation), std::move(after));
        EXPECT_TRUE(a);
        EXPECT_TRUE(t.has_value());
        EXPECT_TRUE(b);
        CO_ASSERT(m.entries.size() == 12);
        EXPECT_EQ(m.entries[10].index, raft_index(11)) << "the append in flight was written first";
        EXPECT_EQ(m.entries[11].index, raft_index(6)) << "the held append follows the cut";
        // The model: 5 kept entries, then the held append.
        model_entry held = m.entries[11];
        m.truncate(raft_index(5));
        m.entries.push_back(held);
        co_await expect_raft_log_matches(log, m);
        expect_active_file_ends_at(log);
        co_return 0;
    });
    EXPECT_EQ(rc, 0);
}

TEST(raft_truncate, follower_appends_continue_the_truncated_offsets) {
    temp_dir dir;
    raft_model m;
    int rc = with_log(test_config(dir.path()), [&](shard_log& log) -> task<int> {
        log.configure_partition(partition_id(0), {});
        CO_ASSERT(co_await fill(log, m, 8, 1, term_id(1), 50, 1));
        auto old_end = log.end_offset(partition_id(0)).value();
        CO_ASSERT_OK(co_await log.truncate_suffix(raft_index(4)));
        m.truncate(raft_index(4));
        // The leader's batch for the next offsets, as a follower receives it.
        auto at_old_end = stamped(make_batch(7, 2, 50, 1000), old_end, 2);
        iobuf wrong = to_iobuf(at_old_end);
        auto r = co_await log.append_entry(entry_type::data, partition_id(0), term_id(2),
                                           std::move(wrong));
        EXPECT_EQ(r.error(), log_errc::out_of_range) << "offsets must continue the truncated end";
        auto fits = stamped(make_batch(7, 2, 50, 1000), kafka_offset(8), 2);
        CO_ASSERT(co_await append_raw(log, m, entry_type::data, 0, term_id(2), fits));
        CO_ASSERT(co_await append_raw(log, m, entry_type::raft_noop, 0, term_id(3), {}));
        co_await expect_raft_log_matches(log, m);
        co_return 0;
    });
    EXPECT_EQ(rc, 0);
}

}  // namespace
}  // namespace wharf
