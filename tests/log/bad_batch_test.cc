// Bad batches through append_batch: each is refused with its precise error, and nothing is
// stored (end offset, raft index, files and reads unchanged).

#include <gtest/gtest.h>

#include "log/batch_layout.h"
#include "log/crc32c.h"
#include "log/errc.h"
#include "log/shard_log.h"
#include "tests/log/shardlog_test_util.h"

namespace wharf {
namespace {

using namespace wharf::test;
namespace bl = batch_layout;

// Recomputes the CRC after an edit, so that a later check (not the CRC) is what fails.
void fix_crc(std::vector<std::byte>& b) {
    auto covered = std::span<const std::byte>(b).subspan(bl::attributes);
    bl::put<uint32_t>(b, bl::crc, crc32c(covered));
}

struct bad_case {
    const char* name;
    std::vector<std::byte> bytes;
    log_errc expected;
};

std::vector<bad_case> bad_cases() {
    const auto good = make_batch(11, 3, 40, 1000);
    std::vector<bad_case> out;
    auto add = [&](const char* name, auto edit, log_errc e) {
        auto b = good;
        edit(b);
        out.push_back({name, std::move(b), e});
    };
    add("wrong crc", [](auto& b) { b.back() ^= std::byte{1}; }, log_errc::crc_mismatch);
    add("crc field", [](auto& b) { b[bl::crc] ^= std::byte{0x80}; }, log_errc::crc_mismatch);
    add("length past the bytes",
        [](auto& b) { bl::put<int32_t>(b, bl::batch_length, bl::get<int32_t>(b, bl::batch_length) + 9); },
        log_errc::truncated_batch);
    add("length short of the bytes",
        [](auto& b) { bl::put<int32_t>(b, bl::batch_length, bl::get<int32_t>(b, bl::batch_length) - 9); },
        log_errc::invalid_batch_length);
    add("length below a header", [](auto& b) { bl::put<int32_t>(b, bl::batch_length, 10); },
        log_errc::invalid_batch_length);
    add("negative record count",
        [](auto& b) {
            bl::put<int32_t>(b, bl::records_count, -5);
            fix_crc(b);
        },
        log_errc::invalid_record_count);
    add("absurd record count",
        [](auto& b) {
            bl::put<int32_t>(b, bl::records_count, 1'000'000'000);
            bl::put<int32_t>(b, bl::last_offset_delta, 999'999'999);
            fix_crc(b);
        },
        log_errc::invalid_record_count);
    add("count and last offset delta disagree",
        [](auto& b) {
            bl::put<int32_t>(b, bl::last_offset_delta, 7);
            fix_crc(b);
        },
        log_errc::invalid_record_count);
    add("old magic", [](auto& b) { b[bl::magic] = std::byte{1}; }, log_errc::unsupported_magic);
    add("truncated header", [](auto& b) { b.resize(30); }, log_errc::truncated_batch);
    add("empty", [](auto& b) { b.clear(); }, log_errc::truncated_batch);
    add("trailing garbage", [](auto& b) { b.push_back(std::byte{0}); },
        log_errc::invalid_batch_length);
    // Larger than the log's max_batch_bytes (set to 4 KiB below).
    out.push_back({"oversized", make_batch(12, 10, 1000, 1000), log_errc::batch_too_large});
    return out;
}

TEST(bad_batches, are_refused_and_nothing_is_stored) {
    temp_dir dir;
    int rc = run_reactor([&]() -> task<int> {
        auto cfg = test_config(dir.path());
        cfg.limits.max_batch_bytes = 4096;
        auto opened = co_await shard_log::open(cfg);
        CO_ASSERT_OK(opened);
        shard_log& log = **opened;
        log.configure_partition(partition_id(0), {});
        auto first = make_batch(1, 2, 40, 1000);
        CO_ASSERT_OK(co_await log.append_batch(partition_id(0), term_id(1), to_iobuf(first), 0));
        auto before = co_await log.read(partition_id(0), kafka_offset(0), 1 << 20);
        CO_ASSERT_OK(before);
        auto segment = files_with_suffix(log.directory(), ".log").at(0);
        auto size = file_size(segment);
        auto stats = log.stats();

        auto cases = bad_cases();
        for (auto& c : cases) {
            auto r = co_await log.append_batch(partition_id(0), term_id(1), to_iobuf(c.bytes), 0);
            EXPECT_FALSE(r) << c.name;
            if (!r) {
                EXPECT_EQ(r.error(), make_error_code(c.expected))
                    << c.name << ": " << r.error().message();
            }
        }
        EXPECT_EQ(log.end_offset(partition_id(0)).value(), kafka_offset(2));
        EXPECT_EQ(log.last_index(), raft_index(1));
        EXPECT_EQ(log.next_index(), raft_index(2));
        EXPECT_EQ(log.stats().rejected_batches, stats.rejected_batches + cases.size());
        EXPECT_EQ(log.stats().writes, stats.writes);
        EXPECT_EQ(file_size(segment), size);
        auto after = co_await log.read(partition_id(0), kafka_offset(0), 1 << 20);
        CO_ASSERT_OK(after);
        EXPECT_TRUE(*after == *before);

        // The next good batch takes the next offset: the refused ones left no gap.
        auto next = make_batch(2, 1, 40, 1000);
        auto r = co_await log.append_batch(partition_id(0), term_id(1), to_iobuf(next), 0);
        CO_ASSERT_OK(r);
        EXPECT_EQ(r->base_offset, kafka_offset(2));
        EXPECT_EQ(r->index, raft_index(2));
        CO_ASSERT_OK(co_await log.close());
        co_return ::testing::Test::HasFailure() ? 1 : 0;
    });
    EXPECT_EQ(rc, 0);
}

TEST(bad_batches, follower_entries_that_do_not_fit_are_refused) {
    temp_dir dir;
    int rc = run_reactor([&]() -> task<int> {
        auto opened = co_await shard_log::open(test_config(dir.path()));
        CO_ASSERT_OK(opened);
        shard_log& log = **opened;
        log.configure_partition(partition_id(0), {});
        auto good = stamped(make_batch(1, 2, 10, 0), kafka_offset(0), 1);
        auto truncated = good;
        truncated.resize(good.size() - 3);
        EXPECT_FALSE(co_await log.append_entry(entry_type::data, partition_id(0), term_id(1),
                                               to_iobuf(truncated)));
        std::vector<std::byte> garbage(16, std::byte{0x33});
        EXPECT_EQ((co_await log.append_entry(entry_type::control, partition_id(0), term_id(1),
                                             to_iobuf(garbage)))
                      .error(),
                  log_errc::corrupt_entry);
        EXPECT_EQ(log.next_index(), raft_index(1));
        EXPECT_EQ(log.stats().writes, 0u);
        CO_ASSERT_OK(co_await log.close());
        co_return ::testing::Test::HasFailure() ? 1 : 0;
    });
    EXPECT_EQ(rc, 0);
}

// A follower may replicate a partition before its copy of the cluster metadata (another raft
// group) has configured it: the log creates it with default settings.
TEST(bad_batches, follower_entries_create_unknown_partitions) {
    temp_dir dir;
    int rc = run_reactor([&]() -> task<int> {
        auto opened = co_await shard_log::open(test_config(dir.path()));
        CO_ASSERT_OK(opened);
        shard_log& log = **opened;
        auto good = stamped(make_batch(1, 2, 10, 0), kafka_offset(0), 1);
        EXPECT_FALSE(log.has_partition(partition_id(5)));
        CO_ASSERT_OK(co_await log.append_entry(entry_type::data, partition_id(5), term_id(1),
                                               to_iobuf(good)));
        EXPECT_TRUE(log.has_partition(partition_id(5)));
        EXPECT_EQ(log.end_offset(partition_id(5)).value(), kafka_offset(2));
        CO_ASSERT_OK(co_await log.close());
        co_return ::testing::Test::HasFailure() ? 1 : 0;
    });
    EXPECT_EQ(rc, 0);
}

}  // namespace
}  // namespace wharf
