// The tail cache (log/tail_cache.h): bounded by its budget, oldest out first, and for each
// partition always a contiguous run of its newest batches.

#include "log/tail_cache.h"

#include <gtest/gtest.h>

#include <map>
#include <random>

namespace wharf {
namespace {

iobuf bytes_of(size_t n, uint8_t fill) {
    std::vector<std::byte> v(n, std::byte{fill});
    return iobuf::copy_of(v);
}

TEST(tail_cache, evicts_oldest_first_within_budget) {
    tail_cache cache(1000);
    cache.insert(partition_id(1), kafka_offset(0), kafka_offset(9), bytes_of(400, 1));
    cache.insert(partition_id(2), kafka_offset(0), kafka_offset(0), bytes_of(400, 2));
    EXPECT_EQ(cache.bytes(), 800u);
    cache.insert(partition_id(1), kafka_offset(10), kafka_offset(19), bytes_of(400, 3));
    // The first batch (partition 1, offset 0) went to make room.
    EXPECT_LE(cache.bytes(), 1000u);
    EXPECT_FALSE(cache.find(partition_id(1), kafka_offset(0)));
    ASSERT_TRUE(cache.find(partition_id(2), kafka_offset(0)));
    auto b = cache.find(partition_id(1), kafka_offset(10));
    ASSERT_TRUE(b);
    EXPECT_EQ(*b, bytes_of(400, 3));
    EXPECT_FALSE(cache.find(partition_id(1), kafka_offset(11))) << "only batch starts are found";
}

// A smaller budget (a shard's groups share one) evicts the oldest batches at once.
TEST(tail_cache, set_budget_evicts_down_to_it) {
    tail_cache cache(1000);
    for (int i = 0; i < 4; ++i) {
        cache.insert(partition_id(1), kafka_offset(i), kafka_offset(i), bytes_of(200, uint8_t(i)));
    }
    EXPECT_EQ(cache.bytes(), 800u);
    cache.set_budget(500);
    EXPECT_EQ(cache.budget_bytes(), 500u);
    EXPECT_EQ(cache.bytes(), 400u);
    EXPECT_FALSE(cache.find(partition_id(1), kafka_offset(1)));
    EXPECT_TRUE(cache.find(partition_id(1), kafka_offset(2)));
    EXPECT_TRUE(cache.find(partition_id(1), kafka_offset(3)));
    cache.set_budget(2000);
    cache.insert(partition_id(1), kafka_offset(4), kafka_offset(4), bytes_of(1500, 9));
    EXPECT_EQ(cache.bytes(), 1900u);
}

TEST(tail_cache, oversized_batch_empties_its_partition_run) {
    tail_cache cache(1000);
    cache.insert(partition_id(1), kafka_offset(0), kafka_offset(0), bytes_of(100, 1));
    cache.insert(partition_id(2), kafka_offset(0), kafka_offset(0), bytes_of(100, 2));
    cache.insert(partition_id(1), kafka_offset(1), kafka_offset(1), bytes_of(5000, 3));
    // Keeping offset 0 without offset 1 would leave a hole in partition 1's run.
    EXPECT_FALSE(cache.find(partition_id(1), kafka_offset(0)));
    EXPECT_FALSE(cache.find(partition_id(1), kafka_offset(1)));
    EXPECT_TRUE(cache.find(partition_id(2), kafka_offset(0)));
    EXPECT_EQ(cache.bytes(), 100u);
}

TEST(tail_cache, drop_before_and_random_model) {
    const uint32_t seed = 4242;
    SCOPED_TRACE(::testing::Message() << "seed " << seed);
    std::mt19937 rng(seed);
    const size_t budget = 64 * 1024;
    tail_cache cache(budget);
    struct batch {
        int64_t base;
        int64_t last;
    };
    std::map<uint32_t, std::vector<batch>> inserted;
    std::map<uint32_t, int64_t> next;
    std::map<uint32_t, int64_t> dropped_to;
    for (int i = 0; i < 20000; ++i) {
        uint32_t p = rng() % 50;
        if (rng() % 10 == 0) {
            int64_t start = std::min(dropped_to[p] + static_cast<int64_t>(rng() % 5), next[p]);
            dropped_to[p] = std::max(dropped_to[p], start);
            cache.drop_before(partition_id(p), kafka_offset(start));
            continue;
        }
        int64_t base = next[p];
        int64_t count = 1 + rng() % 3;
        next[p] = base + count;
        inserted[p].push_back({base, base + count - 1});
        cache.insert(partition_id(p), kafka_offset(base), kafka_offset(base + count - 1),
                     bytes_of(1 + rng() % 2000, static_cast<uint8_t>(base)));
        ASSERT_LE(cache.bytes(), budget);
    }
    size_t cached = 0;
    for (const auto& [p, batches] : inserted) {
        bool any = false;
        for (const auto& b : batches) {
            bool found = cache.find(partition_id(p), kafka_offset(b.base)).has_value();
            if (b.last < dropped_to[p]) {
                EXPECT_FALSE(found) << "dropped batch " << b.base << " of partition " << p;
                continue;
            }
            // Once one batch of a partition is cached, every later one is (a contiguous run).
            EXPECT_TRUE(found || !any) << "hole at " << b.base << " of partition " << p;
            any = any || found;
            cached += found ? 1 : 0;
        }
    }
    EXPECT_EQ(cached, cache.batches());
    EXPECT_GT(cache.bytes(), budget / 2) << "the cache should be nearly full";
    cache.clear();
    EXPECT_EQ(cache.bytes(), 0u);
    EXPECT_EQ(cache.batches(), 0u);
}

}  // namespace
}  // namespace wharf
