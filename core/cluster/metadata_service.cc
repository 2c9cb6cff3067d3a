#include "core/cluster/metadata_service.h"

#include <algorithm>
#include <charconv>

#include <fmt/format.h>
#include <fmt/ranges.h>

#include "core/cluster/cluster_rpc.h"
#include "core/shard_services.h"
#include "log/durable_file.h"
#include "net/rpc/broker_info.h"
#include "log/record_batch.h"
#include "log/record_reader.h"
#include "raft/errc.h"
#include "reactor/clock.h"
#include "reactor/logger.h"
#include "reactor/smp.h"
#include "reactor/spawn.h"
#include "reactor/submit_to.h"
#include "reactor/timer.h"
#include "reactor/when_all.h"

namespace wharf {

namespace {

thread_local std::unique_ptr<metadata_service> t_service;
thread_local std::shared_ptr<const topic_table_snapshot> t_snapshot =
    std::make_shared<const topic_table_snapshot>();
thread_local std::string t_cluster_id;

// How many producer ids one allocate_producer_ids command reserves.
constexpr int32_t producer_id_block = 1000;
// The metadata log is read back in pieces of this size at start-up.
constexpr size_t replay_read_bytes = 1 << 20;
// How often a follower of the metadata log applies what has been committed.
constexpr std::chrono::milliseconds follow_interval{50};
constexpr std::chrono::milliseconds relay_interval{500};

struct lock_guard {
    semaphore& s;
    ~lock_guard() { s.release(1); }
};

task<result<std::string>> load_cluster_id(const std::string& data_dir) {
    auto existing = co_await read_whole_file(data_dir + "/cluster_id");
    if (existing && !existing->empty()) {
        co_return std::string(reinterpret_cast<const char*>(existing->data()), existing->size());
    }
    std::string id = kafka_cluster_id(random_topic_id().bytes);
    auto bytes = std::as_bytes(std::span(id));
    auto written = co_await write_file_durably(data_dir, "cluster_id", bytes);
    if (!written) co_return written.error();
    co_return id;
}

// Makes the calling shard's log match the new snapshot for the partitions it owns: new topics and
// partitions are created, changed configs applied, deleted topics' data dropped (the log start
// offset moves to the end; retention frees the segments).
task<void> publish_topic_table(std::shared_ptr<const topic_table_snapshot> next) {
    auto prev = std::move(t_snapshot);
    t_snapshot = next;
    auto* s = local_services();
    if (s == nullptr) co_return;
    for (const topic_metadata* t : next->topics()) {
        const topic_metadata* old = prev->find(t->id);
        if (old != nullptr && old->overrides == t->overrides &&
            old->partitions.size() == t->partitions.size()) {
            continue;
        }
        auto pc = t->config.to_partition_config();
        for (const auto& a : t->partitions) {
            if (a.shard != this_shard()) continue;
            // A group not open yet configures its partitions when it opens (shard_services.cc).
            if (auto g = s->group(a.group)) g.log->configure_partition(a.log_partition, pc);
        }
    }
    // Dropping a deleted topic's data is a control entry, a raft entry: the group's leader
    // writes it and followers get it through replication.
    for (const topic_metadata* t : prev->topics()) {
        if (next->find(t->id) != nullptr) continue;
        for (const auto& a : t->partitions) {
            if (a.shard != this_shard()) continue;
            group_ref g = s->group(a.group);
            if (!g || !g.raft->is_leader() || !g.log->has_partition(a.log_partition)) continue;
            auto term = co_await g.raft->ready_to_append();
            if (!term) continue;
            auto end = g.log->end_offset(a.log_partition);
            if (!end) continue;
            auto r = co_await g.log->set_start_offset(a.log_partition, *end, *term);
            if (!r) {
                shard_logger().warn("dropping the data of deleted topic {} partition {}: {}",
                                    t->name, a.partition, r.error().message());
            }
        }
    }
}

}  // namespace

metadata_service* local_metadata_service() noexcept { return t_service.get(); }
void set_local_metadata_service(std::unique_ptr<metadata_service> s) { t_service = std::move(s); }
std::unique_ptr<metadata_service> take_local_metadata_service() { return std::move(t_service); }
const std::shared_ptr<const topic_table_snapshot>& metadata_snapshot() noexcept {
    return t_snapshot;
}
const std::string& local_cluster_id() noexcept { return t_cluster_id; }

metadata_service::metadata_service(const broker_config& cfg, shard_services& services)
    : _cfg(cfg), _services(services), _table(topic_defaults_from(cfg)) {}

task<result<std::unique_ptr<metadata_service>>> metadata_service::start(
    const broker_config& cfg, shard_services& services, std::string* detail) {
    std::unique_ptr<metadata_service> m(new metadata_service(cfg, services));
    // A cluster's id comes from its seeds, the same on every broker; a single broker keeps a
    // random one in its data directory.
    result<std::string> id = kafka_cluster_id(derive_cluster_id(cfg.cluster).bytes);
    if (!cfg.cluster.is_cluster()) id = co_await load_cluster_id(cfg.data_dir);
    if (!id) {
        if (detail) *detail = "cannot keep the cluster id in " + cfg.data_dir;
        co_return id.error();
    }
    m->_cluster_id = *id;
    if (!services.log->has_partition(reserved_metadata_log_partition)) {
        services.log->configure_partition(reserved_metadata_log_partition, partition_config{});
    }
    auto replayed = co_await m->apply_committed(std::nullopt);
    if (!replayed) {
        if (detail) *detail = "replaying the metadata log: " + replayed.error().message();
        co_return replayed.error();
    }
    shard_logger().info("metadata: {} commands replayed, {} topics", m->_applied_commands,
                        m->_table.state().topic_count());
    co_await m->publish();
    if (cfg.cluster.is_cluster()) {
        spawn(m->follow(m->_loop.hold()), "metadata follower");
    }
    co_return std::move(m);
}

task<result<topic_check>> metadata_service::apply_committed(std::optional<kafka_offset> mine) {
    co_await _apply_lock.acquire(1);
    lock_guard guard{_apply_lock};
    shard_log& log = *_services.log;
    const partition_id p = reserved_metadata_log_partition;
    // Only committed commands: a follower's uncommitted tail may still be replaced.
    auto committed = _services.raft->high_watermark(p);
    if (!committed) co_return committed.error();
    if (auto from = log.start_offset(p); from && _next_offset < *from) _next_offset = *from;
    topic_check mine_refused;
    uint64_t applied = 0;
    while (_next_offset < *committed) {
        auto read = co_await log.read(p, _next_offset, replay_read_bytes);
        if (!read) co_return read.error();
        if (read->empty()) break;
        auto bytes = read->linearize(0, read->size());
        while (!bytes.empty() && _next_offset < *committed) {
            auto header = read_batch_header(bytes);
            if (!header) co_return header.error();
            auto batch = bytes.subspan(0, header->total_bytes());
            record_reader records(batch_records(batch), header->records_count);
            while (!records.at_end()) {
                auto rec = records.next();
                if (!rec) co_return rec.error();
                if (!rec->value) continue;
                auto cmd = decode(*rec->value);
                if (!cmd) co_return cmd.error();
                auto refused = _table.apply(*cmd);
                if (refused) {
                    // Validation runs before a command is written, so this is a command that an
                    // earlier one overtook; every replica refuses it exactly as the first did.
                    shard_logger().debug("metadata log: command refused: {}", refused->message);
                }
                if (mine && header->base_offset == *mine) mine_refused = refused;
                ++applied;
            }
            _next_offset = header->last_offset() + 1;
            bytes = bytes.subspan(header->total_bytes());
        }
    }
    _applied_commands += applied;
    co_return mine_refused;
}

task<void> metadata_service::follow([[maybe_unused]] gate::holder hold) {
    while (!_stopping) {
        if (!co_await sleep_for(follow_interval)) co_return;
        if (_stopping) break;
        auto r = co_await apply_committed(std::nullopt);
        if (!r) {
            shard_logger().error("metadata: applying the committed log failed: {}",
                                 r.error().message());
            continue;
        }
        // Whoever applied them (this loop, or a write's catch-up that then refused its own
        // change), commands not yet published go out now.
        if (_applied_commands != _published_commands) co_await publish();
        if (_noted.empty()) continue;
        if (check_controller()) {
            co_await register_noted_brokers();
        } else {
            relay_noted_brokers();
        }
    }
}

void metadata_service::note_broker(int32_t node, host_port rpc, host_port kafka) {
    const auto& seeds = _cfg.cluster.seeds;
    bool seed = std::any_of(seeds.begin(), seeds.end(),
                            [&](const seed_broker& s) { return s.node == node; });
    if (seed || node == _cfg.cluster.node_id) return;
    _noted[node] = broker_registration{node, std::move(rpc), std::move(kafka)};
}

task<void> metadata_service::register_noted_brokers() {
    for (const auto& entry : _noted) {
        const int32_t node = entry.first;
        const broker_registration& noted = entry.second;
        const auto& registered = _table.state().registered_brokers();
        auto it = registered.find(node);
        if (it != registered.end() && it->second == noted) continue;
        if (_table.state().decommissioned(node)) continue;
        co_await _write_lock.acquire(1);
        lock_guard guard{_write_lock};
        if (auto e = co_await begin_write()) co_return;
        metadata_command cmd = register_broker_cmd{noted.node, noted.rpc, noted.kafka};
        auto refused = co_await commit(std::move(cmd));
        if (refused) {
            shard_logger().debug("cluster: registering broker {} refused: {}", node,
                                 refused->message);
        } else {
            shard_logger().info("cluster: registered broker {} (rpc {}, kafka {}); every group "
                                "adds its replica",
                                node, noted.rpc.to_string(), noted.kafka.to_string());
        }
    }
}

void metadata_service::relay_noted_brokers() {
    auto controller = _services.raft->leader();
    if (!controller || _services.transport == nullptr) return;
    const steady_time now = steady_now();
    if (now < _next_relay) return;
    _next_relay = now + relay_interval;
    const auto& registered = _table.state().registered_brokers();
    for (const auto& [node, noted] : _noted) {
        if (node_id(node) == *controller) continue;  // registered: it leads the controller
        auto it = registered.find(node);
        if ((it != registered.end() && it->second == noted) || _table.state().decommissioned(node))
            continue;
        auto hello = rpc::encode_broker_info(rpc::broker_info{.node = node_id(node),
                                                              .kafka_host = noted.kafka.host,
                                                              .kafka_port = noted.kafka.port,
                                                              .rpc_host = noted.rpc.host,
                                                              .rpc_port = noted.rpc.port});
        if (_services.transport->send_info(*controller, hello)) {
            shard_logger().debug("cluster: relayed broker {}'s hello to the controller, node {}",
                                 node, *controller);
        }
    }
}

task<topic_check> metadata_service::decommission_broker(int32_t node) {
    co_await _write_lock.acquire(1);
    lock_guard guard{_write_lock};
    if (auto e = co_await begin_write()) co_return e;
    std::vector<int32_t> members = _table.state().replica_set(_cfg.cluster.voters());
    if (!std::binary_search(members.begin(), members.end(), node)) {
        co_return topic_error{cluster_errc::broker_not_available,
                              fmt::format("broker {} is not a member of the cluster", node)};
    }
    if (members.size() == 1) {
        co_return topic_error{cluster_errc::invalid_request,
                              fmt::format("broker {} is the last broker of the cluster", node)};
    }
    // The broker's replicas of groups of fixed replica sets move to other brokers first: each
    // group's leader adds the new replica, and removes the old one once the decommission below
    // is committed (group_membership.h).
    std::vector<move_group_cmd> moves;
    if (auto e = _table.moves_for_decommission(node, members, moves)) co_return e;
    for (auto& m : moves) {
        std::string to = fmt::format("{}", fmt::join(m.replicas, ","));
        raft_group_id id = m.id;
        metadata_command move = std::move(m);
        auto refused = co_await commit(std::move(move));
        if (refused) co_return refused;
        shard_logger().info("cluster: raft group {} moves to replicas {} (broker {} leaves)", id,
                            to, node);
    }
    metadata_command cmd = decommission_broker_cmd{.node = node};
    auto refused = co_await commit(std::move(cmd));
    if (!refused) {
        shard_logger().info("cluster: broker {} decommissioned; every group removes its replica",
                            node);
    }
    co_return refused;
}

task<void> metadata_service::stop() {
    _stopping = true;
    co_await _loop.close();
}

status metadata_service::check_controller() const {
    if (_services.raft->is_leader()) return {};
    return make_error_code(cluster_errc::not_controller);
}

task<void> metadata_service::publish() {
    _published_commands = _applied_commands;
    t_cluster_id = _cluster_id;
    auto snap = _table.snapshot();
    std::vector<task<void>> installs;
    for (unsigned k = 0; k < smp::count(); ++k) {
        std::string cluster_id = _cluster_id;
        auto fn = [snap, cluster_id]() -> task<void> {
            t_cluster_id = cluster_id;
            co_await publish_topic_table(snap);
        };
        installs.push_back(submit_to(shard_id(k), std::move(fn)));
    }
    co_await when_all(std::move(installs));
}

task<topic_check> metadata_service::commit(metadata_command cmd) {
    std::vector<std::byte> encoded = encode(cmd);
    std::string_view value(reinterpret_cast<const char*>(encoded.data()), encoded.size());
    std::vector<record_to_build> records{record_to_build{.value = value}};
    auto batch = build_batch(kafka_offset(0), wall_now().value(), records);
    iobuf buf;
    buf.append(batch.data(), batch.size());
    auto written = co_await _services.raft->replicate_batch(reserved_metadata_log_partition,
                                                             std::move(buf));
    if (!written) {
        if (written.error() == raft_errc::not_leader) {
            co_return topic_error{cluster_errc::not_controller,
                                  "this broker stopped being the controller"};
        }
        co_return topic_error{cluster_errc::stale_command,
                              "the metadata log refused the change: " +
                                  written.error().message()};
    }
    // Applied in log order with everything committed before it, as every replica applies it.
    auto refused = co_await apply_committed(written->base_offset);
    if (!refused) {
        co_return topic_error{cluster_errc::stale_command,
                              "applying the metadata log failed: " + refused.error().message()};
    }
    co_await publish();
    co_return *refused;
}

// Every write starts here: only the controller writes, against a table holding every command
// committed so far.
task<topic_check> metadata_service::begin_write() {
    if (!check_controller()) {
        co_return topic_error{cluster_errc::not_controller,
                              "this broker is not the controller; ask the controller that "
                              "Metadata names"};
    }
    auto caught_up = co_await apply_committed(std::nullopt);
    if (!caught_up) {
        co_return topic_error{cluster_errc::stale_command,
                              "applying the metadata log failed: " +
                                  caught_up.error().message()};
    }
    // What the catch-up applied reaches every shard before the write is judged: a write that
    // is then refused (the topic exists already) must not leave the shards behind.
    if (_applied_commands != _published_commands) co_await publish();
    co_return std::nullopt;
}

task<create_topic_outcome> metadata_service::create_topic(std::string name, int32_t partitions,
                                                         int16_t replication_factor,
                                                         config_map configs, bool validate_only) {
    co_await _write_lock.acquire(1);
    lock_guard guard{_write_lock};
    if (partitions == -1) partitions = _cfg.default_partitions;
    create_topic_outcome out;
    out.error = co_await begin_write();
    if (out.error) co_return out;
    out.error = _table.validate_create(name, partitions, replication_factor, configs);
    if (out.error) co_return out;
    // Internal topics (__consumer_offsets) live in group 0, where the group coordinators run.
    placement placed = _table.place_replicated(0, partitions, smp::count(),
                                               is_internal_topic_name(name) ? -1
                                                                           : replication_factor,
                                               _table.state().replica_set(_cfg.cluster.voters()));
    create_topic_cmd cmd{.name = name,
                         .id = random_topic_id(),
                         .partitions = std::move(placed.partitions),
                         .configs = configs,
                         .groups = std::move(placed.groups)};
    if (validate_only) {
        topic_metadata t;
        t.name = cmd.name;
        t.id = cmd.id;
        t.partitions = cmd.partitions;
        t.overrides = cmd.configs;
        t.config = effective_topic_config::resolve(cmd.configs, _table.state().defaults());
        out.topic = std::move(t);
        co_return out;
    }
    metadata_command to_commit = cmd;
    out.error = co_await commit(std::move(to_commit));
    if (!out.error) {
        if (const auto* t = _table.find(name)) out.topic = *t;
    }
    co_return out;
}

task<topic_check> metadata_service::delete_topic(std::string name) {
    co_await _write_lock.acquire(1);
    lock_guard guard{_write_lock};
    if (auto e = co_await begin_write()) co_return e;
    if (auto e = _table.validate_delete(name)) co_return e;
    // Commands are named before they are awaited: GCC 12 destroys a temporary built inside a
    // co_await expression twice.
    metadata_command cmd = delete_topic_cmd{.id = _table.find(name)->id};
    co_return co_await commit(std::move(cmd));
}

task<topic_check> metadata_service::create_partitions(std::string name, int32_t new_total,
                                                      bool validate_only) {
    co_await _write_lock.acquire(1);
    lock_guard guard{_write_lock};
    if (auto e = co_await begin_write()) co_return e;
    if (auto e = _table.validate_create_partitions(name, new_total)) co_return e;
    if (validate_only) co_return std::nullopt;
    const topic_metadata* t = _table.find(name);
    auto current = static_cast<int32_t>(t->partitions.size());
    // New partitions keep the topic's replication factor.
    placement placed = _table.place_replicated(
        current, new_total - current, smp::count(), _table.state().replication_factor_of(*t),
        _table.state().replica_set(_cfg.cluster.voters()));
    metadata_command cmd = create_partitions_cmd{.id = t->id,
                                                 .partitions = std::move(placed.partitions),
                                                 .groups = std::move(placed.groups)};
    co_return co_await commit(std::move(cmd));
}

task<topic_check> metadata_service::alter_configs(std::string name, config_map set,
                                                  std::vector<std::string> remove,
                                                  bool validate_only) {
    co_await _write_lock.acquire(1);
    lock_guard guard{_write_lock};
    if (auto e = co_await begin_write()) co_return e;
    if (auto e = _table.validate_alter_configs(name, set, remove)) co_return e;
    if (validate_only) co_return std::nullopt;
    metadata_command cmd = alter_topic_configs_cmd{
        .id = _table.find(name)->id, .set = std::move(set), .remove = std::move(remove)};
    co_return co_await commit(std::move(cmd));
}

task<result<int64_t>> metadata_service::allocate_producer_id() {
    co_await _write_lock.acquire(1);
    lock_guard guard{_write_lock};
    if (_cfg.cluster.is_cluster()) co_return co_await allocate_local_producer_id();
    if (_next_pid >= _pid_limit) {
        int64_t first = _table.next_producer_id();
        metadata_command cmd = allocate_producer_ids_cmd{.first = first, .count = producer_id_block};
        auto refused = co_await commit(std::move(cmd));
        if (refused) co_return std::make_error_code(std::errc::io_error);
        _next_pid = first;
        _pid_limit = first + producer_id_block;
    }
    co_return _next_pid++;
}

// Any broker of a cluster hands out producer ids without the controller: ids are
// counter * max_cluster_node_ids + node id, and each broker reserves counters in blocks in its
// data directory (the file holds the first counter not reserved yet), so no id is handed out
// twice, across restarts and brokers.
task<result<int64_t>> metadata_service::allocate_local_producer_id() {
    if (_next_pid >= _pid_limit) {
        int64_t first = 0;
        auto existing = co_await read_whole_file(_cfg.data_dir + "/producer_ids");
        if (existing && !existing->empty()) {
            std::string text(reinterpret_cast<const char*>(existing->data()), existing->size());
            auto [p, ec] = std::from_chars(text.data(), text.data() + text.size(), first);
            if (ec != std::errc() || first < 0) {
                shard_logger().error("{}/producer_ids holds no counter", _cfg.data_dir);
                co_return std::make_error_code(std::errc::io_error);
            }
        }
        std::string next = std::to_string(first + producer_id_block);
        auto next_bytes = std::as_bytes(std::span(next));
        auto written = co_await write_file_durably(_cfg.data_dir, "producer_ids", next_bytes);
        if (!written) co_return written.error();
        _next_pid = first;
        _pid_limit = first + producer_id_block;
    }
    co_return _next_pid++ * max_cluster_node_ids + _cfg.cluster.node_id;
}

}  // namespace wharf
