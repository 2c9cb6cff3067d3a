#pragma once

// The byte-level encodings that Kafka's __consumer_offsets records and the consumer protocol's
// subscription use: big-endian integers, int16-length strings, int32-length bytes and arrays,
// and (for flexible versions) compact lengths and tagged fields. Internal to core/group.

#include <cstdint>
#include <limits>
#include <optional>
#include <span>
#include <string>
#include <string_view>
#include <vector>

#include "reactor/base/assert.h"

namespace wharf::groups::detail {

using bytes = std::vector<uint8_t>;

// Big-endian writer of the classic and flexible (compact) encodings.
class writer {
public:
    explicit writer(bool flexible = false) : _flexible(flexible) {}

    void int16(int16_t v) { put_be(uint16_t(v), 2); }
    void int32(int32_t v) { put_be(uint32_t(v), 4); }
    void int64(int64_t v) { put_be(uint64_t(v), 8); }
    void uvarint(uint32_t v) {
        while (v >= 0x80) {
            _out.push_back(uint8_t(v | 0x80));
            v >>= 7;
        }
        _out.push_back(uint8_t(v));
    }
    void string(std::string_view s) {
        WHARF_ASSERT(s.size() <= size_t(std::numeric_limits<int16_t>::max()),
                     "a string of {} bytes does not fit the record format", s.size());
        length(s.size(), false);
        _out.insert(_out.end(), s.begin(), s.end());
    }
    void nullable_string(const std::optional<std::string>& s) {
        if (!s) {
            null(false);
        } else {
            string(*s);
        }
    }
    void bytes_field(const bytes& b) {
        WHARF_ASSERT(b.size() <= size_t(std::numeric_limits<int32_t>::max()),
                     "{} bytes do not fit the record format", b.size());
        length(b.size(), true);
        _out.insert(_out.end(), b.begin(), b.end());
    }
    void array_len(size_t n) { length(n, true); }
    // The (empty) tagged-field section that ends every struct of a flexible version.
    void end_struct() {
        if (_flexible) uvarint(0);
    }
    bytes release() { return std::move(_out); }

private:
    void put_be(uint64_t v, int n) {
        for (int i = n - 1; i >= 0; --i) _out.push_back(uint8_t(v >> (8 * i)));
    }
    void length(size_t n, bool wide) {
        if (_flexible) {
            uvarint(uint32_t(n + 1));
        } else if (wide) {
            int32(int32_t(n));
        } else {
            int16(int16_t(n));
        }
    }
    void null(bool wide) {
        if (_flexible) {
            uvarint(0);
        } else if (wide) {
            int32(-1);
        } else {
            int16(-1);
        }
    }

    bool _flexible;
    bytes _out;
};

// Bounds-checked reader: the first failure sticks and every later read returns a zero value,
// so decoders read straight on and check ok() at the end.
class reader {
public:
    explicit reader(std::span<const uint8_t> b) : _b(b) {}

    bool ok() const { return _ok; }
    size_t remaining() const { return _b.size() - _pos; }
    void set_flexible(bool f) { _flexible = f; }
    void fail() { _ok = false; }

    int16_t int16() { return int16_t(get_be(2)); }
    int32_t int32() { return int32_t(get_be(4)); }
    int64_t int64() { return int64_t(get_be(8)); }
    uint32_t uvarint() {
        uint32_t v = 0;
        for (int shift = 0; shift <= 28; shift += 7) {
            const uint8_t* p = take(1);
            if (p == nullptr) return 0;
            if (shift == 28 && (*p & 0xf0) != 0) break;  // more than 32 bits
            v |= uint32_t(*p & 0x7f) << shift;
            if ((*p & 0x80) == 0) return v;
        }
        fail();
        return 0;
    }
    std::string string() {
        auto s = nullable_string();
        if (!s) {
            fail();
            return {};
        }
        return std::move(*s);
    }
    std::optional<std::string> nullable_string() {
        int64_t n = length(false);
        if (n < 0) return std::nullopt;
        const uint8_t* p = take(size_t(n));
        if (p == nullptr) return std::string();
        return std::string(reinterpret_cast<const char*>(p), size_t(n));
    }
    bytes bytes_field() {
        int64_t n = length(true);
        if (n < 0) {
            fail();  // the format's bytes fields are never null
            return {};
        }
        const uint8_t* p = take(size_t(n));
        if (p == nullptr) return {};
        return bytes(p, p + n);
    }
    // Nullable bytes, skipped: false when null.
    bool nullable_bytes_field() {
        int64_t n = length(true);
        if (n < 0) return false;
        take(size_t(n));
        return true;
    }
    // An element count, checked against the bytes left: each element takes at least
    // `min_element_bytes`, so a hostile count cannot make the caller reserve much.
    size_t array_len(size_t min_element_bytes) {
        int64_t n = length(true);
        if (n < 0 || size_t(n) > remaining() / min_element_bytes) {
            fail();
            return 0;
        }
        return size_t(n);
    }
    // Skips the tagged-field section of a flexible struct (no tags are known here).
    void skip_tagged_fields() {
        if (!_flexible) return;
        uint32_t count = uvarint();
        if (count > remaining() / 2) {
            fail();
            return;
        }
        for (uint32_t i = 0; i < count && _ok; ++i) {
            uvarint();  // tag
            uint32_t size = uvarint();
            take(size);
        }
    }

private:
    const uint8_t* take(size_t n) {
        if (!_ok || n > remaining()) {
            _ok = false;
            return nullptr;
        }
        const uint8_t* p = _b.data() + _pos;
        _pos += n;
        return p;
    }
    uint64_t get_be(int n) {
        const uint8_t* p = take(size_t(n));
        if (p == nullptr) return 0;
        uint64_t v = 0;
        for (int i = 0; i < n; ++i) v = (v << 8) | p[i];
        return v;
    }
    // A length: -1 for null, an error for other negative values or one past the bytes left.
    int64_t length(bool wide) {
        int64_t n;
        if (_flexible) {
            n = int64_t(uvarint()) - 1;
        } else {
            n = wide ? int64_t(int32()) : int64_t(int16());
        }
        if (!_ok) return -1;
        if (n < -1 || (n > 0 && size_t(n) > remaining())) {
            fail();
            return -1;
        }
        return n;
    }

    std::span<const uint8_t> _b;
    size_t _pos = 0;
    bool _ok = true;
    bool _flexible = false;
};

}  // namespace wharf::groups::detail
