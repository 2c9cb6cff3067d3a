// Every request and response of the codec, at every version of its range: filled with distinct
// values, encoded, decoded and encoded again must give the same bytes and the same values; fields
// absent at a version must not be written; and every strict prefix must fail to decode.

#include <cxxabi.h>

#include <cstdlib>
#include <memory>
#include <string>

#include <gtest/gtest.h>

#include "net/kafka/error_code.h"
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

template <typename T>
T decode_as(const std::string& bytes, int16_t version) {
    iobuf frame = iobuf_of(bytes);
    protocol_reader r(frame);
    T m;
    EXPECT_TRUE(m.decode(r, version)) << r.error();
    EXPECT_EQ(r.remaining(), 0u);
    return m;
}

TEST(kafka_round_trip, fetch_v15_moves_replica_id_into_tagged_replica_state) {
    fetch_request m;
    m.max_wait_ms = 500;
    m.min_bytes = 1;
    m.session_epoch = -1;
    m.replica.replica_id = 2;
    m.replica.replica_epoch = 7;
    // By hand, from Kafka's FetchRequest.json: no ReplicaId in front; after RackId the tagged
    // fields: one, tag 1 (ReplicaState), 13 bytes (ReplicaId int32, ReplicaEpoch int64, no tags).
    const std::string v15 = test::from_hex(
        "000001f4"          // MaxWaitMs
        "00000001"          // MinBytes
        "7fffffff"          // MaxBytes
        "00"                // IsolationLevel
        "00000000"          // SessionId
        "ffffffff"          // SessionEpoch
        "01"                // Topics: empty
        "01"                // ForgottenTopicsData: empty
        "01"                // RackId: ""
        "01"                // one tagged field
        "01"                // tag 1: ReplicaState
        "0d"                // of 13 bytes
        "00000002"          // ReplicaId
        "0000000000000007"  // ReplicaEpoch
        "00");              // ReplicaState's own tagged fields: none
    EXPECT_EQ(test::to_hex(encode(m, 15)), test::to_hex(v15));
    auto back = decode_as<fetch_request>(v15, 15);
    EXPECT_TRUE(back == m);
    EXPECT_EQ(back.replica.replica_id, 2);
    EXPECT_EQ(back.replica.replica_epoch, 7);
    EXPECT_EQ(back.replica_id, -1);  // absent from v15: its default

    // A consumer (ReplicaState at its default) sends no tagged field at all.
    fetch_request consumer = m;
    consumer.replica = {};
    EXPECT_EQ(encode(consumer, 15).size(), v15.size() - 15);
    // The old ReplicaId is not written from v15.
    fetch_request named = consumer;
    named.replica_id = 9;
    EXPECT_EQ(encode(named, 15), encode(consumer, 15));

    // v14 still has ReplicaId in front, and no ReplicaState.
    fetch_request old = m;
    old.replica_id = 3;
    const std::string v14 = encode(old, 14);
    EXPECT_EQ(test::to_hex(v14.substr(0, 8)), "00000003000001f4");
    auto back14 = decode_as<fetch_request>(v14, 14);
    EXPECT_EQ(back14.replica_id, 3);
    EXPECT_EQ(back14.replica, fetch_request::replica_state());
    fetch_request no_state = old;
    no_state.replica = {};
    EXPECT_EQ(v14, encode(no_state, 14));
}

// A partition refused NOT_LEADER_OR_FOLLOWER naming leader 1 (epoch 4); responses carry records,
// so they are built, not copied.
fetch_response refused_fetch() {
    fetch_response m;
    m.session_id = 0;
    auto& t = m.responses.emplace_back();
    t.topic_id.bytes[15] = 1;
    auto& p = t.partitions.emplace_back();
    p.partition_index = 0;
    p.error_code = static_cast<int16_t>(error_code::not_leader_or_follower);
    p.high_watermark = -1;
    p.current_leader.leader_id = 1;
    p.current_leader.leader_epoch = 4;
    return m;
}

TEST(kafka_round_trip, fetch_v16_response_carries_node_endpoints) {
    fetch_response m = refused_fetch();
    m.node_endpoints.push_back({.node_id = 1, .host = "h", .port = 9092});
    m.node_endpoints.push_back({.node_id = 2, .host = "k2", .port = 9093, .rack = "r"});
    const std::string v16 = encode(m, 16);
    auto back = decode_as<fetch_response>(v16, 16);
    EXPECT_TRUE(back == m);
    EXPECT_EQ(back.node_endpoints, m.node_endpoints);
    EXPECT_EQ(back.responses.at(0).partitions.at(0).current_leader.leader_id, 1);
    EXPECT_EQ(back.responses.at(0).partitions.at(0).current_leader.leader_epoch, 4);
    EXPECT_EQ(test::to_hex(encode(back, 16)), test::to_hex(v16));

    // By hand, from Kafka's FetchResponse.json: the top-level tagged fields end the message:
    // one, tag 0 (NodeEndpoints), 13 bytes: a compact array of one (NodeId, Host "h", Port,
    // Rack null, no tags).
    fetch_response one;
    one.node_endpoints.push_back({.node_id = 1, .host = "h", .port = 9092});
    EXPECT_EQ(test::to_hex(encode(one, 16)),
              "00000000"  // ThrottleTimeMs
              "0000"      // ErrorCode
              "00000000"  // SessionId
              "01"        // Responses: empty
              "01"        // one tagged field
              "00"        // tag 0: NodeEndpoints
              "0d"        // of 13 bytes
              "02"        // one endpoint
              "00000001"  // NodeId
              "0268"      // Host "h"
              "00002384"  // Port 9092
              "00"        // Rack: null
              "00");      // the endpoint's tagged fields: none

    // Before v16 the endpoints are not written; CurrentLeader is (tagged, from v12).
    fetch_response no_endpoints = refused_fetch();
    EXPECT_EQ(encode(m, 15), encode(no_endpoints, 15));
    auto back15 = decode_as<fetch_response>(encode(m, 15), 15);
    EXPECT_EQ(back15.responses.at(0).partitions.at(0).current_leader.leader_id, 1);
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
