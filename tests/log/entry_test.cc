// The entry format (log/entry.h): what the writer encodes the readers decode, and the checksum
// catches any change to the header fields or the payload.

#include "log/entry.h"

#include <gtest/gtest.h>

#include <random>
#include <vector>

#include "log/errc.h"

namespace wharf {
namespace {

std::vector<std::byte> make_entry(const entry_header& h, const std::vector<std::byte>& payload) {
    std::vector<std::byte> out(entry_header_bytes + payload.size());
    auto head = std::span<std::byte>(out).first<entry_header_bytes>();
    encode_entry_header(h, head);
    std::copy(payload.begin(), payload.end(), out.begin() + entry_header_bytes);
    store_entry_checksum(head, entry_checksum(head, payload));
    return out;
}

entry_header sample_header(uint32_t payload_bytes) {
    entry_header h;
    h.index = raft_index(123456789);
    h.term = term_id(7);
    h.write_position = byte_position(4096);
    h.partition = partition_id(31337);
    h.payload_bytes = payload_bytes;
    h.type = entry_type::data;
    return h;
}

TEST(entry, header_round_trips) {
    std::vector<std::byte> payload(100, std::byte{0x5a});
    auto bytes = make_entry(sample_header(100), payload);
    auto h = verify_entry(bytes);
    ASSERT_TRUE(h) << h.error().message();
    EXPECT_EQ(h->index, raft_index(123456789));
    EXPECT_EQ(h->term, term_id(7));
    EXPECT_EQ(h->write_position, byte_position(4096));
    EXPECT_EQ(h->partition, partition_id(31337));
    EXPECT_EQ(h->payload_bytes, 100u);
    EXPECT_EQ(h->type, entry_type::data);
    EXPECT_EQ(h->entry_bytes(), entry_header_bytes + 100);
}

TEST(entry, checksum_covers_every_byte) {
    std::mt19937 rng(1);
    std::vector<std::byte> payload(64);
    for (auto& b : payload) b = std::byte(rng());
    auto good = make_entry(sample_header(64), payload);
    ASSERT_TRUE(verify_entry(good));
    for (size_t i = 0; i < good.size(); ++i) {
        auto bad = good;
        bad[i] ^= std::byte{0x01};
        EXPECT_FALSE(verify_entry(bad)) << "flip at byte " << i;
    }
}

TEST(entry, iobuf_checksum_matches_contiguous) {
    std::vector<std::byte> payload(50000);
    for (size_t i = 0; i < payload.size(); ++i) payload[i] = std::byte(i * 7);
    entry_header_buffer head;
    encode_entry_header(sample_header(50000), head);
    iobuf chained;
    chained.append(payload.data(), 10);
    chained.append(iobuf::copy_of(payload.data() + 10, 30000));
    chained.append(iobuf::copy_of(payload.data() + 30010, payload.size() - 30010));
    ASSERT_GT(chained.fragment_count(), 1u);
    EXPECT_EQ(entry_checksum(head, chained), entry_checksum(head, payload));
}

TEST(entry, rejects_wrong_lengths_and_garbage) {
    std::vector<std::byte> payload(10, std::byte{1});
    auto good = make_entry(sample_header(10), payload);
    // Shorter or longer than the header says.
    EXPECT_FALSE(verify_entry(std::span<const std::byte>(good).first(good.size() - 1)));
    auto longer = good;
    longer.push_back(std::byte{0});
    EXPECT_FALSE(verify_entry(longer));
    // Zeros (a preallocated tail) are never plausible.
    std::vector<std::byte> zeros(entry_header_bytes);
    EXPECT_FALSE(entry_header_plausible(std::span<const std::byte, entry_header_bytes>(zeros)));
    EXPECT_FALSE(verify_entry(zeros));
    // An absurd length is refused before anything trusts it.
    auto huge = sample_header(0);
    huge.payload_bytes = max_entry_payload_bytes + 1;
    entry_header_buffer hb;
    encode_entry_header(huge, hb);
    EXPECT_FALSE(entry_header_plausible(hb));
}

TEST(entry, unknown_types_stay_plausible) {
    // The type set is open: raft's entries and later kinds replay like any other.
    auto h = sample_header(0);
    h.type = static_cast<entry_type>(200);
    auto bytes = make_entry(h, {});
    auto back = verify_entry(bytes);
    ASSERT_TRUE(back);
    EXPECT_EQ(static_cast<int>(back->type), 200);
}

TEST(entry, control_round_trips_and_refuses_garbage) {
    auto enc = encode_control(control_entry{control_kind::set_start_offset, 424242});
    auto c = decode_control(enc);
    ASSERT_TRUE(c);
    EXPECT_EQ(c->kind, control_kind::set_start_offset);
    EXPECT_EQ(c->value, 424242);

    auto bad_kind = enc;
    bad_kind[0] = std::byte{9};
    EXPECT_EQ(decode_control(bad_kind).error(), log_errc::corrupt_entry);
    auto negative = encode_control(control_entry{control_kind::set_start_offset, -1});
    EXPECT_FALSE(decode_control(negative));
    EXPECT_FALSE(decode_control(std::span<const std::byte>(enc).first(8)));
}

}  // namespace
}  // namespace wharf
