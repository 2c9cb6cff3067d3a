#pragma once

// Helpers shared by the Kafka codec tests: bytes of an iobuf, hex, building frames by hand, and
// a measure of the heap for the hostile-input tests.

#include <cstdint>
#include <string>
#include <string_view>

#include "net/kafka/protocol.h"
#include "reactor/iobuf.h"

#if defined(__SANITIZE_ADDRESS__)
// From the sanitizer runtime (sanitizer/allocator_interface.h, not shipped with every compiler).
extern "C" size_t __sanitizer_get_current_allocated_bytes();
#else
#include <malloc.h>
#endif

namespace wharf::kafka::test {

inline std::string bytes_of(const iobuf& b) {
    std::string s(b.size(), '\0');
    b.copy_to(0, s.data(), s.size());
    return s;
}

inline iobuf iobuf_of(std::string_view s) {
    return iobuf::copy_of(s.data(), s.size());
}

inline std::string to_hex(std::string_view s) {
    static constexpr char digits[] = "0123456789abcdef";
    std::string out;
    for (unsigned char c : s) {
        out += digits[c >> 4];
        out += digits[c & 15];
    }
    return out;
}

inline std::string from_hex(std::string_view hex) {
    std::string out;
    auto nibble = [](char c) { return c <= '9' ? c - '0' : c - 'a' + 10; };
    for (size_t i = 0; i + 1 < hex.size(); i += 2) {
        out += static_cast<char>(nibble(hex[i]) << 4 | nibble(hex[i + 1]));
    }
    return out;
}

// Bytes currently allocated on the heap (as the sanitizer's allocator or glibc counts them).
inline size_t heap_bytes() {
#if defined(__SANITIZE_ADDRESS__)
    return __sanitizer_get_current_allocated_bytes();
#else
    const auto m = mallinfo2();
    return m.uordblks + m.hblkhd;
#endif
}

}  // namespace wharf::kafka::test
