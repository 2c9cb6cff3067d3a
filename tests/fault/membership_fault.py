"""The membership fault of tests/fault/fault_test.py: under the rounds' load, a broker beyond the
seeds joins (every raft group adds it as a learner, catches it up and makes it a voter), half the
time a seed is killed and restarted while it is a voter, and then the controller decommissions
it (every group removes it) and it stops. Each round's broker has a node id of its own: a
decommissioned id never comes back. The rounds' checker then reads every partition back, so a
record lost or duplicated on the way through four voters and back to three is seen."""

import http.client
import json
import time

from confluent_kafka.admin import AdminClient

from wharf_broker import Broker
from wharf_cluster import free_ports

SEEDS = 3


def replicas_and_controller(bootstrap, topic):
    md = AdminClient({"bootstrap.servers": bootstrap}).list_topics(topic=topic, timeout=5)
    parts = md.topics[topic].partitions
    return {p: sorted(m.replicas) for p, m in parts.items()}, md.controller_id


def wait_replicas(bootstrap, topic, want, timeout_s):
    """Until every partition's replicas are `want` (the voters of the groups)."""
    deadline = time.monotonic() + timeout_s
    last = None
    while time.monotonic() < deadline:
        try:
            last, _ = replicas_and_controller(bootstrap, topic)
            if last and all(r == want for r in last.values()):
                return
        except Exception as e:  # noqa: BLE001 - asked again until the deadline
            last = repr(e)
        time.sleep(0.1)
    raise AssertionError(f"the replicas never became {want} within {timeout_s}s: {last}")


def decommission(brokers, bootstrap, topic, node, timeout_s):
    """PUT /v1/brokers/{node}/decommission on the controller, asked again while leadership of
    the controller group moves (a non-controller answers 503)."""
    deadline = time.monotonic() + timeout_s
    last = None
    while time.monotonic() < deadline:
        try:
            _, ctl = replicas_and_controller(bootstrap, topic)
            b = brokers.get(ctl)
            if b is not None and b.alive() and b.admin_port is not None:
                conn = http.client.HTTPConnection("127.0.0.1", b.admin_port, timeout=10)
                try:
                    conn.request("PUT", f"/v1/brokers/{node}/decommission", body=b"")
                    r = conn.getresponse()
                    last = (ctl, r.status, json.loads(r.read() or b"null"))
                finally:
                    conn.close()
                if last[1] == 200:
                    return
            else:
                last = f"controller {ctl}"
        except Exception as e:  # noqa: BLE001 - asked again until the deadline
            last = repr(e)
        time.sleep(0.2)
    raise AssertionError(f"node {node} was not decommissioned within {timeout_s}s: {last}")


def membership_round(test, topic, timeout_s):
    """One round; `test` is the fault test (its cluster, rng, kill_and_restart, CONFIG values
    in test.fsync and test.smp). Returns what happened, for the round's log line."""
    c = test.cluster
    node = test.next_joiner
    test.next_joiner += 1
    seeds = ",".join(f"{i}@{c.hosts[i]}:{p}" for i, p in enumerate(c.rpc_ports))
    kafka_port, rpc_port = free_ports(2)
    joiner = Broker("--node-id", str(node), "--rpc-addr", f"127.0.0.1:{rpc_port}",
                    "--seeds", seeds, "--fsync", test.fsync, smp=test.smp)
    test.addCleanup(joiner.close)
    started = time.monotonic()
    joiner.start(kafka_port)
    voters = sorted([*range(SEEDS), node])
    wait_replicas(c.bootstrap, topic, voters, timeout_s)
    what = [f"node {node} joined, a voter {time.monotonic() - started:.1f}s after its start"]
    if test.rng.random() < 0.5:
        what.append(test.kill_and_restart(test.rng.randrange(SEEDS)))
    brokers = {n: b for n, b in enumerate(c.brokers)}
    brokers[node] = joiner
    asked = time.monotonic()
    decommission(brokers, c.bootstrap, topic, node, timeout_s)
    wait_replicas(c.bootstrap, topic, list(range(SEEDS)), timeout_s)
    what.append(f"decommissioned, out of every group {time.monotonic() - asked:.1f}s later")
    rc = joiner.stop()
    if rc != 0:
        raise AssertionError(f"node {node} exited {rc} after its decommission:\n"
                             f"{joiner.output()[-4000:]}")
    return "; ".join(what) + ", stopped"
