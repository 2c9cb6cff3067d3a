#!/usr/bin/env python3
"""The Debian package (deploy/packaging.cmake): CPack builds it from this build tree (the binaries
`make test` already built; `make deb` does the same in build/release), then dpkg-deb shows
exactly the expected files, the control fields (runtime library dependencies from
dpkg-shlibdeps, the conffile) and the maintainer scripts. Extracted into a scratch root, the
paths of the units' ExecStart lines and the config file exist there, the packaged binary accepts
the packaged config, and systemd-analyze verifies the packaged units against that root. The
maintainer scripts run with fake commands to show what they would do to a host."""

import configparser
import glob
import os
import shlex
import shutil
import stat
import subprocess
import tempfile
import unittest

from deploy_util import skip_unless_tools

BUILD_DIR = os.environ.get("WHARF_BUILD_DIR", "")
PACKAGE_TIMEOUT_S = 480

EXPECTED_FILES = {
    "./usr/bin/wharf", "./usr/bin/wharf-bench",
    "./lib/systemd/system/wharf.service", "./lib/systemd/system/wharf-tune.service",
    "./etc/wharf/wharf.toml", "./usr/share/doc/wharf/README.md",
}
RUNTIME_PACKAGES = ["liburing2", "libhwloc15", "libnuma1", "libxxhash0", "libzstd1", "zlib1g",
                    "liblz4-1", "libsnappy1v5", "libspdlog1.10", "libfmt9", "adduser"]


def run(*args, **kw):
    r = subprocess.run(args, capture_output=True, text=True, timeout=kw.pop("timeout", 300), **kw)
    if r.returncode != 0:
        raise AssertionError(f"{shlex.join(args)} exited {r.returncode}:\n{r.stdout}{r.stderr}")
    return r.stdout


def exec_start(root, unit):
    parser = configparser.ConfigParser(strict=False, interpolation=None, delimiters=("=",))
    parser.optionxform = str
    parser.read(os.path.join(root, "lib", "systemd", "system", unit))
    return shlex.split(parser["Service"]["ExecStart"])


class deb_package(unittest.TestCase):
    @classmethod
    def setUpClass(cls):
        cls.tmp = tempfile.TemporaryDirectory(prefix="wharf-deb-")
        config = os.path.join(BUILD_DIR, "CPackConfig.cmake")
        if not os.path.isfile(config):
            raise AssertionError(f"{config} missing: WHARF_BUILD_DIR must be a configured tree")
        for target in ("core/wharf", "perf/wharf-bench"):
            if not os.access(os.path.join(BUILD_DIR, target), os.X_OK):
                raise AssertionError(f"{target} is not built in {BUILD_DIR}: build every target")
        out = os.path.join(cls.tmp.name, "out")
        # zstd instead of the release package's xz: the same package, much faster to make from
        # the large sanitizer binaries of a debug tree.
        run("cpack", "-G", "DEB", "--config", config, "-B", out,
            "-D", "CPACK_DEBIAN_COMPRESSION_TYPE=zstd", cwd=BUILD_DIR, timeout=PACKAGE_TIMEOUT_S)
        debs = glob.glob(os.path.join(out, "*.deb"))
        if len(debs) != 1:
            raise AssertionError(f"expected one .deb in {out}, found {debs}")
        cls.deb = debs[0]
        cls.root = os.path.join(cls.tmp.name, "root")
        run("dpkg-deb", "-x", cls.deb, cls.root)
        cls.control = os.path.join(cls.tmp.name, "control")
        run("dpkg-deb", "-e", cls.deb, cls.control)

    @classmethod
    def tearDownClass(cls):
        cls.tmp.cleanup()

    def field(self, name):
        return run("dpkg-deb", "-f", self.deb, name).strip()

    def test_the_package_holds_exactly_the_expected_files(self):
        listing = run("dpkg-deb", "-c", self.deb).splitlines()
        files = {line.split()[-1] for line in listing if not line.startswith("d")}
        self.assertEqual(files, EXPECTED_FILES)
        self.assertRegex(os.path.basename(self.deb), r"^wharf_[0-9][^_]*_[a-z0-9]+\.deb$")

    def test_control_fields_name_the_runtime_libraries(self):
        self.assertEqual(self.field("Package"), "wharf")
        depends = [d.strip().split()[0] for d in self.field("Depends").split(",")]
        for package in RUNTIME_PACKAGES:
            # dpkg-shlibdeps may name a virtual package: libspdlog1.10 provides
            # libspdlog1.10-fmt9, the spdlog built against this fmt.
            self.assertTrue(any(d == package or d.startswith(package + "-") for d in depends),
                            f"{package} not in Depends: {depends}")
        description = self.field("Description")
        self.assertIn("Kafka", description)
        self.assertNotIn(";", description)  # a CMake list where one string was meant

    def test_the_config_is_a_conffile_and_the_scripts_are_executable(self):
        with open(os.path.join(self.control, "conffiles")) as f:
            self.assertEqual(f.read().split(), ["/etc/wharf/wharf.toml"])
        for script in ("postinst", "prerm", "postrm"):
            mode = os.stat(os.path.join(self.control, script)).st_mode
            self.assertTrue(mode & stat.S_IXUSR, script)
            run("sh", "-n", os.path.join(self.control, script))

    def test_files_land_where_the_units_expect_them(self):
        argv = exec_start(self.root, "wharf.service")
        self.assertEqual(argv[:2], ["/usr/bin/wharf", "--config"])
        binary = os.path.join(self.root, argv[0].lstrip("/"))
        config = os.path.join(self.root, argv[2].lstrip("/"))
        self.assertTrue(os.access(binary, os.X_OK), argv[0])
        self.assertTrue(os.path.isfile(config), argv[2])
        tune = exec_start(self.root, "wharf-tune.service")
        self.assertTrue(os.access(os.path.join(self.root, tune[0].lstrip("/")), os.X_OK))
        # The packaged binary accepts the packaged config, which keeps the data where the unit's
        # StateDirectory= puts it.
        printed = run(binary, "--config", config, "--print-config", "--smp", "1")
        self.assertIn('data-dir = "/var/lib/wharf"  # config file', printed)

    def test_systemd_analyze_verifies_the_packaged_units(self):
        if shutil.which("systemd-analyze") is None or not os.path.isdir("/usr/lib/systemd/system"):
            self.skipTest("systemd-analyze or the host's unit tree is missing")
        root = os.path.join(self.tmp.name, "verify-root")
        shutil.copytree(self.root, root, symlinks=True)
        shutil.copytree("/usr/lib/systemd/system", os.path.join(root, "usr/lib/systemd/system"),
                        symlinks=True)
        r = subprocess.run(["systemd-analyze", "verify", f"--root={root}", "wharf.service",
                            "wharf-tune.service"], capture_output=True, text=True, timeout=120)
        self.assertEqual((r.returncode, (r.stdout + r.stderr).strip()), (0, ""))

    def run_script(self, script, *args, user_exists=False):
        """Runs a maintainer script with fake commands that log their arguments."""
        fakes = tempfile.mkdtemp(prefix=f"fakes-{script}-", dir=self.tmp.name)
        log = os.path.join(fakes, "calls.log")
        open(log, "w").close()
        for cmd in ("addgroup", "adduser", "install", "systemctl", "getent", "chown"):
            exit_code = 0 if cmd != "getent" or user_exists else 2
            with open(os.path.join(fakes, cmd), "w") as f:
                f.write(f'#!/bin/sh\necho "{cmd} $*" >> "{log}"\nexit {exit_code}\n')
            os.chmod(os.path.join(fakes, cmd), 0o755)
        env = dict(os.environ, PATH=f"{fakes}:/usr/bin:/bin")
        run("sh", os.path.join(self.control, script), *args, env=env)
        with open(log) as f:
            return [line.split() for line in f.read().splitlines()]

    def test_postinst_creates_the_user_and_the_data_directory(self):
        calls = self.run_script("postinst", "configure", "")
        adduser = [c for c in calls if c[0] == "adduser"]
        self.assertEqual(len(adduser), 1, calls)
        self.assertIn("--system", adduser[0])
        self.assertEqual(adduser[0][-1], "wharf")
        self.assertIn(["addgroup", "--quiet", "--system", "wharf"], calls)
        self.assertIn(["install", "-d", "-o", "wharf", "-g", "wharf", "-m", "0750",
                       "/var/lib/wharf"], calls)
        # Configured again (an upgrade): the user exists and is not created twice.
        again = self.run_script("postinst", "configure", "0.0.9", user_exists=True)
        self.assertFalse([c for c in again if c[0] in ("adduser", "addgroup")], again)
        self.assertIn(["install", "-d", "-o", "wharf", "-g", "wharf", "-m", "0750",
                       "/var/lib/wharf"], again)

    def test_prerm_disables_the_units_on_removal_only(self):
        calls = self.run_script("prerm", "remove")
        self.assertIn(["systemctl", "disable", "--quiet", "wharf.service", "wharf-tune.service"],
                      calls)
        self.assertFalse([c for c in self.run_script("prerm", "upgrade", "0.2.0")
                          if c[:2] == ["systemctl", "disable"]])


if __name__ == "__main__":
    skip_unless_tools("cpack", "dpkg-deb", "dpkg-shlibdeps", "file")
    unittest.main(verbosity=2)
