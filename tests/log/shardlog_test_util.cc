#include "tests/log/shardlog_test_util.h"

#include <fcntl.h>
#include <stdlib.h>
#include <unistd.h>

#include <algorithm>
#include <condition_variable>
#include <cstdio>
#include <filesystem>
#include <fstream>
#include <mutex>
#include <random>
#include <thread>

#include "log/entry.h"
#include "reactor/smp.h"

namespace wharf::test {

log_config test_config(const std::string& data_dir) {
    log_config cfg;
    cfg.data_dir = data_dir;
    cfg.shard = shard_id(0);
    cfg.segment_bytes = 1 << 20;
    cfg.tail_cache_bytes = 1 << 20;
    cfg.preallocate_bytes = 1 << 20;
    cfg.limits.max_timestamp_skew_ms = -1;
    return cfg;
}

std::vector<std::byte> make_batch(uint64_t seed, int records, size_t value_bytes,
                                  int64_t base_timestamp) {
    std::mt19937_64 rng(seed);
    std::vector<std::string> values(static_cast<size_t>(records));
    std::vector<std::string> keys(static_cast<size_t>(records));
    std::vector<record_to_build> recs;
    for (int i = 0; i < records; ++i) {
        auto& v = values[static_cast<size_t>(i)];
        v.resize(value_bytes);
        for (auto& c : v) c = static_cast<char>('a' + rng() % 26);
        keys[static_cast<size_t>(i)] = "key-" + std::to_string(seed % 1000) + "-" + std::to_string(i);
        record_to_build r;
        r.key = keys[static_cast<size_t>(i)];
        r.value = v;
        r.timestamp_delta = i;
        recs.push_back(r);
    }
    return build_batch(kafka_offset(0), base_timestamp, recs);
}

std::vector<std::byte> stamped(std::vector<std::byte> batch, kafka_offset base, int32_t epoch) {
    stamp_batch(batch, base, epoch, std::nullopt);
    return batch;
}

iobuf to_iobuf(std::span<const std::byte> bytes) { return iobuf::copy_of(bytes); }

std::vector<std::byte> to_bytes(const iobuf& buf) {
    std::vector<std::byte> out(buf.size());
    if (!out.empty()) buf.copy_to(0, out.data(), out.size());
    return out;
}

std::vector<std::vector<std::byte>> split_batches(std::span<const std::byte> bytes) {
    std::vector<std::vector<std::byte>> out;
    while (!bytes.empty()) {
        auto h = read_batch_header(bytes);
        if (!h) {
            ADD_FAILURE() << "unparsable batch in a read: " << h.error().message();
            break;
        }
        out.emplace_back(bytes.begin(), bytes.begin() + static_cast<ptrdiff_t>(h->total_bytes()));
        bytes = bytes.subspan(h->total_bytes());
    }
    return out;
}

std::vector<std::string> files_with_suffix(const std::string& dir, const std::string& suffix) {
    std::vector<std::string> out;
    for (const auto& e : std::filesystem::directory_iterator(dir)) {
        auto name = e.path().filename().string();
        if (name.size() >= suffix.size() && name.ends_with(suffix)) out.push_back(e.path().string());
    }
    std::sort(out.begin(), out.end());
    return out;
}

uint64_t file_size(const std::string& path) { return std::filesystem::file_size(path); }

std::vector<std::byte> read_file(const std::string& path) {
    std::ifstream in(path, std::ios::binary);
    std::vector<char> raw((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
    std::vector<std::byte> out(raw.size());
    std::memcpy(out.data(), raw.data(), raw.size());
    return out;
}

void write_file(const std::string& path, std::span<const std::byte> bytes) {
    std::ofstream out(path, std::ios::binary | std::ios::trunc);
    out.write(reinterpret_cast<const char*>(bytes.data()), static_cast<std::streamsize>(bytes.size()));
}

std::vector<uint64_t> entry_boundaries(const std::string& segment_path) {
    auto bytes = read_file(segment_path);
    std::vector<uint64_t> out;
    uint64_t pos = 0;
    out.push_back(0);
    while (pos + entry_header_bytes <= bytes.size()) {
        auto head = std::span<const std::byte>(bytes).subspan(pos).first<entry_header_bytes>();
        auto h = decode_entry_header(head);
        if (pos + h.entry_bytes() > bytes.size()) break;
        if (!verify_entry(std::span<const std::byte>(bytes).subspan(pos, h.entry_bytes()))) break;
        pos += h.entry_bytes();
        out.push_back(pos);
    }
    return out;
}

size_t model_partition::find(kafka_offset o) const {
    for (size_t i = 0; i < batches.size(); ++i) {
        if (batches[i].last >= o) return i;
    }
    return batches.size();
}

void model_partition::add(model_batch b) {
    kafka_offset last = b.last;
    auto at = std::upper_bound(batches.begin(), batches.end(), b.base,
                               [](kafka_offset o, const model_batch& x) { return o < x.base; });
    batches.insert(at, std::move(b));
    next = std::max(next, last + 1);
}

task<void> expect_partition_matches(shard_log& log, partition_id p, const model_partition& m,
                                    size_t max_bytes) {
    auto start = log.start_offset(p);
    auto end = log.end_offset(p);
    if (!start || !end) {
        ADD_FAILURE() << "partition " << p.value() << " unknown";
        co_return;
    }
    EXPECT_EQ(start->value(), m.start.value()) << "start offset of partition " << p.value();
    EXPECT_EQ(end->value(), m.next.value()) << "end offset of partition " << p.value();
    kafka_offset from = m.start;
    size_t i = m.find(from);
    while (from < m.next) {
        auto r = co_await log.read(p, from, max_bytes);
        if (!r) {
            ADD_FAILURE() << "read of partition " << p.value() << " at " << from.value()
                          << " failed: " << r.error().message();
            co_return;
        }
        auto bytes = to_bytes(*r);
        auto batches = split_batches(bytes);
        if (batches.empty()) {
            ADD_FAILURE() << "empty read of partition " << p.value() << " at " << from.value();
            co_return;
        }
        if (batches.size() > 1) {
            EXPECT_LE(bytes.size(), max_bytes) << "only a single batch may exceed max_bytes";
        }
        for (const auto& b : batches) {
            if (i >= m.batches.size()) {
                ADD_FAILURE() << "read returned more batches than partition " << p.value() << " has";
                co_return;
            }
            EXPECT_TRUE(b == m.batches[i].bytes)
                << "batch at " << m.batches[i].base.value() << " of partition " << p.value()
                << " differs";
            from = m.batches[i].last + 1;
            ++i;
        }
        // A read stops only when the next batch would exceed max_bytes.
        if (i < m.batches.size() && from < m.next) {
            EXPECT_GT(bytes.size() + m.batches[i].bytes.size(), max_bytes);
        }
    }
}

task<void> expect_log_matches(shard_log& log, const log_model& model, size_t max_bytes) {
    for (const auto& [p, m] : model) {
        co_await expect_partition_matches(log, partition_id(p), m, max_bytes);
        if (::testing::Test::HasFailure()) co_return;
    }
}

}  // namespace wharf::test
