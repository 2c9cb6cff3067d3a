#include "perf/lib/engine/consumer.h"

#include "core/client/fetched_records.h"
#include "perf/lib/engine/stamp.h"
#include "reactor/timer.h"
#include "reactor/when_all.h"

namespace wharf::perf {

namespace {

constexpr auto heartbeat_interval = std::chrono::seconds(1);
constexpr int commit_every_heartbeats = 5;
constexpr auto retry_pause = std::chrono::milliseconds(200);

std::map<std::string, int32_t> topic_partitions(const consumer_config& cfg) {
    std::map<std::string, int32_t> out;
    for (const std::string& t : cfg.topic_names) out[t] = cfg.partitions;
    return out;
}

// The leader of tp as the client's metadata has it, or -1 when unknown: the topic or partition
// is missing (a topic-level error such as LEADER_NOT_AVAILABLE leaves no partitions) or has no
// leader right now.
int32_t leader_of(const kafka::client::cluster_metadata& md, const topic_partition& tp) {
    auto it = md.topics.find(tp.topic);
    if (it == md.topics.end() || tp.partition < 0) return -1;
    auto index = static_cast<size_t>(tp.partition);
    if (index >= it->second.partitions.size()) return -1;
    return it->second.partitions[index].leader;
}

}  // namespace

consumer::consumer(std::vector<kafka::client::broker_address> bootstrap, std::string client_id,
                   consumer_config cfg, shard_stats& stats)
    : _client(bootstrap, client_id),
      _member(bootstrap, client_id, cfg.group_id, topic_partitions(cfg)),
      _cfg(std::move(cfg)),
      _stats(stats) {
    for (size_t i = 0; i < _cfg.topic_names.size(); ++i) _topic_index[_cfg.topic_names[i]] = i;
}

task<result<void>> consumer::run(const bool& stop) {
    auto started = co_await _client.start();
    if (!started) co_return started.error();
    started = co_await _member.start();
    if (!started) {
        co_await _client.close();
        co_return started.error();
    }
    std::error_code failure;
    while (!stop) {
        auto parts = co_await _member.join();
        if (!parts) {
            failure = parts.error();
            break;
        }
        _positions.clear();
        for (const topic_partition& tp : *parts) _positions[tp] = -1;
        auto positioned = co_await start_positions();
        if (!positioned) {
            co_await sleep_for(retry_pause);  // a rebalance or a leader change: join again
            continue;
        }
        _generation = _member.generation();
        _ready = true;
        _rejoin = false;
        std::vector<task<void>> loops;
        loops.push_back(fetch_loop(stop));
        loops.push_back(heartbeat_loop(stop));
        co_await when_all(std::move(loops));
        _ready = false;
        // Hand the positions over before the partitions move (eager rebalance).
        auto committed = co_await _member.commit(_positions);
        (void)committed;  // a fenced commit means another member owns them already
    }
    co_await _member.leave();
    co_await _member.close();
    co_await _client.close();
    if (failure) co_return failure;
    co_return result<void>();
}

task<result<void>> consumer::start_positions() {
    std::vector<topic_partition> parts;
    for (const auto& [tp, pos] : _positions) parts.push_back(tp);
    auto committed = co_await _member.committed(parts);
    if (!committed) co_return committed.error();
    auto md = co_await _client.refresh_metadata(_cfg.topic_names);
    if (!md) co_return md.error();
    // Partitions without a committed offset start at the end (or the beginning): ask each leader.
    std::map<int32_t, kafka::list_offsets_request> by_leader;
    for (const auto& [tp, offset] : *committed) {
        _positions[tp] = offset;
        if (offset >= 0) continue;
        int32_t leader = leader_of(_client.metadata(), tp);
        if (leader < 0) {
            // No leader yet: run() pauses, joins again and asks the refreshed metadata.
            co_return kafka::client::kafka_error(kafka::error_code::leader_not_available);
        }
        kafka::list_offsets_request& req = by_leader[leader];
        req.replica_id = -1;
        if (req.topics.empty() || req.topics.back().name != tp.topic) {
            req.topics.emplace_back();
            req.topics.back().name = tp.topic;
        }
        kafka::list_offsets_request::list_offsets_partition p;
        p.partition_index = tp.partition;
        p.timestamp = _cfg.from_beginning ? -2 : -1;
        req.topics.back().partitions.push_back(std::move(p));
    }
    for (auto& [leader, req] : by_leader) {
        auto resp =
            co_await _client.call<kafka::list_offsets_request, kafka::list_offsets_response>(leader,
                                                                                             req);
        if (!resp) co_return resp.error();
        for (const auto& t : resp->topics) {
            for (const auto& p : t.partitions) {
                if (p.error_code != 0) {
                    co_return kafka::client::kafka_error(
                        static_cast<kafka::error_code>(p.error_code));
                }
                _positions[{t.name, p.partition_index}] = p.offset;
            }
        }
    }
    co_return result<void>();
}

task<void> consumer::heartbeat_loop(const bool& stop) {
    int beats = 0;
    while (!stop && !_rejoin) {
        co_await sleep_for(heartbeat_interval);
        if (stop || _rejoin) break;
        auto beat = co_await _member.heartbeat();
        if (!beat) {
            _rejoin = true;  // REBALANCE_IN_PROGRESS, fenced, or a lost coordinator
            break;
        }
        if (++beats % commit_every_heartbeats == 0) {
            auto committed = co_await _member.commit(_positions);
            (void)committed;  // the next commit (or the one at the rebalance) covers it
        }
    }
}

task<void> consumer::fetch_loop(const bool& stop) {
    while (!stop && !_rejoin) {
        std::map<int32_t, std::vector<topic_partition>> by_leader;
        bool leaderless = false;
        for (const auto& [tp, pos] : _positions) {
            int32_t leader = leader_of(_client.metadata(), tp);
            if (leader < 0) {
                leaderless = true;  // skipped this round
                continue;
            }
            by_leader[leader].push_back(tp);
        }
        if (!by_leader.empty()) {
            std::vector<task<void>> fetches;
            for (auto& [leader, parts] : by_leader) fetches.push_back(fetch_from(leader, parts));
            co_await when_all(std::move(fetches));
        }
        if (leaderless) {
            co_await sleep_for(retry_pause);
            auto md = co_await _client.refresh_metadata(_cfg.topic_names);
            (void)md;  // still unknown: skipped again next round
        } else if (by_leader.empty()) {
            co_await sleep_for(retry_pause);  // no partitions in this generation
        }
    }
}

task<void> consumer::fetch_from(int32_t broker, std::vector<topic_partition> parts) {
    kafka::fetch_request req;
    req.replica_id = -1;
    req.max_wait_ms = _cfg.max_wait_ms;
    req.min_bytes = 1;
    req.max_bytes = _cfg.fetch_max_bytes;
    req.session_id = 0;
    req.session_epoch = -1;
    for (const topic_partition& tp : parts) {
        if (req.topics.empty() || req.topics.back().topic != tp.topic) {
            req.topics.emplace_back();
            req.topics.back().topic = tp.topic;
        }
        kafka::fetch_request::fetch_partition p;
        p.partition = tp.partition;
        p.fetch_offset = _positions[tp];
        p.partition_max_bytes = _cfg.partition_max_bytes;
        req.topics.back().partitions.push_back(std::move(p));
    }
    auto resp = co_await _client.call<kafka::fetch_request, kafka::fetch_response>(broker, req);
    if (!resp || resp->error_code != 0) {
        co_await sleep_for(retry_pause);
        auto md = co_await _client.refresh_metadata(_cfg.topic_names);
        (void)md;
        co_return;
    }
    uint64_t now_ns = steady_ns();
    bool leaders_moved = false;
    for (auto& t : resp->responses) {
        for (auto& p : t.partitions) {
            if (p.error_code != 0) {
                leaders_moved = true;
                continue;
            }
            if (p.records && !p.records->empty()) {
                consume_records({t.topic, p.partition_index}, *p.records, now_ns);
            }
        }
    }
    if (leaders_moved) {
        co_await sleep_for(retry_pause);
        auto md = co_await _client.refresh_metadata(_cfg.topic_names);
        (void)md;
    }
}

void consumer::consume_records(const topic_partition& tp, iobuf& records, uint64_t now_ns) {
    auto position_it = _positions.find(tp);
    auto topic_it = _topic_index.find(tp.topic);
    if (position_it == _positions.end() || topic_it == _topic_index.end()) return;
    size_t global = topic_it->second * static_cast<size_t>(_cfg.partitions) +
                    static_cast<size_t>(tp.partition);
    uint64_t counted = 0;
    auto count = [&](const client::fetched_record& f) {
        const record_view& r = *f.record;
        if (!r.value) return;
        auto published = read_stamp(*r.value, _cfg.nonce);
        if (!published) return;  // another run's record
        ++counted;
        _stats.totals.consumed_bytes += r.value->size() + (r.key ? r.key->size() : 0);
        _stats.record_e2e_latency(now_ns > *published ? (now_ns - *published) / 1000 : 0);
    };
    position_it->second = client::for_each_record(records.linearize(0, records.size()),
                                                  position_it->second, count);
    _stats.totals.consumed_msgs += counted;
    _stats.consumed(_cfg.group_index, global, counted);
}

}  // namespace wharf::perf
