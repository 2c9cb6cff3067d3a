#!/usr/bin/env python3
"""SIGKILL the broker while an idempotent producer sends acks=all records, restart it on the same
port and data directory: every acknowledged record is there, in order, exactly once."""

import threading
import time
import unittest

from confluent_kafka import Consumer, Producer, TopicPartition
from confluent_kafka.admin import AdminClient, NewTopic

from wharf_broker import Broker

TIMEOUT_S = 90


class durability_test(unittest.TestCase):
    def setUp(self):
        self.broker = Broker(smp=2).start()

    def tearDown(self):
        self.broker.close()

    def test_acknowledged_records_survive_sigkill(self):
        b = self.broker.bootstrap
        admin = AdminClient({"bootstrap.servers": b})
        admin.create_topics([NewTopic("durable", 2, 1)])["durable"].result(timeout=TIMEOUT_S)
        acked, errors = [], []
        stop = threading.Event()

        def report(err, msg):
            if err is None:
                acked.append((msg.partition(), msg.offset(), int(msg.value())))
            else:
                errors.append(err)

        def run_producer():
            p = Producer({"bootstrap.servers": b, "acks": "all", "enable.idempotence": True,
                          "linger.ms": 2, "message.timeout.ms": 120000,
                          "reconnect.backoff.max.ms": 200})
            i = 0
            while not stop.is_set():
                try:
                    p.produce("durable", value=str(i).encode(), partition=i % 2,
                              on_delivery=report)
                    i += 1
                except BufferError:
                    pass
                p.poll(0.001 if i % 100 else 0.01)
            p.flush(TIMEOUT_S)

        t = threading.Thread(target=run_producer)
        t.start()
        try:
            deadline = time.monotonic() + TIMEOUT_S
            while len(acked) < 2000 and time.monotonic() < deadline:
                time.sleep(0.05)
            self.assertGreaterEqual(len(acked), 2000, self.broker.output())
            before = len(acked)
            self.broker.restart(hard=True)
            deadline = time.monotonic() + TIMEOUT_S
            while len(acked) < before + 2000 and time.monotonic() < deadline:
                time.sleep(0.05)
        finally:
            stop.set()
            t.join(TIMEOUT_S + 30)
        self.assertFalse(errors, f"delivery errors: {errors[:5]}\n{self.broker.output()}")
        self.assertGreater(len(acked), before + 1000)

        c = Consumer({"bootstrap.servers": b, "group.id": "durability-check",
                      "enable.auto.commit": False})
        c.assign([TopicPartition("durable", p, 0) for p in range(2)])
        got = {0: [], 1: []}
        high = {p: c.get_watermark_offsets(TopicPartition("durable", p), TIMEOUT_S)[1]
                for p in range(2)}
        done = lambda p: got[p] and got[p][-1][0] >= high[p] - 1
        deadline = time.monotonic() + TIMEOUT_S
        while not all(done(p) for p in range(2)) and time.monotonic() < deadline:
            m = c.poll(0.5)
            if m is None or m.error():
                continue
            got[m.partition()].append((m.offset(), int(m.value())))
        c.close()
        for p in range(2):
            values = [v for _, v in got[p]]
            self.assertEqual(values, sorted(values), f"partition {p} out of order")
            self.assertEqual(len(values), len(set(values)), f"partition {p} has duplicates")
            stored = dict((o, v) for o, v in got[p])
            for part, offset, value in acked:
                if part == p:
                    self.assertEqual(stored.get(offset), value,
                                     f"acknowledged record {value} at {p}/{offset} lost")


if __name__ == "__main__":
    unittest.main()
