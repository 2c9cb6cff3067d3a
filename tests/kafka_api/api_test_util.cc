#include "tests/kafka_api/api_test_util.h"

#include <unistd.h>

#include <chrono>
#include <memory>
#include <optional>

#include "log/record_batch.h"

namespace wharf::kafka::test {

namespace {

// Killed by its destructor when the program exits (and with the program, by PDEATHSIG, if the
// program dies first).
std::unique_ptr<broker_process> g_broker;
std::string g_start_error;

int64_t now_ms() {
    return std::chrono::duration_cast<std::chrono::milliseconds>(
               std::chrono::system_clock::now().time_since_epoch())
        .count();
}

}  // namespace

broker_process& shared_broker() {
    if (!g_start_error.empty()) throw client_error(g_start_error);
    if (!g_broker) {
        auto b = std::make_unique<broker_process>();
        std::string why = b->start();
        if (!why.empty()) {
            g_start_error = "the shared broker did not start: " + why;
            throw client_error(g_start_error);
        }
        g_broker = std::move(b);
    }
    return *g_broker;
}

std::string unique_topic(std::string_view prefix) {
    static int counter = 0;
    return std::string(prefix) + "-" + std::to_string(::getpid()) + "-" + std::to_string(++counter);
}

std::string bytes_of(const iobuf& b) {
    std::string s(b.size(), '\0');
    if (!s.empty()) b.copy_to(0, s.data(), s.size());
    return s;
}

iobuf make_batch(const std::vector<std::string>& values, const batch_options& o) {
    std::vector<std::string> keys;
    keys.reserve(values.size());
    std::vector<record_to_build> records;
    for (size_t i = 0; i < values.size(); ++i) keys.push_back("k" + std::to_string(i));
    for (size_t i = 0; i < values.size(); ++i) {
        records.push_back(record_to_build{.key = keys[i],
                                          .value = values[i],
                                          .timestamp_delta = i < o.timestamp_deltas.size()
                                                                 ? o.timestamp_deltas[i]
                                                                 : static_cast<int64_t>(i)});
    }
    int64_t ts = o.base_timestamp_ms >= 0 ? o.base_timestamp_ms : now_ms();
    auto bytes = build_batch(kafka_offset(0), ts, records, compression_type::none, o.producer_id,
                             o.producer_epoch, o.base_sequence);
    return iobuf::copy_of(bytes);
}

create_topics_response::creatable_topic_result create_topic(
    kafka_client& c, const std::string& name, int32_t partitions,
    const std::map<std::string, std::string>& configs) {
    create_topics_request req;
    auto& t = req.topics.emplace_back();
    t.name = name;
    t.num_partitions = partitions;
    t.replication_factor = 1;
    for (const auto& [k, v] : configs) t.configs.push_back({.name = k, .value = v});
    auto resp = c.call(req, 7);
    if (resp.topics.size() != 1) throw client_error("CreateTopics answered no topic");
    return std::move(resp.topics[0]);
}

produce_response::partition_produce_response produce(kafka_client& c, const std::string& topic,
                                                     int32_t partition, iobuf batch,
                                                     int16_t version, int16_t acks) {
    produce_request req;
    req.acks = acks;
    req.timeout_ms = 10000;
    auto& t = req.topic_data.emplace_back();
    t.name = topic;
    auto& p = t.partition_data.emplace_back();
    p.index = partition;
    p.records = std::move(batch);
    auto resp = c.call(req, version);
    if (resp.responses.size() != 1 || resp.responses[0].partition_responses.size() != 1) {
        throw client_error("Produce answered another shape than one topic, one partition");
    }
    return std::move(resp.responses[0].partition_responses[0]);
}

fetch_request fetch_of(const std::string& topic, int32_t partition, int64_t offset,
                       int32_t partition_max_bytes) {
    fetch_request req;
    req.max_wait_ms = 0;
    req.min_bytes = 0;
    req.max_bytes = 64 << 20;
    req.session_id = 0;
    req.session_epoch = -1;
    auto& t = req.topics.emplace_back();
    t.topic = topic;
    auto& p = t.partitions.emplace_back();
    p.partition = partition;
    p.fetch_offset = offset;
    p.partition_max_bytes = partition_max_bytes;
    return req;
}

const fetch_response::partition_data& only_partition(const fetch_response& r) {
    if (r.responses.size() != 1 || r.responses[0].partitions.size() != 1) {
        throw client_error("Fetch answered another shape than one topic, one partition (error " +
                           std::to_string(r.error_code) + ")");
    }
    return r.responses[0].partitions[0];
}

list_offsets_response::list_offsets_partition_response list_offset(kafka_client& c,
                                                                   const std::string& topic,
                                                                   int32_t partition,
                                                                   int64_t timestamp,
                                                                   int16_t version) {
    list_offsets_request req;
    req.replica_id = -1;
    auto& t = req.topics.emplace_back();
    t.name = topic;
    t.partitions.push_back({.partition_index = partition, .timestamp = timestamp});
    auto resp = c.call(req, version);
    if (resp.topics.size() != 1 || resp.topics[0].partitions.size() != 1) {
        throw client_error("ListOffsets answered another shape than one topic, one partition");
    }
    return resp.topics[0].partitions[0];
}

offset_for_leader_epoch_response::epoch_end_offset epoch_end_of(kafka_client& c,
                                                                const std::string& topic,
                                                                int32_t leader_epoch,
                                                                int32_t current,
                                                                int16_t version) {
    offset_for_leader_epoch_request req;
    req.replica_id = -1;
    auto& t = req.topics.emplace_back();
    t.topic = topic;
    t.partitions.push_back(
        {.partition = 0, .current_leader_epoch = current, .leader_epoch = leader_epoch});
    auto resp = c.call(req, version);
    EXPECT_EQ(resp.topics.size(), 1u);
    if (resp.topics.size() != 1 || resp.topics[0].partitions.size() != 1) {
        throw client_error("OffsetForLeaderEpoch answered another shape than one topic, one "
                           "partition");
    }
    return resp.topics[0].partitions[0];
}

uuid topic_id_of(kafka_client& c, const std::string& topic) {
    metadata_request req;
    req.topics->push_back({.name = topic});
    req.allow_auto_topic_creation = false;
    auto resp = c.call(req, 12);
    if (resp.topics.size() != 1 || resp.topics[0].error_code != 0) return uuid{};
    return resp.topics[0].topic_id;
}

void shared_broker_test::SetUp() {
    _client = std::make_unique<kafka_client>(port());
}

void shared_broker_test::TearDown() {
    _client.reset();
    auto& b = shared_broker();
    EXPECT_TRUE(b.alive()) << "the broker died; output:\n" << b.output();
}

}  // namespace wharf::kafka::test
