#pragma once

// Long polling for Fetch: a fetch that found fewer than min_bytes waits until an append to one of
// its partitions wakes it or max_wait_ms passes. The fetch runs on its connection's shard; the
// partitions live on their owning shards. So:
//   - the fetch creates a wake_slot on its own shard (registered under an id in a shard-local
//     table) and arms a timer that fires the slot at the deadline;
//   - each owning shard keeps, per partition, the (home shard, id, deadline) of the fetches
//     waiting on it; the next durable append to the partition wakes them all (a cross-shard
//     message for remote homes) and forgets them;
//   - a wake that arrives after the fetch finished finds no slot and does nothing; registrations
//     past their deadline are pruned whenever their partition is touched.
// All of it is shard-local state; nothing is shared between shards.

#include <chrono>
#include <cstdint>
#include <memory>
#include <unordered_map>
#include <vector>

#include "reactor/base/ids.h"
#include "reactor/clock.h"
#include "reactor/sync.h"
#include "reactor/task.h"

namespace wharf::kafka {

// One waiting fetch, on its home shard.
class wake_slot {
public:
    void fire() {
        if (_fired) return;
        _fired = true;
        _event.notify_all();
    }
    bool fired() const noexcept { return _fired; }
    auto wait() noexcept { return _event.wait(); }

private:
    event _event;
    bool _fired = false;
};

struct wake_target {
    shard_id home;
    uint64_t id = 0;
    steady_time deadline;
};

// The home side: a slot registered for the duration of one wait.
class fetch_wait {
public:
    explicit fetch_wait(std::chrono::milliseconds max_wait);
    ~fetch_wait();
    fetch_wait(const fetch_wait&) = delete;
    fetch_wait& operator=(const fetch_wait&) = delete;

    wake_target target() const noexcept { return _target; }
    // Completes when a registered partition is appended to or the deadline passes.
    task<void> wait();

private:
    std::shared_ptr<wake_slot> _slot;
    wake_target _target;
};

// The owning side, per shard: who waits on which partition.
class partition_waiters {
public:
    void add(partition_id p, wake_target t);
    // Wakes (and forgets) every fetch waiting on p.
    void notify(partition_id p);
    size_t size() const noexcept;

private:
    std::unordered_map<partition_id, std::vector<wake_target>> _waiting;
};

// The calling shard's partition_waiters.
partition_waiters& local_partition_waiters() noexcept;

// Shutdown: wakes every fetch waiting on the calling shard, and makes fetches stop waiting from
// now on, so that stopping the listener does not wait for long polls to time out.
void wake_fetches_for_shutdown();
bool fetches_shutting_down() noexcept;

}  // namespace wharf::kafka
