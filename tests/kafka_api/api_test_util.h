#pragma once

// Shared pieces of the protocol-level API tests: one broker for the tests that do not need a
// broker of their own (started on first use, killed when the test program ends), unique topic
// names, record batches, and short forms of the requests most tests make.

#include <gtest/gtest.h>

#include <cstdint>
#include <map>
#include <string>
#include <string_view>
#include <vector>

#include "net/kafka/error_code.h"
#include "tests/kafka_api/broker_process.h"
#include "tests/kafka_api/kafka_client.h"

namespace wharf::kafka::test {

// The broker that most tests share. Throws client_error when it cannot be started.
broker_process& shared_broker();

// A topic name no other test of this program uses: prefix-<counter>.
std::string unique_topic(std::string_view prefix);

inline int16_t err(error_code e) {
    return static_cast<int16_t>(e);
}

std::string bytes_of(const iobuf& b);

// A v2 batch of one record per value (keys "k0", "k1", ...), timestamps base_timestamp_ms + i.
struct batch_options {
    int64_t base_timestamp_ms = -1;  // -1: now
    int64_t producer_id = -1;
    int16_t producer_epoch = -1;
    int32_t base_sequence = -1;
    // Per-record timestamp deltas; empty: 0, 1, 2, ...
    std::vector<int64_t> timestamp_deltas = {};
};
iobuf make_batch(const std::vector<std::string>& values, const batch_options& o = {});

// CreateTopics v7 of one topic; returns the topic's result (error_code 0 when created).
create_topics_response::creatable_topic_result create_topic(
    kafka_client& c, const std::string& name, int32_t partitions = 1,
    const std::map<std::string, std::string>& configs = {});

// Produce of one batch to one partition; returns that partition's answer.
produce_response::partition_produce_response produce(kafka_client& c, const std::string& topic,
                                                     int32_t partition, iobuf batch,
                                                     int16_t version = 10, int16_t acks = -1);

// A Fetch request (by name; v13 also needs topic ids set by the caller) of one partition.
fetch_request fetch_of(const std::string& topic, int32_t partition, int64_t offset,
                       int32_t partition_max_bytes = 1 << 20);
// The one partition of a one-partition fetch response; fails the test when the shape differs.
const fetch_response::partition_data& only_partition(const fetch_response& r);
// The bytes of records a fetched partition carries (0 for null records).
inline size_t records_bytes(const fetch_response::partition_data& p) {
    return p.records ? p.records->size() : 0;
}

// ListOffsets of one partition at `timestamp` (-1 latest, -2 earliest, -3 max timestamp).
list_offsets_response::list_offsets_partition_response list_offset(kafka_client& c,
                                                                   const std::string& topic,
                                                                   int32_t partition,
                                                                   int64_t timestamp,
                                                                   int16_t version = 8);

// OffsetForLeaderEpoch of partition 0 of `topic`: where `leader_epoch` ended, asked with
// CurrentLeaderEpoch `current` (-1 skips the check).
offset_for_leader_epoch_response::epoch_end_offset epoch_end_of(kafka_client& c,
                                                                const std::string& topic,
                                                                int32_t leader_epoch,
                                                                int32_t current,
                                                                int16_t version = 4);

// The topic id Metadata v12 reports for a topic (nil when unknown).
uuid topic_id_of(kafka_client& c, const std::string& topic);

// Test fixture for the tests that share the broker: a client connected to it.
class shared_broker_test : public ::testing::Test {
protected:
    void SetUp() override;
    void TearDown() override;

    uint16_t port() const { return shared_broker().port(); }
    kafka_client& client() { return *_client; }

private:
    std::unique_ptr<kafka_client> _client;
};

}  // namespace wharf::kafka::test
