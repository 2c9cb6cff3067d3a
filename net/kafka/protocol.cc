#include "net/kafka/protocol.h"

#include <bit>
#include <cstring>
#include <limits>

namespace wharf::kafka {

namespace {

// Values up to this many bytes are copied into the output rather than shared: a fragment per
// small field would cost more than the copy.
constexpr size_t share_threshold_bytes = 256;

template <typename T>
T load_be(const std::byte* p) {
    using U = std::make_unsigned_t<T>;
    U v = 0;
    for (size_t i = 0; i < sizeof(T); ++i) {
        v = static_cast<U>((v << 8) | static_cast<U>(std::to_integer<uint8_t>(p[i])));
    }
    return static_cast<T>(v);
}

template <typename T>
std::array<std::byte, sizeof(T)> store_be(T value) {
    using U = std::make_unsigned_t<T>;
    auto v = static_cast<U>(value);
    std::array<std::byte, sizeof(T)> out;
    for (size_t i = sizeof(T); i-- > 0;) {
        out[i] = static_cast<std::byte>(v & 0xff);
        v = static_cast<U>(v >> 8);
    }
    return out;
}

}  // namespace

bool uuid::is_nil() const noexcept {
    for (uint8_t b : bytes) {
        if (b != 0) {
            return false;
        }
    }
    return true;
}

// ---- protocol_reader ----

protocol_reader::protocol_reader(iobuf& frame) : _frame(frame), _end(frame.size()) {
    if (!frame.empty()) {
        _data = frame.linearize(0, frame.size()).data();
    }
}

void protocol_reader::fail(const char* why) noexcept {
    if (_error == nullptr) {
        _error = why;
    }
}

const std::byte* protocol_reader::take(size_t n) {
    if (_error != nullptr) {
        return nullptr;
    }
    if (n > remaining()) {
        fail("truncated input");
        return nullptr;
    }
    const std::byte* p = _data + _pos;
    _pos += n;
    return p;
}

int8_t protocol_reader::read_int8() {
    const std::byte* p = take(1);
    return p == nullptr ? 0 : static_cast<int8_t>(std::to_integer<uint8_t>(*p));
}

int16_t protocol_reader::read_int16() {
    const std::byte* p = take(2);
    return p == nullptr ? 0 : load_be<int16_t>(p);
}

int32_t protocol_reader::read_int32() {
    const std::byte* p = take(4);
    return p == nullptr ? 0 : load_be<int32_t>(p);
}

int64_t protocol_reader::read_int64() {
    const std::byte* p = take(8);
    return p == nullptr ? 0 : load_be<int64_t>(p);
}

uint16_t protocol_reader::read_uint16() {
    const std::byte* p = take(2);
    return p == nullptr ? 0 : load_be<uint16_t>(p);
}

double protocol_reader::read_float64() {
    return std::bit_cast<double>(read_int64());
}

bool protocol_reader::read_bool() {
    // Kafka reads any non-zero byte as true; so do we, and re-encoding normalizes to 1.
    return read_int8() != 0;
}

uuid protocol_reader::read_uuid() {
    uuid u;
    const std::byte* p = take(u.bytes.size());
    if (p != nullptr) {
        std::memcpy(u.bytes.data(), p, u.bytes.size());
    }
    return u;
}

uint32_t protocol_reader::read_uvarint() {
    uint32_t value = 0;
    for (int shift = 0; shift < 35; shift += 7) {
        const std::byte* p = take(1);
        if (p == nullptr) {
            return 0;
        }
        const auto b = std::to_integer<uint32_t>(*p);
        if (shift == 28 && (b & 0xf0) != 0) {
            fail("varint too long");
            return 0;
        }
        value |= (b & 0x7f) << shift;
        if ((b & 0x80) == 0) {
            return value;
        }
    }
    fail("varint too long");
    return 0;
}

int32_t protocol_reader::read_varint() {
    const uint32_t u = read_uvarint();
    return static_cast<int32_t>((u >> 1) ^ (~(u & 1) + 1));
}

int64_t protocol_reader::read_varlong() {
    uint64_t value = 0;
    for (int shift = 0; shift < 70; shift += 7) {
        const std::byte* p = take(1);
        if (p == nullptr) {
            return 0;
        }
        const auto b = std::to_integer<uint64_t>(*p);
        if (shift == 63 && (b & 0xfe) != 0) {
            fail("varlong too long");
            return 0;
        }
        value |= (b & 0x7f) << shift;
        if ((b & 0x80) == 0) {
            return static_cast<int64_t>((value >> 1) ^ (~(value & 1) + 1));
        }
    }
    fail("varlong too long");
    return 0;
}

int64_t protocol_reader::read_length(bool flexible, bool wide) {
    int64_t len = 0;
    if (flexible) {
        len = static_cast<int64_t>(read_uvarint()) - 1;
    } else {
        len = wide ? read_int32() : read_int16();
    }
    if (!ok()) {
        return 0;
    }
    if (len < -1) {
        fail("negative length");
        return 0;
    }
    if (len > static_cast<int64_t>(remaining())) {
        fail("length beyond the end of the frame");
        return 0;
    }
    return len;
}

std::optional<std::string> protocol_reader::read_nullable_string(bool nullable, bool flexible) {
    const int64_t len = read_length(flexible, false);
    if (len < 0) {
        if (!nullable) {
            fail("null string in a non-nullable field");
            return std::string();
        }
        return std::nullopt;
    }
    const std::byte* p = take(static_cast<size_t>(len));
    if (p == nullptr) {
        return std::string();
    }
    return std::string(reinterpret_cast<const char*>(p), static_cast<size_t>(len));
}

std::string protocol_reader::read_string(bool flexible) {
    auto s = read_nullable_string(false, flexible);
    return s ? std::move(*s) : std::string();
}

std::optional<iobuf> protocol_reader::read_nullable_bytes(bool nullable, bool flexible) {
    const int64_t len = read_length(flexible, true);
    if (len < 0) {
        if (!nullable) {
            fail("null bytes in a non-nullable field");
            return iobuf();
        }
        return std::nullopt;
    }
    return read_raw(static_cast<size_t>(len));
}

iobuf protocol_reader::read_bytes(bool flexible) {
    auto b = read_nullable_bytes(false, flexible);
    return b ? std::move(*b) : iobuf();
}

iobuf protocol_reader::read_raw(size_t n) {
    const size_t start = _pos;
    if (take(n) == nullptr || n == 0) {
        return iobuf();
    }
    return _frame.share(start, n);
}

int32_t protocol_reader::read_array_len(bool nullable, bool flexible) {
    int64_t n = 0;
    if (flexible) {
        n = static_cast<int64_t>(read_uvarint()) - 1;
    } else {
        n = read_int32();
    }
    if (!ok()) {
        return 0;
    }
    if (n == -1) {
        if (!nullable) {
            fail("null array in a non-nullable field");
            return 0;
        }
        return -1;
    }
    if (n < 0) {
        fail("negative array length");
        return 0;
    }
    // Every element takes at least one byte, so a count above the bytes left is a lie.
    if (n > static_cast<int64_t>(remaining())) {
        fail("array count beyond the end of the frame");
        return 0;
    }
    return static_cast<int32_t>(n);
}

uint32_t protocol_reader::read_tag_count() {
    const uint32_t n = read_uvarint();
    // A tagged field takes at least two bytes: its tag and its size.
    if (ok() && n > remaining() / 2) {
        fail("tagged field count beyond the end of the frame");
        return 0;
    }
    return n;
}

protocol_reader::tagged_field_span protocol_reader::begin_tagged_field() {
    tagged_field_span t;
    t.tag = read_uvarint();
    const uint32_t size = read_uvarint();
    t.outer_end = _end;
    t.end = _pos;
    if (!ok()) {
        return t;
    }
    if (size > remaining()) {
        fail("tagged field beyond the end of the frame");
        return t;
    }
    t.end = _pos + size;
    _end = t.end;
    return t;
}

void protocol_reader::end_tagged_field(const tagged_field_span& t) {
    if (ok() && _pos != t.end) {
        fail("tagged field size does not match its contents");
    }
    _end = t.outer_end;
    if (ok()) {
        _pos = t.end;
    }
}

void protocol_reader::read_unknown_tagged_field(const tagged_field_span& t,
                                                std::vector<tagged_field>& out) {
    if (ok()) {
        // The size was checked against the bytes left in begin_tagged_field.
        const size_t n = t.end - _pos;
        const std::byte* p = take(n);
        tagged_field f{.tag = t.tag};
        if (p != nullptr) {
            const auto* b = reinterpret_cast<const uint8_t*>(p);
            f.data.assign(b, b + n);
        }
        out.push_back(std::move(f));
    }
    _end = t.outer_end;
}

// ---- protocol_writer ----

void protocol_writer::write_int8(int8_t v) {
    put(&v, 1);
}

void protocol_writer::write_int16(int16_t v) {
    const auto b = store_be(v);
    put(b.data(), b.size());
}

void protocol_writer::write_int32(int32_t v) {
    const auto b = store_be(v);
    put(b.data(), b.size());
}

void protocol_writer::write_int64(int64_t v) {
    const auto b = store_be(v);
    put(b.data(), b.size());
}

void protocol_writer::write_uint16(uint16_t v) {
    const auto b = store_be(v);
    put(b.data(), b.size());
}

void protocol_writer::write_float64(double v) {
    write_int64(std::bit_cast<int64_t>(v));
}

void protocol_writer::write_bool(bool v) {
    write_int8(v ? 1 : 0);
}

void protocol_writer::write_uuid(const uuid& v) {
    put(v.bytes.data(), v.bytes.size());
}

void protocol_writer::write_uvarint(uint32_t v) {
    std::array<uint8_t, 5> out;
    size_t n = 0;
    while (v >= 0x80) {
        out[n++] = static_cast<uint8_t>(v | 0x80);
        v >>= 7;
    }
    out[n++] = static_cast<uint8_t>(v);
    put(out.data(), n);
}

void protocol_writer::write_varint(int32_t v) {
    const auto u = static_cast<uint32_t>(v);
    write_uvarint((u << 1) ^ static_cast<uint32_t>(v >> 31));
}

void protocol_writer::write_varlong(int64_t v) {
    auto u = (static_cast<uint64_t>(v) << 1) ^ static_cast<uint64_t>(v >> 63);
    std::array<uint8_t, 10> out;
    size_t n = 0;
    while (u >= 0x80) {
        out[n++] = static_cast<uint8_t>(u | 0x80);
        u >>= 7;
    }
    out[n++] = static_cast<uint8_t>(u);
    put(out.data(), n);
}

void protocol_writer::write_string(std::string_view s, bool flexible) {
    if (flexible) {
        write_uvarint(static_cast<uint32_t>(s.size() + 1));
    } else {
        write_int16(static_cast<int16_t>(s.size()));
    }
    put(s.data(), s.size());
}

void protocol_writer::write_nullable_string(const std::optional<std::string>& s, bool nullable,
                                            bool flexible) {
    if (s.has_value()) {
        write_string(*s, flexible);
    } else if (!nullable) {
        write_string({}, flexible);
    } else if (flexible) {
        write_uvarint(0);
    } else {
        write_int16(-1);
    }
}

void protocol_writer::write_bytes(const iobuf& b, bool flexible) {
    if (flexible) {
        write_uvarint(static_cast<uint32_t>(b.size() + 1));
    } else {
        write_int32(static_cast<int32_t>(b.size()));
    }
    if (b.size() >= share_threshold_bytes) {
        write_records(b);
        return;
    }
    for (auto frag : b.fragments()) {
        put(frag.data(), frag.size());
    }
}

void protocol_writer::write_nullable_bytes(const std::optional<iobuf>& b, bool nullable,
                                           bool flexible) {
    if (b.has_value()) {
        write_bytes(*b, flexible);
    } else if (!nullable) {
        write_bytes(iobuf(), flexible);
    } else if (flexible) {
        write_uvarint(0);
    } else {
        write_int32(-1);
    }
}

void protocol_writer::write_array_len(size_t n, bool flexible) {
    if (flexible) {
        write_uvarint(static_cast<uint32_t>(n + 1));
    } else {
        write_int32(static_cast<int32_t>(n));
    }
}

void protocol_writer::write_null_array(bool nullable, bool flexible) {
    if (!nullable) {
        write_array_len(0, flexible);
    } else if (flexible) {
        write_uvarint(0);
    } else {
        write_int32(-1);
    }
}

void protocol_writer::write_records(const iobuf& records) {
    if (!records.empty()) {
        _buf.append(records.share());
    }
}

void protocol_writer::write_nullable_records(const std::optional<iobuf>& r, bool nullable,
                                             bool flexible) {
    if (!r.has_value()) {
        write_nullable_bytes(std::nullopt, nullable, flexible);
        return;
    }
    if (flexible) {
        write_uvarint(static_cast<uint32_t>(r->size() + 1));
    } else {
        write_int32(static_cast<int32_t>(r->size()));
    }
    write_records(*r);
}

void protocol_writer::write_raw(const void* data, size_t len) {
    put(data, len);
}

void protocol_writer::write_tagged_field(uint32_t tag, iobuf&& value) {
    write_uvarint(tag);
    write_uvarint(static_cast<uint32_t>(value.size()));
    _buf.append(std::move(value));
}

size_t protocol_writer::write_unknown_tagged_fields(const std::vector<tagged_field>& unknown,
                                                    size_t from, uint32_t below) {
    while (from < unknown.size() && unknown[from].tag < below) {
        const auto& t = unknown[from];
        write_uvarint(t.tag);
        write_uvarint(static_cast<uint32_t>(t.data.size()));
        put(t.data.data(), t.data.size());
        ++from;
    }
    return from;
}

}  // namespace wharf::kafka
