#!/usr/bin/env python3
"""Consumer groups of unmodified clients (confluent-kafka-python / librdkafka, kafka-python):
members share a 12-partition topic, rebalance when members join, leave cleanly or are killed
(SIGKILL: expelled after the session timeout); after each event the live members' assignments
cover every partition exactly once, and with synchronous commits no committed record is
consumed twice. Committed offsets survive consumer and broker restarts (SIGTERM and SIGKILL)."""

import json
import os
import signal
import subprocess
import sys
import threading
import time
import unittest

from confluent_kafka import Producer
from confluent_kafka.admin import AdminClient, NewTopic

from wharf_broker import Broker, wait_until

HERE = os.path.dirname(os.path.abspath(__file__))
PARTITIONS = 12
TIMEOUT_S = 60


class Member:
    def __init__(self, client, bootstrap, group, topic, assignor="range", session_ms=6000):
        self.proc = subprocess.Popen(
            [sys.executable, os.path.join(HERE, "group_member.py"), client, bootstrap, group,
             topic, "--assignor", assignor, "--session-timeout-ms", str(session_ms)],
            stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, text=True, start_new_session=True)
        self.assignment = None
        self.consumed = []
        self.committed = []
        self.lock = threading.Lock()
        threading.Thread(target=self._read, daemon=True).start()

    def _read(self):
        for line in self.proc.stdout:
            try:
                e = json.loads(line)
            except ValueError:
                continue
            now = time.monotonic()
            with self.lock:
                if e["event"] == "assigned":
                    self.assignment = set(e["partitions"])
                elif e["event"] == "consumed":
                    self.consumed.append((e["p"], e["o"], now))
                elif e["event"] == "committed":
                    self.committed.append((e["p"], e["o"], now))

    def current(self):
        with self.lock:
            return None if self.assignment is None else set(self.assignment)

    def stop(self):
        if self.proc.poll() is None:
            self.proc.send_signal(signal.SIGTERM)
            try:
                self.proc.wait(timeout=30)
            except subprocess.TimeoutExpired:
                self.kill()

    def kill(self):
        if self.proc.poll() is None:
            os.killpg(self.proc.pid, signal.SIGKILL)
            self.proc.wait(timeout=30)


def covers_exactly_once(members):
    parts = [m.current() for m in members]
    if any(p is None or not p for p in parts):
        return False
    union = set().union(*parts)
    return union == set(range(PARTITIONS)) and sum(len(p) for p in parts) == PARTITIONS


def wait_stable(members, what, timeout_s=TIMEOUT_S):
    """Waits until the assignment covers every partition exactly once for one second."""
    deadline = time.monotonic() + timeout_s
    since = None
    while time.monotonic() < deadline:
        if covers_exactly_once(members):
            since = since or time.monotonic()
            if time.monotonic() - since >= 1.0:
                return
        else:
            since = None
        time.sleep(0.05)
    raise AssertionError(f"{what}: assignments {[m.current() for m in members]}")


class Trickle:
    """Keeps producing to every partition so that members always have records to consume."""

    def __init__(self, bootstrap, topic):
        self.stop_event = threading.Event()
        self.thread = threading.Thread(target=self._run, args=(bootstrap, topic), daemon=True)
        self.thread.start()

    def _run(self, bootstrap, topic):
        p = Producer({"bootstrap.servers": bootstrap, "linger.ms": 5})
        i = 0
        while not self.stop_event.is_set():
            p.produce(topic, value=str(i).encode(), partition=i % PARTITIONS)
            i += 1
            p.poll(0.01)
        p.flush(30)

    def stop(self):
        self.stop_event.set()
        self.thread.join(60)


def create_topic(bootstrap, name, partitions=PARTITIONS):
    admin = AdminClient({"bootstrap.servers": bootstrap})
    admin.create_topics([NewTopic(name, partitions, 1)])[name].result(timeout=TIMEOUT_S)


class groups_test(unittest.TestCase):
    def setUp(self):
        self.broker = Broker(smp=2).start()
        self.members = []

    def tearDown(self):
        for m in self.members:
            m.kill()
        self.broker.close()

    def member(self, *args, **kw):
        m = Member(*args, **kw)
        self.members.append(m)
        return m

    def run_membership_changes(self, client, assignor):
        b = self.broker.bootstrap
        topic = f"shared-{client}-{assignor}"
        group = f"group-{client}-{assignor}"
        create_topic(b, topic)
        trickle = Trickle(b, topic)
        try:
            live = [self.member(client, b, group, topic, assignor) for _ in range(3)]
            wait_stable(live, "three members")
            live.append(self.member(client, b, group, topic, assignor))
            wait_stable(live, "a fourth member joined")
            leaving = live.pop(0)
            leaving.stop()
            wait_stable(live, "a member left cleanly")
            killed = live.pop(0)
            killed.kill()
            wait_stable(live, "a member was killed (expelled after its session timeout)")
        finally:
            trickle.stop()
        for m in self.members:
            m.stop()
        # A record whose commit succeeded must never be consumed again afterwards. (A record
        # consumed by a member whose commit was then refused, ILLEGAL_GENERATION during a
        # rebalance as in Kafka, is legitimately consumed again by its next owner.)
        committed_at = {}
        for m in self.members:
            for p, o, t in m.committed:
                committed_at[(p, o)] = min(t, committed_at.get((p, o), t))
        self.assertGreater(len(committed_at), 100, "the group consumed too little to judge")
        again = [(p, o) for m in self.members for p, o, t in m.consumed
                 if (p, o) in committed_at and t > committed_at[(p, o)]]
        self.assertEqual(again, [], "committed records consumed again")

    def test_confluent_range(self):
        self.run_membership_changes("confluent", "range")

    def test_confluent_cooperative_sticky(self):
        self.run_membership_changes("confluent", "cooperative-sticky")

    def test_kafka_python_roundrobin(self):
        self.run_membership_changes("kafka-python", "roundrobin")

    def consume_some(self, group, topic, at_least):
        m = self.member("confluent", self.broker.bootstrap, group, topic)
        wait_until(lambda: len(m.committed) >= at_least, TIMEOUT_S, "commits")
        m.stop()
        return m

    def resume_test(self, restart):
        b = self.broker.bootstrap
        create_topic(b, "resume", 1)
        p = Producer({"bootstrap.servers": b})
        for i in range(50):
            p.produce("resume", value=str(i).encode())
        p.flush(30)
        first = self.consume_some("resumer", "resume", 50)
        last_committed = max(o for _, o, _ in first.committed)
        restart()
        for i in range(50, 80):
            p.produce("resume", value=str(i).encode())
        p.flush(30)
        second = self.consume_some("resumer", "resume", 30)
        self.assertEqual(min(o for _, o, _ in second.consumed), last_committed + 1)

    def test_resume_after_consumer_restart(self):
        self.resume_test(lambda: None)

    def test_resume_after_broker_restart(self):
        self.resume_test(lambda: self.broker.restart())

    def test_resume_after_broker_sigkill(self):
        self.resume_test(lambda: self.broker.restart(hard=True))

    def test_kcat_group_and_admin(self):
        from kafka.admin import KafkaAdminClient
        b = self.broker.bootstrap
        create_topic(b, "kcat-group", 3)
        p = Producer({"bootstrap.servers": b})
        for i in range(30):
            p.produce("kcat-group", value=str(i).encode(), partition=i % 3)
        p.flush(30)
        out = subprocess.run(["kcat", "-b", b, "-G", "kcat-grp", "kcat-group", "-c", "30", "-q",
                              "-X", "auto.offset.reset=earliest"],
                             capture_output=True, timeout=TIMEOUT_S)
        self.assertEqual(out.returncode, 0, out.stderr)
        self.assertEqual(sorted(int(v) for v in out.stdout.split()), list(range(30)))
        admin = KafkaAdminClient(bootstrap_servers=b)
        try:
            groups = dict(admin.list_consumer_groups())
            self.assertIn("kcat-grp", groups)
            offsets = admin.list_consumer_group_offsets("kcat-grp")
            self.assertEqual(sum(o.offset for o in offsets.values()), 30)
            desc = admin.describe_consumer_groups(["kcat-grp"])[0]
            self.assertEqual(desc.state, "Empty")
            admin.delete_consumer_groups(["kcat-grp"])
            self.assertNotIn("kcat-grp", dict(admin.list_consumer_groups()))
        finally:
            admin.close()


if __name__ == "__main__":
    unittest.main()
