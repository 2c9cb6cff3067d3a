#!/usr/bin/env python3
"""A broker that was down while retention deleted the segments it still needed catches up from a
raft snapshot (the leader's prefix checkpoint), then serves as a full replica: with another
broker killed, the cluster takes acks=all records only if the restarted broker appends and
acknowledges them, and every record above the start offsets reads back once and in order."""

import glob
import os
import time
import unittest

from confluent_kafka import Producer
from confluent_kafka.admin import AdminClient, NewTopic

from cluster_test import consume_all
from wharf_cluster import Cluster, Deliveries

TIMEOUT_S = 90
PARTITIONS = 4
RECORD = 1024


def raft_lines(cluster):
    """Every broker's log lines about raft and snapshots (the tail alone may miss them)."""
    out = []
    for n, b in enumerate(cluster.brokers):
        lines = [l for l in b.output().splitlines()
                 if "raft" in l or "snapshot" in l or "error" in l or "[shard 1]" in l]
        out.append(f"----- node {n}: {len(lines)} raft lines, the last 60 -----")
        out.extend(lines[-60:])
    return "\n".join(out)


def wait_for(cond, what, cluster, timeout_s=TIMEOUT_S):
    deadline = time.monotonic() + timeout_s
    while not cond():
        if time.monotonic() >= deadline:
            raise AssertionError(f"{what} after {timeout_s}s\n{raft_lines(cluster)}\n"
                                 f"{cluster.logs(30)}")
        time.sleep(0.25)


def produce(bootstrap, topic, first, count):
    d = Deliveries()
    p = Producer({"bootstrap.servers": bootstrap, "acks": "all", "enable.idempotence": True,
                  "linger.ms": 5, "message.timeout.ms": TIMEOUT_S * 1000})
    for i in range(first, first + count):
        while True:
            try:
                p.produce(topic, value=(b"%d" % i).ljust(RECORD), partition=i % PARTITIONS,
                          on_delivery=d.report)
                break
            except BufferError:
                p.poll(0.05)
        p.poll(0)
    left = p.flush(TIMEOUT_S)
    return d, left


class cluster_snapshot_test(unittest.TestCase):
    def setUp(self):
        # Small segments and a retention pass every second, so that a few MB of records make
        # the leaders delete old segments within the test.
        self.cluster = Cluster(3, smp=2, flags=("--segment-bytes", "1MiB",
                                                "--retention-check-interval", "1s")).start()

    def tearDown(self):
        self.cluster.close()

    def checkpoints(self, node):
        return glob.glob(os.path.join(self.cluster.brokers[node].data_dir, "shard-*",
                                      "prefix.checkpoint"))

    def test_restarted_follower_catches_up_from_a_snapshot(self):
        c = self.cluster
        c.wait_formed(nodes=[None])
        admin = AdminClient({"bootstrap.servers": c.bootstrap})
        fs = admin.create_topics([NewTopic("snap", PARTITIONS, 3,
                                           config={"retention.bytes": "65536"})],
                                 operation_timeout=TIMEOUT_S, request_timeout=TIMEOUT_S)
        fs["snap"].result(timeout=TIMEOUT_S)
        c.wait_leaders("snap", PARTITIONS)

        behind = 2
        c.kill(behind)
        self.assertFalse(self.checkpoints(behind), "node 2 deleted segments before the test")
        acked = []
        first = 0
        # Until both live brokers have deleted segments below what node 2 holds (the leader
        # deletes first; a follower once it has replicated the leader's retention).
        deadline = time.monotonic() + TIMEOUT_S
        while not (self.checkpoints(0) and self.checkpoints(1)):
            self.assertLess(time.monotonic(), deadline,
                            f"no leader deleted a segment\n{c.logs(60)}")
            d, left = produce(c.bootstrap, "snap", first, 2000)
            self.assertEqual(left, 0, f"records not delivered\n{c.logs(60)}")
            self.assertFalse(d.errors, f"delivery errors {d.errors[:5]}\n{c.logs(60)}")
            acked += d.acked
            first += 2000
            time.sleep(1.5)
        print(f"{first} records produced with node {behind} down; checkpoints: "
              f"{self.checkpoints(0) + self.checkpoints(1)}", flush=True)

        c.start_broker(behind)
        wait_for(lambda: "installing the leader's snapshot" in c.brokers[behind].output(),
                 f"node {behind} installed no snapshot", c)
        wait_for(lambda: self.checkpoints(behind), f"node {behind} has no checkpoint", c)

        # Node 2 must now be a full replica: with node 1 down, nothing commits without it.
        c.wait_formed(nodes=[None])
        c.kill(1)
        c.wait_leaders("snap", PARTITIONS)
        d, left = produce(c.bootstrap, "snap", first, 500)
        self.assertEqual(left, 0, f"records not delivered with node 1 down\n{c.logs(80)}")
        self.assertFalse(d.errors, f"delivery errors {d.errors[:5]}\n{c.logs(80)}")
        acked += d.acked
        first += 500

        starts = {}
        parts = consume_all(c.bootstrap, "snap", PARTITIONS, TIMEOUT_S, start_offsets=starts)
        acked_at = {(p, o): v for p, o, v in acked}
        for p, got in parts.items():
            low = starts[p]
            self.assertEqual([o for o, _ in got], list(range(low, low + len(got))),
                             f"partition {p}: offsets not contiguous from {low}")
            values = [v for _, v in got]
            self.assertEqual(values, sorted(set(values)), f"partition {p}: duplicates or disorder")
            stored = dict(got)
            lost = [(o, v) for (q, o), v in acked_at.items()
                    if q == p and o >= low and stored.get(o) != v]
            self.assertFalse(lost, f"partition {p}: acknowledged records lost {lost[:10]}")
            self.assertGreater(low, 0, f"partition {p}: retention moved nothing")
        print(f"read back {sum(len(g) for g in parts.values())} records above the start "
              f"offsets {list(starts.values())}", flush=True)


if __name__ == "__main__":
    unittest.main()
