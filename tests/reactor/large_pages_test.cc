// Tests of reactor/large_pages.h: large iobuf chunks live in mappings of their own, freed ones
// are reused (the same memory, no new pages), the per-thread cache stays within its bounds, and
// the iobuf accounting of large chunks is exact.

#include "reactor/large_pages.h"

#include <sys/uio.h>

#include <cstring>
#include <thread>
#include <vector>

#include <gtest/gtest.h>

#include "reactor/iobuf.h"

namespace wharf {
namespace {

constexpr size_t mib = size_t{1} << 20;

// An iobuf of one chunk with room for n bytes, filled with `fill`.
iobuf filled(size_t n, char fill) {
    iobuf b;
    auto room = b.reserve(n);
    EXPECT_EQ(room.size(), 1u);
    std::memset(room[0].iov_base, fill, n);
    b.commit(n);
    return b;
}

const void* first_data(const iobuf& b) {
    std::vector<iovec> v;
    b.to_iovecs(0, b.size(), v, 1);
    return v.at(0).iov_base;
}

// Each test on a thread of its own, so that it starts with an empty cache.
template <typename F>
void on_fresh_thread(F f) {
    std::thread t(f);
    t.join();
}

TEST(large_pages, a_freed_chunk_is_reused_as_it_is) {
    on_fresh_thread([] {
        size_t base = iobuf_allocated_bytes();
        const void* first = nullptr;
        {
            iobuf a = filled(mib, 'a');
            first = first_data(a);
            EXPECT_GE(iobuf_allocated_bytes() - base, mib);
            EXPECT_EQ(large_pages::cached_count(), 0u);
        }
        EXPECT_EQ(iobuf_allocated_bytes(), base);
        EXPECT_EQ(large_pages::cached_count(), 1u);
        // A little smaller still fits the cached mapping (within half again): the same memory,
        // its old bytes still there until written over.
        iobuf b = filled(mib - 4096, 'b');
        EXPECT_EQ(first_data(b), first);
        EXPECT_EQ(large_pages::cached_count(), 0u);
        auto room = b.reserve(1);  // the spare room of the reused mapping is usable
        ASSERT_FALSE(room.empty());
        EXPECT_GE(room[0].iov_len, 1u);
        b.commit(0);
    });
}

TEST(large_pages, a_cached_mapping_is_resized_for_a_bigger_chunk) {
    on_fresh_thread([] {
        { iobuf a = filled(mib, 'a'); }
        ASSERT_EQ(large_pages::cached_count(), 1u);
        iobuf b = filled(4 * mib, 'b');  // grown from the cached mapping (mremap)
        EXPECT_EQ(large_pages::cached_count(), 0u);
        std::vector<char> got(b.size());
        b.copy_to(0, got.data(), got.size());
        EXPECT_EQ(std::vector<char>(4 * mib, 'b'), got);
    });
}

TEST(large_pages, the_cache_stays_within_its_bounds) {
    on_fresh_thread([] {
        size_t base = iobuf_allocated_bytes();
        {
            std::vector<iobuf> many;
            for (size_t i = 0; i < 2 * large_pages::max_cached; ++i) {
                many.push_back(filled(256 * 1024, 'x'));
            }
        }
        EXPECT_EQ(large_pages::cached_count(), large_pages::max_cached);
        EXPECT_LE(large_pages::cached_bytes(), large_pages::max_cached_bytes);
        {
            std::vector<iobuf> big;
            for (int i = 0; i < 4; ++i) big.push_back(filled(16 * mib, 'y'));
        }
        EXPECT_LE(large_pages::cached_bytes(), large_pages::max_cached_bytes);
        EXPECT_EQ(iobuf_allocated_bytes(), base);
    });
}

TEST(large_pages, small_chunks_do_not_use_it) {
    on_fresh_thread([] {
        { iobuf a = filled(large_pages::threshold / 4, 's'); }
        EXPECT_EQ(large_pages::cached_count(), 0u);
    });
}

}  // namespace
}  // namespace wharf
