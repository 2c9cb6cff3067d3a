#pragma once

// The parts of the "consumer" embedded protocol (ConsumerProtocolSubscription) that the
// coordinator reads: the subscribed topics, to refuse OffsetDelete on a topic the group consumes.
// Kafka parses with version 0, the prefix of every version (version int16, topics []string,
// user_data nullable bytes); later fields (owned partitions, rack, generation) are ignored.

#include <cstdint>
#include <optional>
#include <span>
#include <string>
#include <vector>

namespace wharf::groups {

inline constexpr std::string_view consumer_protocol_type = "consumer";

// The subscribed topics; nullopt when the bytes do not parse (a negative version, a
// truncated field).
std::optional<std::vector<std::string>> parse_subscription_topics(
    std::span<const uint8_t> metadata);

// Encodes a version 0 subscription (tests and tools).
std::vector<uint8_t> encode_subscription_v0(const std::vector<std::string>& topics,
                                            const std::vector<uint8_t>& user_data = {});

}  // namespace wharf::groups
