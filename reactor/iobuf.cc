#include "reactor/iobuf.h"

#include <algorithm>
#include <cstring>
#include <limits>
#include <new>
#include <type_traits>
#include <utility>

#include "reactor/large_pages.h"

namespace wharf {

namespace {

using detail::iobuf_chunk;
using detail::iobuf_fragment;

// One counter per shard, each on its own cache line so that shards allocating at the same time
// never share a line; the slot after the last shard is for threads that are no shard.
struct alignas(64) shard_allocated_bytes {
    std::atomic<size_t> bytes{0};
};
constinit std::array<shard_allocated_bytes, iobuf_max_shards + 1> g_allocated{};

constinit std::atomic<detail::foreign_free_fn> g_foreign_free{nullptr};

constexpr size_t chunk_alignment = 64;
static_assert(iobuf_chunk::header_bytes % chunk_alignment == 0,
              "the data must start as aligned as the chunk itself");
// Chunks larger than the default are rounded up to whole pages, which is what the allocator
// hands out for them anyway.
constexpr size_t large_chunk_rounding = 4096;
static_assert(iobuf::default_chunk_bytes % large_chunk_rounding == 0);
static_assert(iobuf::default_chunk_bytes > iobuf_chunk::header_bytes);
// A bound on one chunk, far above any Kafka message, so that size arithmetic cannot overflow.
constexpr size_t max_chunk_capacity = size_t{1} << 40;

std::atomic<size_t>& allocated_counter(shard_id s) noexcept {
    if (s == no_shard) return g_allocated[iobuf_max_shards].bytes;
    WHARF_ASSERT(s.value() < iobuf_max_shards, "shard {} is beyond the iobuf accounting table ({})",
                 s, iobuf_max_shards);
    return g_allocated[s.value()].bytes;
}

size_t round_up(size_t n, size_t to) noexcept {
    return (n + to - 1) / to * to;
}

// A chunk of alloc_bytes (header included) with one reference, owned by this shard. Large ones
// are mappings of their own (large_pages.h: why), rounded up to whole pages, and may come with
// more room than asked.
iobuf_chunk* allocate_chunk(size_t alloc_bytes) {
    void* mem = nullptr;
    if (alloc_bytes >= large_pages::threshold) {
        mem = large_pages::allocate(round_up(alloc_bytes, large_chunk_rounding), &alloc_bytes);
    } else {
        mem = ::operator new (alloc_bytes, std::align_val_t{chunk_alignment});
    }
    auto* c = ::new (mem) iobuf_chunk;
    c->refs.store(1, std::memory_order_relaxed);
    c->owner = this_shard();
    c->capacity = alloc_bytes - iobuf_chunk::header_bytes;
    c->foreign_next = nullptr;
    allocated_counter(c->owner).fetch_add(alloc_bytes, std::memory_order_relaxed);
    return c;
}

// A chunk with room for exactly len bytes (up to the alignment), for copies of known size.
iobuf_chunk* allocate_exact(size_t len) {
    WHARF_ASSERT(len <= max_chunk_capacity, "chunk of {} bytes requested", len);
    return allocate_chunk(round_up(iobuf_chunk::header_bytes + len, chunk_alignment));
}

// A chunk for appends: the default size, or a size of its own for an append that needs more.
iobuf_chunk* allocate_for_append(size_t min_capacity) {
    WHARF_ASSERT(min_capacity <= max_chunk_capacity, "chunk of {} bytes requested", min_capacity);
    size_t alloc_bytes =
        std::max(iobuf::default_chunk_bytes,
                 round_up(iobuf_chunk::header_bytes + min_capacity, large_chunk_rounding));
    return allocate_chunk(alloc_bytes);
}

void free_chunk(iobuf_chunk* c) noexcept {
    size_t alloc_bytes = iobuf_chunk::header_bytes + c->capacity;
    allocated_counter(c->owner).fetch_sub(alloc_bytes, std::memory_order_relaxed);
    c->~iobuf_chunk();
    if (alloc_bytes >= large_pages::threshold) {
        large_pages::free(c, alloc_bytes);
    } else {
        ::operator delete (static_cast<void*>(c), alloc_bytes, std::align_val_t{chunk_alignment});
    }
}

// A new reference to a chunk that the caller already holds one to, so relaxed is enough: the
// chunk cannot be freed concurrently (the usual reference-counting argument).
void retain(iobuf_chunk* c) noexcept {
    uint32_t before = c->refs.fetch_add(1, std::memory_order_relaxed);
    WHARF_ASSERT(before != 0 && before != std::numeric_limits<uint32_t>::max(),
                 "chunk reference count was {} before a retain", before);
}

// Drops one reference. acq_rel: every use of the chunk by the other holders happens before the
// thread that drops the last reference frees (or sends home) the memory.
void release(iobuf_chunk* c) noexcept {
    uint32_t before = c->refs.fetch_sub(1, std::memory_order_acq_rel);
    WHARF_ASSERT(before != 0, "chunk released more often than retained");
    if (before != 1) return;
    shard_id here = this_shard();
    // A thread that is no shard has no ring to send on, and a chunk that belongs to no shard has
    // no home to go to: both free in place.
    if (here != c->owner && here != no_shard && c->owner != no_shard) {
        auto fn = g_foreign_free.load(std::memory_order_acquire);
        if (fn != nullptr) {
            c->foreign_next = nullptr;
            fn(c->owner, c);
            return;
        }
    }
    free_chunk(c);
}

}  // namespace

size_t iobuf_allocated_bytes() noexcept {
    return allocated_counter(this_shard()).load(std::memory_order_relaxed);
}

namespace detail {

void set_foreign_free_hook(foreign_free_fn fn) noexcept {
    g_foreign_free.store(fn, std::memory_order_release);
}

void iobuf_free_chunk_on_owner(iobuf_chunk* chunk) noexcept {
    WHARF_ASSERT(this_shard() == chunk->owner, "chunk of shard {} freed on shard {}", chunk->owner,
                 this_shard());
    WHARF_ASSERT(chunk->refs.load(std::memory_order_acquire) == 0,
                 "chunk sent home while still referenced");
    free_chunk(chunk);
}

void iobuf_free_chunk_in_place(iobuf_chunk* chunk) noexcept {
    WHARF_ASSERT(chunk->refs.load(std::memory_order_acquire) == 0,
                 "chunk freed while still referenced");
    free_chunk(chunk);
}

// --- iobuf_fragment_list ---

static_assert(std::is_trivially_copyable_v<iobuf_fragment>,
              "fragments are moved with memmove; references are the iobuf's business");

iobuf_fragment_list::iobuf_fragment_list(iobuf_fragment_list&& o) noexcept {
    *this = std::move(o);
}

iobuf_fragment_list& iobuf_fragment_list::operator=(iobuf_fragment_list&& o) noexcept {
    if (this == &o) return *this;
    delete[] _heap;
    _heap = o._heap;
    _begin = o._begin;
    _size = o._size;
    _capacity = o._capacity;
    if (_heap == nullptr) {
        std::copy_n(o._inline.data() + o._begin, o._size, _inline.data());
        _begin = 0;
    }
    o._heap = nullptr;
    o._begin = o._size = 0;
    o._capacity = inline_capacity;
    return *this;
}

iobuf_fragment_list::~iobuf_fragment_list() {
    delete[] _heap;
}

void iobuf_fragment_list::push_back(const iobuf_fragment& f) {
    ensure_room(_size + 1);
    begin()[_size] = f;
    ++_size;
}

void iobuf_fragment_list::erase_front(size_t n) noexcept {
    _begin += static_cast<uint32_t>(n);
    _size -= static_cast<uint32_t>(n);
    if (_size == 0) _begin = 0;
}

void iobuf_fragment_list::replace(size_t first, size_t count, const iobuf_fragment* src, size_t n) {
    WHARF_ASSERT(first + count <= _size, "replace [{}, +{}) of {} fragments", first, count, _size);
    size_t new_size = _size - count + n;
    ensure_room(new_size);
    iobuf_fragment* b = begin();
    std::memmove(static_cast<void*>(b + first + n), b + first + count,
                 (_size - first - count) * sizeof(iobuf_fragment));
    std::copy_n(src, n, b + first);
    _size = static_cast<uint32_t>(new_size);
}

void iobuf_fragment_list::ensure_room(size_t new_size) {
    if (_begin + new_size <= _capacity) return;
    WHARF_ASSERT(new_size < std::numeric_limits<uint32_t>::max() / 2, "{} fragments", new_size);
    // Compact only when the space freed at the front is at least what is moved, so that each
    // entry is moved O(1) times on average; otherwise grow geometrically.
    if (new_size <= _capacity && _begin >= _size) {
        std::memmove(static_cast<void*>(storage()), begin(), _size * sizeof(iobuf_fragment));
        _begin = 0;
        return;
    }
    auto new_capacity = static_cast<uint32_t>(std::max<size_t>(2 * _capacity, new_size));
    auto* heap = new iobuf_fragment[new_capacity];
    std::copy_n(begin(), _size, heap);
    delete[] _heap;
    _heap = heap;
    _begin = 0;
    _capacity = new_capacity;
}

}  // namespace detail

// --- iobuf: construction and lifetime ---

iobuf::iobuf(iobuf&& o) noexcept
    : _frags(std::move(o._frags)),
      _size(std::exchange(o._size, 0)),
      _tail_owned(std::exchange(o._tail_owned, false)),
      _reserved_count(std::exchange(o._reserved_count, 0)),
      _reserved_tail_bytes(std::exchange(o._reserved_tail_bytes, 0)),
      _spare(std::exchange(o._spare, nullptr)),
      _reserved(o._reserved) {}

iobuf& iobuf::operator=(iobuf&& o) noexcept {
    if (this == &o) return *this;
    release_all();
    _frags = std::move(o._frags);
    _size = std::exchange(o._size, 0);
    _tail_owned = std::exchange(o._tail_owned, false);
    _reserved_count = std::exchange(o._reserved_count, 0);
    _reserved_tail_bytes = std::exchange(o._reserved_tail_bytes, 0);
    _spare = std::exchange(o._spare, nullptr);
    _reserved = o._reserved;
    return *this;
}

iobuf::~iobuf() {
    release_all();
}

void iobuf::release_all() noexcept {
    for (const auto& f : _frags) release(f.chunk);
    _frags.clear();
    _size = 0;
    _tail_owned = false;
    _reserved_count = 0;
    _reserved_tail_bytes = 0;
    if (_spare != nullptr) release(std::exchange(_spare, nullptr));
}

void iobuf::clear() noexcept {
    check_no_reservation();
    release_all();
}

iobuf iobuf::copy_of(const void* data, size_t len) {
    iobuf r;
    if (len == 0) return r;
    iobuf_chunk* c = allocate_exact(len);
    std::memcpy(c->data(), data, len);
    r._frags.push_back({c, c->data(), len});
    r._size = len;
    r._tail_owned = true;
    return r;
}

iobuf iobuf::copy() const {
    iobuf r;
    if (_size == 0) return r;
    iobuf_chunk* c = allocate_exact(_size);
    copy_to(0, c->data(), _size);
    r._frags.push_back({c, c->data(), _size});
    r._size = _size;
    r._tail_owned = true;
    return r;
}

// --- iobuf: appending ---

size_t iobuf::writable_tail_bytes() noexcept {
    if (_frags.empty()) return 0;
    const iobuf_fragment& t = _frags.back();
    size_t room = static_cast<size_t>(t.chunk->data() + t.chunk->capacity - t.end());
    if (room == 0) return 0;
    if (!_tail_owned) {
        // One reference means our tail fragment is the chunk's only user: whatever lies after it
        // was either never written or belonged to fragments that are gone. acquire pairs with
        // their release so that their reads finish before our writes.
        if (t.chunk->refs.load(std::memory_order_acquire) != 1) return 0;
        _tail_owned = true;
    }
    return room;
}

iobuf_chunk* iobuf::chunk_for_append(size_t min_capacity) {
    if (_spare != nullptr && _spare->capacity >= min_capacity) {
        return std::exchange(_spare, nullptr);
    }
    return allocate_for_append(min_capacity);
}

void iobuf::push_fragment(const iobuf_fragment& f) {
    if (!_frags.empty()) {
        iobuf_fragment& t = _frags.back();
        if (t.chunk == f.chunk && t.end() == f.data) {
            // Both references are ours; the merged fragment needs only one.
            t.len += f.len;
            release(f.chunk);
            return;
        }
    }
    _frags.push_back(f);
}

void iobuf::append(const void* data, size_t len) {
    check_no_reservation();
    if (len == 0) return;
    const auto* src = static_cast<const std::byte*>(data);
    size_t room = writable_tail_bytes();
    if (room > 0) {
        size_t n = std::min(room, len);
        iobuf_fragment& t = _frags.back();
        std::memcpy(t.end(), src, n);
        t.len += n;
        _size += n;
        src += n;
        len -= n;
    }
    if (len > 0) {
        iobuf_chunk* c = chunk_for_append(len);
        std::memcpy(c->data(), src, len);
        _frags.push_back({c, c->data(), len});
        _size += len;
        _tail_owned = true;
    }
}

void iobuf::append(iobuf&& other) {
    WHARF_ASSERT(&other != this, "an iobuf appended to itself");
    check_no_reservation();
    other.check_no_reservation();
    if (other._frags.empty()) return;
    if (_frags.empty()) {
        _frags = std::move(other._frags);
    } else {
        for (const auto& f : other._frags) push_fragment(f);
        other._frags.clear();
    }
    _size += std::exchange(other._size, 0);
    // Our tail is now other's tail, and so is the claim on the free space after it.
    _tail_owned = std::exchange(other._tail_owned, false);
}

// --- iobuf: reading and slicing ---

iobuf::position iobuf::find(size_t pos) const noexcept {
    // Reads near the end (the newest bytes) are common; answer them without a walk.
    size_t last_start = _size - _frags.back().len;
    if (pos >= last_start) return {_frags.size() - 1, pos - last_start};
    size_t i = 0;
    while (pos >= _frags[i].len) {
        pos -= _frags[i].len;
        ++i;
    }
    return {i, pos};
}

iobuf iobuf::share(size_t pos, size_t len) const {
    WHARF_ASSERT(pos <= _size && len <= _size - pos, "share [{}, +{}) of {} bytes", pos, len,
                 _size);
    iobuf r;
    if (len == 0) return r;
    auto [i, off] = find(pos);
    for (size_t left = len; left > 0; ++i, off = 0) {
        const iobuf_fragment& f = _frags[i];
        size_t n = std::min(f.len - off, left);
        retain(f.chunk);
        r.push_fragment({f.chunk, f.data + off, n});
        left -= n;
    }
    r._size = len;
    // r._tail_owned stays false: the space after a shared tail belongs to this buffer, if anyone.
    return r;
}

void iobuf::copy_to(size_t pos, void* out, size_t len) const {
    WHARF_ASSERT(pos <= _size && len <= _size - pos, "copy_to [{}, +{}) of {} bytes", pos, len,
                 _size);
    if (len == 0) return;
    auto* dst = static_cast<std::byte*>(out);
    auto [i, off] = find(pos);
    for (size_t left = len; left > 0; ++i, off = 0) {
        const iobuf_fragment& f = _frags[i];
        size_t n = std::min(f.len - off, left);
        std::memcpy(dst, f.data + off, n);
        dst += n;
        left -= n;
    }
}

std::byte iobuf::byte_at(size_t pos) const {
    WHARF_ASSERT(pos < _size, "byte_at({}) of {} bytes", pos, _size);
    auto [i, off] = find(pos);
    return _frags[i].data[off];
}

size_t iobuf::to_iovecs(size_t pos, size_t len, std::vector<iovec>& out, size_t max_iov) const {
    WHARF_ASSERT(pos <= _size && len <= _size - pos, "to_iovecs [{}, +{}) of {} bytes", pos, len,
                 _size);
    WHARF_ASSERT(max_iov > 0, "to_iovecs with no room for an iovec");
    if (len == 0) return 0;
    auto [i, off] = find(pos);
    size_t covered = 0;
    for (size_t count = 0; covered < len && count < max_iov; ++count, ++i, off = 0) {
        const iobuf_fragment& f = _frags[i];
        size_t n = std::min(f.len - off, len - covered);
        out.push_back(iovec{f.data + off, n});
        covered += n;
    }
    return covered;
}

bool iobuf::operator==(const iobuf& o) const {
    if (_size != o._size) return false;
    size_t i = 0, j = 0, ioff = 0, joff = 0;
    for (size_t left = _size; left > 0;) {
        const iobuf_fragment& a = _frags[i];
        const iobuf_fragment& b = o._frags[j];
        size_t n = std::min({a.len - ioff, b.len - joff, left});
        if (std::memcmp(a.data + ioff, b.data + joff, n) != 0) return false;
        left -= n;
        ioff += n;
        joff += n;
        if (ioff == a.len) {
            ++i;
            ioff = 0;
        }
        if (joff == b.len) {
            ++j;
            joff = 0;
        }
    }
    return true;
}

// --- iobuf: trimming and rearranging ---

void iobuf::trim_front(size_t n) {
    check_no_reservation();
    WHARF_ASSERT(n <= _size, "trim_front({}) of {} bytes", n, _size);
    _size -= n;
    size_t dropped = 0;
    for (iobuf_fragment* f = _frags.begin(); n > 0; ++f) {
        if (n < f->len) {
            f->data += n;
            f->len -= n;
            break;
        }
        n -= f->len;
        release(f->chunk);
        ++dropped;
    }
    _frags.erase_front(dropped);
    if (_frags.empty()) _tail_owned = false;
}

void iobuf::trim_back(size_t n) {
    check_no_reservation();
    WHARF_ASSERT(n <= _size, "trim_back({}) of {} bytes", n, _size);
    if (n == 0) return;
    _size -= n;
    // The trimmed bytes may be visible through shares, so they must not be written again; the
    // claim on the tail is given up and only comes back if the chunk turns out to be unshared.
    _tail_owned = false;
    while (n > 0) {
        iobuf_fragment& t = _frags.back();
        if (n < t.len) {
            t.len -= n;
            break;
        }
        n -= t.len;
        release(t.chunk);
        _frags.pop_back();
    }
}

std::span<const std::byte> iobuf::linearize(size_t pos, size_t len) {
    check_no_reservation();
    WHARF_ASSERT(pos <= _size && len <= _size - pos, "linearize [{}, +{}) of {} bytes", pos, len,
                 _size);
    if (len == 0) return {};
    auto [first, first_off] = find(pos);
    const iobuf_fragment head = _frags[first];
    if (head.len - first_off >= len) return {head.data + first_off, len};

    iobuf_chunk* c = allocate_exact(len);
    copy_to(pos, c->data(), len);
    auto [last, last_off] = find(pos + len - 1);
    const iobuf_fragment tail = _frags[last];
    size_t after = tail.len - last_off - 1;
    bool ends_buffer = last + 1 == _frags.size() && after == 0;

    // The head keeps its reference for the bytes before pos, the tail for the bytes after the
    // range; fragments wholly inside the range give theirs up.
    std::array<iobuf_fragment, 3> repl;
    size_t n = 0;
    if (first_off > 0) {
        repl[n++] = {head.chunk, head.data, first_off};
    } else {
        release(head.chunk);
    }
    repl[n++] = {c, c->data(), len};
    if (after > 0) {
        repl[n++] = {tail.chunk, tail.data + last_off + 1, after};
    } else {
        release(tail.chunk);
    }
    for (size_t k = first + 1; k < last; ++k) release(_frags[k].chunk);
    _frags.replace(first, last - first + 1, repl.data(), n);
    // A range reaching the end leaves our fresh chunk as the tail, and nobody else knows it.
    if (ends_buffer) _tail_owned = true;
    return {c->data(), len};
}

// --- iobuf: writing in place ---

std::span<const iovec> iobuf::reserve(size_t min_bytes) {
    WHARF_ASSERT(min_bytes > 0, "reserve(0)");
    WHARF_ASSERT(_reserved_count == 0, "a second reservation before commit");
    size_t room = writable_tail_bytes();
    uint8_t count = 0;
    if (room > 0) _reserved[count++] = iovec{_frags.back().end(), room};
    _reserved_tail_bytes = room;
    // A spare already held is offered even when the tail suffices: a bigger read costs nothing.
    if (room < min_bytes || _spare != nullptr) {
        size_t need = min_bytes > room ? min_bytes - room : 0;
        if (_spare != nullptr && _spare->capacity < need) release(std::exchange(_spare, nullptr));
        if (_spare == nullptr) _spare = allocate_for_append(need);
        _reserved[count++] = iovec{_spare->data(), _spare->capacity};
    }
    _reserved_count = count;
    return {_reserved.data(), count};
}

void iobuf::commit(size_t n) {
    WHARF_ASSERT(_reserved_count != 0, "commit without a reservation");
    size_t reserved = 0;
    for (size_t k = 0; k < _reserved_count; ++k) reserved += _reserved[k].iov_len;
    WHARF_ASSERT(n <= reserved, "commit({}) of {} reserved bytes", n, reserved);
    _reserved_count = 0;
    size_t in_tail = std::min(n, _reserved_tail_bytes);
    _reserved_tail_bytes = 0;
    if (in_tail > 0) {
        _frags.back().len += in_tail;
        _size += in_tail;
    }
    size_t in_spare = n - in_tail;
    if (in_spare > 0) {
        iobuf_chunk* c = std::exchange(_spare, nullptr);
        _frags.push_back({c, c->data(), in_spare});
        _size += in_spare;
        _tail_owned = true;
    }
}

std::span<std::byte> iobuf::writable(size_t pos, size_t len) {
    WHARF_ASSERT(pos <= _size && len <= _size - pos, "writable [{}, +{}) of {} bytes", pos, len,
                 _size);
    if (len == 0) return {};
    auto [i, off] = find(pos);
    const iobuf_fragment& f = _frags[i];
    WHARF_ASSERT(f.len - off >= len, "writable [{}, +{}) spans fragments; linearize first", pos,
                 len);
    // acquire: the other holders' reads of these bytes finished before they let go.
    WHARF_ASSERT(f.chunk->refs.load(std::memory_order_acquire) == 1,
                 "writable [{}, +{}) in a chunk that is shared", pos, len);
    return {f.data + off, len};
}

}  // namespace wharf
