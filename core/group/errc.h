#pragma once

// Expected failures of the consumer-group code that are not Kafka answers: records of the
// __consumer_offsets topic that do not decode. Group protocol outcomes are Kafka error codes
// already (kafka::error_code), since the group logic answers the Kafka APIs directly.

#include <system_error>
#include <type_traits>

namespace wharf::groups {

// Values are stable and never zero (zero means success).
enum class group_errc : int {
    malformed_record = 1,        // truncated, a negative length, bytes left over
    unsupported_record_version,  // a value version this broker does not know
};

const std::error_category& group_category() noexcept;

inline std::error_code make_error_code(group_errc e) noexcept {
    return {static_cast<int>(e), group_category()};
}

}  // namespace wharf::groups

template <>
struct std::is_error_code_enum<wharf::groups::group_errc> : std::true_type {};
