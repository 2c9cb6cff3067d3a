// raft_replication_bench: what raft replication costs, as ratios measured in one run (DESIGN.md
// sections 5 and 10). A group of one (RF=1, the single broker's path) and a group of three
// (RF=3, three replicas on one shard over the real TCP raft transport on 127.0.0.1), one after
// the other, each on fresh shard logs under --dir, acks=all (a call returns once committed).
// perf/lib/raft_replication.h says what is measured; perf/README.md holds figures.
//
// A benchmark reports; it does not judge. Exit status 0 unless a case failed: a replicate_batch
// call returned an error, no leader was elected, or nothing was acknowledged.

#include <fmt/core.h>
#include <linux/magic.h>
#include <sys/statfs.h>

#include <CLI/CLI.hpp>
#include <chrono>
#include <cstdio>
#include <string>

#include "core/config/units.h"
#include "perf/lib/raft_replication.h"
#include "reactor/logger.h"

namespace {

using namespace wharf;
using namespace wharf::perf;

struct flags {
    std::string duration = "10s";
    std::string warmup = "2s";
    std::string record_bytes = "1024";
    size_t records_per_batch = 16;
    size_t inflight = 32;
    uint32_t partitions = 16;
    std::string fsync = "always";
    std::string dir = "/tmp";
    std::string log_level = "warn";
    bool json = false;
};

[[noreturn]] void usage_error(const std::string& what) {
    fmt::print(stderr, "raft_replication_bench: {}\n", what);
    std::exit(2);
}

std::chrono::microseconds duration_flag(const char* flag, const std::string& text) {
    auto v = parse_duration(text, std::chrono::seconds(1));
    if (!v) usage_error(fmt::format("{} {}: not a duration (e.g. 500ms, 10s)", flag, text));
    return std::chrono::duration_cast<std::chrono::microseconds>(*v);
}

replication_options make_options(const flags& f) {
    replication_options o;
    o.duration = duration_flag("--duration", f.duration);
    o.warmup = duration_flag("--warmup", f.warmup);
    if (o.duration.count() <= 0) usage_error("--duration must be positive");
    auto bytes = parse_size(f.record_bytes);
    if (!bytes || *bytes > (256u << 10)) usage_error("--record-bytes must be a size up to 256KiB");
    o.record_bytes = static_cast<size_t>(*bytes);
    // The log takes batches of up to 1 MiB (log_config::limits).
    if (f.records_per_batch < 1 || o.record_bytes * f.records_per_batch > (1000u << 10)) {
        usage_error("--records-per-batch: at least 1, and batches must stay under 1 MiB");
    }
    o.records_per_batch = f.records_per_batch;
    if (f.inflight < 1 || f.inflight > 100'000) usage_error("--inflight must be 1 to 100000");
    o.inflight = f.inflight;
    if (f.partitions < 1 || f.partitions > 100'000) usage_error("--partitions must be 1 to 100000");
    o.partitions = f.partitions;
    if (f.fsync != "always" && f.fsync != "never") usage_error("--fsync must be always or never");
    o.fsync = f.fsync == "always" ? fsync_policy::always : fsync_policy::never;
    o.dir = f.dir;
    return o;
}

// fsync on tmpfs costs nothing, and fsync=never does not wait for the disk: say so loudly.
void warn_about_durability(const replication_options& o) {
    if (o.fsync == fsync_policy::never) {
        fmt::print(stderr,
                   "WARNING: --fsync never: appends are acknowledged without fdatasync; the "
                   "figures measure CPU and page cache, not durable replication.\n");
    }
    struct statfs fs {};
    if (::statfs(o.dir.c_str(), &fs) == 0 && fs.f_type == TMPFS_MAGIC) {
        fmt::print(stderr,
                   "WARNING: {} is on tmpfs: fdatasync costs nothing there; pass --dir on a real "
                   "filesystem to measure a disk.\n",
                   o.dir);
    }
}

}  // namespace

int main(int argc, char** argv) {
    flags f;
    CLI::App app{"raft replication cost: RF=1 against RF=3 over TCP, in one run"};
    app.add_option("--duration", f.duration, "measured time per case (e.g. 10s)");
    app.add_option("--warmup", f.warmup, "unmeasured time per case before it (e.g. 2s)");
    app.add_option("--record-bytes", f.record_bytes, "bytes of each record's value");
    app.add_option("--records-per-batch", f.records_per_batch, "records per batch");
    app.add_option("--inflight", f.inflight, "replicate_batch calls outstanding on the leader");
    app.add_option("--partitions", f.partitions, "partitions, taken round-robin");
    app.add_option("--fsync", f.fsync, "always (default) or never (benchmarks of the CPU side)");
    app.add_option("--dir", f.dir, "where the temporary log directories go");
    app.add_option("--log-level", f.log_level, "trace, debug, info, warn (default), error, off");
    app.add_flag("--json", f.json, "also print the figures as one JSON line");
    CLI11_PARSE(app, argc, argv);
    replication_options o = make_options(f);
    if (auto s = init_logging(f.log_level); !s) usage_error("--log-level: unknown level");
    warn_about_durability(o);

    replication_case rf1;
    replication_case rf3;
    std::string error;
    fmt::print("raft_replication_bench: RF=1 ...\n");
    std::fflush(stdout);
    if (!run_replication_case(o, 1, rf1, error)) {
        fmt::print(stderr, "raft_replication_bench: RF=1 failed: {}\n", error);
        return 1;
    }
    fmt::print("raft_replication_bench: RF=3 over TCP ...\n");
    std::fflush(stdout);
    if (!run_replication_case(o, 3, rf3, error)) {
        fmt::print(stderr, "raft_replication_bench: RF=3 failed: {}\n", error);
        return 1;
    }
    fmt::print("\n{}", replication_report(o, rf1, rf3));
    if (f.json) fmt::print("{}\n", replication_json(o, rf1, rf3));
    return 0;
}
