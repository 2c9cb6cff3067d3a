#!/usr/bin/env python3
"""Partition placement with a replication factor below the broker count, end to end, on four
real brokers (three seeds and one that joins: a cluster has 1, 3 or 5 seeds), with
confluent-kafka-python.

1. CreateTopics with replication factor 1, 2 and 3 (8 partitions each) succeeds, and 4 (every
   broker) still does; 5 (more than the brokers) and 0 are refused with
   INVALID_REPLICATION_FACTOR (38), and the refused topics do not exist.
2. Metadata asked of every broker on its own agrees within a bounded wait: each partition lists
   exactly RF distinct replicas among the four brokers, a leader among its replicas (the same
   from every broker) and an ISR within its replicas. The rf1 leaders are spread over at least
   two brokers, and the rf3 partitions do not all have the same replica set.
   Then leadership of an rf3 partition is handed to another replica with
   POST /v1/partitions/kafka/rf3/{p}/transfer_leadership?target=N (Redpanda's path): the
   replica outside the group answers 503 naming the leader, the leader 200, and the target
   counts one more wharf_raft_leadership_changes_total for that shard and group.
3. An idempotent acks=all producer bootstrapped from one broker only (not a replica of every
   partition) writes 50 keyed records to every partition of every topic; a consumer
   bootstrapped from another broker reads each partition from offset 0: every record at its
   acknowledged offset, in order, once.
4. The broker leading the most rf3 partitions is SIGKILLed. The surviving brokers name, for
   every rf3 partition that it replicated, a new leader among the remaining replicas, and leave
   the other rf3 partitions' replica sets alone; 50 more records per rf3 partition are
   acknowledged through a survivor, and every record, from before and after the kill, reads
   back once and in order. The broker restarts from its data directory and catches up: every
   broker's Metadata agrees again and lists it in the ISR of its partitions.
5. That broker is killed again and decommissioned while down: its replicas of rf1..rf3 move to
   the other brokers (each partition keeps its replication factor and gets a leader among its
   new replicas). An rf1 or rf2 group cannot add a successor without it, so the controller's
   group (shard 0's group 0) keeps it meanwhile, and GET /v1/brokers/{id}/decommission lists
   what is left (at least its rf1 partitions). It restarts, reopens those groups from their
   directories, and once raft has removed it from a group, closes its replica and deletes the
   group's directory; then it leaves the controller's group, and every other broker reports the
   decommission finished. Every partition's leader is then its first replica (leader balancing
   follows the moves), and once the broker is stopped every record of rf1..rf3 reads back
   through the others."""

import os
import re
import time
import unittest

from confluent_kafka import KafkaError, KafkaException, Producer
from confluent_kafka.admin import AdminClient, NewTopic

from admin_api_test import http_get, parse_metrics
from cluster_test import read_to_high_watermarks
from join_test import admin_call
from wharf_cluster import Cluster

BROKERS = 4
SEEDS = 3  # node 3 joins the running cluster
SMP = 2
PARTITIONS = 8
RECORDS = 50  # per partition and produce round
# name -> (partitions, replication factor)
TOPICS = {"rf1": (PARTITIONS, 1), "rf2": (PARTITIONS, 2), "rf3": (PARTITIONS, 3),
          "rf4": (4, BROKERS)}
REFUSED = {"rf5": BROKERS + 1, "rf0": 0}
ADMIN_TIMEOUT_S = 30
AGREE_TIMEOUT_S = 20  # Metadata agreement, before and after the kill
CATCH_UP_TIMEOUT_S = 30  # the restarted broker back in the ISR of its partitions
MOVE_TIMEOUT_S = 60  # a decommissioned broker's replicas moved to others
IO_TIMEOUT_S = 30  # a produce round's flush; a read-back


def kafka_error(e):
    err = e.args[0] if e.args and isinstance(e.args[0], KafkaError) else None
    if err is None:
        return None, repr(e)
    return err.code(), f"{err.name()} ({err.code()}): {err.str()}"


def create_topic(bootstrap, name, partitions, rf):
    """(error code, description): (None, None) when the topic was created."""
    admin = AdminClient({"bootstrap.servers": bootstrap})
    futures = admin.create_topics([NewTopic(name, partitions, rf)],
                                  operation_timeout=ADMIN_TIMEOUT_S,
                                  request_timeout=ADMIN_TIMEOUT_S)
    try:
        futures[name].result(timeout=ADMIN_TIMEOUT_S + 10)
        return None, None
    except KafkaException as e:
        return kafka_error(e)


def key_of(topic, partition, i):
    return f"{topic}/{partition}/{i}"


def produce(bootstrap, topics, first, count):
    """`count` keyed records (values first..first+count-1) to every partition of every topic in
    `topics` ({name: partitions}), idempotent and acks=all, through `bootstrap`. Returns
    ({(topic, partition): {offset: (key, value)}}, delivery errors, records left unflushed)."""
    acked = {}
    errors = []

    def report(err, msg):
        if err is not None:
            errors.append(f"{msg.topic()}/{msg.partition()} key {msg.key()}: {err}")
            return
        acked.setdefault((msg.topic(), msg.partition()), {})[msg.offset()] = (
            msg.key().decode(), int(msg.value()))

    def on_error(err):
        if err.fatal():
            errors.append(f"fatal: {err}")

    p = Producer({"bootstrap.servers": bootstrap, "acks": "all", "enable.idempotence": True,
                  "linger.ms": 5, "message.timeout.ms": IO_TIMEOUT_S * 1000,
                  "reconnect.backoff.ms": 50, "reconnect.backoff.max.ms": 200,
                  "retry.backoff.ms": 50, "error_cb": on_error})
    for i in range(first, first + count):
        for topic, partitions in topics.items():
            for part in range(partitions):
                while True:
                    try:
                        p.produce(topic, key=key_of(topic, part, i).encode(),
                                  value=str(i).encode(), partition=part, on_delivery=report)
                        break
                    except BufferError:
                        p.poll(0.05)
                p.poll(0)
    left = p.flush(IO_TIMEOUT_S)
    return acked, errors, left


def read_back(bootstrap, topics):
    """Every record of every partition of `topics` ({name: partitions}) from offset 0 up to its
    high watermark: {(topic, partition): [(offset, key, value)]}."""
    tps = [(t, p) for t, n in topics.items() for p in range(n)]
    return read_to_high_watermarks(bootstrap, tps, IO_TIMEOUT_S)


class placement_test(unittest.TestCase):
    def setUp(self):
        self.cluster = Cluster(BROKERS, smp=SMP, seeds=SEEDS, admin=True).start()
        self.addCleanup(self.cluster.close)
        self.dead = set()

    # --- Metadata ------------------------------------------------------------------------------
    def view_of(self, node, topics):
        """Node `node`'s Metadata (its address alone given to the client) of `topics`:
        ({topic: {partition: (leader, replicas, isr)}}, problems)."""
        md = self.cluster.metadata(node, timeout_s=5)
        view, problems = {}, []
        ids = set(range(BROKERS))
        for name in topics:
            partitions, rf = TOPICS[name]
            t = md.topics.get(name)
            if t is None or t.error is not None:
                problems.append(f"node {node}: topic {name}: "
                                f"{t.error if t is not None else 'not listed'}")
                continue
            if len(t.partitions) != partitions:
                problems.append(f"node {node}: topic {name}: {len(t.partitions)} partitions, "
                                f"expected {partitions}")
            view[name] = {}
            for p, m in sorted(t.partitions.items()):
                where = f"node {node}: {name}/{p} (rf {rf})"
                replicas, isr = list(m.replicas), list(m.isrs)
                view[name][p] = (m.leader, tuple(sorted(replicas)), tuple(sorted(isr)))
                if m.error is not None:
                    problems.append(f"{where}: error {m.error}")
                if len(replicas) != rf or len(set(replicas)) != rf:
                    problems.append(f"{where}: replicas {replicas}, expected {rf} distinct "
                                    f"brokers")
                if not set(replicas) <= ids:
                    problems.append(f"{where}: replicas {replicas} not among brokers "
                                    f"{sorted(ids)}")
                if m.leader not in replicas:
                    problems.append(f"{where}: leader {m.leader} is not one of the replicas "
                                    f"{replicas}")
                elif m.leader in self.dead:
                    problems.append(f"{where}: leader {m.leader} was killed")
                if not set(isr) <= set(replicas):
                    problems.append(f"{where}: isr {isr} is not within the replicas {replicas}")
        return view, problems

    def wait_agreement(self, topics, timeout_s=AGREE_TIMEOUT_S, extra=None):
        """Waits until the Metadata of every live broker, each asked on its own, passes
        view_of's checks for `topics` and every broker names the same replicas and leader for
        each partition, and `extra(agreed, views)` (if given) finds no problem. Returns
        ({topic: {partition: (leader, replicas)}}, {node: view}, seconds it took)."""
        nodes = [n for n in range(BROKERS) if n not in self.dead]
        start = time.monotonic()
        deadline = start + timeout_s
        while True:
            views, problems = {}, []
            for n in nodes:
                try:
                    views[n], found = self.view_of(n, topics)
                    problems.extend(found)
                except Exception as e:  # noqa: BLE001 - a broker that does not answer yet
                    problems.append(f"node {n}: no Metadata: {e!r}")
            agreed = {}
            if not problems:
                first = views[nodes[0]]
                for name in topics:
                    agreed[name] = {}
                    for p, (leader, replicas, _) in first[name].items():
                        answers = {n: views[n][name].get(p, (None, None, None))[:2]
                                   for n in nodes}
                        if len(set(answers.values())) != 1:
                            problems.append(f"{name}/{p}: brokers disagree "
                                            f"(node: (leader, replicas)): {answers}")
                        agreed[name][p] = (leader, replicas)
            if not problems and extra is not None:
                problems.extend(extra(agreed, views))
            if not problems:
                return agreed, views, time.monotonic() - start
            if time.monotonic() >= deadline:
                shown = "\n  ".join(problems[:30])
                more = f"\n  ... and {len(problems) - 30} more" if len(problems) > 30 else ""
                self.fail(f"Metadata of nodes {nodes} did not agree on a valid placement of "
                          f"{list(topics)} within {timeout_s}s (dead: {sorted(self.dead)}); "
                          f"last problems:\n  {shown}{more}\n{self.cluster.logs()}")
            time.sleep(0.25)

    def first_replicas(self, node, topics):
        """{(topic, partition): (leader, first replica)} in node `node`'s Metadata."""
        md = self.cluster.metadata(node, timeout_s=5)
        return {(name, p): (m.leader, list(m.replicas)[0] if m.replicas else None)
                for name in topics for p, m in md.topics[name].partitions.items()}

    def leadership_changes(self, node):
        """{(shard, group): wharf_raft_leadership_changes_total} of node `node`."""
        status, _, body = http_get(self.cluster.brokers[node].admin_port, "/metrics")
        self.assertEqual(status, 200)
        return {(dict(labels)["shard"], dict(labels)["group"]): v
                for (name, labels), v in parse_metrics(body.decode()).items()
                if name == "wharf_raft_leadership_changes_total"}

    def transfer_partition_leadership(self, placement):
        """Hands an rf3 partition's leadership to another of its replicas through the admin
        API and checks the answers of a broker outside its group and of bad requests."""
        c = self.cluster
        p, (leader, replicas) = next(iter(sorted(placement["rf3"].items())))
        target = next(n for n in replicas if n != leader)
        outsider = next(n for n in range(BROKERS) if n not in replicas)
        path = f"/v1/partitions/kafka/rf3/{p}/transfer_leadership"
        for node, bad, want in ((leader, f"{path}?target=x", 400),
                                (leader, path, 400),
                                (leader, f"/v1/partitions/kafka/rf3/x/transfer_leadership"
                                         f"?target={target}", 400),
                                (leader, f"/v1/partitions/kafka/nosuch/0/transfer_leadership"
                                         f"?target={target}", 404),
                                (leader, f"/v1/partitions/kafka/rf3/{PARTITIONS}/"
                                         f"transfer_leadership?target={target}", 404),
                                (leader, f"/v1/partitions/other/rf3/{p}/transfer_leadership"
                                         f"?target={target}", 404),
                                (outsider, f"{path}?target={target}", 503)):
            status, body = admin_call("POST", c.brokers[node].admin_port, bad)
            self.assertEqual(status, want, f"transfer: POST {bad} to node {node}: {body}")
        # The broker outside the group names its leader, as the leader's notices told it.
        _, body = admin_call("POST", c.brokers[outsider].admin_port, f"{path}?target={target}")
        self.assertEqual(body.get("leader"), leader,
                         f"transfer: node {outsider}, outside rf3/{p}'s group, answered {body}")
        before = self.leadership_changes(target)
        status, body = admin_call("POST", c.brokers[leader].admin_port, f"{path}?target={target}")
        self.assertEqual(status, 200, f"transfer: rf3/{p}'s leader {leader} answered {body}")
        key = (str(body["shard"]), str(body["group"]))
        self.assertIn(key, before, f"transfer: node {target} has no raft group {key}: {before}")
        deadline = time.monotonic() + ADMIN_TIMEOUT_S
        while self.leadership_changes(target)[key] <= before[key]:
            self.assertLess(time.monotonic(), deadline,
                            f"transfer: node {target} did not take over rf3/{p} (shard, group "
                            f"{key}) within {ADMIN_TIMEOUT_S}s\n{c.logs()}")
            time.sleep(0.1)
        print(f"step 2: leadership of rf3/{p} (shard, group {key}) went from node {leader} to "
              f"node {target} through the admin API", flush=True)

    # --- records -------------------------------------------------------------------------------
    def produce_round(self, node, topics, first):
        acked, errors, left = produce(self.cluster.brokers[node].bootstrap, topics, first,
                                      RECORDS)
        counts = {f"{t}/{p}": len(acked.get((t, p), {}))
                  for t, n in topics.items() for p in range(n)}
        short = {tp: n for tp, n in counts.items() if n != RECORDS}
        if errors or left or short:
            self.fail(f"producing {RECORDS} records (values {first}..{first + RECORDS - 1}) "
                      f"to every partition of {list(topics)} through node {node}: {left} left "
                      f"unflushed after {IO_TIMEOUT_S}s, {len(errors)} delivery errors "
                      f"{errors[:5]}, partitions not fully acknowledged (partition: "
                      f"acknowledged): {short}\n{self.cluster.logs()}")
        return acked

    def check_read_back(self, node, topics, acked, rounds):
        """Reads `topics` through node `node` alone and checks every partition holds exactly the
        values 0..rounds*RECORDS-1 in order with their keys, each at its acknowledged offset.
        `acked`: {(topic, partition): {offset: (key, value)}} of every round."""
        got = read_back(self.cluster.brokers[node].bootstrap, topics)
        problems = []
        for (t, p), records in sorted(got.items()):
            where = f"{t}/{p}"
            expected = [(key_of(t, p, i), i) for i in range(rounds * RECORDS)]
            stored = [(k, v) for _, k, v in records]
            if stored != expected:
                values = [v for _, v in stored]
                seen = set()
                dups = sorted({v for v in values if v in seen or seen.add(v)})
                lost = sorted(set(range(rounds * RECORDS)) - set(values))
                extra = sorted(set(values) - set(range(rounds * RECORDS)))
                disorder = [(a, b) for a, b in zip(values, values[1:]) if b < a]
                wrong_keys = [(k, v) for k, v in stored if k != key_of(t, p, v)]
                found = [f"{what} {items[:10]}" for what, items in (
                    ("lost", lost), ("duplicated", dups), ("unexpected", extra),
                    ("out of order (value pairs)", disorder), ("wrong keys", wrong_keys))
                         if items]
                problems.append(f"{where}: {len(stored)} records, expected values "
                                f"0..{len(expected) - 1} once each in order: " + "; ".join(found))
            at = {o: (k, v) for o, k, v in records}
            moved = [(o, kv, at.get(o)) for o, kv in sorted(acked.get((t, p), {}).items())
                     if at.get(o) != kv]
            if moved:
                problems.append(f"{where}: {len(moved)} acknowledged records not at their "
                                f"acknowledged offset ((offset, acked (key, value), stored)): "
                                f"{moved[:5]}")
        if problems:
            self.fail(f"reading {list(topics)} back through node {node}:\n  "
                      + "\n  ".join(problems) + f"\n{self.cluster.logs()}")

    # --- the test ------------------------------------------------------------------------------
    def test_placement_below_the_broker_count(self):
        c = self.cluster
        c.wait_formed()
        print(f"cluster of {BROKERS} brokers formed", flush=True)

        # 1. CreateTopics: RF 1..4 succeed, 5 and 0 are refused.
        for name, (partitions, rf) in TOPICS.items():
            code, why = create_topic(c.bootstrap, name, partitions, rf)
            if code is not None:
                self.fail(f"step 1: CreateTopics {name} ({partitions} partitions, replication "
                          f"factor {rf}) on {BROKERS} brokers failed: {why}")
        for name, rf in REFUSED.items():
            code, why = create_topic(c.bootstrap, name, PARTITIONS, rf)
            if code != KafkaError.INVALID_REPLICATION_FACTOR:
                self.fail(f"step 1: CreateTopics {name} with replication factor {rf} on "
                          f"{BROKERS} brokers: expected INVALID_REPLICATION_FACTOR (38), got "
                          f"{why or 'success'}")
        listed = c.metadata(timeout_s=10).topics
        self.assertFalse(set(REFUSED) & set(listed),
                         f"step 1: refused topics exist: {sorted(set(REFUSED) & set(listed))}")
        print(f"step 1: created {list(TOPICS)}, {list(REFUSED)} refused with "
              f"INVALID_REPLICATION_FACTOR", flush=True)

        # 2. Every broker's Metadata agrees on a valid placement that spreads the partitions.
        placement, _, took = self.wait_agreement(list(TOPICS))
        for name, parts in placement.items():
            print(f"step 2: {name}: " + ", ".join(f"{p}: leader {l} replicas {list(r)}"
                                                  for p, (l, r) in parts.items()), flush=True)
        print(f"step 2: every broker agreed after {took:.1f}s", flush=True)
        rf1_leaders = {l for l, _ in placement["rf1"].values()}
        self.assertGreaterEqual(len(rf1_leaders), 2,
                                f"step 2: every rf1 partition is on node(s) {rf1_leaders}: "
                                f"placement does not spread partitions ({placement['rf1']})")
        rf3_sets = {r for _, r in placement["rf3"].values()}
        self.assertGreaterEqual(len(rf3_sets), 2,
                                f"step 2: every rf3 partition has the replicas {rf3_sets}: "
                                f"placement does not spread replica sets ({placement['rf3']})")

        # Every broker leads, on every shard, the group of its rf1 rotation, and /metrics shows
        # it as a row of its own (group 0 is every broker's).
        for node, b in enumerate(c.brokers):
            status, _, body = http_get(b.admin_port, "/metrics")
            self.assertEqual(status, 200)
            samples = parse_metrics(body.decode())
            led = {dict(labels)["shard"] for (name, labels), v in samples.items()
                   if name == "wharf_raft_leader" and v == 1 and dict(labels)["group"] != "0"}
            self.assertEqual(led, {str(k) for k in range(SMP)},
                             f"step 2: node {node} leads a group of a fixed replica set on "
                             f"shards {sorted(led)}, not on every one")

        self.transfer_partition_leadership(placement)

        # 3. Produce through one broker, read back through another.
        producer_node, reader_node = 0, 2
        everything = {name: partitions for name, (partitions, _) in TOPICS.items()}
        acked = self.produce_round(producer_node, everything, 0)
        self.check_read_back(reader_node, everything, acked, rounds=1)
        print(f"step 3: {RECORDS} records to each of {sum(everything.values())} partitions "
              f"through node {producer_node}, all read back in order through node "
              f"{reader_node}", flush=True)

        # 4. Kill the broker that leads the most rf3 partitions (of those, the one in the most
        # rf3 replica sets).
        rf3 = placement["rf3"]
        victim = max(range(BROKERS),
                     key=lambda n: (sum(1 for l, _ in rf3.values() if l == n),
                                    sum(1 for _, r in rf3.values() if n in r)))
        hit = sorted(p for p, (_, r) in rf3.items() if victim in r)
        spared = sorted(p for p in rf3 if p not in hit)
        led = sorted(p for p, (l, _) in rf3.items() if l == victim)
        self.assertTrue(hit, f"step 4: no rf3 partition on node {victim}: {rf3}")
        c.kill(victim)
        self.dead.add(victim)
        print(f"step 4: killed node {victim}: leader of rf3 partitions {led}, replica of {hit}; "
              f"rf3 partitions without it: {spared}", flush=True)

        def after_kill(agreed, _views):
            problems = []
            for p, (leader, replicas) in agreed["rf3"].items():
                if replicas != rf3[p][1]:
                    problems.append(f"rf3/{p}: replicas {list(replicas)} after the kill of node "
                                    f"{victim}, {list(rf3[p][1])} before")
                if p in hit and leader not in set(rf3[p][1]) - {victim}:
                    problems.append(f"rf3/{p}: leader {leader}, expected one of the remaining "
                                    f"replicas {sorted(set(rf3[p][1]) - {victim})}")
            return problems

        failover, _, took = self.wait_agreement(["rf3"], extra=after_kill)
        moved = {p: (rf3[p][0], failover["rf3"][p][0]) for p in hit if p in led}
        print(f"step 4: survivors agreed after {took:.1f}s; new leaders (partition: (old, new)): "
              f"{moved}; leaders of spared partitions "
              f"{ {p: failover['rf3'][p][0] for p in spared} } (before "
              f"{ {p: rf3[p][0] for p in spared} })", flush=True)

        survivors = [n for n in range(BROKERS) if n != victim]
        producer_node, reader_node = survivors[0], survivors[-1]
        only_rf3 = {"rf3": TOPICS["rf3"][0]}
        acked_after = self.produce_round(producer_node, only_rf3, RECORDS)
        rf3_acked = {tp: {**acked[tp], **acked_after.get(tp, {})} for tp in acked
                     if tp[0] == "rf3"}
        self.check_read_back(reader_node, only_rf3, rf3_acked, rounds=2)
        print(f"step 4: {RECORDS} more records to each rf3 partition through node "
              f"{producer_node}; all {2 * RECORDS} per partition read back in order through "
              f"node {reader_node}", flush=True)

        # The victim restarts from its data directory and catches up.
        c.start_broker(victim)
        self.dead.discard(victim)

        def caught_up(agreed, views):
            problems = []
            for name in TOPICS:
                for p, (_, replicas) in agreed[name].items():
                    if victim not in replicas:
                        continue
                    for n, view in views.items():
                        isr = view[name][p][2]
                        if victim not in isr:
                            problems.append(f"node {n}: {name}/{p}: isr {list(isr)} lacks the "
                                            f"restarted node {victim}")
            return problems

        restored, _, took = self.wait_agreement(list(TOPICS), timeout_s=CATCH_UP_TIMEOUT_S,
                                                extra=caught_up)
        changed = {f"{name}/{p}": (placement[name][p][1], r)
                   for name in TOPICS for p, (_, r) in restored[name].items()
                   if r != placement[name][p][1]}
        self.assertFalse(changed, f"step 4: replica sets changed across the restart of node "
                         f"{victim} (partition: (before, after)): {changed}")
        self.check_read_back(victim, only_rf3, rf3_acked, rounds=2)
        print(f"step 4: node {victim} restarted, in the ISR of its partitions and agreeing "
              f"after {took:.1f}s; rf3 read back through it", flush=True)

        # 5. Kill the victim again and decommission it while it is down: its replicas of
        # rf1..rf3 move to the other brokers, but an rf1 or rf2 group needs it to add its
        # successor, so the controller's group keeps it (it could not learn the table after a
        # restart otherwise). It restarts, takes part in those groups from their directories
        # until raft has removed it, closes them, deletes their directories, and only then
        # leaves the controller's group. Stopped, it is missed by no partition.
        c.kill(victim)
        self.dead.add(victim)
        answers = {}
        deadline = time.monotonic() + ADMIN_TIMEOUT_S  # the victim may have been controller
        while 200 not in [status for status, _ in answers.values()]:
            if time.monotonic() >= deadline:
                break
            for n in survivors:
                path = f"/v1/brokers/{victim}/decommission"
                answers[n] = admin_call("PUT", c.brokers[n].admin_port, path)
                if answers[n][0] == 200:
                    break
            else:
                time.sleep(0.2)
        self.assertIn(200, [status for status, _ in answers.values()],
                      f"step 5: no broker decommissioned node {victim}: {answers}")
        group0_removal = re.compile(r"\[shard 0\] cluster: group 0 membership voters "
                                    r"\{([\d,]*)\}[^\n]* -> voters \{([\d,]*)\}")

        def left_controller_group():
            return [m.group(0) for b in c.brokers for m in group0_removal.finditer(b.output())
                    if str(victim) in m.group(1).split(",")
                    and str(victim) not in m.group(2).split(",")]

        held = f"cluster: decommissioned broker {victim} is still a replica"
        deadline = time.monotonic() + ADMIN_TIMEOUT_S
        while not any(held in c.brokers[n].output() for n in survivors):
            self.assertLess(time.monotonic(), deadline, f"step 5: no controller held node "
                            f"{victim} back while its replicas move\n{c.logs()}")
            time.sleep(0.1)
        time.sleep(1)  # several membership passes
        self.assertEqual(left_controller_group(), [],
                         f"step 5: node {victim} left shard 0's group 0 before its replicas "
                         f"moved\n{c.logs()}")
        # GET /v1/brokers/{id}/decommission says what is left: at least its rf1 partitions,
        # whose only replica it is.
        status_path = f"/v1/brokers/{victim}/decommission"
        status, progress = admin_call("GET", c.brokers[survivors[0]].admin_port, status_path)
        self.assertEqual(status, 200, f"step 5: GET {status_path}: {progress}")
        own_rf1 = {("rf1", p) for p, (_, r) in placement["rf1"].items() if victim in r}
        listed = {(p["topic"], p["partition"]) for p in progress["partitions"]}
        self.assertFalse(progress["finished"], f"step 5: GET {status_path}: {progress}")
        self.assertTrue(own_rf1 <= listed, f"step 5: GET {status_path} lists {sorted(listed)}, "
                                           f"not every rf1 partition of node {victim} "
                                           f"{sorted(own_rf1)}")
        self.assertEqual(progress["replicas_left"], len(listed))
        for path, want in ((f"/v1/brokers/{survivors[0]}/decommission", 400),
                           ("/v1/brokers/99/decommission", 404),
                           ("/v1/brokers/x/decommission", 400)):
            status, body = admin_call("GET", c.brokers[survivors[0]].admin_port, path)
            self.assertEqual(status, want, f"step 5: GET {path}: {body}")
        c.start_broker(victim)
        self.dead.discard(victim)
        fixed = ["rf1", "rf2", "rf3"]

        def moved_away(agreed, _views):
            return [f"{name}/{p}: replicas {list(r)} (leader {l}) still include node {victim}"
                    for name in fixed for p, (l, r) in agreed[name].items() if victim in r]

        start = time.monotonic()
        self.wait_agreement(fixed, timeout_s=MOVE_TIMEOUT_S, extra=moved_away)
        # Metadata names the new replica sets at once; raft removes the victim's replicas only
        # once their successors have caught up. Every group holding it (it is in rf of the
        # four rotations of each factor rf, on every shard) logs that removal by its leader,
        # and the victim then closes its replica and deletes the group's directory.
        removal = re.compile(r"\[shard (\d+)\] cluster: group (\d+) membership voters "
                             r"\{([\d,]*)\}[^\n]* -> voters \{([\d,]*)\}")
        closed = re.compile(r"\[shard (\d+)\] raft group (\d+) closed; \S+ deleted")
        holding = SMP * sum(rf for _, rf in TOPICS.values() if rf < BROKERS)

        def removed():
            done = set()
            for b in c.brokers:
                for m in removal.finditer(b.output()):
                    before, after = m.group(3).split(","), m.group(4).split(",")
                    fixed_group = m.group(2) != "0"  # group 0 spans every broker (rf4)
                    if fixed_group and str(victim) in before and str(victim) not in after:
                        done.add((m.group(1), m.group(2)))
            return done

        def closed_by_victim():
            return {(m.group(1), m.group(2)) for m in closed.finditer(c.brokers[victim].output())}

        deadline = time.monotonic() + MOVE_TIMEOUT_S
        while ((len(removed()) < holding or closed_by_victim() != removed())
               and time.monotonic() < deadline):
            time.sleep(0.2)
        self.assertEqual(len(removed()), holding,
                         f"step 5: node {victim} left {len(removed())} of the {holding} groups "
                         f"holding it within {MOVE_TIMEOUT_S}s\n{c.logs()}")
        self.assertEqual(closed_by_victim(), removed(),
                         f"step 5: the (shard, group)s node {victim} closed differ from those "
                         f"raft removed it from\n{c.logs()}")
        took = time.monotonic() - start
        reopened = re.compile(r"raft group \d+ \(replicas [\d,]+\) opened \(a replica moved "
                              r"away")
        reopens = len(reopened.findall(c.brokers[victim].output()))
        self.assertGreater(reopens, 0, f"step 5: node {victim} reopened no group it was moved "
                                       f"out of\n{c.logs()}")
        deadline = time.monotonic() + MOVE_TIMEOUT_S
        while not left_controller_group():
            self.assertLess(time.monotonic(), deadline, f"step 5: node {victim} never left shard "
                            f"0's group 0\n{c.logs()}")
            time.sleep(0.2)
        for n in survivors:
            while True:
                status, progress = admin_call("GET", c.brokers[n].admin_port, status_path)
                if status == 200 and progress["finished"]:
                    break
                self.assertLess(time.monotonic(), deadline, f"step 5: node {n} never reported "
                                f"the decommission finished: {status} {progress}")
                time.sleep(0.2)
            self.assertEqual((progress["replicas_left"], progress["partitions"]), (0, []))
        left = sorted(d for d in os.listdir(c.brokers[victim].data_dir) if "-group-" in d)
        self.assertEqual(left, [], f"step 5: node {victim} kept the directories {left}")

        # Leader balancing follows the moves: each partition is led by its first replica.
        survivors_view = survivors[0]
        deadline = time.monotonic() + AGREE_TIMEOUT_S
        while True:
            unbalanced = {tp: lf for tp, lf in self.first_replicas(survivors_view, fixed).items()
                          if lf[0] != lf[1]}
            if not unbalanced or time.monotonic() >= deadline:
                break
            time.sleep(0.2)
        self.assertFalse(unbalanced, f"step 5: partitions not led by their first replica "
                                     f"((topic, partition): (leader, first replica)): "
                                     f"{unbalanced}\n{c.logs()}")
        self.assertEqual(c.brokers[victim].stop(), 0, f"step 5: node {victim} did not stop cleanly")
        self.dead.add(victim)
        placed, _, _ = self.wait_agreement(fixed, extra=moved_away)
        reader = survivors[-1]
        one_round = {name: TOPICS[name][0] for name in ("rf1", "rf2")}
        self.check_read_back(reader, one_round, acked, rounds=1)
        self.check_read_back(reader, only_rf3, rf3_acked, rounds=2)
        print(f"step 5: node {victim} decommissioned while down; restarted, it reopened "
              f"{reopens} groups it was moved out of; raft removed it from all {holding} groups "
              f"holding it, it closed them and deleted their directories {took:.1f}s after its "
              f"restart, then left the controller's group; every partition is led by its "
              f"first replica (rf1: {placed['rf1']}); stopped, every record read back through "
              f"node {reader}", flush=True)


if __name__ == "__main__":
    unittest.main()
