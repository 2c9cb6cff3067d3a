#include "net/kafka/client/admin.h"

#include "reactor/clock.h"
#include "reactor/timer.h"

namespace wharf::kafka::client {

namespace {

// Topics are created in requests of at most this many, so that a 100,000-topic workload does not
// make one request bigger than a broker accepts.
constexpr size_t topics_per_request = 1000;

int32_t controller_or_any(const kafka_client& c) {
    int32_t id = c.metadata().controller;
    return c.metadata().brokers.contains(id) ? id : -1;
}

bool all_led(const kafka_client& c, const std::vector<topic_spec>& topics) {
    for (const topic_spec& t : topics) {
        auto it = c.metadata().topics.find(t.name);
        if (it == c.metadata().topics.end() || it->second.error != kafka::error_code::none ||
            it->second.partitions.size() != static_cast<size_t>(t.partitions)) {
            return false;
        }
        for (const partition_info& p : it->second.partitions) {
            if (p.leader < 0) return false;
        }
    }
    return true;
}

}  // namespace

task<result<void>> create_topics(kafka_client& c, const std::vector<topic_spec>& topics,
                                 std::chrono::milliseconds timeout) {
    auto md = co_await c.refresh_brokers();  // the controller and its address
    if (!md) co_return md.error();
    for (size_t first = 0; first < topics.size(); first += topics_per_request) {
        kafka::create_topics_request req;
        req.timeout_ms = static_cast<int32_t>(timeout.count());
        size_t last = std::min(topics.size(), first + topics_per_request);
        for (size_t i = first; i < last; ++i) {
            kafka::create_topics_request::creatable_topic t;
            t.name = topics[i].name;
            t.num_partitions = topics[i].partitions;
            t.replication_factor = topics[i].replication_factor;
            req.topics.push_back(std::move(t));
        }
        auto resp = co_await c.call<kafka::create_topics_request, kafka::create_topics_response>(
            controller_or_any(c), req);
        if (!resp) co_return resp.error();
        for (const auto& r : resp->topics) {
            if (r.error_code != 0) {
                co_return kafka_error(static_cast<kafka::error_code>(r.error_code));
            }
        }
    }
    std::vector<std::string> names;
    names.reserve(topics.size());
    for (const topic_spec& t : topics) names.push_back(t.name);
    auto deadline = steady_now() + timeout;
    while (true) {
        auto r = co_await c.refresh_metadata(names);
        if (!r) co_return r.error();
        if (all_led(c, topics)) co_return result<void>();
        if (steady_now() >= deadline) co_return client_errc::timed_out;
        co_await sleep_for(std::chrono::milliseconds(100));
    }
}

task<result<void>> delete_topics(kafka_client& c, const std::vector<std::string>& names,
                                 std::chrono::milliseconds timeout) {
    for (size_t first = 0; first < names.size(); first += topics_per_request) {
        kafka::delete_topics_request req;
        req.timeout_ms = static_cast<int32_t>(timeout.count());
        size_t last = std::min(names.size(), first + topics_per_request);
        for (size_t i = first; i < last; ++i) {
            // v6 names topics in `topics`, older versions in `topic_names`.
            kafka::delete_topics_request::delete_topic_state s;
            s.name = names[i];
            req.topics.push_back(std::move(s));
            req.topic_names.push_back(names[i]);
        }
        auto resp = co_await c.call<kafka::delete_topics_request, kafka::delete_topics_response>(
            controller_or_any(c), req);
        if (!resp) co_return resp.error();
        for (const auto& r : resp->responses) {
            auto ec = static_cast<kafka::error_code>(r.error_code);
            if (ec != kafka::error_code::none &&
                ec != kafka::error_code::unknown_topic_or_partition) {
                co_return kafka_error(ec);
            }
        }
    }
    co_return result<void>();
}

}  // namespace wharf::kafka::client
