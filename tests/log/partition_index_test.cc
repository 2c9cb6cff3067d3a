// The per-partition batch index (log/partition_index.h) against a plain model: lookups by offset
// and by timestamp, trimming, and the memory budget per batch.

#include "log/partition_index.h"

#include <gtest/gtest.h>

#include <algorithm>
#include <random>
#include <vector>

namespace wharf {
namespace {

struct model_batch {
    int64_t base;
    int64_t last;
    int64_t own_max_ts;
};

// First model batch whose last offset is >= o.
size_t model_find_offset(const std::vector<model_batch>& m, size_t first, int64_t o) {
    for (size_t i = first; i < m.size(); ++i) {
        if (m[i].last >= o) return i - first;
    }
    return m.size() - first;
}

// First live batch whose own max timestamp, or that of any earlier batch (deleted ones
// included), reaches t.
size_t model_find_timestamp(const std::vector<model_batch>& m, size_t first, int64_t t) {
    int64_t running = INT64_MIN;
    for (size_t i = 0; i < m.size(); ++i) {
        running = std::max(running, m[i].own_max_ts);
        if (i >= first && running >= t) return i - first;
    }
    return m.size() - first;
}

TEST(partition_index, lookups_match_a_model) {
    const uint32_t seed = 20261124;
    SCOPED_TRACE(::testing::Message() << "seed " << seed);
    std::mt19937_64 rng(seed);
    partition_index index;
    std::vector<model_batch> model;
    int64_t next = 0;
    for (int i = 0; i < 5000; ++i) {
        int64_t count = 1 + static_cast<int64_t>(rng() % 20);
        // Timestamps mostly grow but sometimes go back, as producers' clocks do.
        int64_t ts = 1'000'000 + i * 10 + static_cast<int64_t>(rng() % 50) - 25;
        batch_entry e;
        e.base_offset = next;
        e.last_offset_delta = static_cast<int32_t>(count - 1);
        e.max_timestamp = ts;
        e.segment = static_cast<uint32_t>(i / 1000);
        e.position = static_cast<uint32_t>(i * 100);
        e.batch_bytes = 100;
        index.push_back(e);
        model.push_back({next, next + count - 1, ts});
        next += count;
    }
    size_t first = 0;
    for (int round = 0; round < 4; ++round) {
        ASSERT_EQ(index.size(), model.size() - first);
        EXPECT_EQ(index.bytes(), 100 * (model.size() - first));
        for (int q = 0; q < 2000; ++q) {
            int64_t o = static_cast<int64_t>(rng() % static_cast<uint64_t>(next + 10));
            size_t i = index.find_offset(kafka_offset(o));
            ASSERT_EQ(i, model_find_offset(model, first, o)) << "offset " << o;
            if (i < index.size()) {
                EXPECT_LE(index[i].base().value(), std::max(o, model[first].base));
                EXPECT_GE(index[i].last().value(), o);
            }
            int64_t t = 999'000 + static_cast<int64_t>(rng() % 52'000);
            ASSERT_EQ(index.find_timestamp(timestamp_ms(t)), model_find_timestamp(model, first, t))
                << "timestamp " << t;
        }
        // Retention: drop a prefix, sometimes starting in the middle of a batch.
        int64_t start = model[first].base + static_cast<int64_t>(rng() % 3000);
        index.trim_before(kafka_offset(start));
        while (first < model.size() && model[first].last < start) ++first;
    }
    index.trim_before(kafka_offset(next));
    EXPECT_TRUE(index.empty());
    EXPECT_EQ(index.bytes(), 0u);
}

TEST(partition_index, memory_per_batch_stays_small) {
    partition_index index;
    const int n = 1'000'000;
    for (int i = 0; i < n; ++i) {
        batch_entry e;
        e.base_offset = i;
        e.batch_bytes = 1;
        index.push_back(e);
    }
    // A vector of 32-byte entries: at most twice that with growth slack.
    EXPECT_LE(index.memory_bytes(), size_t{2} * 32 * n);
    index.trim_before(kafka_offset(n - 10));
    EXPECT_EQ(index.size(), 10u);
    EXPECT_LE(index.memory_bytes(), size_t{64} * 1024) << "a trimmed index gives memory back";
}

TEST(partition_index, empty_index_finds_nothing) {
    partition_index index;
    EXPECT_EQ(index.find_offset(kafka_offset(0)), 0u);
    EXPECT_EQ(index.find_timestamp(timestamp_ms(0)), 0u);
    index.trim_before(kafka_offset(100));
    EXPECT_TRUE(index.empty());
}

}  // namespace
}  // namespace wharf
