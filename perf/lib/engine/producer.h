#pragma once

// One `wharf bench` producer: a Kafka producer as the Java client and librdkafka build one, on
// the calling shard's reactor. Records go into an open batch per partition. A batch that reaches
// batch_bytes is sealed and queued; a batch whose first record has waited linger becomes ready,
// and is sealed only when a request takes it, so that while the broker's in-flight requests are
// all outstanding it keeps filling (Kafka's RecordAccumulator drains the same way). A request to
// a broker carries one batch per partition it leads; at most max_in_flight requests are
// outstanding per broker, and each response sends the next request at once. Records wait in batches
// up to buffer_bytes; past that the producer stops generating until acknowledgements free room (the
// Java client's buffer.memory).
//
// Partitioning: records without a key stick to one partition of their topic until its batch is
// sealed, then move to another (Kafka's sticky partitioner, KIP-480); keyed records go where the
// Java client would put them (murmur2). Idempotence: a producer id from InitProducerId and
// per-partition sequences.
//
// Rate: unlimited, or a fixed schedule (rate_limiter) whose due times are the records' publish
// stamps, so latencies of a fixed-rate run are corrected for coordinated omission.
//
// Errors do not stop the run: a failed batch counts its records as produce errors (they are not
// retried, and not counted as acknowledged, so the delivery check stays exact).

#include <chrono>
#include <cstdint>
#include <deque>
#include <map>
#include <random>
#include <string>
#include <unordered_map>
#include <vector>

#include "log/record_batch.h"
#include "net/kafka/client/kafka_client.h"
#include "perf/lib/engine/stats.h"
#include "perf/lib/workload.h"
#include "reactor/sync.h"

namespace wharf::perf {

struct producer_config {
    // The topics this producer writes (round-robin per record) and every topic's partition
    // count; global partition index = topic_index * partitions + partition.
    std::vector<std::string> topic_names;  // all topics of the run
    std::vector<size_t> topics;            // indexes of the ones this producer writes
    int32_t partitions = 1;
    std::vector<uint32_t> message_sizes = {1024};
    key_distribution keys = key_distribution::none;
    double rate_per_s = 0;  // this producer's share; 0 = unlimited
    int16_t acks = -1;
    compression_type compression = compression_type::none;
    size_t batch_bytes = 128 * 1024;
    std::chrono::microseconds linger{1000};
    int max_in_flight = 5;
    bool idempotence = false;
    size_t buffer_bytes = 32u << 20;
    uint64_t nonce = 0;
    uint64_t seed = 1;
};

// Kafka's sticky partitioner (KIP-480) for records without a key: every topic has its own sticky
// partition, kept until that partition's batch is sealed, so a producer that writes several
// topics in turn keeps one per topic. Partitions are global indexes (topic * partitions + p).
class sticky_partitioner {
public:
    sticky_partitioner(size_t topics, size_t partitions);

    // The partition of the next keyless record of `topic`.
    size_t next(size_t topic, std::mt19937_64& rng);
    // The batch of `partition` was sealed: the next record of its topic picks a partition anew.
    void sealed(size_t partition);

private:
    size_t _partitions;
    std::vector<size_t> _sticky;  // per topic; SIZE_MAX: none yet
};

// The error code of every partition a produce response answers, by global partition index
// (topic_index * partitions + partition). Built once per response so that looking up each batch
// costs O(1) (a request can carry 10,000 partitions). Topics not in topic_index and partition
// indexes out of range are left out; of two answers for one partition the last one counts.
std::unordered_map<size_t, int16_t> errors_by_partition(
    const kafka::produce_response& resp, const std::map<std::string, size_t>& topic_index,
    int32_t partitions);

class producer {
public:
    producer(kafka::client::kafka_client& client, producer_config cfg, shard_stats& stats);

    // Produces until `stop` becomes true (the runner sets it), then waits for the requests in
    // flight. Fails only when it cannot start (InitProducerId, metadata).
    task<result<void>> run(const bool& stop);

private:
    struct open_batch {
        std::vector<uint64_t> publish_ns;  // per record
        std::vector<std::byte> values;     // record values back to back
        std::vector<uint32_t> sizes;
        std::vector<std::string> keys;  // empty when records have no key
        size_t bytes = 0;
        uint64_t first_ns = 0;
    };
    struct sealed_batch {
        size_t partition = 0;  // global index
        size_t records = 0;
        size_t payload_bytes = 0;
        std::vector<uint64_t> publish_ns;
        iobuf bytes;
    };

    void append_record(uint64_t publish_ns);
    size_t choose_partition(std::string* key);
    sealed_batch seal(size_t partition);
    void seal_all();
    // Sends sealed batches and open batches that have lingered, within each broker's in-flight
    // limit.
    void dispatch(uint64_t now_ns);
    std::vector<sealed_batch> take_request(int32_t broker, uint64_t now_ns);
    // The earliest time an open batch becomes ready by lingering; UINT64_MAX when none is open.
    uint64_t next_linger_expiry() const;
    task<void> send(int32_t broker, std::vector<sealed_batch> batches);
    void on_response(std::vector<sealed_batch>& batches, const kafka::produce_response* resp,
                     uint64_t now_ns);
    bool can_send(int32_t broker) const;

    kafka::client::kafka_client& _client;
    producer_config _cfg;
    shard_stats& _stats;
    std::mt19937_64 _rng;
    std::vector<std::byte> _payload;  // random bytes that values are cut from
    std::map<size_t, open_batch> _open;
    std::map<int32_t, std::deque<sealed_batch>> _sealed;  // per leader broker, full batches
    std::vector<int32_t> _leaders;                        // per global partition
    std::vector<bool> _taken;                             // per global partition, scratch
    std::map<int32_t, int> _in_flight;
    std::vector<int32_t> _sequences;  // per global partition, idempotence
    int64_t _producer_id = -1;
    int16_t _producer_epoch = -1;
    size_t _buffered = 0;
    std::map<std::string, size_t> _topic_index;  // by name, into topic_names
    size_t _next_topic = 0;
    sticky_partitioner _sticky;  // partitions of keyless records
    uint64_t _round_robin_key = 0;
    event _completed;
    gate _requests;
};

}  // namespace wharf::perf
