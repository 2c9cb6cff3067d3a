#pragma once

// Reading a whole small file with blocking calls: for start-up (--config) and command-line tools
// (`wharf tune`), never for a reactor thread. Reads until the end rather than trusting the size,
// which /proc and /sys files report as 0 or 4096.

#include <cerrno>
#include <filesystem>
#include <fstream>
#include <sstream>
#include <string>

#include "reactor/base/result.h"

namespace wharf {

// The file's bytes, or the errno of the failed open or read.
inline result<std::string> read_whole_file(const std::filesystem::path& path) {
    // A stream that fails without an errno (none is promised) still reports an error.
    auto failure = [] { return errno_code(errno != 0 ? errno : EIO); };
    errno = 0;
    std::ifstream in(path, std::ios::binary);
    if (!in) return failure();
    std::ostringstream text;
    text << in.rdbuf();
    if (in.bad()) return failure();
    return std::move(text).str();
}

}  // namespace wharf
