#include "log/record_reader.h"

#include "log/errc.h"
#include "log/varint.h"
#include "reactor/base/assert.h"

namespace wharf {

namespace {

// A record body without its length prefix is at least six one-byte fields.
constexpr int32_t min_record_body_bytes = static_cast<int32_t>(min_record_bytes) - 1;
// A header is at least a key length and a value length.
constexpr size_t min_header_bytes = 2;

// Reads a nullable byte string (varint length, -1 for null) from body[pos]. Lengths below -1 are
// rejected: Kafka writes -1 for null, so anything else negative is corruption.
bool read_nullable_bytes(std::span<const std::byte> body, size_t& pos,
                         std::optional<std::span<const std::byte>>& out) noexcept {
    auto len = read_varint(body, pos);
    if (!len || *len < -1) return false;
    if (*len == -1) {
        out.reset();
        return true;
    }
    const auto n = static_cast<size_t>(*len);
    if (n > body.size() - pos) return false;
    out = body.subspan(pos, n);
    pos += n;
    return true;
}

// Walks the headers of one record, checking every length; returns false on any malformation.
bool check_headers(std::span<const std::byte> body, size_t& pos, int32_t count) noexcept {
    for (int32_t i = 0; i < count; ++i) {
        std::optional<std::span<const std::byte>> key;
        std::optional<std::span<const std::byte>> value;
        if (!read_nullable_bytes(body, pos, key) || !key) return false;
        if (!read_nullable_bytes(body, pos, value)) return false;
    }
    return true;
}

// Parses the fields of one record body (the bytes its length prefix covers), which must be
// consumed exactly.
bool parse_body(std::span<const std::byte> body, record_view& r) noexcept {
    size_t pos = 0;
    r.attributes = static_cast<int8_t>(body[pos++]);
    auto ts = read_varlong(body, pos);
    if (!ts) return false;
    r.timestamp_delta = *ts;
    auto off = read_varint(body, pos);
    if (!off) return false;
    r.offset_delta = *off;
    if (!read_nullable_bytes(body, pos, r.key)) return false;
    if (!read_nullable_bytes(body, pos, r.value)) return false;
    auto hc = read_varint(body, pos);
    // Checked against the bytes left before the loop, so an absurd count fails at once.
    if (!hc || *hc < 0 || static_cast<size_t>(*hc) > (body.size() - pos) / min_header_bytes) {
        return false;
    }
    r.headers_count = *hc;
    const size_t headers_start = pos;
    if (!check_headers(body, pos, *hc)) return false;
    r.headers = body.subspan(headers_start, pos - headers_start);
    return pos == body.size();
}

}  // namespace

result<record_view> record_reader::next() noexcept {
    WHARF_ASSERT(!at_end(), "record_reader::next past the declared {} records", _count);
    if (_failed) return log_errc::invalid_record;
    const size_t start = _pos;
    auto len = read_varint(_bytes, _pos);
    if (!len || *len < min_record_body_bytes || static_cast<size_t>(*len) > bytes_left()) {
        _failed = true;
        return log_errc::invalid_record;
    }
    record_view r;
    if (!parse_body(_bytes.subspan(_pos, static_cast<size_t>(*len)), r)) {
        _failed = true;
        return log_errc::invalid_record;
    }
    _pos += static_cast<size_t>(*len);
    r.encoded = _bytes.subspan(start, _pos - start);
    ++_read;
    return r;
}

record_header_view header_reader::next() noexcept {
    WHARF_ASSERT(!at_end(), "header_reader::next past the declared {} headers", _count);
    std::optional<std::span<const std::byte>> key;
    record_header_view h;
    // record_reader checked these bytes when it returned the record; failing here is a bug.
    const bool ok = read_nullable_bytes(_bytes, _pos, key) && key.has_value() &&
                    read_nullable_bytes(_bytes, _pos, h.value);
    WHARF_ASSERT(ok, "header {} of a checked record does not parse", _read);
    h.key = *key;
    ++_read;
    return h;
}

}  // namespace wharf
