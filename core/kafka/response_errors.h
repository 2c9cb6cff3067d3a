#pragma once

// Whether a decoded Kafka response carries an error code, for the error counters of /metrics
// (core/metrics/kafka_metrics.h). Responses put their error codes at the top (JoinGroup), per
// resource (CreateTopics) or per partition (Produce, Fetch); the generated structs name those
// levels consistently, so one template walks them all without a per-API list.

#include <cstddef>
#include <cstdint>

namespace wharf::kafka {

// Calls f(code) for every error code of a decoded response, zero or not.
template <typename T, typename F>
void for_each_error_code(const T& v, F& f) {
    if constexpr (requires { v.error_code != 0; }) f(static_cast<int16_t>(v.error_code));
    auto walk = [&f](const auto& items) {
        for (const auto& item : items) for_each_error_code(item, f);
    };
    if constexpr (requires { v.responses.begin(); }) walk(v.responses);
    if constexpr (requires { v.partition_responses.begin(); }) walk(v.partition_responses);
    if constexpr (requires { v.partitions.begin(); }) walk(v.partitions);
    if constexpr (requires { v.topics.begin(); }) walk(v.topics);
    if constexpr (requires { v.results.begin(); }) walk(v.results);
    if constexpr (requires { v.groups.begin(); }) walk(v.groups);
    if constexpr (requires { v.coordinators.begin(); }) walk(v.coordinators);
    if constexpr (requires { v.members.begin(); }) walk(v.members);
}

template <typename T>
size_t count_error_codes(const T& v) {
    size_t n = 0;
    auto count = [&n](int16_t code) { n += code != 0 ? 1 : 0; };
    for_each_error_code(v, count);
    return n;
}

// Whether a controller write's response refuses every item with NOT_CONTROLLER (41): nothing
// was written, and the whole request may go to the controller that has taken over. (The
// controller writes' responses carry their codes per item only.)
template <typename T>
bool refused_as_not_controller(const T& v) {
    bool refused = false;
    bool other = false;
    auto look = [&refused, &other](int16_t code) { (code == 41 ? refused : other) = true; };
    for_each_error_code(v, look);
    return refused && !other;
}

}  // namespace wharf::kafka
