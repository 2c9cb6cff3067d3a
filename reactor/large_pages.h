#pragma once

// Memory for large buffers (iobuf chunks of large_pages::threshold bytes and more): mappings of
// their own, apart from the C allocator's heap, and a few freed ones kept per thread for reuse.
//
// Why. Kafka and replication frames are received into one chunk each, from a hundred KiB to a
// few MiB, and the tail cache keeps them for a while amid the small, long-lived allocations of
// the shard (partition indexes, hash nodes). From glibc's heap that pattern fragments: with
// 10,000 partitions a broker's resident memory grew past its --memory budget and kept growing
// (1.4 GB at --memory 1GiB after 30 s, with 260 MB of buffers live), while every new frame
// faulted in fresh zeroed pages. A mapping per large buffer leaves nothing behind when freed,
// and reusing recently freed mappings (which keep their pages) spares the page faults.
//
// The cache holds at most max_cached mappings and max_cached_bytes per thread; a mapping is reused
// as it is when it is at least as large as asked and at most half again as large, and otherwise
// the largest cached one is resized (mremap) to the size asked. Each thread has its own cache
// (a chunk is freed on its owner shard, or in place on a thread that is no shard); a thread's
// cached mappings are unmapped when it exits. Under AddressSanitizer cached mappings are
// poisoned, so a use after free is still caught.
//
// Not measured yet on many cores: a munmap or an mremap (a cache miss or overflow) makes the
// kernel flush the TLBs of every core running a thread of the process.

#include <cstddef>

namespace wharf::large_pages {

// Buffers of this many bytes and more come from here.
inline constexpr size_t threshold = 128 * 1024;
inline constexpr size_t max_cached = 16;
inline constexpr size_t max_cached_bytes = size_t{32} << 20;

// Memory for `bytes` (a multiple of the page size, at least threshold); *got is set to the
// usable size, which may exceed bytes by up to half. Throws std::bad_alloc when the kernel
// refuses.
void* allocate(size_t bytes, size_t* got);
// Gives back memory from allocate() with its usable size.
void free(void* p, size_t bytes) noexcept;

// The calling thread's cache, for tests.
size_t cached_count() noexcept;
size_t cached_bytes() noexcept;

}  // namespace wharf::large_pages
