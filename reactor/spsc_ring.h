#pragma once

// A bounded single-producer single-consumer ring of pointers, the only memory two shards share
// (DESIGN.md section 1). The producer's and the consumer's positions sit on separate cache lines,
// and each side caches the other's position so that a batch costs one shared read.

#include <atomic>
#include <cstddef>
#include <memory>
#include <new>

#include "reactor/base/assert.h"

namespace wharf {

template <typename T>
class spsc_ring {
    static_assert(std::is_trivially_copyable_v<T>, "ring slots are copied without ceremony");

public:
    explicit spsc_ring(size_t capacity) : _mask(capacity - 1), _slots(new T[capacity]) {
        // Positions are reduced with a mask, so the capacity must be a power of two.
        WHARF_ASSERT(capacity >= 2 && (capacity & (capacity - 1)) == 0,
                     "ring capacity {} is not a power of two", capacity);
    }

    size_t capacity() const noexcept { return _mask + 1; }

    // Producer side. Pushes up to n items; returns how many fit.
    size_t push(const T* items, size_t n) noexcept {
        size_t tail = _tail.load(std::memory_order_relaxed);
        size_t free = capacity() - (tail - _cached_head);
        if (free < n) {
            _cached_head = _head.load(std::memory_order_acquire);
            free = capacity() - (tail - _cached_head);
        }
        size_t k = n < free ? n : free;
        for (size_t i = 0; i < k; ++i) _slots[(tail + i) & _mask] = items[i];
        if (k > 0) _tail.store(tail + k, std::memory_order_release);
        return k;
    }

    // Consumer side. Pops up to max items into out; returns how many.
    size_t pop(T* out, size_t max) noexcept {
        size_t head = _head.load(std::memory_order_relaxed);
        size_t avail = _cached_tail - head;
        if (avail == 0) {
            _cached_tail = _tail.load(std::memory_order_acquire);
            avail = _cached_tail - head;
        }
        size_t k = max < avail ? max : avail;
        for (size_t i = 0; i < k; ++i) out[i] = _slots[(head + i) & _mask];
        if (k > 0) _head.store(head + k, std::memory_order_release);
        return k;
    }

    // Consumer side, or any thread for a hint: whether items are waiting.
    bool empty() const noexcept {
        return _tail.load(std::memory_order_acquire) == _head.load(std::memory_order_relaxed);
    }

private:
    const size_t _mask;
    std::unique_ptr<T[]> _slots;
    alignas(64) std::atomic<size_t> _head{0};  // written by the consumer
    size_t _cached_tail = 0;                   // consumer's copy of _tail
    alignas(64) std::atomic<size_t> _tail{0};  // written by the producer
    size_t _cached_head = 0;                   // producer's copy of _head
};

}  // namespace wharf
