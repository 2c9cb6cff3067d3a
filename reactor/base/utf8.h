#pragma once

// UTF-8 decoding by the rules of RFC 3629, shared by whoever must judge bytes that came from a
// client: a sequence is valid when its lead byte announces its length, each following byte has
// the top bits 10, and the code point it encodes is neither overlong, a surrogate
// (U+D800..DFFF) nor past U+10FFFF. Callers decide what an invalid sequence becomes (usually
// U+FFFD in place of its first byte).

#include <cstddef>
#include <cstdint>
#include <string_view>

namespace wharf::utf8 {

inline constexpr uint32_t replacement_character = 0xfffd;

// One decoded sequence; length 0 when the bytes are not a valid sequence (value is then 0).
struct sequence {
    uint32_t code_point = 0;
    size_t length = 0;
};

// The sequence that starts at s[i].
// REQUIRES: i < s.size().
constexpr sequence decode(std::string_view s, size_t i) noexcept {
    auto byte = [&](size_t k) { return static_cast<uint8_t>(s[k]); };
    uint8_t c = byte(i);
    if (c < 0x80) return {c, 1};
    size_t len = (c & 0xe0) == 0xc0 ? 2 : (c & 0xf0) == 0xe0 ? 3 : (c & 0xf8) == 0xf0 ? 4 : 0;
    if (len == 0 || len > s.size() - i) return {};
    uint32_t cp = c & (0x7fu >> len);
    for (size_t k = 1; k < len; ++k) {
        if ((byte(i + k) & 0xc0) != 0x80) return {};
        cp = (cp << 6) | (byte(i + k) & 0x3fu);
    }
    constexpr uint32_t min_for_len[] = {0, 0, 0x80, 0x800, 0x10000};
    if (cp < min_for_len[len] || cp > 0x10ffff || (cp >= 0xd800 && cp <= 0xdfff)) return {};
    return {cp, len};
}

// The rules, checked where they are written.
static_assert(decode("\x41", 0).length == 1);
static_assert(decode("\xC3\xA9", 0).code_point == 0xe9);
static_assert(decode("\xF0\x9F\x98\x80", 0).code_point == 0x1f600);
static_assert(decode("\xC0\xAF", 0).length == 0);          // overlong '/'
static_assert(decode("\xE0\x9F\xBF", 0).length == 0);      // overlong U+07FF
static_assert(decode("\xED\xA0\x80", 0).length == 0);      // surrogate U+D800
static_assert(decode("\xF4\x90\x80\x80", 0).length == 0);  // U+110000
static_assert(decode("\xF5\x80\x80\x80", 0).length == 0);  // lead byte past U+10FFFF
static_assert(decode("\xE2\x82", 0).length == 0);          // truncated
static_assert(decode("\xC3\x28", 0).length == 0);          // bad continuation byte

}  // namespace wharf::utf8
