#!/usr/bin/python3
"""What replication costs and how fast a cluster fails over: a 3-broker cluster (--seeds, every
topic replicated on all three, RF=3) against one broker (RF=1), in the same run.

throughput: a fresh broker (RF=1) and a fresh 3-broker cluster (RF=3), each in new temporary
  data directories with fsync always; a topic of --partitions partitions; kafka_produce_bench
  (librdkafka, acks=all, 1 KiB records, unlimited rate) for --warmup then --duration seconds.
  For each: MB/s acknowledged (acknowledgements that reached the tool inside the window; its
  MB/s sent counts records sent in the window, which librdkafka acknowledges later), p50 and
  p99 produce latency (the tool's), CPU-seconds per GB acknowledged (utime+stime of every
  broker process, /proc/PID/stat, over the same window) and bytes of pages dirtied per byte
  acknowledged (write_bytes of /proc/PID/io, all brokers: 1 per replica without write
  amplification); then RF3/RF1 ratios. Rounds
  alternate which case runs first; the medians of the per-round ratios come last. At an
  unlimited rate the latencies are the client's queue; --latency-rate adds a fixed-rate run.
partitions: the throughput workload at RF=3 with --compare-partitions 10,10000: the last count's
  MB/s acknowledged as a fraction of the first's (target >= 0.9). librdkafka's sticky
  partitioner keeps keyless records on one partition for 10 ms, so its batches stay large at any
  partition count; --sticky-linger-ms 0 sends each record to a random partition instead.
failover: a 3-broker cluster, one topic of 1 partition (RF=3), an idempotent acks=all
  confluent-kafka producer sending a small record every 5 ms. Each round SIGKILLs the
  partition's leader (from Metadata) and times the kill to the first successful delivery report
  of a record produced after the kill (and, for comparison, the kill to Metadata naming a new
  leader); then restarts the broker on its data directory and waits until it is back in
  Metadata and leadership has returned to the preferred broker. Median and max over the
  rounds, against the target (under 1.5 s); at the end the topic is read back and every
  acknowledged record must be there exactly once.

    make release
    /usr/bin/python3 perf/cluster_bench.py --part throughput --duration 15 --rounds 2
    /usr/bin/python3 perf/cluster_bench.py --part failover --rounds-failover 20
    /usr/bin/python3 perf/cluster_bench.py --part partitions --rounds 2
    /usr/bin/python3 perf/cluster_bench.py --part throughput --latency-rate 20000

On one machine the three replicas share the disk and the cores: only the ratios mean anything,
not the RF=3 figures themselves. A benchmark reports; it does not judge: targets are printed as
met or not met and the exit status is 0 unless something failed (a broker did not start, the
load generator failed, a failover did not complete, a record was lost or duplicated)."""

import argparse
import json
import os
import statistics
import subprocess
import sys
import tempfile
import threading
import time

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
sys.path.insert(0, os.path.join(ROOT, "tests", "kafka"))

from confluent_kafka import KafkaException, Producer  # noqa: E402
from confluent_kafka.admin import AdminClient  # noqa: E402

from cluster_test import consume_all, create_topic  # noqa: E402
import wharf_broker  # noqa: E402
from wharf_broker import Broker  # noqa: E402
from wharf_cluster import Cluster, Deliveries  # noqa: E402

FAILOVER_TARGET_S = 1.5
WAIT_S = 60  # every wait on the brokers is bounded by this
CLK_TCK = os.sysconf("SC_CLK_TCK")
NOTE = ("note: on one machine the three replicas share the disk and the cores, and the load "
        "generator shares them too: only the RF3/RF1 ratios mean anything.")


def parse_args():
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0],
                                formatter_class=argparse.RawDescriptionHelpFormatter,
                                epilog="\n\n".join(__doc__.split("\n\n")[1:]))
    p.add_argument("--part", choices=["throughput", "partitions", "failover", "all"],
                   default="all", help="'all' is throughput and failover [default: all]")
    p.add_argument("--wharf", default=os.path.join(ROOT, "build/release/core/wharf"),
                   help="the broker binary [default: %(default)s]")
    p.add_argument("--produce-bench",
                   default=os.path.join(ROOT, "build/release/perf/kafka_produce_bench"),
                   help="the librdkafka load generator [default: %(default)s]")
    p.add_argument("--smp", type=int, default=1, help="shards per broker [default: 1]")
    p.add_argument("--memory", default="1GiB", help="--memory of each broker; '' keeps the "
                   "test harness's 256MiB per shard [default: 1GiB]")
    p.add_argument("--partitions", type=int, default=16,
                   help="partitions of the throughput topic [default: 16]")
    p.add_argument("--compare-partitions", default="10,10000",
                   help="partitions: RF=3 throughput at the last of these partition counts as a "
                   "fraction of the first, target >= 0.9 [default: %(default)s]")
    p.add_argument("--record-bytes", type=int, default=1024, help="[default: 1024]")
    p.add_argument("--sticky-linger-ms", type=int, default=None,
                   help="the load generator's librdkafka sticky.partitioning.linger.ms: how long "
                   "keyless records stay on one partition; 0 sends each record to a random "
                   "partition (many small batches) [default: librdkafka's, 10]")
    p.add_argument("--duration", type=float, default=15, help="measured seconds per case "
                   "[default: 15]")
    p.add_argument("--warmup", type=float, default=5, help="seconds produced before the "
                   "measured window, by the same load generator [default: 5]")
    p.add_argument("--rounds", type=int, default=2, help="throughput rounds, each one RF=1 and "
                   "one RF=3 run, the order alternating [default: 2]")
    p.add_argument("--latency-rate", type=float, default=0, help="after each unlimited run, "
                   "also measure produce latency at this fixed rate (records/s, the same for "
                   "RF=1 and RF=3; latencies count from when each record was due) on the same "
                   "brokers for --duration seconds [default: 0, off]")
    p.add_argument("--rounds-failover", type=int, default=20, help="[default: 20]")
    p.add_argument("--produce-interval-ms", type=float, default=5,
                   help="failover: one record every this many ms [default: 5]")
    p.add_argument("--tmp-dir", help="where the brokers' temporary data directories go "
                   "[default: the system's temporary directory]")
    p.add_argument("--log-dir", help="write every broker's whole output here (one file per "
                   "case and broker)")
    p.add_argument("--json", action="store_true", help="print one JSON line with every figure "
                   "last")
    return p.parse_args()


FLAGS = ("--fsync", "always")  # Cluster adds --admin-addr ''; Broker() needs it given


class _memory_popen:
    """wharf_broker's view of `subprocess`: Popen with the broker's --memory value replaced by
    --memory (wharf_broker.Broker gives every broker 256 MiB per shard, and wharf refuses a
    second --memory flag)."""

    memory = None

    def __getattr__(self, name):
        return getattr(subprocess, name)

    def Popen(self, cmd, **kw):  # noqa: N802 - subprocess's name
        if self.memory and "--memory" in cmd:
            i = cmd.index("--memory")
            cmd = [*cmd[:i + 1], self.memory, *cmd[i + 2:]]
        return subprocess.Popen(cmd, **kw)


def cpu_seconds(pid):
    """utime + stime of a process (all its threads), in seconds."""
    with open(f"/proc/{pid}/stat") as f:
        fields = f.read().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / CLK_TCK


def dirtied_bytes(pid):
    """write_bytes of /proc/PID/io: bytes of page-cache pages the process dirtied for the disk (a
    page written again after a flush counts again). Its io_uring writes count here, though not
    in wchar."""
    with open(f"/proc/{pid}/io") as f:
        for line in f:
            k, v = line.split(":")
            if k == "write_bytes":
                return int(v)
    raise Failed(f"/proc/{pid}/io has no write_bytes")


def save_logs(a, name, brokers):
    if not a.log_dir:
        return
    os.makedirs(a.log_dir, exist_ok=True)
    for i, b in enumerate(brokers):
        with open(os.path.join(a.log_dir, f"{name}-node{i}.log"), "w") as f:
            f.write(b.output())


def log_tails(brokers, lines=30):
    out = []
    for i, b in enumerate(brokers):
        tail = b.output().splitlines()[-lines:]
        out.append(f"----- node {i} (last {len(tail)} lines) -----")
        out.extend(tail)
    return "\n".join(out)


def wall(t):
    """A wall-clock time as the brokers' logs print it (local time, milliseconds)."""
    return time.strftime("%H:%M:%S", time.localtime(t)) + f".{int(t * 1000) % 1000:03d}"


class Failed(Exception):
    """Something failed (not a figure that missed its target): exit 1 after cleaning up."""


def brokers_seen(c):
    """{node: the brokers its Metadata lists} for every live node."""
    seen = {}
    for n, b in enumerate(c.brokers):
        if b.alive():
            try:
                seen[n] = sorted(c.metadata(n, timeout_s=5).brokers)
            except Exception as e:  # noqa: BLE001 - reported as it is
                seen[n] = repr(e)
    return seen


# --- waits ------------------------------------------------------------------------------------
def wait_single_leaders(bootstrap, topic, partitions, timeout_s=WAIT_S):
    """One broker: every partition of `topic` has a leader in Metadata."""
    deadline = time.monotonic() + timeout_s
    admin = AdminClient({"bootstrap.servers": bootstrap})
    last = None
    while time.monotonic() < deadline:
        try:
            t = admin.list_topics(topic=topic, timeout=5).topics.get(topic)
            if t is not None and t.error is None and len(t.partitions) == partitions and all(
                    m.error is None and m.leader >= 0 for m in t.partitions.values()):
                return
            last = t.error if t is not None else "missing"
        except Exception as e:  # noqa: BLE001 - retried until the deadline
            last = repr(e)
        time.sleep(0.2)
    raise Failed(f"{topic}: partitions without a leader after {timeout_s}s: {last}")


def wait_settled(c, topic, partitions, hold_s=2.0, timeout_s=WAIT_S, want=None):
    """Every live broker agrees on each partition's leader, the leaders have not changed for
    `hold_s` (leader balancing done) and, with `want`, partition 0's leader is that node.
    Returns {partition: leader}."""
    deadline = time.monotonic() + timeout_s
    prev, since = None, time.monotonic()
    while True:
        left = deadline - time.monotonic()
        if left <= 0:
            raise Failed(f"{topic}: leaders not settled after {timeout_s}s (last {prev}, "
                         f"wanted partition 0 on node {want})\n{c.logs()}")
        try:
            leaders = c.wait_leaders(topic, partitions, timeout_s=max(1.0, left))
        except AssertionError as e:
            raise Failed(str(e)) from None
        now = time.monotonic()
        if leaders != prev:
            prev, since = leaders, now
        elif now - since >= hold_s and (want is None or leaders.get(0) == want):
            return leaders
        time.sleep(0.25)


# --- throughput -------------------------------------------------------------------------------
def sticky_flag(a):
    return [] if a.sticky_linger_ms is None else ["--sticky-linger-ms", str(a.sticky_linger_ms)]


def run_load(a, bootstrap, topic, pids):
    """kafka_produce_bench against `bootstrap` for --warmup + --duration seconds. The tool counts
    the acknowledgements that arrive inside its window (its MB/s counts records *sent* in it,
    which librdkafka acknowledges later: it buffers up to 1M records); the brokers' CPU and
    write counters are read here at the window's ends. (The window's ends were once the sum of
    the partitions' high watermarks, one ListOffsets per partition: at 10,000 partitions the
    queries took longer than the window and loaded the broker they measured.) Returns the
    tool's JSON plus gb, cpu_s, cpu_s_per_gb and dirtied_per_acked."""
    cmd = [a.produce_bench, "--brokers", bootstrap, "--topic", topic, "--record-bytes",
           str(a.record_bytes), "--acks", "all", "--rate", "0", "--duration", str(a.duration),
           "--warmup", str(a.warmup), "--json", *sticky_flag(a)]
    proc = subprocess.Popen(cmd, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    try:
        started = time.monotonic()
        time.sleep(a.warmup)
        cpu0 = sum(cpu_seconds(p) for p in pids)
        dirtied0 = sum(dirtied_bytes(p) for p in pids)
        time.sleep(max(0.0, started + a.warmup + a.duration - time.monotonic()))
        cpu1 = sum(cpu_seconds(p) for p in pids)
        dirtied1 = sum(dirtied_bytes(p) for p in pids)
        # The tool flushes what it buffered (up to 60 s) and prints its figures.
        out, err = proc.communicate(timeout=120)
    except (subprocess.TimeoutExpired, OSError) as e:
        raise Failed(f"load generator: {e!r}") from None
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait(timeout=30)
    if proc.returncode != 0:
        raise Failed(f"kafka_produce_bench exited {proc.returncode}:\n{out}{err}")
    r = json.loads(out.strip().splitlines()[-1])
    r["window_s"] = a.duration
    r["gb"] = r["acked_mb_per_s"] * a.duration / 1000
    r["cpu_s"] = cpu1 - cpu0
    r["cpu_s_per_gb"] = r["cpu_s"] / r["gb"] if r["gb"] > 0 else float("inf")
    acked = r["gb"] * 1e9
    r["dirtied_per_acked"] = (dirtied1 - dirtied0) / acked if acked > 0 else float("inf")
    return r


def fixed_rate_latency(a, bootstrap, topic):
    cmd = [a.produce_bench, "--brokers", bootstrap, "--topic", topic, "--record-bytes",
           str(a.record_bytes), "--acks", "all", "--rate", str(a.latency_rate), "--duration",
           str(a.duration), "--warmup", "2", "--json", *sticky_flag(a)]
    try:
        r = subprocess.run(cmd, capture_output=True, text=True, timeout=a.duration + 120)
    except subprocess.TimeoutExpired as e:
        raise Failed(f"load generator at a fixed rate: {e!r}") from None
    if r.returncode != 0:
        raise Failed(f"kafka_produce_bench --rate exited {r.returncode}:\n{r.stdout}{r.stderr}")
    return json.loads(r.stdout.strip().splitlines()[-1])


def throughput_case(a, rf, round_no, partitions=None):
    label = f"round {round_no}"
    topic = f"bench-rf{rf}"
    partitions = partitions or a.partitions
    if rf == 1:
        brokers = [Broker("--admin-addr", "", *FLAGS, smp=a.smp)]
        c = None
    else:
        c = Cluster(3, smp=a.smp, flags=FLAGS)
        brokers = c.brokers
    try:
        if c is None:
            try:
                brokers[0].start()
            except AssertionError as e:
                raise Failed(str(e)) from None
            bootstrap = brokers[0].bootstrap
            create_topic(bootstrap, topic, partitions, 1)
            wait_single_leaders(bootstrap, topic, partitions)
        else:
            try:
                c.start()
                c.wait_formed(nodes=[None])  # some broker lists all three (see brokers_seen)
            except AssertionError as e:
                raise Failed(str(e)) from None
            bootstrap = c.bootstrap
            create_topic(bootstrap, topic, partitions, 3)
            leaders = wait_settled(c, topic, partitions)
            print(f"  {label} RF=3: leaders {sorted(set(leaders.values()))}; brokers in each "
                  f"node's Metadata: {brokers_seen(c)}", flush=True)
        r = run_load(a, bootstrap, topic, [b.proc.pid for b in brokers])
        dead = [i for i, b in enumerate(brokers) if not b.alive()]
        if dead:
            raise Failed(f"RF={rf}: brokers {dead} exited during the run\n{log_tails(brokers)}")
        print(f"  {label} RF={rf}: {r['acked_mb_per_s']:7.1f} MB/s acknowledged (sent in the "
              f"window: {r['mb_per_s']:.1f} MB/s), p50 {r['p50_ms']:.1f} ms, p99 "
              f"{r['p99_ms']:.1f} ms, {r['cpu_s_per_gb']:.2f} CPU s/GB ({r['cpu_s']:.1f} CPU s "
              f"of {len(brokers)} broker(s) over {r['window_s']:.1f} s, {r['gb']:.2f} GB), "
              f"{r['dirtied_per_acked']:.2f} bytes of pages dirtied per byte acknowledged",
              flush=True)
        if a.latency_rate:
            f = r["fixed_rate"] = fixed_rate_latency(a, bootstrap, topic)
            print(f"  {label} RF={rf}: at a fixed {a.latency_rate:,.0f} records/s "
                  f"({f['mb_per_s']:.1f} MB/s): p50 {f['p50_ms']:.2f} ms, p99 {f['p99_ms']:.2f} "
                  f"ms, p99.9 {f['p999_ms']:.2f} ms", flush=True)
        return r
    finally:
        save_logs(a, f"throughput-round{round_no}-rf{rf}-p{partitions}", brokers)
        if c is not None:
            c.close()
        else:
            brokers[0].close()


def throughput(a):
    print(f"throughput: acks=all, {a.record_bytes} B records, unlimited rate, "
          f"{a.partitions} partitions, --smp {a.smp} and --memory {a.memory} per broker, "
          f"fsync always, {a.warmup:g} s warm-up + {a.duration:g} s measured, "
          f"{a.rounds} rounds", flush=True)
    print(f"  {NOTE}", flush=True)
    rounds = []
    for i in range(a.rounds):
        order = (1, 3) if i % 2 == 0 else (3, 1)
        got = {rf: throughput_case(a, rf, i + 1) for rf in order}
        ratio = {
            "throughput": got[3]["acked_mb_per_s"] / got[1]["acked_mb_per_s"],
            "cpu_per_gb": got[3]["cpu_s_per_gb"] / got[1]["cpu_s_per_gb"],
            "p99": got[3]["p99_ms"] / got[1]["p99_ms"] if got[1]["p99_ms"] else float("inf"),
        }
        if a.latency_rate:
            ratio["p99_fixed_rate"] = (got[3]["fixed_rate"]["p99_ms"]
                                       / got[1]["fixed_rate"]["p99_ms"])
        rounds.append({"rf1": got[1], "rf3": got[3], "rf3_over_rf1": ratio})
        fixed = (f", p99 at {a.latency_rate:,.0f}/s {ratio['p99_fixed_rate']:.3f}"
                 if a.latency_rate else "")
        print(f"  round {i + 1} (RF={order[0]} first): RF3/RF1 throughput "
              f"{ratio['throughput']:.3f}, CPU per GB {ratio['cpu_per_gb']:.3f}, "
              f"p99 {ratio['p99']:.3f}{fixed}", flush=True)
    med = lambda f: statistics.median(f(r) for r in rounds)  # noqa: E731
    medians = {k: med(lambda r, k=k: r["rf3_over_rf1"][k]) for k in rounds[0]["rf3_over_rf1"]}
    for rf in (1, 3):
        print(f"median RF={rf}: {med(lambda r: r[f'rf{rf}']['acked_mb_per_s']):.1f} MB/s, "
              f"p50 {med(lambda r: r[f'rf{rf}']['p50_ms']):.1f} ms, "
              f"p99 {med(lambda r: r[f'rf{rf}']['p99_ms']):.1f} ms, "
              f"{med(lambda r: r[f'rf{rf}']['cpu_s_per_gb']):.2f} CPU s/GB"
              + (f"; at {a.latency_rate:,.0f} records/s p50 "
                 f"{med(lambda r: r[f'rf{rf}']['fixed_rate']['p50_ms']):.2f} ms, p99 "
                 f"{med(lambda r: r[f'rf{rf}']['fixed_rate']['p99_ms']):.2f} ms"
                 if a.latency_rate else ""))
    print(f"RF3/RF1 (median of {len(rounds)} per-round ratios): throughput "
          f"{medians['throughput']:.3f}, CPU per GB {medians['cpu_per_gb']:.3f}, "
          f"p99 {medians['p99']:.3f}"
          + (f", p99 at {a.latency_rate:,.0f} records/s {medians['p99_fixed_rate']:.3f}"
             if a.latency_rate else ""))
    print(f"  {NOTE} At an unlimited rate the latencies are mostly librdkafka's queue "
          f"(up to 1M records buffered), not the broker's.", flush=True)
    return {"rounds": rounds, "median_rf3_over_rf1": medians}


def partitions(a):
    """RF=3 throughput with many partitions as a fraction of few (issue target >= 0.9): the
    same workload on a fresh cluster per case, the order alternating between rounds."""
    counts = [int(x) for x in a.compare_partitions.split(",")]
    if len(counts) < 2 or min(counts) < 1:
        raise Failed(f"--compare-partitions {a.compare_partitions}: give two or more counts")
    print(f"partitions: RF=3, acks=all, {a.record_bytes} B records, unlimited rate, partitions "
          f"{counts}, --smp {a.smp}, {a.warmup:g} s warm-up + {a.duration:g} s measured, "
          f"{a.rounds} rounds" + (f", sticky.partitioning.linger.ms {a.sticky_linger_ms}"
                                  if a.sticky_linger_ms is not None else ""), flush=True)
    rounds = []
    for i in range(a.rounds):
        order = counts if i % 2 == 0 else counts[::-1]
        got = {p: throughput_case(a, 3, i + 1, p) for p in order}
        rounds.append(got)
        print(f"  round {i + 1}: {counts[-1]} / {counts[0]} partitions "
              f"{got[counts[-1]]['acked_mb_per_s'] / got[counts[0]]['acked_mb_per_s']:.3f}",
              flush=True)
    med = {p: statistics.median(r[p]["acked_mb_per_s"] for r in rounds) for p in counts}
    ratio = statistics.median(r[counts[-1]]["acked_mb_per_s"] / r[counts[0]]["acked_mb_per_s"]
                              for r in rounds)
    for p in counts:
        print(f"median RF=3, {p} partitions: {med[p]:.1f} MB/s, "
              f"{statistics.median(r[p]['cpu_s_per_gb'] for r in rounds):.2f} CPU s/GB, "
              f"{statistics.median(r[p]['dirtied_per_acked'] for r in rounds):.2f} bytes "
              f"dirtied per byte acknowledged")
    print(f"{counts[-1]} / {counts[0]} partitions (median of {len(rounds)} per-round ratios): "
          f"{ratio:.3f} (target >= 0.9) {'met' if ratio >= 0.9 else 'NOT met'}")
    return {"rounds": [{str(p): r[p] for p in r} for r in rounds], "ratio": ratio}


# --- failover ---------------------------------------------------------------------------------
class LoadThread:
    """An idempotent acks=all producer sending the produce index as the value, one record every
    `interval_s`, to partition 0 of `topic`, until stopped; delivery reports into Deliveries."""

    def __init__(self, bootstrap, topic, interval_s):
        self.d = Deliveries()
        self.fatal = []
        self.produced = 0
        self.left = None
        self._stop = threading.Event()
        self._args = (bootstrap, topic, interval_s)
        self._thread = threading.Thread(target=self._run, daemon=True)
        self._thread.start()

    def _on_error(self, err):
        if err.fatal():
            self.fatal.append(str(err))

    def _run(self):
        bootstrap, topic, interval_s = self._args
        p = Producer({"bootstrap.servers": bootstrap, "acks": "all", "enable.idempotence": True,
                      "linger.ms": 1, "message.timeout.ms": 120000,
                      "reconnect.backoff.ms": 50, "reconnect.backoff.max.ms": 200,
                      "retry.backoff.ms": 50, "error_cb": self._on_error})
        start = time.monotonic()
        i = 0
        while not self._stop.is_set():
            due = start + i * interval_s
            now = time.monotonic()
            if now < due:
                p.poll(due - now)
                continue
            try:
                p.produce(topic, value=str(i).encode(), partition=0, on_delivery=self.d.report)
                i += 1
                self.produced = i
            except BufferError:
                p.poll(0.01)
                continue
            p.poll(0)
        self.left = p.flush(WAIT_S)

    def wait_acked(self, count, timeout_s=WAIT_S):
        deadline = time.monotonic() + timeout_s
        while self.d.count() < count and time.monotonic() < deadline and not self.fatal:
            time.sleep(0.01)
        return self.d.count() >= count

    def stop(self):
        self._stop.set()
        self._thread.join(WAIT_S + 30)
        return not self._thread.is_alive()


def leader_named(admin, topic, victim, kill_at):
    """Seconds from kill_at until now when Metadata names a live leader other than `victim`
    for partition 0 of `topic`; None while it does not."""
    try:
        t = admin.list_topics(topic=topic, timeout=0.5).topics.get(topic)
    except KafkaException:
        return None
    m = t.partitions.get(0) if t is not None and t.error is None else None
    if m is None or m.error is not None or m.leader < 0 or m.leader == victim:
        return None
    return time.monotonic() - kill_at


def check_topic(bootstrap, topic, acked):
    """Reads partition 0 back: every acknowledged (offset, value) stored once."""
    got = consume_all(bootstrap, topic, 1, timeout_s=WAIT_S)[0]
    stored_at = dict(got)
    seen = {}
    for o, v in got:
        seen.setdefault(v, []).append(o)
    acked_values = {v for _, _, v in acked}
    lost = sorted(v for v in acked_values if v not in seen)
    misplaced = sorted((o, v) for _, o, v in acked if stored_at.get(o) != v and v in seen)
    dups = {v: os_ for v, os_ in seen.items() if len(os_) > 1}
    disorder = sum(1 for x, y in zip(got, got[1:]) if x[1] > y[1])
    return {"stored": len(got), "acked": len(acked), "lost": len(lost),
            "duplicated": len(dups), "misplaced": len(misplaced), "out_of_order": disorder,
            "unacked_stored": len(set(seen) - acked_values),
            "examples": {"lost": lost[:10], "duplicated": dict(list(dups.items())[:10]),
                         "misplaced": misplaced[:10]}}


def failover(a):
    topic = "failover"
    interval = a.produce_interval_ms / 1000
    print(f"failover: 3 brokers (--smp {a.smp}, fsync always), topic of 1 partition (RF=3), "
          f"idempotent acks=all producer, one record every {a.produce_interval_ms:g} ms, "
          f"{a.rounds_failover} rounds; target: kill -> first acknowledged record produced "
          f"after it under {FAILOVER_TARGET_S} s", flush=True)
    c = Cluster(3, smp=a.smp, flags=FLAGS)
    load = None
    times, named_s, restarts, problems, slow = [], [], [], [], []
    admin = None
    try:
        try:
            c.start()
            c.wait_formed(nodes=[None])
        except AssertionError as e:
            raise Failed(str(e)) from None
        print(f"  brokers in each node's Metadata: {brokers_seen(c)}", flush=True)
        admin = AdminClient({"bootstrap.servers": c.bootstrap})
        create_topic(c.bootstrap, topic, 1, 3)
        home = wait_settled(c, topic, 1)[0]
        print(f"  partition 0 settled on node {home} (its preferred leader)", flush=True)
        load = LoadThread(c.bootstrap, topic, interval)
        if not load.wait_acked(200):
            raise Failed(f"producer: {load.d.count()} records acknowledged in {WAIT_S}s; "
                         f"errors {load.d.errors[:5]} {load.fatal}\n{c.logs()}")
        for r in range(a.rounds_failover):
            leaders = wait_settled(c, topic, 1, hold_s=1.0, want=home)
            victim = leaders[0]
            kill_wall = time.time()
            kill_at = time.monotonic()
            c.kill(victim)
            name = f"kill{r}"
            load.d.mark(name, load.produced)
            deadline = kill_at + WAIT_S
            # Until the first acknowledgement (timed by the delivery report itself) and until
            # Metadata names a new leader: which part of the failover is the broker's.
            named = None
            while (((name, None) not in load.d.first_after or named is None)
                   and time.monotonic() < deadline and not load.fatal):
                if named is None:
                    named = leader_named(admin, topic, victim, kill_at)
                time.sleep(0.005)
            took = load.d.first_after.get((name, None))
            if took is None:
                raise Failed(f"round {r + 1}: no record produced after the SIGKILL of node "
                             f"{victim} was acknowledged within {WAIT_S}s; errors "
                             f"{load.d.errors[:5]} {load.fatal}\n{c.logs()}")
            took -= kill_at
            times.append(took)
            named_s.append(named)
            if took > 5:
                slow.append(f"round {r + 1}: failover took {took:.2f} s")
            new_leader = c.wait_leaders(topic, 1, timeout_s=WAIT_S)[0]
            # Restart on the same data directory; back once it sees the whole cluster and
            # leadership has moved back to it (leader balancing).
            t0 = time.monotonic()
            try:
                c.start_broker(victim)
                c.wait_formed(nodes=[victim], timeout_s=WAIT_S)
            except AssertionError as e:
                raise Failed(f"round {r + 1}: node {victim} did not rejoin: {e}") from None
            wait_settled(c, topic, 1, hold_s=1.0, want=home)
            back = time.monotonic() - t0
            restarts.append(back)
            if not load.wait_acked(load.d.count() + 100):
                raise Failed(f"round {r + 1}: producer stalled after the restart; errors "
                             f"{load.d.errors[:5]} {load.fatal}\n{c.logs()}")
            named_ms = f"{named * 1000:5.0f} ms" if named is not None else "never"
            print(f"  round {r + 1:2}: {wall(kill_wall)} SIGKILL of node {victim} (leader); "
                  f"Metadata names node {new_leader} after {named_ms}; first acknowledged "
                  f"record produced after the kill {took * 1000:5.0f} ms after it; restarted, "
                  f"leader back on node {home} after {back:.1f} s", flush=True)
        if not load.stop():
            raise Failed("producer thread did not finish")
        if load.left:
            problems.append(f"{load.left} records not delivered after a {WAIT_S}s flush")
        if load.fatal:
            problems.append(f"fatal producer errors: {load.fatal}")
        if load.d.errors:
            problems.append(f"{len(load.d.errors)} delivery errors: {load.d.errors[:5]}")
        check = check_topic(c.bootstrap, topic, load.d.acked)
        if check["lost"] or check["duplicated"] or check["misplaced"]:
            problems.append(f"read back: {check}")
    finally:
        if load is not None:
            load.stop()
        save_logs(a, "failover", c.brokers)
        c.close()
    med, worst = statistics.median(times), max(times)
    print(f"failover over {len(times)} rounds: median {med:.3f} s, max {worst:.3f} s, "
          f"min {min(times):.3f} s (target under {FAILOVER_TARGET_S} s: median "
          f"{'met' if med < FAILOVER_TARGET_S else 'not met'}, max "
          f"{'met' if worst < FAILOVER_TARGET_S else 'not met'}); restart to leader back: "
          f"median {statistics.median(restarts):.1f} s")
    named_ok = [x for x in named_s if x is not None]
    if named_ok:
        print(f"kill -> Metadata names the new leader: median {statistics.median(named_ok):.3f} "
              f"s, max {max(named_ok):.3f} s (the broker's part; the rest is the client finding "
              f"it and its retries committing)")
    print(f"read back: {check['acked']} records acknowledged, {check['stored']} stored; lost "
          f"{check['lost']}, duplicated {check['duplicated']}, at another offset than "
          f"acknowledged {check['misplaced']}, out of order {check['out_of_order']}, stored "
          f"without an acknowledgement {check['unacked_stored']}", flush=True)
    return {"times_s": times, "median_s": med, "max_s": worst, "leader_named_s": named_s,
            "restart_s": restarts,
            "target_s": FAILOVER_TARGET_S, "check": check, "problems": problems,
            "over_5_s": slow}


def main():
    a = parse_args()
    for path in (a.wharf, a.produce_bench):
        if not os.access(path, os.X_OK):
            sys.exit(f"{path} is missing: build it (make release)")
    os.environ["WHARF_BIN"] = os.path.abspath(a.wharf)  # wharf_broker.Broker starts this
    wharf_broker.subprocess = _memory_popen()
    wharf_broker.subprocess.memory = a.memory
    if a.tmp_dir:
        tempfile.tempdir = a.tmp_dir
    result = {}
    try:
        if a.part in ("throughput", "all"):
            result["throughput"] = throughput(a)
        if a.part == "partitions":
            result["partitions"] = partitions(a)
        if a.part in ("failover", "all"):
            result["failover"] = failover(a)
    except Failed as e:
        print(f"FAILED: {e}", file=sys.stderr)
        return 1
    if a.json:
        print(json.dumps(result))
    for s in result.get("failover", {}).get("over_5_s", []):
        print(f"SLOW: {s}", file=sys.stderr)
    problems = result.get("failover", {}).get("problems", [])
    for p in problems:
        print(f"PROBLEM: {p}", file=sys.stderr)
    return 1 if problems else 0


if __name__ == "__main__":
    sys.exit(main())
