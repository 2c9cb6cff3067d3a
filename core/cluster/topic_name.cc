#include "core/cluster/topic_name.h"

#include <algorithm>

#include <fmt/format.h>

#include "reactor/base/assert.h"

namespace wharf {

namespace {

bool legal_character(char c) noexcept {
    return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') || c == '.' ||
           c == '_' || c == '-';
}

}  // namespace

topic_name_check validate_topic_name(std::string_view name) noexcept {
    if (name.empty()) return topic_name_check::empty;
    if (name == "." || name == "..") return topic_name_check::dot_or_dot_dot;
    if (name.size() > max_topic_name_length) return topic_name_check::too_long;
    if (!std::all_of(name.begin(), name.end(), legal_character)) {
        return topic_name_check::illegal_character;
    }
    return topic_name_check::ok;
}

std::string topic_name_error_message(topic_name_check check, std::string_view name) {
    switch (check) {
        case topic_name_check::empty:
            return "Topic name is illegal, it can't be empty";
        case topic_name_check::dot_or_dot_dot:
            return "Topic name cannot be \".\" or \"..\"";
        case topic_name_check::too_long:
            return fmt::format(
                "Topic name is illegal, it can't be longer than {} characters, topic name: {}",
                max_topic_name_length, name);
        case topic_name_check::illegal_character:
            return fmt::format(
                "Topic name \"{}\" is illegal, it contains a character other than ASCII "
                "alphanumerics, '.', '_' and '-'",
                name);
        case topic_name_check::ok:
            break;
    }
    WHARF_ASSERT(false, "no error message for a valid topic name");
    return {};
}

bool is_internal_topic_name(std::string_view name) noexcept {
    return name.starts_with("__");
}

std::string topic_collision_key(std::string_view name) {
    std::string key(name);
    std::replace(key.begin(), key.end(), '.', '_');
    return key;
}

}  // namespace wharf
