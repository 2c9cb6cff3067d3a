#pragma once

// Logging: one spdlog logger per shard, named after it, so every line carries the shard id
// (DESIGN.md section 3). Threads that are not shards log through the "main" logger.

#include <memory>
#include <string>

#include <spdlog/spdlog.h>

#include "reactor/base/ids.h"
#include "reactor/base/result.h"

namespace wharf {

// Creates the process's sinks and the "main" logger; call once before starting shards.
// level is one of trace, debug, info, warn, error, critical, off.
status init_logging(const std::string& level);
// Creates shard `id`'s logger and makes it the calling thread's logger.
void install_shard_logger(shard_id id);
// The calling thread's logger (the shard's, or "main").
spdlog::logger& shard_logger() noexcept;
// Parses a level name; errors on unknown names.
result<spdlog::level::level_enum> parse_log_level(const std::string& level);

}  // namespace wharf
