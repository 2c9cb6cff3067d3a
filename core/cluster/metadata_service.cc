#include "core/cluster/metadata_service.h"

#include <fmt/format.h>

#include "core/shard_services.h"
#include "log/durable_file.h"
#include "log/record_batch.h"
#include "log/record_reader.h"
#include "reactor/clock.h"
#include "reactor/logger.h"
#include "reactor/smp.h"
#include "reactor/submit_to.h"
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

struct lock_guard {
    semaphore& s;
    ~lock_guard() { s.release(1); }
};

// Kafka's cluster ids are 22 characters: a UUID in URL-safe base64 without padding.
std::string encode_cluster_id(const topic_id& id) {
    static constexpr char alphabet[] =
        "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_";
    std::string out;
    uint32_t acc = 0;
    int bits = 0;
    for (uint8_t b : id.bytes) {
        acc = (acc << 8) | b;
        bits += 8;
        while (bits >= 6) {
            out += alphabet[(acc >> (bits - 6)) & 0x3f];
            bits -= 6;
        }
    }
    if (bits > 0) out += alphabet[(acc << (6 - bits)) & 0x3f];
    return out;
}

task<result<std::string>> load_cluster_id(const std::string& data_dir) {
    auto existing = co_await read_whole_file(data_dir + "/cluster_id");
    if (existing && !existing->empty()) {
        co_return std::string(reinterpret_cast<const char*>(existing->data()), existing->size());
    }
    std::string id = encode_cluster_id(random_topic_id());
    auto bytes = std::as_bytes(std::span(id));
    auto written = co_await write_file_durably(data_dir, "cluster_id", bytes);
    if (!written) co_return written.error();
    co_return id;
}

// Makes the calling shard's log match the new snapshot for the partitions it owns: new topics and
// partitions are created, changed configs applied, deleted topics' data dropped (the log start
// offset moves to the end; retention frees the segments).
task<void> install_snapshot(std::shared_ptr<const topic_table_snapshot> next) {
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
            if (a.shard == this_shard()) s->log->configure_partition(a.log_partition, pc);
        }
    }
    // Dropping a deleted topic's data is a control entry, a raft entry: the group's leader
    // writes it and followers get it through replication.
    if (!s->raft->is_leader()) co_return;
    for (const topic_metadata* t : prev->topics()) {
        if (next->find(t->id) != nullptr) continue;
        for (const auto& a : t->partitions) {
            if (a.shard != this_shard() || !s->log->has_partition(a.log_partition)) continue;
            auto end = s->log->end_offset(a.log_partition);
            if (!end) continue;
            auto r = co_await s->log->set_start_offset(a.log_partition, *end, s->raft->term());
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
    auto id = co_await load_cluster_id(cfg.data_dir);
    if (!id) {
        if (detail) *detail = "cannot keep the cluster id in " + cfg.data_dir;
        co_return id.error();
    }
    m->_cluster_id = *id;
    if (!services.log->has_partition(reserved_metadata_log_partition)) {
        services.log->configure_partition(reserved_metadata_log_partition, partition_config{});
    }
    if (auto s = co_await m->replay(); !s) {
        if (detail) *detail = "replaying the metadata log: " + s.error().message();
        co_return s.error();
    }
    co_await m->publish();
    co_return std::move(m);
}

task<status> metadata_service::replay() {
    shard_log& log = *_services.log;
    const partition_id p = reserved_metadata_log_partition;
    auto from = log.start_offset(p);
    if (!from) co_return from.error();
    kafka_offset next = *from;
    uint64_t applied = 0;
    while (true) {
        auto end = log.end_offset(p);
        if (!end) co_return end.error();
        if (next >= *end) break;
        auto read = co_await log.read(p, next, replay_read_bytes);
        if (!read) co_return read.error();
        auto bytes = read->linearize(0, read->size());
        while (!bytes.empty()) {
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
                if (auto refused = _table.apply(*cmd)) {
                    // Validation runs before a command is written, so this is a command that an
                    // earlier one overtook; replay refuses it exactly as the first apply did.
                    shard_logger().debug("metadata log: command refused on replay: {}",
                                         refused->message);
                }
                ++applied;
            }
            next = header->last_offset() + 1;
            bytes = bytes.subspan(header->total_bytes());
        }
    }
    shard_logger().info("metadata: {} commands replayed, {} topics", applied,
                        _table.state().topic_count());
    co_return status{};
}

task<void> metadata_service::publish() {
    t_cluster_id = _cluster_id;
    auto snap = _table.snapshot();
    std::vector<task<void>> installs;
    for (unsigned k = 0; k < smp::count(); ++k) {
        std::string cluster_id = _cluster_id;
        auto fn = [snap, cluster_id]() -> task<void> {
            t_cluster_id = cluster_id;
            co_await install_snapshot(snap);
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
        co_return topic_error{cluster_errc::stale_command,
                              "the metadata log refused the change: " +
                                  written.error().message()};
    }
    auto refused = _table.apply(cmd);
    co_await publish();
    co_return refused;
}

task<create_topic_outcome> metadata_service::create_topic(std::string name, int32_t partitions,
                                                         int16_t replication_factor,
                                                         config_map configs, bool validate_only) {
    co_await _write_lock.acquire(1);
    lock_guard guard{_write_lock};
    if (partitions == -1) partitions = _cfg.default_partitions;
    create_topic_outcome out;
    out.error = _table.validate_create(name, partitions, replication_factor, configs);
    if (out.error) co_return out;
    create_topic_cmd cmd{.name = name,
                         .id = random_topic_id(),
                         .partitions = _table.place(0, partitions, smp::count()),
                         .configs = configs};
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
    if (auto e = _table.validate_create_partitions(name, new_total)) co_return e;
    if (validate_only) co_return std::nullopt;
    const topic_metadata* t = _table.find(name);
    auto current = static_cast<int32_t>(t->partitions.size());
    metadata_command cmd = create_partitions_cmd{
        .id = t->id, .partitions = _table.place(current, new_total - current, smp::count())};
    co_return co_await commit(std::move(cmd));
}

task<topic_check> metadata_service::alter_configs(std::string name, config_map set,
                                                  std::vector<std::string> remove,
                                                  bool validate_only) {
    co_await _write_lock.acquire(1);
    lock_guard guard{_write_lock};
    if (auto e = _table.validate_alter_configs(name, set, remove)) co_return e;
    if (validate_only) co_return std::nullopt;
    metadata_command cmd = alter_topic_configs_cmd{
        .id = _table.find(name)->id, .set = std::move(set), .remove = std::move(remove)};
    co_return co_await commit(std::move(cmd));
}

task<result<int64_t>> metadata_service::allocate_producer_id() {
    co_await _write_lock.acquire(1);
    lock_guard guard{_write_lock};
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

}  // namespace wharf
