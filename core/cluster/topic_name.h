#pragma once

// Kafka's rules for topic names (org.apache.kafka.common.internals.Topic): what a name may be,
// when two names collide, and which names are internal.

#include <string>
#include <string_view>

namespace wharf {

inline constexpr size_t max_topic_name_length = 249;

enum class topic_name_check {
    ok,
    empty,
    dot_or_dot_dot,     // "." or ".."
    too_long,           // more than max_topic_name_length characters
    illegal_character,  // a character other than [a-zA-Z0-9._-]
};

// Names starting with "__" (e.g. __consumer_offsets) are valid and marked internal.
topic_name_check validate_topic_name(std::string_view name) noexcept;

// Kafka's message for a refused name (the error_message of INVALID_TOPIC_EXCEPTION).
// REQUIRES: check != ok.
std::string topic_name_error_message(topic_name_check check, std::string_view name);

bool is_internal_topic_name(std::string_view name) noexcept;

// Kafka refuses a topic whose name equals an existing one after mapping '.' to '_' (both become
// '_' in metric names): two names collide exactly when their collision keys are equal.
std::string topic_collision_key(std::string_view name);

}  // namespace wharf
