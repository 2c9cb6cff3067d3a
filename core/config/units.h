#pragma once

// Sizes and durations as people write them on a command line: "512MiB", "1GB", "16384";
// "250ms", "7d", "100us". Plain numbers are bytes and the flag's own unit respectively.

#include <chrono>
#include <cstdint>
#include <string>
#include <string_view>

#include "reactor/base/result.h"

namespace wharf {

// Bytes; suffixes B, K/KB/KiB, M/MB/MiB, G/GB/GiB, T/TB/TiB (KB = 1000, KiB = 1024; a bare
// K/M/G/T is binary). Errors on anything else, negative numbers, or overflow.
result<uint64_t> parse_size(std::string_view text);
// A duration; suffixes ns, us, ms, s, m (minutes), h, d. A plain number uses default_unit.
result<std::chrono::nanoseconds> parse_duration(std::string_view text,
                                                std::chrono::nanoseconds default_unit);
// For logs and --help: exact in a binary unit when one divides it ("512MiB"), else one
// decimal place in the largest unit ("11.8GiB").
std::string format_size(uint64_t bytes);

}  // namespace wharf
