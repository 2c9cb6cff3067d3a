#pragma once

// smp: starts one reactor thread per shard, pins them, wires the cross-shard rings, runs a main
// task on shard 0 and shuts everything down when it finishes (DESIGN.md section 3).

#include <chrono>
#include <functional>
#include <string>
#include <vector>

#include "reactor/base/ids.h"
#include "reactor/base/result.h"
#include "reactor/task.h"

namespace wharf {

struct smp_config {
    unsigned shards = 1;
    // CPUs to pin shard k to (cpus[k]); empty means no pinning (--overprovisioned, tests).
    std::vector<unsigned> cpus;
    std::chrono::microseconds poll_us{0};
    unsigned ring_entries = 1024;
    // Memory budget of each shard in bytes (--memory divided by shards); 0 means unbounded.
    size_t memory_per_shard_bytes = 0;
    // Capacity of each cross-shard ring, a power of two.
    unsigned cross_ring_capacity = 1024;
    // Log loop turns longer than this with a backtrace (reactor/stall_detector.h); 0 disables.
    std::chrono::milliseconds stall_threshold{0};
};

class smp {
public:
    // Starts the shards, runs main_fn on shard 0 and returns its value once it has finished and
    // every shard has stopped. Fails (without starting anything) when the kernel lacks a needed
    // io_uring feature or pinning is impossible.
    static result<int> run(const smp_config& cfg, std::function<task<int>()> main_fn);

    // Number of shards; valid on any reactor thread while smp::run is active.
    static unsigned count() noexcept;
    static size_t memory_per_shard_bytes() noexcept;
};

}  // namespace wharf
