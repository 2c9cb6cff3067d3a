// The raft message codec (raft/message_codec.h): every message round-trips with equal fields and
// the same payload bytes, shared rather than copied; the byte layout; every truncation, hostile
// count and out-of-range value is refused; random damage never crashes or allocates much more
// than the input's size.

#include <gtest/gtest.h>

#include <atomic>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <random>
#include <string>
#include <vector>

#include "raft/errc.h"
#include "raft/message_codec.h"
#include "tests/raft/raft_message_same.h"
#include "raft/messages.h"
#include "reactor/iobuf.h"

// Sanitizer builds report every allocation to a hook (libasan exports this; GCC ships no header
// for it). Weak, so that a build without AddressSanitizer still links and skips the check.
extern "C" int __sanitizer_install_malloc_and_free_hooks(void (*malloc_hook)(const volatile void*,
                                                                             size_t),
                                                         void (*free_hook)(const volatile void*))
    __attribute__((weak));

namespace wharf {
namespace {

using test::same;

// ---- the largest single allocation while a decode runs

std::atomic<bool> tracking{false};
std::atomic<size_t> largest{0};

void on_malloc(const volatile void*, size_t size) {
    if (!tracking.load(std::memory_order_relaxed)) return;
    size_t seen = largest.load(std::memory_order_relaxed);
    while (size > seen && !largest.compare_exchange_weak(seen, size)) {
    }
}
void on_free(const volatile void*) {}

bool can_track() {
    static const bool installed = __sanitizer_install_malloc_and_free_hooks != nullptr &&
                                  __sanitizer_install_malloc_and_free_hooks(on_malloc, on_free);
    return installed;
}

// Decodes and returns the result together with the largest allocation made meanwhile.
struct tracked_decode {
    result<raft_message> message;
    size_t largest_allocation;
};

tracked_decode decode_tracked(const iobuf& in) {
    largest = 0;
    tracking = can_track();
    auto r = decode_raft_message(in);
    tracking = false;
    return {std::move(r), largest.load()};
}

// An entry costs at least raft_entry_header_bytes of input and sizeof(raft_entry) of memory;
// nothing else a decode allocates grows with the input.
size_t allocation_bound(size_t input_bytes) {
    return (input_bytes / raft_entry_header_bytes + 1) * sizeof(raft_entry) + 1024;
}

// ---- messages and comparison

iobuf bytes_of(size_t n, char seed) {
    std::string s(n, '\0');
    for (size_t i = 0; i < n; ++i) s[i] = static_cast<char>(seed + i * 13);
    return iobuf::copy_of(s.data(), s.size());
}

raft_entry entry(int64_t index, int64_t term, entry_type type, uint32_t partition, iobuf payload) {
    return {raft_index(index), term_id(term), type, partition_id(partition), std::move(payload)};
}

raft_message message(node_id from, node_id to, decltype(raft_message::body) body) {
    raft_message m;
    m.from = from;
    m.to = to;
    m.body = std::move(body);
    return m;
}

raft_config sample_config() {
    return raft_config{{node_id(1), node_id(2), node_id(3)}, {node_id(7)}};
}

iobuf sample_members() {
    return encode_config(sample_config());
}

append_request sample_append() {
    append_request a{term_id(9), raft_index(40), term_id(7), raft_index(38), {}};
    // Empty, inline-sized, just over the inline size, large, and split over two fragments.
    a.entries.push_back(entry(41, 7, entry_type::raft_noop, 0, iobuf()));
    a.entries.push_back(entry(42, 8, entry_type::control, 3, bytes_of(16, 'c')));
    a.entries.push_back(entry(43, 8, entry_type::data, 5, bytes_of(65, 'd')));
    a.entries.push_back(entry(44, 9, entry_type::data, 0xfffffffe, bytes_of(20000, 'D')));
    iobuf split = bytes_of(3000, 'x');
    split.append(bytes_of(5000, 'y'));
    a.entries.push_back(entry(45, 9, entry_type::data, 1, std::move(split)));
    a.entries.push_back(entry(46, 9, entry_type::raft_configuration, 0, sample_members()));
    return a;
}

std::vector<raft_message> samples() {
    std::vector<raft_message> v;
    for (int flags = 0; flags < 4; ++flags) {
        v.push_back(message(node_id(1), node_id(2),
                            vote_request{term_id(5), raft_index(100), term_id(4), (flags & 1) != 0,
                                         (flags & 2) != 0}));
        v.push_back(message(node_id(2), node_id(1),
                            vote_reply{term_id(5), (flags & 1) != 0, (flags & 2) != 0}));
    }
    v.push_back(message(node_id(0), node_id(7), sample_append()));
    // A heartbeat: no entries.
    v.push_back(message(node_id(0), node_id(7),
                        append_request{term_id(3), raft_index(0), term_id(0), raft_index(0), {}}));
    v.push_back(message(node_id(7), node_id(0),
                        append_reply{term_id(9), true, raft_index(45), raft_index(45)}));
    v.push_back(message(node_id(7), node_id(0),
                        append_reply{term_id(9), false, raft_index(0), raft_index(12)}));
    v.push_back(message(node_id(2147483647), node_id(3), timeout_now{term_id(INT64_MAX)}));
    v.push_back(message(node_id(1), node_id(3),
                        install_snapshot{term_id(7), raft_index(1000), term_id(6),
                                         raft_index(1200), bytes_of(5000, 's')}));
    // Groups beyond 0 (version 3), up to the largest id.
    for (uint16_t g : {1, 0x1234, 0xffff}) {
        raft_message grouped = message(node_id(4), node_id(5), sample_append());
        grouped.group = raft_group_id(g);
        v.push_back(std::move(grouped));
    }
    v.push_back(message(node_id(1), node_id(3),
                        install_snapshot{term_id(7), raft_index(1), term_id(0), raft_index(0), {}}));
    v.push_back(message(node_id(1), node_id(3),
                        install_snapshot{term_id(7), raft_index(900), term_id(6), raft_index(1200),
                                         bytes_of(300, 'p'),
                                         config_entry{raft_index(1100), term_id(7),
                                                      sample_config()}}));
    return v;
}


std::vector<std::byte> to_bytes(const iobuf& b) {
    std::vector<std::byte> v(b.size());
    b.copy_to(0, v.data(), v.size());
    return v;
}

iobuf from_bytes(const std::vector<std::byte>& v) {
    return iobuf::copy_of(v.data(), v.size());
}

std::error_code malformed() {
    return make_error_code(raft_errc::malformed_message);
}

// ---- tests

TEST(raft_message_codec, every_variant_round_trips) {
    for (const raft_message& m : samples()) {
        iobuf bytes = encode_raft_message(m);
        EXPECT_EQ(bytes.size(), encoded_raft_message_bytes(m));
        auto got = decode_raft_message(bytes);
        ASSERT_TRUE(got) << got.error().message() << " for type " << m.body.index();
        EXPECT_TRUE(same(*got, m)) << "type " << m.body.index();
        // A message that went through the codec encodes to the same bytes again.
        EXPECT_EQ(to_bytes(encode_raft_message(*got)), to_bytes(bytes));
    }
}

TEST(raft_message_codec, payloads_are_shared_not_copied) {
    raft_message m = message(node_id(0), node_id(1), sample_append());
    const auto& big = std::get<append_request>(m.body).entries[3].payload;
    const std::byte* original = (*big.fragments().begin()).data();
    iobuf bytes = encode_raft_message(m);
    auto got = decode_raft_message(bytes);
    ASSERT_TRUE(got);
    const auto& decoded = std::get<append_request>(got->body).entries[3].payload;
    // The decoded payload views the very bytes of the original: no copy on either side.
    EXPECT_EQ((*decoded.fragments().begin()).data(), original);
}

TEST(raft_message_codec, layout) {
    auto b = to_bytes(encode_raft_message(
        message(node_id(3), node_id(4),
                vote_request{term_id(0x0102), raft_index(0x0304), term_id(0x05), true, true})));
    std::vector<uint8_t> want = {
        2,    1,    0, 0, 3, 0, 0, 0, 4, 0, 0, 0,  // version, type, reserved, from, to
        0x02, 0x01, 0, 0, 0, 0, 0, 0,              // term
        0x04, 0x03, 0, 0, 0, 0, 0, 0,              // last_index
        0x05, 0,    0, 0, 0, 0, 0, 0,              // last_term
        3,                                         // pre_vote | leadership_transfer
    };
    ASSERT_EQ(b.size(), want.size());
    for (size_t i = 0; i < b.size(); ++i) EXPECT_EQ(uint8_t(b[i]), want[i]) << "byte " << i;

    append_request a{term_id(2), raft_index(0), term_id(0), raft_index(0), {}};
    a.entries.push_back(entry(1, 2, entry_type::data, 0x0a0b0c0d, bytes_of(3, 'p')));
    auto e = to_bytes(encode_raft_message(message(node_id(0), node_id(1), std::move(a))));
    ASSERT_EQ(e.size(), append_request_bytes(1, 3));
    EXPECT_EQ(uint8_t(e[1]), 3);
    size_t at = append_request_fixed_bytes;
    EXPECT_EQ(uint8_t(e[at - 4]), 1);      // entry_count
    EXPECT_EQ(uint8_t(e[at]), 1);          // index
    EXPECT_EQ(uint8_t(e[at + 8]), 2);      // term
    EXPECT_EQ(uint8_t(e[at + 16]), 0x0d);  // partition, little-endian
    EXPECT_EQ(uint8_t(e[at + 20]), 3);     // payload_bytes
    EXPECT_EQ(uint8_t(e[at + 24]), 1);     // entry_type::data
    EXPECT_EQ(char(e[at + 25]), 'p');      // the payload
}

TEST(raft_message_codec, group_layout) {
    raft_message m = message(node_id(3), node_id(4), timeout_now{term_id(1)});
    m.group = raft_group_id(0x0102);
    auto b = to_bytes(encode_raft_message(m));
    ASSERT_GE(b.size(), 4u);
    EXPECT_EQ(uint8_t(b[0]), 3);  // version 3: the message names a group
    EXPECT_EQ(uint8_t(b[2]), 0x02);
    EXPECT_EQ(uint8_t(b[3]), 0x01);
    m.group = raft_group_id(0);
    EXPECT_EQ(uint8_t(to_bytes(encode_raft_message(m))[0]), 2);  // group 0 as before groups
}

TEST(raft_message_codec, every_truncation_and_trailing_byte_fails) {
    for (const raft_message& m : samples()) {
        auto b = to_bytes(encode_raft_message(m));
        for (size_t n = 0; n < b.size(); ++n) {
            std::vector<std::byte> prefix(b.begin(), b.begin() + n);
            EXPECT_EQ(decode_raft_message(from_bytes(prefix)).error(), malformed())
                << "type " << m.body.index() << " cut at " << n;
        }
        b.push_back(std::byte{0});
        EXPECT_EQ(decode_raft_message(from_bytes(b)).error(), malformed());
    }
}

TEST(raft_message_codec, unknown_version_type_flags_and_reserved) {
    auto good = to_bytes(
        encode_raft_message(message(node_id(1), node_id(2), vote_reply{term_id(1), true, false})));
    auto with = [&](size_t pos, uint8_t v) {
        auto b = good;
        b[pos] = std::byte{v};
        return decode_raft_message(from_bytes(b)).error();
    };
    EXPECT_EQ(with(0, 0), make_error_code(raft_errc::unsupported_message_version));
    EXPECT_EQ(with(0, 1), make_error_code(raft_errc::unsupported_message_version));
    EXPECT_EQ(with(0, 4), make_error_code(raft_errc::unsupported_message_version));
    // Version 3 names a group other than 0; group 0 is written as version 2.
    EXPECT_EQ(with(0, 3), malformed());
    for (uint8_t type : {0, 6, 255}) EXPECT_EQ(with(1, type), malformed()) << int(type);
    EXPECT_EQ(with(2, 1), malformed());                // version 2 reserves the group field
    EXPECT_EQ(with(3, 0x80), malformed());             // version 2 reserves the group field
    EXPECT_EQ(with(good.size() - 1, 4), malformed());  // an unknown flag bit
    EXPECT_EQ(with(7, 0x80), malformed());             // a negative from
}

// The bytes of an append request with `count` empty-payload entries after prev_index 0.
std::vector<std::byte> empty_entries(uint32_t count) {
    append_request a{term_id(1), raft_index(0), term_id(0), raft_index(0), {}};
    for (uint32_t i = 0; i < count; ++i) {
        a.entries.push_back(entry(i + 1, 1, entry_type::raft_noop, 0, iobuf()));
    }
    return to_bytes(encode_raft_message(message(node_id(0), node_id(1), std::move(a))));
}

void put_u32(std::vector<std::byte>& b, size_t at, uint32_t v) {
    std::memcpy(&b[at], &v, 4);
}

TEST(raft_message_codec, hostile_counts_and_lengths) {
    constexpr size_t count_at = append_request_fixed_bytes - 4;
    // A count that the remaining bytes cannot hold, up to the largest a u32 can say.
    for (uint32_t count : {3u, 1000u, max_entries_per_message, 0xffffffffu}) {
        auto b = empty_entries(2);
        put_u32(b, count_at, count);
        auto r = decode_tracked(from_bytes(b));
        EXPECT_EQ(r.message.error(), malformed()) << count;
        EXPECT_LE(r.largest_allocation, allocation_bound(b.size())) << count;
    }
    // A payload length beyond the bytes left, and one beyond the log's limit.
    for (uint32_t len : {1u, max_entry_payload_bytes + 1, 0xffffffffu}) {
        auto b = empty_entries(1);
        put_u32(b, append_request_fixed_bytes + 20, len);
        auto r = decode_tracked(from_bytes(b));
        EXPECT_EQ(r.message.error(), malformed()) << len;
        EXPECT_LE(r.largest_allocation, allocation_bound(b.size()));
    }
    // Out-of-range entry types.
    for (uint8_t type : {0, 5, 255}) {
        auto b = empty_entries(1);
        b[append_request_fixed_bytes + 24] = std::byte{type};
        EXPECT_EQ(decode_raft_message(from_bytes(b)).error(), malformed()) << int(type);
    }
}

TEST(raft_message_codec, entry_bound) {
    auto most = empty_entries(max_entries_per_message);
    auto r = decode_tracked(from_bytes(most));
    ASSERT_TRUE(r.message);
    EXPECT_EQ(std::get<append_request>(r.message->body).entries.size(), max_entries_per_message);
    EXPECT_LE(r.largest_allocation, allocation_bound(most.size()));
    // The hook does see the decoder's allocations (the entries' vector at least).
    if (can_track()) {
        EXPECT_GE(r.largest_allocation, max_entries_per_message * sizeof(raft_entry));
    }
    // One more entry, with all its bytes present, is refused all the same.
    auto b = most;
    b.resize(b.size() + raft_entry_header_bytes);
    std::memcpy(&b[most.size()], &most[most.size() - raft_entry_header_bytes],
                raft_entry_header_bytes);
    int64_t index = max_entries_per_message + 1;
    std::memcpy(&b[most.size()], &index, 8);
    put_u32(b, append_request_fixed_bytes - 4, max_entries_per_message + 1);
    EXPECT_EQ(decode_raft_message(from_bytes(b)).error(), malformed());
}

TEST(raft_message_codec, rules) {
    auto check = [](append_request a) {
        return validate_raft_message(message(node_id(0), node_id(1), std::move(a))).error();
    };
    auto base = [] {
        append_request a{term_id(5), raft_index(10), term_id(3), raft_index(10), {}};
        a.entries.push_back(entry(11, 4, entry_type::data, 0, iobuf()));
        a.entries.push_back(entry(12, 5, entry_type::data, 0, iobuf()));
        return a;
    };
    EXPECT_FALSE(check(base()));
    auto gap = base();
    gap.entries[1].index = raft_index(13);
    EXPECT_EQ(check(std::move(gap)), malformed());
    auto backwards = base();
    backwards.entries[1].term = term_id(3);
    EXPECT_EQ(check(std::move(backwards)), malformed());
    auto future = base();
    future.entries[1].term = term_id(6);
    EXPECT_EQ(check(std::move(future)), malformed());
    auto below_prev = base();
    below_prev.entries[0].term = term_id(2);
    EXPECT_EQ(check(std::move(below_prev)), malformed());
    auto overflow = base();
    overflow.prev_index = raft_index(INT64_MAX - 1);
    EXPECT_EQ(check(std::move(overflow)), malformed());
    // A configuration entry must carry a valid membership (raft/membership.h).
    auto bad_members = base();
    bad_members.entries[1].type = entry_type::raft_configuration;
    bad_members.entries[1].payload = bytes_of(9, 'm');
    EXPECT_EQ(check(std::move(bad_members)), malformed());
    auto good_members = base();
    good_members.entries[1].type = entry_type::raft_configuration;
    good_members.entries[1].payload = sample_members();
    EXPECT_FALSE(check(std::move(good_members)));
    // So must a snapshot's, named by an entry that is not negative.
    auto snapshot_with = [](config_entry c) {
        return validate_raft_message(message(
            node_id(0), node_id(1),
            install_snapshot{term_id(5), raft_index(4), term_id(5), raft_index(0), {}, c}));
    };
    EXPECT_TRUE(snapshot_with(config_entry{raft_index(3), term_id(2), sample_config()}));
    EXPECT_FALSE(snapshot_with(config_entry{raft_index(-1), term_id(2), sample_config()}));
    EXPECT_FALSE(snapshot_with(config_entry{raft_index(3), term_id(2), raft_config{}}));
    EXPECT_FALSE(snapshot_with(
        config_entry{raft_index(3), term_id(2), raft_config{{node_id(2), node_id(1)}, {}}}));
    EXPECT_EQ(
        validate_raft_message(message(node_id(-1), node_id(1), timeout_now{term_id(1)})).error(),
        malformed());
    EXPECT_EQ(
        validate_raft_message(message(node_id(0), node_id(1), timeout_now{term_id(-1)})).error(),
        malformed());
    // A snapshot names a real point, of a term no later than its own.
    auto snapshot = [](int64_t index, int64_t last_term) {
        return message(node_id(0), node_id(1),
                       install_snapshot{term_id(5), raft_index(index), term_id(last_term),
                                        raft_index(0), {}});
    };
    EXPECT_TRUE(validate_raft_message(snapshot(1, 5)));
    EXPECT_EQ(validate_raft_message(snapshot(0, 1)).error(), malformed());
    EXPECT_EQ(validate_raft_message(snapshot(10, 6)).error(), malformed());
    EXPECT_EQ(validate_raft_message(snapshot(10, -1)).error(), malformed());

    // The decoder applies the same rules to bytes: the second entry's index rewritten.
    auto b = to_bytes(encode_raft_message(message(node_id(0), node_id(1), base())));
    int64_t wrong = 14;
    std::memcpy(&b[append_request_fixed_bytes + raft_entry_header_bytes], &wrong, 8);
    EXPECT_EQ(decode_raft_message(from_bytes(b)).error(), malformed());
}

TEST(raft_message_codec_death, encoding_a_broken_message_asserts) {
    auto a = sample_append();
    a.entries[1].index = raft_index(99);
    raft_message m = message(node_id(0), node_id(1), std::move(a));
    EXPECT_DEATH((void)encode_raft_message(m), "breaks the codec's rules");
}

uint64_t seed_from_env() {
    const char* s = std::getenv("WHARF_RAFT_CODEC_SEED");
    uint64_t seed = s != nullptr ? std::strtoull(s, nullptr, 10) : std::random_device{}();
    std::printf("WHARF_RAFT_CODEC_SEED=%llu\n", static_cast<unsigned long long>(seed));
    return seed;
}

TEST(raft_message_codec, random_damage_never_crashes_or_overallocates) {
    std::mt19937_64 rng(seed_from_env());
    std::vector<std::vector<std::byte>> encodings;
    for (const raft_message& m : samples()) encodings.push_back(to_bytes(encode_raft_message(m)));
    int decoded = 0;
    for (int round = 0; round < 20000; ++round) {
        auto b = encodings[rng() % encodings.size()];
        switch (rng() % 4) {
            case 0:  // flip bits
                for (int k = 1 + rng() % 4; k > 0; --k) b[rng() % b.size()] ^= std::byte(rng());
                break;
            case 1:  // overwrite a 32-bit field anywhere (counts and lengths among them)
                if (b.size() >= 4) {
                    uint32_t v = (rng() % 2 != 0) ? static_cast<uint32_t>(rng()) : rng() % 64;
                    put_u32(b, rng() % (b.size() - 3), v);
                }
                break;
            case 2:  // cut
                b.resize(rng() % b.size());
                break;
            default:  // insert garbage
                b.insert(b.begin() + rng() % b.size(), 1 + rng() % 30, std::byte(rng()));
        }
        auto r = decode_tracked(from_bytes(b));
        ASSERT_LE(r.largest_allocation, allocation_bound(b.size())) << "round " << round;
        if (!r.message) {
            ASSERT_TRUE(r.message.error() == malformed() ||
                        r.message.error() == raft_errc::unsupported_message_version);
            continue;
        }
        // What decodes is valid, and encodes back to the very bytes it came from.
        ++decoded;
        ASSERT_TRUE(validate_raft_message(*r.message));
        ASSERT_EQ(to_bytes(encode_raft_message(*r.message)), b) << "round " << round;
    }
    // Some damage (a flipped flag or id) leaves a valid message; the check above saw those.
    EXPECT_GT(decoded, 0);
    if (!can_track()) std::printf("allocation sizes not checked: no sanitizer hook\n");
}

TEST(raft_message_codec, errc_messages) {
    EXPECT_EQ(make_error_code(raft_errc::malformed_message).message(), "malformed raft message");
    EXPECT_NE(make_error_code(raft_errc::unsupported_message_version).message(),
              "unknown raft error");
}

}  // namespace
}  // namespace wharf
