// The data disk's queue settings: the I/O scheduler and request merging of the block device that
// holds --data-dir (through device-mapper or md to the disks underneath).

#include <algorithm>
#include <filesystem>
#include <optional>
#include <sstream>

#include <fmt/format.h>

#include "core/tune/tune_check.h"

namespace wharf::tune {

namespace {

// A mount from /proc/self/mountinfo: "36 35 259:1 / /var/lib/wharf rw - xfs /dev/nvme0n1p1 rw".
struct mount_entry {
    std::string point;
    std::string dev;     // "major:minor"
    std::string source;  // "/dev/nvme0n1p1", or "overlay", "tmpfs"
};

// mountinfo escapes space, tab, newline and backslash as \ooo.
std::string unescape(const std::string& s) {
    std::string out;
    for (size_t i = 0; i < s.size(); ++i) {
        auto octal = [&](size_t j) { return j < s.size() && s[j] >= '0' && s[j] <= '7'; };
        if (s[i] == '\\' && octal(i + 1) && octal(i + 2) && octal(i + 3)) {
            out +=
                static_cast<char>((s[i + 1] - '0') * 64 + (s[i + 2] - '0') * 8 + (s[i + 3] - '0'));
            i += 3;
        } else {
            out += s[i];
        }
    }
    return out;
}

// The mount holding path: the longest mount point that is a prefix of it, the last one mounted
// when several share it. Read through the sys root, so the data dir need not exist yet.
std::optional<mount_entry> mount_of(const sys_root& root, const std::filesystem::path& path) {
    std::optional<mount_entry> best;
    std::istringstream lines(root.read("/proc/self/mountinfo").value_or(""));
    for (std::string line; std::getline(lines, line);) {
        std::istringstream words(line);
        std::string id, parent, dev, mount_root, point;
        if (!(words >> id >> parent >> dev >> mount_root >> point)) continue;
        size_t dash = line.find(" - ");
        if (dash == std::string::npos) continue;
        std::istringstream tail(line.substr(dash + 3));
        std::string fstype, source;
        tail >> fstype >> source;
        point = unescape(point);
        auto rel = path.lexically_relative(point);
        if (rel.empty() || *rel.begin() == "..") continue;
        if (!best || point.size() >= best->point.size()) best = mount_entry{point, dev, source};
    }
    return best;
}

// The disk (entry of /sys/block) holding device "major:minor" (or, with by_name, the device of
// that kernel name: "nvme0n1p1"): the disk itself or the disk of which it is a partition.
std::optional<std::string> disk_of(const sys_root& root, const std::string& dev,
                                   bool by_name = false) {
    for (const auto& disk : root.list("/sys/block")) {
        std::string dir = "/sys/block/" + disk;
        if (by_name ? disk == dev : root.read(dir + "/dev") == dev) return disk;
        for (const auto& part : root.list(dir)) {
            if (!root.exists(dir + "/" + part + "/partition")) continue;
            if (by_name ? part == dev : root.read(dir + "/" + part + "/dev") == dev) return disk;
        }
    }
    return std::nullopt;
}

// A stacked device (dm, md) has no scheduler of its own worth setting; its requests reach the
// disks listed in slaves/, which may be partitions or stacked devices again.
void physical_disks(const sys_root& root, const std::string& disk, int depth,
                    std::vector<std::string>& out) {
    auto slaves = root.list("/sys/block/" + disk + "/slaves");
    if (slaves.empty() || depth >= 4) {
        if (std::find(out.begin(), out.end(), disk) == out.end()) out.push_back(disk);
        return;
    }
    for (const auto& slave : slaves) {
        auto dev = root.read("/sys/block/" + disk + "/slaves/" + slave + "/dev");
        auto under = dev ? disk_of(root, *dev) : std::nullopt;
        physical_disks(root, under.value_or(slave), depth + 1, out);
    }
}

check_result check_scheduler(const sys_root& root, const std::string& disk) {
    bool nvme = disk.starts_with("nvme");
    std::string path = "/sys/block/" + disk + "/queue/scheduler";
    check_result c{.name = "io scheduler: " + disk,
                   .recommended = nvme ? "none" : "mq-deadline",
                   .why = nvme ? "NVMe queues need no reordering; a scheduler only adds CPU "
                                 "time per request"
                               : "bounds the latency of the log's fdatasync behind other I/O"};
    auto text = root.read(path);
    if (!text) {
        c.current = "missing " + path;
        return c;
    }
    c.current = selected_choice(*text);
    bool ok = c.current == c.recommended;
    c.status = ok ? check_status::pass : check_status::fail;
    auto choices = all_choices(*text);
    bool offered = choices.size() <= 1 ||
                   std::find(choices.begin(), choices.end(), c.recommended) != choices.end();
    if (!ok && offered) c.fixes.push_back({path, c.recommended});
    if (!offered) c.why += fmt::format(" ({} is not offered by this kernel)", c.recommended);
    if (ok || offered) {
        c.persist.push_back({.what = persisted_setting::kind::udev_block_attr,
                             .target = disk,
                             .attr = "queue/scheduler",
                             .value = c.recommended});
    }
    return c;
}

check_result check_nomerges(const sys_root& root, const std::string& disk) {
    std::string path = "/sys/block/" + disk + "/queue/nomerges";
    check_result c{.name = "nomerges: " + disk,
                   .recommended = "2",
                   .why =
                       "the log already writes large sequential blocks; trying to merge "
                       "requests only costs CPU"};
    auto text = root.read(path);
    if (!text) {
        c.current = "missing " + path;
        return c;
    }
    c.current = *text;
    bool ok = c.current == "2";
    c.status = ok ? check_status::pass : check_status::fail;
    if (!ok) c.fixes.push_back({path, "2"});
    c.persist.push_back({.what = persisted_setting::kind::udev_block_attr,
                         .target = disk,
                         .attr = "queue/nomerges",
                         .value = "2"});
    return c;
}

}  // namespace

void check_data_disk(const sys_root& root, const tune_options& opts,
                     std::vector<check_result>& out) {
    auto unknown = [&](std::string why) {
        out.push_back({.name = "data disk",
                       .current = std::move(why),
                       .recommended = "a block device",
                       .why = "the scheduler and merge settings of the disk under --data-dir"});
    };
    std::error_code ec;
    auto path = std::filesystem::weakly_canonical(std::filesystem::absolute(opts.data_dir, ec), ec);
    auto mount = ec ? std::nullopt : mount_of(root, path);
    if (!mount) return unknown("no mount holds " + opts.data_dir + " (/proc/self/mountinfo)");
    auto disk = disk_of(root, mount->dev);
    // Filesystems that give their mounts anonymous device numbers (btrfs) still name the block
    // device they live on.
    if (!disk && mount->source.starts_with("/dev/")) {
        disk = disk_of(root, std::filesystem::path(mount->source).filename().string(), true);
    }
    if (!disk) {
        return unknown(fmt::format("{} is on {} ({} {}), not a block device", opts.data_dir,
                                   mount->point, mount->source, mount->dev));
    }
    std::vector<std::string> disks;
    physical_disks(root, *disk, 0, disks);
    for (const auto& d : disks) {
        out.push_back(check_scheduler(root, d));
        out.push_back(check_nomerges(root, d));
    }
}

}  // namespace wharf::tune
