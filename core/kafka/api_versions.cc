// ApiVersions (key 18): the versions of every API in the handler registry.

#include <string_view>

#include "core/kafka/handlers.h"
#include "net/kafka/error_code.h"

namespace wharf::kafka {

namespace {

template <typename Key>
std::vector<Key> supported_keys() {
    std::vector<Key> keys;
    for (const auto& h : handler_registry()) {
        Key k;
        k.api_key = static_cast<int16_t>(h.key);
        k.min_version = h.advertised_min_version;
        k.max_version = h.max_version;
        keys.push_back(std::move(k));
    }
    return keys;
}

// Kafka's ApiVersionsRequest.isValid (v3+, KIP-511): the client's software name and version
// match [a-zA-Z0-9](?:[a-zA-Z0-9\-.]*[a-zA-Z0-9])?
bool valid_software_field(std::string_view s) {
    auto alnum = [](char c) {
        return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9');
    };
    if (s.empty() || !alnum(s.front()) || !alnum(s.back())) return false;
    for (char c : s) {
        if (!alnum(c) && c != '-' && c != '.') return false;
    }
    return true;
}

}  // namespace

task<api_versions_response> handle_api_versions(request_context& ctx, api_versions_request req) {
    api_versions_response resp;
    if (ctx.version() >= 3 && (!valid_software_field(req.client_software_name) ||
                               !valid_software_field(req.client_software_version))) {
        // Kafka answers INVALID_REQUEST with no API keys.
        resp.error_code = static_cast<int16_t>(error_code::invalid_request);
        co_return resp;
    }
    resp.error_code = 0;
    resp.api_keys = supported_keys<api_versions_response::api_version>();
    co_return resp;
}

iobuf unsupported_api_versions_response(int32_t correlation_id) {
    api_versions_response resp;
    resp.error_code = static_cast<int16_t>(error_code::unsupported_version);
    resp.api_keys = supported_keys<api_versions_response::api_version>();
    protocol_writer w;
    // Response header v0 (the correlation id alone) and body v0, whatever the request's version.
    encode_response_header(w, api_key::api_versions, 0, correlation_id);
    resp.encode(w, 0);
    return w.release();
}

}  // namespace wharf::kafka
