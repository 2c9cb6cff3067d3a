// ListOffsets (key 2, v1-8), OffsetForLeaderEpoch (key 23, v2-4) and DeleteRecords (key 21,
// v0-2): per-partition offset questions answered by the owning shards.

#include "core/cluster/metadata_service.h"
#include "core/kafka/errors.h"
#include "core/kafka/handlers.h"
#include "core/kafka/partition_ops.h"
#include "core/kafka/scatter.h"

namespace wharf::kafka {

namespace {

// One requested partition: where it lives (or why it cannot be asked) and the question.
struct routed_query {
    bool routed = false;
    int16_t error = 0;
};

// Routes every partition of every topic (topics[t].partitions[p], located by name(topic) and
// index(partition), the question built by query(partition)), asks the owning shards with
// on_shard, and returns the answers in request order (unrouted ones carry their error).
template <typename Topics, typename Name, typename Index, typename Query, typename OnShard>
task<std::vector<offset_answer>> ask_owners(const Topics& topics, Name name, Index index,
                                            Query query, OnShard on_shard) {
    auto snapshot = metadata_snapshot();
    std::vector<routed_query> plan;
    std::vector<std::pair<shard_id, offset_query>> items;
    for (const auto& t : topics) {
        for (const auto& p : t.partitions) {
            const partition_assignment* a = snapshot->assignment(name(t), index(p));
            routed_query r;
            if (a == nullptr) {
                r.error = code(error_code::unknown_topic_or_partition);
            } else {
                r.routed = true;
                offset_query q = query(p);
                q.log_partition = a->log_partition;
                q.group = a->group;
                items.emplace_back(a->shard, q);
            }
            plan.push_back(r);
        }
    }
    auto answers = co_await scatter(std::move(items), on_shard);
    std::vector<offset_answer> out;
    out.reserve(plan.size());
    size_t next = 0;
    for (const auto& r : plan) {
        if (r.routed) {
            out.push_back(std::move(answers[next++]));
        } else {
            out.push_back(offset_answer{.error_code = r.error});
        }
    }
    co_return out;
}

}  // namespace

task<list_offsets_response> handle_list_offsets(request_context& ctx, list_offsets_request req) {
    const int16_t v = ctx.version();
    auto on_shard = [](std::vector<offset_query> q) { return list_offsets_on_shard(std::move(q)); };
    auto answers = co_await ask_owners(
        req.topics, [](const auto& t) -> const std::string& { return t.name; },
        [](const auto& p) { return p.partition_index; },
        [](const auto& p) {
            return offset_query{.timestamp = p.timestamp,
                                .current_leader_epoch = p.current_leader_epoch};
        },
        on_shard);
    list_offsets_response resp;
    size_t k = 0;
    for (const auto& t : req.topics) {
        auto& rt = resp.topics.emplace_back();
        rt.name = t.name;
        for (const auto& p : t.partitions) {
            const offset_answer& a = answers[k++];
            auto& rp = rt.partitions.emplace_back();
            rp.partition_index = p.partition_index;
            // -3 (max timestamp) exists from v7 on.
            rp.error_code = (p.timestamp == -3 && v < 7) ? code(error_code::unsupported_version)
                                                         : a.error_code;
            rp.offset = a.offset;
            rp.timestamp = a.timestamp;
            rp.leader_epoch = a.leader_epoch;
        }
    }
    co_return resp;
}

task<offset_for_leader_epoch_response> handle_offset_for_leader_epoch(
    request_context&, offset_for_leader_epoch_request req) {
    auto on_shard = [](std::vector<offset_query> q) {
        return end_offsets_for_epochs_on_shard(std::move(q));
    };
    auto answers = co_await ask_owners(
        req.topics, [](const auto& t) -> const std::string& { return t.topic; },
        [](const auto& p) { return p.partition; },
        [](const auto& p) {
            return offset_query{.timestamp = p.leader_epoch,
                                .current_leader_epoch = p.current_leader_epoch};
        },
        on_shard);
    offset_for_leader_epoch_response resp;
    size_t k = 0;
    for (const auto& t : req.topics) {
        auto& rt = resp.topics.emplace_back();
        rt.topic = t.topic;
        for (const auto& p : t.partitions) {
            const offset_answer& a = answers[k++];
            auto& rp = rt.partitions.emplace_back();
            rp.partition = p.partition;
            rp.error_code = a.error_code;
            rp.leader_epoch = a.leader_epoch;
            rp.end_offset = a.offset;
        }
    }
    co_return resp;
}

task<delete_records_response> handle_delete_records(request_context&,
                                                    delete_records_request req) {
    auto on_shard = [](std::vector<offset_query> q) {
        return delete_records_on_shard(std::move(q));
    };
    auto answers = co_await ask_owners(
        req.topics, [](const auto& t) -> const std::string& { return t.name; },
        [](const auto& p) { return p.partition_index; },
        [](const auto& p) { return offset_query{.timestamp = p.offset}; }, on_shard);
    delete_records_response resp;
    size_t k = 0;
    for (const auto& t : req.topics) {
        auto& rt = resp.topics.emplace_back();
        rt.name = t.name;
        for (const auto& p : t.partitions) {
            const offset_answer& a = answers[k++];
            auto& rp = rt.partitions.emplace_back();
            rp.partition_index = p.partition_index;
            rp.error_code = a.error_code;
            rp.low_watermark = a.offset;
        }
    }
    co_return resp;
}

}  // namespace wharf::kafka
