// Fetch (key 1), versions 4-16: sessionless fetches (a session id of 0 is answered with 0, so
// clients keep sending full requests), long polling on max_wait_ms / min_bytes woken by appends,
// response and per-partition byte limits, topic ids from v13, and leader discovery (KIP-951): a
// partition refused NOT_LEADER_OR_FOLLOWER or FENCED_LEADER_EPOCH names its leader (v12+) and
// the response lists that leader's endpoint (v16+). A consumer whose last fetched epoch (v12+)
// ended on this leader before its fetch offset gets that epoch's end as DivergingEpoch instead of
// records (KIP-320), from the partition's leader epochs (shard_log::end_offset_for_epoch).
// v14 (KIP-405) and v15 (KIP-903: the ReplicaId moves into the tagged ReplicaState) change
// nothing here: every fetch is served as a consumer's, whatever replica it names (replication
// is raft's, not Kafka's follower fetching).

#include <algorithm>
#include <chrono>
#include <optional>

#include "core/cluster/metadata_service.h"
#include "core/kafka/cluster_view.h"
#include "core/kafka/errors.h"
#include "core/kafka/handlers.h"
#include "core/kafka/leader_hint.h"
#include "core/kafka/partition_ops.h"
#include "core/kafka/scatter.h"
#include "core/metrics/kafka_metrics.h"
#include "reactor/clock.h"

namespace wharf::kafka {

namespace {

using partition_response = fetch_response::partition_data;

// Where each requested partition lives, or the error it gets without being read.
struct planned_partition {
    size_t topic = 0;
    int16_t error = 0;
    bool routed = false;
    shard_id shard{0};
};

// Sums the answers in request order, dropping the records of partitions past max_bytes (they are
// read again by the next fetch); the first partition with data is always kept.
size_t trim_to_limit(std::vector<fetch_part_result>& results, size_t max_bytes) {
    size_t total = 0;
    for (auto& r : results) {
        if (r.records.size() == 0) continue;
        if (total > 0 && total + r.records.size() > max_bytes) {
            r.records = iobuf();
            continue;
        }
        total += r.records.size();
    }
    return total;
}

// KIP-951: where the client should go instead of this partition's answer, for the errors that
// say it asked the wrong broker or with a stale leader epoch; nullopt for the others.
std::optional<group_leader> leader_to_name(const fetch_part_result& r) {
    if (r.error_code == code(error_code::fenced_leader_epoch)) {
        return group_leader{.leader = r.leader_id, .epoch = r.leader_epoch};
    }
    if (r.error_code != code(error_code::not_leader_or_follower)) return std::nullopt;
    group_leader g{.leader = r.leader_id, .epoch = r.leader_epoch};
    // A replica that refuses while its raft group still names itself (it is stopping) knows of
    // no other leader: sending the client back here would not help.
    if (g.leader == local_cluster_view().node_id) g.leader = -1;
    return g;
}

}  // namespace

task<fetch_response> handle_fetch(request_context& ctx, fetch_request req) {
    auto snapshot = metadata_snapshot();
    const int16_t v = ctx.version();
    fetch_response resp;
    resp.session_id = 0;
    if (req.session_id != 0) {
        // This broker never creates fetch sessions, so no session id can be valid.
        resp.error_code = code(error_code::fetch_session_id_not_found);
        co_return resp;
    }

    std::vector<planned_partition> plan;
    std::vector<std::pair<shard_id, fetch_part>> parts;
    // Each requested topic's metadata (null when unknown); the snapshot keeps it alive.
    std::vector<const topic_metadata*> topic_md(req.topics.size(), nullptr);
    for (size_t t = 0; t < req.topics.size(); ++t) {
        const auto& topic = req.topics[t];
        const topic_metadata* md = v >= 13 ? snapshot->find(topic_id{topic.topic_id.bytes})
                                           : snapshot->find(topic.topic);
        topic_md[t] = md;
        for (const auto& p : topic.partitions) {
            planned_partition pp{.topic = t};
            const partition_assignment* a =
                md == nullptr ? nullptr
                              : (p.partition >= 0 &&
                                 size_t(p.partition) < md->partitions.size()
                                     ? &md->partitions[size_t(p.partition)]
                                     : nullptr);
            if (a == nullptr) {
                pp.error = code(md == nullptr && v >= 13 ? error_code::unknown_topic_id
                                                         : error_code::unknown_topic_or_partition);
            } else {
                pp.routed = true;
                pp.shard = a->shard;
                parts.emplace_back(a->shard, fetch_part{.log_partition = a->log_partition,
                                                        .group = a->group,
                                                        .fetch_offset = p.fetch_offset,
                                                        .max_bytes = p.partition_max_bytes,
                                                        .current_leader_epoch =
                                                            p.current_leader_epoch,
                                                        .last_fetched_epoch =
                                                            p.last_fetched_epoch});
            }
            plan.push_back(pp);
        }
    }

    const size_t max_bytes = static_cast<size_t>(std::max(req.max_bytes, 0));
    const size_t min_bytes = static_cast<size_t>(std::max(req.min_bytes, 0));
    const auto max_wait = std::chrono::milliseconds(std::clamp(req.max_wait_ms, 0, 300000));
    const auto deadline = steady_now() + max_wait;
    std::vector<fetch_part_result> results;
    std::unique_ptr<fetch_wait> waiter;
    while (true) {
        std::optional<wake_target> target;
        if (waiter) target = waiter->target();
        auto read = [max_bytes, target](std::vector<fetch_part> items) {
            return fetch_on_shard(std::move(items), max_bytes, target);
        };
        results = co_await scatter(parts, read);
        size_t total = trim_to_limit(results, max_bytes);
        // An error or a diverging epoch is an answer the consumer must have at once.
        bool errors = std::any_of(results.begin(), results.end(), [](const auto& r) {
            return r.error_code != 0 || r.diverged();
        });
        auto now = steady_now();
        if (total >= min_bytes || errors || parts.empty() || now >= deadline ||
            fetches_shutting_down() || ctx.connection.closing) {
            break;
        }
        if (!waiter) {
            // Register and read once more before sleeping: an append between the read above
            // and the registration would otherwise go unnoticed until the deadline.
            waiter = std::make_unique<fetch_wait>(
                std::chrono::duration_cast<std::chrono::milliseconds>(deadline - now));
            continue;
        }
        co_await waiter->wait();
        waiter.reset();
    }

    resp.responses.resize(req.topics.size());
    for (size_t t = 0; t < req.topics.size(); ++t) {
        resp.responses[t].topic = req.topics[t].topic;
        resp.responses[t].topic_id = req.topics[t].topic_id;
    }
    size_t next_result = 0;
    size_t k = 0;
    for (size_t t = 0; t < req.topics.size(); ++t) {
        uint64_t topic_bytes = 0;  // for /metrics, counted once per topic
        for (const auto& p : req.topics[t].partitions) {
            const planned_partition& pp = plan[k++];
            partition_response out;
            out.partition_index = p.partition;
            if (!pp.routed) {
                out.error_code = pp.error;
                out.high_watermark = -1;
            } else {
                fetch_part_result& r = results[next_result++];
                out.error_code = r.error_code;
                if (auto g = leader_to_name(r)) {
                    add_leader_hint(*g, out.current_leader, resp.node_endpoints);
                }
                out.high_watermark = r.high_watermark;
                out.last_stable_offset = r.high_watermark;
                out.log_start_offset = r.log_start_offset;
                if (r.diverged()) {
                    out.diverging_epoch.epoch = r.diverging_epoch;
                    out.diverging_epoch.end_offset = r.diverging_end_offset;
                }
                if (r.error_code == 0 || r.records.size() > 0) {
                    topic_bytes += r.records.size();
                    out.records = std::move(r.records);
                }
            }
            if (!out.records) out.records = iobuf();
            resp.responses[t].partitions.push_back(std::move(out));
        }
        if (topic_bytes > 0) metrics::add_topic_bytes_out(topic_md[t]->name, topic_bytes);
    }
    co_return resp;
}

}  // namespace wharf::kafka
