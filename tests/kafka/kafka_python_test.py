#!/usr/bin/env python3
"""kafka-python against the real broker: produce and consume, the admin client's topic
operations, the idempotent producer where the client has it, and the compression codecs."""

import unittest

from kafka import KafkaConsumer, KafkaProducer, TopicPartition
from kafka.admin import ConfigResource, ConfigResourceType, KafkaAdminClient, NewPartitions, NewTopic
from kafka.errors import InvalidPartitionsError, InvalidTopicError, TopicAlreadyExistsError

from wharf_broker import Broker

TIMEOUT_S = 60


def consume(bootstrap, topic, partitions, count):
    c = KafkaConsumer(bootstrap_servers=bootstrap, group_id=None, enable_auto_commit=False,
                      consumer_timeout_ms=TIMEOUT_S * 1000)
    c.assign([TopicPartition(topic, p) for p in partitions])
    for p in partitions:
        c.seek(TopicPartition(topic, p), 0)
    got = []
    for m in c:
        got.append((m.partition, m.offset, m.key, m.value))
        if len(got) >= count:
            break
    c.close()
    return got


def produce(bootstrap, topic, records, **conf):
    p = KafkaProducer(bootstrap_servers=bootstrap, linger_ms=5, **conf)
    futures = [p.send(topic, key=k, value=v) for k, v in records]
    acked = []
    for f in futures:
        md = f.get(timeout=TIMEOUT_S)
        acked.append((md.partition, md.offset))
    p.close(timeout=TIMEOUT_S)
    return acked


class kafka_python_test(unittest.TestCase):
    @classmethod
    def setUpClass(cls):
        cls.broker = Broker(smp=2).start()
        cls.admin = KafkaAdminClient(bootstrap_servers=cls.broker.bootstrap,
                                     request_timeout_ms=TIMEOUT_S * 1000)

    @classmethod
    def tearDownClass(cls):
        cls.admin.close()
        cls.broker.close()

    def test_produce_consume_round_trip(self):
        self.admin.create_topics([NewTopic("kp-plain", 4, 1)])
        records = [(f"k{i % 37}".encode(), f"v{i}".encode()) for i in range(4000)]
        acked = produce(self.broker.bootstrap, "kp-plain", records, acks="all")
        got = consume(self.broker.bootstrap, "kp-plain", range(4), len(records))
        self.assertEqual(sorted((p, o) for p, o, _, _ in got), sorted(acked))
        self.assertEqual(sorted((k, v) for _, _, k, v in got), sorted(records))
        by_key = {}
        for p, _, k, _ in got:
            self.assertEqual(by_key.setdefault(k, p), p, f"key {k} in two partitions")

    def test_auto_create_on_produce(self):
        acked = produce(self.broker.bootstrap, "kp-auto", [(None, b"hello")])
        self.assertEqual(acked, [(0, 0)])
        self.assertIn("kp-auto", self.admin.list_topics())

    def test_admin_topics(self):
        self.admin.create_topics([NewTopic("kp-admin", 2, 1, topic_configs={
            "retention.bytes": "1048576"})])
        with self.assertRaises(TopicAlreadyExistsError):
            self.admin.create_topics([NewTopic("kp-admin", 2, 1)])
        with self.assertRaises(InvalidTopicError):
            self.admin.create_topics([NewTopic("x" * 250, 1, 1)])
        with self.assertRaises(InvalidPartitionsError):
            self.admin.create_topics([NewTopic("kp-zero", 0, 1)])
        res = self.admin.describe_configs([ConfigResource(ConfigResourceType.TOPIC, "kp-admin")])
        entries = {e[0]: e[1] for e in res[0].resources[0][4]}
        self.assertEqual(entries["retention.bytes"], "1048576")
        self.admin.alter_configs([ConfigResource(ConfigResourceType.TOPIC, "kp-admin",
                                                 configs={"retention.bytes": "2097152"})])
        res = self.admin.describe_configs([ConfigResource(ConfigResourceType.TOPIC, "kp-admin")])
        entries = {e[0]: e[1] for e in res[0].resources[0][4]}
        self.assertEqual(entries["retention.bytes"], "2097152")
        self.admin.create_partitions({"kp-admin": NewPartitions(6)})
        desc = self.admin.describe_topics(["kp-admin"])
        self.assertEqual(len(desc[0]["partitions"]), 6)
        self.admin.delete_topics(["kp-admin"])
        self.assertNotIn("kp-admin", self.admin.list_topics())

    def test_compression_codecs(self):
        for codec in ("gzip", "snappy", "lz4", "zstd"):
            with self.subTest(codec=codec):
                topic = f"kp-{codec}"
                self.admin.create_topics([NewTopic(topic, 1, 1)])
                records = [(None, (f"{codec}-{i}-" + "y" * (i % 100)).encode())
                           for i in range(1000)]
                produce(self.broker.bootstrap, topic, records, compression_type=codec)
                got = consume(self.broker.bootstrap, topic, [0], len(records))
                self.assertEqual([v for _, _, _, v in got], [v for _, v in records])


if __name__ == "__main__":
    unittest.main()
