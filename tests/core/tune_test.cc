// The checks of `wharf tune` against small fake /proc and /sys trees: parsing of the kernel's
// file formats, how the data disk is found (partitions, device-mapper, btrfs, overlay), the
// cases the tuner must leave alone, and the persistence files. tests/core/tune_cli_test.py runs
// the real binary end to end.

#include <gtest/gtest.h>

#include <algorithm>
#include <filesystem>
#include <fstream>
#include <map>
#include <string>

#include "core/tune/tune_apply.h"
#include "core/tune/tune_check.h"
#include "core/tune/tune_command.h"
#include "tests/reactor/test_util.h"

namespace wharf::tune {
namespace {

class fake_host {
public:
    void put(const std::string& rel, const std::string& content) {
        auto path = std::filesystem::path(_dir.path()) / rel;
        std::filesystem::create_directories(path.parent_path());
        std::ofstream(path) << content << "\n";
    }
    void link(const std::string& rel, const std::string& target) {
        auto path = std::filesystem::path(_dir.path()) / rel;
        std::filesystem::create_directories(path.parent_path());
        std::filesystem::create_directory_symlink(target, path);
    }
    sys_root root() const { return sys_root(_dir.path()); }
    std::string read(const std::string& rel) const { return root().read(rel).value_or("<none>"); }

    // Runs every check with the data dir /var/lib/wharf; returns them by name.
    std::map<std::string, check_result> checks(tune_options opts = {}) const {
        opts.data_dir = "/var/lib/wharf";
        std::map<std::string, check_result> by_name;
        for (auto& c : run_checks(root(), opts)) by_name[c.name] = c;
        return by_name;
    }

private:
    temp_dir _dir;
};

TEST(tune, cpu_lists_and_choice_files) {
    EXPECT_EQ(*parse_cpu_list("0-3,8,10-11"), (std::vector<unsigned>{0, 1, 2, 3, 8, 10, 11}));
    EXPECT_EQ(*parse_cpu_list("5"), (std::vector<unsigned>{5}));
    EXPECT_TRUE(parse_cpu_list("")->empty());
    EXPECT_TRUE(parse_cpu_list(" \n")->empty());
    EXPECT_EQ(*parse_cpu_list(" 0-1,4\n"), (std::vector<unsigned>{0, 1, 4}));
    for (const char* bad : {"3-1", "a", "1,,2", "0-99999999", "-1"}) {
        EXPECT_FALSE(parse_cpu_list(bad)) << bad;
    }
    EXPECT_EQ(format_cpu_list({0, 1, 2, 3, 8, 10, 11}), "0-3,8,10-11");
    EXPECT_EQ(format_cpu_list({}), "");
    EXPECT_EQ(selected_choice("always [madvise] never"), "madvise");
    EXPECT_EQ(selected_choice("none"), "none");
    EXPECT_EQ(all_choices("[mq-deadline] kyber none"),
              (std::vector<std::string>{"mq-deadline", "kyber", "none"}));
}

TEST(tune, data_disk_through_a_partition_and_device_mapper) {
    fake_host h;
    // /var/lib is its own mount on dm-0, a logical volume on nvme1n1p1; / is on sda.
    h.put("proc/self/mountinfo",
          "22 1 8:1 / / rw - ext4 /dev/sda1 rw\n"
          "30 22 253:0 / /var/lib rw - xfs /dev/mapper/vg-data rw\n"
          "31 22 0:40 / /var/lib/wharf-not-this rw - tmpfs tmpfs rw");
    h.put("sys/block/sda/dev", "8:0");
    h.put("sys/block/sda/sda1/partition", "1");
    h.put("sys/block/sda/sda1/dev", "8:1");
    h.put("sys/block/sda/queue/scheduler", "[mq-deadline] none");
    h.put("sys/block/dm-0/dev", "253:0");
    h.put("sys/block/dm-0/queue/scheduler", "none");
    h.put("sys/block/dm-0/slaves/nvme1n1p1/dev", "259:5");
    h.put("sys/block/nvme1n1/dev", "259:4");
    h.put("sys/block/nvme1n1/nvme1n1p1/partition", "1");
    h.put("sys/block/nvme1n1/nvme1n1p1/dev", "259:5");
    h.put("sys/block/nvme1n1/queue/scheduler", "[none] mq-deadline");
    h.put("sys/block/nvme1n1/queue/nomerges", "1");
    auto checks = h.checks();
    ASSERT_TRUE(checks.contains("io scheduler: nvme1n1"));
    EXPECT_EQ(checks["io scheduler: nvme1n1"].status, check_status::pass);
    EXPECT_EQ(checks["nomerges: nvme1n1"].status, check_status::fail);
    EXPECT_FALSE(checks.contains("io scheduler: dm-0"));
    EXPECT_FALSE(checks.contains("io scheduler: sda"));
    EXPECT_NE(udev_rules(run_checks(h.root(), {.data_dir = "/var/lib/wharf"}))
                  .find("KERNEL==\"nvme1n1\", ATTR{queue/scheduler}=\"none\", "
                        "ATTR{queue/nomerges}=\"2\""),
              std::string::npos);
}

TEST(tune, data_disk_by_source_name_and_virtual_filesystems) {
    fake_host h;
    // btrfs gives its mounts anonymous device numbers; the source still names the disk.
    h.put("proc/self/mountinfo", "22 1 0:45 / / rw - btrfs /dev/sdb2 rw");
    h.put("sys/block/sdb/dev", "8:16");
    h.put("sys/block/sdb/sdb2/partition", "2");
    h.put("sys/block/sdb/sdb2/dev", "8:18");
    h.put("sys/block/sdb/queue/scheduler", "mq-deadline [bfq] none");
    h.put("sys/block/sdb/queue/nomerges", "2");
    auto checks = h.checks();
    EXPECT_EQ(checks["io scheduler: sdb"].status, check_status::fail);
    EXPECT_EQ(checks["io scheduler: sdb"].recommended, "mq-deadline");
    ASSERT_EQ(checks["io scheduler: sdb"].fixes.size(), 1u);
    EXPECT_EQ(checks["io scheduler: sdb"].fixes[0].value, "mq-deadline");
    EXPECT_EQ(checks["nomerges: sdb"].status, check_status::pass);

    fake_host overlay;
    overlay.put("proc/self/mountinfo", "22 1 0:45 / / rw - overlay overlay rw");
    auto c = overlay.checks()["data disk"];
    EXPECT_EQ(c.status, check_status::unknown);
    EXPECT_NE(c.current.find("not a block device"), std::string::npos) << c.current;
}

TEST(tune, a_scheduler_the_kernel_does_not_offer_is_not_written) {
    fake_host h;
    h.put("proc/self/mountinfo", "22 1 8:0 / / rw - ext4 /dev/sda rw");
    h.put("sys/block/sda/dev", "8:0");
    h.put("sys/block/sda/queue/scheduler", "[bfq] none");
    auto c = h.checks()["io scheduler: sda"];
    EXPECT_EQ(c.status, check_status::fail);
    EXPECT_TRUE(c.fixes.empty());
    EXPECT_TRUE(c.persist.empty());
}

TEST(tune, sysctls_the_operator_chose_otherwise_are_left_alone) {
    fake_host h;
    // Writeback sized in bytes: the ratios read 0 and are not in effect.
    h.put("proc/sys/vm/dirty_ratio", "0");
    h.put("proc/sys/vm/dirty_bytes", "1073741824");
    h.put("proc/sys/vm/dirty_background_ratio", "0");
    h.put("proc/sys/vm/dirty_background_bytes", "0");
    // Stricter than asked for is fine and is what gets persisted.
    h.put("proc/sys/vm/swappiness", "0");
    h.put("proc/sys/net/core/somaxconn", "65535");
    auto checks = h.checks();
    EXPECT_EQ(checks["vm.dirty_ratio"].status, check_status::pass);
    EXPECT_TRUE(checks["vm.dirty_ratio"].persist.empty());
    EXPECT_EQ(checks["vm.dirty_background_ratio"].status, check_status::fail);
    EXPECT_EQ(checks["vm.swappiness"].status, check_status::pass);
    auto conf = sysctl_conf(run_checks(h.root(), {}));
    EXPECT_NE(conf.find("vm.swappiness = 0\n"), std::string::npos) << conf;
    EXPECT_NE(conf.find("net.core.somaxconn = 65535\n"), std::string::npos) << conf;
    EXPECT_NE(conf.find("vm.dirty_background_ratio = 5\n"), std::string::npos) << conf;
    EXPECT_EQ(conf.find("vm.dirty_ratio"), std::string::npos) << conf;
    // Garbage is unknown, not a crash.
    h.put("proc/sys/vm/swappiness", "lots");
    EXPECT_EQ(h.checks()["vm.swappiness"].status, check_status::unknown);
}

TEST(tune, governors_irqs_thp_clocksource_and_limits) {
    fake_host h;
    for (int cpu = 0; cpu < 4; ++cpu) {
        h.put("sys/devices/system/cpu/cpu" + std::to_string(cpu) + "/cpufreq/scaling_governor",
              cpu < 2 ? "powersave" : "performance");
    }
    h.put("sys/devices/system/cpu/online", "0-3");
    // A NIC found by its MSI vectors only; its queues already spread.
    h.put("proc/interrupts",
          "   CPU0 CPU1 CPU2 CPU3\n"
          " 60:  1 2 3 4  PCI-MSI 1-edge  mlx5_comp0@pci:0000:01:00.0\n"
          " 61:  1 2 3 4  PCI-MSI 2-edge  mlx5_comp1@pci:0000:01:00.0\n"
          " 70:  1 0 0 0  PCI-MSI 3-edge  ehci_hcd:usb1, nvme0q1\n");
    h.put("sys/class/net/ens1/device/msi_irqs/60", "msix");
    h.put("sys/class/net/ens1/device/msi_irqs/61", "msix");
    h.put("proc/irq/60/smp_affinity_list", "2");
    h.put("proc/irq/61/smp_affinity_list", "3");
    h.put("proc/irq/70/smp_affinity_list", "0-3");
    h.put("sys/kernel/mm/transparent_hugepage/enabled", "always madvise [never]");
    h.put("sys/devices/system/clocksource/clocksource0/current_clocksource", "xen");
    h.put("sys/devices/system/clocksource/clocksource0/available_clocksource", "xen");
    h.put("proc/self/limits", "Max open files            1024                 4096       files");
    h.put("etc/security/limits.d/60-wharf.conf", "*  soft nofile 1048576\n*  hard nofile 2097152");
    auto checks = h.checks();
    EXPECT_EQ(checks["cpu frequency governor"].status, check_status::fail);
    EXPECT_EQ(checks["cpu frequency governor"].current,
              "performance on cpus 2-3; powersave on cpus 0-1");
    EXPECT_EQ(checks["cpu frequency governor"].fixes.size(), 2u);
    EXPECT_EQ(checks["irq affinity: ens1"].status, check_status::pass);
    // One NVMe queue sharing its line with USB, floating over every CPU.
    EXPECT_EQ(checks["irq affinity: nvme"].status, check_status::fail);
    EXPECT_EQ(checks["transparent huge pages"].status, check_status::pass);
    EXPECT_EQ(checks["clocksource"].status, check_status::fail);
    EXPECT_TRUE(checks["clocksource"].fixes.empty());  // no tsc to switch to
    EXPECT_EQ(checks["RLIMIT_NOFILE"].status, check_status::pass)
        << checks["RLIMIT_NOFILE"].current;
    h.put("etc/security/limits.d/60-wharf.conf", "*  soft nofile 4096");
    EXPECT_EQ(h.checks()["RLIMIT_NOFILE"].status, check_status::fail);
}

TEST(tune, virtio_nic_queues_are_found_through_the_device_link) {
    fake_host h;
    h.put("sys/devices/system/cpu/online", "0-1");
    h.put("sys/devices/pci0000:00/0000:00:03.0/virtio2/vendor", "0x1af4");
    h.link("sys/class/net/eth0/device", "../../../devices/pci0000:00/0000:00:03.0/virtio2");
    h.put("proc/interrupts",
          "   CPU0 CPU1\n"
          " 37:  0 0  PCI-MSIX-0000:00:03.0 0-edge  virtio2-config\n"
          " 38:  0 9  PCI-MSIX-0000:00:03.0 1-edge  virtio2-input.0\n"
          " 39:  9 0  PCI-MSIX-0000:00:03.0 2-edge  virtio2-output.0\n"
          " 40:  9 0  PCI-MSIX-0000:00:04.0 1-edge  virtio21-input.0\n");
    h.put("proc/irq/38/smp_affinity_list", "0-1");
    h.put("proc/irq/39/smp_affinity_list", "0-1");
    auto c = h.checks()["irq affinity: eth0"];
    EXPECT_EQ(c.status, check_status::fail) << c.current;
    EXPECT_EQ(c.current, "2 queues on cpus 0-1 (2 with every CPU)");
    ASSERT_EQ(c.fixes.size(), 2u);  // not the config interrupt, not virtio21's
    EXPECT_EQ(c.fixes[0].path, "/proc/irq/38/smp_affinity_list");
    EXPECT_EQ(c.fixes[0].value, "0");
    EXPECT_EQ(c.fixes[1].value, "1");
}

TEST(tune, json_output_escapes_what_it_prints) {
    std::vector<check_result> checks{{.name = "a \"quoted\" name",
                                      .current = "line\nbreak \\ tab\t",
                                      .recommended = "x",
                                      .why = "y",
                                      .status = check_status::fail}};
    auto json = format_json(checks, {"changed"}, {});
    EXPECT_NE(json.find(R"("name": "a \"quoted\" name")"), std::string::npos) << json;
    EXPECT_NE(json.find(R"("current": "line\u000abreak \\ tab\u0009")"), std::string::npos) << json;
    EXPECT_NE(json.find(R"("status": "fail")"), std::string::npos) << json;
    EXPECT_NE(json.find(R"("changes": ["changed"])"), std::string::npos) << json;
    EXPECT_NE(json.find(R"("fail": 1)"), std::string::npos) << json;
}

}  // namespace
}  // namespace wharf::tune
