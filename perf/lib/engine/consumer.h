#pragma once

// One `wharf bench` consumer: a member of a consumer group (group_member) that fetches its
// partitions from their leaders, reads every record, and counts the records of this run (the
// stamp's nonce) with their publish-to-consume latency.
//
// Fetching: one Fetch per leader broker at a time, as the Java consumer does, for every assigned
// partition that broker leads, at the consumer's position. Records below the position (a batch
// that starts before it) are skipped, so a record is never counted twice by one member; across
// members the group's committed offsets hand positions over at a rebalance (commit before
// rejoining, committed offset after), and the delivery check compares each group's counts per
// partition with what the producers had acknowledged.
//
// Start position without a committed offset: the end of the partition, or its beginning for a
// catch-up run (from_beginning).

#include <chrono>
#include <cstdint>
#include <map>
#include <string>
#include <vector>

#include "net/kafka/client/kafka_client.h"
#include "net/kafka/client/group_member.h"
#include "perf/lib/engine/stats.h"

namespace wharf::perf {

using kafka::client::group_member;
using kafka::client::topic_partition;

struct consumer_config {
    std::vector<std::string> topic_names;  // every topic of the run, in index order
    int32_t partitions = 1;                // per topic
    size_t group_index = 0;
    std::string group_id;
    bool from_beginning = false;
    uint64_t nonce = 0;
    int32_t max_wait_ms = 500;
    int32_t fetch_max_bytes = 50 << 20;
    int32_t partition_max_bytes = 1 << 20;
};

class consumer {
public:
    consumer(std::vector<kafka::client::broker_address> bootstrap, std::string client_id,
             consumer_config cfg, shard_stats& stats);

    // Consumes until `stop` is true; commits its positions and leaves the group on the way out.
    task<result<void>> run(const bool& stop);

    // What the runner watches before it starts producing: the generation this member fetches
    // in (-1 while it joins) and how many partitions it owns there.
    int32_t generation() const noexcept { return _ready ? _generation : -1; }
    size_t assigned() const noexcept { return _positions.size(); }

private:
    task<result<void>> start_positions();
    task<void> fetch_loop(const bool& stop);
    task<void> heartbeat_loop(const bool& stop);
    task<void> fetch_from(int32_t broker, std::vector<topic_partition> parts);
    void consume_records(const topic_partition& tp, iobuf& records, uint64_t now_ns);

    kafka::client::kafka_client _client;
    group_member _member;
    consumer_config _cfg;
    shard_stats& _stats;
    std::map<std::string, size_t> _topic_index;
    std::map<topic_partition, int64_t> _positions;
    int32_t _generation = -1;
    bool _ready = false;
    bool _rejoin = false;
};

}  // namespace wharf::perf
