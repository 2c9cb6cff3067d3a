#!/usr/bin/env python3
"""confluent-kafka-python (librdkafka) against the real broker: produce and consume, the admin
client's topic operations, the idempotent producer and every compression codec."""

import time
import unittest

from confluent_kafka import Consumer, KafkaError, KafkaException, Producer, TopicPartition
from confluent_kafka.admin import AdminClient, ConfigResource, NewPartitions, NewTopic

from wharf_broker import Broker

TIMEOUT_S = 60


def produce(bootstrap, topic, values, partition=None, **conf):
    p = Producer({"bootstrap.servers": bootstrap, "linger.ms": 5, **conf})
    errors, acked = [], []

    def report(err, msg):
        if err is not None:
            errors.append(err)
        else:
            acked.append((msg.partition(), msg.offset(), msg.value()))

    for i, v in enumerate(values):
        kwargs = {"on_delivery": report}
        if partition is not None:
            kwargs["partition"] = partition
        while True:
            try:
                p.produce(topic, value=v, key=str(i).encode(), **kwargs)
                break
            except BufferError:
                p.poll(0.1)
    left = p.flush(TIMEOUT_S)
    assert left == 0, f"{left} messages not delivered"
    assert not errors, f"delivery errors: {errors[:5]}"
    return acked


def consume(bootstrap, topic, partitions, count):
    c = Consumer({"bootstrap.servers": bootstrap, "group.id": "wharf-test-assign",
                  "enable.auto.commit": False, "enable.partition.eof": False})
    c.assign([TopicPartition(topic, p, 0) for p in partitions])
    got = []
    deadline = time.monotonic() + TIMEOUT_S
    while len(got) < count and time.monotonic() < deadline:
        m = c.poll(0.5)
        if m is None:
            continue
        if m.error():
            raise AssertionError(f"consume error: {m.error()}")
        got.append((m.partition(), m.offset(), m.value()))
    c.close()
    return got


def wait_all(futures):
    return {k: f.result(timeout=TIMEOUT_S) for k, f in futures.items()}


class confluent_test(unittest.TestCase):
    @classmethod
    def setUpClass(cls):
        cls.broker = Broker("--auto-create-topics", "false", smp=2).start()
        cls.admin = AdminClient({"bootstrap.servers": cls.broker.bootstrap})

    @classmethod
    def tearDownClass(cls):
        cls.broker.close()

    def create(self, name, partitions=1, config=None):
        wait_all(self.admin.create_topics([NewTopic(name, partitions, 1, config=config or {})]))

    def test_produce_consume_round_trip(self):
        self.create("plain", 3)
        values = [f"value-{i}".encode() for i in range(3000)]
        acked = produce(self.broker.bootstrap, "plain", values, acks="all")
        self.assertEqual(len(acked), len(values))
        got = consume(self.broker.bootstrap, "plain", range(3), len(values))
        self.assertEqual(sorted(v for _, _, v in got), sorted(values))
        self.assertEqual(sorted(got), sorted(acked))

    def test_admin_topics(self):
        b = self.broker.bootstrap
        self.create("admin-topic", 3, {"retention.ms": "3600000", "cleanup.policy": "delete"})
        md = self.admin.list_topics(timeout=TIMEOUT_S)
        self.assertIn("admin-topic", md.topics)
        self.assertEqual(len(md.topics["admin-topic"].partitions), 3)

        with self.assertRaises(KafkaException) as e:
            self.create("admin-topic", 3)
        self.assertEqual(e.exception.args[0].code(), KafkaError.TOPIC_ALREADY_EXISTS)
        with self.assertRaises(KafkaException) as e:
            self.create("bad/name", 1)
        self.assertEqual(e.exception.args[0].code(), KafkaError.TOPIC_EXCEPTION)
        with self.assertRaises(KafkaException) as e:
            wait_all(self.admin.create_topics([NewTopic("three-replicas", 1, 3)]))
        self.assertEqual(e.exception.args[0].code(), KafkaError.INVALID_REPLICATION_FACTOR)
        with self.assertRaises(KafkaException) as e:
            self.create("bad-config", 1, {"retention.ms": "soon"})
        self.assertEqual(e.exception.args[0].code(), KafkaError.INVALID_CONFIG)

        res = ConfigResource(ConfigResource.Type.TOPIC, "admin-topic")
        configs = list(wait_all(self.admin.describe_configs([res])).values())[0]
        self.assertEqual(configs["retention.ms"].value, "3600000")
        self.assertFalse(configs["retention.ms"].is_default)
        self.assertEqual(configs["segment.bytes"].value, "536870912")  # --segment-bytes
        self.assertTrue(configs["segment.bytes"].is_default)

        res.set_config("retention.ms", "7200000")
        wait_all(self.admin.alter_configs([res]))
        configs = list(wait_all(self.admin.describe_configs(
            [ConfigResource(ConfigResource.Type.TOPIC, "admin-topic")])).values())[0]
        self.assertEqual(configs["retention.ms"].value, "7200000")

        wait_all(self.admin.create_partitions([NewPartitions("admin-topic", 5)]))
        md = self.admin.list_topics(topic="admin-topic", timeout=TIMEOUT_S)
        self.assertEqual(len(md.topics["admin-topic"].partitions), 5)
        acked = produce(b, "admin-topic", [b"x"], partition=4)
        self.assertEqual(acked[0][:2], (4, 0))

        wait_all(self.admin.delete_topics(["admin-topic"]))
        md = self.admin.list_topics(timeout=TIMEOUT_S)
        self.assertNotIn("admin-topic", md.topics)
        with self.assertRaises(KafkaException) as e:
            wait_all(self.admin.delete_topics(["admin-topic"]))
        self.assertEqual(e.exception.args[0].code(), KafkaError.UNKNOWN_TOPIC_OR_PART)

    def test_idempotent_producer(self):
        self.create("idempotent", 2)
        values = [f"idem-{i}".encode() for i in range(5000)]
        acked = produce(self.broker.bootstrap, "idempotent", values, **{
            "enable.idempotence": True, "max.in.flight.requests.per.connection": 5,
            "linger.ms": 1, "batch.num.messages": 50})
        self.assertEqual(len(acked), len(values))
        got = consume(self.broker.bootstrap, "idempotent", range(2), len(values))
        self.assertEqual(sorted(got), sorted(acked))
        self.assertEqual(len(set(v for _, _, v in got)), len(values))

    def test_every_compression_codec(self):
        for codec in ("gzip", "snappy", "lz4", "zstd"):
            with self.subTest(codec=codec):
                topic = f"compressed-{codec}"
                self.create(topic, 1)
                values = [(f"{codec}-{i}-" + "x" * (i % 200)).encode() for i in range(2000)]
                acked = produce(self.broker.bootstrap, topic, values,
                                **{"compression.codec": codec, "linger.ms": 20})
                self.assertEqual(len(acked), len(values))
                got = consume(self.broker.bootstrap, topic, [0], len(values))
                self.assertEqual([v for _, _, v in sorted(got)], values)


if __name__ == "__main__":
    unittest.main()
