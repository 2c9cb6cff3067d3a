// Every request and response of the codec, at every version of its range: filled with distinct
// values, encoded, decoded and encoded again must give the same bytes and the same values; fields
// absent at a version must not be written; and every strict prefix must fail to decode.

#include <cxxabi.h>

#include <cstdlib>
#include <memory>
#include <string>

#include <gtest/gtest.h>

#include "net/kafka/messages.h"
#include "net/kafka/messages_testing.h"
#include "tests/net/kafka_test_util.h"

namespace wharf::kafka {
namespace {

using test::bytes_of;
using test::iobuf_of;

template <typename T>
std::string type_name() {
    int status = 0;
    std::unique_ptr<char, decltype(&std::free)> n(
        abi::__cxa_demangle(typeid(T).name(), nullptr, nullptr, &status), &std::free);
    return status == 0 ? std::string(n.get()) : typeid(T).name();
}

template <typename T>
std::string encode(const T& m, int16_t version) {
    protocol_writer w;
    m.encode(w, version);
    return bytes_of(w.buffer());
}

template <typename T>
void check_round_trip(int16_t version) {
    SCOPED_TRACE(type_name<T>() + " v" + std::to_string(version));
    T m;
    testing::filler f;
    testing::fill(m, version, f, false);
    const std::string first = encode(m, version);

    iobuf frame = iobuf_of(first);
    protocol_reader r(frame);
    T decoded;
    ASSERT_TRUE(decoded.decode(r, version)) << r.error();
    EXPECT_EQ(r.remaining(), 0u);
    EXPECT_TRUE(decoded == m);
    EXPECT_EQ(test::to_hex(encode(decoded, version)), test::to_hex(first));

    // A message with every field set, whatever its versions, writes the same bytes: fields
    // absent at this version are not written.
    T all;
    testing::filler f_all;
    testing::fill(all, version, f_all, true);
    EXPECT_EQ(test::to_hex(encode(all, version)), test::to_hex(first));

    for (size_t len = 0; len < first.size(); ++len) {
        iobuf prefix = iobuf_of(std::string_view(first).substr(0, len));
        protocol_reader pr(prefix);
        T partial;
        EXPECT_FALSE(partial.decode(pr, version)) << "prefix of " << len << " bytes decoded";
    }
}

TEST(kafka_round_trip, every_message_at_every_version) {
    size_t checked = 0;
    testing::for_each_message([&](auto tag) {
        using T = typename decltype(tag)::type;
        for (int v = T::min_version; v <= T::max_version; ++v) {
            check_round_trip<T>(static_cast<int16_t>(v));
            ++checked;
        }
    });
    size_t versions = 0;
    for (const auto& api : all_apis()) {
        versions += static_cast<size_t>(api.max_version - api.min_version + 1);
    }
    EXPECT_EQ(checked, 2 * versions);
}

TEST(kafka_round_trip, fragmented_frame_decodes_like_a_contiguous_one) {
    produce_request m;
    testing::filler f;
    testing::fill(m, 9, f, false);
    const std::string bytes = encode(m, 9);
    iobuf frame;
    for (size_t pos = 0; pos < bytes.size(); pos += 7) {
        frame.append(iobuf_of(std::string_view(bytes).substr(pos, 7)));
    }
    ASSERT_GT(frame.fragment_count(), 1u);
    protocol_reader r(frame);
    produce_request decoded;
    ASSERT_TRUE(decoded.decode(r, 9)) << r.error();
    EXPECT_TRUE(decoded == m);
}

TEST(kafka_round_trip, records_are_shared_not_copied) {
    const std::string batch(4096, 'r');
    produce_request m;
    m.topic_data.emplace_back().name = "t";
    m.topic_data[0].partition_data.emplace_back().records = iobuf_of(batch);
    protocol_writer w;
    m.encode(w, 8);
    // The batch's chunk travels into the output as a fragment.
    const std::byte* batch_data =
        (*m.topic_data[0].partition_data[0].records->fragments().begin()).data();
    bool shared = false;
    for (auto frag : w.buffer().fragments()) {
        shared = shared || frag.data() == batch_data;
    }
    EXPECT_TRUE(shared);

    iobuf frame = w.release();
    protocol_reader r(frame);
    produce_request decoded;
    ASSERT_TRUE(decoded.decode(r, 8));
    const auto& records = *decoded.topic_data[0].partition_data[0].records;
    EXPECT_EQ(bytes_of(records), batch);
    // The decoded records view the frame's bytes.
    const std::byte* rec = (*records.fragments().begin()).data();
    const std::byte* frame_begin = (*frame.fragments().begin()).data();
    EXPECT_TRUE(rec >= frame_begin && rec < frame_begin + frame.size());
}

TEST(kafka_round_trip, unknown_tagged_fields_interleave_with_known_ones) {
    // ProduceResponse v10 has the known tagged field NodeEndpoints (tag 0) at the top level.
    produce_response m;
    m.throttle_time_ms = 5;
    m.node_endpoints.push_back({.node_id = 1, .host = "h", .port = 9092});
    protocol_writer w;
    m.encode(w, 10);
    const std::string bytes = bytes_of(w.buffer());
    // The same message carrying an unknown tag above the known tag 0.
    produce_response with_unknown;
    with_unknown.throttle_time_ms = 5;
    with_unknown.node_endpoints = m.node_endpoints;
    with_unknown.unknown_tagged_fields.push_back({.tag = 7, .data = {'x', 'y'}});
    protocol_writer w2;
    with_unknown.encode(w2, 10);
    iobuf frame = w2.release();
    protocol_reader r(frame);
    produce_response decoded;
    ASSERT_TRUE(decoded.decode(r, 10)) << r.error();
    ASSERT_EQ(decoded.unknown_tagged_fields.size(), 1u);
    EXPECT_EQ(decoded.unknown_tagged_fields[0].tag, 7u);
    EXPECT_EQ(decoded.unknown_tagged_fields[0].data, (std::vector<uint8_t>{'x', 'y'}));
    EXPECT_EQ(decoded.node_endpoints, m.node_endpoints);
    EXPECT_EQ(encode(decoded, 10), bytes_of(frame));
    EXPECT_NE(encode(decoded, 10), bytes);
}

TEST(kafka_round_trip, tagged_fields_at_their_default_are_not_written) {
    api_versions_response m;
    const std::string plain = encode(m, 3);
    m.finalized_features_epoch = 7;
    EXPECT_GT(encode(m, 3).size(), plain.size());
    // Not flexible: the tagged field does not exist at v2.
    EXPECT_EQ(encode(m, 2), encode(api_versions_response(), 2));
}

}  // namespace
}  // namespace wharf::kafka
