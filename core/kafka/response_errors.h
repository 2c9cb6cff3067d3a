#pragma once

// Whether a decoded Kafka response carries an error code, for the error counters of /metrics
// (core/metrics/kafka_metrics.h). Responses put their error codes at the top (JoinGroup), per
// resource (CreateTopics) or per partition (Produce, Fetch); the generated structs name those
// levels consistently, so one template walks them all without a per-API list.

#include <cstddef>

namespace wharf::kafka {

template <typename T>
size_t count_error_codes(const T& v) {
    size_t n = 0;
    if constexpr (requires { v.error_code != 0; }) n += v.error_code != 0 ? 1 : 0;
    auto walk = [&n](const auto& items) {
        for (const auto& item : items) n += count_error_codes(item);
    };
    if constexpr (requires { v.responses.begin(); }) walk(v.responses);
    if constexpr (requires { v.partition_responses.begin(); }) walk(v.partition_responses);
    if constexpr (requires { v.partitions.begin(); }) walk(v.partitions);
    if constexpr (requires { v.topics.begin(); }) walk(v.topics);
    if constexpr (requires { v.results.begin(); }) walk(v.results);
    if constexpr (requires { v.groups.begin(); }) walk(v.groups);
    if constexpr (requires { v.coordinators.begin(); }) walk(v.coordinators);
    if constexpr (requires { v.members.begin(); }) walk(v.members);
    return n;
}

}  // namespace wharf::kafka
