#pragma once

// The topic table: the state machine of the metadata log (DESIGN.md section 6, controller:
// frontend -> state machine -> topic table -> backend reconciler).
//
// Lifecycle. One topic_table lives on shard 0, built at start-up by applying every command of the
// metadata log in order, then kept current by applying each newly committed command. apply() is
// deterministic: the same commands over the same defaults give the same table, counters
// included. Other shards never touch it; they read immutable topic_table_snapshot copies
// published through snapshot() (shared_ptr copies are thread-safe, the contents never change).
//
// Writing a change. The frontend (a Kafka handler on shard 0) validates the request with the
// validate_* helpers, prepares the command (random_topic_id(), place()), writes it to the log and
// applies it once committed. Because validation runs first, the log never holds a command that
// fails; apply() still checks everything and refuses (changing nothing) a command that another
// change overtook: a second create of the same name (topic_already_exists) or an assignment whose
// log_partition ids were already handed out (stale_command).

#include <cstdint>
#include <map>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "core/cluster/errc.h"
#include "core/cluster/metadata_commands.h"
#include "core/cluster/topic_config.h"
#include "core/cluster/topic_name.h"
#include "reactor/base/ids.h"

namespace wharf {

// A refusal, or std::nullopt for "valid" / "applied".
using topic_check = std::optional<topic_error>;

// A bound on hostile CreateTopics/CreatePartitions requests (and on what place() allocates).
inline constexpr int32_t max_partitions_per_topic = 100000;
// InitProducerId blocks: allocate_producer_ids may reserve at most this many ids at once.
inline constexpr int32_t max_producer_id_block = 1 << 20;

struct topic_metadata {
    std::string name;
    topic_id id;
    bool internal = false;  // name starts with "__" (e.g. __consumer_offsets)
    // Index i holds partition i.
    std::vector<partition_assignment> partitions;
    // The overrides as written, and the config resolved against the table's topic_defaults.
    config_map overrides;
    effective_topic_config config;
};

// A broker beyond the seeds, as register_broker_cmd left it.
struct broker_registration {
    int32_t node = 0;
    host_port rpc;
    host_port kafka;
    bool operator==(const broker_registration&) const = default;
};

// An immutable view of the table: what other shards read (and the table's own state).
class topic_table_snapshot {
public:
    // Increases by one with every command that changed the table (refused ones change nothing).
    uint64_t version() const noexcept { return _version; }

    const topic_metadata* find(std::string_view name) const;
    const topic_metadata* find(const topic_id& id) const;
    // Every topic, sorted by name.
    std::vector<const topic_metadata*> topics() const;
    size_t topic_count() const noexcept { return _topics.size(); }
    // The assignment of one partition; nullptr for an unknown topic or partition (including
    // negative partition numbers from clients).
    const partition_assignment* assignment(std::string_view topic, int32_t partition) const;
    const partition_assignment* assignment(const topic_id& id, int32_t partition) const;

    // The next producer id not yet reserved by allocate_producer_ids (starts at 0).
    int64_t next_producer_id() const noexcept { return _next_producer_id; }
    // The log_partition id the next placement starts at (starts at 1; 0 is the metadata log's).
    partition_id next_log_partition() const noexcept { return _next_log_partition; }
    const topic_defaults& defaults() const noexcept { return _defaults; }

    // Brokers registered beyond the seeds (decommissioned ones included), and every broker
    // decommissioned (seeds included), by node id.
    const std::map<int32_t, broker_registration>& registered_brokers() const noexcept {
        return _registered;
    }
    const std::vector<int32_t>& decommissioned_brokers() const noexcept {
        return _decommissioned;
    }
    bool decommissioned(int32_t node) const noexcept;

    // The groups of fixed replica sets that commands defined (replica_group), by id; each id is
    // defined once and never reused, and a group stays when its topics are deleted.
    const std::map<raft_group_id, std::vector<int32_t>>& groups() const noexcept {
        return _groups;
    }
    // A group's replicas when it was defined, before any move_group_cmd: a replica starts the
    // group with them as its first membership (raft's persisted history rules after that).
    const std::vector<int32_t>* group_origin(raft_group_id group) const noexcept;
    // The replicas of a partition's group, preferred leader first: group 0's are
    // replica_set(seeds) (ascending); empty for a group no command defined.
    std::vector<int32_t> replicas_of(raft_group_id group, const std::vector<int32_t>& seeds) const;
    // The replication factor `t` was placed with: its first partition's group's size, or -1
    // for group 0 (every broker, however many that is now).
    int32_t replication_factor_of(const topic_metadata& t) const noexcept;
    // The brokers every raft group should span: the seeds and the registered brokers, less the
    // decommissioned ones; ascending.
    std::vector<int32_t> replica_set(const std::vector<int32_t>& seeds) const;
    // How many brokers that is (the seeds are defaults().replication_factor; a registered
    // broker is never a seed, and a decommissioned one is one of the two).
    int32_t broker_count() const noexcept;

private:
    friend class topic_table;

    // By name (std::map keeps topics() sorted) and the indexes on top of it.
    std::map<std::string, topic_metadata, std::less<>> _topics;
    std::map<topic_id, std::string> _names_by_id;
    // topic_collision_key(name) -> name, for Kafka's '.'/'_' collision rule.
    std::map<std::string, std::string, std::less<>> _collisions;
    topic_defaults _defaults;
    uint64_t _version = 0;
    int64_t _next_producer_id = 0;
    partition_id _next_log_partition{1};
    std::map<int32_t, broker_registration> _registered;
    std::vector<int32_t> _decommissioned;  // ascending
    std::map<raft_group_id, std::vector<int32_t>> _groups;
    std::map<raft_group_id, std::vector<int32_t>> _group_origins;
};

// Where place_replicated puts new partitions, and the groups it needs that do not exist yet.
struct placement {
    std::vector<partition_assignment> partitions;
    std::vector<replica_group> groups;
};

// The state machine. Lives on shard 0; see the file comment.
class topic_table {
public:
    explicit topic_table(topic_defaults defaults = {});

    // Applies one committed command. On a refusal the table is unchanged.
    topic_check apply(const metadata_command& cmd);

    // Validation before writing a command. replication_factor is CreateTopics' (-1: default).
    // REQUIRES: partitions of -1 ("broker default") already replaced by the default count.
    topic_check validate_create(std::string_view name, int32_t partitions,
                                int16_t replication_factor, const config_map& configs) const;
    // new_total must exceed the current count (INVALID_PARTITIONS with Kafka's messages).
    topic_check validate_create_partitions(std::string_view name, int32_t new_total) const;
    // IncrementalAlterConfigs / AlterConfigs: set and remove on an existing topic.
    topic_check validate_alter_configs(std::string_view name, const config_map& set,
                                       const std::vector<std::string>& remove) const;
    // DeleteTopics: the topic must exist.
    topic_check validate_delete(std::string_view name) const;

    // Places partitions first_partition .. first_partition + count - 1 on shard_count shards:
    // each goes to the shard holding the fewest partitions so far (counting every topic and the
    // ones placed before it in this call; ties to the lowest shard). log_partition ids are taken
    // from next_log_partition() on; the counter itself moves only when the command is applied.
    // REQUIRES: 0 < count <= max_partitions_per_topic, shard_count > 0.
    std::vector<partition_assignment> place(int32_t first_partition, int32_t count,
                                            uint32_t shard_count) const;
    // Places partitions with `replication_factor` replicas among `brokers` (the cluster's,
    // replica_set()). A factor of -1, or the number of brokers, places them in group 0 as
    // place() does. A smaller one places each in a group of a fixed replica set: the N
    // rotations of `brokers` (replicas brokers[i], brokers[i+1], ... wrapping around, the first
    // preferred leader, so leaders spread), each the group that already has that replica set
    // or a new one (ids after the largest defined). Each partition goes to the rotation
    // holding the fewest partitions (ties to the lowest i), on the shard holding the fewest of
    // that group's partitions (ties by place()'s rule).
    // REQUIRES: as place(); 0 < replication_factor <= brokers.size() or -1.
    placement place_replicated(int32_t first_partition, int32_t count, uint32_t shard_count,
                               int32_t replication_factor,
                               const std::vector<int32_t>& brokers) const;

    // A decommission first moves the broker's replicas of groups of fixed replica sets: for each
    // group holding one, the group with that replica replaced (in its place, so a replaced
    // preferred leader's successor is preferred) by the broker of `brokers` outside the group
    // that is in the fewest groups (ties to the lowest id), into `moves`. Refused
    // (INVALID_REQUEST) when a group spans every other broker already.
    topic_check moves_for_decommission(int32_t node, const std::vector<int32_t>& brokers,
                                       std::vector<move_group_cmd>& moves) const;

    // Lookups, as on a snapshot.
    const topic_table_snapshot& state() const noexcept { return _state; }
    const topic_metadata* find(std::string_view name) const { return _state.find(name); }
    const topic_metadata* find(const topic_id& id) const { return _state.find(id); }
    std::vector<const topic_metadata*> topics() const { return _state.topics(); }
    int64_t next_producer_id() const noexcept { return _state.next_producer_id(); }
    uint64_t version() const noexcept { return _state.version(); }

    // An immutable copy of the current state for other shards.
    std::shared_ptr<const topic_table_snapshot> snapshot() const;

private:
    topic_check apply_create(const create_topic_cmd& c);
    topic_check apply_delete(const delete_topic_cmd& c);
    topic_check apply_create_partitions(const create_partitions_cmd& c);
    topic_check apply_alter_configs(const alter_topic_configs_cmd& c);
    topic_check apply_allocate_producer_ids(const allocate_producer_ids_cmd& c);
    topic_check apply_register_broker(const register_broker_cmd& c);
    topic_check apply_decommission_broker(const decommission_broker_cmd& c);
    topic_check apply_move_group(const move_group_cmd& c);
    // Checks that assignments continue partition numbering at first and use fresh, increasing
    // log_partition ids; on success advances the log_partition counter past them.
    topic_check take_assignments(const std::vector<partition_assignment>& parts, int32_t first);
    // Checks that `groups` are new (ids above every defined one, increasing; replicas distinct,
    // not negative, not decommissioned) and that every assignment names group 0, one of them or
    // a defined one. Changes nothing.
    topic_check check_groups(const std::vector<replica_group>& groups,
                             const std::vector<partition_assignment>& parts) const;
    void define_groups(const std::vector<replica_group>& groups);
    // A group's replicas: at least one, distinct, not negative, none decommissioned.
    bool valid_replica_set(const std::vector<int32_t>& replicas) const;

    topic_table_snapshot _state;
};

// A random UUID v4 (RFC 9562) from the operating system's random source, never all zeros.
topic_id random_topic_id();

// The canonical 8-4-4-4-12 hex form, for logs and tests.
std::string to_string(const topic_id& id);

}  // namespace wharf
