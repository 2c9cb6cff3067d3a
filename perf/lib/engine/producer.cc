#include "perf/lib/engine/producer.h"

#include <algorithm>

#include "perf/lib/engine/stamp.h"
#include "net/kafka/client/murmur2.h"
#include "perf/lib/rate_limiter.h"
#include "reactor/spawn.h"
#include "reactor/timer.h"

namespace wharf::perf {

namespace {

// Records generated per turn of the loop before it lets responses in.
constexpr uint64_t records_per_turn = 2048;
// A fixed-rate producer sleeps at least this long: shorter sleeps cost more than they save, and
// a record sent late by it counts as late (its latency starts at its due time).
constexpr auto min_sleep = std::chrono::microseconds(50);
// Round-robin keys cycle through this many distinct keys, as OMB's KEY_ROUND_ROBIN does.
constexpr uint64_t round_robin_keys = 10'000;
constexpr int32_t produce_timeout_ms = 30'000;

}  // namespace

sticky_partitioner::sticky_partitioner(size_t topics, size_t partitions)
    : _partitions(partitions), _sticky(topics, SIZE_MAX) {
    WHARF_ASSERT(partitions > 0, "a topic without partitions");
}

size_t sticky_partitioner::next(size_t topic, std::mt19937_64& rng) {
    WHARF_ASSERT(topic < _sticky.size(), "topic {} of {}", topic, _sticky.size());
    size_t& sticky = _sticky[topic];
    if (sticky == SIZE_MAX) sticky = topic * _partitions + rng() % _partitions;
    return sticky;
}

void sticky_partitioner::sealed(size_t partition) {
    size_t topic = partition / _partitions;
    WHARF_ASSERT(topic < _sticky.size(), "partition {} beyond the topics", partition);
    if (_sticky[topic] == partition) _sticky[topic] = SIZE_MAX;  // this topic moves on
}

std::unordered_map<size_t, int16_t> errors_by_partition(
    const kafka::produce_response& resp, const std::map<std::string, size_t>& topic_index,
    int32_t partitions) {
    std::unordered_map<size_t, int16_t> out;
    size_t answers = 0;
    for (const auto& t : resp.responses) answers += t.partition_responses.size();
    out.reserve(answers);
    for (const auto& t : resp.responses) {
        auto it = topic_index.find(t.name);
        if (it == topic_index.end()) continue;
        for (const auto& p : t.partition_responses) {
            if (p.index < 0 || p.index >= partitions) continue;
            size_t global = it->second * static_cast<size_t>(partitions) +
                            static_cast<size_t>(p.index);
            out[global] = p.error_code;
        }
    }
    return out;
}

producer::producer(kafka::client::kafka_client& client, producer_config cfg, shard_stats& stats)
    : _client(client),
      _cfg(std::move(cfg)),
      _stats(stats),
      _rng(_cfg.seed),
      _sticky(_cfg.topic_names.size(), static_cast<size_t>(_cfg.partitions)) {
    for (size_t i = 0; i < _cfg.topic_names.size(); ++i) _topic_index[_cfg.topic_names[i]] = i;
    uint32_t largest = *std::max_element(_cfg.message_sizes.begin(), _cfg.message_sizes.end());
    _payload.resize(std::max<size_t>(largest, stamp_bytes));
    for (auto& b : _payload) b = static_cast<std::byte>(_rng());
    _sequences.assign(_cfg.topic_names.size() * static_cast<size_t>(_cfg.partitions), 0);
}

task<result<void>> producer::run(const bool& stop) {
    std::vector<std::string> names;
    for (size_t t : _cfg.topics) names.push_back(_cfg.topic_names[t]);
    auto md = co_await _client.refresh_metadata(names);
    if (!md) co_return md.error();
    auto partitions = static_cast<size_t>(_cfg.partitions);
    _leaders.assign(_cfg.topic_names.size() * partitions, -1);
    _taken.assign(_leaders.size(), false);
    for (size_t t : _cfg.topics) {
        auto it = _client.metadata().topics.find(_cfg.topic_names[t]);
        if (it == _client.metadata().topics.end()) continue;
        for (size_t p = 0; p < it->second.partitions.size() && p < partitions; ++p) {
            _leaders[t * partitions + p] = it->second.partitions[p].leader;
        }
    }
    if (_cfg.idempotence) {
        kafka::init_producer_id_request req;
        req.transaction_timeout_ms = -1;
        auto resp =
            co_await _client
                .call<kafka::init_producer_id_request, kafka::init_producer_id_response>(-1, req);
        if (!resp) co_return resp.error();
        if (resp->error_code != 0) {
            co_return kafka::client::kafka_error(static_cast<kafka::error_code>(resp->error_code));
        }
        _producer_id = resp->producer_id;
        _producer_epoch = resp->producer_epoch;
    }
    rate_limiter limiter(_cfg.rate_per_s, rate_limiter::clock::now());
    while (!stop) {
        auto now = rate_limiter::clock::now();
        uint64_t n = _buffered >= _cfg.buffer_bytes ? 0 : limiter.ready(now, records_per_turn);
        for (uint64_t i = 0; i < n; ++i) {
            auto due = limiter.next_due(now);
            append_record(static_cast<uint64_t>(due.time_since_epoch().count()));
        }
        uint64_t now_ns = steady_ns();
        if (_buffered >= _cfg.buffer_bytes) seal_all();
        dispatch(now_ns);
        if (_buffered >= _cfg.buffer_bytes && _requests.count() > 0) {
            co_await _completed.wait();
        } else if (!limiter.unlimited() || n == 0) {
            // Sleep until the next record is due or an open batch has lingered; responses send
            // the next requests themselves.
            auto wake = limiter.peek_due(now);
            // A batch that lingered already waits for a free request slot, which a response
            // hands to it: no wake-up for it.
            uint64_t expiry = next_linger_expiry();
            if (expiry != UINT64_MAX && expiry > now_ns) {
                wake = std::min(wake, rate_limiter::time_point(std::chrono::nanoseconds(expiry)));
            }
            auto d =
                std::max<std::chrono::nanoseconds>(wake - rate_limiter::clock::now(), min_sleep);
            co_await sleep_for(d);
        } else {
            co_await reactor::local().yield();
        }
    }
    seal_all();
    dispatch(steady_ns());
    while (!_sealed.empty() || _requests.count() > 0) {
        co_await _completed.wait();
        dispatch(steady_ns());
    }
    co_return result<void>();
}

size_t producer::choose_partition(std::string* key) {
    auto partitions = static_cast<size_t>(_cfg.partitions);
    size_t topic = _cfg.topics[_next_topic];
    _next_topic = (_next_topic + 1) % _cfg.topics.size();
    switch (_cfg.keys) {
        case key_distribution::none:
            return _sticky.next(topic, _rng);
        case key_distribution::random:
            *key = std::to_string(_rng() % 100'000'000);
            break;
        case key_distribution::round_robin:
            *key = std::to_string(_round_robin_key++ % round_robin_keys);
            break;
    }
    return topic * partitions + static_cast<size_t>(kafka::client::partition_for_key(*key, _cfg.partitions));
}

void producer::append_record(uint64_t publish_ns) {
    std::string key;
    size_t p = choose_partition(&key);
    uint32_t size = _cfg.message_sizes.size() == 1
                        ? _cfg.message_sizes[0]
                        : _cfg.message_sizes[_rng() % _cfg.message_sizes.size()];
    open_batch& b = _open[p];
    if (b.sizes.empty()) b.first_ns = steady_ns();
    size_t at = b.values.size();
    b.values.insert(b.values.end(), _payload.begin(), _payload.begin() + size);
    if (size >= stamp_bytes) write_stamp(b.values.data() + at, _cfg.nonce, publish_ns);
    b.sizes.push_back(size);
    b.publish_ns.push_back(publish_ns);
    if (_cfg.keys != key_distribution::none) b.keys.push_back(std::move(key));
    size_t bytes = size + (b.keys.empty() ? 0 : b.keys.back().size());
    b.bytes += bytes;
    _buffered += bytes;
    if (b.bytes >= _cfg.batch_bytes) {
        sealed_batch full = seal(p);
        _sealed[_leaders[p]].push_back(std::move(full));
    }
}

producer::sealed_batch producer::seal(size_t partition) {
    auto it = _open.find(partition);
    WHARF_ASSERT(it != _open.end(), "sealing partition {} without an open batch", partition);
    open_batch& b = it->second;
    std::vector<record_to_build> records(b.sizes.size());
    size_t at = 0;
    for (size_t i = 0; i < b.sizes.size(); ++i) {
        records[i].value =
            std::string_view(reinterpret_cast<const char*>(b.values.data() + at), b.sizes[i]);
        if (!b.keys.empty()) records[i].key = b.keys[i];
        at += b.sizes[i];
    }
    int32_t sequence = -1;
    if (_producer_id >= 0) {
        sequence = _sequences[partition];
        _sequences[partition] += static_cast<int32_t>(records.size());
    }
    auto wall_ms = std::chrono::duration_cast<std::chrono::milliseconds>(
                       std::chrono::system_clock::now().time_since_epoch())
                       .count();
    std::vector<std::byte> bytes = build_batch(kafka_offset(0), wall_ms, records, _cfg.compression,
                                               _producer_id, _producer_epoch, sequence);
    sealed_batch s;
    s.partition = partition;
    s.records = records.size();
    s.payload_bytes = b.bytes;
    s.publish_ns = std::move(b.publish_ns);
    s.bytes = iobuf::copy_of(bytes);
    _sticky.sealed(partition);  // the sticky partitioner moves on
    _open.erase(it);
    return s;
}

void producer::seal_all() {
    while (!_open.empty()) {
        size_t p = _open.begin()->first;
        sealed_batch s = seal(p);
        _sealed[_leaders[p]].push_back(std::move(s));
    }
}

uint64_t producer::next_linger_expiry() const {
    auto linger_ns = static_cast<uint64_t>(
        std::chrono::duration_cast<std::chrono::nanoseconds>(_cfg.linger).count());
    uint64_t earliest = UINT64_MAX;
    for (const auto& [p, b] : _open) earliest = std::min(earliest, b.first_ns + linger_ns);
    return earliest;
}

bool producer::can_send(int32_t broker) const {
    auto it = _in_flight.find(broker);
    return it == _in_flight.end() || it->second < _cfg.max_in_flight;
}

std::vector<producer::sealed_batch> producer::take_request(int32_t broker, uint64_t now_ns) {
    // A produce request carries at most one batch per partition: full batches first, in order,
    // then open batches of this broker's partitions that have lingered.
    std::vector<sealed_batch> out;
    auto queue = _sealed.find(broker);
    if (queue != _sealed.end()) {
        std::deque<sealed_batch> later;
        for (sealed_batch& s : queue->second) {
            if (_taken[s.partition]) {
                later.push_back(std::move(s));
            } else {
                _taken[s.partition] = true;
                out.push_back(std::move(s));
            }
        }
        queue->second = std::move(later);
        if (queue->second.empty()) _sealed.erase(queue);
    }
    auto linger_ns = static_cast<uint64_t>(
        std::chrono::duration_cast<std::chrono::nanoseconds>(_cfg.linger).count());
    std::vector<size_t> ready;
    for (const auto& [p, b] : _open) {
        if (_leaders[p] == broker && !_taken[p] && now_ns >= b.first_ns + linger_ns) {
            ready.push_back(p);
        }
    }
    for (size_t p : ready) out.push_back(seal(p));
    for (const sealed_batch& s : out) _taken[s.partition] = false;
    return out;
}

void producer::dispatch(uint64_t now_ns) {
    std::vector<int32_t> brokers;
    for (const auto& [broker, q] : _sealed) brokers.push_back(broker);
    for (const auto& [p, b] : _open) brokers.push_back(_leaders[p]);
    std::sort(brokers.begin(), brokers.end());
    brokers.erase(std::unique(brokers.begin(), brokers.end()), brokers.end());
    for (int32_t broker : brokers) {
        while (can_send(broker)) {
            std::vector<sealed_batch> batches = take_request(broker, now_ns);
            if (batches.empty()) break;
            ++_in_flight[broker];
            _requests.try_enter();  // left by send()
            spawn(send(broker, std::move(batches)), "bench produce request");
        }
    }
}

task<void> producer::send(int32_t broker, std::vector<sealed_batch> batches) {
    kafka::produce_request req;
    req.acks = _cfg.acks;
    req.timeout_ms = produce_timeout_ms;
    auto partitions = static_cast<size_t>(_cfg.partitions);
    std::sort(batches.begin(), batches.end(), [](const sealed_batch& a, const sealed_batch& b) {
        return a.partition < b.partition;
    });
    for (sealed_batch& s : batches) {
        const std::string& topic = _cfg.topic_names[s.partition / partitions];
        if (req.topic_data.empty() || req.topic_data.back().name != topic) {
            req.topic_data.emplace_back();
            req.topic_data.back().name = topic;
        }
        kafka::produce_request::partition_produce_data pd;
        pd.index = static_cast<int32_t>(s.partition % partitions);
        pd.records = s.bytes.share();
        req.topic_data.back().partition_data.push_back(std::move(pd));
    }
    int16_t version = _client.version(kafka::api_key::produce);
    if (_cfg.acks == 0) {
        auto c = co_await _client.broker(broker);
        bool sent = c && version >= 0 &&
                    (*c)->send_only(kafka::api_key::produce, version,
                                    kafka::client::connection::encode_body(req, version));
        on_response(batches, nullptr, sent ? steady_ns() : 0);
    } else {
        auto resp =
            co_await _client.call<kafka::produce_request, kafka::produce_response>(broker, req);
        on_response(batches, resp ? &*resp : nullptr, steady_ns());
    }
    --_in_flight[broker];
    dispatch(steady_ns());  // the freed slot takes what is ready now
    _requests.leave();
    _completed.notify_all();
}

void producer::on_response(std::vector<sealed_batch>& batches, const kafka::produce_response* resp,
                           uint64_t now_ns) {
    std::unordered_map<size_t, int16_t> errors;
    if (resp != nullptr) errors = errors_by_partition(*resp, _topic_index, _cfg.partitions);
    for (sealed_batch& s : batches) {
        _buffered -= s.payload_bytes;
        bool ok = false;
        if (resp == nullptr) {
            ok = now_ns != 0 && _cfg.acks == 0;  // acks=0: sent is all there is
        } else {
            auto it = errors.find(s.partition);  // no answer for a partition: it failed
            ok = it != errors.end() && it->second == 0;
        }
        if (!ok) {
            _stats.totals.produce_errors += s.records;
            continue;
        }
        _stats.totals.produced_msgs += s.records;
        _stats.totals.produced_bytes += s.payload_bytes;
        _stats.acked(s.partition, s.records);
        if (_cfg.acks == 0) continue;
        for (uint64_t published : s.publish_ns) {
            _stats.record_produce_latency(now_ns > published ? (now_ns - published) / 1000 : 0);
        }
    }
}

}  // namespace wharf::perf
