// wharf: the broker's entry point. Parses the flags, sets up logging and signals, and runs the
// shards; everything else happens in core/broker.cc on shard 0.

#include <signal.h>
#include <unistd.h>

#include <cstdio>
#include <cstring>
#include <filesystem>
#include <string>
#include <vector>

#include "core/broker.h"
#include "core/cli/cli.h"
#include "core/config/broker_config.h"
#include "core/tune/tune_command.h"
#include "reactor/logger.h"
#include "reactor/signals.h"
#include "reactor/smp.h"

namespace {

// `wharf bench ...` runs the load generator, a program of its own (perf/wharf-bench): next to
// this binary when installed, in the build tree's perf/ directory, or on the PATH.
int exec_bench(int argc, char** argv) {
    std::vector<char*> args;
    args.push_back(const_cast<char*>("wharf-bench"));
    for (int i = 2; i < argc; ++i) args.push_back(argv[i]);
    args.push_back(nullptr);
    std::error_code ec;
    auto self = std::filesystem::read_symlink("/proc/self/exe", ec);
    if (!ec) {
        for (auto candidate : {self.parent_path() / "wharf-bench",
                               self.parent_path().parent_path() / "perf" / "wharf-bench"}) {
            if (::access(candidate.c_str(), X_OK) == 0) ::execv(candidate.c_str(), args.data());
        }
    }
    ::execvp("wharf-bench", args.data());
    std::fprintf(stderr, "wharf bench: cannot run wharf-bench: %s\n", std::strerror(errno));
    return 2;
}

}  // namespace

int main(int argc, char** argv) {
    using namespace wharf;
    if (argc > 1 && std::strcmp(argv[1], "bench") == 0) return exec_bench(argc, argv);
    if (argc > 1 && cli::is_command(argv[1])) return cli::run(argc, argv);
    if (argc > 1 && std::strcmp(argv[1], "tune") == 0) return tune::run_tune(argc - 1, argv + 1);
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
        shard_logger().warn(
            "--fsync=never: appends are acknowledged BEFORE they are durable; a "
            "power failure or kernel crash loses them. Use it for benchmarks only.");
    }
    smp_config sc{.shards = cfg.smp,
                  .cpus = cfg.cpus,
                  .poll_us = cfg.poll_us,
                  .memory_per_shard_bytes = cfg.memory_bytes / cfg.smp,
                  .stall_threshold = cfg.stall_threshold};
    auto rc = smp::run(sc, [&cfg] { return run_broker(cfg); });
    if (!rc) {
        shard_logger().critical("wharf cannot start: {}", rc.error().message());
        return 1;
    }
    return *rc;
}
