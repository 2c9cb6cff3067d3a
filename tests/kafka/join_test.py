#!/usr/bin/env python3
"""A broker beyond the seeds joins a running cluster, and a seed is decommissioned (raft
membership, core/cluster/group_membership.h).

Three seeds serve a replicated topic with acknowledged records. A fourth broker starts with the
same --seeds and a node id of its own: the controller registers it when it connects, and the
leader of every raft group adds it as a learner, lets it catch up and promotes it to voter.
Then a seed is killed: with four voters and three up, every acks=all record that commits needs
the new broker's acknowledgement, and every acknowledged record, old and new, is read back; the
new broker also serves the topic's metadata from its own copy of the controller's log.

Decommissioning a seed through the controller's admin API (PUT /v1/brokers/0/decommission)
removes it from every group; once it is stopped the three voters left survive the loss of one
more broker, which four voters with two down could not.

A fifth broker joins while the controller is the fourth (moved there with POST
/v1/raft/0/transfer_leadership): it dials the seeds only, and they relay its hello to the
controller, which registers it."""

import http.client
import json
import re
import time
import unittest

from confluent_kafka import Producer
from confluent_kafka.admin import AdminClient

from cluster_test import consume_all, create_topic
from wharf_broker import Broker, wait_until
from wharf_cluster import Cluster, Deliveries, free_ports

SMP = 2
PARTITIONS = 4
TIMEOUT_S = 90
JOINER = 3


def produce(bootstrap, topic, first, count):
    d = Deliveries()
    p = Producer({"bootstrap.servers": bootstrap, "acks": "all", "enable.idempotence": True,
                  "linger.ms": 5})
    for i in range(first, first + count):
        p.produce(topic, value=str(i).encode(), partition=i % PARTITIONS, on_delivery=d.report)
    assert p.flush(TIMEOUT_S) == 0, "records left undelivered"
    return d


def wait_live_leaders(bootstraps, live, timeout_s=TIMEOUT_S):
    """Waits until every broker in `bootstraps` names a leader from `live` for every partition
    (Cluster.wait_leaders knows only the seeds)."""
    deadline = time.monotonic() + timeout_s
    last = None
    while time.monotonic() < deadline:
        try:
            views = []
            for b in bootstraps:
                md = AdminClient({"bootstrap.servers": b}).list_topics(topic="join", timeout=5)
                views.append({p: m.leader for p, m in md.topics["join"].partitions.items()})
            last = views
            if all(len(v) == PARTITIONS and set(v.values()) <= set(live) for v in views):
                return
        except Exception as e:  # noqa: BLE001 - retried until the deadline
            last = repr(e)
        time.sleep(0.2)
    raise AssertionError(f"no live leaders after {timeout_s}s: {last}")


def admin_call(method, port, path):
    """An admin API request with an empty body: (status, JSON body)."""
    conn = http.client.HTTPConnection("127.0.0.1", port, timeout=30)
    try:
        conn.request(method, path, body=b"")
        r = conn.getresponse()
        return r.status, json.loads(r.read() or b"null")
    finally:
        conn.close()


def changed_shards(outputs, voters="{0,1,2,3}"):
    """The shards whose group leader logged a change to exactly these voters."""
    pattern = re.compile(r"\[shard (\d+)\] cluster: group 0 membership .* -> voters "
                         + re.escape(voters) + "$")
    shards = set()
    for out in outputs:
        for line in out.splitlines():
            m = pattern.search(line)
            if m:
                shards.add(int(m.group(1)))
    return shards


class join_test(unittest.TestCase):
    # Leader balancing off where a test moves a leader by hand (--leader-balancing would hand
    # it back to the group's preferred seed).
    NO_BALANCING = ("--leader-balancing", "false")

    def setUp(self):
        flags = self.NO_BALANCING if "controller" in self._testMethodName else ()
        self.flags = flags
        self.cluster = Cluster(3, smp=SMP, flags=flags, admin=True).start()
        self.addCleanup(self.cluster.close)
        self.cluster.wait_formed(nodes=[None])
        self.joiners = {}
        self.outputs = lambda: ([b.output() for b in self.cluster.brokers]
                                + [j.output() for j in self.joiners.values()])

    def join(self, node=JOINER):
        """Starts broker `node` with the seeds' list and waits until every group has promoted
        it to voter; returns its Broker."""
        c = self.cluster
        seeds = ",".join(f"{i}@{c.hosts[i]}:{p}" for i, p in enumerate(c.rpc_ports))
        kafka_port, rpc_port = free_ports(2)
        joiner = Broker("--node-id", str(node), "--rpc-addr", f"127.0.0.1:{rpc_port}",
                        "--seeds", seeds, *self.flags, smp=SMP)
        self.addCleanup(joiner.close)
        self.joiners[node] = joiner
        try:
            joiner.start(kafka_port)
        except AssertionError as e:
            others = "\n".join(f"--- node {n}\n{j.output()[-6000:]}"
                               for n, j in self.joiners.items() if j is not joiner)
            raise AssertionError(f"{e}\n{self.cluster.logs()}\n{others}") from None
        everyone = {0, 1, 2, *self.joiners}
        self.wait_voters("{" + ",".join(str(n) for n in sorted(everyone)) + "}", joiner)
        # Every broker reaches the new one (not only the leaders that replicate to it), so its
        # Metadata lists them all and can name any of them leader.
        def listed():
            md = AdminClient({"bootstrap.servers": joiner.bootstrap}).list_topics(timeout=5)
            return set(md.brokers) == everyone
        wait_until(listed, 30, "the new broker's Metadata to list every broker")
        return joiner

    def wait_voters(self, voters, joiner):
        start = time.monotonic()
        try:
            wait_until(lambda: len(changed_shards(self.outputs(), voters)) == SMP, 60,
                       f"every group to reach voters {voters}")
        except AssertionError:
            raise AssertionError(f"voters not {voters}\n{self.cluster.logs()}\n"
                                 f"{joiner.output()[-4000:]}") from None
        print(f"every group has voters {voters} after {time.monotonic() - start:.1f}s",
              flush=True)

    def controller(self):
        md = AdminClient({"bootstrap.servers": self.cluster.bootstrap}).list_topics(timeout=10)
        return md.controller_id

    def topic_and_joiner(self, records):
        """The topic with `records` acknowledged, then broker JOINER joined: returns the
        Deliveries, the joiner, every broker by node id and the controller's id."""
        c = self.cluster
        create_topic(c.bootstrap, "join", PARTITIONS, 3)
        c.wait_leaders("join", PARTITIONS, timeout_s=TIMEOUT_S)
        before = produce(c.bootstrap, "join", 0, records)
        self.assertFalse(before.errors, f"delivery errors: {before.errors[:5]}")
        joiner = self.join()
        brokers = {n: c.brokers[n] for n in range(3)}
        brokers[JOINER] = joiner
        wait_until(lambda: self.controller() >= 0, 30, "a controller")
        return before, joiner, brokers, self.controller()

    def produce_and_read_all(self, live, before, first, count):
        """Produces `count` more acks=all records through the live brokers, then reads the
        topic back: every acknowledged record, before and now, once."""
        after = produce(live, "join", first, count)
        self.assertFalse(after.errors, f"delivery errors: {after.errors[:5]}")
        got = consume_all(live, "join", PARTITIONS, timeout_s=TIMEOUT_S)
        stored = [int(v) for part in got.values() for _, v in part]
        acked = {v for _, _, v in before.acked + after.acked}
        self.assertEqual(len(acked), first + count)
        lost = acked - set(stored)
        self.assertEqual(lost, set(), f"acknowledged but lost\n{self.cluster.logs()}")
        self.assertEqual(len(stored), len(set(stored)), "duplicated records")

    def test_a_new_broker_joins_every_group_and_counts_in_its_quorum(self):
        c = self.cluster
        before, joiner, _, _ = self.topic_and_joiner(400)

        # Its own copy of the controller's log names the topic.
        md = AdminClient({"bootstrap.servers": joiner.bootstrap}).list_topics(topic="join",
                                                                            timeout=10)
        self.assertEqual(len(md.topics["join"].partitions), PARTITIONS)
        # A topic's one replication factor is now four (every group spans four brokers).
        create_topic(joiner.bootstrap, "four", 1, 4)

        # Four voters, three up: each commit needs the new broker.
        c.kill(0)
        bootstraps = [c.brokers[n].bootstrap for n in (1, 2)] + [joiner.bootstrap]
        wait_live_leaders(bootstraps, {1, 2, JOINER})
        live = ",".join(bootstraps)
        self.produce_and_read_all(live, before, 400, 200)

    def test_a_broker_joins_while_a_joined_broker_is_controller(self):
        """The newcomer dials the seeds only, and the controller is a broker that joined before
        it: the seeds relay its hello to the controller, which registers it."""
        c = self.cluster
        before, first, brokers, ctl = self.topic_and_joiner(200)
        other = next(n for n in range(3) if n != ctl)

        # The controller (group 0's leader) hands its group to the joined broker.
        def transfer(node, group=0, target=JOINER):
            path = f"/v1/raft/{group}/transfer_leadership?target={target}"
            return admin_call("POST", brokers[node].admin_port, path)

        status, body = transfer(other)
        self.assertEqual((status, body.get("leader")), (503, ctl), body)
        self.assertEqual(transfer(ctl, target=9)[0], 400)
        self.assertEqual(transfer(ctl, group=7)[0], 404)
        self.assertEqual(transfer(ctl), (200, {"group": 0, "target": JOINER}))
        wait_until(lambda: self.controller() == JOINER, 30, f"node {JOINER} to be the controller")

        second = self.join(JOINER + 1)
        live = ",".join([c.bootstrap, first.bootstrap, second.bootstrap])
        self.produce_and_read_all(live, before, 200, 200)

    def test_a_decommissioned_seed_leaves_every_group(self):
        c = self.cluster
        before, joiner, brokers, ctl = self.topic_and_joiner(300)
        other = next(n for n in brokers if n != ctl)
        def decommission(node, broker=0):
            return admin_call("PUT", brokers[node].admin_port, f"/v1/brokers/{broker}/decommission")

        status, body = decommission(other)
        self.assertEqual(status, 503, body)
        status, body = decommission(ctl, broker=9)
        self.assertEqual(status, 404, body)
        status, body = decommission(ctl)
        self.assertEqual((status, body), (200, {"node_id": 0, "decommissioned": True}))
        self.wait_voters("{1,2,3}", joiner)

        # Broker 0 holds no replica any more: stopped for good, then broker 1 is killed too.
        # Three voters with one down still commit; four with two down could not.
        self.assertEqual(c.brokers[0].stop(), 0)
        c.kill(1)
        bootstraps = [c.brokers[2].bootstrap, joiner.bootstrap]
        wait_live_leaders(bootstraps, {2, JOINER})
        live = ",".join(bootstraps)
        self.produce_and_read_all(live, before, 300, 200)


if __name__ == "__main__":
    unittest.main()
