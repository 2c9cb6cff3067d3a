#pragma once

// What raft replication costs (perf/raft_replication_bench.cc, DESIGN.md sections 5 and 10): the
// write path of a raft group end to end, on real shard logs in temporary directories, measured
// for a group of one (RF=1, the single broker's path) and a group of three (RF=3) in one process,
// so that the two can be compared as ratios.
//
// One case runs in its own smp of one shard:
//   - RF=1: one consensus group of one over one shard log, no transport.
//   - RF=3: three consensus replicas (nodes 0, 1, 2), each over its own shard log in its own
//     directory, connected by the real raft transport on 127.0.0.1: one rpc_listener per node
//     (port 0, as three brokers would each have one) and one peer_transport per node that knows
//     the other two listeners. One listener for all three cannot work: an inbound side keeps one
//     connection per peer node and shard (inbound.h), so node 0's connections "to node 1" and "to
//     node 2", both arriving at the same listener as node 0, would replace each other.
//   The workload waits for a leader, then keeps `inflight` replicate_batch calls outstanding on
//   it (acks=all: each returns once its entry is committed), partitions taken round-robin, for
//   `warmup` unmeasured and `duration` measured.
//
// What counts: calls that return inside the measured window, their latencies, the process's CPU
// time (getrusage, user + system: the reactor thread, io_uring's workers and the kernel's
// loopback TCP work charged to them) and the logs' fdatasyncs over the same window. Calls still
// outstanding at the end finish afterwards, uncounted.
//
// Runs on the calling thread (it starts and ends its own smp); nothing in it is shared.

#include <chrono>
#include <cstddef>
#include <cstdint>
#include <string>

#include "log/log_config.h"
#include "perf/lib/histogram.h"

namespace wharf::perf {

struct replication_options {
    // The cases' temporary directories are made under it (and removed afterwards).
    std::string dir = "/tmp";
    fsync_policy fsync = fsync_policy::always;
    // Each batch: records_per_batch records with record_bytes values of random bytes, no key.
    size_t record_bytes = 1024;
    size_t records_per_batch = 16;
    // replicate_batch calls kept outstanding on the leader.
    size_t inflight = 32;
    uint32_t partitions = 16;
    std::chrono::microseconds warmup = std::chrono::seconds(2);
    std::chrono::microseconds duration = std::chrono::seconds(10);
    // How long a group of three may take to elect a leader, and the calls still outstanding at
    // the end to return, before the case fails.
    std::chrono::milliseconds election_timeout = std::chrono::seconds(30);
    std::chrono::milliseconds drain_timeout = std::chrono::seconds(30);
};

// What one case measured over its window.
struct replication_case {
    int replicas = 0;
    const char* transport = "";         // "none" or "tcp"
    int leader = -1;                    // the node that led
    double seconds = 0;                 // the measured window
    uint64_t batches = 0;               // replicate_batch calls acknowledged in the window
    uint64_t payload_bytes = 0;         // their record values' bytes
    uint64_t batch_bytes = 0;           // their record batches' bytes
    double cpu_seconds = 0;             // user + system time of the process in the window
    uint64_t syncs = 0;                 // fdatasyncs of every replica's log in the window
    uint64_t leader_syncs = 0;          // of the leader's log alone
    uint64_t leader_flushes = 0;        // the leader's group commits in the window ...
    uint64_t leader_group_entries = 0;  // ... and the entries they carried
    // Entries the leader read from its log to send (read_entries) in the window.
    uint64_t leader_entries_read = 0;
    uint64_t leader_entry_reads = 0;
    // Counted as the groups hand messages to the transport, in the window: the leader's append
    // requests (heartbeats included), those without entries, the entries they carried, and
    // the followers' append replies.
    uint64_t append_requests = 0;
    uint64_t empty_append_requests = 0;
    uint64_t appended_entries = 0;
    uint64_t follower_replies = 0;
    // The leader's outbound transport in the window (zero for RF=1).
    uint64_t rpc_frames_out = 0;
    uint64_t rpc_bytes_out = 0;
    uint64_t rpc_send_calls = 0;
    // Over the whole case: messages dropped by any replica's transport, and connections
    // that ended (both should stay zero while nothing fails).
    uint64_t rpc_dropped = 0;
    uint64_t rpc_disconnects = 0;
    histogram latency_us{60'000'000, 3};  // of the acknowledged calls, up to a minute

    double mb_per_s() const { return rate(static_cast<double>(payload_bytes) / 1e6); }
    double batches_per_s() const { return rate(static_cast<double>(batches)); }
    double syncs_per_s() const { return rate(static_cast<double>(syncs)); }
    double leader_syncs_per_s() const { return rate(static_cast<double>(leader_syncs)); }
    // CPU-seconds of the whole process per 10^9 payload bytes acknowledged.
    double cpu_s_per_gb() const {
        return payload_bytes == 0 ? 0 : cpu_seconds / (static_cast<double>(payload_bytes) / 1e9);
    }
    double rpc_frames_per_batch() const {
        return batches == 0 ? 0
                            : static_cast<double>(rpc_frames_out) / static_cast<double>(batches);
    }
    double append_requests_per_batch() const {
        return batches == 0 ? 0
                            : static_cast<double>(append_requests) / static_cast<double>(batches);
    }
    // Entries per append request the leader sent (heartbeats and empty requests included).
    double entries_per_append_request() const {
        return append_requests == 0
                   ? 0
                   : static_cast<double>(appended_entries) / static_cast<double>(append_requests);
    }
    double leader_entries_per_group() const {
        return leader_flushes == 0 ? 0
                                   : static_cast<double>(leader_group_entries) /
                                         static_cast<double>(leader_flushes);
    }

private:
    double rate(double n) const { return seconds > 0 ? n / seconds : 0; }
};

// Runs one case with `replicas` = 1 or 3 (see the note at the top). Returns false, with *error
// saying why, when the case could not run, a replicate_batch call failed, or nothing was
// acknowledged in the window.
bool run_replication_case(const replication_options& o, int replicas, replication_case& out,
                          std::string& error);

// The report: a human-readable table of both cases and their ratios (RF3 / RF1), and the same
// as one JSON line (no newline inside; the keys are documented in perf/README.md).
std::string replication_report(const replication_options& o, const replication_case& rf1,
                               const replication_case& rf3);
std::string replication_json(const replication_options& o, const replication_case& rf1,
                             const replication_case& rf3);

}  // namespace wharf::perf
