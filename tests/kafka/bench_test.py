#!/usr/bin/env python3
"""wharf-bench end to end against the real broker (issue 5, section 3): short runs in which every
acknowledged record must be consumed exactly once by every group, the result JSON and the HTML
report are written and parse, `compare` renders two results, and bad usage or an unreachable
broker fail with the documented exit codes."""

import json
import os
import subprocess
import tempfile
import unittest
import xml.etree.ElementTree as ElementTree

from wharf_broker import Broker

RUN_TIMEOUT_S = 180


def bench_binary():
    path = os.environ.get("WHARF_BENCH")
    if not path:
        raise SystemExit("WHARF_BENCH must name the wharf-bench binary")
    return path


def bench(*args, timeout_s=RUN_TIMEOUT_S):
    return subprocess.run([bench_binary(), *args], capture_output=True, text=True,
                          timeout=timeout_s)


class bench_test(unittest.TestCase):
    @classmethod
    def setUpClass(cls):
        cls.broker = Broker("--group-initial-rebalance-delay", "200ms", smp=2).start()
        cls.tmp = tempfile.TemporaryDirectory(prefix="wharf-bench-test-")

    @classmethod
    def tearDownClass(cls):
        cls.broker.close()
        cls.tmp.cleanup()

    def path(self, name):
        return os.path.join(self.tmp.name, name)

    def workload(self, name, text):
        p = self.path(name)
        with open(p, "w") as f:
            f.write(text)
        return p

    def run_bench(self, workload, name, *extra):
        out = bench("run", "-b", self.broker.bootstrap, "-w", workload, "--quiet",
                    "--output", self.path(name + ".json"), "--report", self.path(name + ".html"),
                    "--label", name, *extra)
        self.assertEqual(out.returncode, 0, out.stdout + out.stderr)
        with open(self.path(name + ".json")) as f:
            result = json.load(f)
        ElementTree.parse(self.path(name + ".html"))  # well-formed, so browsers render it
        return result, out.stdout

    def check_delivery(self, r, groups):
        self.assertTrue(r["delivery_checked"])
        self.assertGreater(r["acked_total"], 0)
        self.assertEqual(r["duplicates"], 0)
        self.assertEqual(r["missing"], 0)
        self.assertEqual(r["consumed_total"], groups * r["acked_total"])

    def test_fixed_rate_run_delivers_every_record_once_and_reports(self):
        w = self.workload("fixed.toml", """
name = "smoke fixed rate"
partitions = 6
message_size = 512B
key_distribution = "round-robin"
[producer]
producers = 3
rate = 3000
[consumer]
groups = 2
consumers_per_group = 2
[run]
duration = 3s
warmup = 1s
""")
        r, stdout = self.run_bench(w, "fixed", "--smp", "2")
        self.check_delivery(r, groups=2)
        self.assertIn("delivery", stdout)
        self.assertTrue(r["co_corrected"])
        # About 3000 msg/s were asked for: the rate limiter keeps the producers from running
        # ahead of the schedule. How close to 3000 they get depends on the machine (a loaded
        # 2-core CI runner falls well behind), so the lower bound only shows that records flowed
        # in the measured window at a rate of the asked order; delivery is checked above.
        self.assertGreater(r["produce_msgs_per_s"], 300)
        self.assertLess(r["produce_msgs_per_s"], 4000)
        self.assertGreater(r["produce_latency"]["count"], 0)
        self.assertGreater(r["e2e_latency"]["count"], 0)
        self.assertLessEqual(r["e2e_latency"]["p50_us"], r["e2e_latency"]["p99_us"])
        self.assertGreater(len(r["timeline"]), 2)
        self.assertEqual(r["settings"]["partitions"], "6")
        with open(self.path("fixed.html")) as f:
            html = f.read()
        self.assertIn("<svg", html)
        self.assertIn("fixed", html)

    def test_unlimited_idempotent_compressed_keyed_run(self):
        w = self.workload("unlimited.toml", """
name = "smoke unlimited"
partitions = 4
message_sizes = [100, 1KiB]
key_distribution = "random"
[producer]
producers = 2
[consumer]
groups = 1
consumers_per_group = 3
[run]
duration = 2s
""")
        r, _ = self.run_bench(w, "unlimited", "--compression", "lz4", "--idempotence",
                              "--max-in-flight", "5")
        self.check_delivery(r, groups=1)
        self.assertEqual(r["settings"]["compression"], "lz4")
        self.assertFalse(r["co_corrected"])
        # compare renders both runs, ratios against the first.
        out = bench("compare", self.path("unlimited.json"), self.path("unlimited.json"),
                    "--report", self.path("compare.html"))
        self.assertEqual(out.returncode, 0, out.stderr)
        self.assertIn("unlimited", out.stdout)
        self.assertIn("1.00", out.stdout)
        ElementTree.parse(self.path("compare.html"))
        # `wharf bench` is the same tool.
        out = subprocess.run([os.environ["WHARF_BIN"], "bench", "compare",
                              self.path("unlimited.json")], capture_output=True, text=True,
                             timeout=60)
        self.assertEqual(out.returncode, 0, out.stderr)
        self.assertIn("unlimited", out.stdout)

    def test_catch_up_reads_the_backlog_from_the_beginning(self):
        w = self.workload("catchup.toml", """
name = "smoke catch-up"
partitions = 2
message_size = 1KiB
[producer]
rate = 2000
[consumer]
groups = 1
consumers_per_group = 1
backlog = 1MiB
[run]
duration = 2s
""")
        r, _ = self.run_bench(w, "catchup")
        self.check_delivery(r, groups=1)
        self.assertGreaterEqual(r["acked_total"] * 1024, 1 << 20)

    def test_bad_usage_and_unreachable_brokers(self):
        w = self.workload("tiny.toml", "partitions = 1\n[run]\nduration = 1s\n")
        out = bench("run", "-b", self.broker.bootstrap, "-w", self.path("missing.toml"))
        self.assertEqual(out.returncode, 2)
        self.assertIn("missing.toml", out.stderr)
        out = bench("run", "-b", self.broker.bootstrap, "-w", w, "--acks", "2")
        self.assertEqual(out.returncode, 2)
        self.assertIn("--acks", out.stderr)
        out = bench("run", "-b", self.broker.bootstrap, "-w", w, "--message-size", "8B")
        self.assertEqual(out.returncode, 2)
        self.assertIn("stamp", out.stderr)
        # Nothing listens on port 1.
        out = bench("run", "-b", "127.0.0.1:1", "-w", w, timeout_s=60)
        self.assertEqual(out.returncode, 1)
        self.assertIn("cannot reach", out.stderr)


if __name__ == "__main__":
    unittest.main()
