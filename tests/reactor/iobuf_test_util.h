#pragma once

// Helpers shared by the iobuf tests: building buffers from strings and comparing a buffer with
// the std::string that models it.

#include <span>
#include <string>
#include <string_view>

#include <gtest/gtest.h>
#include <spdlog/spdlog.h>

#include "reactor/iobuf.h"

namespace wharf::iobuf_test {

inline iobuf from(std::string_view s) {
    return iobuf::copy_of(s.data(), s.size());
}

inline void append(iobuf& b, std::string_view s) {
    b.append(s.data(), s.size());
}

inline std::string to_string(const iobuf& b) {
    std::string s(b.size(), '\0');
    b.copy_to(0, s.data(), s.size());
    return s;
}

inline std::string_view as_view(std::span<const std::byte> s) {
    return {reinterpret_cast<const char*>(s.data()), s.size()};
}

inline const std::byte* first_data(const iobuf& b) {
    return (*b.fragments().begin()).data();
}

// Everything observable about b agrees with the model: bytes through copy_to, fragments and
// byte_at, and the fragment bookkeeping (no empty fragments, lengths adding up).
inline testing::AssertionResult matches(const iobuf& b, const std::string& model) {
    if (b.size() != model.size() || b.empty() != model.empty()) {
        return testing::AssertionFailure() << "size " << b.size() << " vs model " << model.size();
    }
    if (to_string(b) != model) return testing::AssertionFailure() << "copy_to differs";
    std::string joined;
    size_t frags = 0;
    for (std::span<const std::byte> f : b.fragments()) {
        if (f.empty()) return testing::AssertionFailure() << "empty fragment " << frags;
        joined += as_view(f);
        ++frags;
    }
    if (frags != b.fragment_count()) return testing::AssertionFailure() << "fragment_count";
    if (joined != model) return testing::AssertionFailure() << "fragments differ";
    for (size_t pos : {size_t{0}, model.size() / 2, model.size() - 1}) {
        if (!model.empty() && b.byte_at(pos) != std::byte(model[pos])) {
            return testing::AssertionFailure() << "byte_at(" << pos << ")";
        }
    }
    return testing::AssertionSuccess();
}

// Death tests match stderr, where the assertion message goes once no logger is installed.
#define EXPECT_ASSERTS(stmt, regex)              \
    EXPECT_DEATH(                                \
        {                                        \
            spdlog::set_default_logger(nullptr); \
            stmt;                                \
        },                                       \
        regex)

}  // namespace wharf::iobuf_test
