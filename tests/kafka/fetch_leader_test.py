#!/usr/bin/env python3
"""Fetch v16 leader discovery (KIP-951) against three real brokers, in raw frames: a follower of a
partition answers a consumer's Fetch v16 NOT_LEADER_OR_FOLLOWER, names the leader and its epoch
in CurrentLeader and lists the leader's Kafka host and port in the response's NodeEndpoints; at
v15 the CurrentLeader comes without NodeEndpoints, and the leader serves the same fetch. Every
broker advertises Fetch up to v16. The wire format is written out here from Kafka's message JSON,
independently of Wharf's generated codec."""

import struct
import time
import unittest
import uuid

from confluent_kafka.admin import AdminClient, NewTopic

from wharf_broker import connect, read_frame, request_frame
from wharf_cluster import Cluster

TIMEOUT_S = 60
API_FETCH, API_METADATA, API_API_VERSIONS = 1, 3, 18
NOT_LEADER_OR_FOLLOWER = 6
TOPIC = "fetch-leader"


# --- flexible-version encoding -----------------------------------------------------------------
def uvarint(n):
    out = b""
    while True:
        b = n & 0x7F
        n >>= 7
        if n:
            out += bytes([b | 0x80])
        else:
            return out + bytes([b])


def compact_string(s):
    b = s.encode()
    return uvarint(len(b) + 1) + b


class reader:
    """Reads a flexible-version body; every read checks the bytes left."""

    def __init__(self, data):
        self.data = data
        self.pos = 0

    def take(self, n):
        if self.pos + n > len(self.data):
            raise AssertionError(f"response ends at {len(self.data)} bytes, {n} more wanted at "
                                 f"{self.pos}")
        out = self.data[self.pos:self.pos + n]
        self.pos += n
        return out

    def unpack(self, fmt):
        (v,) = struct.unpack(fmt, self.take(struct.calcsize(fmt)))
        return v

    def int8(self):
        return self.unpack(">b")

    def int16(self):
        return self.unpack(">h")

    def int32(self):
        return self.unpack(">i")

    def int64(self):
        return self.unpack(">q")

    def uuid(self):
        return uuid.UUID(bytes=self.take(16))

    def uvarint(self):
        shift, out = 0, 0
        while True:
            b = self.take(1)[0]
            out |= (b & 0x7F) << shift
            if not b & 0x80:
                return out
            shift += 7

    def nullable_string(self):
        n = self.uvarint()
        return None if n == 0 else self.take(n - 1).decode()

    def string(self):
        s = self.nullable_string()
        if s is None:
            raise AssertionError("null where a string is not nullable")
        return s

    def array(self, item):
        """A compact array (None when null) of item(self) each."""
        n = self.uvarint()
        return None if n == 0 else [item(self) for _ in range(n - 1)]

    def tags(self):
        """The tagged fields: {tag: reader over its bytes}."""
        out = {}
        for _ in range(self.uvarint()):
            tag = self.uvarint()
            out[tag] = reader(self.take(self.uvarint()))
        return out

    def at_end(self):
        return self.pos == len(self.data)


def call(sock, api_key, version, correlation_id, body, flexible=True):
    """Sends one request and returns a reader over the response body (header skipped)."""
    sock.sendall(request_frame(api_key, version, correlation_id, body, flexible=flexible))
    frame = read_frame(sock)
    if frame is None:
        raise AssertionError(f"API {api_key} v{version}: the broker closed the connection")
    r = reader(frame)
    got = r.int32()
    if got != correlation_id:
        raise AssertionError(f"correlation id {got}, expected {correlation_id}")
    if flexible and api_key != API_API_VERSIONS:
        r.tags()  # response header v1
    return r


# --- the requests --------------------------------------------------------------------------------
def api_versions(sock):
    """ApiVersions v0: {api key: (min, max)}."""
    r = call(sock, API_API_VERSIONS, 0, 1, b"", flexible=False)
    error = r.int16()
    if error != 0:
        raise AssertionError(f"ApiVersions error {error}")
    out = {}
    for _ in range(r.int32()):
        key, lo, hi = r.int16(), r.int16(), r.int16()
        out[key] = (lo, hi)
    return out


def metadata_v12(sock, topic):
    """Metadata v12 of one topic: (brokers {node: (host, port)}, topic id, partition 0's
    (error, leader, leader epoch))."""
    body = uvarint(2) + bytes(16) + compact_string(topic) + b"\x00"  # topics: one, by name
    body += b"\x00" + b"\x00" + b"\x00"  # no auto-creation, no topic operations, no tags
    r = call(sock, API_METADATA, 12, 2, body)
    r.int32()  # throttle

    def broker(b):
        node, host, port, _rack = b.int32(), b.string(), b.int32(), b.nullable_string()
        b.tags()
        return node, (host, port)

    def partition(p):
        error, index, leader, epoch = p.int16(), p.int32(), p.int32(), p.int32()
        for _ in range(3):  # replicas, ISR, offline replicas
            p.array(lambda q: q.int32())
        p.tags()
        return index, (error, leader, epoch)

    def topic_md(t):
        error, name, topic_id, _internal = t.int16(), t.nullable_string(), t.uuid(), t.int8()
        partitions = dict(t.array(partition) or [])
        t.int32()  # authorized operations
        t.tags()
        return name, (error, topic_id, partitions)

    brokers = dict(r.array(broker))
    r.nullable_string()  # cluster id
    r.int32()  # controller
    topics = dict(r.array(topic_md))
    r.tags()
    error, topic_id, partitions = topics[topic]
    return brokers, (topic_id if error == 0 else None), partitions.get(0)


def fetch(sock, version, topic_id, correlation_id):
    """A consumer's Fetch (v15+: no ReplicaState) of partition 0 from offset 0: (the partition's
    error, CurrentLeader (leader, epoch) or None, NodeEndpoints [(node, host, port, rack)] or
    None when the tag is absent)."""
    assert version >= 15, "this form has no ReplicaId in front"
    body = struct.pack(">iiibii", 0, 0, 1 << 20, 0, 0, -1)
    partition = struct.pack(">iiqiqi", 0, -1, 0, -1, -1, 1 << 20) + b"\x00"
    body += uvarint(2) + topic_id.bytes + uvarint(2) + partition + b"\x00"
    body += uvarint(1) + compact_string("") + b"\x00"  # no forgotten topics, RackId "", no tags
    r = call(sock, API_FETCH, version, correlation_id, body)
    r.int32()  # throttle
    top_error, _session = r.int16(), r.int32()
    if top_error != 0:
        raise AssertionError(f"Fetch v{version}: top-level error {top_error}")

    def part(p):
        index, error = p.int32(), p.int16()
        p.int64(), p.int64(), p.int64()  # high watermark, last stable offset, log start offset
        p.array(lambda a: (a.int64(), a.int64(), a.tags()))  # aborted transactions
        p.int32()  # preferred read replica
        n = p.uvarint()  # records: compact nullable bytes
        if n > 0:
            p.take(n - 1)
        tags = p.tags()
        leader = None
        if 1 in tags:
            leader = (tags[1].int32(), tags[1].int32())
        return index, error, leader

    def topic(t):
        topic_id_back = t.uuid()
        parts = t.array(part)
        t.tags()
        return topic_id_back, parts

    topics = r.array(topic)
    tags = r.tags()
    if not r.at_end():
        raise AssertionError(f"Fetch v{version}: bytes after the response")
    if len(topics) != 1 or topics[0][0] != topic_id or len(topics[0][1]) != 1:
        raise AssertionError(f"Fetch v{version}: another shape than one topic, one partition: "
                             f"{topics}")
    _index, error, leader = topics[0][1][0]
    endpoints = None
    if 0 in tags:
        def endpoint(e):
            out = (e.int32(), e.string(), e.int32(), e.nullable_string())
            e.tags()
            return out
        endpoints = tags[0].array(endpoint)
    return error, leader, endpoints


class fetch_leader_test(unittest.TestCase):
    def setUp(self):
        self.cluster = Cluster(3, smp=1).start()

    def tearDown(self):
        self.cluster.close()

    def test_follower_names_the_leader_and_its_endpoint(self):
        c = self.cluster
        c.wait_formed()  # every broker lists every broker: a follower knows the leader's address
        for n in range(3):
            with connect(c.kafka_ports[n]) as s:
                self.assertEqual(api_versions(s)[API_FETCH], (4, 16), f"node {n}")

        admin = AdminClient({"bootstrap.servers": c.bootstrap})
        futures = admin.create_topics([NewTopic(TOPIC, 1, 3)], operation_timeout=TIMEOUT_S,
                                      request_timeout=TIMEOUT_S)
        futures[TOPIC].result(timeout=TIMEOUT_S)

        # Leadership may still move (an election, leader balancing): ask again until a follower
        # and the leader agree with Metadata, within the deadline.
        deadline = time.monotonic() + TIMEOUT_S
        last = None
        while True:
            leader = c.wait_leaders(TOPIC, 1)[0]
            follower = (leader + 1) % 3
            with connect(c.kafka_ports[follower]) as s:
                brokers, topic_id, p0 = metadata_v12(s, TOPIC)
                if topic_id is not None and p0 is not None and p0[1] == leader:
                    epoch = p0[2]
                    v16 = fetch(s, 16, topic_id, 10)
                    v15 = fetch(s, 15, topic_id, 11)
                    expected16 = (NOT_LEADER_OR_FOLLOWER, (leader, epoch),
                                  [(leader, "127.0.0.1", c.kafka_ports[leader], None)])
                    expected15 = (NOT_LEADER_OR_FOLLOWER, (leader, epoch), None)
                    last = {"leader": leader, "follower": follower, "brokers": brokers,
                            "v16": v16, "v15": v15}
                    if v16 == expected16 and v15 == expected15:
                        break
            if time.monotonic() >= deadline:
                self.fail(f"a follower's Fetch never named the leader as expected after "
                          f"{TIMEOUT_S}s; last: {last}\n{c.logs()}")
            time.sleep(0.2)
        self.assertEqual(brokers[leader], ("127.0.0.1", c.kafka_ports[leader]))
        print(f"node {follower} names leader {leader} (epoch {epoch}) at "
              f"127.0.0.1:{c.kafka_ports[leader]}", flush=True)

        # The leader serves the same fetch: no error, no leader named, no endpoints.
        with connect(c.kafka_ports[leader]) as s:
            error, named, endpoints = fetch(s, 16, topic_id, 12)
        self.assertEqual((error, named, endpoints), (0, None, None))


if __name__ == "__main__":
    unittest.main()
