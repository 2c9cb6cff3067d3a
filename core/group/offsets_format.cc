#include "core/group/offsets_format.h"

#include <limits>

#include "core/group/codec.h"
#include "reactor/base/assert.h"
#include "reactor/base/utf8.h"

namespace wharf::groups {

namespace {

using detail::reader;
using detail::writer;

template <typename T>
result<T> finish(reader& r, T&& v) {
    if (!r.ok() || r.remaining() != 0) return group_errc::malformed_record;
    return std::forward<T>(v);
}

void write_member(writer& w, const group_member_value& m, int16_t version) {
    w.string(m.member_id);
    if (version >= 3) w.nullable_string(m.group_instance_id);
    w.string(m.client_id);
    w.string(m.client_host);
    if (version >= 1) w.int32(m.rebalance_timeout_ms);
    w.int32(m.session_timeout_ms);
    w.bytes_field(m.subscription);
    w.bytes_field(m.assignment);
    w.end_struct();
}

group_member_value read_member(reader& r, int16_t version) {
    group_member_value m;
    m.member_id = r.string();
    if (version >= 3) m.group_instance_id = r.nullable_string();
    m.client_id = r.string();
    m.client_host = r.string();
    if (version >= 1) m.rebalance_timeout_ms = r.int32();
    m.session_timeout_ms = r.int32();
    if (version == 0) m.rebalance_timeout_ms = m.session_timeout_ms;
    m.subscription = r.bytes_field();
    m.assignment = r.bytes_field();
    r.skip_tagged_fields();
    return m;
}

// Each member takes at least: member id, client id, client host (2 bytes each when classic),
// session timeout (4), subscription and assignment (4 each). The flexible form is smaller; one
// byte per member is the safe bound there.
constexpr size_t min_member_bytes(bool flexible) {
    return flexible ? 1 : 18;
}

}  // namespace

bytes encode_key(const offset_commit_key& k, int16_t version) {
    WHARF_ASSERT(version == 0 || version == 1, "offset commit keys have versions 0 and 1");
    writer w;
    w.int16(version);
    w.string(k.group);
    w.string(k.topic);
    w.int32(k.partition);
    return w.release();
}

bytes encode_key(const group_metadata_key& k) {
    writer w;
    w.int16(group_metadata_key_version);
    w.string(k.group);
    return w.release();
}

bytes encode_value(const offset_commit_value& v, std::optional<int16_t> version) {
    int16_t ver = version.value_or(v.expire_timestamp_ms >= 0 ? 1 : 3);
    WHARF_ASSERT(ver >= 0 && ver <= max_offset_commit_value_version,
                 "offset commit value version {}", ver);
    // The version is a plain int16 in every version, so one writer serves (also avoiding a
    // GCC 12 -O3 false -Warray-bounds on concatenating two vectors).
    writer w(ver >= 4);
    w.int16(ver);
    w.int64(v.offset);
    if (ver >= 3) w.int32(v.leader_epoch);
    w.string(v.metadata);
    w.int64(v.commit_timestamp_ms);
    if (ver == 1) w.int64(v.expire_timestamp_ms);
    w.end_struct();
    return w.release();
}

bytes encode_value(const group_metadata_value& v, int16_t version) {
    WHARF_ASSERT(version >= 0 && version <= max_group_metadata_value_version,
                 "group metadata value version {}", version);
    writer w(version >= 4);
    w.int16(version);
    w.string(v.protocol_type);
    w.int32(v.generation);
    w.nullable_string(v.protocol);
    w.nullable_string(v.leader);
    if (version >= 2) w.int64(v.current_state_timestamp_ms);
    w.array_len(v.members.size());
    for (const auto& m : v.members) write_member(w, m, version);
    w.end_struct();
    return w.release();
}

result<record_key> decode_key(std::span<const uint8_t> b) {
    reader r(b);
    int16_t version = r.int16();
    if (!r.ok()) return group_errc::malformed_record;
    if (version == 0 || version == 1) {
        offset_commit_key k;
        k.group = r.string();
        k.topic = r.string();
        k.partition = r.int32();
        return finish(r, record_key(std::move(k)));
    }
    if (version == 2) {
        group_metadata_key k;
        k.group = r.string();
        return finish(r, record_key(std::move(k)));
    }
    return record_key(unknown_key{version});
}

result<offset_commit_value> decode_offset_commit_value(std::span<const uint8_t> b) {
    reader r(b);
    int16_t version = r.int16();
    if (!r.ok()) return group_errc::malformed_record;
    if (version < 0 || version > max_offset_commit_value_version) {
        return group_errc::unsupported_record_version;
    }
    r.set_flexible(version >= 4);
    offset_commit_value v;
    v.offset = r.int64();
    if (version >= 3) v.leader_epoch = r.int32();
    v.metadata = r.string();
    v.commit_timestamp_ms = r.int64();
    if (version == 1) v.expire_timestamp_ms = r.int64();
    r.skip_tagged_fields();
    return finish(r, std::move(v));
}

result<group_metadata_value> decode_group_metadata_value(std::span<const uint8_t> b) {
    reader r(b);
    int16_t version = r.int16();
    if (!r.ok()) return group_errc::malformed_record;
    if (version < 0 || version > max_group_metadata_value_version) {
        return group_errc::unsupported_record_version;
    }
    r.set_flexible(version >= 4);
    group_metadata_value v;
    v.protocol_type = r.string();
    v.generation = r.int32();
    v.protocol = r.nullable_string();
    v.leader = r.nullable_string();
    if (version >= 2) v.current_state_timestamp_ms = r.int64();
    size_t n = r.array_len(min_member_bytes(version >= 4));
    v.members.reserve(n);
    for (size_t i = 0; i < n && r.ok(); ++i) v.members.push_back(read_member(r, version));
    r.skip_tagged_fields();
    return finish(r, std::move(v));
}

namespace {

// The next code point of UTF-8 text, U+FFFD for a malformed sequence (one byte consumed).
uint32_t next_code_point(std::string_view s, size_t& i) {
    utf8::sequence seq = utf8::decode(s, i);
    if (seq.length == 0) {
        ++i;
        return utf8::replacement_character;
    }
    i += seq.length;
    return seq.code_point;
}

}  // namespace

int32_t java_string_hash(std::string_view s) {
    uint32_t h = 0;  // unsigned: Java's int arithmetic wraps
    size_t i = 0;
    while (i < s.size()) {
        uint32_t cp = next_code_point(s, i);
        if (cp >= 0x10000) {
            cp -= 0x10000;
            h = 31 * h + (0xd800 + (cp >> 10));
            h = 31 * h + (0xdc00 + (cp & 0x3ff));
        } else {
            h = 31 * h + cp;
        }
    }
    return int32_t(h);
}

int32_t offsets_partition_for(std::string_view group_id, int32_t partition_count) {
    WHARF_ASSERT(partition_count > 0, "partition count {}", partition_count);
    int32_t h = java_string_hash(group_id);
    int32_t abs = h == std::numeric_limits<int32_t>::min() ? 0 : (h < 0 ? -h : h);
    return abs % partition_count;
}

}  // namespace wharf::groups
