// ApiVersions (key 18): the versions of every API in the handler registry.

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

}  // namespace

task<api_versions_response> handle_api_versions(request_context&, api_versions_request) {
    api_versions_response resp;
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
