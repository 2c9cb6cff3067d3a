#pragma once

// WHARF_ASSERT(cond, fmt, args...): impossible states crash at once, in release builds too
// (STYLE.md rule 8). Never assert on client input or on disk contents: those are errors.
// WHARF_VERIFY_ASSERT is the expensive variant, compiled only with the WHARF_VERIFY option.

#include <string>
#include <string_view>

#include <fmt/format.h>

namespace wharf::detail {

[[noreturn]] void assert_failed(const char* file, int line, const char* condition,
                                const std::string& message) noexcept;

}  // namespace wharf::detail

#define WHARF_ASSERT(cond, ...)                                                              \
    do {                                                                                     \
        if (__builtin_expect(!(cond), 0)) {                                                  \
            ::wharf::detail::assert_failed(__FILE__, __LINE__, #cond,                        \
                                           ::fmt::format(__VA_ARGS__));                      \
        }                                                                                    \
    } while (0)

#ifdef WHARF_VERIFY
#define WHARF_VERIFY_ASSERT(cond, ...) WHARF_ASSERT(cond, __VA_ARGS__)
#else
#define WHARF_VERIFY_ASSERT(cond, ...) \
    do {                               \
    } while (0)
#endif
