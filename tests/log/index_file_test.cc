// Index files (log/index_file.h): they round-trip, and any damage is detected so that recovery
// rebuilds the index instead of trusting it.

#include "log/index_file.h"

#include <gtest/gtest.h>

#include <random>

namespace wharf {
namespace {

index_file_data sample() {
    index_file_data d;
    d.kind = index_file_kind::segment_index;
    d.base_index = raft_index(100);
    d.last_index = raft_index(399);
    d.segment_bytes = 1 << 20;
    d.terms = {{raft_index(100), term_id(3)}, {raft_index(250), term_id(4)}};
    for (uint32_t p = 0; p < 20; ++p) {
        d.partitions.push_back({partition_id(p * 3), kafka_offset(p), kafka_offset(1000 + p),
                                int64_t{5000} + p});
        for (int b = 0; b < 15; ++b) {
            batch_entry e;
            e.base_offset = 900 + b * 5;
            e.last_offset_delta = 4;
            e.max_timestamp = 4000 + b;
            e.position = static_cast<uint32_t>((p * 15 + b) * 1000);
            e.batch_bytes = 900;
            d.batches.push_back({partition_id(p * 3), e});
        }
    }
    return d;
}

TEST(index_file, round_trips) {
    auto d = sample();
    auto bytes = encode_index_file(d);
    EXPECT_EQ(bytes.size(), index_header_bytes + 2 * index_term_run_bytes +
                                20 * index_partition_bytes + 300 * index_batch_bytes);
    auto back = decode_index_file(bytes);
    ASSERT_TRUE(back) << back.error().message();
    EXPECT_EQ(back->kind, d.kind);
    EXPECT_EQ(back->base_index, d.base_index);
    EXPECT_EQ(back->last_index, d.last_index);
    EXPECT_EQ(back->segment_bytes, d.segment_bytes);
    ASSERT_EQ(back->terms.size(), 2u);
    EXPECT_EQ(back->terms[1].first, raft_index(250));
    EXPECT_EQ(back->terms[1].term, term_id(4));
    ASSERT_EQ(back->partitions.size(), d.partitions.size());
    for (size_t i = 0; i < d.partitions.size(); ++i) {
        EXPECT_EQ(back->partitions[i].partition, d.partitions[i].partition);
        EXPECT_EQ(back->partitions[i].start_offset, d.partitions[i].start_offset);
        EXPECT_EQ(back->partitions[i].next_offset, d.partitions[i].next_offset);
        EXPECT_EQ(back->partitions[i].max_timestamp, d.partitions[i].max_timestamp);
    }
    ASSERT_EQ(back->batches.size(), d.batches.size());
    for (size_t i = 0; i < d.batches.size(); ++i) {
        const auto& a = back->batches[i];
        const auto& b = d.batches[i];
        EXPECT_EQ(a.partition, b.partition);
        EXPECT_EQ(a.entry.base_offset, b.entry.base_offset);
        EXPECT_EQ(a.entry.last_offset_delta, b.entry.last_offset_delta);
        EXPECT_EQ(a.entry.max_timestamp, b.entry.max_timestamp);
        EXPECT_EQ(a.entry.position, b.entry.position);
        EXPECT_EQ(a.entry.batch_bytes, b.entry.batch_bytes);
    }
}

TEST(index_file, detects_any_damage) {
    auto bytes = encode_index_file(sample());
    std::mt19937 rng(7);
    for (int i = 0; i < 2000; ++i) {
        auto bad = bytes;
        size_t at = rng() % bad.size();
        bad[at] ^= std::byte(1 + rng() % 255);
        EXPECT_FALSE(decode_index_file(bad)) << "damage at byte " << at;
    }
    for (size_t cut : {size_t{0}, size_t{10}, index_header_bytes, bytes.size() - 1}) {
        EXPECT_FALSE(decode_index_file(std::span<const std::byte>(bytes).first(cut)));
    }
}

TEST(index_file, refuses_inconsistent_records) {
    // A well-formed file whose records contradict each other is as bad as a damaged one.
    auto unsorted = sample();
    std::swap(unsorted.batches[0], unsorted.batches[1]);
    EXPECT_FALSE(decode_index_file(encode_index_file(unsorted)));

    auto past_end = sample();
    past_end.batches.back().entry.position = static_cast<uint32_t>(past_end.segment_bytes - 10);
    EXPECT_FALSE(decode_index_file(encode_index_file(past_end)));

    auto term_back = sample();
    term_back.terms[1].term = term_id(2);
    EXPECT_FALSE(decode_index_file(encode_index_file(term_back)));
}

}  // namespace
}  // namespace wharf
