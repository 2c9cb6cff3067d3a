#pragma once

// What the stall detector (reactor/stall_detector.h) does with a captured backtrace, away from
// the signal handler: name its site, decide whether to report it, symbolize and format it.
// Pure functions and one plain class, used on the detector's watchdog thread only.

#include <chrono>
#include <cstdint>
#include <string>
#include <unordered_set>
#include <vector>

namespace wharf {

// One stall as logged (and handed to a test hook).
struct stall_report {
    unsigned shard = 0;
    std::chrono::milliseconds ran{0};  // the turn had run at least this long when caught
    std::chrono::milliseconds cpu{0};  // of which on the CPU
    std::chrono::milliseconds threshold{0};
    bool blocked = false;             // in the kernel (sleeping or waiting for I/O)
    uint64_t suppressed = 0;          // stalls of this shard not reported since the last one
    std::vector<std::string> frames;  // symbolized, innermost first; empty: none captured
    // Why frames is empty (meaningless otherwise).
    enum class no_backtrace : uint8_t {
        signal_not_taken,  // the shard did not take the signal in time (e.g. blocked in I/O)
        unwinding,         // the shard was unwinding an exception, where backtrace() may deadlock
        handler_stuck,     // the signal handler did not return
    };
    no_backtrace missing = no_backtrace::signal_not_taken;
    std::string text;  // the logged message
};

// Deduplication and rate limiting: a site (see stall_site) is reported once; a shard reports at
// most once per interval, and the next report says how many it held back. Bounded: past
// max_sites, new sites are still reported (rate-limited) but no longer remembered. Site 0 (no
// backtrace) is never remembered: such stalls are only rate-limited.
class stall_reporter {
public:
    using clock = std::chrono::steady_clock;
    explicit stall_reporter(unsigned shards,
                            clock::duration per_shard_interval = std::chrono::seconds(10),
                            size_t max_sites = 4096);

    struct decision {
        bool report = false;
        uint64_t suppressed = 0;  // when report: stalls held back before this one
    };
    decision on_stall(unsigned shard, uint64_t site, clock::time_point now);

private:
    struct per_shard {
        bool reported = false;
        clock::time_point last_report{};
        uint64_t suppressed = 0;
    };
    clock::duration _interval;
    size_t _max_sites;
    std::vector<per_shard> _shards;
    std::unordered_set<uint64_t> _sites;
};

// The site of a backtrace (innermost first): the function of the innermost frame (its start, so
// that a loop caught at different instructions is one site) and the return addresses of the
// callers. 0 for an empty backtrace.
uint64_t stall_site(void* const* pcs, size_t n);

// "wharf::busy()+0x1c (reactor_tests+0x8f3a)" per frame, via dladdr: names come from the dynamic
// symbol table (binaries link with -rdynamic); the module offset is for addr2line otherwise.
std::vector<std::string> symbolize(void* const* pcs, size_t n);

std::string format_stall(const stall_report& r);

}  // namespace wharf
