#include "core/metrics/kafka_metrics.h"

#include <array>
#include <memory>
#include <string>
#include <unordered_map>

#include "net/kafka/messages.h"

namespace wharf::metrics {

namespace {

// Bounds of the table: API keys and versions past them are not recorded (the dispatcher only
// records APIs it serves, whose keys and versions are far below).
constexpr int16_t max_api_key = 128;
constexpr int16_t max_version = 32;

struct version_metrics {
    uint64_t requests = 0;
    uint64_t errors = 0;
    request_latency_histogram latency_us;
};
using api_metrics = std::array<version_metrics, max_version>;

struct topic_bytes {
    uint64_t in = 0;
    uint64_t out = 0;
};

struct string_hash {
    using is_transparent = void;
    size_t operator()(std::string_view s) const noexcept {
        return std::hash<std::string_view>{}(s);
    }
};

struct shard_table {
    // Allocated on an API's first request, so that idle APIs cost nothing.
    std::array<std::unique_ptr<api_metrics>, max_api_key> apis;
    std::unordered_map<std::string, topic_bytes, string_hash, std::equal_to<>> topics;
};

thread_local shard_table t_table;

topic_bytes& topic_entry(std::string_view topic) {
    auto it = t_table.topics.find(topic);
    if (it == t_table.topics.end())
        it = t_table.topics.emplace(std::string(topic), topic_bytes{}).first;
    return it->second;
}

}  // namespace

void record_kafka_request(int16_t api_key, int16_t version, uint64_t latency_us, bool error) {
    if (api_key < 0 || api_key >= max_api_key || version < 0 || version >= max_version) return;
    auto& api = t_table.apis[static_cast<size_t>(api_key)];
    if (!api) api = std::make_unique<api_metrics>();
    version_metrics& m = (*api)[static_cast<size_t>(version)];
    ++m.requests;
    m.errors += error ? 1 : 0;
    m.latency_us.record(latency_us);
}

void add_topic_bytes_in(std::string_view topic, uint64_t bytes) {
    topic_entry(topic).in += bytes;
}

void add_topic_bytes_out(std::string_view topic, uint64_t bytes) {
    topic_entry(topic).out += bytes;
}

void collect_kafka_metrics(metric_families& out,
                           const std::function<bool(std::string_view)>& topic_exists) {
    metric_family requests("wharf_kafka_requests_total",
                           "Kafka requests answered, by API and version", metric_type::counter);
    metric_family errors("wharf_kafka_request_errors_total",
                         "Kafka requests whose response carries an error code, or that closed "
                         "their connection, by API and version",
                         metric_type::counter);
    metric_family latency("wharf_kafka_request_latency_seconds",
                          "Kafka request latency from the decoded header to the encoded response, "
                          "by API and version",
                          metric_type::histogram);
    for (int16_t key = 0; key < max_api_key; ++key) {
        const auto& api = t_table.apis[static_cast<size_t>(key)];
        if (!api) continue;
        const kafka::api_descriptor* info = kafka::find_api(key);
        std::string name = info != nullptr ? std::string(info->name) : std::to_string(key);
        for (int16_t v = 0; v < max_version; ++v) {
            const version_metrics& m = (*api)[static_cast<size_t>(v)];
            if (m.requests == 0) continue;
            metric_labels labels{{"api", name}, {"version", std::to_string(v)}};
            requests.add(labels, static_cast<double>(m.requests));
            errors.add(labels, static_cast<double>(m.errors));
            latency.add(std::move(labels), m.latency_us, 1e-6);
        }
    }
    out.push_back(std::move(requests));
    out.push_back(std::move(errors));
    out.push_back(std::move(latency));

    metric_family in("wharf_kafka_topic_bytes_in_total",
                     "Record-batch bytes appended to a topic by Produce requests",
                     metric_type::counter);
    metric_family fetched("wharf_kafka_topic_bytes_out_total",
                          "Record-batch bytes returned from a topic by Fetch requests",
                          metric_type::counter);
    for (auto it = t_table.topics.begin(); it != t_table.topics.end();) {
        if (!topic_exists(it->first)) {
            it = t_table.topics.erase(it);
            continue;
        }
        in.add({{"topic", it->first}}, static_cast<double>(it->second.in));
        fetched.add({{"topic", it->first}}, static_cast<double>(it->second.out));
        ++it;
    }
    out.push_back(std::move(in));
    out.push_back(std::move(fetched));
}

}  // namespace wharf::metrics
