#include "reactor/base/assert.h"

#include <cstdio>
#include <cstdlib>

#include <spdlog/spdlog.h>

namespace wharf::detail {

void assert_failed(const char* file, int line, const char* condition,
                   const std::string& message) noexcept {
    // The default logger carries the shard id of the calling thread (reactor/logger.h).
    auto logger = spdlog::default_logger_raw();
    if (logger != nullptr) {
        logger->critical("assertion failed at {}:{}: {}: {}", file, line, condition, message);
        logger->flush();
    } else {
        std::fprintf(stderr, "assertion failed at %s:%d: %s: %s\n", file, line, condition,
                     message.c_str());
    }
    std::abort();
}

}  // namespace wharf::detail
