// The primitive layer of the Kafka codec (protocol_reader / protocol_writer), the request and
// response headers, the API table and error names, and decoding of hostile input: every
// declared length or count is checked before anything is allocated.

#include <cstdint>
#include <limits>
#include <string>

#include <gtest/gtest.h>

#include "net/kafka/error_code.h"
#include "net/kafka/header.h"
#include "net/kafka/messages.h"
#include "net/kafka/protocol.h"
#include "tests/net/kafka_test_util.h"

namespace wharf::kafka {
namespace {

using test::bytes_of;
using test::iobuf_of;

TEST(kafka_protocol, varints_round_trip_at_their_limits) {
    protocol_writer w;
    const uint32_t u[] = {0, 1, 127, 128, 16383, 16384, UINT32_MAX};
    const int32_t s[] = {0, -1, 1, INT32_MIN, INT32_MAX};
    const int64_t l[] = {0, -1, 1, INT64_MIN, INT64_MAX};
    for (auto v : u) w.write_uvarint(v);
    for (auto v : s) w.write_varint(v);
    for (auto v : l) w.write_varlong(v);
    iobuf frame = w.release();
    protocol_reader r(frame);
    for (auto v : u) EXPECT_EQ(r.read_uvarint(), v);
    for (auto v : s) EXPECT_EQ(r.read_varint(), v);
    for (auto v : l) EXPECT_EQ(r.read_varlong(), v);
    EXPECT_TRUE(r.ok());
    EXPECT_EQ(r.remaining(), 0u);
}

TEST(kafka_protocol, scalars_are_big_endian) {
    protocol_writer w;
    w.write_int16(0x0102);
    w.write_int32(0x03040506);
    w.write_int64(-2);
    w.write_uint16(0xfffe);
    w.write_float64(1.5);
    w.write_bool(true);
    EXPECT_EQ(test::to_hex(bytes_of(w.buffer())),
              "0102"
              "03040506"
              "fffffffffffffffe"
              "fffe"
              "3ff8000000000000"
              "01");
}

TEST(kafka_protocol, overlong_varints_are_errors) {
    iobuf six = iobuf_of("\xff\xff\xff\xff\xff\x01");
    protocol_reader r(six);
    EXPECT_EQ(r.read_uvarint(), 0u);
    EXPECT_FALSE(r.ok());
    // Five bytes whose last carries bits beyond 32.
    iobuf wide = iobuf_of("\xff\xff\xff\xff\x1f");
    protocol_reader r2(wide);
    r2.read_uvarint();
    EXPECT_FALSE(r2.ok());
    iobuf eleven = iobuf_of(std::string(10, '\xff') + "\x01");
    protocol_reader r3(eleven);
    r3.read_varlong();
    EXPECT_FALSE(r3.ok());
}

TEST(kafka_protocol, errors_stick_and_reads_return_zero) {
    iobuf b = iobuf_of("\x01");
    protocol_reader r(b);
    EXPECT_EQ(r.read_int32(), 0);
    EXPECT_FALSE(r.ok());
    EXPECT_STRNE(r.error(), "");
    EXPECT_EQ(r.read_int8(), 0);  // the byte is still there, but the reader has failed
    EXPECT_FALSE(r.ok());
}

TEST(kafka_protocol, strings_and_nullability) {
    protocol_writer w;
    w.write_string("abc", false);
    w.write_string("abc", true);
    w.write_nullable_string(std::nullopt, true, false);
    w.write_nullable_string(std::nullopt, true, true);
    EXPECT_EQ(test::to_hex(bytes_of(w.buffer())),
              "0003616263"
              "04616263"
              "ffff"
              "00");
    iobuf frame = w.release();
    protocol_reader r(frame);
    EXPECT_EQ(r.read_string(false), "abc");
    EXPECT_EQ(r.read_string(true), "abc");
    EXPECT_EQ(r.read_nullable_string(true, false), std::nullopt);
    // A null where the field is not nullable is malformed.
    EXPECT_EQ(r.read_nullable_string(false, true), "");
    EXPECT_FALSE(r.ok());
}

// Decodes `body` as T at `version`, expecting failure, and checks the heap did not grow by
// more than a small constant while the half-decoded message is alive.
template <typename T>
void expect_rejected_without_allocating(const std::string& body, int16_t version) {
    iobuf frame = iobuf_of(body);
    const size_t heap_before = test::heap_bytes();
    const size_t iobuf_before = iobuf_allocated_bytes();
    {
        protocol_reader r(frame);
        T m;
        EXPECT_FALSE(m.decode(r, version));
        EXPECT_FALSE(r.ok());
        const size_t heap_after = test::heap_bytes();
        EXPECT_LT(heap_after, heap_before + 64 * 1024) << r.error();
        EXPECT_EQ(iobuf_allocated_bytes(), iobuf_before);
    }
}

std::string be32(int32_t v) {
    protocol_writer w;
    w.write_int32(v);
    return bytes_of(w.buffer());
}

std::string be16(int16_t v) {
    protocol_writer w;
    w.write_int16(v);
    return bytes_of(w.buffer());
}

std::string uvarint(uint32_t v) {
    protocol_writer w;
    w.write_uvarint(v);
    return bytes_of(w.buffer());
}

TEST(kafka_hostile, huge_array_count_with_three_bytes_left) {
    // MetadataRequest v1: Topics (nullable array) first.
    expect_rejected_without_allocating<metadata_request>(be32(INT32_MAX) + "abc", 1);
    // DeleteTopicsRequest v1: TopicNames []string.
    expect_rejected_without_allocating<delete_topics_request>(be32(INT32_MAX) + "abc", 1);
    // ProduceRequest v9 (compact): null TransactionalId, Acks, TimeoutMs, then TopicData.
    expect_rejected_without_allocating<produce_request>(
        std::string("\x00", 1) + be16(1) + be32(1000) + uvarint(UINT32_MAX) + "abc", 9);
    // Arrays of int32 inside a struct: MetadataResponse v1 brokers count too large.
    expect_rejected_without_allocating<metadata_response>(be32(INT32_MAX - 1) + "abc", 1);
}

TEST(kafka_hostile, huge_string_and_bytes_lengths) {
    // ApiVersionsRequest v3: ClientSoftwareName as a compact string of 1e9 bytes.
    expect_rejected_without_allocating<api_versions_request>(uvarint(1000000001) + "abc", 3);
    // ProduceRequest v3: TransactionalId of 32767 bytes with 3 left.
    expect_rejected_without_allocating<produce_request>(be16(INT16_MAX) + "abc", 3);
    // SyncGroupRequest v0: GroupId "g", GenerationId, MemberId "m", one assignment whose
    // Assignment bytes claim 1e9 bytes.
    expect_rejected_without_allocating<sync_group_request>(be16(1) + "g" + be32(1) + be16(1) + "m" +
                                                               be32(1) + be16(1) + "m" +
                                                               be32(1000000000) + "abc",
                                                           0);
}

TEST(kafka_hostile, huge_tagged_field_count_and_size) {
    // ApiVersionsRequest v3: two empty compact strings, then the tagged-field count.
    const std::string names = uvarint(1) + uvarint(1);
    expect_rejected_without_allocating<api_versions_request>(names + uvarint(UINT32_MAX), 3);
    expect_rejected_without_allocating<api_versions_request>(names + uvarint(1000000) + "ab", 3);
    // One tagged field whose size runs past the end.
    expect_rejected_without_allocating<api_versions_request>(
        names + uvarint(1) + uvarint(9) + uvarint(1000000) + "ab", 3);
}

TEST(kafka_hostile, negative_lengths_are_errors) {
    // String length -2 (only -1 means null).
    expect_rejected_without_allocating<produce_request>(be16(-2) + "abcdef", 3);
    // Array count -2.
    expect_rejected_without_allocating<metadata_request>(be32(-2) + "abcdef", 1);
    // Null array where the field is not nullable (MetadataRequest v0).
    expect_rejected_without_allocating<metadata_request>(be32(-1), 0);
    // Bytes length -5 in SyncGroupRequest v0 assignment.
    expect_rejected_without_allocating<sync_group_request>(
        be16(1) + "g" + be32(1) + be16(1) + "m" + be32(1) + be16(1) + "m" + be32(-5), 0);
}

TEST(kafka_hostile, tagged_field_size_must_match_its_contents) {
    // ApiVersionsResponse v3: ErrorCode, empty ApiKeys, ThrottleTimeMs, then tag 1
    // (FinalizedFeaturesEpoch, an int64) declared as 9 bytes long.
    const std::string body = be16(0) + uvarint(1) + be32(0) + uvarint(1) + uvarint(1) + uvarint(9) +
                             std::string(9, '\0');
    iobuf frame = iobuf_of(body);
    protocol_reader r(frame);
    api_versions_response m;
    EXPECT_FALSE(m.decode(r, 3));
}

TEST(kafka_header, request_header_versions_follow_flexible_versions) {
    EXPECT_EQ(request_header_version(api_key::produce, 8), 1);
    EXPECT_EQ(request_header_version(api_key::produce, 9), 2);
    EXPECT_EQ(request_header_version(api_key::api_versions, 3), 2);
    EXPECT_EQ(request_header_version(static_cast<api_key>(999), 5), 1);
    EXPECT_EQ(response_header_version(api_key::api_versions, 3), 0);
    EXPECT_EQ(response_header_version(api_key::metadata, 9), 1);
    EXPECT_EQ(response_header_version(api_key::metadata, 8), 0);
    EXPECT_EQ(response_header_version(api_key::describe_cluster, 0), 1);
}

TEST(kafka_header, decode_and_encode_request_headers) {
    for (int16_t version : {int16_t{8}, int16_t{9}}) {
        request_header h{.key = api_key::produce,
                         .version = version,
                         .correlation_id = 42,
                         .client_id = "client"};
        if (version == 9) {
            h.unknown_tagged_fields.push_back({.tag = 3, .data = {1, 2}});
        }
        protocol_writer w;
        encode_request_header(w, h);
        iobuf frame = w.release();
        protocol_reader r(frame);
        request_header decoded;
        ASSERT_TRUE(decode_request_header(r, decoded)) << r.error();
        EXPECT_EQ(decoded, h);
        EXPECT_EQ(r.remaining(), 0u);
    }
    // An unknown API decodes as header v1 (no tagged fields), with a null client id.
    const std::string raw = be16(999) + be16(7) + be32(5) + be16(-1);
    iobuf frame = iobuf_of(raw);
    protocol_reader r(frame);
    request_header h;
    ASSERT_TRUE(decode_request_header(r, h));
    EXPECT_EQ(static_cast<int16_t>(h.key), 999);
    EXPECT_EQ(h.client_id, std::nullopt);
    EXPECT_EQ(r.remaining(), 0u);
}

TEST(kafka_header, response_headers) {
    protocol_writer w;
    encode_response_header(w, api_key::api_versions, 3, 7);
    encode_response_header(w, api_key::metadata, 12, 8);
    EXPECT_EQ(test::to_hex(bytes_of(w.buffer())),
              "00000007"
              "00000008"
              "00");
}

TEST(kafka_header, decode_response_headers) {
    // ApiVersions answers header v0 even in a flexible version; Metadata v12 answers v1 (tags).
    protocol_writer w;
    encode_response_header(w, api_key::api_versions, 3, 7);
    encode_response_header(w, api_key::metadata, 12, 8);
    encode_response_header(w, api_key::metadata, 8, 9);
    iobuf frame = w.release();
    protocol_reader r(frame);
    response_header h;
    ASSERT_TRUE(decode_response_header(r, api_key::api_versions, 3, h)) << r.error();
    EXPECT_EQ(h.correlation_id, 7);
    EXPECT_EQ(r.position(), 4u);
    ASSERT_TRUE(decode_response_header(r, api_key::metadata, 12, h)) << r.error();
    EXPECT_EQ(h.correlation_id, 8);
    EXPECT_EQ(r.position(), 9u);
    ASSERT_TRUE(decode_response_header(r, api_key::metadata, 8, h)) << r.error();
    EXPECT_EQ(h.correlation_id, 9);
    EXPECT_EQ(r.remaining(), 0u);

    // Unknown tagged fields of a v1 header are kept; a truncated one is malformed, with the
    // correlation id already read.
    const std::string tagged = be32(5) + uvarint(1) + uvarint(4) + uvarint(2) + "ab";
    iobuf with_tags = iobuf_of(tagged);
    protocol_reader rt(with_tags);
    ASSERT_TRUE(decode_response_header(rt, api_key::metadata, 12, h)) << rt.error();
    EXPECT_EQ(h.correlation_id, 5);
    ASSERT_EQ(h.unknown_tagged_fields.size(), 1u);
    EXPECT_EQ(h.unknown_tagged_fields[0].tag, 4u);
    EXPECT_EQ(rt.remaining(), 0u);
    iobuf truncated = iobuf_of(be32(6) + uvarint(1) + uvarint(4) + uvarint(2) + "a");
    protocol_reader rb(truncated);
    EXPECT_FALSE(decode_response_header(rb, api_key::metadata, 12, h));
    EXPECT_EQ(h.correlation_id, 6);
}

TEST(kafka_apis, table_matches_the_message_types) {
    auto apis = all_apis();
    ASSERT_EQ(apis.size(), 26u);
    for (size_t i = 1; i < apis.size(); ++i) {
        EXPECT_LT(apis[i - 1].key, apis[i].key);
    }
    const api_descriptor* produce = find_api(0);
    ASSERT_NE(produce, nullptr);
    EXPECT_STREQ(produce->name, "Produce");
    EXPECT_EQ(produce->max_version, produce_request::max_version);
    EXPECT_EQ(produce->flexible_from, 9);
    EXPECT_EQ(find_api(4), nullptr);  // LeaderAndIsr: not a client API
    EXPECT_EQ(
        find_api(offset_delete_request::key == api_key::offset_delete ? 47 : 0)->flexible_from,
        std::numeric_limits<int16_t>::max());
    for (const auto& a : apis) {
        bool found = visit_request(a.key, [&](auto tag) {
            using T = typename decltype(tag)::type;
            EXPECT_EQ(T::min_version, a.min_version);
            EXPECT_EQ(T::max_version, a.max_version);
        });
        EXPECT_TRUE(found);
    }
}

TEST(kafka_errors, names_and_numbers) {
    EXPECT_EQ(static_cast<int16_t>(error_code::not_leader_or_follower), 6);
    EXPECT_EQ(static_cast<int16_t>(error_code::unknown_topic_id), 100);
    EXPECT_STREQ(error_name(error_code::unknown_topic_or_partition), "UNKNOWN_TOPIC_OR_PARTITION");
    EXPECT_STREQ(error_name(error_code::none), "NONE");
    EXPECT_STREQ(error_name(static_cast<error_code>(-7)), "UNKNOWN_ERROR_CODE");
}

}  // namespace
}  // namespace wharf::kafka
