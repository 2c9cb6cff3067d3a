#include "net/kafka/header.h"

namespace wharf::kafka {

int16_t request_header_version(api_key key, int16_t version) {
    const api_descriptor* api = find_api(static_cast<int16_t>(key));
    if (api == nullptr) {
        return 1;
    }
    return version >= api->flexible_from ? 2 : 1;
}

int16_t response_header_version(api_key key, int16_t version) {
    if (key == api_key::api_versions) {
        return 0;
    }
    const api_descriptor* api = find_api(static_cast<int16_t>(key));
    if (api == nullptr) {
        return 0;
    }
    return version >= api->flexible_from ? 1 : 0;
}

bool decode_request_header(protocol_reader& r, request_header& out) {
    out.key = static_cast<api_key>(r.read_int16());
    out.version = r.read_int16();
    out.correlation_id = r.read_int32();
    out.client_id = r.read_nullable_string(true, false);
    out.unknown_tagged_fields.clear();
    if (r.ok() && request_header_version(out.key, out.version) >= 2) {
        const uint32_t count = r.read_tag_count();
        for (uint32_t i = 0; i < count && r.ok(); ++i) {
            const auto t = r.begin_tagged_field();
            r.read_unknown_tagged_field(t, out.unknown_tagged_fields);
        }
    }
    return r.ok();
}

void encode_request_header(protocol_writer& w, const request_header& h) {
    w.write_int16(static_cast<int16_t>(h.key));
    w.write_int16(h.version);
    w.write_int32(h.correlation_id);
    w.write_nullable_string(h.client_id, true, false);
    if (request_header_version(h.key, h.version) >= 2) {
        w.write_uvarint(static_cast<uint32_t>(h.unknown_tagged_fields.size()));
        w.write_unknown_tagged_fields(h.unknown_tagged_fields, 0, UINT32_MAX);
    }
}

void encode_response_header(protocol_writer& w, api_key key, int16_t version,
                            int32_t correlation_id) {
    w.write_int32(correlation_id);
    if (response_header_version(key, version) >= 1) {
        w.write_uvarint(0);
    }
}

bool decode_response_header(protocol_reader& r, api_key key, int16_t version,
                            response_header& out) {
    out.correlation_id = r.read_int32();
    out.unknown_tagged_fields.clear();
    if (r.ok() && response_header_version(key, version) >= 1) {
        const uint32_t count = r.read_tag_count();
        for (uint32_t i = 0; i < count && r.ok(); ++i) {
            const auto t = r.begin_tagged_field();
            r.read_unknown_tagged_field(t, out.unknown_tagged_fields);
        }
    }
    return r.ok();
}

}  // namespace wharf::kafka
