// Kafka's __consumer_offsets record format: exact bytes, round trips of every version, the
// group -> partition hash, the consumer protocol's subscription, and hostile input.

#include <gtest/gtest.h>

#include <random>

#include "core/group/consumer_protocol.h"
#include "core/group/offsets_format.h"

namespace wharf::groups {
namespace {

bytes hex(std::string_view h) {
    bytes out;
    for (size_t i = 0; i + 1 < h.size(); i += 2) {
        out.push_back(uint8_t(std::stoi(std::string(h.substr(i, 2)), nullptr, 16)));
    }
    return out;
}

bytes str(std::string_view s) {
    return bytes(s.begin(), s.end());
}

group_metadata_value sample_group() {
    group_metadata_value v;
    v.protocol_type = "consumer";
    v.generation = 7;
    v.protocol = "range";
    v.leader = "m-1";
    v.current_state_timestamp_ms = 1700000000000;
    v.members.push_back({.member_id = "m-1",
                         .group_instance_id = "i-1",
                         .client_id = "c",
                         .client_host = "/10.0.0.1",
                         .rebalance_timeout_ms = 300000,
                         .session_timeout_ms = 45000,
                         .subscription = str("sub"),
                         .assignment = str("asg")});
    v.members.push_back({.member_id = "m-2",
                         .client_id = "c",
                         .client_host = "/10.0.0.2",
                         .rebalance_timeout_ms = 300000,
                         .session_timeout_ms = 45000});
    return v;
}

TEST(offsets_format, exact_key_bytes) {
    // version 1, "g", "t", partition 3
    EXPECT_EQ(encode_key(offset_commit_key{"g", "t", 3}), hex("0001"
                                                              "000167"
                                                              "000174"
                                                              "00000003"));
    EXPECT_EQ(encode_key(offset_commit_key{"g", "t", 3}, 0), hex("0000"
                                                                 "000167"
                                                                 "000174"
                                                                 "00000003"));
    EXPECT_EQ(encode_key(group_metadata_key{"grp"}), hex("0002"
                                                         "0003677270"));
}

TEST(offsets_format, exact_offset_value_bytes) {
    offset_commit_value v{
        .offset = 5, .leader_epoch = 2, .metadata = "x", .commit_timestamp_ms = 1000};
    // version 3: offset, leader epoch, metadata, commit timestamp
    EXPECT_EQ(encode_value(v), hex("0003"
                                   "0000000000000005"
                                   "00000002"
                                   "000178"
                                   "00000000000003e8"));
    v.expire_timestamp_ms = 2000;  // an explicit expiry is only expressible in version 1
    EXPECT_EQ(encode_value(v), hex("0001"
                                   "0000000000000005"
                                   "000178"
                                   "00000000000003e8"
                                   "00000000000007d0"));
}

TEST(offsets_format, keys_round_trip) {
    for (int16_t version : {0, 1}) {
        auto k = decode_key(encode_key(offset_commit_key{"grp", "topic", 12}, version));
        ASSERT_TRUE(k.has_value());
        EXPECT_EQ(std::get<offset_commit_key>(*k), (offset_commit_key{"grp", "topic", 12}));
    }
    auto g = decode_key(encode_key(group_metadata_key{"grp"}));
    ASSERT_TRUE(g.has_value());
    EXPECT_EQ(std::get<group_metadata_key>(*g).group, "grp");
    // Record types of the KIP-848 protocol are recognised as not ours.
    auto other =
        decode_key(hex("0003"
                       "0001"
                       "67"));
    ASSERT_TRUE(other.has_value());
    EXPECT_EQ(std::get<unknown_key>(*other).version, 3);
}

TEST(offsets_format, offset_values_round_trip_in_every_version) {
    offset_commit_value v{.offset = 123456789012,
                          .leader_epoch = 9,
                          .metadata = "meta",
                          .commit_timestamp_ms = 1700000000000,
                          .expire_timestamp_ms = 1800000000000};
    for (int16_t version = 0; version <= 4; ++version) {
        auto d = decode_offset_commit_value(encode_value(v, version));
        ASSERT_TRUE(d.has_value()) << version;
        EXPECT_EQ(d->offset, v.offset);
        EXPECT_EQ(d->metadata, "meta");
        EXPECT_EQ(d->commit_timestamp_ms, v.commit_timestamp_ms);
        EXPECT_EQ(d->leader_epoch, version >= 3 ? 9 : -1) << version;
        EXPECT_EQ(d->expire_timestamp_ms, version == 1 ? v.expire_timestamp_ms : -1) << version;
    }
}

TEST(offsets_format, group_values_round_trip_in_every_version) {
    group_metadata_value v = sample_group();
    for (int16_t version = 0; version <= 4; ++version) {
        auto d = decode_group_metadata_value(encode_value(v, version));
        ASSERT_TRUE(d.has_value()) << version;
        group_metadata_value want = v;
        if (version < 2) want.current_state_timestamp_ms = -1;
        for (auto& m : want.members) {
            if (version < 3) m.group_instance_id.reset();
            if (version < 1) m.rebalance_timeout_ms = m.session_timeout_ms;
        }
        EXPECT_EQ(*d, want) << version;
    }
    group_metadata_value empty;
    empty.protocol_type = "consumer";
    empty.generation = 3;
    auto d = decode_group_metadata_value(encode_value(empty));
    ASSERT_TRUE(d.has_value());
    EXPECT_FALSE(d->protocol.has_value());
    EXPECT_FALSE(d->leader.has_value());
}

TEST(offsets_format, flexible_values_skip_unknown_tagged_fields) {
    offset_commit_value v{.offset = 1, .metadata = "", .commit_timestamp_ms = 2};
    bytes b = encode_value(v, 4);
    // Replace the empty tagged-field section by one field (tag 7, 2 bytes).
    ASSERT_EQ(b.back(), 0);
    b.back() = 1;
    for (uint8_t x : {7, 2, 0xaa, 0xbb}) b.push_back(x);
    auto d = decode_offset_commit_value(b);
    ASSERT_TRUE(d.has_value());
    EXPECT_EQ(d->commit_timestamp_ms, 2);
}

TEST(offsets_format, java_string_hash_and_partition) {
    // Java's "s".hashCode(), computed over UTF-16 code units.
    EXPECT_EQ(java_string_hash(""), 0);
    EXPECT_EQ(java_string_hash("a"), 97);
    EXPECT_EQ(java_string_hash("hello"), 99162322);
    EXPECT_EQ(java_string_hash("my-group"), -1906497762);
    EXPECT_EQ(java_string_hash("polygenelubricants"), std::numeric_limits<int32_t>::min());
    EXPECT_EQ(java_string_hash("\xc3\xa9"), 233);              // U+00E9
    EXPECT_EQ(java_string_hash("\xf0\x9f\x98\x80"), 1772899);  // U+1F600: a surrogate pair
    EXPECT_EQ(java_string_hash("group\xc3\xa9\xf0\x9f\x98\x80x"), -1423693589);
    EXPECT_EQ(java_string_hash("\xff"), 0xfffd);  // malformed UTF-8 counts as U+FFFD

    // Utils.abs(hash) % count: the absolute value, not hash & 0x7fffffff.
    EXPECT_EQ(offsets_partition_for("my-group", 50), 12);
    EXPECT_EQ(offsets_partition_for("group\xc3\xa9\xf0\x9f\x98\x80x", 50), 39);
    EXPECT_EQ(offsets_partition_for("polygenelubricants", 50), 0);  // Utils.abs(MIN) == 0
    EXPECT_EQ(offsets_partition_for("console-consumer-12345", 50), 6);
    EXPECT_EQ(offsets_partition_for("test-group", 50), 12);
    EXPECT_EQ(offsets_partition_for("hello", 1), 0);

    // The same formula written out as Java does it, over ASCII group ids.
    std::mt19937 rng(7);
    for (int i = 0; i < 200; ++i) {
        std::string s;
        for (int n = int(rng() % 20); n > 0; --n) s.push_back(char(' ' + rng() % 95));
        int32_t h = 0;
        for (char ch : s) h = int32_t(uint32_t(h) * 31u + uint32_t(uint8_t(ch)));
        int32_t abs = h == std::numeric_limits<int32_t>::min() ? 0 : (h < 0 ? -h : h);
        EXPECT_EQ(offsets_partition_for(s, 50), abs % 50) << s;
    }
}

TEST(offsets_format, consumer_subscription) {
    auto b = encode_subscription_v0({"orders", "payments"}, str("ud"));
    auto t = parse_subscription_topics(b);
    ASSERT_TRUE(t.has_value());
    EXPECT_EQ(*t, (std::vector<std::string>{"orders", "payments"}));
    // A later version: owned partitions and more after user data are ignored.
    bytes v1 = b;
    v1[1] = 1;
    for (uint8_t x : {0, 0, 0, 0}) v1.push_back(x);
    EXPECT_TRUE(parse_subscription_topics(v1).has_value());
    // A null user data is fine; truncation is not.
    bytes null_ud = encode_subscription_v0({"a"});
    null_ud.resize(null_ud.size() - 4);
    for (uint8_t x : {0xff, 0xff, 0xff, 0xff}) null_ud.push_back(x);
    EXPECT_TRUE(parse_subscription_topics(null_ud).has_value());
    for (size_t n = 0; n < b.size(); ++n) {
        EXPECT_FALSE(parse_subscription_topics(std::span(b).first(n)).has_value()) << n;
    }
    EXPECT_FALSE(parse_subscription_topics(hex("ffff"
                                               "00000000"
                                               "00000000"))
                     .has_value());
}

TEST(offsets_format, truncated_records_are_errors) {
    for (int16_t version = 0; version <= 4; ++version) {
        bytes o = encode_value(offset_commit_value{.metadata = "m"}, version);
        for (size_t n = 0; n < o.size(); ++n) {
            EXPECT_FALSE(decode_offset_commit_value(std::span(o).first(n)).has_value()) << n;
        }
        bytes g = encode_value(sample_group(), version);
        for (size_t n = 0; n < g.size(); ++n) {
            EXPECT_FALSE(decode_group_metadata_value(std::span(g).first(n)).has_value()) << n;
        }
    }
    bytes g = encode_value(sample_group());
    for (size_t n = 0; n < g.size(); ++n) {
        EXPECT_FALSE(decode_group_metadata_value(std::span(g).first(n)).has_value()) << n;
    }
    bytes k = encode_key(offset_commit_key{"g", "t", 1});
    for (size_t n = 0; n < k.size(); ++n) {
        EXPECT_FALSE(decode_key(std::span(k).first(n)).has_value()) << n;
    }
    // Trailing bytes are an error too.
    g.push_back(0);
    EXPECT_EQ(decode_group_metadata_value(g).error(), group_errc::malformed_record);
}

TEST(offsets_format, hostile_lengths_and_versions) {
    // A member count of 2^31-1 in a dozen bytes: refused before anything is reserved.
    bytes huge =
        hex("0003"
            "0001"
            "63"
            "00000001"
            "ffff"
            "ffff"
            "0000000000000000"
            "7fffffff");
    EXPECT_EQ(decode_group_metadata_value(huge).error(), group_errc::malformed_record);
    bytes flexible_huge =
        hex("0004"
            "02"
            "63"
            "00000001"
            "00"
            "00"
            "0000000000000000"
            "ffffffff07");
    EXPECT_EQ(decode_group_metadata_value(flexible_huge).error(), group_errc::malformed_record);
    // Negative lengths other than null, and null where the format has no null.
    EXPECT_FALSE(decode_key(hex("0001"
                                "fffe"
                                "000174"
                                "00000000"))
                     .has_value());
    EXPECT_FALSE(decode_key(hex("0001"
                                "ffff"
                                "000174"
                                "00000000"))
                     .has_value());
    bytes null_subscription = encode_value(sample_group());
    EXPECT_TRUE(decode_group_metadata_value(null_subscription).has_value());
    // A string length past the end.
    EXPECT_FALSE(decode_key(hex("0002"
                                "7fff"
                                "41"))
                     .has_value());
    // An over-long varint.
    EXPECT_FALSE(decode_offset_commit_value(hex("0004"
                                                "0000000000000001"
                                                "ffffffffff0f"))
                     .has_value());
    EXPECT_EQ(decode_offset_commit_value(hex("0005")).error(),
              group_errc::unsupported_record_version);
    EXPECT_EQ(decode_group_metadata_value(hex("ffff")).error(),
              group_errc::unsupported_record_version);
    EXPECT_FALSE(decode_key({}).has_value());
}

TEST(offsets_format, random_bytes_never_crash) {
    std::mt19937 rng(20261201);
    bytes base_group = encode_value(sample_group(), 3);
    bytes base_flex = encode_value(sample_group(), 4);
    for (int i = 0; i < 20000; ++i) {
        const bytes& base = i % 2 ? base_group : base_flex;
        bytes b = base;
        // Flip a few bytes of a valid record, or take random bytes.
        if (i % 3 == 0) {
            b.resize(rng() % 64);
            for (auto& x : b) x = uint8_t(rng());
        } else {
            for (int f = int(rng() % 4) + 1; f > 0; --f) b[rng() % b.size()] = uint8_t(rng());
        }
        (void)decode_key(b);
        (void)decode_offset_commit_value(b);
        auto d = decode_group_metadata_value(b);
        if (d) {
            EXPECT_LE(d->members.size(), b.size());
        }
        (void)parse_subscription_topics(b);
    }
}

}  // namespace
}  // namespace wharf::groups
