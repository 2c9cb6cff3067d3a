#pragma once

// Kernel probe: checks at start-up that io_uring works and supports every operation Wharf uses,
// so an old or restricted kernel fails with a message naming what is missing instead of failing
// later in the middle of a request (DESIGN.md section 3).

#include <string>
#include <vector>

namespace wharf {

// Names of the missing features; empty when the kernel has everything.
std::vector<std::string> probe_kernel();

}  // namespace wharf
