#include "raft/message_codec.h"

#include <array>
#include <bit>
#include <cstring>
#include <limits>
#include <span>
#include <type_traits>
#include <utility>
#include <vector>

#include "raft/errc.h"

namespace wharf {

namespace {

// Fields are written with memcpy of native integers: the encoding is little-endian.
static_assert(std::endian::native == std::endian::little,
              "the raft message encoding is little-endian and written with native stores");

// The type byte is the variant's index + 1: a body added to raft_message must be added here.
using body_variant = decltype(raft_message::body);
static_assert(std::variant_size_v<body_variant> == 6, "encode and decode every raft message body");
constexpr uint8_t max_type = 6;

constexpr uint8_t flag_pre_vote = 1;        // vote_request, vote_reply
constexpr uint8_t flag_transfer = 2;        // vote_request
constexpr uint8_t flag_granted = 1;         // vote_reply
constexpr uint8_t flag_reply_pre_vote = 2;  // vote_reply
constexpr uint8_t flag_success = 1;         // append_reply

constexpr uint8_t min_entry_type = static_cast<uint8_t>(entry_type::data);
constexpr uint8_t max_entry_type = static_cast<uint8_t>(entry_type::raft_noop);

// Payloads up to this size are copied into the encoded headers: a fragment of their own would
// cost more than the copy (heartbeat no-ops and control entries are this small).
constexpr size_t inline_payload_bytes = 64;

// Appends fixed-width little-endian fields to a contiguous buffer.
class writer {
public:
    template <typename T>
    void put(T v) {
        auto at = _bytes.size();
        _bytes.resize(at + sizeof(T));
        std::memcpy(_bytes.data() + at, &v, sizeof(T));
    }
    std::vector<std::byte>& bytes() noexcept { return _bytes; }

private:
    std::vector<std::byte> _bytes;
};

// Reads fixed-width fields from the front of a shared view of the input. Every read says
// whether the bytes were there; the caller stops at the first that was not.
class reader {
public:
    explicit reader(const iobuf& in) : _rest(in.share()) {}

    size_t remaining() const noexcept { return _rest.size(); }

    template <typename T>
    bool get(T& out) {
        if (_rest.size() < sizeof(T)) return false;
        _rest.copy_to(0, &out, sizeof(T));
        _rest.trim_front(sizeof(T));
        return true;
    }
    template <typename S>
    bool get_id(S& out) {
        typename S::value_type v;
        if (!get(v)) return false;
        out = S(v);
        return true;
    }
    // The next n bytes, shared. REQUIRES: n <= remaining().
    iobuf take(size_t n) {
        iobuf r = _rest.share(0, n);
        _rest.trim_front(n);
        return r;
    }

private:
    iobuf _rest;
};

bool negative(term_id t) noexcept {
    return t.value() < 0;
}
bool negative(raft_index i) noexcept {
    return i.value() < 0;
}

bool valid_entries(const append_request& r) noexcept {
    if (r.entries.size() > max_entries_per_message) return false;
    if (r.prev_index.value() >
        std::numeric_limits<int64_t>::max() - static_cast<int64_t>(r.entries.size())) {
        return false;
    }
    raft_index expected = r.prev_index + 1;
    term_id floor = r.prev_term;
    for (const raft_entry& e : r.entries) {
        if (e.index != expected || e.term < floor || e.term > r.term) return false;
        auto type = static_cast<uint8_t>(e.type);
        if (type < min_entry_type || type > max_entry_type) return false;
        if (e.payload.size() > max_entry_payload_bytes) return false;
        if (e.type == entry_type::raft_configuration && !decode_config(e.payload)) return false;
        ++expected;
        floor = e.term;
    }
    return true;
}

bool valid_body(const body_variant& body) noexcept {
    return std::visit(
        [](const auto& b) {
            using B = std::decay_t<decltype(b)>;
            if (negative(b.term)) return false;
            if constexpr (std::is_same_v<B, vote_request>) {
                return !negative(b.last_index) && !negative(b.last_term);
            } else if constexpr (std::is_same_v<B, append_request>) {
                return !negative(b.prev_index) && !negative(b.prev_term) &&
                       !negative(b.leader_commit) && b.prev_term <= b.term && valid_entries(b);
            } else if constexpr (std::is_same_v<B, append_reply>) {
                return !negative(b.match_index) && !negative(b.last_index);
            } else if constexpr (std::is_same_v<B, install_snapshot>) {
                return b.last_index.value() >= 1 && !negative(b.last_term) &&
                       b.last_term <= b.term && !negative(b.leader_commit) &&
                       b.data.size() <= max_snapshot_bytes &&
                       (!b.config || (!negative(b.config->index) && !negative(b.config->term) &&
                                      validate_config(b.config->config)));
            } else {
                return true;
            }
        },
        body);
}

uint8_t bit(bool on, uint8_t flag) noexcept {
    return on ? flag : uint8_t{0};
}

// Payloads shared into the encoding: each goes at an offset of the writer's bytes.
using shared_payloads = std::vector<std::pair<size_t, const iobuf*>>;

void put_body(writer& w, const vote_request& v, shared_payloads&) {
    w.put(v.term.value());
    w.put(v.last_index.value());
    w.put(v.last_term.value());
    w.put<uint8_t>(bit(v.pre_vote, flag_pre_vote) | bit(v.leadership_transfer, flag_transfer));
}

void put_body(writer& w, const vote_reply& v, shared_payloads&) {
    w.put(v.term.value());
    w.put<uint8_t>(bit(v.granted, flag_granted) | bit(v.pre_vote, flag_reply_pre_vote));
}

void put_body(writer& w, const append_request& a, shared_payloads& shared) {
    w.put(a.term.value());
    w.put(a.prev_index.value());
    w.put(a.prev_term.value());
    w.put(a.leader_commit.value());
    w.put(static_cast<uint32_t>(a.entries.size()));
    for (const raft_entry& e : a.entries) {
        w.put(e.index.value());
        w.put(e.term.value());
        w.put(e.partition.value());
        w.put(static_cast<uint32_t>(e.payload.size()));
        w.put(static_cast<uint8_t>(e.type));
        if (e.payload.size() <= inline_payload_bytes) {
            auto& bytes = w.bytes();
            auto at = bytes.size();
            bytes.resize(at + e.payload.size());
            e.payload.copy_to(0, bytes.data() + at, e.payload.size());
        } else {
            shared.emplace_back(w.bytes().size(), &e.payload);
        }
    }
}

void put_body(writer& w, const append_reply& a, shared_payloads&) {
    w.put(a.term.value());
    w.put(a.match_index.value());
    w.put(a.last_index.value());
    w.put<uint8_t>(bit(a.success, flag_success));
}

void put_body(writer& w, const timeout_now& t, shared_payloads&) {
    w.put(t.term.value());
}

void put_body(writer& w, const install_snapshot& s, shared_payloads& shared) {
    w.put(s.term.value());
    w.put(s.last_index.value());
    w.put(s.last_term.value());
    w.put(s.leader_commit.value());
    w.put(static_cast<uint32_t>(s.data.size()));
    shared.emplace_back(w.bytes().size(), &s.data);
    w.put<uint8_t>(s.config ? 1 : 0);
    if (!s.config) return;
    w.put(s.config->index.value());
    w.put(s.config->term.value());
    iobuf members = encode_config(s.config->config);
    w.put(static_cast<uint32_t>(members.size()));
    auto at = w.bytes().size();
    w.bytes().resize(at + members.size());
    members.copy_to(0, w.bytes().data() + at, members.size());
}

bool get_flags(reader& r, uint8_t known, uint8_t& flags) {
    return r.get(flags) && (flags & ~known) == 0;
}

bool get_body(reader& r, vote_request& v) {
    uint8_t flags = 0;
    if (!r.get_id(v.term) || !r.get_id(v.last_index) || !r.get_id(v.last_term) ||
        !get_flags(r, flag_pre_vote | flag_transfer, flags)) {
        return false;
    }
    v.pre_vote = (flags & flag_pre_vote) != 0;
    v.leadership_transfer = (flags & flag_transfer) != 0;
    return true;
}

bool get_body(reader& r, vote_reply& v) {
    uint8_t flags = 0;
    if (!r.get_id(v.term) || !get_flags(r, flag_granted | flag_reply_pre_vote, flags)) {
        return false;
    }
    v.granted = (flags & flag_granted) != 0;
    v.pre_vote = (flags & flag_reply_pre_vote) != 0;
    return true;
}

bool get_entry(reader& r, raft_entry& e) {
    uint32_t payload_bytes = 0;
    uint8_t type = 0;
    if (!r.get_id(e.index) || !r.get_id(e.term) || !r.get_id(e.partition) ||
        !r.get(payload_bytes) || !r.get(type)) {
        return false;
    }
    if (type < min_entry_type || type > max_entry_type) return false;
    if (payload_bytes > max_entry_payload_bytes || payload_bytes > r.remaining()) return false;
    e.type = static_cast<entry_type>(type);
    e.payload = r.take(payload_bytes);
    return true;
}

bool get_body(reader& r, append_request& a) {
    uint32_t count = 0;
    if (!r.get_id(a.term) || !r.get_id(a.prev_index) || !r.get_id(a.prev_term) ||
        !r.get_id(a.leader_commit) || !r.get(count)) {
        return false;
    }
    // Both bounds hold before anything is allocated: a count the remaining bytes cannot hold
    // (each entry has a header) is refused, however it was made.
    if (count > max_entries_per_message) return false;
    if (uint64_t{count} * raft_entry_header_bytes > r.remaining()) return false;
    a.entries.reserve(count);
    for (uint32_t i = 0; i < count; ++i) {
        raft_entry e;
        if (!get_entry(r, e)) return false;
        a.entries.push_back(std::move(e));
    }
    return true;
}

bool get_body(reader& r, append_reply& a) {
    uint8_t flags = 0;
    if (!r.get_id(a.term) || !r.get_id(a.match_index) || !r.get_id(a.last_index) ||
        !get_flags(r, flag_success, flags)) {
        return false;
    }
    a.success = (flags & flag_success) != 0;
    return true;
}

bool get_body(reader& r, timeout_now& t) {
    return r.get_id(t.term);
}

bool get_body(reader& r, install_snapshot& s) {
    uint32_t data_bytes = 0;
    if (!r.get_id(s.term) || !r.get_id(s.last_index) || !r.get_id(s.last_term) ||
        !r.get_id(s.leader_commit) || !r.get(data_bytes)) {
        return false;
    }
    if (data_bytes > max_snapshot_bytes || data_bytes > r.remaining()) return false;
    s.data = r.take(data_bytes);
    uint8_t has_config = 0;
    if (!r.get(has_config) || has_config > 1) return false;
    if (has_config == 0) return true;
    config_entry c;
    uint32_t config_bytes = 0;
    if (!r.get_id(c.index) || !r.get_id(c.term) || !r.get(config_bytes)) return false;
    if (config_bytes > r.remaining()) return false;
    auto members = decode_config(r.take(config_bytes));
    if (!members) return false;
    c.config = std::move(*members);
    s.config = std::move(c);
    return true;
}

// Decodes the body of variant index I into m when type names it.
template <size_t I = 0>
bool get_typed_body(reader& r, uint8_t type, body_variant& body) {
    if constexpr (I < std::variant_size_v<body_variant>) {
        if (type == I + 1) return get_body(r, body.emplace<I>());
        return get_typed_body<I + 1>(r, type, body);
    } else {
        return false;
    }
}

}  // namespace

status validate_raft_message(const raft_message& m) {
    if (m.from.value() < 0 || m.to.value() < 0) return raft_errc::malformed_message;
    if (!valid_body(m.body)) return raft_errc::malformed_message;
    return {};
}

uint64_t encoded_raft_message_bytes(const raft_message& m) noexcept {
    constexpr std::array<uint64_t, max_type> body_bytes{25, 9, 36, 25, 8, 37};
    uint64_t n = raft_message_header_bytes + body_bytes[m.body.index()];
    if (auto* a = std::get_if<append_request>(&m.body)) {
        for (const raft_entry& e : a->entries) n += raft_entry_header_bytes + e.payload.size();
    } else if (auto* s = std::get_if<install_snapshot>(&m.body)) {
        n += s->data.size();
        if (s->config) n += 20 + encoded_config_bytes(s->config->config);
    }
    return n;
}

iobuf encode_raft_message(const raft_message& m) {
    auto valid = validate_raft_message(m);
    WHARF_ASSERT(valid, "encoding a raft message (type {}) that breaks the codec's rules",
                 m.body.index() + 1);
    writer w;
    w.put(m.group.value() == 0 ? raft_codec_version_without_groups : raft_codec_version);
    w.put(static_cast<uint8_t>(m.body.index() + 1));
    w.put(m.group.value());
    w.put(m.from.value());
    w.put(m.to.value());
    shared_payloads shared;
    std::visit([&](const auto& b) { put_body(w, b, shared); }, m.body);

    // One chunk holds every field and the small payloads; the large payloads are spliced in
    // between its pieces by reference.
    iobuf fields = iobuf::copy_of(w.bytes().data(), w.bytes().size());
    if (shared.empty()) return fields;
    iobuf out;
    size_t done = 0;
    for (auto [at, payload] : shared) {
        out.append(fields.share(done, at - done));
        out.append(payload->share());
        done = at;
    }
    out.append(fields.share(done, fields.size() - done));
    WHARF_VERIFY_ASSERT(out.size() == encoded_raft_message_bytes(m), "encoded {} bytes, not {}",
                        out.size(), encoded_raft_message_bytes(m));
    return out;
}

result<raft_message> decode_raft_message(const iobuf& in) {
    reader r(in);
    uint8_t version = 0;
    if (!r.get(version)) return raft_errc::malformed_message;
    if (version != raft_codec_version && version != raft_codec_version_without_groups) {
        return raft_errc::unsupported_message_version;
    }
    uint8_t type = 0;
    uint16_t group = 0;
    raft_message m;
    if (!r.get(type) || !r.get(group) || !r.get_id(m.from) || !r.get_id(m.to)) {
        return raft_errc::malformed_message;
    }
    // Version 2 reserved the field as zero; a group is written as version 3.
    if (version == raft_codec_version_without_groups ? group != 0 : group == 0) {
        return raft_errc::malformed_message;
    }
    m.group = raft_group_id(group);
    if (!get_typed_body(r, type, m.body) || r.remaining() != 0) {
        return raft_errc::malformed_message;
    }
    auto valid = validate_raft_message(m);
    if (!valid) return valid.error();
    return m;
}

}  // namespace wharf
