#pragma once

// The cross-shard mesh: one SPSC ring per ordered pair of shards (DESIGN.md sections 1 and 3).
//
// A shard never writes into a ring directly while it runs tasks: send() appends to a local
// outgoing list, and the loop flushes every list once per turn (a batch per ring), then wakes the
// receivers that announced they sleep. Receivers poll their incoming rings every turn. When a ring
// is full the rest stays in the outgoing list for the next turn; what may wait there is bounded by
// the callers (submit_to callers each have one item in flight).
//
// Created by smp before the shard threads start, destroyed after they stop; each shard touches
// only its own outgoing lists and its own incoming rings.

#include <memory>
#include <vector>

#include "reactor/base/ids.h"
#include "reactor/spsc_ring.h"

namespace wharf {

class reactor;

// A unit of work that travels to another shard and runs there.
struct cross_shard_item {
    virtual void run() noexcept = 0;

protected:
    ~cross_shard_item() = default;
};

class cross_shard_mesh {
public:
    cross_shard_mesh(unsigned shards, size_t ring_capacity);
    ~cross_shard_mesh();

    unsigned shard_count() const noexcept { return _shards; }
    // REQUIRES: called on shard `id` before it processes messages.
    void attach(shard_id id, reactor* r) noexcept;
    void detach(shard_id id) noexcept;
    // Whether shard id's reactor is attached (between its start and its end).
    bool is_running(shard_id id) const noexcept;

    // On shard `from`: queue item to run on shard `to` (flushed at the end of the turn).
    void send(shard_id from, shard_id to, cross_shard_item* item);
    // On shard `from`: push queued items into the rings and wake sleeping receivers. Returns
    // whether items are still queued because a ring was full.
    bool flush_outgoing(shard_id from);
    // On shard `to`: run the items waiting in its incoming rings. Returns how many ran.
    size_t poll_incoming(shard_id to);
    // On shard `to` (or as a hint anywhere): whether items wait in its incoming rings.
    bool has_incoming(shard_id to) const noexcept;

    uint64_t items_sent(shard_id from) const noexcept { return _out[from.value()]->sent; }

private:
    spsc_ring<cross_shard_item*>& ring(unsigned from, unsigned to) noexcept {
        return *_rings[from * _shards + to];
    }
    const spsc_ring<cross_shard_item*>& ring(unsigned from, unsigned to) const noexcept {
        return *_rings[from * _shards + to];
    }

    // A shard's outgoing lists, one per destination, on the shard's own cache lines.
    struct alignas(64) outgoing {
        std::vector<std::vector<cross_shard_item*>> to;
        uint64_t sent = 0;
    };

    unsigned _shards;
    std::vector<std::unique_ptr<spsc_ring<cross_shard_item*>>> _rings;
    std::vector<std::unique_ptr<outgoing>> _out;
    std::vector<std::atomic<reactor*>> _reactors;
};

// The mesh of the running smp, or null outside one.
cross_shard_mesh* current_mesh() noexcept;
void set_current_mesh(cross_shard_mesh* m) noexcept;

}  // namespace wharf
