#!/usr/bin/env python3
"""Three real brokers in one cluster (--node-id, --rpc-addr, --seeds) against
confluent-kafka-python: the cluster forms, a topic replicated on all three takes an idempotent
producer's acks=all records and gives them back in order, and when the broker that leads the
most partitions is SIGKILLed under a running producer, every record is still acknowledged (after
retries), none is lost or duplicated, and the broker rejoins from its data directory."""

import threading
import time
import unittest

from confluent_kafka import Consumer, KafkaError, KafkaException, Producer, TopicPartition
from confluent_kafka.admin import AdminClient, NewTopic

from wharf_cluster import FORM_TIMEOUT_S, Cluster, Deliveries

TIMEOUT_S = 60
PARTITIONS = 6


def create_topic(bootstrap, name, partitions, replication_factor):
    admin = AdminClient({"bootstrap.servers": bootstrap})
    futures = admin.create_topics([NewTopic(name, partitions, replication_factor)],
                                  operation_timeout=TIMEOUT_S, request_timeout=TIMEOUT_S)
    futures[name].result(timeout=TIMEOUT_S)


def watermark(consumer, topic, partition, timeout_s):
    """The high watermark, asked again while the client's metadata does not know the partition
    yet (another broker may be asked the next time)."""
    deadline = time.monotonic() + timeout_s
    while True:
        try:
            return consumer.get_watermark_offsets(TopicPartition(topic, partition),
                                                  timeout=min(5.0, timeout_s))[1]
        except KafkaException as e:
            if time.monotonic() >= deadline:
                raise AssertionError(f"no high watermark of {topic}/{partition} after "
                                     f"{timeout_s}s: {e}") from e
            # A leader that moved (leader balancing hands groups back to their preferred
            # broker): librdkafka does not refresh its metadata after a failed watermark query.
            try:
                consumer.list_topics(topic, timeout=5.0)
            except KafkaException:
                pass
            time.sleep(0.2)


def read_to_high_watermarks(bootstrap, tps, timeout_s=TIMEOUT_S, low=None):
    """Every record of the partitions `tps` ([(topic, partition)]) from `low` ({tp: offset},
    default 0) up to each one's high watermark: {tp: [(offset, key, int value)]}, the key
    decoded (None when absent). Assigned partitions, no group membership (librdkafka insists on
    a group.id; nothing is committed)."""
    c = Consumer({"bootstrap.servers": bootstrap, "group.id": "wharf-cluster-check",
                  "enable.auto.commit": False, "auto.offset.reset": "earliest",
                  "enable.partition.eof": False})
    try:
        high = {tp: watermark(c, tp[0], tp[1], timeout_s) for tp in tps}
        low = low or {tp: 0 for tp in tps}
        c.assign([TopicPartition(t, p, low[(t, p)]) for t, p in tps])
        got = {tp: [] for tp in tps}
        done = lambda tp: high[tp] == low[tp] or (got[tp] and got[tp][-1][0] >= high[tp] - 1)
        deadline = time.monotonic() + timeout_s
        while not all(done(tp) for tp in tps) and time.monotonic() < deadline:
            m = c.poll(0.5)
            if m is None:
                continue
            if m.error():
                if m.error().code() == KafkaError._PARTITION_EOF:
                    continue
                raise AssertionError(f"consume error: {m.error()}")
            key = m.key().decode() if m.key() is not None else None
            got[(m.topic(), m.partition())].append((m.offset(), key, int(m.value())))
        missing = {f"{t}/{p}": (got[(t, p)][-1][0] if got[(t, p)] else None, high[(t, p)])
                   for t, p in tps if not done((t, p))}
        if missing:
            raise AssertionError(f"consumed short of the high watermark after {timeout_s}s "
                                 f"(partition: (last offset, high watermark)): {missing}")
        return got
    finally:
        c.close()


def consume_all(bootstrap, topic, partitions, timeout_s=TIMEOUT_S, start_offsets=None):
    """Every record of every partition up to its high watermark: {partition: [(offset, value)]},
    from offset 0, or, when a dict `start_offsets` is given, from each partition's log start
    offset (which it is filled with)."""
    tps = [(topic, p) for p in range(partitions)]
    low = None
    if start_offsets is not None:
        c = Consumer({"bootstrap.servers": bootstrap, "group.id": "wharf-cluster-check"})
        try:
            start_offsets.update(
                {p: c.get_watermark_offsets(TopicPartition(topic, p), timeout=timeout_s)[0]
                 for p in range(partitions)})
        finally:
            c.close()
        low = {(topic, p): start_offsets[p] for p in range(partitions)}
    got = read_to_high_watermarks(bootstrap, tps, timeout_s, low)
    return {p: [(offset, value) for offset, _, value in got[(topic, p)]]
            for p in range(partitions)}


class cluster_test(unittest.TestCase):
    def setUp(self):
        self.cluster = Cluster(3, smp=2).start()

    def tearDown(self):
        self.cluster.close()

    def check_records(self, topic, acked):
        """Every acknowledged record is stored at its offset, each partition holds every value
        once and in produce order (values rise with the produce index). Every problem of every
        partition is reported at once."""
        got = consume_all(self.cluster.bootstrap, topic, PARTITIONS)
        acked_at = {(p, o): v for p, o, v in acked}
        problems = []
        for p in range(PARTITIONS):
            offsets = {}
            for o, v in got[p]:
                offsets.setdefault(v, []).append(o)
            dups = {v: [(o, "acked" if acked_at.get((p, o)) == v else "not acked") for o in os]
                    for v, os in offsets.items() if len(os) > 1}
            if dups:
                problems.append(f"partition {p}: {len(dups)} values stored more than once "
                                f"(value: its offsets): {dict(list(dups.items())[:10])}")
            disorder = [(a, b) for a, b in zip(got[p], got[p][1:]) if a[1] > b[1]]
            if disorder:
                problems.append(f"partition {p}: {len(disorder)} values out of produce order "
                                f"((offset, value) pairs): {disorder[:10]}")
            stored = dict(got[p])
            lost = sorted((o, v) for (part, o), v in acked_at.items()
                          if part == p and stored.get(o) != v)
            if lost:
                problems.append(f"partition {p}: {len(lost)} acknowledged records lost "
                                f"((offset, value)): {lost[:10]}; stored at those offsets: "
                                f"{[(o, stored.get(o)) for o, _ in lost[:10]]}")
        self.assertFalse(problems, "\n".join(problems) + "\n" + self.cluster.logs())
        return got

    def test_cluster_forms(self):
        took = self.cluster.wait_formed()
        print(f"cluster formed in {took:.1f}s", flush=True)
        # Right after an election a broker may still name the previous controller: they agree
        # within the same deadline.
        deadline = time.monotonic() + FORM_TIMEOUT_S - took
        while True:
            controllers = {}
            for n in range(3):
                md = self.cluster.metadata(n, timeout_s=TIMEOUT_S)
                self.assertEqual(sorted(md.brokers), [0, 1, 2], f"brokers known to node {n}")
                for i, b in md.brokers.items():
                    self.assertEqual((b.host, b.port),
                                     ("127.0.0.1", self.cluster.kafka_ports[i]))
                controllers[n] = md.controller_id
            if len(set(controllers.values())) == 1 or time.monotonic() > deadline:
                break
            time.sleep(0.2)
        self.assertEqual(len(set(controllers.values())), 1,
                         f"brokers disagree on the controller (node: controller): "
                         f"{controllers}\n{self.cluster.logs()}")

    def test_replicated_topic_round_trip(self):
        # Some broker sees the whole cluster (test_cluster_forms asks that of every broker).
        self.cluster.wait_formed(nodes=[None])
        create_topic(self.cluster.bootstrap, "t", PARTITIONS, 3)
        leaders = self.cluster.wait_leaders("t", PARTITIONS)
        print(f"leaders of t: {leaders}", flush=True)
        md = self.cluster.metadata(topic="t", timeout_s=TIMEOUT_S)
        for p, m in md.topics["t"].partitions.items():
            self.assertEqual(sorted(m.replicas), [0, 1, 2], f"replicas of t/{p}")

        d = Deliveries()
        p = Producer({"bootstrap.servers": self.cluster.bootstrap, "acks": "all",
                      "enable.idempotence": True, "linger.ms": 5})
        for i in range(2000):
            while True:
                try:
                    p.produce("t", value=str(i).encode(), partition=i % PARTITIONS,
                              on_delivery=d.report)
                    break
                except BufferError:
                    p.poll(0.1)
            p.poll(0)
        left = p.flush(TIMEOUT_S)
        per_partition = [sum(1 for part, _, _ in d.acked if part == k) for k in range(PARTITIONS)]
        self.assertEqual(left, 0, f"{left} records not delivered after {TIMEOUT_S}s; acknowledged "
                         f"per partition {per_partition} (leaders {leaders})\n"
                         f"{self.cluster.logs()}")
        self.assertFalse(d.errors, f"delivery errors: {d.errors[:5]}\n{self.cluster.logs()}")
        self.assertEqual(len(d.acked), 2000)

        got = self.check_records("t", d.acked)
        for part in range(PARTITIONS):
            self.assertEqual([v for _, v in got[part]], list(range(part, 2000, PARTITIONS)),
                             f"partition {part}")

    def test_failover_when_the_busiest_leader_is_killed(self):
        c = self.cluster
        c.wait_formed(nodes=[None])
        create_topic(c.bootstrap, "failover", PARTITIONS, 3)
        c.wait_leaders("failover", PARTITIONS)
        d = Deliveries()
        fatal = []
        stop = threading.Event()
        produced = [0]  # the next produce index, read by the test thread

        def on_error(err):
            if err.fatal():
                fatal.append(str(err))

        def run_producer():
            p = Producer({"bootstrap.servers": c.bootstrap, "acks": "all",
                          "enable.idempotence": True, "linger.ms": 5,
                          "message.timeout.ms": 120000, "reconnect.backoff.ms": 50,
                          "reconnect.backoff.max.ms": 200, "retry.backoff.ms": 50,
                          "error_cb": on_error})
            i = 0
            while not stop.is_set():
                # About 1000 records a second: enough to see the failover, little enough
                # that the sanitized brokers keep up on a small machine.
                for _ in range(5):
                    try:
                        p.produce("failover", value=str(i).encode(), partition=i % PARTITIONS,
                                  on_delivery=d.report)
                        i += 1
                        produced[0] = i
                    except BufferError:
                        break
                p.poll(0.005)
            p.flush(TIMEOUT_S)

        t = threading.Thread(target=run_producer)
        t.start()
        try:
            self.wait_acked(d, 1000, "records before the kill")
            leaders = c.wait_leaders("failover", PARTITIONS)
            counts = [list(leaders.values()).count(n) for n in range(3)]
            victim = max(range(3), key=lambda n: counts[n])
            led = [p for p, n in leaders.items() if n == victim]
            d.mark("kill", produced[0])
            kill_at = time.monotonic()
            c.kill(victim)
            print(f"killed node {victim}, leader of partitions {led} (leaders {leaders})",
                  flush=True)

            # Every partition, including those the victim led, takes new records.
            deadline = time.monotonic() + TIMEOUT_S
            while (not all(("kill", p) in d.first_after for p in range(PARTITIONS))
                   and time.monotonic() < deadline and not fatal):
                time.sleep(0.05)
            missing = [p for p in range(PARTITIONS) if ("kill", p) not in d.first_after]
            self.assertFalse(missing, f"partitions {missing} took no record within {TIMEOUT_S}s "
                             f"of the kill; errors {d.errors[:5]} {fatal}\n{c.logs()}")
            first = d.first_after[("kill", None)] - kill_at
            failover = max(d.first_after[("kill", p)] for p in led) - kill_at
            print(f"kill -> first acknowledged record produced after it: {first * 1000:.0f} ms; "
                  f"-> every partition of node {victim} acknowledged again: "
                  f"{failover * 1000:.0f} ms", flush=True)
            after_kill = d.count()
            self.wait_acked(d, after_kill + 1000, "records after the failover")

            c.start_broker(victim)
            # It has caught up with the controller: it agrees on every partition's leader.
            c.wait_leaders("failover", PARTITIONS)
            self.wait_acked(d, d.count() + 1000, "records after the restart")
        finally:
            stop.set()
            t.join(TIMEOUT_S + 30)
        self.assertFalse(t.is_alive(), "producer thread did not finish")
        self.assertFalse(fatal, f"fatal producer errors: {fatal}\n{c.logs()}")
        self.assertFalse(d.errors, f"delivery errors: {d.errors[:5]}\n{c.logs()}")
        self.assertEqual(len(d.acked), produced[0], "records without a delivery report")
        self.check_records("failover", d.acked)
        print(f"{len(d.acked)} records acknowledged, every one stored once and in order",
              flush=True)

    def test_consumer_group_survives_its_coordinators_kill(self):
        """A group commits offsets, its coordinator's broker is killed, and the group resumes
        from its committed offsets on the new coordinator (which loaded them from its log)."""
        c = self.cluster
        c.wait_formed(nodes=[None])
        create_topic(c.bootstrap, "g", 2, 3)
        c.wait_leaders("g", 2)
        # acks=1: answered at the leader's durable append, visible once committed.
        p = Producer({"bootstrap.servers": c.bootstrap, "acks": "1"})
        for i in range(400):
            p.produce("g", value=str(i).encode(), partition=i % 2)
        self.assertEqual(p.flush(TIMEOUT_S), 0)

        def consume(count):
            cons = Consumer({"bootstrap.servers": c.bootstrap, "group.id": "survivors",
                             "enable.auto.commit": False, "auto.offset.reset": "earliest",
                             "session.timeout.ms": 6000})
            cons.subscribe(["g"])
            values = []
            deadline = time.monotonic() + TIMEOUT_S
            try:
                while len(values) < count and time.monotonic() < deadline:
                    m = cons.poll(0.5)
                    if m is None or m.error():
                        continue
                    values.append(int(m.value()))
                    if len(values) == count:
                        cons.commit(asynchronous=False)
            finally:
                cons.close()
            return values

        first = consume(200)
        self.assertEqual(len(first), 200, f"first consumer got {len(first)}\n{c.logs()}")
        # The coordinator: the leader of the group's __consumer_offsets partition (Kafka's
        # Utils.abs(groupId.hashCode()) % partitions, Java's String.hashCode).
        h = 0
        for ch in "survivors":
            h = (31 * h + ord(ch)) & 0xFFFFFFFF
        h = h - (1 << 32) if h >= (1 << 31) else h
        offsets_partition = (0 if h == -(1 << 31) else abs(h)) % 50
        md = c.metadata(topic="__consumer_offsets", timeout_s=TIMEOUT_S)
        victim = md.topics["__consumer_offsets"].partitions[offsets_partition].leader
        c.kill(victim)
        print(f"killed node {victim}, coordinator of the group", flush=True)
        # The survivors stop listing it, and report it as an offline replica, out of the ISR.
        survivor = next(n for n in range(3) if n != victim)
        deadline = time.monotonic() + TIMEOUT_S
        while True:
            md = c.metadata(survivor, topic="g", timeout_s=TIMEOUT_S)
            part = md.topics["g"].partitions[0]
            if victim not in md.brokers and victim not in part.isrs:
                break
            self.assertLess(time.monotonic(), deadline,
                            f"node {survivor} still lists node {victim} after its kill")
            time.sleep(0.2)
        self.assertEqual(sorted(part.replicas), [0, 1, 2])
        rest = consume(200)
        self.assertEqual(sorted(first + rest), list(range(400)),
                         f"not every record exactly once across the coordinator's kill "
                         f"({len(first)} + {len(rest)})\n{c.logs()}")

    def wait_acked(self, deliveries, count, what):
        deadline = time.monotonic() + TIMEOUT_S
        while deliveries.count() < count and time.monotonic() < deadline:
            if deliveries.errors:
                break
            time.sleep(0.05)
        self.assertGreaterEqual(deliveries.count(), count,
                                f"{what}: {deliveries.count()} acknowledged; errors "
                                f"{deliveries.errors[:5]}\n{self.cluster.logs()}")


if __name__ == "__main__":
    unittest.main()
