#pragma once

// iobuf: the byte buffer of Wharf (DESIGN.md sections 1 and 3).
//
// An iobuf is a chain of fragments, each a view of part of a reference-counted chunk. A chunk is
// one allocation holding a small header and its data; it remembers the shard that allocated it.
// Slicing (share) and concatenation (append of another iobuf) move fragment references, never
// bytes, so a produce request's record batches can travel from the socket to the log and to
// another shard without a copy. Scatter-gather I/O works directly on the chunks: reserve/commit
// let recv or readv fill the buffer in place, and to_iovecs hands its fragments to send or writev.
//
// Who may write where. Bytes that a fragment covers are immutable while the chunk is shared. New
// bytes are only ever written into a chunk's free space after the buffer's last fragment, and only
// when no one else can see that space: either this buffer filled the chunk up to there itself and
// still holds the claim (`_tail_owned`, which share() never passes on and trim_back() gives up),
// or the chunk's reference count shows that this buffer's tail fragment is its only user.
//
// Threads and shards. An iobuf is used by one thread at a time but may move between shards (the
// payload of a cross-shard message). Chunks have atomic reference counts so that slices of one
// chunk can be dropped on different shards. When the last reference to a chunk is dropped on a
// shard other than its owner, the chunk goes home through the foreign-free hook that the
// cross-shard mesh installs, so that memory returns to the allocator (and NUMA node) it came from.
//
// Accounting. Each shard has a counter of the bytes held in chunks it allocated (for the per-shard
// memory budget). The counters are atomics in a table indexed by shard, so that a chunk freed away
// from home (no hook installed: tests, shutdown, or a thread that is not a reactor) still debits
// its owner exactly. The owner's counter sits on its own cache line and is only touched by other
// threads on that rare path.

#include <sys/uio.h>

#include <array>
#include <atomic>
#include <cstddef>
#include <cstdint>
#include <iterator>
#include <span>
#include <vector>

#include "reactor/base/assert.h"
#include "reactor/base/ids.h"
#include "reactor/shard.h"

namespace wharf {

// Shard ids at or above this cannot allocate chunks: the accounting table has this many slots
// (plus one for threads that are no shard). smp must refuse a larger --smp at start-up.
inline constexpr size_t iobuf_max_shards = 1024;

namespace detail {

// The header of a chunk; its data follows in the same allocation, at chunk_header_bytes.
// Lifecycle: allocated with one reference by the iobuf that needs it, shared by fragments of any
// number of iobufs on any shards, freed by whoever drops the last reference — on the owner shard,
// or sent there through the foreign-free hook.
struct iobuf_chunk {
    std::atomic<uint32_t> refs;
    shard_id owner;
    // Bytes of data after the header.
    size_t capacity;
    // Free for the foreign-free hook, which owns the chunk once called: lets it chain the chunks
    // going to one shard into a batch without allocating.
    iobuf_chunk* foreign_next;

    std::byte* data() noexcept { return reinterpret_cast<std::byte*>(this) + header_bytes; }
    const std::byte* data() const noexcept {
        return reinterpret_cast<const std::byte*>(this) + header_bytes;
    }

    // The header takes a whole cache line so that the data starts cache-line aligned.
    static constexpr size_t header_bytes = 64;
};
static_assert(sizeof(iobuf_chunk) <= iobuf_chunk::header_bytes,
              "the chunk header must fit before the data it precedes");

// One fragment of an iobuf: len bytes at data, inside chunk. Holds one reference to chunk, which
// the owning iobuf (not this plain struct) takes and drops.
struct iobuf_fragment {
    iobuf_chunk* chunk = nullptr;
    std::byte* data = nullptr;
    size_t len = 0;

    std::byte* end() const noexcept { return data + len; }
};

// The fragments of one iobuf: a vector with room for two fragments inline, because most buffers
// (a request header, a single record batch) have one or two, and a start index, so that consuming
// a receive buffer from the front costs O(1) per fragment and not a shift of all the others.
class iobuf_fragment_list {
public:
    static constexpr uint32_t inline_capacity = 2;

    iobuf_fragment_list() noexcept = default;
    iobuf_fragment_list(iobuf_fragment_list&& o) noexcept;
    iobuf_fragment_list& operator=(iobuf_fragment_list&& o) noexcept;
    iobuf_fragment_list(const iobuf_fragment_list&) = delete;
    iobuf_fragment_list& operator=(const iobuf_fragment_list&) = delete;
    ~iobuf_fragment_list();

    size_t size() const noexcept { return _size; }
    bool empty() const noexcept { return _size == 0; }
    iobuf_fragment* begin() noexcept { return storage() + _begin; }
    iobuf_fragment* end() noexcept { return begin() + _size; }
    const iobuf_fragment* begin() const noexcept { return storage() + _begin; }
    const iobuf_fragment* end() const noexcept { return begin() + _size; }
    iobuf_fragment& operator[](size_t i) noexcept { return begin()[i]; }
    const iobuf_fragment& operator[](size_t i) const noexcept { return begin()[i]; }
    iobuf_fragment& front() noexcept { return *begin(); }
    iobuf_fragment& back() noexcept { return end()[-1]; }
    const iobuf_fragment& back() const noexcept { return end()[-1]; }

    void push_back(const iobuf_fragment& f);
    void pop_back() noexcept { --_size; }
    // Forgets the first n entries. REQUIRES: n <= size().
    void erase_front(size_t n) noexcept;
    // Replaces entries [first, first + count) with the n entries at src.
    void replace(size_t first, size_t count, const iobuf_fragment* src, size_t n);
    // Forgets every entry, keeping heap storage for reuse.
    void clear() noexcept { _begin = _size = 0; }

private:
    iobuf_fragment* storage() noexcept { return _heap != nullptr ? _heap : _inline.data(); }
    const iobuf_fragment* storage() const noexcept {
        return _heap != nullptr ? _heap : _inline.data();
    }
    // Makes room for new_size entries from _begin on, compacting or growing.
    void ensure_room(size_t new_size);

    iobuf_fragment* _heap = nullptr;
    uint32_t _begin = 0;
    uint32_t _size = 0;
    uint32_t _capacity = inline_capacity;
    std::array<iobuf_fragment, inline_capacity> _inline {};
};

}  // namespace detail

// A range over an iobuf's fragments whose elements are std::span<const std::byte>. Valid until the
// iobuf is next mutated.
class iobuf_fragment_range {
public:
    class iterator {
    public:
        using iterator_concept = std::forward_iterator_tag;
        using iterator_category = std::forward_iterator_tag;
        using value_type = std::span<const std::byte>;
        using reference = value_type;
        using difference_type = std::ptrdiff_t;

        iterator() noexcept = default;
        explicit iterator(const detail::iobuf_fragment* f) noexcept : _f(f) {}
        value_type operator*() const noexcept { return {_f->data, _f->len}; }
        iterator& operator++() noexcept {
            ++_f;
            return *this;
        }
        iterator operator++(int) noexcept {
            auto r = *this;
            ++_f;
            return r;
        }
        bool operator==(const iterator&) const noexcept = default;

    private:
        const detail::iobuf_fragment* _f = nullptr;
    };

    iobuf_fragment_range(const detail::iobuf_fragment* b, const detail::iobuf_fragment* e) noexcept
        : _begin(b), _end(e) {}
    iterator begin() const noexcept { return iterator(_begin); }
    iterator end() const noexcept { return iterator(_end); }
    size_t size() const noexcept { return static_cast<size_t>(_end - _begin); }
    bool empty() const noexcept { return _begin == _end; }

private:
    const detail::iobuf_fragment* _begin;
    const detail::iobuf_fragment* _end;
};

// A byte buffer made of reference-counted chunks (see the design note at the top of this file).
// Lives on one thread at a time; may be moved to another shard, where dropping it sends chunks
// home. Copies are explicit: share() for a zero-copy slice, copy() for fresh bytes.
class iobuf {
public:
    // Size of the chunk that appends allocate, header included (so that the allocator sees a
    // round size); an append that needs more gets a chunk of its own size, rounded up to 4 KiB.
    static constexpr size_t default_chunk_bytes = 16 * 1024;

    iobuf() noexcept = default;
    iobuf(iobuf&& o) noexcept;
    iobuf& operator=(iobuf&& o) noexcept;
    iobuf(const iobuf&) = delete;
    iobuf& operator=(const iobuf&) = delete;
    ~iobuf();

    // A buffer holding a copy of the bytes, in one chunk sized to fit them.
    static iobuf copy_of(const void* data, size_t len);
    static iobuf copy_of(std::span<const std::byte> bytes) {
        return copy_of(bytes.data(), bytes.size());
    }

    size_t size() const noexcept { return _size; }
    bool empty() const noexcept { return _size == 0; }
    size_t fragment_count() const noexcept { return _frags.size(); }
    iobuf_fragment_range fragments() const noexcept {
        return iobuf_fragment_range(_frags.begin(), _frags.end());
    }

    // Copies the bytes to the end, filling the tail chunk's free space first when this buffer may
    // write there, so that many small appends cost one chunk allocation per chunk.
    // REQUIRES: no reservation pending (also for every other mutation below).
    void append(const void* data, size_t len);
    void append(std::span<const std::byte> bytes) { append(bytes.data(), bytes.size()); }
    // Takes other's fragments without copying bytes; other is left empty.
    // REQUIRES: &other != this.
    void append(iobuf&& other);

    // A buffer viewing [pos, pos + len) of this one, sharing its chunks.
    // REQUIRES: pos + len <= size().
    iobuf share(size_t pos, size_t len) const;
    iobuf share() const { return share(0, size()); }
    // A buffer with the same bytes in fresh chunks that nobody else shares.
    iobuf copy() const;

    // Drops n bytes from the front or the back. REQUIRES: n <= size().
    void trim_front(size_t n);
    void trim_back(size_t n);
    // Drops every byte, and the spare chunk of an earlier reservation.
    void clear() noexcept;

    // REQUIRES: pos + len <= size().
    void copy_to(size_t pos, void* out, size_t len) const;
    // REQUIRES: pos < size().
    std::byte byte_at(size_t pos) const;

    // A contiguous view of [pos, pos + len). When the range spans fragments, they are rearranged
    // so that the range becomes one fragment in a fresh chunk (one copy of len bytes); later
    // calls for the same range are then free. The view is invalidated by any mutation.
    // REQUIRES: pos + len <= size().
    std::span<const std::byte> linearize(size_t pos, size_t len);

    // Appends to out the iovecs covering [pos, pos + len), at most max_iov of them, and returns
    // the number of bytes they cover (less than len when max_iov ran out).
    // REQUIRES: pos + len <= size(), max_iov > 0.
    size_t to_iovecs(size_t pos, size_t len, std::vector<iovec>& out, size_t max_iov = 1024) const;

    // Reserves at least min_bytes of writable space at the end and returns iovecs over it (at
    // most two: the tail chunk's free space when this buffer may write there, then a spare
    // chunk). The iovec array lives inside this iobuf object: keep the object in place (do not
    // move it) until the operation reading the array has been submitted. commit(n) then makes
    // the first n reserved bytes part of the buffer; commit(0) abandons the reservation. A spare
    // chunk that received no bytes stays with the buffer for the next reservation or append.
    // REQUIRES (reserve): min_bytes > 0, no reservation pending.
    // REQUIRES (commit): a reservation pending, n <= the bytes reserved.
    std::span<const iovec> reserve(size_t min_bytes);
    void commit(size_t n);
    bool has_reservation() const noexcept { return _reserved_count != 0; }

    // A writable view of [pos, pos + len), for rewriting a header in place (a record batch's base
    // offset). REQUIRES: the range lies in one fragment whose chunk nothing else references.
    std::span<std::byte> writable(size_t pos, size_t len);

    // Byte equality, whatever the fragmentation.
    bool operator==(const iobuf& o) const;

private:
    // Index of the fragment holding byte pos, and pos's offset within it. REQUIRES: pos < size().
    struct position {
        size_t index;
        size_t offset;
    };
    position find(size_t pos) const noexcept;
    // Bytes this buffer may write after its last fragment (claiming them when the chunk turns
    // out to be unshared); 0 when there are none.
    size_t writable_tail_bytes() noexcept;
    // Adds a fragment whose reference the caller hands over; merges it into the last fragment
    // when it continues it in the same chunk.
    void push_fragment(const detail::iobuf_fragment& f);
    // A chunk with at least min_capacity bytes of data: the spare one when it is big enough.
    detail::iobuf_chunk* chunk_for_append(size_t min_capacity);
    void release_all() noexcept;
    void check_no_reservation() const {
        WHARF_ASSERT(_reserved_count == 0, "iobuf mutated while a reservation is pending");
    }

    detail::iobuf_fragment_list _frags;
    size_t _size = 0;
    // This buffer alone may write the free space after its last fragment (see the design note).
    bool _tail_owned = false;
    // The pending reservation: _reserved_tail_bytes of the tail chunk's free space, then the
    // spare chunk if _reserved_count says two iovecs (or one with no tail bytes).
    uint8_t _reserved_count = 0;
    size_t _reserved_tail_bytes = 0;
    detail::iobuf_chunk* _spare = nullptr;
    std::array<iovec, 2> _reserved{};
};

// Bytes currently held in chunks allocated by the calling shard (headers and rounding included),
// for the per-shard memory budget and for tests. Threads that are no shard share one count.
size_t iobuf_allocated_bytes() noexcept;

namespace detail {

// Cross-shard release. When the last reference to a chunk is dropped on a reactor thread whose
// this_shard() is not the chunk's owner, the chunk is passed to the installed hook instead of
// being freed there; the cross-shard mesh installs one at start-up, sends the chunks home in
// batches and frees each there with iobuf_free_chunk_on_owner(). With no hook installed (tests
// without an smp, shutdown), on a thread that is no shard, or for a chunk allocated by such a
// thread, the chunk is freed where it is and its owner's count is debited all the same.
using foreign_free_fn = void (*)(shard_id owner, iobuf_chunk* chunk) noexcept;
// Callable from any thread; pass nullptr to uninstall (before the mesh stops delivering).
void set_foreign_free_hook(foreign_free_fn fn) noexcept;
// REQUIRES: this_shard() == chunk's owner, and the chunk came from the foreign-free hook.
void iobuf_free_chunk_on_owner(iobuf_chunk* chunk) noexcept;
// For the hook when the owner no longer runs (shutdown): frees where it is, debiting the owner.
void iobuf_free_chunk_in_place(iobuf_chunk* chunk) noexcept;

}  // namespace detail

}  // namespace wharf
