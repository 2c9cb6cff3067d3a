// Raft snapshots in the shard log (log/snapshot.cc): a leader reads its prefix checkpoint
// (read_snapshot), a follower replaces its whole log by it (install_snapshot) and then continues
// with the leader's entries; an install interrupted by a crash is finished at open; bad data is
// refused without a change; appends racing an install either precede it or follow it.

#include <gtest/gtest.h>

#include <algorithm>
#include <filesystem>
#include <map>

#include "log/errc.h"
#include "log/index_file.h"
#include "log/shard_log.h"
#include "reactor/when_all.h"
#include "tests/log/raft_log_test_util.h"

namespace wharf {
namespace {

using namespace wharf::test;

// What a follower must end up with: the leader's snapshot, its entries after the snapshot point,
// and its partitions (offsets and every batch from the start offset on).
struct leader_view {
    struct partition {
        kafka_offset start{0};
        kafka_offset end{0};
        std::vector<std::byte> bytes;
    };
    log_snapshot snap;
    std::vector<model_entry> after;
    std::map<uint32_t, partition> parts;
    raft_index last{0};
};

// Appends n data entries in term `term`, over partitions first..first+parts-1 in turn.
task<bool> fill(shard_log& log, raft_model& m, int n, uint32_t first, uint32_t parts, term_id term,
                size_t value_bytes, uint64_t seed) {
    for (int i = 0; i < n; ++i) {
        uint32_t p = first + static_cast<uint32_t>(i) % parts;
        if (!co_await append_data(log, m, p, term, seed + static_cast<uint64_t>(i), value_bytes)) {
            co_return false;
        }
    }
    co_return true;
}

// Every group commit rolls: one entry per segment, so retention deletes exactly to an entry.
log_config leader_config(const std::string& dir) {
    auto cfg = test_config(dir);
    cfg.segment_ms = std::chrono::milliseconds(0);
    return cfg;
}

log_config follower_config(const std::string& dir) {
    auto cfg = test_config(dir);
    cfg.segment_bytes = 4 << 10;
    return cfg;
}

std::string marker_path(const std::string& shard_dir) {
    return shard_dir + "/" + std::string(snapshot_marker_file_name);
}
std::string checkpoint_path(const std::string& shard_dir) {
    return shard_dir + "/" + std::string(checkpoint_file_name);
}

// The leader: partitions 0 and 1 in terms 1 and 2, DeleteRecords that let retention remove
// entries 1..13, then entries of all three partitions in term 3 (partition 2's first). The
// snapshot is (13, term 2) with rows 0: [6, 12) and 1: [10, 10); partition 2 has no row.
int make_leader(const log_config& cfg, leader_view& out) {
    raft_model m;
    return with_log(cfg, [&](shard_log& log) -> task<int> {
        for (uint32_t p = 0; p < 3; ++p) log.configure_partition(partition_id(p), {});
        auto none = co_await log.read_snapshot();
        EXPECT_EQ(none.error(), log_errc::out_of_range) << "nothing removed, no snapshot";
        CO_ASSERT(co_await fill(log, m, 10, 0, 2, term_id(1), 100, 1));  // 1..10
        CO_ASSERT_OK(co_await log.set_start_offset(partition_id(0), kafka_offset(6), term_id(1)));
        CO_ASSERT_OK(co_await log.set_start_offset(partition_id(1), kafka_offset(10), term_id(1)));
        EXPECT_EQ(log.first_index(), raft_index(7));
        CO_ASSERT(co_await fill(log, m, 6, 0, 2, term_id(2), 100, 100));  // 13..18
        auto end0 = log.end_offset(partition_id(0)).value();
        CO_ASSERT_OK(co_await log.set_start_offset(partition_id(0), end0, term_id(2)));  // 19
        CO_ASSERT(log.first_index() == raft_index(14));
        CO_ASSERT(co_await fill(log, m, 2, 0, 2, term_id(3), 100, 200));  // 20, 21
        CO_ASSERT(co_await fill(log, m, 2, 2, 1, term_id(3), 100, 300));  // 22, 23

        auto snap = co_await log.read_snapshot();
        CO_ASSERT_OK(snap);
        EXPECT_EQ(snap->index, log.first_index() - 1);
        EXPECT_EQ(snap->index, raft_index(13));
        EXPECT_EQ(snap->term, term_id(2));
        EXPECT_EQ(log.term_at(snap->index), std::optional<term_id>(snap->term));
        EXPECT_TRUE(snap->data == read_file(checkpoint_path(log.directory())));
        auto d = decode_index_file(snap->data);
        CO_ASSERT_OK(d);
        EXPECT_EQ(d->kind, index_file_kind::prefix_checkpoint);
        EXPECT_EQ(d->last_index, raft_index(13));
        CO_ASSERT(d->partitions.size() == 2);
        EXPECT_EQ(d->partitions[0].partition, partition_id(0));
        EXPECT_EQ(d->partitions[0].start_offset, kafka_offset(6));
        EXPECT_EQ(d->partitions[0].next_offset, kafka_offset(12));
        EXPECT_EQ(d->partitions[1].partition, partition_id(1));
        EXPECT_EQ(d->partitions[1].start_offset, kafka_offset(10));
        EXPECT_EQ(d->partitions[1].next_offset, kafka_offset(10));
        out.snap = std::move(*snap);

        // What raft sends after the snapshot: the entries from its index + 1, as read.
        auto entries = co_await log.read_entries(out.snap.index + 1, 1 << 20);
        CO_ASSERT_OK(entries);
        CO_ASSERT(entries->size() == 10);
        for (const auto& e : *entries) {
            out.after.push_back(
                model_entry{e.index, e.term, e.type, e.partition.value(), to_bytes(e.payload)});
        }
        out.last = log.last_index();
        for (uint32_t p = 0; p < 3; ++p) {
            leader_view::partition& lp = out.parts[p];
            lp.start = log.start_offset(partition_id(p)).value();
            lp.end = log.end_offset(partition_id(p)).value();
            auto r = co_await log.read(partition_id(p), lp.start, 64 << 20);
            CO_ASSERT_OK(r);
            lp.bytes = to_bytes(*r);
        }
        co_return 0;
    });
}

// A follower with its own entries (term 1) in several segments over partitions 0..3, all
// diverging from the leader's. With retention, it has deleted a prefix of its own first.
task<bool> build_follower(shard_log& log, raft_model& m, bool with_retention) {
    for (uint32_t p = 0; p < 4; ++p) log.configure_partition(partition_id(p), {});
    if (!co_await fill(log, m, 8, 0, 4, term_id(1), 400, 5000)) co_return false;
    if (with_retention) {
        for (uint32_t p = 0; p < 4; ++p) {
            auto end = log.end_offset(partition_id(p)).value();
            auto s = co_await log.set_start_offset(partition_id(p), end, term_id(1));
            if (!s) co_return false;
        }
        EXPECT_GT(log.first_index(), raft_index(1));
    }
    if (!co_await fill(log, m, 4, 0, 4, term_id(1), 400, 6000)) co_return false;
    EXPECT_GE(log.segment_count(), 2u);
    EXPECT_LT(log.last_index(), raft_index(20));
    co_return true;
}

// The log right after the install of L's snapshot, before any append.
task<void> expect_snapshot_state(shard_log& log, const leader_view& L) {
    const raft_index at = L.snap.index;
    EXPECT_EQ(log.last_index(), at);
    EXPECT_EQ(log.last_term(), L.snap.term);
    EXPECT_EQ(log.first_index(), at + 1);
    EXPECT_EQ(log.next_index(), at + 1);
    EXPECT_EQ(log.term_at(at), std::optional<term_id>(L.snap.term));
    EXPECT_FALSE(log.term_at(at - 1).has_value());
    EXPECT_FALSE(log.term_at(at + 1).has_value());
    auto rows = decode_index_file(L.snap.data);
    EXPECT_TRUE(rows.has_value());
    if (!rows) co_return;
    for (const auto& row : rows->partitions) {
        partition_id p = row.partition;
        EXPECT_EQ(log.start_offset(p).value(), row.start_offset) << "partition " << p.value();
        EXPECT_EQ(log.end_offset(p).value(), row.next_offset) << "partition " << p.value();
        if (row.start_offset.value() > 0) {
            auto below = co_await log.read(p, row.start_offset - 1, 1 << 20);
            EXPECT_EQ(below.error(), log_errc::offset_out_of_range);
        }
        auto at_end = co_await log.read(p, row.next_offset, 1 << 20);
        EXPECT_TRUE(at_end.has_value() && at_end->size() == 0) << "partition " << p.value();
        auto past = co_await log.read(p, row.next_offset + 1, 1 << 20);
        EXPECT_EQ(past.error(), log_errc::offset_out_of_range);
    }
    // Partitions without a row held nothing at the snapshot point.
    for (uint32_t p : {2u, 3u}) {
        if (!log.has_partition(partition_id(p))) continue;
        EXPECT_EQ(log.start_offset(partition_id(p)).value(), kafka_offset(0)) << "partition " << p;
        EXPECT_EQ(log.end_offset(partition_id(p)).value(), kafka_offset(0)) << "partition " << p;
        auto empty = co_await log.read(partition_id(p), kafka_offset(0), 1 << 20);
        EXPECT_TRUE(empty.has_value() && empty->size() == 0) << "partition " << p;
    }
    auto segs = files_with_suffix(log.directory(), ".log");
    EXPECT_EQ(segs.size(), 1u);
    if (segs.size() == 1) {
        EXPECT_EQ(std::filesystem::path(segs[0]).filename().string(), segment_file_name(at + 1));
    }
    EXPECT_TRUE(files_with_suffix(log.directory(), ".index").empty());
    EXPECT_TRUE(read_file(checkpoint_path(log.directory())) == L.snap.data);
    EXPECT_FALSE(std::filesystem::exists(marker_path(log.directory())));
    auto removed = co_await log.read_entries(at, 1 << 20);
    EXPECT_EQ(removed.error(), log_errc::out_of_range) << "the snapshot point needs a snapshot";
    auto none = co_await log.read_entries(at + 1, 1 << 20);
    EXPECT_TRUE(none.has_value() && none->empty());
}

// Appends the leader's entries after the snapshot point, as raft replicates them.
task<bool> replicate(shard_log& log, const leader_view& L) {
    for (const auto& e : L.after) {
        iobuf payload = to_iobuf(e.payload);
        auto r = co_await log.append_entry(e.type, partition_id(e.partition), e.term,
                                           std::move(payload));
        if (!r) {
            ADD_FAILURE() << "append of entry " << e.index.value() << ": " << r.error().message();
            co_return false;
        }
        EXPECT_EQ(*r, e.index);
    }
    co_return true;
}

// The follower holds what the leader holds from the snapshot point on.
task<void> expect_matches_leader(shard_log& log, const leader_view& L) {
    EXPECT_EQ(log.last_index(), L.last);
    EXPECT_EQ(log.first_index(), L.snap.index + 1);
    EXPECT_EQ(log.term_at(L.snap.index), std::optional<term_id>(L.snap.term));
    for (const auto& e : L.after) {
        EXPECT_EQ(log.term_at(e.index), std::optional<term_id>(e.term)) << e.index.value();
    }
    for (const auto& [p, lp] : L.parts) {
        EXPECT_EQ(log.start_offset(partition_id(p)).value(), lp.start) << "partition " << p;
        EXPECT_EQ(log.end_offset(partition_id(p)).value(), lp.end) << "partition " << p;
        auto r = co_await log.read(partition_id(p), lp.start, 64 << 20);
        EXPECT_TRUE(r.has_value() && to_bytes(*r) == lp.bytes) << "batches of partition " << p;
    }
    auto entries = co_await log.read_entries(L.snap.index + 1, 1 << 20);
    EXPECT_TRUE(entries.has_value() && entries->size() == L.after.size());
    if (!entries || entries->size() != L.after.size()) co_return;
    for (size_t i = 0; i < L.after.size(); ++i) expect_entry((*entries)[i], L.after[i]);
}

TEST(raft_snapshot, leader_reads_its_prefix_checkpoint) {
    temp_dir dir;
    leader_view L;
    ASSERT_EQ(make_leader(leader_config(dir.path()), L), 0);
    // Reopened, the same snapshot.
    int rc = with_log(leader_config(dir.path()), [&](shard_log& log) -> task<int> {
        auto snap = co_await log.read_snapshot();
        CO_ASSERT_OK(snap);
        EXPECT_EQ(snap->index, L.snap.index);
        EXPECT_EQ(snap->term, L.snap.term);
        EXPECT_TRUE(snap->data == L.snap.data);
        co_return 0;
    });
    EXPECT_EQ(rc, 0);
}

TEST(raft_snapshot, round_trip_into_a_divergent_follower) {
    temp_dir ldir;
    temp_dir fdir;
    leader_view L;
    ASSERT_EQ(make_leader(leader_config(ldir.path()), L), 0);
    auto cfg = follower_config(fdir.path());
    int rc = with_log(cfg, [&](shard_log& log) -> task<int> {
        raft_model fm;
        CO_ASSERT(co_await build_follower(log, fm, false));
        std::span<const std::byte> data(L.snap.data);
        CO_ASSERT_OK(co_await log.install_snapshot(data));
        EXPECT_EQ(log.stats().snapshot_installs, 1u);
        co_await expect_snapshot_state(log, L);
        auto again = co_await log.read_snapshot();
        EXPECT_TRUE(again.has_value() && again->data == L.snap.data);
        // Raft may truncate to the snapshot point (nothing to do), never below it.
        CO_ASSERT_OK(co_await log.truncate_suffix(L.snap.index));
        auto below = co_await log.truncate_suffix(L.snap.index - 1);
        EXPECT_EQ(below.error(), log_errc::out_of_range);
        // A stale batch at the follower's old offsets is refused: offsets follow the rows.
        auto stale = stamped(make_batch(1, 2, 50, 1000), kafka_offset(0), 3);
        iobuf stale_buf = to_iobuf(stale);
        auto refused = co_await log.append_entry(entry_type::data, partition_id(0), term_id(3),
                                                 std::move(stale_buf));
        EXPECT_EQ(refused.error(), log_errc::out_of_range);
        CO_ASSERT(co_await replicate(log, L));
        co_await expect_matches_leader(log, L);
        co_return 0;
    });
    ASSERT_EQ(rc, 0);
    rc = with_log(cfg, [&](shard_log& log) -> task<int> {
        co_await expect_matches_leader(log, L);
        EXPECT_FALSE(log.has_partition(partition_id(3))) << "nothing of the follower's own";
        co_return 0;
    });
    EXPECT_EQ(rc, 0);
}

// A follower log left on disk as a crash during install_snapshot leaves it, then reopened.
enum class crash_point {
    marker_written,       // the marker is durable, nothing removed yet
    segments_half_gone,   // the marker, the follower's own old checkpoint, some segments gone
    checkpoint_in_place,  // the marker renamed over the checkpoint, no segment yet
};

void crash_during_install(crash_point at) {
    temp_dir ldir;
    temp_dir fdir;
    leader_view L;
    ASSERT_EQ(make_leader(leader_config(ldir.path()), L), 0);
    auto cfg = follower_config(fdir.path());
    std::string shard_dir;
    int rc = with_log(cfg, [&](shard_log& log) -> task<int> {
        raft_model fm;
        CO_ASSERT(co_await build_follower(log, fm, at == crash_point::segments_half_gone));
        shard_dir = log.directory();
        co_return 0;
    });
    ASSERT_EQ(rc, 0);
    auto segs = files_with_suffix(shard_dir, ".log");
    auto indexes = files_with_suffix(shard_dir, ".index");
    ASSERT_GE(segs.size(), 2u);
    if (at == crash_point::checkpoint_in_place) {
        for (const auto& f : segs) std::filesystem::remove(f);
        for (const auto& f : indexes) std::filesystem::remove(f);
        write_file(checkpoint_path(shard_dir), L.snap.data);
    } else {
        write_file(marker_path(shard_dir), L.snap.data);
        if (at == crash_point::segments_half_gone) {
            ASSERT_TRUE(std::filesystem::exists(checkpoint_path(shard_dir)));
            std::filesystem::remove(segs.back());
            std::filesystem::remove(indexes.front());
        }
    }
    rc = with_log(cfg, [&](shard_log& log) -> task<int> {
        for (uint32_t p = 0; p < 4; ++p) log.configure_partition(partition_id(p), {});
        co_await expect_snapshot_state(log, L);
        CO_ASSERT(co_await replicate(log, L));
        co_await expect_matches_leader(log, L);
        co_return 0;
    });
    EXPECT_EQ(rc, 0);
}

TEST(raft_snapshot, crash_after_the_marker_is_written) {
    crash_during_install(crash_point::marker_written);
}
TEST(raft_snapshot, crash_while_segments_are_removed) {
    crash_during_install(crash_point::segments_half_gone);
}
TEST(raft_snapshot, crash_before_the_new_segment_exists) {
    crash_during_install(crash_point::checkpoint_in_place);
}

TEST(raft_snapshot, damaged_marker_fails_the_open_and_a_torn_one_is_ignored) {
    temp_dir fdir;
    auto cfg = follower_config(fdir.path());
    raft_model fm;
    std::string shard_dir;
    int rc = with_log(cfg, [&](shard_log& log) -> task<int> {
        CO_ASSERT(co_await build_follower(log, fm, false));
        shard_dir = log.directory();
        co_return 0;
    });
    ASSERT_EQ(rc, 0);
    // An interrupted write of the marker (its temporary file) is no install: the old log stays.
    std::vector<std::byte> garbage(200, std::byte{0x5a});
    write_file(marker_path(shard_dir) + ".tmp", garbage);
    rc = with_log(cfg, [&](shard_log& log) -> task<int> {
        co_await expect_raft_log_matches(log, fm);
        co_return 0;
    });
    ASSERT_EQ(rc, 0);
    EXPECT_FALSE(std::filesystem::exists(marker_path(shard_dir) + ".tmp"));
    // A complete marker that does not decode: corruption, named, and nothing removed.
    write_file(marker_path(shard_dir), garbage);
    auto segs = files_with_suffix(shard_dir, ".log");
    std::string detail;
    rc = run_reactor([&]() -> task<int> {
        auto opened = co_await shard_log::open(cfg, &detail);
        if (opened) {
            ADD_FAILURE() << "a damaged marker was accepted";
            CO_ASSERT_OK(co_await (*opened)->close());
        } else {
            EXPECT_EQ(opened.error(), log_errc::corrupt_segment);
        }
        co_return 0;
    });
    EXPECT_EQ(rc, 0);
    EXPECT_NE(detail.find(std::string(snapshot_marker_file_name)), std::string::npos) << detail;
    EXPECT_EQ(files_with_suffix(shard_dir, ".log"), segs);
}

TEST(raft_snapshot, bad_data_is_refused_and_changes_nothing) {
    temp_dir ldir;
    temp_dir fdir;
    leader_view L;
    ASSERT_EQ(make_leader(leader_config(ldir.path()), L), 0);
    auto cfg = follower_config(fdir.path());
    bool fault = false;
    cfg.disk_fault = [&](disk_op, uint64_t) {
        return fault ? std::make_error_code(std::errc::io_error) : std::error_code();
    };
    raft_model fm;
    int rc = with_log(cfg, [&](shard_log& log) -> task<int> {
        CO_ASSERT(co_await build_follower(log, fm, false));
        std::vector<std::vector<std::byte>> bad;
        bad.push_back(std::vector<std::byte>(300, std::byte{0xab}));
        bad.push_back({});
        bad.push_back(read_file(files_with_suffix(log.directory(), ".index").front()));
        bad.emplace_back(L.snap.data.begin(), L.snap.data.end() - 8);
        auto d = decode_index_file(L.snap.data);
        CO_ASSERT_OK(d);
        index_file_data no_terms = *d;
        no_terms.terms.clear();
        bad.push_back(encode_index_file(no_terms));
        index_file_data two_terms = *d;
        two_terms.base_index = raft_index(12);
        two_terms.terms = {term_run{raft_index(12), term_id(1)},
                           term_run{raft_index(13), term_id(2)}};
        bad.push_back(encode_index_file(two_terms));
        index_file_data at_zero = *d;
        at_zero.base_index = raft_index(0);
        at_zero.last_index = raft_index(0);
        at_zero.terms = {term_run{raft_index(0), term_id(2)}};
        bad.push_back(encode_index_file(at_zero));

        auto files = files_with_suffix(log.directory(), "");
        for (size_t i = 0; i < bad.size(); ++i) {
            std::span<const std::byte> data(bad[i]);
            auto s = co_await log.install_snapshot(data);
            EXPECT_EQ(s.error(), log_errc::corrupt_segment) << "bad snapshot " << i;
            EXPECT_EQ(files_with_suffix(log.directory(), ""), files) << "bad snapshot " << i;
        }
        EXPECT_EQ(log.stats().snapshot_installs, 0u);
        co_await expect_raft_log_matches(log, fm);
        CO_ASSERT(co_await fill(log, fm, 3, 0, 4, term_id(2), 100, 7000));
        co_await expect_raft_log_matches(log, fm);

        // A failed log refuses even a good snapshot, and keeps what it has.
        fault = true;
        iobuf noop;
        auto failed = co_await log.append_entry(entry_type::raft_noop, partition_id(0), term_id(2),
                                                std::move(noop));
        EXPECT_EQ(failed.error(), log_errc::io_error);
        fault = false;
        std::span<const std::byte> good(L.snap.data);
        auto refused = co_await log.install_snapshot(good);
        EXPECT_EQ(refused.error(), log_errc::io_error);
        EXPECT_EQ(log.last_index(), fm.last_index());
        co_return 0;
    });
    EXPECT_EQ(rc, 0);
    // Reopened, the follower's own log.
    cfg.disk_fault = nullptr;
    rc = with_log(cfg, [&](shard_log& log) -> task<int> {
        co_await expect_raft_log_matches(log, fm);
        co_return 0;
    });
    EXPECT_EQ(rc, 0);
}

TEST(raft_snapshot, appends_around_an_install_precede_or_follow_it) {
    temp_dir ldir;
    temp_dir fdir;
    leader_view L;
    ASSERT_EQ(make_leader(leader_config(ldir.path()), L), 0);
    auto cfg = follower_config(fdir.path());
    cfg.tail_cache_bytes = 0;  // the racing read goes to disk
    raft_model after;          // what the log holds after the snapshot point
    int rc = with_log(cfg, [&](shard_log& log) -> task<int> {
        raft_model fm;
        CO_ASSERT(co_await build_follower(log, fm, false));
        const raft_index old_next = log.next_index();
        auto p1_old = co_await log.read(partition_id(1), kafka_offset(0), 64 << 20);
        CO_ASSERT_OK(p1_old);
        std::vector<std::byte> p1_bytes = to_bytes(*p1_old);

        // Queued before the install: written first, then replaced with the rest of the log.
        auto before1 = append_data(log, fm, 0, term_id(1), 900, 50);
        const std::vector<std::byte> no_payload;
        auto before2 = append_raw(log, fm, entry_type::raft_noop, 1, term_id(1), no_payload);
        std::span<const std::byte> data(L.snap.data);
        auto install = log.install_snapshot(data);
        // Made while it runs: held, then appended from the snapshot point on. Partition 0
        // continues at its row's next offset (12), partition 3 (no row) at 0.
        auto at12 = stamped(make_batch(11, 2, 60, 1000), kafka_offset(12), 3);
        auto at0 = stamped(make_batch(12, 2, 60, 1000), kafka_offset(0), 3);
        auto after1 = append_raw(log, after, entry_type::data, 0, term_id(3), at12);
        auto after2 = append_raw(log, after, entry_type::raft_noop, 0, term_id(3), no_payload);
        auto after3 = append_raw(log, after, entry_type::data, 3, term_id(3), at0);
        auto read = log.read(partition_id(1), kafka_offset(0), 64 << 20);
        auto entries = log.read_entries(raft_index(1), 1 << 20);
        auto [b1, b2, i, a1, a2, a3, r, e] = co_await when_all(
            std::move(before1), std::move(before2), std::move(install), std::move(after1),
            std::move(after2), std::move(after3), std::move(read), std::move(entries));
        EXPECT_TRUE(b1 && b2);
        CO_ASSERT(fm.entries.size() >= 2);
        raft_index queued_last = std::max(fm.entries.back().index, fm.entries.rbegin()[1].index);
        EXPECT_EQ(queued_last, old_next + 1) << "the queued appends were written first";
        EXPECT_TRUE(i.has_value()) << i.error().message();
        EXPECT_TRUE(a1 && a2 && a3);
        CO_ASSERT(after.entries.size() == 3);
        // One group commit completes its appends in no promised order; they took their indexes
        // in the order they were made.
        std::sort(after.entries.begin(), after.entries.end(),
                  [](const auto& x, const auto& y) { return x.index < y.index; });
        for (size_t k = 0; k < 3; ++k) {
            EXPECT_EQ(after.entries[k].index, L.snap.index + 1 + static_cast<int64_t>(k));
        }
        EXPECT_EQ(after.entries[0].partition, 0u);
        EXPECT_EQ(after.entries[1].type, entry_type::raft_noop);
        EXPECT_EQ(after.entries[2].partition, 3u);
        // A Kafka read that raced: the old batches, whole, or offset_out_of_range.
        if (r) {
            EXPECT_TRUE(to_bytes(*r) == p1_bytes);
        } else {
            EXPECT_EQ(r.error(), log_errc::offset_out_of_range);
        }
        // The entry read waited for the install: index 1 is behind the snapshot now.
        EXPECT_EQ(e.error(), log_errc::out_of_range);
        EXPECT_EQ(log.end_offset(partition_id(0)).value(), kafka_offset(14));
        EXPECT_EQ(log.end_offset(partition_id(3)).value(), kafka_offset(2));
        EXPECT_EQ(log.end_offset(partition_id(2)).value(), kafka_offset(0));
        co_return 0;
    });
    ASSERT_EQ(rc, 0);
    rc = with_log(cfg, [&](shard_log& log) -> task<int> {
        EXPECT_EQ(log.first_index(), L.snap.index + 1);
        EXPECT_EQ(log.term_at(L.snap.index), std::optional<term_id>(L.snap.term));
        co_await expect_entries_match(log, after, L.snap.index + 1, 1 << 20);
        EXPECT_EQ(log.start_offset(partition_id(0)).value(), kafka_offset(6));
        EXPECT_EQ(log.end_offset(partition_id(0)).value(), kafka_offset(14));
        auto r = co_await log.read(partition_id(3), kafka_offset(0), 1 << 20);
        EXPECT_TRUE(r.has_value() && to_bytes(*r) == after.entries[2].payload);
        co_return 0;
    });
    EXPECT_EQ(rc, 0);
}

}  // namespace
}  // namespace wharf
