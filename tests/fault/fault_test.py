#!/usr/bin/python3
"""Fault injection against three real brokers (tests/kafka/wharf_cluster.py): an idempotent
acks=all producer sends a few hundred records a second to a topic of 6 partitions replicated on
all three, while each round injects one fault drawn from a seeded generator:

  kill      SIGKILL one broker (half the time the leader of most partitions), 1-3 s down,
            restart on its data directory;
  pause     SIGSTOP a leader (half the time the busiest) for 2-4 s, then SIGCONT: the others
            elect new leaders, and the resumed broker must step down and catch up;
  kill_two  SIGKILL one broker, restart it, and as soon as every broker agrees on the leaders
            SIGKILL a second one and restart it (never two down at once);
  disk      restart one broker (half the time the busiest) with a disk that fails a few
            seconds later (--test-disk-fault: every log write and preallocation fails with EIO,
            or ENOSPC), leave it failing for 2-4 s, then SIGKILL it and restart it on a good
            disk: its replicas stop (EIO) or keep refusing writes (ENOSPC) and the others go on;
  isolate   cut a leader (half the time the busiest) off from the other two brokers for 3-5 s
            while clients still reach it, then heal the network: the brokers run in network
            namespaces (tests/kafka/wharf_netns.py, root only; without them the rounds leave
            this fault out, and a run of isolate alone is skipped). The isolated leader must
            stop acknowledging (check-quorum) and the others elect new leaders;
  membership  a fourth broker joins (a learner of every group, then a voter), half the time a
            seed is SIGKILLed and restarted meanwhile, then the controller decommissions it and
            it stops (membership_fault.py; left out when the brokers run in namespaces).

After each round the test waits (bounded) until every partition has a leader that every live
broker agrees on and a record produced after the fault is acknowledged on every partition. Each
round reports per partition the longest gap between two acknowledgements in its window (from its
fault to the next round's), which is how long the partition was unavailable to the producer.

At the end every partition is read from offset 0 to its high watermark (assigned partitions, no
group) and a checker reports acknowledged records that are lost (not at the offset they were
acknowledged at), values stored more than once, values out of produce order, and delivery
errors. Any of them, a fatal producer error or a broker that exits on its own fails the test.

The negative control (test_checker_sees_loss) runs the brokers with --fsync never, kills all
three at once, cuts the newest log segment of two of them in half (the unsynced tail of two
disks lost: SIGKILL alone loses nothing with fsync never, the page cache keeps the data),
restarts them, and asserts that the same checker reports lost records: it is not blind.

    tests/fault/fault_test.py --wharf build/release/core/wharf --rounds 100 [--seed S]
        [--fsync never] [--faults kill,disk] [--log-dir DIR] [fault_test.test_fault_rounds]

--fsync never runs the rounds with fsync off (single-broker faults still lose nothing) and then
ends them with the all-brokers fault of the negative control, expecting the checker to see loss.
The seed is printed first; --seed (or WHARF_FAULT_SEED) replays the same faults and victims
(leaders may still differ between runs)."""

import argparse
import bisect
import os
import random
import re
import signal
import statistics
import sys
import threading
import time
import unittest
import warnings
from concurrent.futures import ThreadPoolExecutor

sys.path.insert(0, os.path.join(os.path.dirname(os.path.dirname(os.path.abspath(__file__))),
                                "kafka"))

from confluent_kafka import KafkaException, Producer  # noqa: E402

import wharf_netns  # noqa: E402
from cluster_test import consume_all, create_topic  # noqa: E402
from membership_fault import membership_round  # noqa: E402
from wharf_cluster import Cluster, Deliveries  # noqa: E402

TOPIC = "faults"
PARTITIONS = 6
RATE = 300  # records a second, over all partitions
RECOVERY_TIMEOUT_S = 60  # a fault to every partition acknowledging again
FLUSH_TIMEOUT_S = 120
SLOW_S = 10  # an unavailability window longer than this is reported as SLOW
FAULTS = ("kill", "pause", "kill_two", "disk", "isolate", "membership")
# What rounds draw from unless --faults says otherwise.
DEFAULT_FAULTS = FAULTS
# A broker given a failing disk: its log writes start failing this long after its shards open
# their logs (after its start-up, which needs its own writes).
DISK_FAULT_AFTER_S = 3

# Set by main() from the command line (the defaults are the CI mode).
CONFIG = {"rounds": 3, "seed": None, "fsync": "always", "smp": 2, "log_dir": None,
          "faults": DEFAULT_FAULTS}


def log(msg):
    print(msg, flush=True)


class TimedDeliveries(Deliveries):
    """Deliveries that also keep, per partition, when each acknowledgement arrived."""

    def __init__(self):
        super().__init__()
        self.ack_times = {p: [] for p in range(PARTITIONS)}

    def report(self, err, msg):
        super().report(err, msg)
        if err is None:
            now = time.monotonic()
            with self.lock:
                self.ack_times[msg.partition()].append(now)

    def unmark(self, name):
        with self.lock:
            self.marks.pop(name, None)

    def acked_since(self, name):
        """Partitions that acknowledged a record produced after mark `name`."""
        with self.lock:
            return {p for p in range(PARTITIONS) if (name, p) in self.first_after}

    def snapshot(self):
        with self.lock:
            return list(self.acked), list(self.errors)

    def longest_gap(self, partition, start, end):
        """The longest time without an acknowledgement of `partition` in [start, end): from the
        last acknowledgement before `start` (or `start`) through those in the window to `end`."""
        with self.lock:
            times = self.ack_times[partition]
            lo = bisect.bisect_left(times, start)
            hi = bisect.bisect_left(times, end)
            points = [times[lo - 1] if lo > 0 else start, *times[lo:hi], end]
        return max(b - a for a, b in zip(points, points[1:]))


class ContinuousProducer:
    """An idempotent acks=all producer in its own thread, RATE records a second: record i has
    value i and goes to partition i % PARTITIONS, so values are unique and rise per partition.
    Fatal errors (error_cb) are kept; delivery reports go to `deliveries`."""

    def __init__(self, bootstrap, deliveries, first_value=0, rate=RATE):
        self.bootstrap = bootstrap
        self.deliveries = deliveries
        self.rate = rate
        self.next_value = first_value  # read by the test thread
        self.fatal = []
        self.transport_errors = 0
        self.left = None  # records without a delivery report after the final flush
        self._handled = 0  # fatal errors after which the producer was replaced
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, name="producer", daemon=True)

    def start(self):
        self._thread.start()
        return self

    def _on_error(self, err):
        if err.fatal():
            self.fatal.append(str(err))
        else:
            self.transport_errors += 1

    def _new_producer(self):
        return Producer({"bootstrap.servers": self.bootstrap, "acks": "all",
                         "enable.idempotence": True, "linger.ms": 5,
                         "message.timeout.ms": 300000, "reconnect.backoff.ms": 50,
                         "reconnect.backoff.max.ms": 200, "retry.backoff.ms": 50,
                         "error_cb": self._on_error})

    def _run(self):
        """Produces until stopped. A fatal error (error_cb, or raised by produce or poll) is
        kept, the producer's undelivered records fail with delivery errors, and a new producer
        (a new producer id) carries on with the next values, so that a long run goes on and
        reports every round; the test fails at the end on any fatal error."""
        p = self._new_producer()
        start, first = time.monotonic(), self.next_value
        while not self._stop.is_set():
            try:
                due = first + int((time.monotonic() - start) * self.rate)
                while self.next_value < due and not self.fatal_seen():
                    try:
                        p.produce(TOPIC, value=str(self.next_value).encode(),
                                  partition=self.next_value % PARTITIONS,
                                  on_delivery=self.deliveries.report)
                    except BufferError:
                        break
                    self.next_value += 1
                p.poll(0.01)
            except KafkaException as e:
                self.fatal.append(f"raised: {e}")
            if self.fatal_seen():
                log(f"  FATAL producer error at value {self.next_value}: {self.fatal[-1]}; "
                    f"a new producer carries on")
                self._handled = len(self.fatal)
                try:
                    p.flush(10)  # fails what is left with delivery errors
                except KafkaException:
                    pass
                p = self._new_producer()
        self.left = p.flush(FLUSH_TIMEOUT_S)

    def fatal_seen(self):
        return len(self.fatal) > self._handled

    def stop(self):
        """Stops producing, waits for every delivery report (bounded); returns the count of
        records without one."""
        self._stop.set()
        self._thread.join(FLUSH_TIMEOUT_S + 30)
        if self._thread.is_alive():
            raise AssertionError(f"producer thread did not finish within {FLUSH_TIMEOUT_S + 30}s")
        return self.left


def check(acked, errors, got):
    """The checker: acknowledged (partition, offset, value) against what every partition holds
    (`got`: {partition: [(offset, value)]}). Returns {lost, duplicated, out_of_order, errors},
    each a list of every instance found."""
    stored = {(p, o): v for p, records in got.items() for o, v in records}
    where = {}
    for p, records in got.items():
        for o, v in records:
            where.setdefault((p, v), []).append(o)
    lost = [(p, o, v, stored.get((p, o)), where.get((p, v), []))
            for p, o, v in acked if stored.get((p, o)) != v]
    duplicated = [(p, v, offsets) for (p, v), offsets in where.items() if len(offsets) > 1]
    out_of_order = [(p, a, b) for p, records in got.items()
                    for a, b in zip(records, records[1:]) if a[1] > b[1]]
    return {"lost": lost, "duplicated": duplicated, "out_of_order": out_of_order,
            "errors": list(errors)}


def describe(report, acked_count, stored_count):
    lines = [f"checker: {acked_count} acknowledged, {stored_count} stored; "
             f"lost {len(report['lost'])}, duplicated {len(report['duplicated'])}, "
             f"out of order {len(report['out_of_order'])}, delivery errors "
             f"{len(report['errors'])}"]
    if report["lost"]:
        lines.append("  lost (partition, offset, value, stored there, offsets holding the value): "
                     f"{report['lost'][:10]}")
    if report["duplicated"]:
        lines.append(f"  duplicated (partition, value, offsets): {report['duplicated'][:10]}")
    if report["out_of_order"]:
        lines.append("  out of order (partition, (offset, value), next (offset, value)): "
                     f"{report['out_of_order'][:10]}")
    if report["errors"]:
        lines.append(f"  delivery errors: {report['errors'][:10]}")
    return "\n".join(lines)


def broker_problems(cluster, lines_each=8):
    """Lines of every broker's output that look like trouble (error, critical, assert,
    sanitizer reports), the last few of each."""
    pattern = re.compile(r"\berror\b|critical|assert|sanitizer|runtime error", re.IGNORECASE)
    out = []
    for n, b in enumerate(cluster.brokers):
        hits = [line for line in b.output().splitlines() if pattern.search(line)]
        if hits:
            out.append(f"----- node {n}: {len(hits)} lines with error/critical/assert -----")
            out.extend(hits[-lines_each:])
    return "\n".join(out)


def summarize(windows):
    """windows: [(fault, partition gap seconds)] -> lines of median/max per fault type."""
    lines = []
    for fault in sorted({f for f, _ in windows}):
        gaps = [g for f, g in windows if f == fault]
        lines.append(f"  {fault:>9}: {len(gaps)} partition windows, unavailable median "
                     f"{statistics.median(gaps):.2f}s, max {max(gaps):.2f}s")
    return "\n".join(lines)


class fault_test(unittest.TestCase):
    maxDiff = None

    def setUp(self):
        # A restarted broker's previous stdout pipe is closed by the garbage collector.
        warnings.filterwarnings("ignore", category=ResourceWarning)
        seed = CONFIG["seed"]
        if seed is None:
            seed = int(os.environ.get("WHARF_FAULT_SEED", random.SystemRandom().randrange(1 << 31)))
        self.seed = seed
        self.rng = random.Random(seed)
        log(f"{self.id()}: seed {seed} (replay with --seed {seed})")
        self.cluster = None

    def start_cluster(self, fsync, faults=()):
        """Three brokers, in network namespaces when `faults` has isolate (which is left out of
        self.faults when namespaces cannot be made here, or the test skipped when it is all)."""
        self.faults = tuple(faults)
        netns = None
        if "isolate" in self.faults:
            why = wharf_netns.available()
            if why and self.faults == ("isolate",):
                self.skipTest(f"the isolate fault needs network namespaces: {why}")
            if why:
                log(f"isolate left out of the faults: {why}")
                self.faults = tuple(f for f in self.faults if f != "isolate")
            else:
                netns = wharf_netns.Netns(3)
                self.addCleanup(netns.close)  # after the cluster's cleanup (LIFO)
        if netns is not None and "membership" in self.faults:
            # The joining broker runs on loopback, which brokers in namespaces cannot reach.
            log("membership left out of the faults: the brokers run in network namespaces")
            self.faults = tuple(f for f in self.faults if f != "membership")
        self.fsync, self.smp, self.next_joiner = fsync, CONFIG["smp"], 3
        self.cluster = Cluster(3, smp=CONFIG["smp"], flags=("--fsync", fsync), netns=netns,
                               admin=True)
        self.addCleanup(self.close_cluster)
        self.cluster.start()
        self.cluster.wait_formed(nodes=[None])
        create_topic(self.cluster.bootstrap, TOPIC, PARTITIONS, 3)
        return self.cluster.wait_leaders(TOPIC, PARTITIONS, timeout_s=RECOVERY_TIMEOUT_S)

    def close_cluster(self):
        c = self.cluster
        for b in c.brokers:  # a broker left paused by a failure: SIGKILL works anyway
            if b.alive():
                try:
                    os.killpg(b.proc.pid, signal.SIGCONT)
                except ProcessLookupError:
                    pass
        if CONFIG["log_dir"]:
            os.makedirs(CONFIG["log_dir"], exist_ok=True)
            for n, b in enumerate(c.brokers):
                path = os.path.join(CONFIG["log_dir"], f"{self._testMethodName}-node{n}.log")
                with open(path, "w") as f:
                    f.write(b.output())
        c.close()

    def start_producer(self, deliveries, first_value=0):
        producer = ContinuousProducer(self.cluster.bootstrap, deliveries, first_value).start()
        self.addCleanup(lambda: producer._stop.set())
        return producer

    # --- waits -------------------------------------------------------------------------------
    def assert_all_alive(self, when):
        dead = [(n, b.proc.returncode) for n, b in enumerate(self.cluster.brokers)
                if not b.alive()]
        self.assertFalse(dead, f"brokers exited on their own {when} (node, exit status): {dead}\n"
                         f"{broker_problems(self.cluster)}\n{self.cluster.logs()}")

    def wait_acknowledged(self, deliveries, producer, name, timeout_s=RECOVERY_TIMEOUT_S):
        """Marks the next produce index and waits until every partition acknowledged a record
        produced at or after it. Returns the seconds it took."""
        start = time.monotonic()
        deliveries.mark(name, producer.next_value)
        deadline = start + timeout_s
        try:
            while time.monotonic() < deadline:
                if len(deliveries.acked_since(name)) == PARTITIONS:
                    return time.monotonic() - start
                time.sleep(0.02)
            missing = sorted(set(range(PARTITIONS)) - deliveries.acked_since(name))
            _, errors = deliveries.snapshot()
            self.fail(f"{name}: partitions {missing} acknowledged nothing produced after it "
                      f"within {timeout_s}s; fatal {producer.fatal}, delivery errors "
                      f"{errors[:5]}\n{broker_problems(self.cluster)}\n{self.cluster.logs()}")
        finally:
            deliveries.unmark(name)

    # --- faults ------------------------------------------------------------------------------
    def busiest_or_random(self, leaders, among=None):
        """Half the time the broker that leads the most partitions, else a random one (of
        `among`, default every broker)."""
        among = list(range(3)) if among is None else among
        if self.rng.random() < 0.5:
            counts = {n: list(leaders.values()).count(n) for n in among}
            return max(among, key=lambda n: (counts[n], -n))
        return self.rng.choice(among)

    def kill_and_restart(self, victim):
        c = self.cluster
        c.kill(victim)
        down = self.rng.uniform(1, 3)
        time.sleep(down)
        c.start_broker(victim)
        return f"node {victim} SIGKILL, down {down:.1f}s, restarted"

    def fault_kill(self, leaders):
        return self.kill_and_restart(self.busiest_or_random(leaders))

    def fault_pause(self, leaders):
        victim = self.busiest_or_random(leaders, among=sorted(set(leaders.values())))
        pid = self.cluster.brokers[victim].proc.pid
        pause = self.rng.uniform(2, 4)
        os.killpg(pid, signal.SIGSTOP)
        try:
            time.sleep(pause)
        finally:
            os.killpg(pid, signal.SIGCONT)
        led = sorted(p for p, n in leaders.items() if n == victim)
        return f"node {victim} (leader of {led}) SIGSTOP for {pause:.1f}s, SIGCONT"

    def fault_isolate(self, leaders):
        c = self.cluster
        victim = self.busiest_or_random(leaders, among=sorted(set(leaders.values())))
        cut = self.rng.uniform(3, 5)
        c.netns.isolate(victim)
        try:
            time.sleep(cut)
        finally:
            c.netns.heal(victim)
        led = sorted(p for p, n in leaders.items() if n == victim)
        return (f"node {victim} (leader of {led}) cut off from its peers for {cut:.1f}s, clients "
                f"still reaching it; healed")

    def fault_membership(self, leaders):
        return membership_round(self, TOPIC, RECOVERY_TIMEOUT_S)

    def fault_kill_two(self, leaders):
        first = self.busiest_or_random(leaders)
        second = self.rng.choice([n for n in range(3) if n != first])
        what = [self.kill_and_restart(first)]
        # The first one is back and agrees on every leader before the second goes down.
        self.cluster.wait_leaders(TOPIC, PARTITIONS, timeout_s=RECOVERY_TIMEOUT_S)
        what.append(self.kill_and_restart(second))
        return "; then ".join(what)

    def kill_all_and_lose_tails(self, first_value):
        """The negative control's fault (brokers with --fsync never): SIGKILL all three at once,
        cut the newest segment of every shard of two of them in half, restart those two, let
        them take new records (a new term on every partition), then start the third while
        they do. Returns the new records' Deliveries and ContinuousProducer (stopped)."""
        c = self.cluster
        lose = sorted(self.rng.sample(range(3), 2))
        keep = next(n for n in range(3) if n not in lose)
        for b in c.brokers:
            os.killpg(b.proc.pid, signal.SIGKILL)
        for n in range(3):
            c.kill(n)  # reaps it
        for n in lose:
            for root, _, files in os.walk(c.brokers[n].data_dir):
                segments = sorted(f for f in files if f.endswith(".log"))
                if segments:
                    path = os.path.join(root, segments[-1])
                    size = os.path.getsize(path)
                    os.truncate(path, size // 2)
                    log(f"  node {n}: {os.path.relpath(path, c.brokers[n].data_dir)} cut from "
                        f"{size} to {size // 2} bytes")
        log(f"  all brokers SIGKILLed; nodes {lose} lost the unsynced half of their newest "
            f"segments; restarting them, then node {keep}")
        with ThreadPoolExecutor(2) as pool:
            for f in [pool.submit(c.start_broker, n) for n in lose]:
                f.result()
        self.wait_leaders_after_full_restart()
        d = TimedDeliveries()
        producer = self.start_producer(d, first_value)
        self.wait_acknowledged(d, producer, "after the restart of two")
        # The third rejoins while records flow (the leaders' commit index moves on).
        started = []
        t = threading.Thread(target=lambda: started.append(c.start_broker(keep)), daemon=True)
        t.start()
        t.join(RECOVERY_TIMEOUT_S + 30)
        self.assertTrue(started, f"node {keep} did not restart\n{c.logs()}")
        c.wait_leaders(TOPIC, PARTITIONS, timeout_s=RECOVERY_TIMEOUT_S)
        self.wait_acknowledged(d, producer, "after the restart of all")
        left = producer.stop()
        log(f"  {len(d.acked)} records acknowledged after the restarts ({left} without a "
            f"report, fatal {producer.fatal}, delivery errors {d.errors[:3]})")
        return d, producer

    def wait_leaders_after_full_restart(self):
        """wait_leaders, with a workaround for a broker defect seen after every broker was
        killed and restarted together (also with --fsync always): one broker (in the runs seen,
        one that led the metadata group right after the restart) keeps listing no topics (its Metadata answers
        LEADER_NOT_AVAILABLE for the topic) until it is restarted. Such a broker is named
        loudly and restarted once; the negative control is about the checker, not this."""
        c = self.cluster
        try:
            return c.wait_leaders(TOPIC, PARTITIONS, timeout_s=20)
        except AssertionError:
            pass
        blind = []
        for n, b in enumerate(c.brokers):
            if not b.alive():
                continue
            try:
                topics = c.metadata(n, timeout_s=5).topics
            except Exception as e:  # noqa: BLE001 - reported below
                topics = {}
                log(f"  node {n}: no Metadata: {e}")
            if TOPIC not in topics:
                blind.append(n)
        log(f"  BROKER DEFECT (worked around): after the full restart nodes {blind} do not "
            f"list topic {TOPIC!r} after 20s; restarting them")
        for n in blind:
            c.kill(n)
            c.start_broker(n)
        return c.wait_leaders(TOPIC, PARTITIONS, timeout_s=RECOVERY_TIMEOUT_S)

    # --- the checker -------------------------------------------------------------------------
    def read_and_check(self, acked, errors):
        c = self.cluster
        c.wait_leaders(TOPIC, PARTITIONS, timeout_s=RECOVERY_TIMEOUT_S)
        got = consume_all(c.bootstrap, TOPIC, PARTITIONS, timeout_s=60 + len(acked) / 2000)
        report = check(acked, errors, got)
        log(describe(report, len(acked), sum(len(r) for r in got.values())))
        return report

    def report_windows(self, d, results, end):
        """Prints each round's unavailability per partition and the median and max per
        fault type."""
        windows, slow = [], []
        log("unavailability per round (longest gap between acknowledgements, per partition):")
        for i, (r, fault, start, what, recovered) in enumerate(results):
            stop = results[i + 1][2] if i + 1 < len(results) else end
            gaps = [d.longest_gap(p, start, stop) for p in range(PARTITIONS)]
            windows.extend((fault, g) for g in gaps)
            flag = ""
            if max(gaps) > SLOW_S:
                slow.append((r, fault, what, max(gaps)))
                flag = f"  SLOW (over {SLOW_S}s)"
            log(f"  round {r:>3} {fault:>9}: max {max(gaps):5.2f}s  "
                f"[{' '.join(f'{g:.2f}' for g in gaps)}]{flag}")
        if windows:
            log("unavailability by fault type:\n" + summarize(windows))
        if slow:
            log(f"rounds with a partition unavailable over {SLOW_S}s (round, fault, what, "
                f"seconds): {slow}")

    # --- tests -------------------------------------------------------------------------------
    def fault_disk(self, leaders):
        c = self.cluster
        victim = self.busiest_or_random(leaders)
        error = self.rng.choice(("eio", "enospc"))
        failing = self.rng.uniform(2, 4)
        b = c.brokers[victim]
        flags = b.flags
        c.kill(victim)
        b.flags = (*flags, "--test-disk-fault", f"{error}@{DISK_FAULT_AFTER_S}s")
        started = time.monotonic()
        try:
            c.start_broker(victim)
        finally:
            b.flags = flags
        time.sleep(max(0.0, started + DISK_FAULT_AFTER_S + failing - time.monotonic()))
        self.assert_all_alive(f"with node {victim}'s disk failing ({error})")
        c.kill(victim)
        c.start_broker(victim)
        return (f"node {victim} restarted on a disk failing with {error} {DISK_FAULT_AFTER_S}s "
                f"later, {failing:.1f}s of failing writes, SIGKILL, restarted on a good disk")

    def test_fault_rounds(self):
        rounds, fsync = CONFIG["rounds"], CONFIG["fsync"]
        leaders = self.start_cluster(fsync, CONFIG["faults"])
        c = self.cluster
        log(f"{rounds} rounds of {','.join(self.faults)}, --fsync {fsync}, --smp "
            f"{CONFIG['smp']}, {RATE} records/s to {PARTITIONS} partitions; leaders {leaders}")
        d = TimedDeliveries()
        producer = self.start_producer(d)
        self.wait_acknowledged(d, producer, "warm-up")
        results = []  # (round, fault, start, description, recovered seconds)
        try:
            for r in range(1, rounds + 1):
                fault = self.rng.choice(self.faults)
                self.assert_all_alive(f"before round {r}")
                leaders = c.wait_leaders(TOPIC, PARTITIONS, timeout_s=RECOVERY_TIMEOUT_S)
                start = time.monotonic()
                log(f"round {r}/{rounds} (seed {self.seed}): {fault}, leaders {leaders}")
                what = getattr(self, f"fault_{fault}")(leaders)
                fault_over = time.monotonic()
                self.assert_all_alive(f"in round {r} ({fault}: {what})")
                c.wait_leaders(TOPIC, PARTITIONS, timeout_s=RECOVERY_TIMEOUT_S)
                took = self.wait_acknowledged(d, producer, f"round {r}")
                recovered = time.monotonic() - fault_over
                results.append((r, fault, start, what, recovered))
                log(f"  {what}; every partition acknowledged again {recovered:.1f}s after the "
                    f"fault ended ({took:.1f}s after the leaders agreed), "
                    f"{len(d.acked)} acknowledged so far")
                time.sleep(self.rng.uniform(0.5, 1.5))  # leader balancing may move leaders back
        finally:
            # Also when a round failed: the windows of the rounds so far.
            self.report_windows(d, results, time.monotonic())
        self.assert_all_alive("after the rounds")
        left = producer.stop()
        acked, errors = d.snapshot()
        log(f"producer: {producer.next_value} produced, {len(acked)} acknowledged, {left} "
            f"without a delivery report, {len(errors)} delivery errors, fatal {producer.fatal}, "
            f"{producer.transport_errors} transport errors (retried)")

        expect_loss = fsync == "never"
        if expect_loss:
            log("--fsync never: the negative control's fault ends the rounds")
            d2, producer2 = self.kill_all_and_lose_tails(producer.next_value)
            acked2, errors2 = d2.snapshot()
            report = self.read_and_check(acked + acked2, errors + errors2)
            self.assertTrue(report["lost"], "the checker saw no loss after two brokers lost "
                            "their unsynced tails: it is blind")
            return

        report = self.read_and_check(acked, errors)
        self.assert_all_alive("after the check")
        problems = {k: len(v) for k, v in report.items() if v}
        if producer.fatal:
            problems["fatal producer errors"] = producer.fatal
        if left:
            problems["records without a delivery report"] = left
        logged = broker_problems(c)
        if logged:
            log(logged)
        self.assertFalse(problems, f"seed {self.seed}: {problems}\n"
                         f"{describe(report, len(acked), 0)}\n{logged}\n{c.logs()}")

    def test_checker_sees_loss(self):
        """Negative control: with --fsync never, all brokers killed at once and two of them
        losing their unsynced tails, the checker must report acknowledged records as lost."""
        self.start_cluster("never")
        d = TimedDeliveries()
        producer = self.start_producer(d)
        deadline = time.monotonic() + RECOVERY_TIMEOUT_S
        while len(d.acked) < 1500 and time.monotonic() < deadline and not producer.fatal:
            time.sleep(0.05)
        left = producer.stop()
        acked, errors = d.snapshot()
        self.assertEqual(left, 0, f"{left} records without a delivery report")
        self.assertGreaterEqual(len(acked), 1500, f"fatal {producer.fatal} errors {errors[:5]}")
        self.assertFalse(errors, f"delivery errors before the fault: {errors[:5]}")
        log(f"{len(acked)} records acknowledged with --fsync never")
        d2, _ = self.kill_all_and_lose_tails(producer.next_value)
        acked2, errors2 = d2.snapshot()
        report = self.read_and_check(acked + acked2, errors + errors2)
        lost_before = sum(1 for p, o, v, _, _ in report["lost"] if v < producer.next_value)
        log(f"negative control: the checker reports {len(report['lost'])} acknowledged records "
            f"lost ({lost_before} of those acknowledged before the fault)")
        self.assertTrue(report["lost"], "the checker saw no loss after two brokers lost their "
                        f"unsynced tails: it is blind\n{self.cluster.logs()}")


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0],
                                 formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--wharf", default=os.environ.get("WHARF_BIN"),
                    help="the wharf binary (default: $WHARF_BIN)")
    ap.add_argument("--rounds", type=int, default=CONFIG["rounds"])
    ap.add_argument("--seed", type=int, default=None,
                    help="seed of the faults (default: $WHARF_FAULT_SEED or random, printed)")
    ap.add_argument("--fsync", choices=("always", "never"), default=CONFIG["fsync"])
    ap.add_argument("--smp", type=int, default=CONFIG["smp"], help="shards per broker")
    ap.add_argument("--log-dir", help="write every broker's whole output here at the end")
    ap.add_argument("--faults", default=",".join(DEFAULT_FAULTS),
                    help=f"the faults to draw from, comma-separated, of {','.join(FAULTS)} "
                         f"(default: {','.join(DEFAULT_FAULTS)})")
    args, rest = ap.parse_known_args()
    faults = tuple(args.faults.split(","))
    if not faults or any(f not in FAULTS for f in faults):
        ap.error(f"--faults: expected some of {','.join(FAULTS)}")
    if not args.wharf:
        ap.error("--wharf (or WHARF_BIN) must name the wharf binary")
    os.environ["WHARF_BIN"] = os.path.abspath(args.wharf)
    CONFIG.update(rounds=args.rounds, seed=args.seed, fsync=args.fsync, smp=args.smp,
                  log_dir=args.log_dir, faults=faults)
    unittest.main(argv=[sys.argv[0], *rest])


if __name__ == "__main__":
    main()
