#pragma once

// The tail cache: the most recently appended batches of a shard, kept in memory so that fetches
// of fresh data (consumers that keep up, raft followers) never touch the disk (DESIGN.md
// section 4). Bounded by a byte budget; the oldest batch of the shard goes first.
//
// For each partition the cache holds a contiguous run of its newest durable batches: batches
// enter in append order, leave oldest first, and a batch too large for the budget empties its
// partition's run instead of leaving a hole. So "is batch b cached" is "is b at or after the
// first cached batch of its partition".
//
// Lives on the shard of its shard_log, from open to close. Cached buffers are shared (zero copy)
// with what was written.

#include <cstddef>
#include <cstdint>
#include <deque>
#include <optional>
#include <unordered_map>
#include <vector>

#include "reactor/base/ids.h"
#include "reactor/iobuf.h"

namespace wharf {

class tail_cache {
public:
    explicit tail_cache(size_t budget_bytes) noexcept : _budget(budget_bytes) {}

    // Adds the newest batch of p. REQUIRES: base is after every cached batch of p.
    void insert(partition_id p, kafka_offset base, kafka_offset last, iobuf batch);
    // A shared view of p's cached batch starting at base; nullopt when it is not cached.
    std::optional<iobuf> find(partition_id p, kafka_offset base) const;
    // Drops p's cached batches that end before start (retention, DeleteRecords).
    void drop_before(partition_id p, kafka_offset start);
    // Drops p's cached batches that end at or after `end` (a raft truncation removed them); the
    // run left is still p's newest batches.
    void drop_from(partition_id p, kafka_offset end);
    void clear();
    // Changes the budget, evicting the oldest batches until the cache fits it.
    void set_budget(size_t budget_bytes);

    size_t bytes() const noexcept { return _bytes; }
    size_t budget_bytes() const noexcept { return _budget; }
    size_t batches() const noexcept { return _batches; }

private:
    struct cached_batch {
        kafka_offset base;
        kafka_offset last;
        // Insertion number: tells a batch from a later one at the same offsets (after a
        // truncation) in the eviction order.
        uint64_t seq;
        iobuf bytes;
    };
    // One partition's run, oldest first; the erased prefix is compacted lazily.
    struct run {
        std::vector<cached_batch> batches;
        size_t head = 0;
        bool empty() const noexcept { return head == batches.size(); }
        cached_batch& front() noexcept { return batches[head]; }
    };
    // Eviction order: one record per insert. A record whose batch has left already (dropped by
    // retention or a truncation) is skipped when it reaches the front.
    struct fifo_record {
        partition_id partition;
        uint64_t seq;
    };

    void evict_oldest();
    // Whether the record's batch is still cached.
    bool holds(const fifo_record& f) const;
    void pop_front(run& r);
    void compact(run& r);

    size_t _budget;
    size_t _bytes = 0;
    size_t _batches = 0;
    uint64_t _next_seq = 0;
    std::unordered_map<partition_id, run> _runs;
    std::deque<fifo_record> _fifo;
};

}  // namespace wharf
