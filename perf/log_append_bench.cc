// log_append_bench: what the shard log's group commit costs against the disk's own limit
// (DESIGN.md sections 4 and 10). perf/README.md holds the figures and how to read them.
//
// Log case: one shard, one shard_log with N partitions, `inflight` appenders each keeping one
// append of a 16 KiB batch (16 records of 1 KiB) outstanding, partitions taken round-robin. An
// append counts once append_batch says it is durable.
//
// Raw cases, the same process, the same filesystem: one writer, one write at a time, each followed
// by fdatasync, of the log's own byte stream (entry header + batch, repeated), through a shard's
// io_uring by default (the log's own kernel path) or with blocking pwrite(2) on the main thread
// (--raw pwrite; on the machine this was written on that loop's page-cache copy cost 2.5x the CPU
// per byte and sustained less than half, so it is no limit to measure against).
//   raw-group: each write holds as many entries as the log's group commits held on average in the
//              log case just before it, so both make the same number of syncs per byte; this is
//              the figure the log is measured against (the disk's limit at that write size).
//   raw-full:  each write holds `inflight` entries, every append outstanding: the most that one
//              group commit could gather at this concurrency, for reference.
//   raw-batch: one entry per write, each followed by fdatasync: what durability costs without
//              group commit, for reference.
// --raw-only runs raw-full alone, `rounds` times: the disk's sequential write + fdatasync limit,
// which perf/run-suite takes as a reference for the broker's produce throughput.
// The raw cases reserve file space exactly as segments do (fallocate KEEP_SIZE in 16 MiB steps)
// and start a new file every segment_bytes, so the filesystem does the same work for both sides.
//
// Steady state only: every case first runs its workload for `warmup` seconds unmeasured. On the
// machine this was written on, writes take 3-4 GB at about 1.2 GB/s, then settle at 300-450 MB/s
// until the disk has been idle or lightly used for a while; counted, that burst would be most of
// a 5-second case and would favour whichever side turns bytes into writes faster, not what the
// disk sustains. For the same reason raw-batch, a light writer, runs once at the end: between
// heavy cases it would give the next one its burst back.
// A shared machine's disk and CPUs also drift by tens of percent within a minute, so every case
// runs `rounds` times, the cases interleaved (log N, raw-group N, ..., raw-full) and the order of
// the partition counts rotated each round. Throughputs sum the rounds; each ratio is the median
// over the rounds of that round's ratio, so that one burst of someone else's work does not
// decide it.
//
// A benchmark reports; it does not judge. The targets are printed, and the exit status is 0
// whatever they say, unless something failed.

#include <fcntl.h>
#include <fmt/core.h>
#include <linux/magic.h>
#include <sys/statfs.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <chrono>
#include <cstdint>
#include <cstdlib>
#include <cstring>
#include <filesystem>
#include <optional>
#include <random>
#include <string>
#include <vector>

#include "log/entry.h"
#include "log/log_config.h"
#include "log/record_batch.h"
#include "log/shard_log.h"
#include "perf/case_result.h"
#include "perf/raw_writer.h"
#include "reactor/clock.h"
#include "reactor/iobuf.h"
#include "reactor/smp.h"
#include "reactor/task.h"
#include "reactor/when_all.h"

namespace wharf {
namespace {

constexpr size_t records_per_batch = 16;
constexpr size_t record_value_bytes = 1024;

// How the raw cases write; see raw_writer.h and the note at the top.
enum class raw_mode { uring, pwrite };

struct options {
    // Per case and round.
    double seconds = 5;
    double warmup_seconds = 6;
    int rounds = 3;
    std::string dir = ".";
    std::vector<uint32_t> partitions{1, 100, 10000};
    // 256 appends outstanding stands for a broker with ~50 producer connections at Kafka's default
    // max.in.flight.requests.per.connection of 5. It is also what group commit needs to batch:
    // 256 x 16.6 KiB = 4.2 MiB per write, under max_write_bytes (8 MiB), and 3 iovecs per entry
    // stay under IOV_MAX, so a group is one linked write + fdatasync.
    size_t inflight = 256;
    fsync_policy fsync = fsync_policy::always;
    raw_mode raw = raw_mode::uring;
    bool raw_only = false;  // raw-full only: the disk's limit, no log
};

// One producer batch as a client would send it: 16 records with 1 KiB values of random bytes
// (nothing on the path compresses, but random keeps it honest), uncompressed.
std::vector<std::byte> make_batch() {
    std::mt19937_64 rng(42);
    std::vector<std::string> values(records_per_batch, std::string(record_value_bytes, '\0'));
    for (auto& v : values) {
        for (auto& c : v) c = static_cast<char>(rng());
    }
    std::vector<record_to_build> records(records_per_batch);
    for (size_t i = 0; i < records_per_batch; ++i) {
        records[i].value = values[i];
        records[i].timestamp_delta = static_cast<int64_t>(i);
    }
    return build_batch(kafka_offset(0), wall_now().value(), records);
}

// ---- the log case ----

struct append_run {
    shard_log& log;
    const iobuf& batch;
    uint32_t partitions;
    steady_time measure_from;
    steady_time deadline;
    uint64_t next_partition = 0;
    // Set by the first appender to find the warm-up over: what is counted starts there.
    bool measuring = false;
    steady_time start;
    log_stats before;
    std::vector<uint32_t> latency_us;
    std::string error;
};

// One appender: keeps one append outstanding until the deadline. The batch is shared, not
// copied: the log copies only the 61-byte header it stamps (shard_log.cc, stamp()), exactly as it
// does with a batch that arrived in a receive buffer.
task<void> append_loop(append_run& run) {
    while (run.error.empty() && steady_now() < run.deadline) {
        partition_id p(static_cast<uint32_t>(run.next_partition++ % run.partitions));
        steady_time t0 = steady_now();
        auto r = co_await run.log.append_batch(p, term_id(1), run.batch.share(), 1);
        if (!r) {
            run.error = fmt::format("append to partition {}: {}", p, r.error().message());
            co_return;
        }
        if (!run.measuring && steady_now() >= run.measure_from) {
            run.measuring = true;
            run.start = steady_now();
            run.before = run.log.stats();
        }
        // Throughput comes from the log's stats between the snapshots; latencies are of the
        // appends that returned inside the window.
        if (run.measuring) run.latency_us.push_back(micros_since(t0));
    }
}

task<int> log_case(const options& o, uint32_t partitions, std::string dir,
                   const std::vector<std::byte>& batch_bytes, case_result& out) {
    // Made here, not in main: iobuf chunks belong to the shard that allocated them.
    const iobuf batch = iobuf::copy_of(batch_bytes);
    log_config cfg;
    cfg.data_dir = std::move(dir);
    cfg.fsync = o.fsync;
    std::string detail;
    auto opened = co_await shard_log::open(std::move(cfg), &detail);
    if (!opened) {
        fmt::print(stderr, "cannot open the log: {} {}\n", opened.error().message(), detail);
        co_return 1;
    }
    shard_log& log = **opened;
    for (uint32_t p = 0; p < partitions; ++p) log.configure_partition(partition_id(p), {});

    const steady_time measure_from = steady_now() + to_duration(o.warmup_seconds);
    append_run run{log, batch, partitions, measure_from, measure_from + to_duration(o.seconds)};
    run.latency_us.reserve(1 << 20);
    std::vector<task<void>> appenders;
    for (size_t i = 0; i < o.inflight; ++i) appenders.push_back(append_loop(run));
    co_await when_all(std::move(appenders));
    // The appends still in flight at the deadline count, and so does the time they took.
    out.seconds = seconds_since(run.start);
    const log_stats before = run.before;
    const log_stats after = log.stats();
    auto closed = co_await log.close();

    if (run.error.empty() && !run.measuring) run.error = "no append completed in the window";
    if (!run.error.empty()) {
        fmt::print(stderr, "log case with {} partitions failed: {}\n", partitions, run.error);
        co_return 1;
    }
    if (!closed) fmt::print(stderr, "closing the log: {}\n", closed.error().message());
    out.name = "log";
    out.partitions = partitions;
    out.batches = after.appends - before.appends;
    out.records = out.batches * records_per_batch;
    out.batch_bytes = after.append_bytes - before.append_bytes;
    out.writes = after.writes - before.writes;
    out.written_bytes = out.batch_bytes + (after.appends - before.appends) * entry_header_bytes;
    out.rolls = after.rolls - before.rolls;
    out.latency_us = std::move(run.latency_us);
    co_return closed ? 0 : 1;
}

// ---- the raw cases ----

// The measured window of a raw case, shared by its blocking and io_uring loops.
class raw_meter {
public:
    raw_meter(const options& o, case_result& out)
        : _out(out),
          _measure_from(steady_now() + to_duration(o.warmup_seconds)),
          _deadline(_measure_from + to_duration(o.seconds)) {
        _out.latency_us.reserve(1 << 20);
    }
    bool running() const { return steady_now() < _deadline; }
    // Before each write; `files` is the writer's count so far.
    steady_time begin(uint64_t files) {
        steady_time t0 = steady_now();
        if (!_start && t0 >= _measure_from) {
            _start = t0;
            _files_before = files;
        }
        return t0;
    }
    void end(steady_time t0) {
        if (!_start) return;
        _out.latency_us.push_back(micros_since(t0));
        ++_out.writes;
    }
    // Once the deadline has passed.
    void stop(uint64_t files) {
        _out.seconds = _start ? seconds_since(*_start) : 0;
        _out.rolls = files - _files_before;
    }
    // Each write carried `entries` entries of batch_bytes each, chunk_bytes in all.
    void count(size_t entries, size_t batch_bytes, size_t chunk_bytes) {
        _out.batches = _out.writes * entries;
        _out.records = _out.batches * records_per_batch;
        _out.batch_bytes = _out.batches * batch_bytes;
        _out.written_bytes = _out.writes * chunk_bytes;
    }

private:
    case_result& _out;
    steady_time _measure_from;
    steady_time _deadline;
    std::optional<steady_time> _start;
    uint64_t _files_before = 0;
};

// The log's own segment size and reservation step (see the note at the top).
const log_config log_defaults{};

bool raw_pwrite_case(const options& o, const std::vector<std::byte>& chunk, std::string dir,
                     raw_meter& m) {
    raw_writer w(
        std::move(dir),
        o.fsync == fsync_policy::always ? raw_writer::sync::each_append : raw_writer::sync::never,
        log_defaults.segment_bytes, log_defaults.preallocate_bytes);
    while (m.running()) {
        steady_time t0 = m.begin(w.files());
        if (!w.append(chunk)) {
            fmt::print(stderr, "raw case: {}\n", w.error());
            return false;
        }
        m.end(t0);
    }
    m.stop(w.files());
    return true;
}

task<int> raw_uring_case(const options& o, const std::vector<std::byte>& chunk, std::string dir,
                         raw_meter& m) {
    uring_raw_writer w(std::move(dir), o.fsync == fsync_policy::always, log_defaults.segment_bytes,
                       log_defaults.preallocate_bytes);
    while (m.running()) {
        steady_time t0 = m.begin(w.files());
        if (auto s = co_await w.append(chunk); !s) {
            fmt::print(stderr, "raw case: {}\n", s.error().message());
            co_return 1;
        }
        m.end(t0);
    }
    m.stop(w.files());
    co_return (co_await w.close()) ? 0 : 1;
}

// Writes chunks of `entries` log entries (header + batch) for o.seconds after the warm-up.
bool raw_case(const options& o, size_t entries, const std::vector<std::byte>& batch,
              const std::string& dir, case_result& out) {
    std::error_code ec;
    std::filesystem::create_directories(dir, ec);
    if (ec) {
        fmt::print(stderr, "cannot create {}: {}\n", dir, ec.message());
        return false;
    }
    // The entry header's bytes do not matter to the disk; zeros stand in for them.
    std::vector<std::byte> chunk;
    chunk.reserve(entries * (entry_header_bytes + batch.size()));
    for (size_t i = 0; i < entries; ++i) {
        chunk.insert(chunk.end(), entry_header_bytes, std::byte{0});
        chunk.insert(chunk.end(), batch.begin(), batch.end());
    }
    raw_meter m(o, out);
    if (o.raw == raw_mode::pwrite) {
        if (!raw_pwrite_case(o, chunk, dir, m)) return false;
    } else {
        auto main_fn = [&]() { return raw_uring_case(o, chunk, dir, m); };
        auto rc = smp::run(smp_config{.shards = 1}, main_fn);
        if (!rc || *rc != 0) return false;
    }
    m.count(entries, batch.size(), chunk.size());
    return out.seconds > 0;
}

// ---- flags, directory, report ----

void usage() {
    fmt::print(
        stderr,
        "usage: log_append_bench [--seconds N] [--warmup N] [--rounds R] [--quick] [--dir PATH] "
        "[--partitions 1,100,10000] [--inflight N] [--fsync always|never] "
        "[--raw uring|pwrite] [--raw-only]\n");
}

std::optional<options> parse_flags(int argc, char** argv) {
    options o;
    for (int i = 1; i < argc; ++i) {
        std::string flag = argv[i];
        auto value = [&]() -> std::optional<std::string> {
            if (i + 1 >= argc) return std::nullopt;
            return std::string(argv[++i]);
        };
        std::optional<std::string> v;
        if (flag == "--quick") {
            o.seconds = 1;
            o.warmup_seconds = 0.5;
            o.rounds = 1;
            continue;
        }
        if (flag == "--raw-only") {
            o.raw_only = true;
            continue;
        }
        if (flag == "--help" || flag == "-h" || !(v = value())) return std::nullopt;
        try {
            if (flag == "--seconds") {
                o.seconds = std::stod(*v);
                if (!(o.seconds > 0)) return std::nullopt;
            } else if (flag == "--warmup") {
                o.warmup_seconds = std::stod(*v);
                if (!(o.warmup_seconds >= 0)) return std::nullopt;
            } else if (flag == "--raw") {
                if (*v != "uring" && *v != "pwrite") return std::nullopt;
                o.raw = *v == "uring" ? raw_mode::uring : raw_mode::pwrite;
            } else if (flag == "--rounds") {
                o.rounds = std::stoi(*v);
                if (o.rounds < 1) return std::nullopt;
            } else if (flag == "--dir") {
                o.dir = *v;
            } else if (flag == "--inflight") {
                o.inflight = std::stoul(*v);
                if (o.inflight == 0) return std::nullopt;
            } else if (flag == "--fsync") {
                if (*v != "always" && *v != "never") return std::nullopt;
                o.fsync = *v == "always" ? fsync_policy::always : fsync_policy::never;
            } else if (flag == "--partitions") {
                o.partitions.clear();
                for (size_t pos = 0; pos <= v->size();) {
                    size_t comma = std::min(v->find(',', pos), v->size());
                    unsigned long n = std::stoul(v->substr(pos, comma - pos));
                    if (n == 0 || n > UINT32_MAX) return std::nullopt;
                    o.partitions.push_back(static_cast<uint32_t>(n));
                    pos = comma + 1;
                }
            } else {
                return std::nullopt;
            }
        } catch (const std::exception&) {
            return std::nullopt;
        }
    }
    return o;
}

// A fresh directory under o.dir. A benchmark of fsync on tmpfs measures nothing: warn loudly.
std::optional<std::string> make_work_dir(const options& o) {
    std::string tmpl = o.dir + "/wharf-bench-XXXXXX";
    if (::mkdtemp(tmpl.data()) == nullptr) {
        fmt::print(stderr, "cannot create a directory under {}: {}\n", o.dir, std::strerror(errno));
        return std::nullopt;
    }
    struct statfs fs {};
    if (::statfs(tmpl.c_str(), &fs) == 0 && fs.f_type == TMPFS_MAGIC) {
        fmt::print(stderr,
                   "WARNING: {} is on tmpfs: fdatasync costs nothing there, so these figures say "
                   "nothing about a disk. Pass --dir on a real filesystem.\n",
                   tmpl);
    }
    return tmpl;
}

struct report {
    std::vector<case_result> logs;
    std::vector<case_result> raws;  // raws[i]: raw-group after logs[i]
    case_result raw_full;
    case_result raw_batch;

    // The log's share of the disk's limit measured right after it (raw-group).
    double vs_raw(size_t i) const { return median(per_round(logs[i], raws[i])); }
    double vs_full(size_t i) const { return median(per_round(logs[i], raw_full)); }
    // Log i against the one-partition log, each first divided by the raw-group run next to it:
    // the two logs ran minutes apart on a disk whose speed drifts, and this takes the drift out.
    double vs_one(size_t i) const {
        const case_result* one = nullptr;
        size_t j = 0;
        for (; j < logs.size() && one == nullptr; ++j) {
            if (logs[j].partitions == 1) one = &logs[j];
        }
        if (one == nullptr) return 0;
        std::vector<double> mine = per_round(logs[i], raws[i]);
        std::vector<double> theirs = per_round(*one, raws[j - 1]);
        std::vector<double> r;
        for (size_t k = 0; k < mine.size() && k < theirs.size(); ++k) {
            r.push_back(mine[k] / theirs[k]);
        }
        return median(std::move(r));
    }
    size_t index_of(uint32_t partitions) const {
        for (size_t i = 0; i < logs.size(); ++i) {
            if (logs[i].partitions == partitions) return i;
        }
        return logs.size();
    }
};

std::string ratio_text(double ratio) {
    return ratio > 0 ? fmt::format("{:.2f}", ratio) : "-";
}

void print_row(case_result& r, double vs_raw = 0, double vs_full = 0, double vs_one = 0) {
    std::string parts = r.partitions == 0 ? "-" : fmt::format("{}", r.partitions);
    fmt::print(
        "{:<10} {:>6} {:>8.1f} {:>10.0f} {:>9.1f} {:>9.1f} {:>9.1f} {:>7.2f} {:>7.2f}"
        " {:>6} {:>7} {:>6}\n",
        r.name, parts, r.mb_per_s(), r.records_per_s(), r.writes_per_s(), r.kib_per_write(),
        r.entries_per_write(), r.latency_ms(0.50), r.latency_ms(0.99), ratio_text(vs_raw),
        ratio_text(vs_full), ratio_text(vs_one));
}

void print_header() {
    fmt::print("{:<10} {:>6} {:>8} {:>10} {:>9} {:>9} {:>9} {:>7} {:>7} {:>6} {:>7} {:>6}\n",
               "case", "parts", "MB/s", "records/s", "writes/s", "KiB/write", "batch/wr", "p50 ms",
               "p99 ms", "vs raw", "vs full", "vs 1p");
}

void print_targets(const report& rep) {
    fmt::print("\ntargets:\n");
    for (size_t i = 0; i < rep.logs.size(); ++i) {
        double ratio = rep.vs_raw(i);
        fmt::print("  log / raw-group, {:>5} partitions: {:.2f} (target >= 0.80) {}\n",
                   rep.logs[i].partitions, ratio, ratio >= 0.8 ? "met" : "NOT MET");
    }
    size_t p1 = rep.index_of(1);
    size_t p10k = rep.index_of(10000);
    if (p1 == rep.logs.size() || p10k == rep.logs.size()) {
        fmt::print(
            "  log 10000 partitions / 1 partition: not measured (--partitions needs 1 and "
            "10000)\n");
        return;
    }
    double ratio = rep.vs_one(p10k);
    double plain = median(per_round(rep.logs[p10k], rep.logs[p1]));
    fmt::print(
        "  log 10000 partitions / 1 partition: {:.2f} (target >= 0.90) {}; without the "
        "drift correction {:.2f}\n",
        ratio, ratio >= 0.9 ? "met" : "NOT MET", plain);
}

void print_report(const options& o, report& rep) {
    const case_result& first = rep.logs.front();
    fmt::print(
        "\nfsync={} inflight={} raw={} rounds={} x {} s per case after {} s unmeasured; batch "
        "{} B ({} records x {} B values), uncompressed\n",
        o.fsync == fsync_policy::always ? "always" : "never", o.inflight,
        o.raw == raw_mode::uring ? "uring" : "pwrite", o.rounds, o.seconds, o.warmup_seconds,
        first.batch_bytes / std::max<uint64_t>(1, first.batches), records_per_batch,
        record_value_bytes);
    fmt::print(
        "MB/s: 10^6 record-batch bytes per second, durable once counted. writes/s: each "
        "with an fdatasync when fsync=always.\nFigures sum the rounds; ratios (of "
        "records/s) are medians of per-round ratios; vs 1p compares log/raw-group ratios.\n\n");
    print_header();
    for (size_t i = 0; i < rep.logs.size(); ++i) {
        print_row(rep.logs[i], rep.vs_raw(i), rep.vs_full(i), rep.vs_one(i));
        print_row(rep.raws[i]);
    }
    print_row(rep.raw_full);
    print_row(rep.raw_batch);
    print_targets(rep);
}

void print_progress(int round, case_result& r) {
    std::string when = fmt::format("round {}", round);
    fmt::print(
        "{:<8} {:<10} {:>6} partitions: {:7.1f} MB/s {:9.0f} records/s, {:7.1f} "
        "KiB/write, p99 {:.2f} ms, {} new files\n",
        when, r.name, r.partitions, r.mb_per_s(), r.records_per_s(), r.kib_per_write(),
        r.latency_ms(0.99), r.rolls);
    std::fflush(stdout);
}

// Removes a case's files and waits for the filesystem to settle: on a filesystem mounted with
// `discard` (this machine's), freeing gigabytes trims them at the next journal commit, and without
// syncfs that work landed inside the next case's measurement and cut it by up to half.
void remove_dir(const std::string& dir) {
    std::error_code ec;
    std::filesystem::remove_all(dir, ec);
    std::string parent = std::filesystem::path(dir).parent_path().string();
    int fd = ::open(parent.empty() ? "." : parent.c_str(), O_RDONLY | O_DIRECTORY | O_CLOEXEC);
    if (fd >= 0) {
        ::syncfs(fd);
        ::close(fd);
    }
}

// One raw case in its own directory, removed afterwards so the disk holds one case at a time.
bool run_raw(const options& o, int round, const char* name, size_t entries,
             const std::vector<std::byte>& batch, const std::string& dir, case_result& total) {
    case_result r;
    bool ok = raw_case(o, entries, batch, dir, r);
    remove_dir(dir);
    if (!ok) return false;
    r.name = name;
    print_progress(round, r);
    total.merge(std::move(r));
    return true;
}

bool run_log(const options& o, int round, uint32_t partitions, const std::vector<std::byte>& batch,
             const std::string& dir, case_result& total) {
    case_result l;
    auto main_fn = [&]() { return log_case(o, partitions, dir, batch, l); };
    auto rc = smp::run(smp_config{.shards = 1}, main_fn);
    remove_dir(dir);
    if (!rc || *rc != 0) return false;
    print_progress(round, l);
    total.merge(std::move(l));
    return true;
}

// Round r runs the partition counts rotated by r, so that no count always goes first.
bool run_round(const options& o, int round, const std::string& root,
               const std::vector<std::byte>& batch, report& rep) {
    const size_t counts = o.partitions.size();
    for (size_t k = 0; k < counts; ++k) {
        const size_t i = (k + static_cast<size_t>(round - 1)) % counts;
        case_result& l = rep.logs[i];
        uint64_t batches = l.batches;
        uint64_t writes = l.writes;
        if (!run_log(o, round, o.partitions[i], batch, root + "/log", l)) return false;
        // The same number of entries per write as this round's group commits held on average.
        double per_write = static_cast<double>(l.batches - batches) /
                           static_cast<double>(std::max<uint64_t>(1, l.writes - writes));
        size_t entries = std::max<size_t>(1, static_cast<size_t>(per_write + 0.5));
        if (!run_raw(o, round, "raw-group", entries, batch, root + "/raw-group", rep.raws[i])) {
            return false;
        }
    }
    return run_raw(o, round, "raw-full", o.inflight, batch, root + "/raw-full", rep.raw_full);
}

// --raw-only: the disk's limit alone, one raw-full case per round, summed as in the full report.
int run_raw_only(const options& o, const std::string& root, const std::vector<std::byte>& batch) {
    case_result full;
    for (int round = 1; round <= o.rounds; ++round) {
        if (!run_raw(o, round, "raw-full", o.inflight, batch, root + "/raw-full", full)) return 1;
    }
    fmt::print("\nfsync={} inflight={} raw={} rounds={} x {} s after {} s unmeasured\n\n",
               o.fsync == fsync_policy::always ? "always" : "never", o.inflight,
               o.raw == raw_mode::uring ? "uring" : "pwrite", o.rounds, o.seconds,
               o.warmup_seconds);
    print_header();
    print_row(full);
    return 0;
}

int run_all(const options& o, const std::string& root) {
    const std::vector<std::byte> batch = make_batch();
    if (o.raw_only) return run_raw_only(o, root, batch);
    report rep;
    rep.logs.resize(o.partitions.size());
    rep.raws.resize(o.partitions.size());
    for (int round = 1; round <= o.rounds; ++round) {
        if (!run_round(o, round, root, batch, rep)) return 1;
    }
    if (!run_raw(o, o.rounds, "raw-batch", 1, batch, root + "/raw-batch", rep.raw_batch)) return 1;
    print_report(o, rep);
    return 0;
}

}  // namespace
}  // namespace wharf

int main(int argc, char** argv) {
    auto o = wharf::parse_flags(argc, argv);
    if (!o) {
        wharf::usage();
        return 2;
    }
    auto root = wharf::make_work_dir(*o);
    if (!root) return 1;
    fmt::print("log_append_bench in {}\n", *root);
    int rc = wharf::run_all(*o, *root);
    std::error_code ec;
    std::filesystem::remove_all(*root, ec);
    return rc;
}
