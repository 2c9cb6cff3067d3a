#pragma once

// The checks of `wharf tune`: what the host should look like for a thread-per-core broker, read
// through a sys_root. A check never fails to run: what cannot be read is `unknown`. Each result
// carries the writes that --apply makes when it fails and the settings that keep it after a
// reboot (sysctl.d, a udev rule, limits.d).

#include <string>
#include <vector>

#include "core/tune/sys_root.h"

namespace wharf::tune {

enum class check_status { pass, fail, unknown };
const char* to_string(check_status s);

// One value --apply writes into a kernel file (under the sys root).
struct tune_write {
    std::string path;
    std::string value;
};

// One setting written to a persistence file so that it survives a reboot.
struct persisted_setting {
    enum class kind { sysctl, udev_block_attr, nofile_limit };
    kind what = kind::sysctl;
    std::string target;  // the sysctl key, or the block device's kernel name
    std::string attr;    // the udev ATTR{} name of a block device ("queue/scheduler")
    std::string value;
};

struct check_result {
    std::string name;
    std::string current;
    std::string recommended;
    std::string why;
    check_status status = check_status::unknown;
    std::vector<tune_write> fixes;           // applied only when status is fail
    std::vector<persisted_setting> persist;  // written whenever the value is known
};

struct tune_options {
    // The broker's data directory: a real path (not under the sys root); the device holding it,
    // or its nearest existing ancestor, is the one whose queue settings are checked.
    std::string data_dir = "/var/lib/wharf";
    // NICs whose queue interrupts are checked; empty: every NIC backed by a device.
    std::vector<std::string> nics;
};

// Every check, in a stable order.
std::vector<check_result> run_checks(const sys_root& root, const tune_options& opts);

// Kernel-wide settings: sysctls, transparent huge pages, clocksource, the descriptor limit.
void check_kernel(const sys_root& root, std::vector<check_result>& out);
// Hardware: CPU frequency governors, NIC and NVMe interrupt affinity, the data disk's queue.
void check_cpus_and_irqs(const sys_root& root, const tune_options& opts,
                         std::vector<check_result>& out);
void check_data_disk(const sys_root& root, const tune_options& opts,
                     std::vector<check_result>& out);

// Where --apply persists settings, on the host (under the sys root).
inline constexpr const char* sysctl_conf_path = "/etc/sysctl.d/60-wharf.conf";
inline constexpr const char* udev_rules_path = "/etc/udev/rules.d/60-wharf-io.rules";
inline constexpr const char* limits_conf_path = "/etc/security/limits.d/60-wharf.conf";
// The descriptor limit the checks ask for (also fs.nr_open's floor).
inline constexpr long recommended_nofile = 1048576;

}  // namespace wharf::tune
