// Hardware checks of `wharf tune`: the CPU frequency governor and the interrupt affinity of the
// NIC and NVMe queues.

#include <algorithm>
#include <charconv>
#include <filesystem>
#include <map>
#include <set>
#include <sstream>

#include <fmt/format.h>
#include <fmt/ranges.h>

#include "core/tune/tune_check.h"

namespace wharf::tune {

namespace {

bool is_cpu_dir(const std::string& name) {
    return name.size() > 3 && name.starts_with("cpu") &&
           std::all_of(name.begin() + 3, name.end(), [](char c) { return c >= '0' && c <= '9'; });
}

unsigned cpu_number(const std::string& dir) {
    return static_cast<unsigned>(std::stoul(dir.substr(3)));
}

std::vector<unsigned> online_cpus(const sys_root& root) {
    if (auto text = root.read("/sys/devices/system/cpu/online")) {
        if (auto cpus = parse_cpu_list(*text); cpus && !cpus->empty()) return *cpus;
    }
    std::vector<unsigned> cpus;
    for (const auto& name : root.list("/sys/devices/system/cpu")) {
        if (is_cpu_dir(name)) cpus.push_back(cpu_number(name));
    }
    std::sort(cpus.begin(), cpus.end());
    return cpus;
}

check_result check_governor(const sys_root& root) {
    check_result c{.name = "cpu frequency governor",
                   .recommended = "performance",
                   .why =
                       "a shard's core should not clock down between bursts; ramping up "
                       "again adds latency"};
    std::map<std::string, std::vector<unsigned>> by_governor;
    bool performance_offered = true;
    for (const auto& name : root.list("/sys/devices/system/cpu")) {
        if (!is_cpu_dir(name)) continue;
        std::string dir = "/sys/devices/system/cpu/" + name + "/cpufreq/";
        auto governor = root.read(dir + "scaling_governor");
        if (!governor) continue;
        by_governor[*governor].push_back(cpu_number(name));
        if (*governor != "performance")
            c.fixes.push_back({dir + "scaling_governor", "performance"});
        if (auto offered = root.read(dir + "scaling_available_governors")) {
            auto choices = all_choices(*offered);
            if (std::find(choices.begin(), choices.end(), "performance") == choices.end()) {
                performance_offered = false;
            }
        }
    }
    if (by_governor.empty()) {
        c.current = "no cpufreq governors (a VM, or a driver without them)";
        c.fixes.clear();
        return c;
    }
    std::vector<std::string> parts;
    for (auto& [governor, cpus] : by_governor) {
        std::sort(cpus.begin(), cpus.end());
        parts.push_back(by_governor.size() == 1
                            ? governor
                            : fmt::format("{} on cpus {}", governor, format_cpu_list(cpus)));
    }
    c.current = fmt::format("{}", fmt::join(parts, "; "));
    c.status = c.fixes.empty() ? check_status::pass : check_status::fail;
    if (!performance_offered) {
        c.why += " (the cpufreq driver offers no performance governor here)";
        c.fixes.clear();
    }
    return c;
}

struct irq_line {
    unsigned irq = 0;
    std::vector<std::string> names;  // the actions (devices) sharing the interrupt
};

// The numbered lines of /proc/interrupts: "  45:  0  12  IR-PCI-MSI 1048577-edge  nvme0q1".
// The device names are the last column, a comma-separated list.
std::vector<irq_line> parse_interrupts(const std::string& text) {
    std::vector<irq_line> out;
    std::istringstream lines(text);
    for (std::string line; std::getline(lines, line);) {
        size_t colon = line.find(':');
        if (colon == std::string::npos) continue;
        std::string head = line.substr(0, colon);
        head.erase(0, head.find_first_not_of(' '));
        irq_line l;
        auto [p, ec] = std::from_chars(head.data(), head.data() + head.size(), l.irq);
        if (ec != std::errc() || p != head.data() + head.size()) continue;
        std::istringstream words(line.substr(colon + 1));
        std::vector<std::string> tokens;
        for (std::string w; words >> w;) tokens.push_back(w);
        // Names are the tokens after the last "...-edge"/"...-level"/chip column; a trailing
        // comma joins the names of a shared interrupt.
        for (size_t i = tokens.size(); i-- > 0;) {
            std::string t = tokens[i];
            bool joined = t.back() == ',';
            if (joined) t.pop_back();
            if (i + 1 < tokens.size() && !joined) break;
            l.names.insert(l.names.begin(), t);
        }
        out.push_back(std::move(l));
    }
    return out;
}

bool is_nvme_io_queue(const std::string& name) {
    // nvme<ctrl>q<n>; q0 is the admin queue, which carries no I/O.
    if (!name.starts_with("nvme")) return false;
    size_t q = name.find('q', 4);
    if (q == std::string::npos || q == 4 || q + 1 >= name.size()) return false;
    auto digits = [](std::string_view s) {
        return std::all_of(s.begin(), s.end(), [](char c) { return c >= '0' && c <= '9'; });
    };
    std::string_view n(name);
    return digits(n.substr(4, q - 4)) && digits(n.substr(q + 1)) && n.substr(q + 1) != "0";
}

std::vector<std::string> device_nics(const sys_root& root) {
    std::vector<std::string> nics;
    for (const auto& name : root.list("/sys/class/net")) {
        if (root.exists("/sys/class/net/" + name + "/device")) nics.push_back(name);
    }
    return nics;
}

// A queue interrupt is spread when it does not float over every CPU (where the kernel usually
// lands it on CPU 0) and the queues together reach as many CPUs as there are queues.
check_result check_irq_group(const sys_root& root, const std::string& label,
                             const std::vector<unsigned>& irqs, const std::vector<unsigned>& cpus) {
    check_result c{.name = "irq affinity: " + label,
                   .recommended = "queues spread, one CPU each",
                   .why =
                       "each queue's interrupts on its own core; left to float they pile up on "
                       "CPU 0 and steal it from its shard (irqbalance may undo this)"};
    std::set<unsigned> covered;
    size_t floating = 0;
    size_t known = 0;
    for (unsigned irq : irqs) {
        auto text = root.read(fmt::format("/proc/irq/{}/smp_affinity_list", irq));
        auto mask = text ? parse_cpu_list(*text) : std::nullopt;
        if (!mask) continue;
        ++known;
        if (cpus.size() > 1 && mask->size() >= cpus.size()) ++floating;
        covered.insert(mask->begin(), mask->end());
    }
    if (known == 0) {
        c.current = fmt::format("{} queues, affinity unreadable", irqs.size());
        return c;
    }
    std::vector<unsigned> covered_list(covered.begin(), covered.end());
    size_t wanted = std::min(irqs.size(), cpus.size());
    c.current = fmt::format("{} queues on cpus {}", known, format_cpu_list(covered_list));
    if (floating > 0) c.current += fmt::format(" ({} with every CPU)", floating);
    bool ok = floating == 0 && covered.size() >= wanted;
    c.status = ok ? check_status::pass : check_status::fail;
    if (!ok) {
        // Round-robin over the online CPUs. The kernel refuses writes to the IRQs it manages
        // itself (NVMe's), which are spread already.
        for (size_t i = 0; i < irqs.size(); ++i) {
            c.fixes.push_back({fmt::format("/proc/irq/{}/smp_affinity_list", irqs[i]),
                               std::to_string(cpus[i % cpus.size()])});
        }
    }
    return c;
}

void check_irqs(const sys_root& root, const tune_options& opts, std::vector<check_result>& out) {
    auto lines = parse_interrupts(root.read("/proc/interrupts").value_or(""));
    auto cpus = online_cpus(root);
    std::vector<unsigned> nvme;
    for (const auto& l : lines) {
        if (std::any_of(l.names.begin(), l.names.end(), is_nvme_io_queue)) nvme.push_back(l.irq);
    }
    std::vector<std::pair<std::string, std::vector<unsigned>>> groups;
    if (!nvme.empty()) groups.emplace_back("nvme", nvme);
    for (const auto& nic : opts.nics.empty() ? device_nics(root) : opts.nics) {
        // The device's MSI vectors name its interrupts exactly. Drivers that name their
        // interrupts after the interface ("eth0-TxRx-3") or the device ("virtio2-input.0", the
        // NIC's device link points at virtio2) are found by name as well.
        std::string dir = "/sys/class/net/" + nic + "/device";
        std::set<unsigned> irqs;
        for (const auto& n : root.list(dir + "/msi_irqs")) {
            unsigned irq = 0;
            auto [p, ec] = std::from_chars(n.data(), n.data() + n.size(), irq);
            if (ec == std::errc() && p == n.data() + n.size()) irqs.insert(irq);
        }
        std::error_code ec;
        auto device = std::filesystem::canonical(root.path_of(dir), ec).filename().string();
        for (const auto& l : lines) {
            for (const auto& name : l.names) {
                bool by_name = name.starts_with(nic + "-") ||
                               (!ec && !device.empty() && name.starts_with(device + "-"));
                if (by_name && !name.ends_with("-config")) irqs.insert(l.irq);
            }
        }
        if (!irqs.empty())
            groups.emplace_back(nic, std::vector<unsigned>(irqs.begin(), irqs.end()));
    }
    if (cpus.empty() || groups.empty()) {
        out.push_back({.name = "irq affinity",
                       .current = cpus.empty() ? "no online CPU list"
                                               : "no NVMe or NIC queue interrupts found",
                       .recommended = "queues spread, one CPU each",
                       .why = "name the NIC with --nic when its driver is not found"});
        return;
    }
    for (const auto& [label, irqs] : groups)
        out.push_back(check_irq_group(root, label, irqs, cpus));
}

}  // namespace

void check_cpus_and_irqs(const sys_root& root, const tune_options& opts,
                         std::vector<check_result>& out) {
    out.push_back(check_governor(root));
    check_irqs(root, opts, out);
}

}  // namespace wharf::tune
