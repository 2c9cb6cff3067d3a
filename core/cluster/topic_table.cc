#include "core/cluster/topic_table.h"

#include <sys/random.h>

#include <algorithm>
#include <cerrno>
#include <limits>
#include <map>
#include <optional>
#include <random>

#include <fmt/format.h>
#include <fmt/ranges.h>

namespace wharf {

namespace {

topic_error unknown_topic() {
    return {cluster_errc::unknown_topic, "This server does not host this topic-partition."};
}

topic_error unknown_topic_id(const topic_id& id) {
    return {cluster_errc::unknown_topic_id, fmt::format("Unknown topic id {}", to_string(id))};
}

topic_error stale(std::string message) {
    return {cluster_errc::stale_command, std::move(message)};
}

}  // namespace

// ---- snapshot lookups ----

const topic_metadata* topic_table_snapshot::find(std::string_view name) const {
    auto it = _topics.find(name);
    return it == _topics.end() ? nullptr : &it->second;
}

const topic_metadata* topic_table_snapshot::find(const topic_id& id) const {
    auto it = _names_by_id.find(id);
    return it == _names_by_id.end() ? nullptr : find(it->second);
}

std::vector<const topic_metadata*> topic_table_snapshot::topics() const {
    std::vector<const topic_metadata*> out;
    out.reserve(_topics.size());
    for (const auto& [name, t] : _topics) out.push_back(&t);
    return out;
}

namespace {

const partition_assignment* partition_of(const topic_metadata* t, int32_t partition) {
    if (t == nullptr || partition < 0 || size_t(partition) >= t->partitions.size()) return nullptr;
    return &t->partitions[size_t(partition)];
}

}  // namespace

const partition_assignment* topic_table_snapshot::assignment(std::string_view topic,
                                                             int32_t partition) const {
    return partition_of(find(topic), partition);
}

const partition_assignment* topic_table_snapshot::assignment(const topic_id& id,
                                                             int32_t partition) const {
    return partition_of(find(id), partition);
}

// ---- validation ----

topic_table::topic_table(topic_defaults defaults) {
    _state._defaults = defaults;
}

topic_check topic_table::validate_create(std::string_view name, int32_t partitions,
                                         int16_t replication_factor,
                                         const config_map& configs) const {
    if (auto check = validate_topic_name(name); check != topic_name_check::ok) {
        return topic_error{cluster_errc::invalid_topic, topic_name_error_message(check, name)};
    }
    if (find(name) != nullptr) {
        return topic_error{cluster_errc::topic_already_exists,
                           fmt::format("Topic '{}' already exists.", name)};
    }
    if (auto it = _state._collisions.find(topic_collision_key(name));
        it != _state._collisions.end()) {
        return topic_error{
            cluster_errc::invalid_topic,
            fmt::format("Topic '{}' collides with existing topic: {}", name, it->second)};
    }
    if (partitions < 1) {
        return topic_error{cluster_errc::invalid_partitions,
                           "Number of partitions must be larger than 0."};
    }
    if (partitions > max_partitions_per_topic) {
        return topic_error{cluster_errc::invalid_partitions,
                           fmt::format("Number of partitions {} exceeds the maximum of {}.",
                                       partitions, max_partitions_per_topic)};
    }
    if (replication_factor == 0 || replication_factor < -1) {
        return topic_error{cluster_errc::invalid_replication_factor,
                           "Replication factor must be larger than 0, or -1 to use the default "
                           "value."};
    }
    const int32_t brokers = _state.broker_count();
    if (replication_factor > brokers) {
        return topic_error{
            cluster_errc::invalid_replication_factor,
            fmt::format("Unable to replicate the partition {} time(s): The target replication "
                        "factor of {} cannot be reached because only {} broker(s) are registered.",
                        replication_factor, replication_factor, brokers)};
    }
    return validate_topic_configs(configs);
}

topic_check topic_table::validate_create_partitions(std::string_view name,
                                                    int32_t new_total) const {
    const auto* t = find(name);
    if (t == nullptr) return unknown_topic();
    auto current = static_cast<int32_t>(t->partitions.size());
    if (new_total == current) {
        return topic_error{cluster_errc::invalid_partitions,
                           fmt::format("Topic already has {} partition(s).", current)};
    }
    if (new_total < current) {
        return topic_error{cluster_errc::invalid_partitions,
                           fmt::format("The topic {} currently has {} partition(s); {} would not "
                                       "be an increase.",
                                       name, current, new_total)};
    }
    if (new_total > max_partitions_per_topic) {
        return topic_error{cluster_errc::invalid_partitions,
                           fmt::format("Number of partitions {} exceeds the maximum of {}.",
                                       new_total, max_partitions_per_topic)};
    }
    return std::nullopt;
}

topic_check topic_table::validate_alter_configs(std::string_view name, const config_map& set,
                                                const std::vector<std::string>& remove) const {
    if (find(name) == nullptr) return unknown_topic();
    if (auto err = validate_topic_configs(set)) return err;
    for (const auto& key : remove) {
        if (find_topic_config_key(key) == nullptr) {
            return topic_error{cluster_errc::invalid_config,
                               fmt::format("Unknown topic config name: {}", key)};
        }
    }
    return std::nullopt;
}

topic_check topic_table::validate_delete(std::string_view name) const {
    return find(name) == nullptr ? topic_check(unknown_topic()) : std::nullopt;
}

// ---- placement ----

std::vector<partition_assignment> topic_table::place(int32_t first_partition, int32_t count,
                                                     uint32_t shard_count) const {
    return place_replicated(first_partition, count, shard_count, -1, {}).partitions;
}

placement topic_table::place_replicated(int32_t first_partition, int32_t count,
                                        uint32_t shard_count, int32_t replication_factor,
                                        const std::vector<int32_t>& brokers) const {
    WHARF_ASSERT(count > 0 && count <= max_partitions_per_topic && shard_count > 0,
                 "place({}, {}, {}) out of range", first_partition, count, shard_count);
    const auto n = static_cast<int32_t>(brokers.size());
    WHARF_ASSERT(replication_factor == -1 || (replication_factor > 0 && replication_factor <= n),
                 "replication factor {} with {} brokers", replication_factor, n);
    const bool every_broker = replication_factor == -1 || replication_factor == n;

    // The candidate groups: group 0, or the rotations of `brokers`.
    struct candidate {
        raft_group_id id;
        std::vector<int32_t> replicas;
        uint64_t partitions = 0;          // placed in it so far
        std::vector<uint64_t> per_shard;  // ... on each shard
        bool is_new = false;
        bool emitted = false;
    };
    std::vector<candidate> candidates;
    raft_group_id next_id(_state._groups.empty() ? 1 : _state._groups.rbegin()->first.value() + 1);
    if (every_broker) {
        candidates.push_back({.id = raft_group_id(0)});
    } else {
        for (int32_t i = 0; i < n; ++i) {
            candidate c;
            for (int32_t r = 0; r < replication_factor; ++r) {
                c.replicas.push_back(brokers[size_t((i + r) % n)]);
            }
            c.id = next_id;
            c.is_new = true;
            for (const auto& [id, replicas] : _state._groups) {
                if (replicas == c.replicas) {
                    c.id = id;
                    c.is_new = false;
                    break;
                }
            }
            if (c.is_new) {
                WHARF_ASSERT(next_id.value() < std::numeric_limits<uint16_t>::max(),
                             "raft group ids exhausted");
                next_id = raft_group_id(next_id.value() + 1);
            }
            candidates.push_back(std::move(c));
        }
    }
    for (auto& c : candidates) c.per_shard.assign(shard_count, 0);
    std::vector<uint64_t> load(shard_count, 0);
    for (const auto& [name, t] : _state._topics) {
        for (const auto& a : t.partitions) {
            // Shards beyond today's count (the broker restarted with fewer) take nothing new.
            if (a.shard.value() < shard_count) ++load[a.shard.value()];
            for (auto& c : candidates) {
                if (c.id != a.group) continue;
                ++c.partitions;
                if (a.shard.value() < shard_count) ++c.per_shard[a.shard.value()];
            }
        }
    }
    placement out;
    out.partitions.reserve(size_t(count));
    partition_id next = _state._next_log_partition;
    for (int32_t i = 0; i < count; ++i) {
        // min_element returns the first of equal minima: the lowest index wins ties.
        auto& c = *std::min_element(
            candidates.begin(), candidates.end(),
            [](const candidate& x, const candidate& y) { return x.partitions < y.partitions; });
        // Group 0 balances the shards over every partition; a rotation first over its own.
        size_t shard = 0;
        for (size_t k = 1; k < shard_count; ++k) {
            auto key = [&](size_t s) {
                return every_broker ? std::pair{load[s], uint64_t{0}}
                                    : std::pair{c.per_shard[s], load[s]};
            };
            if (key(k) < key(shard)) shard = k;
        }
        ++load[shard];
        ++c.per_shard[shard];
        ++c.partitions;
        if (c.is_new && !c.emitted) {
            out.groups.push_back({.id = c.id, .replicas = c.replicas});
            c.emitted = true;
        }
        out.partitions.push_back({.partition = first_partition + i,
                                  .shard = shard_id(uint32_t(shard)),
                                  .log_partition = next++,
                                  .group = c.id});
    }
    // Defined in id order, as check_groups wants them.
    std::sort(out.groups.begin(), out.groups.end(),
              [](const replica_group& x, const replica_group& y) { return x.id < y.id; });
    return out;
}

// ---- apply ----

topic_check topic_table::apply(const metadata_command& cmd) {
    auto result = std::visit(
        [this](const auto& c) -> topic_check {
            using T = std::decay_t<decltype(c)>;
            if constexpr (std::is_same_v<T, create_topic_cmd>) return apply_create(c);
            if constexpr (std::is_same_v<T, delete_topic_cmd>) return apply_delete(c);
            if constexpr (std::is_same_v<T, create_partitions_cmd>) {
                return apply_create_partitions(c);
            }
            if constexpr (std::is_same_v<T, alter_topic_configs_cmd>) {
                return apply_alter_configs(c);
            }
            if constexpr (std::is_same_v<T, allocate_producer_ids_cmd>) {
                return apply_allocate_producer_ids(c);
            }
            if constexpr (std::is_same_v<T, register_broker_cmd>) {
                return apply_register_broker(c);
            }
            if constexpr (std::is_same_v<T, decommission_broker_cmd>) {
                return apply_decommission_broker(c);
            }
            if constexpr (std::is_same_v<T, move_group_cmd>) return apply_move_group(c);
        },
        cmd);
    if (!result.has_value()) ++_state._version;  // nullopt: applied
    return result;
}

topic_check topic_table::take_assignments(const std::vector<partition_assignment>& parts,
                                          int32_t first) {
    if (parts.empty() || parts.size() > size_t(max_partitions_per_topic) ||
        first > max_partitions_per_topic - int32_t(parts.size())) {
        return topic_error{
            cluster_errc::invalid_partitions,
            fmt::format("{} new partition(s) after {} is not a valid count", parts.size(), first)};
    }
    partition_id next = _state._next_log_partition;
    for (size_t i = 0; i < parts.size(); ++i) {
        const auto& a = parts[i];
        if (a.partition != first + int32_t(i)) {
            return stale(fmt::format("partition {} assigned where {} was expected", a.partition,
                                     first + int32_t(i)));
        }
        // Fresh ids only: at or past the counter and increasing, so never reused.
        if (a.log_partition < next || a.log_partition == partition_id::max()) {
            return stale(fmt::format("log partition {} was already handed out (next is {})",
                                     a.log_partition, next));
        }
        next = a.log_partition + 1;
    }
    _state._next_log_partition = next;
    return std::nullopt;
}

topic_check topic_table::check_groups(const std::vector<replica_group>& groups,
                                      const std::vector<partition_assignment>& parts) const {
    raft_group_id last = _state._groups.empty() ? raft_group_id(0) : _state._groups.rbegin()->first;
    for (const auto& g : groups) {
        if (g.id <= last) {
            return stale(fmt::format("raft group {} is defined already or out of order", g.id));
        }
        last = g.id;
        if (!valid_replica_set(g.replicas)) {
            return stale(fmt::format("raft group {} cannot have the replicas {}", g.id,
                                     fmt::join(g.replicas, ",")));
        }
    }
    for (const auto& a : parts) {
        if (a.group == raft_group_id(0) || _state._groups.contains(a.group)) continue;
        bool defined = std::any_of(groups.begin(), groups.end(),
                                   [&](const replica_group& g) { return g.id == a.group; });
        if (!defined) {
            return stale(fmt::format("partition {} is placed in raft group {}, never defined",
                                     a.partition, a.group));
        }
    }
    return std::nullopt;
}

bool topic_table::valid_replica_set(const std::vector<int32_t>& replicas) const {
    std::vector<int32_t> sorted = replicas;
    std::sort(sorted.begin(), sorted.end());
    return !sorted.empty() && sorted.front() >= 0 &&
           std::adjacent_find(sorted.begin(), sorted.end()) == sorted.end() &&
           std::none_of(sorted.begin(), sorted.end(),
                        [this](int32_t n) { return _state.decommissioned(n); });
}

void topic_table::define_groups(const std::vector<replica_group>& groups) {
    for (const auto& g : groups) {
        _state._groups.emplace(g.id, g.replicas);
        _state._group_origins.emplace(g.id, g.replicas);
    }
}

topic_check topic_table::apply_move_group(const move_group_cmd& c) {
    auto it = _state._groups.find(c.id);
    if (it == _state._groups.end()) return stale(fmt::format("raft group {} is not defined", c.id));
    if (!valid_replica_set(c.replicas)) {
        return stale(fmt::format("raft group {} cannot have the replicas {}", c.id,
                                 fmt::join(c.replicas, ",")));
    }
    it->second = c.replicas;
    return std::nullopt;
}

topic_check topic_table::moves_for_decommission(int32_t node, const std::vector<int32_t>& brokers,
                                                std::vector<move_group_cmd>& moves) const {
    std::map<int32_t, size_t> load;
    for (int32_t b : brokers) load[b] = 0;
    for (const auto& [id, replicas] : _state._groups) {
        for (int32_t r : replicas) {
            if (auto l = load.find(r); l != load.end()) ++l->second;
        }
    }
    for (const auto& [id, replicas] : _state._groups) {
        auto at = std::find(replicas.begin(), replicas.end(), node);
        if (at == replicas.end()) continue;
        std::optional<int32_t> best;
        for (const auto& [b, n] : load) {
            if (b == node || std::find(replicas.begin(), replicas.end(), b) != replicas.end()) {
                continue;
            }
            if (!best || n < load.at(*best)) best = b;
        }
        if (!best) {
            return topic_error{cluster_errc::invalid_request,
                               fmt::format("raft group {} (replicas {}) spans every other broker "
                                           "already: broker {}'s replica has nowhere to go",
                                           id, fmt::join(replicas, ","), node)};
        }
        move_group_cmd m{.id = id, .replicas = replicas};
        m.replicas[size_t(at - replicas.begin())] = *best;
        ++load[*best];
        moves.push_back(std::move(m));
    }
    return std::nullopt;
}

topic_check topic_table::apply_create(const create_topic_cmd& c) {
    if (auto err = validate_create(
            c.name, int32_t(std::min<size_t>(c.partitions.size(), max_partitions_per_topic)), -1,
            c.configs)) {
        return err;
    }
    if (c.id.is_zero() || _state._names_by_id.contains(c.id)) {
        return stale(fmt::format("topic id {} is zero or in use", to_string(c.id)));
    }
    if (auto err = check_groups(c.groups, c.partitions)) return err;
    if (auto err = take_assignments(c.partitions, 0)) return err;
    define_groups(c.groups);
    topic_metadata t{.name = c.name,
                     .id = c.id,
                     .internal = is_internal_topic_name(c.name),
                     .partitions = c.partitions,
                     .overrides = c.configs,
                     .config = effective_topic_config::resolve(c.configs, _state._defaults)};
    _state._names_by_id.emplace(c.id, c.name);
    _state._collisions.emplace(topic_collision_key(c.name), c.name);
    _state._topics.emplace(c.name, std::move(t));
    return std::nullopt;
}

topic_check topic_table::apply_delete(const delete_topic_cmd& c) {
    const auto* t = find(c.id);
    if (t == nullptr) return unknown_topic_id(c.id);
    std::string name = t->name;
    // The log_partition counter stays where it is: deleted partitions' ids are never reused.
    _state._collisions.erase(topic_collision_key(name));
    _state._names_by_id.erase(c.id);
    _state._topics.erase(name);
    return std::nullopt;
}

topic_check topic_table::apply_create_partitions(const create_partitions_cmd& c) {
    auto it = _state._names_by_id.find(c.id);
    if (it == _state._names_by_id.end()) return unknown_topic_id(c.id);
    auto& t = _state._topics.at(it->second);
    if (auto err = check_groups(c.groups, c.partitions)) return err;
    if (auto err = take_assignments(c.partitions, int32_t(t.partitions.size()))) return err;
    define_groups(c.groups);
    t.partitions.insert(t.partitions.end(), c.partitions.begin(), c.partitions.end());
    return std::nullopt;
}

topic_check topic_table::apply_alter_configs(const alter_topic_configs_cmd& c) {
    auto it = _state._names_by_id.find(c.id);
    if (it == _state._names_by_id.end()) return unknown_topic_id(c.id);
    auto& t = _state._topics.at(it->second);
    if (auto err = validate_alter_configs(t.name, c.set, c.remove)) return err;
    // remove first, then set: a key in both ends up set.
    for (const auto& key : c.remove) t.overrides.erase(key);
    for (const auto& [key, value] : c.set) t.overrides[key] = value;
    t.config = effective_topic_config::resolve(t.overrides, _state._defaults);
    return std::nullopt;
}

topic_check topic_table::apply_allocate_producer_ids(const allocate_producer_ids_cmd& c) {
    if (c.first != _state._next_producer_id) {
        return stale(fmt::format("producer ids from {} requested, next free is {}", c.first,
                                 _state._next_producer_id));
    }
    if (c.count <= 0 || c.count > max_producer_id_block ||
        c.first > std::numeric_limits<int64_t>::max() - c.count) {
        return stale(fmt::format("{} producer ids from {} is not a valid block", c.count, c.first));
    }
    _state._next_producer_id = c.first + c.count;
    return std::nullopt;
}

topic_check topic_table::apply_register_broker(const register_broker_cmd& c) {
    if (c.node < 0 || c.node >= max_cluster_node_ids || c.rpc.host.empty() || c.rpc.port == 0 ||
        c.kafka.host.empty() || c.kafka.port == 0) {
        return stale(fmt::format("broker {} cannot be registered at rpc {} kafka {}", c.node,
                                 c.rpc.to_string(), c.kafka.to_string()));
    }
    if (_state.decommissioned(c.node)) {
        return stale(fmt::format("broker {} was decommissioned and cannot join again", c.node));
    }
    broker_registration r{c.node, c.rpc, c.kafka};
    auto it = _state._registered.find(c.node);
    if (it != _state._registered.end() && it->second == r) {
        return stale(fmt::format("broker {} is registered already", c.node));
    }
    _state._registered[c.node] = std::move(r);
    return std::nullopt;
}

topic_check topic_table::apply_decommission_broker(const decommission_broker_cmd& c) {
    if (c.node < 0 || c.node >= max_cluster_node_ids) {
        return stale(fmt::format("broker {} is no broker id", c.node));
    }
    if (_state.decommissioned(c.node)) {
        return stale(fmt::format("broker {} is decommissioned already", c.node));
    }
    auto& d = _state._decommissioned;
    d.insert(std::lower_bound(d.begin(), d.end(), c.node), c.node);
    return std::nullopt;
}

bool topic_table_snapshot::decommissioned(int32_t node) const noexcept {
    return std::binary_search(_decommissioned.begin(), _decommissioned.end(), node);
}

std::vector<int32_t> topic_table_snapshot::replica_set(const std::vector<int32_t>& seeds) const {
    std::vector<int32_t> out;
    for (int32_t n : seeds) {
        if (!decommissioned(n)) out.push_back(n);
    }
    for (const auto& [n, r] : _registered) {
        if (!decommissioned(n)) out.push_back(n);
    }
    std::sort(out.begin(), out.end());
    out.erase(std::unique(out.begin(), out.end()), out.end());
    return out;
}

const std::vector<int32_t>* topic_table_snapshot::group_origin(raft_group_id group) const noexcept {
    auto it = _group_origins.find(group);
    return it == _group_origins.end() ? nullptr : &it->second;
}

std::vector<int32_t> topic_table_snapshot::replicas_of(raft_group_id group,
                                                      const std::vector<int32_t>& seeds) const {
    if (group == raft_group_id(0)) return replica_set(seeds);
    auto it = _groups.find(group);
    return it == _groups.end() ? std::vector<int32_t>{} : it->second;
}

int32_t topic_table_snapshot::replication_factor_of(const topic_metadata& t) const noexcept {
    if (t.partitions.empty() || t.partitions.front().group == raft_group_id(0)) return -1;
    auto it = _groups.find(t.partitions.front().group);
    return it == _groups.end() ? -1 : static_cast<int32_t>(it->second.size());
}

int32_t topic_table_snapshot::broker_count() const noexcept {
    return _defaults.replication_factor + static_cast<int32_t>(_registered.size()) -
           static_cast<int32_t>(_decommissioned.size());
}

std::shared_ptr<const topic_table_snapshot> topic_table::snapshot() const {
    return std::make_shared<const topic_table_snapshot>(_state);
}

// ---- topic ids ----

topic_id random_topic_id() {
    topic_id id;
    size_t filled = 0;
    while (filled < id.bytes.size()) {
        ssize_t n = ::getrandom(id.bytes.data() + filled, id.bytes.size() - filled, 0);
        if (n > 0) {
            filled += size_t(n);
        } else if (n < 0 && errno != EINTR) {
            // No getrandom (very old kernel or a seccomp filter): the library's source.
            std::random_device rd;
            for (auto& b : id.bytes) b = uint8_t(rd());
            break;
        }
    }
    id.bytes[6] = uint8_t((id.bytes[6] & 0x0f) | 0x40);  // version 4
    id.bytes[8] = uint8_t((id.bytes[8] & 0x3f) | 0x80);  // variant 10
    // Kafka reserves the all-zero id and 00..01 (the metadata topic); the v4 bits exclude both.
    return id;
}

std::string to_string(const topic_id& id) {
    std::string out;
    out.reserve(36);
    for (size_t i = 0; i < id.bytes.size(); ++i) {
        if (i == 4 || i == 6 || i == 8 || i == 10) out.push_back('-');
        out += fmt::format("{:02x}", id.bytes[i]);
    }
    return out;
}

}  // namespace wharf
