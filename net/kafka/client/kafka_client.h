#pragma once

// A Kafka client on one shard (`wharf bench`, the `wharf` CLI): bootstrap, API version negotiation,
// the cluster metadata and one connection per broker, opened on first use. Speaks plain Kafka (it
// learns the versions from ApiVersions and uses the newest one both sides speak, capped where the
// engines only handle older forms), so it measures Apache Kafka and Redpanda as well as Wharf.
//
// Lifecycle: start(), use, close() before destruction. Owned by one shard; not thread-safe.

#include <chrono>
#include <cstdint>
#include <map>
#include <memory>
#include <string>
#include <vector>

#include "net/kafka/client/connection.h"

namespace wharf::kafka::client {

struct partition_info {
    int32_t partition = 0;
    int32_t leader = -1;
    int32_t leader_epoch = -1;
};

struct topic_info {
    std::string name;
    kafka::uuid id;
    kafka::error_code error = kafka::error_code::none;
    std::vector<partition_info> partitions;  // by partition index
};

struct cluster_metadata {
    std::map<int32_t, broker_address> brokers;
    std::map<std::string, topic_info> topics;
    int32_t controller = -1;
};

// The version of `key` to speak with a broker that serves [broker_min, broker_max], or -1 when
// there is none this client handles.
int16_t choose_version(kafka::api_key key, int16_t broker_min, int16_t broker_max);

class kafka_client {
public:
    kafka_client(std::vector<broker_address> bootstrap, std::string client_id,
                 std::chrono::milliseconds timeout = std::chrono::seconds(10));
    ~kafka_client();

    // Connects to the first bootstrap address that answers and negotiates versions.
    task<result<void>> start();
    task<void> close();

    // The negotiated version, -1 when the broker serves none this client speaks.
    int16_t version(kafka::api_key key) const;

    // Metadata for `topics` (all topics when empty), merged into metadata().
    task<result<void>> refresh_metadata(const std::vector<std::string>& topics);
    // Only the brokers and the controller, merged into metadata(): for callers that need a
    // broker's address (a coordinator's), where every topic's partitions would make a large
    // response on a big cluster. An empty (not null) topic list asks for no topics from v1 on;
    // v0 has no such request and answers every topic.
    task<result<void>> refresh_brokers();
    const cluster_metadata& metadata() const noexcept { return _metadata; }

    // The connection to broker `node_id` (-1: the bootstrap connection), opened on first use and
    // reopened when it broke.
    task<result<connection*>> broker(int32_t node_id);

    // Sends req to node_id in the negotiated version.
    template <typename Req, typename Resp>
    task<result<Resp>> call(int32_t node_id, const Req& req) {
        int16_t v = version(Req::key);
        if (v < 0) co_return client_errc::unsupported_version;
        auto c = co_await broker(node_id);
        if (!c) co_return c.error();
        co_return co_await (*c)->template call<Req, Resp>(req, v);
    }

private:
    // Sends req to any broker and merges the answer into _metadata.
    task<result<void>> fetch_metadata(const kafka::metadata_request& req);

    std::vector<broker_address> _bootstrap;
    std::string _client_id;
    std::chrono::milliseconds _timeout;
    std::unique_ptr<connection> _bootstrap_conn;
    std::map<int32_t, std::unique_ptr<connection>> _brokers;
    // Connects in progress: a second caller for the same broker waits for the first.
    std::map<int32_t, std::shared_ptr<event>> _connecting;
    std::map<int16_t, int16_t> _versions;  // api key -> version
    cluster_metadata _metadata;
};

}  // namespace wharf::kafka::client
