#!/usr/bin/env python3
"""Hostile and malformed input on the Kafka port: random bytes, truncated frames, a 2 GiB length
prefix, unknown API keys, unsupported versions, invalid topic names, negative partition counts and
corrupt record batches. The broker answers with an error or closes the connection, stays up, and
the data written before reads back intact."""

import os
import random
import struct
import subprocess
import time
import unittest

from wharf_broker import Broker, connect, read_frame, request_frame, wait_until

API_PRODUCE, API_METADATA, API_API_VERSIONS, API_CREATE_TOPICS = 0, 3, 18, 19


def crc32c(data):
    crc = 0xFFFFFFFF
    for b in data:
        crc ^= b
        for _ in range(8):
            crc = (crc >> 1) ^ (0x82F63B78 if crc & 1 else 0)
    return crc ^ 0xFFFFFFFF


def varint(n):
    n = (n << 1) ^ (n >> 63)
    out = b""
    while True:
        b = n & 0x7F
        n >>= 7
        if n:
            out += bytes([b | 0x80])
        else:
            return out + bytes([b])


def record_batch(values, producer_id=-1, producer_epoch=-1, base_sequence=-1):
    """A v2 batch of `values`; idempotent when given a producer id, epoch and base sequence."""
    records = b""
    for i, v in enumerate(values):
        body = b"\x00" + varint(0) + varint(i) + varint(-1) + varint(len(v)) + v + varint(0)
        records += varint(len(body)) + body
    now = int(time.time() * 1000)
    after_crc = struct.pack(">hiqqqhii", 0, len(values) - 1, now, now, producer_id, producer_epoch,
                            base_sequence, len(values))
    after_crc += records
    crc = crc32c(after_crc)
    after_length = struct.pack(">ib", -1, 2) + struct.pack(">I", crc) + after_crc
    return struct.pack(">qi", 0, len(after_length)) + after_length


def string(s):
    b = s.encode()
    return struct.pack(">h", len(b)) + b


def produce_v3(topic, partition, batch, acks=-1):
    body = struct.pack(">hhi", -1, acks, 10000)
    body += struct.pack(">i", 1) + string(topic) + struct.pack(">i", 1)
    body += struct.pack(">ii", partition, len(batch)) + batch
    return body


def parse_produce_v3(resp):
    """(error_code, base_offset) of the single partition in a Produce v3 response."""
    pos = 4 + 4  # correlation id, topic count
    (name_len,) = struct.unpack_from(">h", resp, pos)
    pos += 2 + name_len + 4  # name, partition count
    _, error, base = struct.unpack_from(">ihq", resp, pos)
    return error, base


def metadata_v1_topic_error(resp):
    pos = 4
    (brokers,) = struct.unpack_from(">i", resp, pos)
    pos += 4
    for _ in range(brokers):
        pos += 4
        (hl,) = struct.unpack_from(">h", resp, pos)
        pos += 2 + hl + 4
        (rl,) = struct.unpack_from(">h", resp, pos)
        pos += 2 + max(rl, 0)
    pos += 4 + 4  # controller id, topic count
    (error,) = struct.unpack_from(">h", resp, pos)
    return error


class bad_input_test(unittest.TestCase):
    @classmethod
    def setUpClass(cls):
        cls.broker = Broker("--max-request-bytes", "1MiB", smp=2).start()
        lines = "".join(f"k{i}:value-{i}\n" for i in range(200)).encode()
        out = subprocess.run(["kcat", "-b", cls.broker.bootstrap, "-t", "before", "-P", "-K:"],
                             input=lines, capture_output=True, timeout=60)
        assert out.returncode == 0, out.stderr

    @classmethod
    def tearDownClass(cls):
        cls.broker.close()

    def tearDown(self):
        self.assertTrue(self.broker.alive(), self.broker.output())
        # The broker still answers a well-formed request on a new connection.
        s = connect(self.broker.port)
        s.sendall(request_frame(API_API_VERSIONS, 0, 7, b""))
        resp = read_frame(s)
        s.close()
        self.assertIsNotNone(resp, self.broker.output())
        self.assertEqual(struct.unpack_from(">ih", resp), (7, 0))

    def assert_closed(self, s):
        self.assertIsNone(read_frame(s))
        s.close()

    def test_random_bytes(self):
        rng = random.Random(42)
        for _ in range(20):
            s = connect(self.broker.port, timeout_s=5)
            try:
                s.sendall(bytes(rng.getrandbits(8) for _ in range(rng.randint(1, 4096))))
            except (BrokenPipeError, ConnectionResetError):
                pass
            s.close()

    def test_truncated_frame_then_close(self):
        s = connect(self.broker.port)
        s.sendall(struct.pack(">i", 100) + b"\x00\x12\x00\x00")
        s.close()

    def test_huge_length_prefix_closes(self):
        s = connect(self.broker.port)
        s.sendall(struct.pack(">i", 0x7FFFFFFF) + b"\x00" * 16)
        self.assert_closed(s)
        wait_until(lambda: "larger than the 1048576-byte limit" in self.broker.output(),
                   what="the oversized frame's log line")

    def test_negative_length_prefix_closes(self):
        s = connect(self.broker.port)
        s.sendall(struct.pack(">i", -5))
        self.assert_closed(s)

    def test_unknown_api_key_closes(self):
        s = connect(self.broker.port)
        s.sendall(request_frame(999, 0, 1, b""))
        self.assert_closed(s)

    def test_unsupported_api_versions_version(self):
        s = connect(self.broker.port)
        # A newer client's ApiVersions: flexible header, a body this broker cannot know.
        s.sendall(request_frame(API_API_VERSIONS, 99, 5, b"\x03abc\x021\x00", flexible=True))
        resp = read_frame(s)
        s.close()
        corr, error = struct.unpack_from(">ih", resp)
        self.assertEqual((corr, error), (5, 35))  # UNSUPPORTED_VERSION, in v0 format
        (count,) = struct.unpack_from(">i", resp, 6)
        keys = {struct.unpack_from(">hhh", resp, 10 + 6 * i)[0] for i in range(count)}
        self.assertTrue({0, 1, 2, 3, 18, 19}.issubset(keys))

    def test_unsupported_produce_version(self):
        # Produce v0-2 are advertised (librdkafka enables compression only then) but answered
        # with UNSUPPORTED_VERSION per partition; the v1 body is v3's without transactional id.
        s = connect(self.broker.port)
        s.sendall(request_frame(API_PRODUCE, 1, 5, produce_v3("x", 0, record_batch([b"a"]))[2:]))
        self.assertEqual(parse_produce_v3(read_frame(s))[0], 35)
        s.sendall(request_frame(API_METADATA, 99, 6, b""))
        self.assert_closed(s)

    def test_invalid_topic_name_in_metadata(self):
        s = connect(self.broker.port)
        body = struct.pack(">i", 1) + string("bad/name!")
        s.sendall(request_frame(API_METADATA, 1, 9, body))
        resp = read_frame(s)
        s.close()
        self.assertEqual(metadata_v1_topic_error(resp), 17)  # INVALID_TOPIC_EXCEPTION

    def test_negative_partition_count(self):
        s = connect(self.broker.port)
        body = struct.pack(">i", 1) + string("negative") + struct.pack(">ihi", -3, 1, 0)
        body += struct.pack(">i", 0) + struct.pack(">ib", 10000, 0)
        s.sendall(request_frame(API_CREATE_TOPICS, 2, 11, body))
        resp = read_frame(s)
        s.close()
        # v2: throttle, topics [name, error code, error message]
        pos = 4 + 4 + 4
        (nl,) = struct.unpack_from(">h", resp, pos)
        (error,) = struct.unpack_from(">h", resp, pos + 2 + nl)
        self.assertEqual(error, 37)  # INVALID_PARTITIONS

    def test_corrupt_and_valid_batches(self):
        s = connect(self.broker.port)
        good = record_batch([b"one", b"two"])
        s.sendall(request_frame(API_PRODUCE, 3, 1, produce_v3("raw", 0, good)))
        self.assertEqual(parse_produce_v3(read_frame(s)), (0, 0))
        bad = bytearray(good)
        bad[-3] ^= 0xFF
        s.sendall(request_frame(API_PRODUCE, 3, 2, produce_v3("raw", 0, bytes(bad))))
        self.assertEqual(parse_produce_v3(read_frame(s))[0], 2)  # CORRUPT_MESSAGE
        s.sendall(request_frame(API_PRODUCE, 3, 3, produce_v3("raw", 0, good[:40])))
        self.assertIn(parse_produce_v3(read_frame(s))[0], (2, 87))  # CORRUPT / INVALID_RECORD
        s.sendall(request_frame(API_PRODUCE, 3, 4, produce_v3("raw", 0, good, acks=7)))
        self.assertEqual(parse_produce_v3(read_frame(s))[0], 21)  # INVALID_REQUIRED_ACKS
        s.sendall(request_frame(API_PRODUCE, 3, 5, produce_v3("raw", 0, good)))
        self.assertEqual(parse_produce_v3(read_frame(s)), (0, 2))
        s.close()

    def test_zz_earlier_data_intact(self):
        out = subprocess.run(["kcat", "-b", self.broker.bootstrap, "-t", "before", "-C", "-e",
                              "-q", "-o", "beginning", "-f", "%k:%s\n"],
                             capture_output=True, timeout=60)
        self.assertEqual(out.returncode, 0, out.stderr)
        got = sorted(out.stdout.decode().splitlines())
        self.assertEqual(got, sorted(f"k{i}:value-{i}" for i in range(200)))


if __name__ == "__main__":
    unittest.main()
