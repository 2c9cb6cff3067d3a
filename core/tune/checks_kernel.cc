// Kernel-wide checks of `wharf tune`: sysctls, transparent huge pages, the clocksource and the
// open-file limit.

#include <algorithm>
#include <charconv>
#include <optional>
#include <sstream>

#include <fmt/format.h>

#include "core/tune/tune_check.h"

namespace wharf::tune {

namespace {

std::optional<long> parse_long(const std::string& s) {
    long v = 0;
    auto [p, ec] = std::from_chars(s.data(), s.data() + s.size(), v);
    if (ec != std::errc() || p != s.data() + s.size() || s.empty()) return std::nullopt;
    return v;
}

std::string sysctl_path(std::string_view key) {
    std::string path = "/proc/sys/";
    for (char c : key) path += c == '.' ? '/' : c;
    return path;
}

struct sysctl_rule {
    const char* key;
    enum { at_most, at_least, exactly } cmp;
    long bound;
    const char* why;
};

const sysctl_rule sysctl_rules[] = {
    {"vm.swappiness", sysctl_rule::at_most, 1,
     "a swapped-out page of a shard stalls its whole core; keep memory resident"},
    {"vm.dirty_background_ratio", sysctl_rule::at_most, 5,
     "start background writeback early so other writers' dirty pages do not pile up ahead of "
     "Wharf's fdatasyncs"},
    {"vm.dirty_ratio", sysctl_rule::at_most, 10,
     "Wharf fdatasyncs every group commit; a low ceiling keeps writeback storms from delaying it"},
    {"fs.aio-max-nr", sysctl_rule::at_least, 1048576,
     "thread-per-core runtimes open AIO contexts per core; the 65536 default runs out on big "
     "hosts"},
    {"fs.nr_open", sysctl_rule::at_least, recommended_nofile,
     "the ceiling of any process's open-file limit; connections and segments each need one"},
    {"net.core.somaxconn", sysctl_rule::at_least, 4096,
     "listen backlog: bursts of client connections are not refused"},
    {"net.ipv4.tcp_max_syn_backlog", sysctl_rule::at_least, 4096,
     "half-open connections queued during a reconnect storm"},
    {"kernel.numa_balancing", sysctl_rule::exactly, 0,
     "shards allocate node-local memory themselves; automatic NUMA page migration only adds "
     "faults"},
};

bool satisfies(const sysctl_rule& r, long v) {
    switch (r.cmp) {
        case sysctl_rule::at_most:
            return v <= r.bound;
        case sysctl_rule::at_least:
            return v >= r.bound;
        case sysctl_rule::exactly:
            return v == r.bound;
    }
    return false;
}

std::string describe(const sysctl_rule& r) {
    switch (r.cmp) {
        case sysctl_rule::at_most:
            return fmt::format("<= {}", r.bound);
        case sysctl_rule::at_least:
            return fmt::format(">= {}", r.bound);
        case sysctl_rule::exactly:
            return std::to_string(r.bound);
    }
    return {};
}

check_result check_sysctl(const sys_root& root, const sysctl_rule& r) {
    check_result c{.name = r.key, .recommended = describe(r), .why = r.why};
    auto path = sysctl_path(r.key);
    auto text = root.read(path);
    if (!text) {
        c.current = "missing " + path;
        return c;
    }
    auto value = parse_long(*text);
    if (!value) {
        c.current = "unreadable '" + *text + "'";
        return c;
    }
    c.current = *text;
    bool ok = satisfies(r, *value);
    // A zero dirty ratio means the operator sized writeback in bytes (vm.dirty_bytes) instead;
    // that is a deliberate choice the tuner leaves alone. Zero in both throttles every write.
    std::string_view key = r.key;
    if (*value == 0 && key.starts_with("vm.dirty_") && key.ends_with("_ratio")) {
        std::string bytes_key(key.substr(0, key.size() - 5));
        bytes_key += "bytes";
        auto bytes = root.read(sysctl_path(bytes_key));
        if (bytes && parse_long(*bytes).value_or(0) > 0) {
            c.current = fmt::format("0 ({} = {})", bytes_key, *bytes);
            c.status = check_status::pass;
            return c;
        }
        ok = false;
    }
    c.status = ok ? check_status::pass : check_status::fail;
    long keep = ok ? *value : r.bound;
    if (!ok) c.fixes.push_back({path, std::to_string(r.bound)});
    c.persist.push_back(
        {.what = persisted_setting::kind::sysctl, .target = r.key, .value = std::to_string(keep)});
    return c;
}

check_result check_thp(const sys_root& root) {
    const char* path = "/sys/kernel/mm/transparent_hugepage/enabled";
    check_result c{.name = "transparent huge pages",
                   .recommended = "madvise or never",
                   .why =
                       "khugepaged compaction and huge-page faults stall shards for "
                       "milliseconds; only code that asks (madvise) should get them"};
    auto text = root.read(path);
    if (!text) {
        c.current = std::string("missing ") + path;
        return c;
    }
    c.current = selected_choice(*text);
    bool ok = c.current == "madvise" || c.current == "never";
    c.status = ok ? check_status::pass : check_status::fail;
    if (!ok) c.fixes.push_back({path, "madvise"});
    return c;
}

check_result check_clocksource(const sys_root& root) {
    const char* dir = "/sys/devices/system/clocksource/clocksource0/";
    check_result c{.name = "clocksource",
                   .recommended = "tsc",
                   .why =
                       "every reactor turn reads the clock; tsc is read in user space, other "
                       "sources (hpet, xen, acpi_pm) cost a system call or more"};
    auto current = root.read(std::string(dir) + "current_clocksource");
    if (!current) {
        c.current = std::string("missing ") + dir + "current_clocksource";
        return c;
    }
    c.current = *current;
    if (c.current == "tsc") {
        c.status = check_status::pass;
        return c;
    }
    c.status = check_status::fail;
    auto available = root.read(std::string(dir) + "available_clocksource");
    auto choices = all_choices(available.value_or(""));
    if (!available || std::find(choices.begin(), choices.end(), "tsc") != choices.end()) {
        c.fixes.push_back({std::string(dir) + "current_clocksource", "tsc"});
    } else {
        c.why +=
            " (this kernel offers no tsc: the CPU's TSC is unstable or the hypervisor "
            "hides it)";
    }
    return c;
}

// The open-file limit granted by a limits.d file to every user: the smallest of its soft and
// hard nofile values, or nothing when it has none.
std::optional<long> nofile_from_limits_conf(const std::string& text) {
    std::optional<long> soft, hard;
    std::istringstream lines(text);
    for (std::string line; std::getline(lines, line);) {
        std::istringstream words(line);
        std::string domain, type, item, value;
        if (!(words >> domain >> type >> item >> value) || domain.starts_with("#")) continue;
        if (item != "nofile") continue;
        auto v = parse_long(value);
        if (!v) continue;
        if (type == "soft" || type == "-") soft = std::max(soft.value_or(0), *v);
        if (type == "hard" || type == "-") hard = std::max(hard.value_or(0), *v);
    }
    if (!soft || !hard) return std::nullopt;
    return std::min(*soft, *hard);
}

check_result check_nofile(const sys_root& root) {
    check_result c{.name = "RLIMIT_NOFILE",
                   .recommended = fmt::format(">= {}", recommended_nofile),
                   .why =
                       "one descriptor per connection and per open segment; the systemd unit "
                       "sets LimitNOFILE, limits.d covers brokers started from a shell"};
    auto text = root.read("/proc/self/limits");
    std::optional<long> soft, hard;
    std::istringstream lines(text.value_or(""));
    for (std::string line; std::getline(lines, line);) {
        if (!line.starts_with("Max open files")) continue;
        std::istringstream words(line.substr(14));
        std::string s, h;
        words >> s >> h;
        soft = s == "unlimited" ? recommended_nofile : parse_long(s).value_or(-1);
        hard = h == "unlimited" ? recommended_nofile : parse_long(h).value_or(-1);
    }
    if (!soft || *soft < 0 || *hard < 0) {
        c.current = "missing /proc/self/limits";
        return c;
    }
    c.current = fmt::format("soft {}, hard {} (this session)", *soft, *hard);
    bool ok = *soft >= recommended_nofile;
    // The limit of this session cannot be raised for the broker from here; what --apply can do
    // is grant it to new sessions, which counts as tuned.
    if (!ok) {
        if (auto conf = root.read(limits_conf_path)) {
            auto granted = nofile_from_limits_conf(*conf);
            if (granted && *granted >= recommended_nofile) {
                c.current += fmt::format("; {} for new sessions ({})", *granted, limits_conf_path);
                ok = true;
            }
        }
    }
    c.status = ok ? check_status::pass : check_status::fail;
    c.persist.push_back({.what = persisted_setting::kind::nofile_limit,
                         .target = "nofile",
                         .value = std::to_string(std::max(*soft, recommended_nofile))});
    return c;
}

}  // namespace

const char* to_string(check_status s) {
    switch (s) {
        case check_status::pass:
            return "pass";
        case check_status::fail:
            return "FAIL";
        case check_status::unknown:
            return "unknown";
    }
    return "?";
}

void check_kernel(const sys_root& root, std::vector<check_result>& out) {
    for (const auto& rule : sysctl_rules) out.push_back(check_sysctl(root, rule));
    out.push_back(check_thp(root));
    out.push_back(check_clocksource(root));
    out.push_back(check_nofile(root));
}

std::vector<check_result> run_checks(const sys_root& root, const tune_options& opts) {
    std::vector<check_result> out;
    check_cpus_and_irqs(root, opts, out);
    check_data_disk(root, opts, out);
    check_kernel(root, out);
    return out;
}

}  // namespace wharf::tune
