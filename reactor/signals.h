#pragma once

// Termination signals. The process blocks SIGINT and SIGTERM in every thread before the shards
// start (block_termination_signals), and one shard reads them from a signalfd through its
// io_uring, so a signal never interrupts a shard in the middle of a task.

#include <initializer_list>

#include "reactor/base/result.h"
#include "reactor/task.h"

namespace wharf {

// Blocks the signals in the calling thread; threads created afterwards inherit the mask.
void block_signals(std::initializer_list<int> signals);

// Reads signals from a signalfd on the calling shard.
class signal_reader {
public:
    signal_reader() = default;
    signal_reader(const signal_reader&) = delete;
    signal_reader& operator=(const signal_reader&) = delete;
    ~signal_reader();

    status open(std::initializer_list<int> signals);
    // The next signal's number; 0 when the read was cancelled (shutdown).
    task<int> next();

private:
    int _fd = -1;
};

}  // namespace wharf
