#!/usr/bin/env python3
"""kcat and kafka-python through a leader's SIGKILL in a cluster of three brokers: a producer
and a consumer run while the broker leading the most partitions of a replicated topic dies, and
neither sees an error beyond its own retries. (confluent-kafka-python does the same in
cluster_test.py.)

- kcat (librdkafka, idempotent, acks=all): every line it read is stored once, in order per
  partition, kcat exits 0 without a failed delivery or any error other than the dead broker's
  refused connections, and a kcat consumer started before the kill reads every value.
- kafka-python 2.0.2 (acks=all, one request in flight, retries): every send succeeds and every
  acknowledged value is stored, in order per partition; a consumer started before the kill reads
  every value. It has no idempotent producer, so a batch whose acknowledgement died with the
  leader is stored twice when it is retried, as with Kafka: duplicates are counted, not
  failed."""

import subprocess
import tempfile
import threading
import time
import unittest

from kafka import KafkaConsumer, KafkaProducer, TopicPartition

from cluster_test import create_topic
from wharf_cluster import Cluster

PARTITIONS = 3
RECORDS = 3000
KILL_AT = 1000
RATE = 500  # records a second
TIMEOUT_S = 90


def by_partition(records):
    """{partition: [value, ...]} in offset order, from (partition, offset, value)."""
    out = {}
    for p, o, v in sorted(records):
        out.setdefault(p, []).append(v)
    return out


def read_all(f):
    f.seek(0)
    return f.read()


class leader_kill_clients_test(unittest.TestCase):
    def setUp(self):
        self.cluster = Cluster(3, smp=1).start()
        self.addCleanup(self.cluster.close)
        self.cluster.wait_formed(nodes=[None])

    def topic_with_leaders(self, name):
        create_topic(self.cluster.bootstrap, name, PARTITIONS, 3)
        return self.cluster.wait_leaders(name, PARTITIONS, timeout_s=TIMEOUT_S)

    def kill_busiest(self, leaders):
        counts = [list(leaders.values()).count(n) for n in range(3)]
        victim = max(range(3), key=lambda n: counts[n])
        self.cluster.kill(victim)
        print(f"killed node {victim}, leader of "
              f"{sorted(p for p, n in leaders.items() if n == victim)}", flush=True)
        return victim

    def assert_stored_in_order(self, got, expected_values, allow_duplicates=False):
        """got: {partition: [value]}. Every expected value is there, each once unless
        duplicates are allowed, and values increase within each partition (judged by where each
        is stored first: a retried batch comes again after the one that followed it). Returns
        the duplicate count."""
        counts = {}
        problems = []
        for p, values in got.items():
            first = []
            for v in values:
                counts[v] = counts.get(v, 0) + 1
                if counts[v] == 1:
                    first.append(v)
            disorder = [(a, b) for a, b in zip(first, first[1:]) if b < a]
            if disorder:
                problems.append(f"partition {p}: values out of order: {disorder[:10]}")
        missing = sorted(set(expected_values) - set(counts))
        if missing:
            problems.append(f"{len(missing)} values lost: {missing[:10]}")
        dups = sum(n - 1 for n in counts.values())
        if dups and not allow_duplicates:
            problems.append(f"{dups} values stored more than once")
        self.assertFalse(problems, "\n".join(problems) + "\n" + self.cluster.logs())
        return dups

    def test_kcat_producer_and_consumer(self):
        c = self.cluster
        leaders = self.topic_with_leaders("kcat-kill")
        common = ["-b", c.bootstrap, "-t", "kcat-kill", "-X", "reconnect.backoff.ms=50",
                  "-X", "reconnect.backoff.max.ms=200", "-X", "retry.backoff.ms=50"]
        consumer_log = tempfile.TemporaryFile("w+")
        consumer = subprocess.Popen(
            ["kcat", "-C", *common, "-o", "beginning", "-u", "-f", "%p %o %s\\n"],
            stdout=subprocess.PIPE, stderr=consumer_log, text=True)
        self.addCleanup(consumer.kill)
        consumed = []
        done = threading.Event()

        def read_consumer():
            for line in consumer.stdout:
                p, o, v = line.split()
                consumed.append((int(p), int(o), int(v)))
                if len(consumed) >= RECORDS:
                    done.set()

        reader = threading.Thread(target=read_consumer, daemon=True)
        reader.start()
        producer_log = tempfile.TemporaryFile("w+")
        producer = subprocess.Popen(
            ["kcat", "-P", *common, "-X", "enable.idempotence=true", "-X", "acks=all",
             "-X", "linger.ms=5", "-X", "message.timeout.ms=120000"],
            stdin=subprocess.PIPE, stdout=subprocess.DEVNULL, stderr=producer_log, text=True)
        self.addCleanup(producer.kill)
        start = time.monotonic()
        for i in range(RECORDS):
            if i == KILL_AT:
                self.kill_busiest(leaders)
            producer.stdin.write(f"{i}\n")
            producer.stdin.flush()
            time.sleep(max(0.0, start + (i + 1) / RATE - time.monotonic()))
        producer.stdin.close()
        try:
            producer.wait(timeout=TIMEOUT_S)
        except subprocess.TimeoutExpired:
            self.fail(f"kcat -P did not finish within {TIMEOUT_S}s\n{c.logs()}")
        errors = read_all(producer_log)
        # kcat prints librdkafka's error callback, which reports the dead broker's refused
        # connections ("Broker transport failure"): retried by the client, not failures.
        failed = [line for line in errors.splitlines()
                  if ("Delivery failed" in line or "ERROR" in line or "FATAL" in line)
                  and "Broker transport failure" not in line]
        self.assertEqual(producer.returncode, 0, f"kcat -P exit {producer.returncode}: "
                         f"{failed[:5]}\n{c.logs()}")
        self.assertFalse(failed, f"kcat -P reported failures: {failed[:5]}\n{c.logs()}")
        done.wait(TIMEOUT_S)
        consumer.kill()
        consumer.wait()
        reader.join(10)
        got = by_partition(consumed)
        self.assertEqual(len(consumed), RECORDS, f"kcat -C read {len(consumed)} of {RECORDS}: "
                         f"{read_all(consumer_log)[-2000:]}\n{c.logs()}")
        self.assert_stored_in_order(got, range(RECORDS))

    def test_kafka_python_producer_and_consumer(self):
        c = self.cluster
        leaders = self.topic_with_leaders("kp-kill")
        consumed = []
        done = threading.Event()
        stop = threading.Event()
        consumer_errors = []

        def consume():
            try:
                cons = KafkaConsumer(bootstrap_servers=c.bootstrap, group_id=None,
                                     enable_auto_commit=False, retry_backoff_ms=100,
                                     reconnect_backoff_ms=50, reconnect_backoff_max_ms=200)
                tps = [TopicPartition("kp-kill", p) for p in range(PARTITIONS)]
                cons.assign(tps)
                cons.seek_to_beginning(*tps)
                values = set()
                while not stop.is_set() and len(values) < RECORDS:
                    for records in cons.poll(timeout_ms=200).values():
                        for m in records:
                            consumed.append((m.partition, m.offset, int(m.value)))
                            values.add(int(m.value))
                cons.close()
            except Exception as e:  # noqa: BLE001 - reported by the test thread
                consumer_errors.append(repr(e))
            done.set()

        reader = threading.Thread(target=consume, daemon=True)
        reader.start()
        p = KafkaProducer(bootstrap_servers=c.bootstrap, acks="all", linger_ms=5, retries=1000,
                          retry_backoff_ms=100, request_timeout_ms=10000,
                          max_in_flight_requests_per_connection=1, reconnect_backoff_ms=50,
                          reconnect_backoff_max_ms=200)
        futures = []
        start = time.monotonic()
        for i in range(RECORDS):
            if i == KILL_AT:
                self.kill_busiest(leaders)
            futures.append((i, p.send("kp-kill", value=str(i).encode(),
                                      partition=i % PARTITIONS)))
            time.sleep(max(0.0, start + (i + 1) / RATE - time.monotonic()))
        p.flush(timeout=TIMEOUT_S)
        send_errors = []
        for i, f in futures:
            try:
                f.get(timeout=TIMEOUT_S)
            except Exception as e:  # noqa: BLE001 - every failure is reported
                send_errors.append(f"{i}: {e!r}")
        p.close(timeout=TIMEOUT_S)
        self.assertFalse(send_errors, f"{len(send_errors)} sends failed: {send_errors[:5]}\n"
                         f"{c.logs()}")
        done.wait(TIMEOUT_S)
        stop.set()
        reader.join(10)
        self.assertFalse(consumer_errors, f"consumer: {consumer_errors}\n{c.logs()}")
        dups = self.assert_stored_in_order(by_partition(consumed), range(RECORDS),
                                           allow_duplicates=True)
        print(f"kafka-python: {RECORDS} sends acknowledged, {dups} stored twice by retries",
              flush=True)


if __name__ == "__main__":
    unittest.main()
