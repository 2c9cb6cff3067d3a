#pragma once

// metadata_service: the controller (DESIGN.md section 6). Lives on shard 0.
//
// The metadata log is partition 0 of shard 0's log (reserved_metadata_log_partition), written
// through shard 0's raft group like any partition: one record batch with one record per
// command (metadata_commands.h). Its raft group is the controller group, and the broker that
// leads it is the controller: only it writes (others answer NOT_CONTROLLER). Every broker
// applies the log's committed commands in order into its topic table: at start-up, then every
// follow interval. A change goes: catch up with the committed log -> validate against the table
// -> write the command and wait for commit -> apply (in log order) -> publish an immutable
// snapshot to every shard. A change returns only once every
// shard holds the new snapshot and has configured the log partitions it owns, so a client that
// created a topic can use it at once on any connection. Changes are serialized (one at a time).
//
// Other shards reach it with submit_to(shard 0, ...); they read topics from their local
// snapshot (metadata_snapshot()).

#include <cstdint>
#include <map>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "core/cluster/topic_table.h"
#include "core/config/broker_config.h"
#include "reactor/base/result.h"
#include "reactor/clock.h"
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

    // A peer's hello (broker_info), from shard 0's RPC handler: a broker beyond the seeds that
    // has connected. The controller registers it (register_broker_cmd) on its next follow pass,
    // and again when its addresses change; every group then adds its replica. Another broker
    // relays the hello to the controller until the broker is registered: a newcomer dials the
    // seeds only, and the controller may be a broker that joined later.
    void note_broker(int32_t node, host_port rpc, host_port kafka);
    // Decommissions a broker (the admin API's PUT /v1/brokers/{id}/decommission): every group
    // removes its replica (group_membership.h), after which it may be stopped for good. Refused
    // for a broker the cluster does not have (or has decommissioned already:
    // broker_not_available) and for the last one (invalid_request).
    task<topic_check> decommission_broker(int32_t node);

    const topic_table& table() const noexcept { return _table; }
    const std::string& cluster_id() const noexcept { return _cluster_id; }

    // Stops following the metadata log (a cluster's brokers apply what is committed every
    // follow interval). Before destruction.
    task<void> stop();

private:
    metadata_service(const broker_config& cfg, shard_services& services);
    // Applies the commands committed since the last call, in log order; returns the refusal of
    // the command at offset `mine` (the caller's own) when it was among them.
    task<result<topic_check>> apply_committed(std::optional<kafka_offset> mine);
    task<void> follow(gate::holder hold);
    status check_controller() const;
    task<result<int64_t>> allocate_local_producer_id();
    task<topic_check> begin_write();
    // Writes, applies and publishes one command. REQUIRES: the caller holds _write_lock.
    task<topic_check> commit(metadata_command cmd);
    task<void> publish();
    // The controller's pass over the brokers noted by note_broker.
    task<void> register_noted_brokers();
    // Another broker's pass: the hellos of noted brokers not registered yet go to the
    // controller (at most every relay_interval).
    void relay_noted_brokers();

    const broker_config& _cfg;
    shard_services& _services;
    topic_table _table;
    std::string _cluster_id;
    semaphore _write_lock{1};
    semaphore _apply_lock{1};
    // The next offset of the metadata log to apply, and how many commands were applied.
    kafka_offset _next_offset{0};
    uint64_t _applied_commands = 0;
    // _applied_commands when the table was last published to every shard.
    uint64_t _published_commands = 0;
    bool _stopping = false;
    gate _loop;
    // Producer ids reserved in the log and not handed out yet: [_next_pid, _pid_limit).
    int64_t _next_pid = 0;
    int64_t _pid_limit = 0;
    // Brokers beyond the seeds that have said hello, by node id.
    std::map<int32_t, broker_registration> _noted;
    steady_time _next_relay{};
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
