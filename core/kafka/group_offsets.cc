// OffsetCommit (key 8, v2-8), OffsetFetch (key 9, v1-8) and OffsetDelete (key 47, v0): committed
// offsets live in the group on its coordinator shard and, durably, in __consumer_offsets; a
// commit answers once its records are committed.

#include <map>

#include "core/cluster/metadata_service.h"
#include "core/kafka/errors.h"
#include "core/kafka/group_route.h"
#include "core/kafka/handlers.h"
#include "reactor/submit_to.h"

namespace wharf::kafka {

namespace {

// Kafka's offset.metadata.max.bytes.
constexpr size_t max_offset_metadata_bytes = 4096;

struct commit_item {
    groups::topic_partition tp;
    groups::committed_offset value;
    error_code error = error_code::none;
};

// Runs on the coordinator shard: validates, writes and records the commit.
task<std::vector<commit_item>> commit_on_coordinator(std::string group_id, int32_t partition,
                                                     std::string member_id,
                                                     std::optional<std::string> instance_id,
                                                     int32_t generation,
                                                     std::vector<commit_item> items) {
    auto c = coordinator_for(partition);
    auto fail_all = [&items](error_code err) {
        for (auto& i : items) i.error = err;
        return std::move(items);
    };
    if (!c) co_return fail_all(c.error);
    // As Kafka's KafkaApis: unknown partitions are answered before the group is consulted, and
    // a request left with none does not reach the group (no "simple" group is created for it).
    auto snapshot = metadata_snapshot();
    bool any_known = false;
    for (auto& i : items) {
        if (snapshot->assignment(i.tp.topic, i.tp.partition) == nullptr) {
            i.error = error_code::unknown_topic_or_partition;
        } else {
            any_known = true;
        }
    }
    if (!any_known) co_return std::move(items);
    error_code e = c.groups->validate_commit(group_id, member_id, instance_id, generation,
                                             c.coordinator->now());
    if (e != error_code::none) {
        for (auto& i : items) {
            if (i.error == error_code::none) i.error = e;
        }
        co_return std::move(items);
    }
    std::vector<std::pair<groups::topic_partition, groups::committed_offset>> valid;
    for (auto& i : items) {
        if (i.error != error_code::none) continue;
        if (i.value.metadata.size() > max_offset_metadata_bytes) {
            i.error = error_code::offset_metadata_too_large;
        } else {
            valid.emplace_back(i.tp, i.value);
        }
    }
    if (valid.empty()) co_return std::move(items);
    e = co_await c.coordinator->write(partition,
                                      groups::group_registry::records_for_commit(group_id, valid));
    // The partition may have been unloaded while the write was in flight.
    groups::group_registry* reg = c.coordinator->registry(partition);
    groups::group* g = reg == nullptr ? nullptr : reg->find(group_id);
    for (auto& i : items) {
        if (i.error != error_code::none) continue;
        if (e != error_code::none || g == nullptr) {
            i.error = e != error_code::none ? e : error_code::not_coordinator;
        } else {
            g->commit_offset(i.tp, i.value);
        }
    }
    co_return std::move(items);
}

}  // namespace

task<offset_commit_response> handle_offset_commit(request_context& ctx, offset_commit_request req) {
    offset_commit_response resp;
    // Kafka takes commits for the empty group id (backwards compatibility).
    auto route = route_group(req.group_id, true);
    std::vector<commit_item> items;
    const auto now_ms = wall_now();
    for (const auto& t : req.topics) {
        for (const auto& p : t.partitions) {
            commit_item i;
            i.tp = {t.name, p.partition_index};
            i.value.offset = p.committed_offset;
            i.value.leader_epoch = p.committed_leader_epoch;
            i.value.metadata = p.committed_metadata.value_or("");
            i.value.commit_timestamp = now_ms;
            if (ctx.version() <= 4 && req.retention_time_ms >= 0) {
                i.value.expire_timestamp = timestamp_ms(now_ms.value() + req.retention_time_ms);
            }
            i.error = route.error;
            items.push_back(std::move(i));
        }
    }
    if (route.error == error_code::none) {
        auto fn = [group_id = req.group_id, partition = route.partition, member = req.member_id,
                   instance = req.group_instance_id, generation = req.generation_id_or_member_epoch,
                   items = std::move(items)]() mutable {
            return commit_on_coordinator(group_id, partition, member, instance, generation,
                                         std::move(items));
        };
        items = co_await submit_to(route.shard, std::move(fn));
    }
    std::map<std::string, size_t> topic_index;
    for (const auto& i : items) {
        auto [it, fresh] = topic_index.emplace(i.tp.topic, resp.topics.size());
        if (fresh) resp.topics.emplace_back().name = i.tp.topic;
        auto& p = resp.topics[it->second].partitions.emplace_back();
        p.partition_index = i.tp.partition;
        p.error_code = code(i.error);
    }
    co_return resp;
}

namespace {

struct fetched_group {
    error_code error = error_code::none;
    // nullopt: every committed offset of the group.
    std::optional<std::vector<groups::topic_partition>> wanted;
    std::vector<std::pair<groups::topic_partition, groups::committed_offset>> found;
    std::vector<groups::topic_partition> missing;
};

task<fetched_group> fetch_group_offsets(
    std::string group_id, std::optional<std::vector<groups::topic_partition>> wanted) {
    fetched_group out;
    out.wanted = wanted;
    auto route = route_group(group_id, true);
    if (route.error != error_code::none) {
        out.error = route.error;
        co_return out;
    }
    auto fn = [group_id, partition = route.partition, wanted = std::move(wanted)]() {
        fetched_group f;
        f.wanted = wanted;
        auto c = coordinator_for(partition);
        f.error = c.error;
        if (!c) return f;
        groups::group* g = c.groups->find(group_id);
        if (!wanted) {
            if (g != nullptr) {
                for (const auto& [tp, v] : g->offsets()) f.found.emplace_back(tp, v);
            }
            return f;
        }
        for (const auto& tp : *wanted) {
            const groups::committed_offset* v = g == nullptr ? nullptr : g->offset(tp);
            if (v != nullptr) {
                f.found.emplace_back(tp, *v);
            } else {
                f.missing.push_back(tp);
            }
        }
        return f;
    };
    co_return co_await submit_to(route.shard, std::move(fn));
}

// Fills a response topic list (the v0-7 and v8 layouts differ only in names) from one group.
template <typename Topics>
void fill_topics(Topics& topics, const fetched_group& f) {
    std::map<std::string, size_t> index;
    auto slot = [&](const std::string& name) -> auto& {
        auto [it, fresh] = index.emplace(name, topics.size());
        if (fresh) topics.emplace_back().name = name;
        return topics[it->second].partitions.emplace_back();
    };
    for (const auto& [tp, v] : f.found) {
        auto& p = slot(tp.topic);
        p.partition_index = tp.partition;
        p.committed_offset = v.offset;
        p.committed_leader_epoch = v.leader_epoch;
        p.metadata = v.metadata;
        p.error_code = 0;
    }
    for (const auto& tp : f.missing) {
        auto& p = slot(tp.topic);
        p.partition_index = tp.partition;
        p.committed_offset = -1;
        p.committed_leader_epoch = -1;
        p.metadata = "";
        p.error_code = 0;
    }
}

template <typename TopicList>
std::optional<std::vector<groups::topic_partition>> wanted_of(const TopicList& topics) {
    if (!topics) return std::nullopt;
    std::vector<groups::topic_partition> out;
    for (const auto& t : *topics) {
        for (int32_t p : t.partition_indexes) out.push_back({t.name, p});
    }
    return out;
}

}  // namespace

task<offset_fetch_response> handle_offset_fetch(request_context& ctx, offset_fetch_request req) {
    offset_fetch_response resp;
    if (ctx.version() >= 8) {
        for (const auto& g : req.groups) {
            auto f = co_await fetch_group_offsets(g.group_id, wanted_of(g.topics));
            auto& out = resp.groups.emplace_back();
            out.group_id = g.group_id;
            out.error_code = code(f.error);
            if (f.error == error_code::none) fill_topics(out.topics, f);
        }
        co_return resp;
    }
    auto f = co_await fetch_group_offsets(req.group_id, wanted_of(req.topics));
    resp.error_code = code(f.error);
    if (f.error == error_code::none) {
        fill_topics(resp.topics, f);
    } else if (ctx.version() < 2 && req.topics) {
        // Version 0-1 have no top-level error: every partition carries it.
        for (const auto& t : *req.topics) {
            auto& rt = resp.topics.emplace_back();
            rt.name = t.name;
            for (int32_t p : t.partition_indexes) {
                auto& rp = rt.partitions.emplace_back();
                rp.partition_index = p;
                rp.committed_offset = -1;
                rp.error_code = code(f.error);
            }
        }
    }
    co_return resp;
}

task<offset_delete_response> handle_offset_delete(request_context&, offset_delete_request req) {
    offset_delete_response resp;
    auto route = route_group(req.group_id);
    if (route.error != error_code::none) {
        resp.error_code = code(route.error);
        co_return resp;
    }
    std::vector<groups::topic_partition> wanted;
    for (const auto& t : req.topics) {
        for (const auto& p : t.partitions) wanted.push_back({t.name, p.partition_index});
    }
    auto fn = [group_id = req.group_id, partition = route.partition,
               wanted]() mutable -> task<groups::offset_delete_result> {
        auto c = coordinator_for(partition);
        if (!c) co_return groups::offset_delete_result{.error = c.error};
        std::vector<groups::offsets_record> tombstones;
        auto r = c.groups->delete_offsets(group_id, wanted, tombstones);
        if (!tombstones.empty()) {
            auto w = co_await c.coordinator->write(partition, std::move(tombstones));
            if (w != error_code::none) r.error = w;
        }
        co_return r;
    };
    auto r = co_await submit_to(route.shard, std::move(fn));
    resp.error_code = code(r.error);
    std::map<std::string, size_t> index;
    for (const auto& [tp, err] : r.partitions) {
        auto [it, fresh] = index.emplace(tp.topic, resp.topics.size());
        if (fresh) resp.topics.emplace_back().name = tp.topic;
        auto& p = resp.topics[it->second].partitions.emplace_back();
        p.partition_index = tp.partition;
        p.error_code = code(err);
    }
    co_return resp;
}

}  // namespace wharf::kafka
