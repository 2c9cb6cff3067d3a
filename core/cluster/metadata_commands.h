#pragma once

// The commands of the metadata log (DESIGN.md section 6): every change to the topic table is one
// of these, written to the metadata raft group (a group of one on shard 0 today) and applied by
// topic_table::apply in log order, on every start-up again.
//
// Wire form of one command, little-endian:
//   u8 version (metadata_command_version), u8 type (the variant index, below), then the fields
//   in declaration order: integers fixed-width, strings as u32 length + bytes, vectors and maps
//   as u32 count + elements, topic ids as 16 raw bytes.
// decode() treats the bytes as hostile (a damaged or foreign log): every count and length is
// checked against the bytes remaining before anything is allocated, trailing bytes are refused,
// and a failure is a value, never a crash.

#include <cstddef>
#include <cstdint>
#include <span>
#include <string>
#include <variant>
#include <vector>

#include "core/cluster/topic_config.h"
#include "core/config/cluster_config.h"
#include "reactor/base/ids.h"
#include "reactor/base/result.h"

namespace wharf {

// Where one Kafka partition of a topic lives on this broker.
struct partition_assignment {
    int32_t partition = 0;  // the Kafka partition number within its topic
    shard_id shard{0};      // the owning shard
    // The shard log's partition id: unique in the broker and never reused, even after the topic
    // is deleted. 0 is reserved for the metadata log itself (reserved_metadata_log_partition).
    partition_id log_partition{0};
    // The raft group on `shard` that replicates it: 0, the group of every broker, or a group of
    // a fixed replica set that a command defined (replica_group).
    raft_group_id group{0};
    bool operator==(const partition_assignment&) const = default;
};

// A raft group of a fixed replica set (a topic whose replication factor is below the broker
// count), defined by the command that first places a partition in it. It exists on every shard
// of each of its replicas (DESIGN.md section 5: a group is keyed by shard and replica set).
struct replica_group {
    raft_group_id id{0};
    // Distinct node ids; the first is the group's preferred leader.
    std::vector<int32_t> replicas;
    bool operator==(const replica_group&) const = default;
};

inline constexpr partition_id reserved_metadata_log_partition{0};

struct create_topic_cmd {
    std::string name;
    topic_id id;
    std::vector<partition_assignment> partitions;  // partition numbers 0..n-1 in order
    config_map configs;                            // overrides only
    std::vector<replica_group> groups;             // the groups it defines (version 2)
    bool operator==(const create_topic_cmd&) const = default;
};

struct delete_topic_cmd {
    topic_id id;
    bool operator==(const delete_topic_cmd&) const = default;
};

struct create_partitions_cmd {
    topic_id id;
    std::vector<partition_assignment> partitions;  // the new ones, continuing the numbering
    std::vector<replica_group> groups;             // the groups it defines (version 2)
    bool operator==(const create_partitions_cmd&) const = default;
};

// Applied as: remove the keys in `remove`, then set those in `set` (a key in both ends up set).
struct alter_topic_configs_cmd {
    topic_id id;
    config_map set;
    std::vector<std::string> remove;
    bool operator==(const alter_topic_configs_cmd&) const = default;
};

// Reserves producer ids [first, first + count) for InitProducerId.
struct allocate_producer_ids_cmd {
    int64_t first = 0;
    int32_t count = 0;
    bool operator==(const allocate_producer_ids_cmd&) const = default;
};

// A broker beyond the seeds joins the cluster (cluster_config.h): the controller registers it when
// it first hears from it. From then on every broker connects to it and every raft group adds its
// replica (a learner first, a voter once caught up: core/cluster/group_membership.h). Registering
// a broker again with other addresses moves it.
struct register_broker_cmd {
    int32_t node = 0;
    host_port rpc;
    host_port kafka;
    bool operator==(const register_broker_cmd&) const = default;
};

// A broker leaves the cluster for good (a seed or a registered broker): every raft group removes
// its replica, one change at a time, so that the broker can then be stopped. Its id is never
// registered again.
struct decommission_broker_cmd {
    int32_t node = 0;
    bool operator==(const decommission_broker_cmd&) const = default;
};

// A group of a fixed replica set gets another replica set (version 2): a decommission moves the
// broker's replicas to others first. The group's leader moves its raft membership there (new
// replicas join as learners and are promoted; a replica leaves once its broker is
// decommissioned: core/cluster/group_membership.h).
struct move_group_cmd {
    raft_group_id id{0};
    std::vector<int32_t> replicas;
    bool operator==(const move_group_cmd&) const = default;
};

// The variant index is the type byte on the wire: append new alternatives at the end only.
using metadata_command =
    std::variant<create_topic_cmd, delete_topic_cmd, create_partitions_cmd,
                 alter_topic_configs_cmd, allocate_producer_ids_cmd, register_broker_cmd,
                 decommission_broker_cmd, move_group_cmd>;

// The encoding version this broker writes; decode refuses a larger one
// (unsupported_command_version) and reads the older ones.
//   2: partition_assignment::group (u16 after log_partition), and create_topic_cmd's and
//      create_partitions_cmd's groups (after their other fields: u32 count, then per group
//      u16 id and the replicas as a vector of i32), and move_group_cmd (type 7: u16 id, the
//      replicas as a vector of i32).
inline constexpr uint8_t metadata_command_version = 2;

std::vector<std::byte> encode(const metadata_command& cmd);

// Errors: corrupt_command (truncated, trailing bytes, unknown type, a count larger than the bytes
// left), unsupported_command_version.
result<metadata_command> decode(std::span<const std::byte> bytes);

}  // namespace wharf
