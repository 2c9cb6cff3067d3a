#pragma once

// The per-partition batch index (DESIGN.md section 4): for every batch of one partition that is
// still in the log, where it lies (segment, position, size), which offsets it holds and how late
// its timestamps go. A fetch finds its batches here and reads exactly them; ListOffsets finds a
// timestamp here. Lives on the shard that owns the partition, inside its shard_log, from open (or
// the partition's first batch) to close.
//
// A shard can hold millions of batches, so an entry is a 32-byte struct in one vector per
// partition, ordered by offset, with the dropped prefix (retention) erased lazily.

#include <cstddef>
#include <cstdint>
#include <span>
#include <vector>

#include "reactor/base/ids.h"

namespace wharf {

// One batch. Positions are 32-bit because segments are capped below 4 GiB (log_config.h).
struct batch_entry {
    int64_t base_offset = 0;
    // The largest max timestamp of this batch *and every earlier batch of the partition*. A running
    // maximum makes "first batch with max timestamp >= t" a binary search: the running maximum
    // first reaches t exactly at that batch. (After retention dropped earlier batches, the answer
    // may be a batch before the first whose own timestamps reach t; ListOffsets scans the records
    // of the batch it gets, so an earlier batch is only a little more work, never a wrong answer.)
    int64_t max_timestamp = 0;
    // The shard-local sequence number of the segment holding the batch (shard_log's table).
    uint32_t segment = 0;
    // Position of the entry header in the segment file.
    uint32_t position = 0;
    // Size of the record batch (the entry's payload), header excluded.
    uint32_t batch_bytes = 0;
    int32_t last_offset_delta = 0;

    kafka_offset base() const noexcept { return kafka_offset(base_offset); }
    kafka_offset last() const noexcept { return kafka_offset(base_offset + last_offset_delta); }
};
// Memory per batch is the budget the issue sets (tens of bytes); keep it at 32.
static_assert(sizeof(batch_entry) == 32, "batch_entry grew: memory per batch is budgeted");

class partition_index {
public:
    // REQUIRES: e starts after the last batch and e.last_offset_delta >= 0.
    void push_back(batch_entry e);

    size_t size() const noexcept { return _entries.size() - _head; }
    bool empty() const noexcept { return size() == 0; }
    std::span<const batch_entry> entries() const noexcept {
        return std::span<const batch_entry>(_entries).subspan(_head);
    }
    const batch_entry& operator[](size_t i) const noexcept { return _entries[_head + i]; }
    const batch_entry& front() const noexcept { return _entries[_head]; }
    const batch_entry& back() const noexcept { return _entries.back(); }
    // Sum of batch_bytes over the batches held.
    uint64_t bytes() const noexcept { return _bytes; }
    // The running maximum of the last batch; timestamp_ms::min() before the first batch.
    int64_t max_timestamp() const noexcept { return _max_timestamp; }
    // Seeds the running maximum (recovery, before the first push_back; later it raises it).
    void set_max_timestamp(int64_t t) noexcept {
        _max_timestamp = t;
        if (empty()) _base_max_timestamp = t;
    }

    // Index of the batch containing offset o, or of the first batch after it; size() if none.
    size_t find_offset(kafka_offset o) const noexcept;
    // Index of the first batch whose running max timestamp is >= t; size() if none.
    size_t find_timestamp(timestamp_ms t) const noexcept;

    // Drops the batches that end before offset start.
    void trim_before(kafka_offset start);
    // Drops batch i and every batch after it (a raft truncation): the running maximum becomes
    // what it was before batch i was added.
    void drop_from(size_t i);

    // Heap bytes held, for accounting and the memory test.
    size_t memory_bytes() const noexcept { return _entries.capacity() * sizeof(batch_entry); }

private:
    void compact();

    std::vector<batch_entry> _entries;
    size_t _head = 0;  // entries before _head were dropped and await compaction
    uint64_t _bytes = 0;
    int64_t _max_timestamp = INT64_MIN;
    // The running maximum before the first batch held (the seed, or the last trimmed batch's), so
    // that drop_from can restore it when it drops every batch.
    int64_t _base_max_timestamp = INT64_MIN;
};

}  // namespace wharf
