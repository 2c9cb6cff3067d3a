// The write side of the partition operations (partition_ops.h): Produce on the owning shard,
// with the idempotent producer checks (core/kafka/producer_state.h), and the start-up rebuild of
// the producers' state from the log.

#include <algorithm>
#include <chrono>
#include <map>
#include <memory>
#include <unordered_map>

#include "core/cluster/metadata_service.h"
#include "core/kafka/errors.h"
#include "core/kafka/partition_ops.h"
#include "core/kafka/producer_state.h"
#include "core/shard_services.h"
#include "log/errc.h"
#include "log/recompress.h"
#include "log/record_batch.h"
#include "reactor/logger.h"
#include "reactor/spawn.h"
#include "reactor/when_all.h"

namespace wharf::kafka {

namespace {

// Per owning shard: the producers of each partition. Shared with the produces in flight, which
// finish against the state they checked even when a rebuild has replaced it meanwhile.
thread_local std::unordered_map<partition_id, std::shared_ptr<producer_state_manager>> t_producers;

const std::shared_ptr<producer_state_manager>& producers_of(partition_id p) {
    auto& m = t_producers[p];
    if (!m) m = std::make_shared<producer_state_manager>();
    return m;
}

// The raft term t_producers was rebuilt for. Followers do not track producers (their batches
// come through replication), so a replica that becomes leader rebuilds them from its log before
// it checks a new batch: a producer retrying across a failover is still deduplicated.
struct producers_term {
    term_id term{-1};
    bool rebuilding = false;
    event rebuilt;
    // Batches accepted by a check and not yet appended or failed. A rebuild waits for them: one
    // checked against the old state may still be appended in the new term (its leader won
    // again), and a retry of it checked against a state rebuilt without it would be stored
    // twice (fault_rounds: one value at two adjacent offsets).
    size_t checked = 0;
    event drained;
    // When the state was last rebuilt (see out_of_order_grace).
    std::chrono::steady_clock::time_point rebuilt_at{};
};

// A sequence gap right after a change of leader is usually a client's pipelined requests
// overtaking one this broker refused a moment ago (NOT_LEADER_OR_FOLLOWER while it was not yet
// leader, or handing leadership over): the refused one comes back once the client has looked
// up the leader again. Kafka answers OUT_OF_ORDER_SEQUENCE_NUMBER there, and librdkafka (2.0;
// its issue 4953) then bumps its producer epoch for every partition, re-sending as new any
// batch still in flight elsewhere that was in fact stored: duplicates. For this long after a
// rebuild a gap is answered NOT_LEADER_OR_FOLLOWER instead (retriable, and true: nothing was
// stored), which makes clients retry in order without a bump; after it, a gap is a gap.
constexpr std::chrono::seconds out_of_order_grace{5};
// Per raft group of the shard: each has its own leader and terms.
thread_local std::map<raft_group_id, producers_term> t_producers_terms;

producers_term& producers_term_of(raft_group_id group) {
    return t_producers_terms[group];  // map nodes stay put: references outlive insertions
}

// Counts one accepted batch in its group's producers_term::checked for its lifetime.
class checked_batch {
public:
    explicit checked_batch(producers_term& pt) : _pt(pt) { ++_pt.checked; }
    ~checked_batch() {
        if (--_pt.checked == 0 && _pt.drained.waiters() > 0) _pt.drained.notify_all();
    }
    checked_batch(const checked_batch&) = delete;
    checked_batch& operator=(const checked_batch&) = delete;

private:
    producers_term& _pt;
};

// How far back from the end of each partition the start-up rebuild reads. A producer whose last
// batch is older is unknown after a restart, and Kafka's rule for unknown producers accepts its
// next batch whatever its sequence (producer_state.h), so only retries of batches older than
// this could be written twice.
constexpr int64_t rebuild_window_offsets = 20000;
constexpr size_t rebuild_read_bytes = 1 << 20;

produce_part_result fail(error_code e, std::string message = {}) {
    produce_part_result r;
    r.error_code = code(e);
    if (!message.empty()) r.error_message = std::move(message);
    return r;
}

task<void> rebuild_partition(shard_log& log, partition_id p, producer_state_manager& producers);

// Rebuilds the producers of group `id`'s partitions for its current term, once, however many
// produces wait for it.
task<void> rebuild_for_term(const group_ref& g, raft_group_id id, producers_term& pt) {
    while (pt.term != g.raft->term()) {
        if (pt.rebuilding) {
            co_await pt.rebuilt.wait();
            continue;
        }
        pt.rebuilding = true;
        while (pt.checked > 0) co_await pt.drained.wait();
        // The log must first hold every entry raft has, durably (reads see durable batches
        // only): a new leader may still be writing the last entries it received as a follower,
        // and a batch among them that is retried now would otherwise be taken for a new one and
        // stored twice (seen in fault_rounds as one value at two adjacent offsets).
        auto ready = co_await g.raft->ready_to_read_everything();
        if (!ready) {
            // Not leading any more: the produce fails on its own (NOT_LEADER_OR_FOLLOWER).
            pt.rebuilding = false;
            pt.rebuilt.notify_all();
            co_return;
        }
        term_id term = *ready;
        std::vector<partition_id> mine;
        for (const topic_metadata* t : metadata_snapshot()->topics()) {
            for (const auto& a : t->partitions) {
                if (a.shard == this_shard() && a.group == id) mine.push_back(a.log_partition);
            }
        }
        for (partition_id p : mine) t_producers.erase(p);
        for (partition_id p : mine) co_await rebuild_partition(*g.log, p, *producers_of(p));
        pt.term = term;
        pt.rebuilt_at = std::chrono::steady_clock::now();
        pt.rebuilding = false;
        pt.rebuilt.notify_all();
    }
}

// An OUT_OF_ORDER_SEQUENCE_NUMBER is fatal to an idempotent producer (librdkafka, the Java
// client): say what the partition's state was. The grace answers (NOT_LEADER_OR_FOLLOWER, many
// in a failover) only at debug level.
void log_out_of_order(partition_id p, const producer_batch& b,
                      const producer_state_manager& producers, std::string_view answer,
                      bool grace = false) {
    shard_logger().log(grace ? spdlog::level::debug : spdlog::level::info,
                       "produce to log partition {}: producer {} epoch {} sequences {}..{} "
                       "answered {}; state: {}",
                       p.value(), b.producer_id, b.epoch, b.base_sequence,
                       last_sequence(b.base_sequence, b.record_count), answer,
                       producers.describe(b.producer_id));
}

task<void> wake_fetches_on_commit(group_ref g, raft_index index, term_id term,
                                  partition_id p) {
    // Named, not tested inside the co_await expression (GCC 12 miscompiles that: SIGILL).
    status committed = co_await g.raft->committed(index, term);
    if (committed) local_partition_waiters().notify(p);
    co_return;
}

task<produce_part_result> produce_one(produce_part part) {
    shard_services& s = *local_services();
    group_ref g = s.group(part.group);
    if (!g) co_return fail(error_code::not_leader_or_follower);
    producers_term& pt = producers_term_of(part.group);
    if (pt.term != g.raft->term() && g.raft->is_leader()) {
        co_await rebuild_for_term(g, part.group, pt);
    }
    if (part.records.size() == 0) {
        co_return fail(error_code::invalid_record,
                       "Produce requests must have exactly one record batch per partition");
    }
    auto header = read_batch_header(part.records.linearize(0, part.records.size()));
    if (!header) {
        co_return fail(header.error() == make_error_code(log_errc::unsupported_magic)
                           ? error_code::invalid_record
                           : error_code::corrupt_message);
    }
    if (header->total_bytes() < part.records.size()) {
        co_return fail(error_code::invalid_record,
                       "Produce requests must have exactly one record batch per partition");
    }
    if (part.max_message_bytes > 0 &&
        part.records.size() > static_cast<size_t>(part.max_message_bytes)) {
        co_return fail(error_code::message_too_large);
    }
    if (header->is_control() || header->is_transactional()) {
        co_return fail(error_code::invalid_record,
                       "transactional and control batches need transactions, which this "
                       "broker does not support");
    }
    // compression.type other than `producer`: store the batch in the topic's codec, rewriting
    // one that arrived in another codec (or uncompressed), as Kafka's LogValidator does. This is
    // synchronous CPU work, so the append below is still queued before this coroutine first
    // suspends. recompress_batch validates what it rewrites (bad input: CORRUPT_MESSAGE and the
    // like, as the log's own validation would answer); the log validates the result again. The
    // header fields the producer checks below read are unchanged by it.
    if (auto codec = stored_compression(part.compression);
        codec && *codec != header->compression()) {
        auto rewritten = recompress_batch(part.records.linearize(0, part.records.size()), *codec,
                                          g.log->limits());
        if (!rewritten) co_return fail(to_kafka_error(rewritten.error()));
        // Kafka checks max.message.bytes again after recompression.
        if (part.max_message_bytes > 0 &&
            rewritten->size() > static_cast<size_t>(part.max_message_bytes)) {
            co_return fail(error_code::message_too_large);
        }
        part.records = iobuf::copy_of(*rewritten);
    }
    // Only the leader of the term the producers' state was rebuilt for checks sequences: a
    // replica that lost leadership (paused, partitioned, handing over) still holds the state of
    // its last term, which may lack batches the new leader has stored, and its answer
    // OUT_OF_ORDER_SEQUENCE_NUMBER to a retry would be fatal to the producer (librdkafka: "rewound
    // sequence number"). It answers NOT_LEADER_OR_FOLLOWER, as the append would.
    if (auto can = g.raft->check_can_append(); !can) co_return fail(to_kafka_error(can.error()));
    if (pt.term != g.raft->term()) co_return fail(error_code::not_leader_or_follower);
    std::shared_ptr<producer_state_manager> keep = producers_of(part.log_partition);
    producer_state_manager& producers = *keep;
    auto pb = producer_batch::from(*header);
    producer_check check = producers.check(pb);
    if (check.outcome == produce_check_outcome::duplicate) {
        produce_part_result r;
        r.base_offset = check.duplicate_of.base_offset.value();
        auto start = g.log->start_offset(part.log_partition);
        r.log_start_offset = start ? start->value() : -1;
        co_return r;
    }
    if (check.outcome == produce_check_outcome::out_of_order_sequence) {
        const bool grace =
            std::chrono::steady_clock::now() - pt.rebuilt_at < out_of_order_grace;
        log_out_of_order(part.log_partition, pb, producers,
                         grace ? "NOT_LEADER_OR_FOLLOWER (just after a change of leader)"
                               : "OUT_OF_ORDER_SEQUENCE_NUMBER",
                         grace);
        if (grace) {
            co_return fail(error_code::not_leader_or_follower,
                           "sequence gap just after a change of leader: retry in order");
        }
    }
    if (check.outcome != produce_check_outcome::accepted) {
        produce_part_result r;
        r.error_code = kafka_error_code(check.outcome);
        co_return r;
    }
    checked_batch counted(pt);
    // Queued in the log before this coroutine first suspends (consensus.h, shard_log.h).
    // acks=1 in a group of several answers at the leader's durable append; the batch becomes
    // visible to consumers when it commits, which then wakes their long polls. (A group of one
    // commits at its durable append: it simply waits.)
    const bool early = !part.await_commit && g.raft->voter_count() > 1;
    const term_id term = g.raft->term();
    auto until = early ? consensus::await_until::locally_durable
                       : consensus::await_until::committed;
    auto appended =
        co_await g.raft->replicate_batch(part.log_partition, std::move(part.records), until);
    if (appended && early) {
        // Its own hold on the group, which it keeps open until then.
        if (group_ref watched = s.group(part.group)) {
            spawn(wake_fetches_on_commit(std::move(watched), appended->index, term,
                                         part.log_partition),
                  "acks=1 commit watch");
        }
    }
    if (!appended) {
        producers.abort(check.reservation);
        co_return fail(to_kafka_error(appended.error()));
    }
    auto outcome = producers.complete(check.reservation, appended->base_offset,
                                      appended->last_offset,
                                      timestamp_ms(header->max_timestamp));
    local_partition_waiters().notify(part.log_partition);
    if (outcome == produce_check_outcome::out_of_order_sequence) {
        log_out_of_order(part.log_partition, pb, producers,
                         "OUT_OF_ORDER_SEQUENCE_NUMBER (written after a batch that failed)");
    }
    produce_part_result r;
    r.error_code = kafka_error_code(outcome);
    r.base_offset = appended->base_offset.value();
    if (appended->log_append_time) r.log_append_time_ms = appended->log_append_time->value();
    auto start = g.log->start_offset(part.log_partition);
    r.log_start_offset = start ? start->value() : -1;
    co_return r;
}

task<void> rebuild_partition(shard_log& log, partition_id p, producer_state_manager& producers) {
    auto start = log.start_offset(p);
    auto end = log.end_offset(p);
    if (!start || !end) co_return;
    kafka_offset next = std::max(*start, *end - rebuild_window_offsets);
    while (next < *end) {
        auto read = co_await log.read(p, next, rebuild_read_bytes);
        if (!read || read->size() == 0) break;
        auto bytes = read->linearize(0, read->size());
        while (!bytes.empty()) {
            auto h = read_batch_header(bytes);
            if (!h) co_return;
            if (h->producer_id >= 0 && !h->is_control()) {
                producers.observe(producer_batch::from(*h), h->base_offset, h->last_offset(),
                                  timestamp_ms(h->max_timestamp));
            }
            next = h->last_offset() + 1;
            bytes = bytes.subspan(h->total_bytes());
        }
    }
}

}  // namespace

task<std::vector<produce_part_result>> produce_on_shard(std::vector<produce_part> parts) {
    std::vector<task<produce_part_result>> appends;
    appends.reserve(parts.size());
    for (auto& p : parts) appends.push_back(produce_one(std::move(p)));
    co_return co_await when_all(std::move(appends));
}

task<void> rebuild_producer_state(std::vector<partition_id> partitions) {
    shard_services& s = *local_services();
    // A group of one leads from its start, with nothing in flight: this state is its term's. A
    // replica of a cluster claims no term here: it may win an election while this runs, with
    // entries it received as a follower still being written, which this read would miss; the
    // first produce it leads rebuilds the state for its term (rebuild_for_term).
    producers_term_of(raft_group_id(0)).term =
        s.raft->voter_count() == 1 ? s.raft->term() : term_id(-1);
    size_t producers = 0;
    for (partition_id p : partitions) {
        auto& m = *producers_of(p);
        co_await rebuild_partition(*s.log, p, m);
        producers += m.producer_count();
    }
    if (producers > 0) {
        shard_logger().info("idempotent producers: {} rebuilt from the log over {} partitions",
                            producers, partitions.size());
    }
}

void forget_producer_state() {
    t_producers.clear();
    for (auto& [group, pt] : t_producers_terms) pt.term = term_id(-1);
}

}  // namespace wharf::kafka
