#pragma once

// `wharf tune [--apply] [--check] [--sys-root DIR] [--format table|json] [--data-dir DIR]
// [--nic IFACE]...`: checks the host for a thread-per-core broker and, with --apply, fixes it.
// Dry run by default. Exit codes: 0 done; 1 --check found a failing check, --apply was refused
// (not root) or a write failed; 2 bad usage.

#include <string>
#include <vector>

#include "core/tune/tune_check.h"

namespace wharf::tune {

// argv[0] is "tune" (main passes the arguments after the subcommand's name).
int run_tune(int argc, char** argv);

std::string format_table(const std::vector<check_result>& checks);
std::string format_json(const std::vector<check_result>& checks,
                        const std::vector<std::string>& changes,
                        const std::vector<std::string>& errors);

}  // namespace wharf::tune
