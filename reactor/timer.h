#pragma once

// Timers on the shard's io_uring (IORING_OP_TIMEOUT): one SQE per sleep, cancelled at shutdown.

#include <chrono>

#include "reactor/io.h"
#include "reactor/task.h"

namespace wharf {

// Sleeps for d. Returns true when the time passed, false when the reactor cancelled the sleep
// because it is shutting down.
inline task<bool> sleep_for(std::chrono::nanoseconds d) {
    int32_t res = co_await io::timeout(d);
    co_return res == -ETIME || res == 0;
}

}  // namespace wharf
