#pragma once

// --apply: writes the recommended value of every failing check into the kernel (under the sys
// root) and persists the tuned settings so that they survive a reboot: sysctls in
// /etc/sysctl.d/60-wharf.conf, the data disk's queue settings in a udev rule, the open-file limit
// in limits.d. Settings without a persistence file (governor, THP, IRQ affinity, clocksource)
// are applied again at boot by wharf-tune.service.

#include <string>
#include <vector>

#include "core/tune/tune_check.h"

namespace wharf::tune {

struct apply_outcome {
    std::vector<std::string> changes;  // one line per value or file written
    std::vector<std::string> errors;   // one line per write the kernel refused
};

apply_outcome apply_checks(const sys_root& root, const std::vector<check_result>& checks);

// The persistence files' contents; empty when no check has a setting of that kind.
std::string sysctl_conf(const std::vector<check_result>& checks);
std::string udev_rules(const std::vector<check_result>& checks);
std::string limits_conf(const std::vector<check_result>& checks);

}  // namespace wharf::tune
