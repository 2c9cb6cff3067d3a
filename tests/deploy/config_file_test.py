#!/usr/bin/env python3
"""The real wharf binary with --config: it runs from a TOML file alone, the command line wins,
a bad unit or an unknown key in the file stops start-up with exit code 2 and a message naming
the key and the file, and --print-config prints every setting with its source and exits 0
without starting. (The parsing rules themselves are tested in tests/core/config_file_test.cc.)"""

import os
import socket
import subprocess
import tempfile
import unittest

from deploy_util import port_open, process, wharf_binary

WHARF = wharf_binary()


class config_file(unittest.TestCase):
    def setUp(self):
        self.tmp = tempfile.TemporaryDirectory(prefix="wharf-config-")
        self.data = os.path.join(self.tmp.name, "data")
        self.config = os.path.join(self.tmp.name, "wharf.toml")
        self.procs = []

    def tearDown(self):
        for p in self.procs:
            p.kill()
        self.tmp.cleanup()

    def write(self, text):
        with open(self.config, "w") as f:
            f.write(text)

    def run_wharf(self, *args):
        return subprocess.run([WHARF, *args], capture_output=True, text=True, timeout=60)

    def base(self, port):
        return (f'data-dir = "{self.data}"\nkafka-addr = "127.0.0.1:{port}"\n'
                f'admin-addr = "127.0.0.1:0"\n'
                'overprovisioned = true\nsmp = 2\nmemory = "512MiB"\n')

    def test_runs_from_the_file_alone_and_the_command_line_wins(self):
        # The file names a port this test holds (bound, so no broker can listen on it); the
        # command line's port 0 must win: the broker serves on the port it got instead.
        held = socket.socket()
        self.addCleanup(held.close)
        held.bind(("127.0.0.1", 0))
        file_port = held.getsockname()[1]
        self.write(self.base(file_port) + 'log-level = "debug"\n')
        p = process([WHARF, "--config", self.config, "--kafka-addr", "127.0.0.1:0"])
        self.procs.append(p)
        port = p.kafka_port()
        out = p.output()
        self.assertNotEqual(port, file_port, out)
        self.assertTrue(port_open(port))
        self.assertIn("2 shards", out)
        self.assertIn("data in " + self.data, out)
        self.assertTrue(os.path.isdir(os.path.join(self.data, "shard-1")))
        self.assertIn(" debug [shard 0] reactor loop starts", out)  # log-level from the file
        self.assertEqual(p.stop(), 0, p.output())

    def test_a_bad_unit_stops_start_up_naming_the_key_and_the_file(self):
        self.write(self.base(0) + 'segment-bytes = "12XB"\n')
        r = self.run_wharf("--config", self.config)
        self.assertEqual(r.returncode, 2, r.stdout + r.stderr)
        self.assertIn(f"{self.config}:7: key 'segment-bytes'", r.stderr)
        self.assertIn("12XB", r.stderr)
        self.assertFalse(os.path.exists(self.data), "nothing may start")

    def test_an_unknown_key_stops_start_up_naming_it_and_the_file(self):
        self.write(self.base(0) + 'kafka-adress = "127.0.0.1:1"\n')
        r = self.run_wharf("--config", self.config)
        self.assertEqual(r.returncode, 2, r.stdout + r.stderr)
        self.assertIn(f"{self.config}:7: key 'kafka-adress'", r.stderr)
        self.assertIn("unknown key", r.stderr)

    def test_a_missing_file_stops_start_up(self):
        r = self.run_wharf("--config", self.config)
        self.assertEqual(r.returncode, 2, r.stdout + r.stderr)
        self.assertIn(self.config, r.stderr)

    def test_print_config_prints_every_setting_with_its_source_and_exits(self):
        self.write(self.base(9092))
        r = self.run_wharf("--config", self.config, "--print-config", "--fsync", "never")
        self.assertEqual(r.returncode, 0, r.stderr)
        self.assertIn(f'data-dir = "{self.data}"  # config file {self.config}\n', r.stdout)
        self.assertIn('fsync = "never"  # command line\n', r.stdout)
        self.assertIn('segment-bytes = "512MiB"  # default\n', r.stdout)
        self.assertFalse(os.path.exists(self.data), "--print-config must not start the broker")
        # The output is a config file the binary accepts back.
        self.write(r.stdout)
        again = self.run_wharf("--config", self.config, "--print-config")
        self.assertEqual(again.returncode, 0, again.stderr)
        self.assertIn('fsync = "never"  # config file', again.stdout)

    def test_help_lists_the_groups_and_the_config_flags(self):
        r = self.run_wharf("--help")
        self.assertEqual(r.returncode, 0)
        for group in ["Listeners:", "Limits:", "Runtime:", "Storage:", "Logging:",
                      "Configuration:"]:
            self.assertIn(group, r.stdout)
        for flag in ["--config", "--print-config"]:
            self.assertIn(flag, r.stdout)


if __name__ == "__main__":
    unittest.main(verbosity=2)
