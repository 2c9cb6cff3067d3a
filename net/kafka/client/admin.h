#pragma once

// Topic administration (`wharf bench`, the `wharf` CLI): creating the workload's topics (and
// waiting until every partition has a leader) and deleting them after the run. Plain Kafka APIs
// (CreateTopics, DeleteTopics, Metadata), sent to the controller when the metadata names one.

#include <chrono>
#include <cstdint>
#include <string>
#include <vector>

#include "net/kafka/client/kafka_client.h"

namespace wharf::kafka::client {

struct topic_spec {
    std::string name;
    int32_t partitions = 1;
    int16_t replication_factor = -1;  // the broker's default
};

// Creates the topics (an existing topic is an error: a benchmark wants fresh ones) and waits,
// within `timeout`, until the metadata shows a leader for every partition of each. On success the
// client's metadata() describes them.
task<result<void>> create_topics(kafka_client& c, const std::vector<topic_spec>& topics,
                                 std::chrono::milliseconds timeout);

// Deletes the topics; topics that do not exist are not an error.
task<result<void>> delete_topics(kafka_client& c, const std::vector<std::string>& names,
                                 std::chrono::milliseconds timeout);

}  // namespace wharf::kafka::client
