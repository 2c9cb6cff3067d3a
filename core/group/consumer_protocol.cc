#include "core/group/consumer_protocol.h"

#include "core/group/codec.h"

namespace wharf::groups {

std::optional<std::vector<std::string>> parse_subscription_topics(
    std::span<const uint8_t> metadata) {
    detail::reader r(metadata);
    int16_t version = r.int16();
    if (!r.ok() || version < 0) return std::nullopt;
    size_t n = r.array_len(2);  // each topic takes at least its int16 length
    std::vector<std::string> topics;
    topics.reserve(n);
    for (size_t i = 0; i < n && r.ok(); ++i) topics.push_back(r.string());
    // user_data: nullable bytes; read only to reject a truncated record as Kafka does.
    r.nullable_bytes_field();
    if (!r.ok()) return std::nullopt;
    return topics;
}

std::vector<uint8_t> encode_subscription_v0(const std::vector<std::string>& topics,
                                            const std::vector<uint8_t>& user_data) {
    detail::writer w;
    w.int16(0);
    w.array_len(topics.size());
    for (const auto& t : topics) w.string(t);
    w.bytes_field(user_data);
    return w.release();
}

}  // namespace wharf::groups
