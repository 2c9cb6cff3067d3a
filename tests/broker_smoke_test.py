#!/usr/bin/env python3
"""The real wharf binary: starts, logs its layout, stops cleanly on SIGTERM and SIGINT, exits at
once on a second signal, recovers its data directory on restart, and refuses bad flags with a
message naming the flag. Every wait is bounded; every process started is killed at the end."""

import os
import signal
import socket
import subprocess
import sys
import tempfile
import time
import unittest

WHARF = sys.argv.pop(1) if len(sys.argv) > 1 else "build/release/core/wharf"
START_TIMEOUT_S = 60


class broker:
    def __init__(self, data_dir, *flags, kafka_addr="127.0.0.1:0"):
        self.proc = subprocess.Popen(
            [WHARF, "--data-dir", data_dir, "--overprovisioned", "--kafka-addr", kafka_addr,
             "--admin-addr", "127.0.0.1:0", *flags],
            stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True,
            start_new_session=True)
        self.lines = []

    def wait_for(self, needle, timeout_s=START_TIMEOUT_S):
        deadline = time.monotonic() + timeout_s
        while time.monotonic() < deadline:
            line = self.proc.stdout.readline()
            if not line:
                break
            self.lines.append(line)
            if needle in line:
                return line
        raise AssertionError(f"'{needle}' not seen; output:\n{''.join(self.lines)}")

    def finish(self, timeout_s=30):
        out, _ = self.proc.communicate(timeout=timeout_s)
        self.lines.append(out)
        return self.proc.returncode

    def output(self):
        return "".join(self.lines)

    def kill(self):
        if self.proc.poll() is None:
            os.killpg(self.proc.pid, signal.SIGKILL)
            self.proc.wait()
        self.proc.stdout.close()


class broker_smoke(unittest.TestCase):
    def setUp(self):
        self.tmp = tempfile.TemporaryDirectory(prefix="wharf-smoke-")
        self.data = os.path.join(self.tmp.name, "data")
        self.brokers = []

    def tearDown(self):
        for b in self.brokers:
            b.kill()
        self.tmp.cleanup()

    def start(self, *flags, **kwargs):
        b = broker(self.data, *flags, **kwargs)
        self.brokers.append(b)
        return b

    def test_starts_logs_layout_and_stops_on_sigterm(self):
        b = self.start("--smp", "3")
        b.wait_for("wharf is running")
        out = b.output()
        self.assertIn("3 shards", out)
        for k in range(3):
            self.assertIn(f"[shard {k}]", out)
            self.assertIn(f"shard {k}: log", out)
            self.assertTrue(os.path.isdir(os.path.join(self.data, f"shard-{k}")))
        b.proc.send_signal(signal.SIGTERM)
        self.assertEqual(b.finish(), 0, b.output())
        self.assertIn("wharf stopped cleanly", b.output())

    def test_restart_recovers_and_moves_to_a_new_term(self):
        b = self.start("--smp", "2")
        b.wait_for("wharf is running")
        self.assertIn("term 1", b.output())
        b.proc.send_signal(signal.SIGINT)
        self.assertEqual(b.finish(), 0, b.output())
        b2 = self.start("--smp", "2")
        b2.wait_for("wharf is running")
        # The durable term survived; the new leadership is in a higher term.
        self.assertIn("leader in term 2", b2.output())
        b2.proc.send_signal(signal.SIGTERM)
        self.assertEqual(b2.finish(), 0, b2.output())

    def test_killed_broker_restarts(self):
        b = self.start("--smp", "2")
        b.wait_for("wharf is running")
        b.kill()
        b2 = self.start("--smp", "2")
        b2.wait_for("wharf is running")
        b2.proc.send_signal(signal.SIGTERM)
        self.assertEqual(b2.finish(), 0, b2.output())

    def test_address_still_in_use_is_waited_for(self):
        # As after a SIGKILL, when the kernel has not yet closed the dead process's listening
        # socket: the broker tries again for a while instead of exiting.
        held = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        held.bind(("127.0.0.1", 0))
        held.listen()
        port = held.getsockname()[1]
        try:
            b = self.start("--smp", "2", kafka_addr=f"127.0.0.1:{port}")
            b.wait_for("is in use")
        finally:
            held.close()
        b.wait_for("wharf is running")
        self.assertIn(f"Kafka API on 127.0.0.1:{port}", b.output())
        b.proc.send_signal(signal.SIGTERM)
        self.assertEqual(b.finish(), 0, b.output())

    def test_second_signal_exits_at_once(self):
        b = self.start("--smp", "2")
        b.wait_for("wharf is running")
        b.proc.send_signal(signal.SIGTERM)
        b.wait_for("stopping")
        b.proc.send_signal(signal.SIGTERM)
        code = b.finish()
        # Either the stop finished first (0) or the second signal cut it short (128 + 15).
        self.assertIn(code, (0, 128 + signal.SIGTERM), b.output())

    def test_bad_flags_are_refused_naming_the_flag(self):
        cases = [
            (["--smp", "0"], "--smp"),
            (["--smp", "abc"], "--smp"),
            (["--segment-bytes", "12XB"], "--segment-bytes"),
            (["--segment-ms", "soon"], "--segment-ms"),
            (["--fsync", "sometimes"], "--fsync"),
            (["--cpuset", "1-0"], "--cpuset"),
            (["--memory", "1KiB"], "--memory"),
            (["--log-level", "loud"], "--log-level"),
            (["--no-such-flag"], "--no-such-flag"),
        ]
        for flags, name in cases:
            p = subprocess.run([WHARF, "--data-dir", self.data, *flags], capture_output=True,
                               text=True, timeout=30)
            self.assertEqual(p.returncode, 2, f"{flags}: {p.stdout}{p.stderr}")
            self.assertIn(name, p.stdout + p.stderr, flags)

    def test_more_shards_than_cpus_needs_overprovisioned(self):
        n = len(os.sched_getaffinity(0)) + 1
        p = subprocess.run([WHARF, "--data-dir", self.data, "--smp", str(n)],
                           capture_output=True, text=True, timeout=30)
        self.assertEqual(p.returncode, 2, p.stdout + p.stderr)
        self.assertIn("--overprovisioned", p.stderr)
        self.assertIn(f"--smp {n}", p.stderr)

    def test_help_lists_flags_with_defaults(self):
        p = subprocess.run([WHARF, "--help"], capture_output=True, text=True, timeout=30)
        self.assertEqual(p.returncode, 0)
        for flag in ["--smp", "--cpuset", "--overprovisioned", "--poll-us", "--memory",
                     "--data-dir", "--segment-bytes", "--segment-ms", "--flush-interval-us",
                     "--fsync", "--max-batch-bytes", "--retention-check-interval", "--log-level"]:
            self.assertIn(flag, p.stdout)
        self.assertIn("512MiB", p.stdout)

    def test_corrupt_closed_segment_stops_startup_naming_the_file(self):
        b = self.start("--smp", "1")
        b.wait_for("wharf is running")
        b.proc.send_signal(signal.SIGTERM)
        self.assertEqual(b.finish(), 0)
        seg = os.path.join(self.data, "shard-0", "00000000000000000001.log")
        # Append garbage after the valid entries: a bad entry at the tail is a torn write and is
        # truncated, so the broker starts again.
        with open(seg, "ab") as f:
            f.write(b"\x01" * 20)
        b2 = self.start("--smp", "1")
        b2.wait_for("wharf is running")
        b2.proc.send_signal(signal.SIGTERM)
        self.assertEqual(b2.finish(), 0, b2.output())
        # Corrupt the first entry, which is followed by intact ones: that is not a torn tail.
        with open(seg, "r+b") as f:
            f.seek(20)
            byte = f.read(1)
            f.seek(20)
            f.write(bytes([byte[0] ^ 0xFF]))
        b3 = self.start("--smp", "1")
        code = b3.finish()
        self.assertEqual(code, 1, b3.output())
        self.assertIn("cannot start", b3.output())
        self.assertIn("00000000000000000001.log", b3.output())


if __name__ == "__main__":
    unittest.main(verbosity=2)
