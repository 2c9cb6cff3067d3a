#!/usr/bin/env python3
"""Protocol-aware recovery against real brokers: a bit flip in the middle of one broker's log.

Three brokers, a replicated topic, 1500 acknowledged records. One broker is stopped and a byte in
the middle of its active segment is flipped, with many later writes intact after it: damage to
acknowledged data, which a lone broker refuses to start with. In a cluster the broker cuts its
log before the damaged entry, writes its repair marker, and neither votes nor stands for
election until the leader has repaired the log; then the marker goes. The test then kills one of
the two other brokers: the repaired broker and the one left must commit new acks=all records and
serve every acknowledged record, which they could not if the repair had left the repaired log
short."""

import glob
import os
import time
import unittest

from confluent_kafka import Producer

from cluster_test import consume_all, create_topic
from wharf_broker import wait_until
from wharf_cluster import Cluster, Deliveries

PARTITIONS = 3
RECORDS = 1500
TIMEOUT_S = 90
VICTIM = 2
MARKER = "repair.marker"


def produce(bootstrap, topic, first, count):
    """`count` values from `first`, acks=all, idempotent, one small request at a time so that
    the log holds many separate writes. Returns the Deliveries."""
    d = Deliveries()
    p = Producer({"bootstrap.servers": bootstrap, "acks": "all", "enable.idempotence": True,
                  "linger.ms": 0, "batch.num.messages": 20})
    for i in range(first, first + count):
        p.produce(topic, value=str(i).encode(), partition=i % PARTITIONS, on_delivery=d.report)
        if i % 20 == 0:
            p.flush(TIMEOUT_S)
    assert p.flush(TIMEOUT_S) == 0, "records left undelivered"
    return d


def flip_middle_byte(data_dir):
    """Flips one byte in the middle of each shard's newest segment; returns the files."""
    flipped = []
    for shard in sorted(glob.glob(os.path.join(data_dir, "shard-*"))):
        segments = sorted(glob.glob(os.path.join(shard, "*.log")))
        if not segments or os.path.getsize(segments[-1]) < 4096:
            continue
        path = segments[-1]
        with open(path, "r+b") as f:
            at = os.path.getsize(path) // 2
            f.seek(at)
            b = f.read(1)
            f.seek(at)
            f.write(bytes([b[0] ^ 0x5A]))
        flipped.append(path)
    return flipped


class corruption_repair_test(unittest.TestCase):
    def setUp(self):
        self.cluster = Cluster(3, smp=1).start()
        self.addCleanup(self.cluster.close)
        self.cluster.wait_formed(nodes=[None])

    def test_a_bit_flip_is_cut_off_and_repaired_from_the_leader(self):
        c = self.cluster
        create_topic(c.bootstrap, "flip", PARTITIONS, 3)
        c.wait_leaders("flip", PARTITIONS, timeout_s=TIMEOUT_S)
        before = produce(c.bootstrap, "flip", 0, RECORDS)
        self.assertFalse(before.errors, f"delivery errors: {before.errors[:5]}")

        victim = c.brokers[VICTIM]
        self.assertEqual(victim.stop(), 0, victim.output())
        flipped = flip_middle_byte(victim.data_dir)
        self.assertTrue(flipped, "no segment large enough to damage")
        print(f"flipped a byte in {flipped}", flush=True)
        c.start_broker(VICTIM)

        def marker_gone():
            return not glob.glob(os.path.join(victim.data_dir, "shard-*", MARKER))

        wait_until(lambda: "cutting the log before raft index" in victim.output(), 30,
                   "the damaged broker to cut its log")
        # Writes go on meanwhile; the repair needs a commit in the leader's current term.
        after = produce(c.bootstrap, "flip", RECORDS, 300)
        self.assertFalse(after.errors, f"delivery errors: {after.errors[:5]}")
        start = time.monotonic()
        try:
            wait_until(marker_gone, 60, "the repair to finish (marker removed)")
        except AssertionError:
            raise AssertionError(f"repair did not finish\n{c.logs()}") from None
        print(f"repaired {time.monotonic() - start:.1f}s after the writes", flush=True)
        self.assertIn("repaired from the leader", victim.output())

        # The repaired broker and one other must hold every acknowledged record, and commit new
        # ones together (acks=all needs both of them now). Clients wait for the new leaders
        # first: librdkafka's watermark query can block past its timeout on a dead leader.
        c.kill(0)
        c.wait_leaders("flip", PARTITIONS, timeout_s=TIMEOUT_S)
        live = ",".join(c.brokers[n].bootstrap for n in (1, 2))
        last = produce(live, "flip", RECORDS + 300, 100)
        self.assertFalse(last.errors, f"delivery errors: {last.errors[:5]}")
        got = consume_all(live, "flip", PARTITIONS, timeout_s=TIMEOUT_S)
        stored = {int(v) for part in got.values() for _, v in part}
        acked = {int(v) for _, _, v in before.acked + after.acked + last.acked}
        self.assertEqual(len(acked), RECORDS + 400)
        self.assertEqual(acked - stored, set(), f"acknowledged but lost\n{c.logs()}")


if __name__ == "__main__":
    unittest.main()
