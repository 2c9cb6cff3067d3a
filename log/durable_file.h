#pragma once

// Whole small files written so that a crash leaves either the old version or the new one, never
// a mix: index files and the prefix checkpoint. Write to <name>.tmp, fdatasync, rename over
// <name>, fsync the directory. Leftover .tmp files are removed at open.

#include <cstddef>
#include <span>
#include <string>
#include <string_view>
#include <system_error>
#include <vector>

#include "reactor/base/result.h"
#include "reactor/task.h"

namespace wharf {

inline constexpr std::string_view tmp_suffix = ".tmp";

// The log reports failures in its own category (the errno is logged where it happens): a full
// disk is disk_full, any other system error io_error; log_errc codes pass through.
std::error_code as_log_error(std::error_code ec) noexcept;

// REQUIRES: name has no directory part.
task<status> write_file_durably(std::string dir, std::string name,
                                std::span<const std::byte> bytes);
// The whole file; an error when it cannot be opened or read.
task<result<std::vector<std::byte>>> read_whole_file(std::string path);

}  // namespace wharf
