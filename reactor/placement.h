#pragma once

// CPU and memory placement of shards: which cores exist and may be used, pinning a thread to a
// core with hwloc, and NUMA-local memory with libnuma (DESIGN.md section 3).

#include <string>
#include <vector>

#include "reactor/base/result.h"

namespace wharf {

// CPUs the process may run on (its affinity mask), ascending.
std::vector<unsigned> allowed_cpus();
// Parses a cpuset like "0-3,8,10-11" into ascending, distinct CPU numbers. Errors on bad syntax
// or CPU numbers past 4095.
result<std::vector<unsigned>> parse_cpuset(const std::string& text);
// Pins the calling thread to one CPU (hwloc) and makes its memory allocations prefer that CPU's
// NUMA node (libnuma). Fails when the CPU is not usable.
status pin_current_thread(unsigned cpu);
// The NUMA node of a CPU, or -1 when unknown.
int numa_node_of(unsigned cpu);

}  // namespace wharf
