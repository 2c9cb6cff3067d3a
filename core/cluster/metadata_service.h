#pragma once

// metadata_service: the controller of a single broker (DESIGN.md section 6). Lives on shard 0.
//
// The metadata log is partition 0 of shard 0's log (reserved_metadata_log_partition), written
// through shard 0's raft group like any partition: one record batch with one record per
// command (metadata_commands.h). At start-up the service replays it into the topic table; after
// that, every change goes: validate against the table -> write the command and wait for commit
// -> apply -> publish an immutable snapshot to every shard. A change returns only once every
// shard holds the new snapshot and has configured the log partitions it owns, so a client that
// created a topic can use it at once on any connection. Changes are serialized (one at a time).
//
// Other shards reach it with submit_to(shard 0, ...); they read topics from their local
// snapshot (metadata_snapshot()).

#include <cstdint>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "core/cluster/topic_table.h"
#include "core/config/broker_config.h"
#include "reactor/base/result.h"
#include "reactor/sync.h"
#include "reactor/task.h"

namespace wharf {

struct shard_services;

// What a create (or a validate_only create) decided.
struct create_topic_outcome {
    topic_check error;
    // The topic as created (or as it would be, for validate_only).
    std::optional<topic_metadata> topic;
};

class metadata_service {
public:
    // Replays the metadata log of the calling shard (shard 0) and publishes the table to every
    // shard. *detail says what failed.
    static task<result<std::unique_ptr<metadata_service>>> start(const broker_config& cfg,
                                                                 shard_services& services,
                                                                 std::string* detail);

    // CreateTopics. partitions -1 means --default-partitions.
    task<create_topic_outcome> create_topic(std::string name, int32_t partitions,
                                            int16_t replication_factor, config_map configs,
                                            bool validate_only);
    task<topic_check> delete_topic(std::string name);
    task<topic_check> create_partitions(std::string name, int32_t new_total, bool validate_only);
    task<topic_check> alter_configs(std::string name, config_map set,
                                    std::vector<std::string> remove, bool validate_only);
    // A fresh producer id for InitProducerId; ids are reserved in blocks through the log so that
    // none is ever handed out twice, across restarts too.
    task<result<int64_t>> allocate_producer_id();

    const topic_table& table() const noexcept { return _table; }
    const std::string& cluster_id() const noexcept { return _cluster_id; }

private:
    metadata_service(const broker_config& cfg, shard_services& services);
    task<status> replay();
    // Writes, applies and publishes one command. REQUIRES: the caller holds _write_lock.
    task<topic_check> commit(metadata_command cmd);
    task<void> publish();

    const broker_config& _cfg;
    shard_services& _services;
    topic_table _table;
    std::string _cluster_id;
    semaphore _write_lock{1};
    // Producer ids reserved in the log and not handed out yet: [_next_pid, _pid_limit).
    int64_t _next_pid = 0;
    int64_t _pid_limit = 0;
};

// Shard 0's service, or null (other shards, before start).
metadata_service* local_metadata_service() noexcept;
void set_local_metadata_service(std::unique_ptr<metadata_service> s);
std::unique_ptr<metadata_service> take_local_metadata_service();

// The calling shard's current snapshot of the topic table (never null once the broker serves).
const std::shared_ptr<const topic_table_snapshot>& metadata_snapshot() noexcept;
// The cluster id every shard reports (set at start-up).
const std::string& local_cluster_id() noexcept;

}  // namespace wharf
