#pragma once

// sys_root: the host's /proc, /sys and /etc as `wharf tune` sees them, rooted at a directory so
// that tests can point the tuner at a fake tree (--sys-root). Every path given to it is written
// as on the host ("/proc/sys/vm/swappiness") and resolved under the root. A missing or unreadable
// file reads as nothing: the tuner reports such a check as unknown and carries on.

#include <filesystem>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

namespace wharf::tune {

class sys_root {
public:
    explicit sys_root(std::filesystem::path root);

    // True when the root is the real "/" (then --apply needs root).
    bool is_host() const;
    const std::filesystem::path& root() const noexcept { return _root; }
    std::filesystem::path path_of(std::string_view host_path) const;

    // The file's content without surrounding white space; nothing when it cannot be read.
    std::optional<std::string> read(std::string_view host_path) const;
    bool exists(std::string_view host_path) const;
    // Entry names of a directory, sorted; empty when it cannot be listed.
    std::vector<std::string> list(std::string_view host_path) const;

    // Writes value into an existing file (a /proc/sys or /sys attribute: never created).
    // Returns an empty string on success, else why it failed.
    std::string write_existing(std::string_view host_path, std::string_view value) const;
    // Creates or replaces a whole file (sysctl.d, udev rules), creating its directories.
    std::string write_file(std::string_view host_path, std::string_view content) const;

private:
    std::filesystem::path _root;
};

// A kernel CPU list (/sys/devices/system/cpu/online, smp_affinity_list): "0-3,8,10-11" ->
// {0,1,2,3,8,10,11}, by parse_cpuset's rules (CPUs up to 4095); white space around it is ignored
// and an empty list is no CPUs; nothing on a malformed list.
std::optional<std::vector<unsigned>> parse_cpu_list(std::string_view text);
// The inverse, with ranges collapsed: {0,1,2,3,8} -> "0-3,8".
std::string format_cpu_list(const std::vector<unsigned>& cpus);
// The selected entry of a sysfs choice file: "always [madvise] never" -> "madvise". A file
// without brackets (a fake tree after a write) is taken whole.
std::string selected_choice(std::string_view text);
// Every entry of a choice file, brackets removed.
std::vector<std::string> all_choices(std::string_view text);

}  // namespace wharf::tune
