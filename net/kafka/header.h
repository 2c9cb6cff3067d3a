#pragma once

// Kafka request and response headers (RequestHeader v0-v2, ResponseHeader v0-v1).
//
// The header version follows from the API and its version: v2 (with tagged fields) for a flexible
// request version, v1 otherwise; a response header is v1 for a flexible version, except that
// ApiVersions responses always use v0 (a client that does not yet know the broker's versions
// must be able to read it). The client id stays a classic nullable string even in v2.

#include <cstdint>
#include <optional>
#include <string>
#include <vector>

#include "net/kafka/messages.h"
#include "net/kafka/protocol.h"

namespace wharf::kafka {

struct request_header {
    // The raw key: may name an API the codec does not implement (check find_api()).
    api_key key{};
    int16_t version = 0;
    int32_t correlation_id = 0;
    std::optional<std::string> client_id;
    std::vector<tagged_field> unknown_tagged_fields;

    bool operator==(const request_header&) const = default;
};

struct response_header {
    int32_t correlation_id = 0;
    std::vector<tagged_field> unknown_tagged_fields;  // v1 only

    bool operator==(const response_header&) const = default;
};

// 1 or 2 for requests (unknown APIs: 1); 0 or 1 for responses.
int16_t request_header_version(api_key key, int16_t version);
int16_t response_header_version(api_key key, int16_t version);

// Reads key and version, then the rest of the header in the version they imply. False (and
// r.ok() false) on malformed input; the key and version are filled in as soon as they are read,
// so that an error response can still be addressed.
bool decode_request_header(protocol_reader& r, request_header& out);
void encode_request_header(protocol_writer& w, const request_header& h);
void encode_response_header(protocol_writer& w, api_key key, int16_t version,
                            int32_t correlation_id);
// Reads the header of the response to a request of `key` in `version`, in the header version
// response_header_version gives. False (and r.ok() false) on malformed input; the correlation id
// is filled in as soon as it is read, so that a reader can still match the response to its call.
bool decode_response_header(protocol_reader& r, api_key key, int16_t version, response_header& out);

}  // namespace wharf::kafka
