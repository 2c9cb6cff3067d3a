#pragma once

// Test support shared by the batch, CRC and compression tests: seeds that print and replay
// (STYLE.md rule 17), and allocation counting, which proves that hostile sizes are refused before
// anything is allocated by them.

#include <cstddef>
#include <cstdint>
#include <cstdlib>
#include <iostream>
#include <random>
#include <string_view>

namespace wharf::test {

// A seed from WHARF_TEST_SEED when set (to replay a failure), random otherwise; printed either way.
inline uint64_t test_seed(std::string_view test_name) {
    uint64_t seed = 0;
    if (const char* env = std::getenv("WHARF_TEST_SEED"); env != nullptr) {
        seed = std::strtoull(env, nullptr, 10);
    } else {
        seed = (uint64_t{std::random_device{}()} << 32) | std::random_device{}();
    }
    std::cout << test_name << ": seed " << seed << " (replay with WHARF_TEST_SEED=" << seed
              << ")\n";
    return seed;
}

// Allocation counting through AddressSanitizer's malloc hook, which sees malloc and operator new
// alike. Only sanitizer builds have it; tests that need it skip elsewhere.
#if defined(__SANITIZE_ADDRESS__)
extern "C" int __sanitizer_install_malloc_and_free_hooks(void (*malloc_hook)(const volatile void*,
                                                                             size_t),
                                                         void (*free_hook)(const volatile void*));
#endif

struct allocation_stats {
    size_t count = 0;
    size_t total_bytes = 0;
    size_t largest_bytes = 0;
};

inline thread_local bool counting_allocations = false;
inline thread_local allocation_stats counted_allocations;

inline void count_allocation(const volatile void*, size_t bytes) {
    if (!counting_allocations) return;
    auto& s = counted_allocations;
    ++s.count;
    s.total_bytes += bytes;
    if (bytes > s.largest_bytes) s.largest_bytes = bytes;
}

inline void ignore_free(const volatile void*) {}

inline bool allocation_counting_available() {
#if defined(__SANITIZE_ADDRESS__)
    static const bool installed =
        __sanitizer_install_malloc_and_free_hooks(count_allocation, ignore_free) != 0;
    return installed;
#else
    return false;
#endif
}

// Counts the allocations this thread makes while fn runs.
// REQUIRES: allocation_counting_available().
template <typename F>
allocation_stats count_allocations(F&& fn) {
    counted_allocations = {};
    counting_allocations = true;
    fn();
    counting_allocations = false;
    return counted_allocations;
}

}  // namespace wharf::test
