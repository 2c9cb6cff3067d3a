#include "core/tune/tune_apply.h"

#include <map>

#include <fmt/format.h>

namespace wharf::tune {

namespace {

std::vector<const persisted_setting*> settings_of(const std::vector<check_result>& checks,
                                                  persisted_setting::kind kind) {
    std::vector<const persisted_setting*> out;
    for (const auto& c : checks) {
        for (const auto& p : c.persist) {
            if (p.what == kind) out.push_back(&p);
        }
    }
    return out;
}

void write_persistent(const sys_root& root, const char* path, const std::string& content,
                      apply_outcome& out) {
    if (content.empty()) return;
    if (root.read(path).value_or("") + "\n" == content) return;  // already in place
    auto err = root.write_file(path, content);
    if (err.empty()) {
        out.changes.push_back(fmt::format("wrote {}", path));
    } else {
        out.errors.push_back(fmt::format("cannot write {}: {}", path, err));
    }
}

}  // namespace

std::string sysctl_conf(const std::vector<check_result>& checks) {
    auto settings = settings_of(checks, persisted_setting::kind::sysctl);
    if (settings.empty()) return {};
    std::string out = "# Written by `wharf tune --apply`: kernel settings for the Wharf broker.\n";
    for (const auto* s : settings) out += fmt::format("{} = {}\n", s->target, s->value);
    return out;
}

std::string udev_rules(const std::vector<check_result>& checks) {
    // One rule per disk, with every attribute of that disk, in the order the checks found them.
    std::vector<std::string> disks;
    std::map<std::string, std::string> attrs;
    for (const auto* s : settings_of(checks, persisted_setting::kind::udev_block_attr)) {
        if (!attrs.contains(s->target)) disks.push_back(s->target);
        attrs[s->target] += fmt::format(", ATTR{{{}}}=\"{}\"", s->attr, s->value);
    }
    if (disks.empty()) return {};
    std::string out =
        "# Written by `wharf tune --apply`: queue settings of the disks under "
        "Wharf's data directory.\n";
    for (const auto& d : disks) {
        out += fmt::format("ACTION==\"add|change\", SUBSYSTEM==\"block\", KERNEL==\"{}\"{}\n", d,
                           attrs[d]);
    }
    return out;
}

std::string limits_conf(const std::vector<check_result>& checks) {
    auto settings = settings_of(checks, persisted_setting::kind::nofile_limit);
    if (settings.empty()) return {};
    const auto& v = settings.front()->value;
    // pam_limits does not apply the "*" domain to root, hence its own lines.
    return fmt::format(
        "# Written by `wharf tune --apply`: the open-file limit of login sessions (the systemd "
        "unit sets LimitNOFILE itself).\n"
        "*    soft nofile {0}\n*    hard nofile {0}\nroot soft nofile {0}\nroot hard nofile {0}\n",
        v);
}

apply_outcome apply_checks(const sys_root& root, const std::vector<check_result>& checks) {
    apply_outcome out;
    for (const auto& c : checks) {
        if (c.status != check_status::fail) continue;
        for (const auto& w : c.fixes) {
            auto before = root.read(w.path).value_or("?");
            auto err = root.write_existing(w.path, w.value);
            if (err.empty()) {
                out.changes.push_back(
                    fmt::format("{}: {} -> {} ({})", c.name, before, w.value, w.path));
            } else {
                out.errors.push_back(
                    fmt::format("{}: cannot write {} to {}: {}", c.name, w.value, w.path, err));
            }
        }
    }
    write_persistent(root, sysctl_conf_path, sysctl_conf(checks), out);
    write_persistent(root, udev_rules_path, udev_rules(checks), out);
    write_persistent(root, limits_conf_path, limits_conf(checks), out);
    return out;
}

}  // namespace wharf::tune
