#include "reactor/spawn.h"

#include "reactor/logger.h"
#include "reactor/reactor.h"

namespace wharf::detail {

void report_detached_failure(const char* what, std::exception_ptr e) noexcept {
    std::string reason = "unknown exception";
    try {
        std::rethrow_exception(e);
    } catch (const std::exception& ex) {
        reason = ex.what();
    } catch (...) {
    }
    // The shard's logger puts the shard id in the line.
    shard_logger().error("detached task '{}' failed: {}", what, reason);
    if (auto* r = reactor::local_or_null()) r->count_detached_failure();
}

}  // namespace wharf::detail
