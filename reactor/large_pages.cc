#include "reactor/large_pages.h"

#include <sys/mman.h>

#include <array>
#include <new>

#include "reactor/base/assert.h"

#if defined(__SANITIZE_ADDRESS__)
#define WHARF_ASAN 1
#elif defined(__has_feature)
#if __has_feature(address_sanitizer)
#define WHARF_ASAN 1
#endif
#endif

#ifdef WHARF_ASAN
#include <sanitizer/asan_interface.h>
#define WHARF_POISON(p, n) ASAN_POISON_MEMORY_REGION(p, n)
#define WHARF_UNPOISON(p, n) ASAN_UNPOISON_MEMORY_REGION(p, n)
#else
#define WHARF_POISON(p, n) ((void)(p), (void)(n))
#define WHARF_UNPOISON(p, n) ((void)(p), (void)(n))
#endif

namespace wharf::large_pages {

namespace {

struct mapping {
    void* addr;
    size_t bytes;
};

void unmap(void* p, size_t bytes) noexcept {
    int rc = ::munmap(p, bytes);
    WHARF_ASSERT(rc == 0, "munmap of {} bytes failed", bytes);
}

// The calling thread's cache. Trivially destructible, so that a chunk freed by another
// thread_local's destructor at thread exit still finds it; the drainer below empties it when the
// thread exits, and after that frees unmap at once.
struct cache_state {
    std::array<mapping, max_cached> free;
    size_t count;
    size_t bytes;
    bool drained;
};
constinit thread_local cache_state t_cache{};

void drain() noexcept {
    t_cache.drained = true;
    for (size_t i = 0; i < t_cache.count; ++i) {
        WHARF_UNPOISON(t_cache.free[i].addr, t_cache.free[i].bytes);
        unmap(t_cache.free[i].addr, t_cache.free[i].bytes);
    }
    t_cache.count = 0;
    t_cache.bytes = 0;
}

struct drainer {
    drainer() = default;
    drainer(const drainer&) = delete;
    drainer& operator=(const drainer&) = delete;
    ~drainer() { drain(); }
};

void remove_at(size_t i) noexcept {
    t_cache.bytes -= t_cache.free[i].bytes;
    t_cache.free[i] = t_cache.free[t_cache.count - 1];
    --t_cache.count;
}

// A cached mapping for `bytes`, or nullptr when there is none: the smallest that fits without
// wasting more than half, else the largest, resized.
void* take(size_t bytes, size_t* got) noexcept {
    if (t_cache.count == 0) return nullptr;
    size_t fits = max_cached;
    size_t largest = 0;
    for (size_t i = 0; i < t_cache.count; ++i) {
        const mapping& m = t_cache.free[i];
        if (m.bytes >= bytes && m.bytes <= bytes + bytes / 2 &&
            (fits == max_cached || m.bytes < t_cache.free[fits].bytes)) {
            fits = i;
        }
        if (m.bytes > t_cache.free[largest].bytes) largest = i;
    }
    const bool as_it_is = fits != max_cached;
    mapping m = t_cache.free[as_it_is ? fits : largest];
    remove_at(as_it_is ? fits : largest);
    WHARF_UNPOISON(m.addr, m.bytes);
    if (!as_it_is) {
        void* moved = ::mremap(m.addr, m.bytes, bytes, MREMAP_MAYMOVE);
        if (moved == MAP_FAILED) {
            unmap(m.addr, m.bytes);
            return nullptr;
        }
        m = {moved, bytes};
    }
    *got = m.bytes;
    return m.addr;
}

// Keeps a freed mapping when there is room; false when the caller must unmap it.
bool keep(void* p, size_t bytes) noexcept {
    if (t_cache.drained || t_cache.count == max_cached ||
        t_cache.bytes + bytes > max_cached_bytes) {
        return false;
    }
    thread_local drainer d;  // constructed once per thread, destroyed at its exit
    (void)d;
    WHARF_POISON(p, bytes);
    t_cache.free[t_cache.count++] = {p, bytes};
    t_cache.bytes += bytes;
    return true;
}

}  // namespace

void* allocate(size_t bytes, size_t* got) {
    WHARF_ASSERT(bytes >= threshold && bytes % 4096 == 0, "large allocation of {} bytes", bytes);
    if (void* p = take(bytes, got)) return p;
    void* p = ::mmap(nullptr, bytes, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
    if (p == MAP_FAILED) throw std::bad_alloc();
    *got = bytes;
    return p;
}

void free(void* p, size_t bytes) noexcept {
    if (!keep(p, bytes)) unmap(p, bytes);
}

size_t cached_count() noexcept {
    return t_cache.count;
}
size_t cached_bytes() noexcept {
    return t_cache.bytes;
}

}  // namespace wharf::large_pages
