#!/usr/bin/env python3
"""What three brokers answer while leadership moves, in raw frames (no client library's retries
in between):

- A broker that led a partition and lost it (SIGSTOPped until the others elected a new leader,
  then resumed) answers an idempotent producer's next batch NOT_LEADER_OR_FOLLOWER. It must not
  check the batch against the producer state of its old term: a sequence gap there would be
  answered OUT_OF_ORDER_SEQUENCE_NUMBER, which librdkafka takes as fatal ("rewound sequence
  number"), although the new leader may hold exactly the batches the old one lacks.
- A CreateTopics sent to a broker right after the controller was SIGKILLed waits for the new
  controller and is served, instead of answering NOT_CONTROLLER (which librdkafka's admin API
  hands to the application)."""

import os
import signal
import struct
import time
import unittest

from bad_input_test import parse_produce_v3, produce_v3, record_batch, string
from cluster_test import create_topic
from wharf_broker import connect, read_frame, request_frame, wait_until
from wharf_cluster import Cluster

API_PRODUCE, API_CREATE_TOPICS = 0, 19
NONE, NOT_LEADER_OR_FOLLOWER = 0, 6
PRODUCER_ID, EPOCH = 4242, 0
# Sequence gaps just after a broker rebuilt its producer state are answered
# NOT_LEADER_OR_FOLLOWER for this long anyway (produce_ops.cc, out_of_order_grace); the test
# waits past it so that only the stale-leader rule can give that answer.
OUT_OF_ORDER_GRACE_S = 5
TIMEOUT_S = 30


def produce(port, topic, sequence, correlation_id):
    """(error_code, base_offset) of an idempotent one-record Produce v3 (acks=all)."""
    batch = record_batch([f"v{sequence}".encode()], PRODUCER_ID, EPOCH, sequence)
    with connect(port) as s:
        s.sendall(request_frame(API_PRODUCE, 3, correlation_id, produce_v3(topic, 0, batch)))
        resp = read_frame(s)
    assert resp is not None, "the broker closed the connection"
    return parse_produce_v3(resp)


def create_topics_v4(port, name, partitions, replication_factor, timeout_ms):
    """The (error_code, error_message) of a CreateTopics v4 of one topic."""
    body = struct.pack(">i", 1) + string(name) + struct.pack(">ih", partitions, replication_factor)
    body += struct.pack(">ii", 0, 0)  # no assignments, no configs
    body += struct.pack(">ib", timeout_ms, 0)
    with connect(port, timeout_s=timeout_ms / 1000 + 10) as s:
        s.sendall(request_frame(API_CREATE_TOPICS, 4, 7, body))
        resp = read_frame(s)
    assert resp is not None, "the broker closed the connection"
    pos = 4 + 4 + 4  # correlation id, throttle time, topic count
    (name_len,) = struct.unpack_from(">h", resp, pos)
    pos += 2 + name_len
    (error,) = struct.unpack_from(">h", resp, pos)
    (msg_len,) = struct.unpack_from(">h", resp, pos + 2)
    message = resp[pos + 4:pos + 4 + msg_len].decode() if msg_len >= 0 else None
    return error, message


class failover_answers_test(unittest.TestCase):
    def setUp(self):
        # Leader balancing off: the resumed broker must stay a follower while it is asked.
        self.cluster = Cluster(3, smp=1, flags=("--leader-balancing", "false")).start()
        self.addCleanup(self.cluster.close)
        self.cluster.wait_formed()

    def leader_seen_by(self, node, topic):
        md = self.cluster.metadata(node, topic=topic, timeout_s=5)
        t = md.topics.get(topic)
        if t is None or t.error is not None or 0 not in t.partitions:
            return None
        return t.partitions[0].leader

    def test_deposed_leader_answers_not_leader(self):
        c = self.cluster
        create_topic(c.bootstrap, "seq", 1, 3)
        old = c.wait_leaders("seq", 1, timeout_s=TIMEOUT_S)[0]
        port = c.kafka_ports[old]
        self.assertEqual(produce(port, "seq", 0, 1)[0], NONE)
        first_produce = time.monotonic()

        others = [n for n in range(3) if n != old]
        pid = c.brokers[old].proc.pid
        os.killpg(pid, signal.SIGSTOP)
        try:
            wait_until(lambda: all(self.leader_seen_by(n, "seq") in others for n in others),
                       TIMEOUT_S, "a new leader elected by the other two")
        finally:
            os.killpg(pid, signal.SIGCONT)
        new = self.leader_seen_by(others[0], "seq")
        wait_until(lambda: self.leader_seen_by(old, "seq") == new, TIMEOUT_S,
                   f"node {old} to learn that node {new} leads")
        time.sleep(max(0.0, first_produce + OUT_OF_ORDER_GRACE_S + 0.5 - time.monotonic()))

        # Sequence 1 went (say) to the new leader; the deposed one never saw it.
        error, _ = produce(port, "seq", 2, 2)
        self.assertEqual(error, NOT_LEADER_OR_FOLLOWER,
                         f"node {old}, no longer leader, answered {error} to the next batch of a "
                         f"producer it knew\n{c.logs()}")
        # The new leader takes the retry of the batch the old one stored and committed.
        wait_until(lambda: produce(c.kafka_ports[new], "seq", 0, 3)[0] == NONE, TIMEOUT_S,
                   "the new leader to take the producer's retry")

    def test_create_topics_waits_for_a_new_controller(self):
        c = self.cluster
        controller = c.metadata().controller_id
        asked = (controller + 1) % 3
        c.kill(controller)
        error, message = create_topics_v4(c.kafka_ports[asked], "after-failover", 2, 3, 20000)
        self.assertEqual(error, NONE, f"CreateTopics on node {asked} right after the controller "
                         f"(node {controller}) died: {error} {message}\n{c.logs()}")
        c.wait_leaders("after-failover", 2, timeout_s=TIMEOUT_S)


if __name__ == "__main__":
    unittest.main()
