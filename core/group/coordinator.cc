#include "core/group/coordinator.h"

#include <algorithm>

#include <fmt/format.h>

#include "core/cluster/metadata_service.h"
#include "core/group/offsets_format.h"
#include "core/kafka/errors.h"
#include "core/shard_services.h"
#include "log/record_batch.h"
#include "log/record_reader.h"
#include "reactor/clock.h"
#include "reactor/logger.h"
#include "reactor/smp.h"
#include "reactor/spawn.h"
#include "reactor/submit_to.h"
#include "reactor/timer.h"
#include "reactor/when_all.h"

namespace wharf::groups {

namespace {

thread_local std::unique_ptr<coordinator> t_coordinator;

constexpr size_t load_read_bytes = 1 << 20;
constexpr auto tick_interval = std::chrono::milliseconds(50);

std::span<const uint8_t> as_u8(std::span<const std::byte> b) {
    return {reinterpret_cast<const uint8_t*>(b.data()), b.size()};
}

std::string_view as_view(const std::vector<uint8_t>& b) {
    return {reinterpret_cast<const char*>(b.data()), b.size()};
}

group_config group_config_from(const broker_config& cfg) {
    group_config g;
    g.min_session_timeout_ms = static_cast<int32_t>(cfg.group_min_session_timeout.count());
    g.max_session_timeout_ms = static_cast<int32_t>(cfg.group_max_session_timeout.count());
    g.initial_rebalance_delay_ms =
        static_cast<int32_t>(cfg.group_initial_rebalance_delay.count());
    return g;
}

}  // namespace

coordinator* local_coordinator() noexcept { return t_coordinator.get(); }

coordinator::coordinator(const broker_config& cfg) : _cfg(cfg), _group_cfg(group_config_from(cfg)) {}
coordinator::~coordinator() = default;

timestamp_ms coordinator::now() {
    _last_now = std::max(_last_now, wall_now().value());
    return timestamp_ms(_last_now);
}

bool coordinator::loaded(int32_t offsets_partition) const {
    auto it = _partitions.find(offsets_partition);
    return it != _partitions.end() && it->second.loaded;
}

group_registry* coordinator::registry(int32_t offsets_partition) {
    auto it = _partitions.find(offsets_partition);
    if (it == _partitions.end() || !it->second.loaded || _stopping) return nullptr;
    return it->second.groups.get();
}

std::vector<group_listing> coordinator::list() const {
    std::vector<group_listing> out;
    for (const auto& [index, p] : _partitions) {
        if (!p.loaded) continue;
        auto l = p.groups->list();
        out.insert(out.end(), l.begin(), l.end());
    }
    return out;
}

task<void> coordinator::load(std::vector<std::pair<int32_t, partition_id>> owned) {
    for (auto [index, p] : owned) {
        _partitions[index] =
            partition_state{p, false, std::make_unique<group_registry>(_group_cfg), {}};
    }
    co_await follow_leadership();
}

// Groups live where their partitions' raft group leads: a replica that becomes leader loads
// the groups from its log (the writes of the previous coordinator included), and one that
// stops leading forgets them, answering its waiting members NOT_COORDINATOR.
task<void> coordinator::follow_leadership() {
    auto* s = local_services();
    if (s == nullptr || _stopping || _reloading) co_return;
    if (!s->raft->is_leader()) {
        if (_loaded_term == term_id(-1)) co_return;
        _loaded_term = term_id(-1);
        auto t = now();
        for (auto& [index, p] : _partitions) {
            if (p.loaded) p.groups->unload_all(t);
            p.loaded = false;
        }
        co_return;
    }
    if (_loaded_term == s->raft->term()) co_return;
    _reloading = true;
    // The log first holds every entry raft has, durably (a new leader may still be writing what
    // it received as a follower, and reads see only durable entries: commits among it would be
    // missed).
    auto ready = co_await s->raft->ready_to_read_everything();
    if (!ready) {
        _reloading = false;
        co_return;
    }
    term_id term = *ready;
    auto t = now();
    for (auto& [index, p] : _partitions) {
        if (p.loaded) p.groups->unload_all(t);
        p.loaded = false;
    }
    for (auto& [index, p] : _partitions) {
        // A fresh registry. Requests in flight may still point into the old one (unload_all
        // answered them): it is kept until the next reload, elections apart.
        p.retired.clear();
        p.retired.push_back(std::move(p.groups));
        p.groups = std::make_unique<group_registry>(_group_cfg);
        co_await load_partition(index, p.log_partition);
    }
    _loaded_term = term;
    _reloading = false;
}

task<void> coordinator::load_partition(int32_t index, partition_id p) {
    shard_log& log = *local_services()->log;
    group_registry& groups = *_partitions[index].groups;
    auto start = log.start_offset(p);
    auto end = log.end_offset(p);
    size_t records = 0;
    size_t skipped = 0;
    if (start && end) {
        kafka_offset next = *start;
        while (next < *end) {
            auto read = co_await log.read(p, next, load_read_bytes);
            if (!read || read->size() == 0) break;
            auto bytes_read = read->linearize(0, read->size());
            while (!bytes_read.empty()) {
                auto h = read_batch_header(bytes_read);
                if (!h) break;
                auto batch = bytes_read.subspan(0, h->total_bytes());
                next = h->last_offset() + 1;
                bytes_read = bytes_read.subspan(h->total_bytes());
                if (h->compression() != compression_type::none || h->is_control()) continue;
                record_reader reader(batch_records(batch), h->records_count);
                while (!reader.at_end()) {
                    auto rec = reader.next();
                    if (!rec || !rec->key) break;
                    std::optional<std::span<const uint8_t>> value;
                    if (rec->value) value = as_u8(*rec->value);
                    if (groups.apply(as_u8(*rec->key), value, now())) {
                        ++records;
                    } else {
                        ++skipped;
                    }
                }
            }
        }
    }
    groups.finish_load(now());
    _partitions[index].loaded = true;
    if (records + skipped > 0) {
        shard_logger().info("groups: {} partition {} loaded: {} records, {} groups{}",
                            offsets_topic, index, records, groups.size(),
                            skipped > 0 ? fmt::format(", {} undecodable records skipped", skipped)
                                        : std::string());
    }
}

task<error_code> coordinator::write(int32_t offsets_partition, std::vector<offsets_record> records) {
    auto it = _partitions.find(offsets_partition);
    if (it == _partitions.end() || _stopping) co_return error_code::not_coordinator;
    std::vector<record_to_build> build;
    build.reserve(records.size());
    for (const auto& r : records) {
        record_to_build b{.key = as_view(r.key)};
        if (r.value) b.value = as_view(*r.value);
        build.push_back(std::move(b));
    }
    auto batch = build_batch(kafka_offset(0), now().value(), build);
    iobuf buf;
    buf.append(batch.data(), batch.size());
    auto written = co_await local_services()->raft->replicate_batch(it->second.log_partition,
                                                                    std::move(buf));
    if (!written) {
        shard_logger().warn("groups: writing to {} partition {} failed: {}", offsets_topic,
                            offsets_partition, written.error().message());
        co_return kafka::to_kafka_error(written.error()) == error_code::not_leader_or_follower
            ? error_code::not_coordinator
            : error_code::unknown_server_error;
    }
    co_return error_code::none;
}

void coordinator::after_change(int32_t offsets_partition, group& g) {
    if (!g.needs_store() || _stopping) return;
    // One store at a time per group: the group keeps needs_store() raised until store_done.
    std::string key = fmt::format("{}/{}", offsets_partition, g.id());
    if (std::find(_storing.begin(), _storing.end(), key) != _storing.end()) return;
    auto hold = _gate.hold();
    if (!hold) return;
    _storing.push_back(key);
    auto store = [](coordinator* c, int32_t p, std::string id, int32_t generation,
                    gate::holder) -> task<void> {
        co_await c->store_metadata(p, std::move(id), generation);
    };
    spawn(store(this, offsets_partition, g.id(), g.generation(), std::move(hold)),
          "group metadata store");
}

task<void> coordinator::store_metadata(int32_t offsets_partition, std::string group_id,
                                       int32_t generation) {
    error_code e = error_code::not_coordinator;
    group_registry* groups = registry(offsets_partition);
    if (group* g = groups == nullptr ? nullptr : groups->find(group_id)) {
        std::vector<offsets_record> records{group_registry::records_for_group(*g)};
        e = co_await write(offsets_partition, std::move(records));
    }
    std::erase(_storing, fmt::format("{}/{}", offsets_partition, group_id));
    groups = registry(offsets_partition);
    if (group* g = groups == nullptr ? nullptr : groups->find(group_id)) {
        g->store_done(generation, e, now());
        after_change(offsets_partition, *g);
    }
}

// Stores every group of the partition that asks for it (after a tick changed them).
void coordinator::store_pending(int32_t offsets_partition) {
    group_registry* groups = registry(offsets_partition);
    if (groups == nullptr) return;
    for (const auto& l : groups->list()) {
        if (group* g = groups->find(l.group_id)) after_change(offsets_partition, *g);
    }
}

void coordinator::expire_offsets() {
    auto t = now();
    const int64_t retention_ms =
        std::chrono::duration_cast<std::chrono::milliseconds>(_cfg.offsets_retention).count();
    for (auto& [index, p] : _partitions) {
        if (!p.loaded) continue;
        auto tombstones = p.groups->expire_offsets(t, retention_ms);
        if (tombstones.empty()) continue;
        auto write_them = [](coordinator* c, int32_t partition, std::vector<offsets_record> r,
                             gate::holder) -> task<void> {
            co_await c->write(partition, std::move(r));
        };
        if (auto hold = _gate.hold()) {
            spawn(write_them(this, index, std::move(tombstones), std::move(hold)),
                  "offset expiry");
        }
    }
}

void coordinator::start_timer() {
    // Kafka's cleanup runs every offsets.retention.check.interval.ms; the first sweep is one
    // interval after start, so a group emptied just after start-up is still listed as Empty.
    _last_expiry = now().value();
    if (auto hold = _gate.hold()) spawn(timer_loop(std::move(hold)), "group timer");
}

task<void> coordinator::timer_loop(gate::holder) {
    while (!_stopping) {
        if (!co_await sleep_for(tick_interval)) break;
        if (_stopping) break;
        co_await follow_leadership();
        if (_stopping) break;
        auto t = now();
        for (auto& [index, p] : _partitions) {
            if (!p.loaded) continue;
            auto d = p.groups->next_deadline();
            if (!d || *d > t) continue;
            p.groups->tick(t);
            store_pending(index);
        }
        if (t.value() - _last_expiry >= _cfg.offsets_retention_check_interval.count()) {
            _last_expiry = t.value();
            expire_offsets();
        }
    }
}

void coordinator::unload_all() {
    _stopping = true;
    auto t = now();
    for (auto& [index, p] : _partitions) {
        if (p.loaded) p.groups->unload_all(t);
    }
}

task<void> coordinator::stop() {
    unload_all();
    co_await _gate.close();
}

task<bool> start_group_coordinators(const broker_config& cfg) {
    auto* m = local_metadata_service();
    WHARF_ASSERT(m != nullptr, "group coordinators start on shard 0 after the metadata service");
    // In a cluster the controller creates the topic; the other brokers wait for its command to
    // reach them (a broker without a quorum of its cluster waits here, not yet serving).
    auto waiting_since = steady_now();
    auto last_note = waiting_since;
    while (m->table().find(offsets_topic) == nullptr) {
        // No time or size retention: committed offsets live until their group's retention
        // removes them. (Kafka compacts this topic; Wharf's log has no compaction yet.)
        config_map configs{{"cleanup.policy", "compact"}, {"retention.ms", "-1"}};
        auto out = co_await m->create_topic(offsets_topic, cfg.offsets_partitions, -1,
                                            std::move(configs), false);
        if (!out.error || out.error->code == cluster_errc::topic_already_exists) continue;
        if (out.error->code != cluster_errc::not_controller) {
            shard_logger().critical("cannot create {}: {}", offsets_topic, out.error->message);
            co_return false;
        }
        if (steady_now() - last_note > std::chrono::seconds(5)) {
            last_note = steady_now();
            shard_logger().info("waiting for the cluster's controller to create {} ({} s)",
                                offsets_topic,
                                std::chrono::duration_cast<std::chrono::seconds>(
                                    last_note - waiting_since).count());
        }
        if (!co_await sleep_for(std::chrono::milliseconds(100))) co_return false;
    }
    const topic_metadata* t = m->table().find(offsets_topic);
    std::vector<std::vector<std::pair<int32_t, partition_id>>> owned(smp::count());
    for (const auto& a : t->partitions) {
        owned[a.shard.value()].emplace_back(a.partition, a.log_partition);
    }
    const broker_config* c = &cfg;
    std::vector<task<void>> starts;
    for (unsigned k = 0; k < smp::count(); ++k) {
        auto fn = [c, mine = std::move(owned[k])]() mutable -> task<void> {
            t_coordinator = std::make_unique<coordinator>(*c);
            co_await t_coordinator->load(std::move(mine));
            t_coordinator->start_timer();
        };
        starts.push_back(submit_to(shard_id(k), std::move(fn)));
    }
    co_await when_all(std::move(starts));
    co_return true;
}

task<void> stop_group_coordinators() {
    std::vector<task<void>> stops;
    for (unsigned k = 0; k < smp::count(); ++k) {
        stops.push_back(submit_to(shard_id(k), []() -> task<void> {
            if (!t_coordinator) co_return;
            co_await t_coordinator->stop();
            t_coordinator.reset();
        }));
    }
    co_await when_all(std::move(stops));
}

}  // namespace wharf::groups
