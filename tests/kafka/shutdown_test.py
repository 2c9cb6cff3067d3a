#!/usr/bin/env python3
"""SIGTERM stops the broker promptly and cleanly while consumers sit in long polls (Fetch with a
60 s max wait) and producers are connected: the listener wakes the waiting fetches instead of
waiting for their deadlines."""

import subprocess
import time
import unittest

from wharf_broker import Broker, wait_until


class shutdown_test(unittest.TestCase):
    def test_sigterm_with_long_polls_in_flight(self):
        broker = Broker("--default-partitions", "4", smp=2).start()
        consumers = []
        try:
            out = subprocess.run(["kcat", "-b", broker.bootstrap, "-t", "idle", "-P"],
                                 input=b"one\n", capture_output=True, timeout=60)
            self.assertEqual(out.returncode, 0, out.stderr)
            for _ in range(3):
                consumers.append(subprocess.Popen(
                    ["kcat", "-b", broker.bootstrap, "-t", "idle", "-C", "-o", "end", "-q",
                     "-X", "fetch.wait.max.ms=60000"],
                    stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL))
            time.sleep(2)  # let them reach their long polls (not needed for correctness)
            started = time.monotonic()
            code = broker.stop(timeout_s=30)
            elapsed = time.monotonic() - started
            self.assertEqual(code, 0, broker.output())
            self.assertLess(elapsed, 20, "stopping waited for the long polls' deadlines")
            wait_until(lambda: "wharf stopped cleanly" in broker.output(), 10, "clean stop line")
        finally:
            for c in consumers:
                c.kill()
                c.wait()
            broker.close()


if __name__ == "__main__":
    unittest.main()
