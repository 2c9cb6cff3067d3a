#include "net/kafka/client/kafka_client.h"

#include <algorithm>

namespace wharf::kafka::client {

namespace {

// The versions the engines handle, within what the codec implements: produce needs v3 (record
// batches v2); fetch stops at v12 (v13 names topics by id only); JoinGroup from v4 handles
// MEMBER_ID_REQUIRED. Everything else: whatever the codec implements.
struct version_range {
    kafka::api_key key;
    int16_t min;
    int16_t max;
};
constexpr version_range handled[] = {
    {kafka::api_key::produce, 3, 10},
    {kafka::api_key::fetch, 4, 12},
    {kafka::api_key::join_group, 4, 9},
};

// Built outside the coroutine: assigning the literals inside it makes GCC 12 at -O3 warn about a
// memcpy overlap that cannot happen (-Wrestrict).
kafka::api_versions_request api_versions_request() {
    kafka::api_versions_request req;
    req.client_software_name = std::string("wharf-bench");
    req.client_software_version = std::string("1");
    return req;
}

}  // namespace

int16_t choose_version(kafka::api_key key, int16_t broker_min, int16_t broker_max) {
    const kafka::api_descriptor* api = kafka::find_api(static_cast<int16_t>(key));
    if (api == nullptr) return -1;
    int16_t lo = api->min_version;
    int16_t hi = api->max_version;
    for (const version_range& r : handled) {
        if (r.key == key) {
            lo = std::max(lo, r.min);
            hi = std::min(hi, r.max);
        }
    }
    int16_t v = std::min(hi, broker_max);
    return v >= std::max(lo, broker_min) ? v : int16_t(-1);
}

kafka_client::kafka_client(std::vector<broker_address> bootstrap, std::string client_id,
                           std::chrono::milliseconds timeout)
    : _bootstrap(std::move(bootstrap)), _client_id(std::move(client_id)), _timeout(timeout) {}

kafka_client::~kafka_client() = default;

task<result<void>> kafka_client::start() {
    std::error_code last = client_errc::connect_failed;
    for (const broker_address& a : _bootstrap) {
        auto c = co_await connection::open(a, _client_id, _timeout);
        if (!c) {
            last = c.error();
            continue;
        }
        // v3 is the first flexible version; every broker since Kafka 2.4 answers it, and an
        // older one answers UNSUPPORTED_VERSION in v0 with its list, which decodes the same way.
        kafka::api_versions_request req = api_versions_request();
        auto resp =
            co_await (*c)->call<kafka::api_versions_request, kafka::api_versions_response>(req, 3);
        if (!resp) {
            last = resp.error();
            co_await (*c)->close();
            continue;
        }
        _versions.clear();
        for (const auto& k : resp->api_keys) {
            int16_t v = choose_version(static_cast<kafka::api_key>(k.api_key), k.min_version,
                                       k.max_version);
            if (v >= 0) _versions[k.api_key] = v;
        }
        _bootstrap_conn = std::move(*c);
        co_return result<void>();
    }
    co_return last;
}

task<void> kafka_client::close() {
    if (_bootstrap_conn) co_await _bootstrap_conn->close();
    for (auto& [id, c] : _brokers) co_await c->close();
    _brokers.clear();
    _bootstrap_conn.reset();
}

int16_t kafka_client::version(kafka::api_key key) const {
    auto it = _versions.find(static_cast<int16_t>(key));
    return it == _versions.end() ? int16_t(-1) : it->second;
}

task<result<void>> kafka_client::refresh_metadata(const std::vector<std::string>& topics) {
    kafka::metadata_request req;
    req.allow_auto_topic_creation = false;
    if (topics.empty()) {
        req.topics.reset();  // null: every topic
    } else {
        req.topics->reserve(topics.size());
        for (const std::string& t : topics) {
            kafka::metadata_request::metadata_request_topic rt;
            rt.name = t;
            req.topics->push_back(std::move(rt));
        }
    }
    co_return co_await fetch_metadata(req);
}

task<result<void>> kafka_client::refresh_brokers() {
    kafka::metadata_request req;
    req.allow_auto_topic_creation = false;
    req.topics.emplace();  // empty, not null: no topics
    co_return co_await fetch_metadata(req);
}

task<result<void>> kafka_client::fetch_metadata(const kafka::metadata_request& req) {
    auto resp = co_await call<kafka::metadata_request, kafka::metadata_response>(-1, req);
    if (!resp) co_return resp.error();
    _metadata.controller = resp->controller_id;
    for (const auto& b : resp->brokers) {
        _metadata.brokers[b.node_id] =
            broker_address{b.host, static_cast<uint16_t>(b.port), b.node_id};
    }
    for (const auto& t : resp->topics) {
        if (!t.name) continue;
        topic_info info;
        info.name = *t.name;
        info.id = t.topic_id;
        info.error = static_cast<kafka::error_code>(t.error_code);
        for (const auto& p : t.partitions) {
            if (p.partition_index < 0) continue;
            auto index = static_cast<size_t>(p.partition_index);
            if (info.partitions.size() <= index) info.partitions.resize(index + 1);
            info.partitions[index] = partition_info{p.partition_index, p.leader_id, p.leader_epoch};
        }
        _metadata.topics[info.name] = std::move(info);
    }
    co_return result<void>();
}

task<result<connection*>> kafka_client::broker(int32_t node_id) {
    if (node_id < 0) {
        if (!_bootstrap_conn) co_return client_errc::connection_closed;
        co_return _bootstrap_conn.get();
    }
    while (_connecting.contains(node_id)) {
        std::shared_ptr<event> wait = _connecting[node_id];
        co_await wait->wait();
    }
    auto it = _brokers.find(node_id);
    if (it != _brokers.end() && !it->second->broken()) co_return it->second.get();
    auto addr = _metadata.brokers.find(node_id);
    if (addr == _metadata.brokers.end()) co_return client_errc::unknown_broker;
    auto done = std::make_shared<event>();
    _connecting[node_id] = done;
    if (it != _brokers.end()) {
        co_await it->second->close();
        _brokers.erase(it);
    }
    auto c = co_await connection::open(addr->second, _client_id, _timeout);
    _connecting.erase(node_id);
    done->notify_all();
    if (!c) co_return c.error();
    connection* raw = c->get();
    _brokers[node_id] = std::move(*c);
    co_return raw;
}

}  // namespace wharf::kafka::client
