#!/usr/bin/env python3
"""compression.type on topics: a topic whose compression.type is not `producer` stores every
batch in its codec, recompressing what producers send in another codec (or uncompressed), and
consumers read every record back. The stored codec is checked in the raw Fetch response (Fetch
v4 through kafka-python's protocol classes), batch by batch, with each batch's CRC."""

import struct
import time
import unittest

from confluent_kafka import Producer
from confluent_kafka.admin import AdminClient, NewTopic
from kafka import KafkaConsumer, KafkaProducer
from kafka import TopicPartition as KafkaPythonTopicPartition
from kafka.protocol.fetch import FetchRequest, FetchResponse
from kafka.record.memory_records import MemoryRecords

from confluent_test import consume as confluent_consume
from wharf_broker import Broker, connect, read_frame, request_frame

TIMEOUT_S = 60
# Kafka's codec ids in a batch's attributes.
CODEC_IDS = {"uncompressed": 0, "none": 0, "gzip": 1, "snappy": 2, "lz4": 3, "zstd": 4}


def produce(bootstrap, topic, values, codec):
    p = Producer({"bootstrap.servers": bootstrap, "linger.ms": 20, "compression.codec": codec,
                  "batch.num.messages": 200})
    errors = []

    def report(err, _msg):
        if err is not None:
            errors.append(err)

    for i, v in enumerate(values):
        while True:
            try:
                p.produce(topic, value=v, key=str(i).encode(), partition=0, on_delivery=report)
                break
            except BufferError:
                p.poll(0.1)
    left = p.flush(TIMEOUT_S)
    assert left == 0, f"{left} messages not delivered"
    assert not errors, f"delivery errors: {errors[:5]}"


def produce_kafka_python(bootstrap, topic, values, codec):
    """kafka-python writes lz4 batches; librdkafka sends lz4 only to brokers whose advertised
    APIs it associates with lz4 support, and falls back to uncompressed batches otherwise."""
    p = KafkaProducer(bootstrap_servers=bootstrap, compression_type=codec, linger_ms=20)
    futures = [p.send(topic, value=v, key=str(i).encode(), partition=0)
               for i, v in enumerate(values)]
    for f in futures:
        f.get(timeout=TIMEOUT_S)
    p.close()


def consume_confluent(bootstrap, topic, count):
    # The values of partition 0, in offset order (confluent_test's consumer).
    return [v for _, _, v in sorted(confluent_consume(bootstrap, topic, [0], count))]


def consume_kafka_python(bootstrap, topic, count):
    c = KafkaConsumer(bootstrap_servers=bootstrap, group_id=None, enable_auto_commit=False,
                      consumer_timeout_ms=TIMEOUT_S * 1000)
    tp = KafkaPythonTopicPartition(topic, 0)
    c.assign([tp])
    c.seek(tp, 0)
    got = []
    for m in c:
        got.append(m.value)
        if len(got) == count:
            break
    c.close()
    return got


def fetch_stored_batches(port, topic, end_offset):
    """Every batch of partition 0 as stored: (codec id, crc ok, [(offset, value)])."""
    batches = []
    offset = 0
    sock = connect(port)
    try:
        for correlation_id in range(1, 1000):
            if offset >= end_offset:
                return batches
            req = FetchRequest[4](replica_id=-1, max_wait_time=100, min_bytes=1,
                                  max_bytes=8 << 20, isolation_level=0,
                                  topics=[(topic, [(0, offset, 8 << 20)])])
            sock.sendall(request_frame(1, 4, correlation_id, req.encode()))
            body = read_frame(sock)
            assert body is not None, "the broker closed the connection"
            (got_id,) = struct.unpack(">i", body[:4])
            assert got_id == correlation_id
            resp = FetchResponse[4].decode(body[4:])
            part = resp.topics[0][1][0]
            assert part[1] == 0, f"fetch error {part[1]}"
            records = MemoryRecords(part[5])
            while True:
                batch = records.next_batch()
                if batch is None:
                    break
                crc_ok = batch.validate_crc()  # before iterating, which decompresses
                values = [(r.offset, r.value) for r in batch]
                batches.append((batch.compression_type, crc_ok, values))
                offset = values[-1][0] + 1
    finally:
        sock.close()
    raise AssertionError("too many fetches")


class compression_topic_test(unittest.TestCase):
    @classmethod
    def setUpClass(cls):
        cls.broker = Broker("--auto-create-topics", "false").start()
        cls.admin = AdminClient({"bootstrap.servers": cls.broker.bootstrap})

    @classmethod
    def tearDownClass(cls):
        cls.broker.close()

    def create(self, name, config):
        futures = self.admin.create_topics([NewTopic(name, 1, 1, config=config)])
        for f in futures.values():
            f.result(timeout=TIMEOUT_S)

    def check_topic(self, topic, target, producer_codecs):
        """Produces with each codec in turn (librdkafka, or kafka-python for "kafka-python:<codec>");
        every stored batch must be in `target`."""
        b = self.broker.bootstrap
        self.create(topic, {"compression.type": target})
        values = []
        for codec in producer_codecs:
            batch_values = [(f"{codec}-{i}-" + "v" * (i % 300)).encode() for i in range(1500)]
            if codec.startswith("kafka-python:"):
                produce_kafka_python(b, topic, batch_values, codec.split(":")[1])
            else:
                produce(b, topic, batch_values, codec)
            values += batch_values

        stored = fetch_stored_batches(self.broker.port, topic, len(values))
        self.assertGreater(len(stored), len(producer_codecs))
        for codec_id, crc_ok, _ in stored:
            self.assertEqual(codec_id, CODEC_IDS[target])
            self.assertTrue(crc_ok)
        offsets = [o for _, _, recs in stored for o, _ in recs]
        self.assertEqual(offsets, list(range(len(values))))
        self.assertEqual([v for _, _, recs in stored for _, v in recs], values)

        self.assertEqual(consume_confluent(b, topic, len(values)), values)
        self.assertEqual(consume_kafka_python(b, topic, len(values)), values)

    def test_gzip_topic_stores_gzip_batches(self):
        self.check_topic("gzip-topic", "gzip", ["zstd", "none"])

    def test_every_target_codec(self):
        for target, sources in (("snappy", ["gzip", "none"]), ("lz4", ["zstd", "snappy"]),
                                ("zstd", ["kafka-python:lz4", "none"]), ("uncompressed", ["gzip", "zstd"])):
            with self.subTest(target=target):
                self.check_topic(f"{target}-topic", target, sources)

    def test_producer_keeps_each_batch_codec(self):
        b = self.broker.bootstrap
        self.create("producer-topic", {"compression.type": "producer"})
        produce_kafka_python(b, "producer-topic", [b"a" * 100] * 500, "lz4")
        produce(b, "producer-topic", [b"b" * 100] * 500, "none")
        produce(b, "producer-topic", [b"c" * 100] * 500, "snappy")
        stored = fetch_stored_batches(self.broker.port, "producer-topic", 1500)
        self.assertEqual([c for c, _, _ in stored][:1], [CODEC_IDS["lz4"]])
        self.assertEqual({c for c, _, _ in stored},
                         {CODEC_IDS["lz4"], CODEC_IDS["none"], CODEC_IDS["snappy"]})


if __name__ == "__main__":
    unittest.main()
