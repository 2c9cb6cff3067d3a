#pragma once

// Helpers shared by tests: temporary directories removed at the end of a test.

#include <cstdlib>
#include <filesystem>
#include <string>

#include "reactor/base/assert.h"

namespace wharf {

class temp_dir {
public:
    temp_dir() {
        std::string tmpl = (std::filesystem::temp_directory_path() / "wharf-test-XXXXXX").string();
        WHARF_ASSERT(::mkdtemp(tmpl.data()) != nullptr, "mkdtemp failed");
        _path = tmpl;
    }
    ~temp_dir() {
        std::error_code ec;
        std::filesystem::remove_all(_path, ec);
    }
    temp_dir(const temp_dir&) = delete;
    temp_dir& operator=(const temp_dir&) = delete;
    const std::string& path() const noexcept { return _path; }

private:
    std::string _path;
};

}  // namespace wharf
