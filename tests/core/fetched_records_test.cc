// for_each_record over the records of a Fetch response: positions, control batches, codecs,
// a partial batch at the end and framing it cannot trust.

#include "core/client/fetched_records.h"

#include <gtest/gtest.h>

#include <string>
#include <vector>

#include "log/batch_layout.h"
#include "log/record_batch.h"

namespace wharf::client {
namespace {

std::vector<std::byte> batch(int64_t base, std::vector<std::string> values,
                             compression_type c = compression_type::none) {
    std::vector<record_to_build> records;
    for (const auto& v : values) records.push_back({.value = v});
    return build_batch(kafka_offset(base), 1000, records, c);
}

void append(std::vector<std::byte>& out, const std::vector<std::byte>& b) {
    out.insert(out.end(), b.begin(), b.end());
}

struct seen {
    std::vector<int64_t> offsets;
    std::vector<std::string> values;
    int64_t next = -1;
};

seen read_all(const std::vector<std::byte>& bytes, int64_t position) {
    seen s;
    s.next = for_each_record(bytes, position, [&](const fetched_record& f) {
        s.offsets.push_back(f.offset);
        const auto& v = *f.record->value;
        s.values.emplace_back(reinterpret_cast<const char*>(v.data()), v.size());
    });
    return s;
}

TEST(fetched_records, records_from_the_position_on_in_every_codec) {
    for (auto c : {compression_type::none, compression_type::gzip, compression_type::snappy,
                   compression_type::lz4, compression_type::zstd}) {
        std::vector<std::byte> bytes;
        append(bytes, batch(10, {"a", "b", "c"}, c));
        append(bytes, batch(13, {"d", "e"}, c));
        // The fetch starts inside the first batch: what is below the position is not delivered.
        auto s = read_all(bytes, 11);
        EXPECT_EQ(s.offsets, (std::vector<int64_t>{11, 12, 13, 14})) << int(c);
        EXPECT_EQ(s.values, (std::vector<std::string>{"b", "c", "d", "e"})) << int(c);
        EXPECT_EQ(s.next, 15) << int(c);
    }
}

TEST(fetched_records, control_batches_are_skipped_and_counted_in_the_position) {
    std::vector<std::byte> bytes;
    auto control = batch(0, {"marker"});
    auto attributes = batch_layout::get<int16_t>(control, batch_layout::attributes);
    batch_layout::put<int16_t>(control, batch_layout::attributes, int16_t(attributes | 0x20));
    append(bytes, control);
    append(bytes, batch(1, {"x"}));
    auto s = read_all(bytes, 0);
    EXPECT_EQ(s.offsets, (std::vector<int64_t>{1}));
    EXPECT_EQ(s.next, 2);
}

TEST(fetched_records, a_partial_batch_or_another_magic_ends_the_read) {
    auto first = batch(0, {"a"});
    auto second = batch(1, {"b", "c"});
    std::vector<std::byte> bytes = first;
    bytes.insert(bytes.end(), second.begin(), second.begin() + 30);  // cut by the byte limit
    auto s = read_all(bytes, 0);
    EXPECT_EQ(s.offsets, (std::vector<int64_t>{0}));
    EXPECT_EQ(s.next, 1);

    // A magic 1 message set is not read as a v2 batch: nothing delivered, the position stays.
    auto old = batch(5, {"v1"});
    old[static_cast<size_t>(batch_layout::magic)] = std::byte{1};
    s = read_all(old, 5);
    EXPECT_TRUE(s.offsets.empty());
    EXPECT_EQ(s.next, 5);
}

}  // namespace
}  // namespace wharf::client
