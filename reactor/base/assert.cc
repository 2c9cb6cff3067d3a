#include "reactor/base/assert.h"

#include <cstdlib>

#include "reactor/logger.h"

namespace wharf::detail {

void assert_failed(const char* file, int line, const char* condition,
                   const std::string& message) noexcept {
    // The calling thread's logger carries its shard id.
    auto& logger = shard_logger();
    logger.critical("assertion failed at {}:{}: {}: {}", file, line, condition, message);
    logger.flush();
    std::abort();
}

}  // namespace wharf::detail
