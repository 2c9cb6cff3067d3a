// wharf: the broker's entry point. Parses the flags, sets up logging and signals, and runs the
// shards; everything else happens in core/broker.cc on shard 0.

#include <signal.h>

#include <cstdio>

#include "core/broker.h"
#include "core/config/broker_config.h"
#include "reactor/logger.h"
#include "reactor/signals.h"
#include "reactor/smp.h"

int main(int argc, char** argv) {
    using namespace wharf;
    auto parsed = parse_broker_flags(argc, argv);
    if (!parsed.config) return parsed.exit_code;
    const broker_config& cfg = *parsed.config;
    if (auto s = init_logging(cfg.log_level); !s) {
        std::fprintf(stderr, "wharf: invalid --log-level %s\n", cfg.log_level.c_str());
        return 2;
    }
    // Shards read SIGINT and SIGTERM from a signalfd; block them in every thread first.
    block_signals({SIGINT, SIGTERM});
    if (cfg.fsync == fsync_policy::never) {
        shard_logger().warn("--fsync=never: appends are acknowledged BEFORE they are durable; a "
                            "power failure or kernel crash loses them. Use it for benchmarks only.");
    }
    smp_config sc{.shards = cfg.smp,
                  .cpus = cfg.cpus,
                  .poll_us = cfg.poll_us,
                  .memory_per_shard_bytes = cfg.memory_bytes / cfg.smp};
    auto rc = smp::run(sc, [&cfg] { return run_broker(cfg); });
    if (!rc) {
        shard_logger().critical("wharf cannot start: {}", rc.error().message());
        return 1;
    }
    return *rc;
}
