#include "core/tune/tune_command.h"

#include <unistd.h>

#include <algorithm>
#include <cstdio>

#include <fmt/format.h>
#include <CLI/CLI.hpp>

#include "core/tune/tune_apply.h"

namespace wharf::tune {

namespace {

std::string json_string(std::string_view s) {
    std::string out = "\"";
    for (char ch : s) {
        auto c = static_cast<unsigned char>(ch);
        if (c == '"' || c == '\\') {
            out += '\\';
            out += ch;
        } else if (c < 0x20) {
            out += fmt::format("\\u{:04x}", c);
        } else {
            out += ch;
        }
    }
    out += '"';
    return out;
}

std::string json_array(const std::vector<std::string>& items) {
    std::string out = "[";
    for (size_t i = 0; i < items.size(); ++i) out += (i ? ", " : "") + json_string(items[i]);
    return out + "]";
}

size_t count(const std::vector<check_result>& checks, check_status s) {
    return static_cast<size_t>(
        std::count_if(checks.begin(), checks.end(), [s](const auto& c) { return c.status == s; }));
}

struct tune_flags {
    bool apply = false;
    bool check = false;
    std::string sys_root = "/";
    std::string format = "table";
    tune_options opts;
};

}  // namespace

std::string format_table(const std::vector<check_result>& checks) {
    size_t w_name = 5, w_status = 7, w_current = 7, w_rec = 11;
    for (const auto& c : checks) {
        w_name = std::max(w_name, c.name.size());
        w_current = std::max(w_current, c.current.size());
        w_rec = std::max(w_rec, c.recommended.size());
    }
    std::string out = fmt::format("{:<{}}  {:<{}}  {:<{}}  {:<{}}  {}\n", "CHECK", w_name, "STATUS",
                                  w_status, "CURRENT", w_current, "RECOMMENDED", w_rec, "WHY");
    for (const auto& c : checks) {
        out +=
            fmt::format("{:<{}}  {:<{}}  {:<{}}  {:<{}}  {}\n", c.name, w_name, to_string(c.status),
                        w_status, c.current, w_current, c.recommended, w_rec, c.why);
    }
    out += fmt::format("\n{} pass, {} fail, {} unknown\n", count(checks, check_status::pass),
                       count(checks, check_status::fail), count(checks, check_status::unknown));
    return out;
}

std::string format_json(const std::vector<check_result>& checks,
                        const std::vector<std::string>& changes,
                        const std::vector<std::string>& errors) {
    std::string out = "{\"checks\": [";
    for (size_t i = 0; i < checks.size(); ++i) {
        const auto& c = checks[i];
        std::string status = c.status == check_status::fail ? "fail" : to_string(c.status);
        out += fmt::format(
            "{}\n  {{\"name\": {}, \"status\": {}, \"current\": {}, "
            "\"recommended\": {}, \"why\": {}}}",
            i ? "," : "", json_string(c.name), json_string(status), json_string(c.current),
            json_string(c.recommended), json_string(c.why));
    }
    out += fmt::format(
        "],\n \"changes\": {},\n \"errors\": {},\n \"pass\": {}, \"fail\": {}, "
        "\"unknown\": {}}}\n",
        json_array(changes), json_array(errors), count(checks, check_status::pass),
        count(checks, check_status::fail), count(checks, check_status::unknown));
    return out;
}

int run_tune(int argc, char** argv) {
    tune_flags f;
    CLI::App app{
        "wharf tune: checks this host for a thread-per-core broker (CPU governor, IRQ "
        "affinity, disk queue, memory, sysctls, limits, clocksource). Dry run by "
        "default.",
        "wharf tune"};
    app.option_defaults()->always_capture_default();
    app.add_flag("--apply", f.apply,
                 "Write the recommended values and persist them "
                 "(sysctl.d, udev rule, limits.d); needs root");
    app.add_flag("--check", f.check, "Exit 1 when any check fails (for monitoring)");
    app.add_option("--sys-root", f.sys_root,
                   "Root of the /proc, /sys and /etc to read and "
                   "write (tests point it at a fake tree)");
    app.add_option("--format", f.format, "table or json")->check(CLI::IsMember({"table", "json"}));
    app.add_option("--data-dir", f.opts.data_dir,
                   "The broker's data directory; its disk's "
                   "queue settings are checked");
    app.add_option("--nic", f.opts.nics,
                   "A NIC whose queue interrupts are checked (repeat for "
                   "more) [default: every NIC backed by a device]");
    try {
        app.parse(argc, argv);
    } catch (const CLI::ParseError& e) {
        int code = app.exit(e);
        return code == 0 ? 0 : 2;
    }

    sys_root root(f.sys_root);
    if (f.apply && root.is_host() && ::geteuid() != 0) {
        std::fprintf(stderr,
                     "wharf tune: --apply changes kernel settings and needs root; run "
                     "`sudo wharf tune --apply` (nothing was changed)\n");
        return 1;
    }
    auto checks = run_checks(root, f.opts);
    apply_outcome applied;
    if (f.apply) {
        applied = apply_checks(root, checks);
        checks = run_checks(root, f.opts);  // show what the host looks like now
    }
    if (f.format == "json") {
        std::fputs(format_json(checks, applied.changes, applied.errors).c_str(), stdout);
    } else {
        if (f.apply) {
            std::printf("%s\n", applied.changes.empty() ? "--apply: nothing to change"
                                                        : "--apply changed:");
            for (const auto& c : applied.changes) std::printf("  %s\n", c.c_str());
            std::printf("\n");
        }
        std::fputs(format_table(checks).c_str(), stdout);
        if (!f.apply && count(checks, check_status::fail) > 0) {
            std::printf(
                "Dry run: nothing was changed. `wharf tune --apply` (as root) fixes the "
                "failing checks.\n");
        }
    }
    for (const auto& e : applied.errors) std::fprintf(stderr, "wharf tune: %s\n", e.c_str());
    if (!applied.errors.empty()) return 1;
    if (f.check && count(checks, check_status::fail) > 0) return 1;
    return 0;
}

}  // namespace wharf::tune
