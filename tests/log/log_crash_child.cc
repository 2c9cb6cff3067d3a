// A child process for the crash test (crash_test.cc): opens a shard log in the directory given,
// appends batches of deterministic content in a loop, a few at a time so that kills also land
// inside group commits and segment rolls, and after each append is durable writes one line to
// stdout: "<partition> <base offset> <last offset> <xxh3 of the batch as stored>". The test kills
// it with SIGKILL at random moments and checks the log against what it reported.
//
// Usage: log_crash_child <data-dir> <seed> <partitions>

#include <unistd.h>

#include <cstdio>
#include <cstdlib>
#include <random>
#include <string>
#include <vector>

#include <xxhash.h>

#include "log/record_batch.h"
#include "log/shard_log.h"
#include "reactor/smp.h"
#include "reactor/when_all.h"

namespace wharf {
namespace {

std::vector<std::byte> make_batch(uint64_t seed) {
    std::mt19937_64 rng(seed);
    int records = 1 + static_cast<int>(rng() % 4);
    std::vector<std::string> values(static_cast<size_t>(records));
    std::vector<record_to_build> recs(static_cast<size_t>(records));
    for (size_t i = 0; i < values.size(); ++i) {
        values[i].resize(20 + rng() % 700);
        for (auto& c : values[i]) c = static_cast<char>('a' + rng() % 26);
        recs[i].value = values[i];
        recs[i].timestamp_delta = static_cast<int64_t>(i);
    }
    return build_batch(kafka_offset(0), 1'700'000'000'000, recs);
}

task<void> append_one(shard_log& log, uint32_t p, uint64_t seed) {
    auto batch = make_batch(seed);
    auto r = co_await log.append_batch(partition_id(p), term_id(1),
                                       iobuf::copy_of(batch), 1);
    if (!r) {
        std::fprintf(stderr, "crash child: append failed: %s\n", r.error().message().c_str());
        std::_Exit(3);
    }
    stamp_batch(batch, r->base_offset, 1, std::nullopt);
    char line[128];
    int n = std::snprintf(line, sizeof(line), "%u %lld %lld %016llx\n", p,
                          static_cast<long long>(r->base_offset.value()),
                          static_cast<long long>(r->last_offset.value()),
                          static_cast<unsigned long long>(XXH3_64bits(batch.data(), batch.size())));
    // One write of a short line: atomic on a pipe, so the test never sees half a line.
    if (::write(1, line, static_cast<size_t>(n)) != n) std::_Exit(4);
}

task<int> run(std::string dir, uint64_t seed, uint32_t partitions) {
    log_config cfg;
    cfg.data_dir = dir;
    cfg.segment_bytes = 64 << 10;
    cfg.preallocate_bytes = 64 << 10;
    cfg.limits.max_timestamp_skew_ms = -1;
    std::string detail;
    auto opened = co_await shard_log::open(cfg, &detail);
    if (!opened) {
        std::fprintf(stderr, "crash child: open failed: %s: %s\n",
                     opened.error().message().c_str(), detail.c_str());
        co_return 2;
    }
    shard_log& log = **opened;
    for (uint32_t p = 0; p < partitions; ++p) log.configure_partition(partition_id(p), {});
    std::mt19937_64 rng(seed);
    // Bounded, in case nobody kills it.
    for (int round = 0; round < 100'000; ++round) {
        std::vector<task<void>> appends;
        int n = 1 + static_cast<int>(rng() % 8);
        for (int i = 0; i < n; ++i) {
            appends.push_back(append_one(log, static_cast<uint32_t>(rng() % partitions), rng()));
        }
        co_await when_all(std::move(appends));
    }
    (void)co_await log.close();
    co_return 0;
}

}  // namespace
}  // namespace wharf

int main(int argc, char** argv) {
    if (argc != 4) {
        std::fprintf(stderr, "usage: log_crash_child <data-dir> <seed> <partitions>\n");
        return 1;
    }
    std::string dir = argv[1];
    uint64_t seed = std::strtoull(argv[2], nullptr, 10);
    auto partitions = static_cast<uint32_t>(std::strtoul(argv[3], nullptr, 10));
    auto r = wharf::smp::run(wharf::smp_config{.shards = 1},
                             [&]() { return wharf::run(dir, seed, partitions); });
    return r ? *r : 1;
}
