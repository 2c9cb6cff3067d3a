#!/usr/bin/env python3
"""deploy/systemd/wharf.service and wharf-tune.service: `systemd-analyze verify` accepts both
without a single warning, and they say what the package and the broker rely on (Type=notify,
the binary and config paths, the wharf user, /var/lib/wharf). systemd need not be running
(containers, CI): verify runs against a scratch root holding the host's own units, the two
units, and an executable at /usr/bin/wharf. A unit with a typo is caught, so the check can fail."""

import configparser
import os
import shutil
import subprocess
import tempfile
import unittest

from deploy_util import SOURCE_DIR, skip, skip_unless_tools

UNITS = os.path.join(SOURCE_DIR, "deploy", "systemd")
HOST_UNITS = "/usr/lib/systemd/system"


def read_unit(path):
    unit = configparser.ConfigParser(strict=False, interpolation=None, delimiters=("=",))
    unit.optionxform = str  # keys are case-sensitive
    unit.read(path)
    return unit


def scratch_root(tmp, units):
    """A root with the host's units (sysinit.target and friends, which every service
    depends on), the given unit files, and an executable /usr/bin/wharf."""
    unit_dir = os.path.join(tmp, "usr", "lib", "systemd", "system")
    shutil.copytree(HOST_UNITS, unit_dir, symlinks=True)
    os.symlink("usr/lib", os.path.join(tmp, "lib"))
    for path in units:
        shutil.copy(path, unit_dir)
    os.makedirs(os.path.join(tmp, "usr", "bin"))
    placeholder = os.path.join(tmp, "usr", "bin", "wharf")
    with open(placeholder, "w") as f:
        f.write("#!/bin/sh\nexit 0\n")
    os.chmod(placeholder, 0o755)
    return tmp


def verify(root, *names):
    r = subprocess.run(["systemd-analyze", "verify", f"--root={root}", *names],
                       capture_output=True, text=True, timeout=120)
    return r.returncode, (r.stdout + r.stderr).strip()


class systemd_units(unittest.TestCase):
    def setUp(self):
        self.tmp = tempfile.TemporaryDirectory(prefix="wharf-units-")
        self.units = [os.path.join(UNITS, n) for n in ("wharf.service", "wharf-tune.service")]

    def tearDown(self):
        self.tmp.cleanup()

    def test_systemd_analyze_verify_passes_without_warnings(self):
        root = scratch_root(os.path.join(self.tmp.name, "root"), self.units)
        code, out = verify(root, "wharf.service", "wharf-tune.service")
        self.assertEqual((code, out), (0, ""))

    def test_verify_sees_a_broken_unit(self):
        # The canary: systemd-analyze exits 0 on many mistakes, so the test also requires
        # silence; both must catch these.
        broken = os.path.join(self.tmp.name, "wharf.service")
        with open(self.units[0]) as f:
            text = f.read()
        for i, bad in enumerate([text.replace("Type=notify", "Tpye=notify"),
                    text.replace("LimitNOFILE=1048576", "LimitNOFILE=lots"),
                    text.replace("ExecStart=/usr/bin/wharf", "ExecStart=/usr/bin/wharff")]):
            self.assertNotEqual(bad, text)
            with open(broken, "w") as f:
                f.write(bad)
            root = os.path.join(self.tmp.name, f"root-{i}")
            scratch_root(root, [broken, self.units[1]])
            code, out = verify(root, "wharf.service")
            self.assertNotEqual((code, out), (0, ""), bad)

    def test_the_broker_unit_runs_the_packaged_binary_as_wharf(self):
        s = read_unit(self.units[0])["Service"]
        self.assertEqual(s["Type"], "notify")
        self.assertEqual(s["ExecStart"], "/usr/bin/wharf --config /etc/wharf/wharf.toml")
        self.assertEqual(s["User"], "wharf")
        self.assertEqual(s["StateDirectory"], "wharf")
        self.assertEqual(s["Restart"], "on-failure")
        self.assertEqual(s["LimitNOFILE"], "1048576")
        self.assertIn("TimeoutStopSec", s)
        self.assertEqual(s["RestartPreventExitStatus"], "2")  # a refused config stays down
        self.assertEqual(read_unit(self.units[0])["Install"]["WantedBy"], "multi-user.target")
        # The example config puts the data where StateDirectory= creates it.
        with open(os.path.join(SOURCE_DIR, "deploy", "wharf.toml")) as f:
            self.assertIn('\ndata-dir = "/var/lib/wharf"\n', f.read())

    def test_the_tuner_runs_once_before_the_broker(self):
        tune = read_unit(self.units[1])
        self.assertEqual(tune["Service"]["Type"], "oneshot")
        self.assertEqual(tune["Service"]["ExecStart"], "/usr/bin/wharf tune --apply")
        self.assertEqual(tune["Service"]["RemainAfterExit"], "yes")
        self.assertIn("wharf.service", tune["Unit"]["Before"].split())
        broker = read_unit(self.units[0])["Unit"]
        self.assertIn("wharf-tune.service", broker["After"].split())


if __name__ == "__main__":
    skip_unless_tools("systemd-analyze")
    if not os.path.isdir(HOST_UNITS):
        skip(f"{HOST_UNITS} missing (the systemd package installs it)")
    unittest.main(verbosity=2)
