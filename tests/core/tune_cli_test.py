#!/usr/bin/env python3
"""`wharf tune` as operators run it, against a fake /proc, /sys and /etc tree (--sys-root): the dry
run lists the failing checks and changes nothing, --check exits 1, --apply (root, or a fake tree)
writes the recommended values and the persistence files, after which --check exits 0. A tree
missing everything reports unknown checks without failing, and --apply on the real host is
refused to a user that is not root. Every child process is bounded by a timeout."""

import hashlib
import json
import os
import subprocess
import sys
import tempfile
import unittest

WHARF = sys.argv.pop(1) if len(sys.argv) > 1 else "build/dbg/core/wharf"
TIMEOUT_S = 60

# What a badly tuned four-CPU host looks like. The data dir /var/lib/wharf lives on nvme0n1p2.
BAD_TREE = {
    "proc/sys/vm/swappiness": "60",
    "proc/sys/vm/dirty_background_ratio": "10",
    "proc/sys/vm/dirty_ratio": "20",
    "proc/sys/fs/aio-max-nr": "65536",
    "proc/sys/fs/nr_open": "1048576",
    "proc/sys/net/core/somaxconn": "128",
    "proc/sys/net/ipv4/tcp_max_syn_backlog": "512",
    "proc/sys/kernel/numa_balancing": "1",
    "proc/self/limits": "Limit                     Soft Limit           Hard Limit           Units\n"
                        "Max open files            1024                 4096                 files\n",
    "proc/self/mountinfo": "22 1 259:2 / / rw,relatime shared:1 - ext4 /dev/nvme0n1p2 rw\n"
                           "40 22 0:35 / /tmp rw shared:5 - tmpfs tmpfs rw\n",
    "proc/interrupts": "            CPU0       CPU1       CPU2       CPU3\n"
                       "  0:         10          0          0          0   IO-APIC   2-edge      timer\n"
                       " 40:          5          0          0          0  PCI-MSI 1048576-edge      nvme0q0\n"
                       " 41:        100          0          0          0  PCI-MSI 1048577-edge      nvme0q1\n"
                       " 42:        100          0          0          0  PCI-MSI 1048578-edge      nvme0q2\n"
                       " 43:        100          0          0          0  PCI-MSI 1048579-edge      nvme0q3\n"
                       " 44:        100          0          0          0  PCI-MSI 1048580-edge      nvme0q4\n"
                       " 50:        900          0          0          0  PCI-MSI 524288-edge      eth0-TxRx-0\n"
                       " 51:        900          0          0          0  PCI-MSI 524289-edge      eth0-TxRx-1\n"
                       "NMI:          0          0          0          0   Non-maskable interrupts\n",
    "sys/devices/system/cpu/online": "0-3",
    "sys/kernel/mm/transparent_hugepage/enabled": "[always] madvise never",
    "sys/devices/system/clocksource/clocksource0/current_clocksource": "hpet",
    "sys/devices/system/clocksource/clocksource0/available_clocksource": "tsc hpet acpi_pm",
    "sys/block/nvme0n1/dev": "259:0",
    "sys/block/nvme0n1/queue/scheduler": "[mq-deadline] none",
    "sys/block/nvme0n1/queue/nomerges": "0",
    "sys/block/nvme0n1/nvme0n1p2/partition": "2",
    "sys/block/nvme0n1/nvme0n1p2/dev": "259:2",
    # A second disk that does not hold the data dir: never touched.
    "sys/block/sda/dev": "8:0",
    "sys/block/sda/queue/scheduler": "[bfq] mq-deadline none",
    "sys/block/sda/queue/nomerges": "0",
    "sys/class/net/eth0/device/vendor": "0x8086",
    "sys/class/net/lo/mtu": "65536",
}
for cpu in range(4):
    BAD_TREE[f"sys/devices/system/cpu/cpu{cpu}/cpufreq/scaling_governor"] = "powersave"
    BAD_TREE[f"sys/devices/system/cpu/cpu{cpu}/cpufreq/scaling_available_governors"] = \
        "performance powersave"
for irq in (41, 42, 43, 44):
    BAD_TREE[f"proc/irq/{irq}/smp_affinity_list"] = "0-3"  # floating over every CPU
for irq in (50, 51):
    BAD_TREE[f"proc/irq/{irq}/smp_affinity_list"] = "0"  # both NIC queues on CPU 0

EXPECTED_FAILURES = [
    "cpu frequency governor", "irq affinity: nvme", "irq affinity: eth0", "io scheduler: nvme0n1",
    "nomerges: nvme0n1", "vm.swappiness", "vm.dirty_background_ratio", "vm.dirty_ratio",
    "fs.aio-max-nr", "net.core.somaxconn", "net.ipv4.tcp_max_syn_backlog",
    "kernel.numa_balancing", "transparent huge pages", "clocksource", "RLIMIT_NOFILE",
]


def write_tree(root, files):
    for rel, content in files.items():
        path = os.path.join(root, rel)
        os.makedirs(os.path.dirname(path), exist_ok=True)
        with open(path, "w") as f:
            f.write(content + ("" if content.endswith("\n") else "\n"))


def read(root, rel):
    with open(os.path.join(root, rel)) as f:
        return f.read().strip()


def tree_digest(root):
    h = hashlib.sha256()
    for dirpath, dirnames, filenames in sorted(os.walk(root)):
        dirnames.sort()
        for name in sorted(filenames):
            path = os.path.join(dirpath, name)
            h.update(path.encode())
            with open(path, "rb") as f:
                h.update(f.read())
    return h.hexdigest()


def tune(*args, user=None):
    preexec = None
    if user is not None:
        def preexec():
            os.setgid(user)
            os.setgroups([])
            os.setuid(user)
    return subprocess.run([WHARF, "tune", *args], capture_output=True, text=True,
                          timeout=TIMEOUT_S, preexec_fn=preexec)


class tune_test(unittest.TestCase):
    def setUp(self):
        self.tmp = tempfile.TemporaryDirectory(prefix="wharf-tune-")
        self.root = self.tmp.name
        write_tree(self.root, BAD_TREE)
        self.common = ["--sys-root", self.root, "--data-dir", "/var/lib/wharf"]

    def tearDown(self):
        self.tmp.cleanup()

    def checks_json(self):
        out = tune(*self.common, "--format", "json")
        self.assertEqual(out.returncode, 0, out.stderr)
        return {c["name"]: c for c in json.loads(out.stdout)["checks"]}

    def test_dry_run_lists_failures_and_changes_nothing(self):
        before = tree_digest(self.root)
        out = tune(*self.common)
        self.assertEqual(out.returncode, 0, out.stderr)
        rows = {line.split("  ")[0].strip(): line for line in out.stdout.splitlines()}
        for name in EXPECTED_FAILURES:
            self.assertIn(name, rows, out.stdout)
            self.assertIn("FAIL", rows[name], out.stdout)
        self.assertIn("pass", rows["fs.nr_open"])
        self.assertIn("nothing was changed", out.stdout)
        self.assertEqual(tree_digest(self.root), before)

        checks = self.checks_json()
        failing = sorted(n for n, c in checks.items() if c["status"] == "fail")
        self.assertEqual(failing, sorted(EXPECTED_FAILURES))
        self.assertEqual(checks["vm.swappiness"]["current"], "60")
        self.assertEqual(checks["io scheduler: nvme0n1"]["current"], "mq-deadline")
        self.assertEqual(checks["io scheduler: nvme0n1"]["recommended"], "none")
        self.assertNotIn("io scheduler: sda", checks)
        self.assertEqual(tree_digest(self.root), before)

    def test_check_exits_1_when_a_check_fails(self):
        out = tune(*self.common, "--check")
        self.assertEqual(out.returncode, 1, out.stdout + out.stderr)

    def test_apply_fixes_and_persists_then_check_passes(self):
        out = tune(*self.common, "--apply")
        self.assertEqual(out.returncode, 0, out.stdout + out.stderr)
        self.assertIn("vm.swappiness: 60 -> 1", out.stdout)
        expected = {
            "proc/sys/vm/swappiness": "1", "proc/sys/vm/dirty_background_ratio": "5",
            "proc/sys/vm/dirty_ratio": "10", "proc/sys/fs/aio-max-nr": "1048576",
            "proc/sys/fs/nr_open": "1048576", "proc/sys/net/core/somaxconn": "4096",
            "proc/sys/net/ipv4/tcp_max_syn_backlog": "4096",
            "proc/sys/kernel/numa_balancing": "0",
            "sys/kernel/mm/transparent_hugepage/enabled": "madvise",
            "sys/devices/system/clocksource/clocksource0/current_clocksource": "tsc",
            "sys/block/nvme0n1/queue/scheduler": "none",
            "sys/block/nvme0n1/queue/nomerges": "2",
            # Round-robin over the online CPUs.
            "proc/irq/41/smp_affinity_list": "0", "proc/irq/42/smp_affinity_list": "1",
            "proc/irq/43/smp_affinity_list": "2", "proc/irq/44/smp_affinity_list": "3",
            "proc/irq/50/smp_affinity_list": "0", "proc/irq/51/smp_affinity_list": "1",
            # The disk that does not hold the data dir is left alone.
            "sys/block/sda/queue/scheduler": "[bfq] mq-deadline none",
            "sys/block/sda/queue/nomerges": "0",
        }
        for cpu in range(4):
            expected[f"sys/devices/system/cpu/cpu{cpu}/cpufreq/scaling_governor"] = "performance"
        for rel, value in expected.items():
            self.assertEqual(read(self.root, rel), value, rel)

        sysctl = read(self.root, "etc/sysctl.d/60-wharf.conf").splitlines()
        for line in ["vm.swappiness = 1", "vm.dirty_background_ratio = 5", "vm.dirty_ratio = 10",
                     "fs.aio-max-nr = 1048576", "fs.nr_open = 1048576",
                     "net.core.somaxconn = 4096", "net.ipv4.tcp_max_syn_backlog = 4096",
                     "kernel.numa_balancing = 0"]:
            self.assertIn(line, sysctl)
        udev = read(self.root, "etc/udev/rules.d/60-wharf-io.rules").splitlines()
        self.assertIn('ACTION=="add|change", SUBSYSTEM=="block", KERNEL=="nvme0n1", '
                      'ATTR{queue/scheduler}="none", ATTR{queue/nomerges}="2"', udev)
        self.assertFalse(any("sda" in line for line in udev), udev)
        limits = read(self.root, "etc/security/limits.d/60-wharf.conf").splitlines()
        self.assertIn("*    soft nofile 1048576", limits)
        self.assertIn("root hard nofile 1048576", limits)

        out = tune(*self.common, "--check")
        self.assertEqual(out.returncode, 0, out.stdout + out.stderr)
        self.assertNotIn("FAIL", out.stdout)
        # A second --apply finds nothing to do and rewrites nothing.
        before = tree_digest(self.root)
        out = tune(*self.common, "--apply")
        self.assertEqual(out.returncode, 0, out.stderr)
        self.assertIn("nothing to change", out.stdout)
        self.assertEqual(tree_digest(self.root), before)

    def test_a_refused_write_is_an_error(self):
        # A file where the rules directory should be: the write fails even for root, as the
        # kernel's refusals do (an IRQ it manages, an unknown scheduler).
        write_tree(self.root, {"etc/udev/rules.d": "not a directory"})
        out = tune(*self.common, "--apply", "--format", "json")
        self.assertEqual(out.returncode, 1, out.stdout + out.stderr)
        result = json.loads(out.stdout)
        self.assertEqual(len(result["errors"]), 1, result["errors"])
        self.assertIn("60-wharf-io.rules", result["errors"][0])
        self.assertIn("60-wharf-io.rules", out.stderr)
        # Everything else was still applied.
        self.assertEqual(read(self.root, "proc/sys/vm/swappiness"), "1")
        self.assertTrue(any("vm.swappiness" in c for c in result["changes"]), result["changes"])

    def test_missing_files_are_unknown(self):
        empty = tempfile.TemporaryDirectory(prefix="wharf-tune-empty-")
        with empty:
            out = tune("--sys-root", empty.name, "--data-dir", "/var/lib/wharf", "--check",
                       "--format", "json")
            self.assertEqual(out.returncode, 0, out.stdout + out.stderr)
            checks = json.loads(out.stdout)["checks"]
            self.assertGreater(len(checks), 10)
            self.assertTrue(all(c["status"] == "unknown" for c in checks), checks)

    def test_apply_on_the_host_needs_root(self):
        user = 65534 if os.geteuid() == 0 else None  # nobody
        if user is not None:
            # In a scratch root whose "/" is mode 0700 (mktemp -d) nobody can run nothing at all.
            try:
                subprocess.run([WHARF, "--help"], capture_output=True, user=user, timeout=60)
            except PermissionError:
                self.skipTest("user nobody cannot execute the binary in this root")
        out = tune("--apply", "--data-dir", "/nonexistent", user=user)
        self.assertEqual(out.returncode, 1, out.stdout + out.stderr)
        self.assertIn("needs root", out.stderr)
        self.assertEqual(out.stdout, "")

    def test_bad_usage_exits_2(self):
        out = tune(*self.common, "--format", "xml")
        self.assertEqual(out.returncode, 2)
        out = tune(*self.common, "--frobnicate")
        self.assertEqual(out.returncode, 2)


if __name__ == "__main__":
    unittest.main()
