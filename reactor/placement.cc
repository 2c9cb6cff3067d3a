#include "reactor/placement.h"

#include <hwloc.h>
#include <numa.h>
#include <sched.h>

#include <algorithm>
#include <cerrno>
#include <charconv>
#include <mutex>

namespace wharf {

namespace {

// One topology for the process, loaded once; hwloc allows concurrent read-only use of it.
hwloc_topology_t topology() {
    static hwloc_topology_t topo = [] {
        hwloc_topology_t t;
        hwloc_topology_init(&t);
        hwloc_topology_load(t);
        return t;
    }();
    return topo;
}

bool parse_uint(std::string_view s, unsigned& out) {
    if (s.empty()) return false;
    auto [p, ec] = std::from_chars(s.data(), s.data() + s.size(), out);
    return ec == std::errc() && p == s.data() + s.size();
}

}  // namespace

std::vector<unsigned> allowed_cpus() {
    cpu_set_t set;
    CPU_ZERO(&set);
    std::vector<unsigned> cpus;
    if (sched_getaffinity(0, sizeof(set), &set) != 0) return cpus;
    for (unsigned c = 0; c < CPU_SETSIZE; ++c) {
        if (CPU_ISSET(c, &set)) cpus.push_back(c);
    }
    return cpus;
}

result<std::vector<unsigned>> parse_cpuset(const std::string& text) {
    constexpr unsigned max_cpu = 4095;
    std::vector<unsigned> cpus;
    std::string_view rest = text;
    while (!rest.empty()) {
        auto comma = rest.find(',');
        std::string_view item = rest.substr(0, comma);
        rest = comma == std::string_view::npos ? std::string_view{} : rest.substr(comma + 1);
        if (comma != std::string_view::npos && rest.empty()) {
            return std::make_error_code(std::errc::invalid_argument);  // trailing comma
        }
        auto dash = item.find('-');
        unsigned lo = 0, hi = 0;
        if (dash == std::string_view::npos) {
            if (!parse_uint(item, lo)) return std::make_error_code(std::errc::invalid_argument);
            hi = lo;
        } else if (!parse_uint(item.substr(0, dash), lo) ||
                   !parse_uint(item.substr(dash + 1), hi) || hi < lo) {
            return std::make_error_code(std::errc::invalid_argument);
        }
        if (hi > max_cpu) return std::make_error_code(std::errc::result_out_of_range);
        for (unsigned c = lo; c <= hi; ++c) cpus.push_back(c);
    }
    if (cpus.empty()) return std::make_error_code(std::errc::invalid_argument);
    std::sort(cpus.begin(), cpus.end());
    cpus.erase(std::unique(cpus.begin(), cpus.end()), cpus.end());
    return cpus;
}

status pin_current_thread(unsigned cpu) {
    hwloc_bitmap_t set = hwloc_bitmap_alloc();
    hwloc_bitmap_only(set, cpu);
    int rc = hwloc_set_cpubind(topology(), set, HWLOC_CPUBIND_THREAD | HWLOC_CPUBIND_STRICT);
    if (rc != 0) {
        // STRICT is refused on some systems; binding without it still pins the thread.
        rc = hwloc_set_cpubind(topology(), set, HWLOC_CPUBIND_THREAD);
    }
    int err = errno;
    hwloc_bitmap_free(set);
    if (rc != 0) return errno_code(err == 0 ? EINVAL : err);
    if (numa_available() >= 0) numa_set_localalloc();
    return {};
}

int numa_node_of(unsigned cpu) {
    if (numa_available() < 0) return -1;
    return numa_node_of_cpu(static_cast<int>(cpu));
}

}  // namespace wharf
