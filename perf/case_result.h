#pragma once

// What one benchmark case measured, summed over the rounds it ran, and the helpers to compare
// cases round by round (perf/log_append_bench.cc). Plain values on one thread.

#include <algorithm>
#include <chrono>
#include <cstddef>
#include <cstdint>
#include <string>
#include <vector>

#include "reactor/clock.h"

namespace wharf {

// Rates are over the measured seconds; latencies are kept whole for exact percentiles.
struct case_result {
    std::string name;
    uint32_t partitions = 0;  // 0 for the raw cases
    double seconds = 0;
    uint64_t batches = 0;
    uint64_t records = 0;
    uint64_t batch_bytes = 0;          // record-batch bytes made durable (what producers sent)
    uint64_t writes = 0;               // write calls; each ends with fdatasync when fsync is on
    uint64_t written_bytes = 0;        // bytes written to files, entry headers included
    uint64_t rolls = 0;                // segments (log) or files (raw) started after the first
    std::vector<uint32_t> latency_us;  // per append (log) or per write (raw)
    std::vector<double> round_records_per_s;

    double mb_per_s() const { return static_cast<double>(batch_bytes) / 1e6 / seconds; }
    double records_per_s() const { return static_cast<double>(records) / seconds; }
    double writes_per_s() const { return static_cast<double>(writes) / seconds; }
    double kib_per_write() const {
        return writes == 0 ? 0 : static_cast<double>(written_bytes) / 1024.0 / writes;
    }
    double entries_per_write() const {
        return writes == 0 ? 0 : static_cast<double>(batches) / static_cast<double>(writes);
    }
    void merge(case_result&& r) {
        name = std::move(r.name);
        partitions = r.partitions;
        seconds += r.seconds;
        batches += r.batches;
        records += r.records;
        batch_bytes += r.batch_bytes;
        writes += r.writes;
        written_bytes += r.written_bytes;
        rolls += r.rolls;
        latency_us.insert(latency_us.end(), r.latency_us.begin(), r.latency_us.end());
        round_records_per_s.push_back(r.records_per_s());
    }
    double latency_ms(double q) {
        if (latency_us.empty()) return 0;
        size_t k = std::min(latency_us.size() - 1,
                            static_cast<size_t>(q * static_cast<double>(latency_us.size())));
        std::nth_element(latency_us.begin(), latency_us.begin() + static_cast<ptrdiff_t>(k),
                         latency_us.end());
        return latency_us[k] / 1000.0;
    }
};

inline uint32_t micros_since(steady_time t0) {
    auto d = std::chrono::duration_cast<std::chrono::microseconds>(steady_now() - t0);
    return static_cast<uint32_t>(std::min<int64_t>(d.count(), UINT32_MAX));
}

inline steady_clock::duration to_duration(double seconds) {
    return std::chrono::duration_cast<steady_clock::duration>(
        std::chrono::duration<double>(seconds));
}

inline double seconds_since(steady_time t0) {
    return std::chrono::duration<double>(steady_now() - t0).count();
}

inline double median(std::vector<double> v) {
    if (v.empty()) return 0;
    std::sort(v.begin(), v.end());
    size_t n = v.size();
    return n % 2 == 1 ? v[n / 2] : (v[n / 2 - 1] + v[n / 2]) / 2;
}

// Round by round, a's records/s over b's.
inline std::vector<double> per_round(const case_result& a, const case_result& b) {
    std::vector<double> r;
    for (size_t k = 0; k < a.round_records_per_s.size() && k < b.round_records_per_s.size(); ++k) {
        r.push_back(a.round_records_per_s[k] / b.round_records_per_s[k]);
    }
    return r;
}

}  // namespace wharf
