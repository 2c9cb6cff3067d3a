#include "reactor/stall_report.h"

#include <cxxabi.h>
#include <dlfcn.h>

#include <cstdlib>
#include <cstring>
#include <utility>

#include <fmt/format.h>

namespace wharf {

stall_reporter::stall_reporter(unsigned shards, clock::duration per_shard_interval,
                               size_t max_sites)
    : _interval(per_shard_interval), _max_sites(max_sites), _shards(shards) {}

stall_reporter::decision stall_reporter::on_stall(unsigned shard, uint64_t site,
                                                  clock::time_point now) {
    if (shard >= _shards.size()) _shards.resize(shard + 1);
    // Site 0 is a stall without a backtrace: it names no place, so remembering it would silence
    // every later backtrace-less stall of the process. Those are only rate-limited.
    bool known_site = site != 0;
    if (known_site && _sites.contains(site)) return {};
    auto& s = _shards[shard];
    if (s.reported && now - s.last_report < _interval) {
        ++s.suppressed;
        return {};
    }
    s.reported = true;
    s.last_report = now;
    if (known_site && _sites.size() < _max_sites) _sites.insert(site);
    return {.report = true, .suppressed = std::exchange(s.suppressed, 0)};
}

namespace {

// The innermost frame is the interrupted instruction itself; the others are return addresses,
// which point just past their call and may belong to the next function: look up pc - 1.
const void* lookup_address(void* const* pcs, size_t i) {
    auto pc = reinterpret_cast<uintptr_t>(pcs[i]);
    return reinterpret_cast<const void*>(i == 0 || pc == 0 ? pc : pc - 1);
}

constexpr size_t max_name_chars = 200;

uint64_t mix(uint64_t h, uint64_t v) {
    // FNV-1a over the value's bytes.
    for (int i = 0; i < 8; ++i) {
        h ^= (v >> (8 * i)) & 0xff;
        h *= 1099511628211ull;
    }
    return h;
}

}  // namespace

uint64_t stall_site(void* const* pcs, size_t n) {
    if (n == 0) return 0;
    uint64_t h = 14695981039346656037ull;
    Dl_info info{};
    const void* top = pcs[0];
    if (::dladdr(top, &info) != 0 && info.dli_saddr != nullptr) top = info.dli_saddr;
    h = mix(h, reinterpret_cast<uintptr_t>(top));
    for (size_t i = 1; i < n; ++i) h = mix(h, reinterpret_cast<uintptr_t>(pcs[i]));
    return h == 0 ? 1 : h;
}

std::vector<std::string> symbolize(void* const* pcs, size_t n) {
    std::vector<std::string> out;
    out.reserve(n);
    for (size_t i = 0; i < n; ++i) {
        const void* addr = lookup_address(pcs, i);
        Dl_info info{};
        if (::dladdr(addr, &info) == 0) {
            out.push_back(fmt::format("{}", pcs[i]));
            continue;
        }
        std::string module = info.dli_fname ? info.dli_fname : "?";
        if (auto slash = module.rfind('/'); slash != std::string::npos) module.erase(0, slash + 1);
        auto offset =
            reinterpret_cast<uintptr_t>(pcs[i]) - reinterpret_cast<uintptr_t>(info.dli_fbase);
        if (info.dli_sname == nullptr) {
            out.push_back(fmt::format("{} ({}+{:#x})", pcs[i], module, offset));
            continue;
        }
        int status = 0;
        char* demangled = abi::__cxa_demangle(info.dli_sname, nullptr, nullptr, &status);
        std::string name = status == 0 && demangled ? demangled : info.dli_sname;
        std::free(demangled);
        // Template instantiations (std::thread's invokers) run to thousands of characters; the
        // module offset identifies the frame anyway.
        if (name.size() > max_name_chars) {
            name.resize(max_name_chars);
            name += "...";
        }
        auto in_function =
            reinterpret_cast<uintptr_t>(pcs[i]) - reinterpret_cast<uintptr_t>(info.dli_saddr);
        out.push_back(fmt::format("{}+{:#x} ({}+{:#x})", name, in_function, module, offset));
    }
    return out;
}

std::string format_stall(const stall_report& r) {
    std::string text = fmt::format(
        "reactor stall on shard {}: a loop turn has run for {} ms ({} ms on the CPU{}), past the "
        "{} ms --stall-threshold",
        r.shard, r.ran.count(), r.cpu.count(), r.blocked ? ", now blocked in the kernel" : "",
        r.threshold.count());
    if (r.frames.empty()) {
        switch (r.missing) {
            case stall_report::no_backtrace::signal_not_taken:
                text += "; no backtrace (the shard did not take the signal in time)";
                break;
            case stall_report::no_backtrace::unwinding:
                text +=
                    "; no backtrace (the shard was unwinding an exception, where taking one "
                    "could deadlock)";
                break;
            case stall_report::no_backtrace::handler_stuck:
                text += "; no backtrace (the signal handler did not return)";
                break;
        }
    } else {
        text += "; backtrace:";
        for (size_t i = 0; i < r.frames.size(); ++i)
            text += fmt::format("\n  #{} {}", i, r.frames[i]);
    }
    if (r.suppressed > 0) {
        text += fmt::format(
            "\n  ({} earlier stalls of this shard were not reported: at most one "
            "report per shard every 10 s)",
            r.suppressed);
    }
    return text;
}

}  // namespace wharf
