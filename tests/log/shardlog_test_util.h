#pragma once

// Helpers for the shard log tests: a temporary directory, a one-shard reactor with a watchdog,
// deterministic record batches and the bytes the log must return for them.

#include <gtest/gtest.h>

#include <cstddef>
#include <cstdint>
#include <functional>
#include <map>
#include <span>
#include <string>
#include <vector>

#include "log/log_config.h"
#include "log/shard_log.h"
#include "log/record_batch.h"
#include "reactor/base/ids.h"
#include "reactor/iobuf.h"
#include "reactor/task.h"
#include "tests/reactor/run_reactor.h"
#include "tests/reactor/test_util.h"

// ASSERT_* returns from a void function; in a coroutine the failure must end it with co_return.
#define CO_ASSERT(cond)                                        \
    do {                                                       \
        if (!(cond)) {                                         \
            ADD_FAILURE() << "assertion failed: " #cond;       \
            co_return 1;                                       \
        }                                                      \
    } while (0)

#define CO_ASSERT_OK(expr)                                                          \
    do {                                                                            \
        const auto& _co_r = (expr);                                                 \
        if (!_co_r) {                                                               \
            ADD_FAILURE() << #expr << " failed: " << _co_r.error().message();       \
            co_return 1;                                                            \
        }                                                                           \
    } while (0)

namespace wharf::test {

// run_reactor (tests/reactor/run_reactor.h) runs the tests' coroutine bodies.

// A log configuration for tests: the given directory, shard 0, fsync on, no timestamp checks.
log_config test_config(const std::string& data_dir);

// A batch of `records` records with values of value_bytes pseudo-random bytes drawn from seed,
// and timestamps from base_timestamp on, as a producer sends it (base offset 0, epoch -1).
std::vector<std::byte> make_batch(uint64_t seed, int records, size_t value_bytes,
                                  int64_t base_timestamp);
// The batch as the log must store it: stamped with base offset and leader epoch (CreateTime).
std::vector<std::byte> stamped(std::vector<std::byte> batch, kafka_offset base, int32_t epoch);

iobuf to_iobuf(std::span<const std::byte> bytes);
std::vector<std::byte> to_bytes(const iobuf& buf);
// Splits the concatenated batches of a read; fails the test if they do not parse exactly.
std::vector<std::vector<std::byte>> split_batches(std::span<const std::byte> bytes);

// Paths of the segment (.log) and index files in a shard directory, sorted.
std::vector<std::string> files_with_suffix(const std::string& dir, const std::string& suffix);
uint64_t file_size(const std::string& path);
std::vector<std::byte> read_file(const std::string& path);
void write_file(const std::string& path, std::span<const std::byte> bytes);

// Entry boundaries of a segment file, parsed with the entry format (positions of the entries'
// first bytes, then the end of the last whole entry).
std::vector<uint64_t> entry_boundaries(const std::string& segment_path);

// What a partition must hold: its batches as stored, and its offsets.
struct model_batch {
    kafka_offset base{0};
    kafka_offset last{0};
    int64_t max_timestamp = 0;
    std::vector<std::byte> bytes;
};
struct model_partition {
    std::vector<model_batch> batches;  // all ever appended, including those below start
    kafka_offset start{0};
    kafka_offset next{0};

    // Index of the first batch with last >= o.
    size_t find(kafka_offset o) const;
    // Records a durable batch. Appends of one group commit complete together in no promised
    // order, so batches go in by offset, not in the order their appends returned.
    void add(model_batch b);
};
using log_model = std::map<uint32_t, model_partition>;

// Reads the partition from its start to its end in reads of at most max_bytes and checks every
// batch and offset against the model (EXPECT failures, so the caller checks HasFailure()).
task<void> expect_partition_matches(shard_log& log, partition_id p, const model_partition& m,
                                    size_t max_bytes);
// The same for every partition of the model.
task<void> expect_log_matches(shard_log& log, const log_model& model, size_t max_bytes);

}  // namespace wharf::test
