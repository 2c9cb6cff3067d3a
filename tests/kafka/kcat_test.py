#!/usr/bin/env python3
"""kcat (librdkafka) against the real broker on --smp 2: 100,000 keyed records into a
12-partition topic, all consumed back, every key in one partition, per-key order kept."""

import collections
import os
import subprocess
import tempfile
import unittest

from wharf_broker import Broker

RECORDS = 100_000
KEYS = 1_000


def kcat(*args, input_path=None, timeout_s=180):
    stdin = open(input_path, "rb") if input_path else subprocess.DEVNULL
    try:
        out = subprocess.run(["kcat", *args], stdin=stdin, capture_output=True,
                             timeout=timeout_s)
    finally:
        if input_path:
            stdin.close()
    return out


class kcat_test(unittest.TestCase):
    def setUp(self):
        self.broker = Broker("--default-partitions", "12", smp=2).start()

    def tearDown(self):
        self.broker.close()

    def test_keyed_records_round_trip_in_order(self):
        b = self.broker.bootstrap
        with tempfile.NamedTemporaryFile("w", delete=False) as f:
            for i in range(RECORDS):
                f.write(f"key-{i % KEYS}:{i}\n")
            path = f.name
        try:
            out = kcat("-b", b, "-t", "keyed", "-P", "-K:", "-l", "-X", "acks=all",
                       "-X", "linger.ms=5", input_path=path)
        finally:
            os.unlink(path)
        self.assertEqual(out.returncode, 0, out.stderr.decode() + self.broker.output())

        out = kcat("-b", b, "-L", "-t", "keyed")
        self.assertEqual(out.returncode, 0, out.stderr.decode())
        self.assertIn(b"12 partitions", out.stdout)

        out = kcat("-b", b, "-t", "keyed", "-C", "-o", "beginning", "-e", "-q",
                   "-f", "%k\t%s\t%p\t%o\n")
        self.assertEqual(out.returncode, 0, out.stderr.decode() + self.broker.output())
        lines = out.stdout.decode().splitlines()
        self.assertEqual(len(lines), RECORDS)
        partitions = collections.defaultdict(set)
        last = {}
        offsets = collections.defaultdict(list)
        seen = set()
        for line in lines:
            key, value, part, offset = line.split("\t")
            v = int(value)
            self.assertNotIn(v, seen, "a record was consumed twice")
            seen.add(v)
            partitions[key].add(part)
            offsets[part].append(int(offset))
            # kcat reads each partition in order; per key, values must increase.
            self.assertLess(last.get(key, -1), v, f"order broken for {key}")
            last[key] = v
        self.assertEqual(len(seen), RECORDS)
        for key, parts in partitions.items():
            self.assertEqual(len(parts), 1, f"{key} landed in partitions {parts}")
        self.assertGreater(len(offsets), 6, "keys should spread over the partitions")
        for part, offs in offsets.items():
            self.assertEqual(offs, list(range(len(offs))), f"offsets of partition {part}")


if __name__ == "__main__":
    unittest.main()
