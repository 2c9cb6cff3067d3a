"""Starts a cluster of real wharf brokers for the Kafka client tests: each broker is a
wharf_broker.Broker (its own temporary data directory, output drained by a thread, its process
group killed at the end) with --node-id, its own --rpc-addr and the same --seeds list. The Kafka
and RPC ports are fixed up front (free ports picked here), so that a broker restarts on the
addresses that its peers and Metadata know."""

import random
import socket
import sys
import threading
import time
from concurrent.futures import ThreadPoolExecutor

from confluent_kafka.admin import AdminClient

from wharf_broker import Broker

FORM_TIMEOUT_S = 30
LOG_TAIL_LINES = 40


def ephemeral_range():
    """The kernel's range for the local ports of outgoing connections."""
    try:
        with open("/proc/sys/net/ipv4/ip_local_port_range") as f:
            low, high = (int(x) for x in f.read().split())
            return low, high
    except (OSError, ValueError):
        return 32768, 60999


def free_ports(count):
    """`count` distinct ports that were free a moment ago (all held open together, so that they
    differ; another process could still take one before the broker binds it). They are drawn
    below the kernel's ephemeral range: a broker restarts on the same ports, and a port in that
    range may meanwhile be the local end of some outgoing connection (a client's, or a peer's
    retrying connect), which would make the restarted broker's listen fail with EADDRINUSE."""
    low, _ = ephemeral_range()
    first = 10000 if low > 12000 else 1024
    rng = random.Random()
    socks = []
    try:
        for _ in range(1000 * count):
            if len(socks) == count:
                break
            s = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
            try:
                s.bind(("127.0.0.1", rng.randrange(first, low)))
            except OSError:
                s.close()
                continue
            socks.append(s)
        if len(socks) < count:
            raise AssertionError(f"no {count} free ports in {first}-{low - 1}")
        return [s.getsockname()[1] for s in socks]
    finally:
        for s in socks:
            s.close()


class Cluster:
    """`size` brokers with node ids 0..size-1. start() starts the seeds all at once (a broker of
    a cluster may wait for its peers before it serves, so they cannot start one after another),
    then the brokers that join."""

    def __init__(self, size=3, smp=2, flags=(), netns=None, admin=False, seeds=None):
        """netns: a wharf_netns.Netns of `size` namespaces, one per broker (the caller closes
        it after the cluster), for faults that cut the network between brokers. admin: each
        broker serves its admin API on a free port (Broker.admin_port). seeds: how many brokers
        (node ids 0..seeds-1) --seeds names, default all of them (a cluster has 1, 3 or 5
        seeds); the others join the running cluster with the same --seeds
        (core/cluster/group_membership.h)."""
        ports = free_ports(2 * size)
        self.kafka_ports = ports[:size]
        self.rpc_ports = ports[size:]
        self.netns = netns
        self.hosts = netns.addrs if netns is not None else ["127.0.0.1"] * size
        self.seeds = size if seeds is None else seeds
        seeds = ",".join(f"{i}@{self.hosts[i]}:{p}"
                         for i, p in enumerate(self.rpc_ports[:self.seeds]))

        def wrap(i):
            return None if netns is None else (lambda cmd: netns.wrap(i, cmd))

        self.brokers = [
            Broker("--node-id", str(i), "--rpc-addr", f"{self.hosts[i]}:{self.rpc_ports[i]}",
                   "--seeds", seeds, *([] if admin else ["--admin-addr", ""]), *flags,
                   smp=smp, host=self.hosts[i],
                   wrap=wrap(i))
            for i in range(size)]

    # --- lifecycle ---------------------------------------------------------------------------
    def start(self):
        errors = []
        for batch in (range(self.seeds), range(self.seeds, len(self.brokers))):
            if not batch or errors:
                continue
            with ThreadPoolExecutor(len(batch)) as pool:
                futures = [pool.submit(self.start_broker, i) for i in batch]
                for f in futures:
                    try:
                        f.result()
                    except Exception as e:  # noqa: BLE001 - every broker is closed below
                        errors.append(f"{type(e).__name__}: {e}")
        if errors:
            self.close()
            raise AssertionError("cluster did not start:\n" + "\n".join(errors))
        return self

    def start_broker(self, node_id):
        return self.brokers[node_id].start(self.kafka_ports[node_id])

    def kill(self, node_id):
        """SIGKILL, like a crash: nothing is flushed."""
        self.brokers[node_id].kill()

    def close(self):
        for b in self.brokers:
            b.close()

    def __enter__(self):
        return self.start()

    def __exit__(self, *exc):
        self.close()

    # --- addresses and metadata ------------------------------------------------------------
    @property
    def bootstrap(self):
        return ",".join(f"{h}:{p}" for h, p in zip(self.hosts, self.kafka_ports))

    def node_of_port(self, port):
        return self.kafka_ports.index(port)

    def metadata(self, node_id=None, topic=None, timeout_s=10):
        """Metadata from one broker (only its address given to the client), or from any."""
        bootstrap = self.bootstrap if node_id is None else self.brokers[node_id].bootstrap
        admin = AdminClient({"bootstrap.servers": bootstrap})
        return admin.list_topics(topic=topic, timeout=timeout_s)

    def wait_formed(self, timeout_s=FORM_TIMEOUT_S, nodes=None):
        """Waits until every broker in `nodes` (default all) lists every broker and a
        controller in its Metadata; `nodes=[None]` asks the whole bootstrap, so any one broker
        that sees the whole cluster will do. Returns the seconds it took."""
        nodes = range(len(self.brokers)) if nodes is None else nodes
        start = time.monotonic()
        deadline = start + timeout_s
        last = {}
        for n in nodes:
            while True:
                try:
                    md = self.metadata(n, timeout_s=max(1.0, min(5.0, deadline - time.monotonic())))
                    last[n] = (sorted(md.brokers), md.controller_id)
                    if len(md.brokers) == len(self.brokers) and md.controller_id >= 0:
                        break
                except Exception as e:  # noqa: BLE001 - a broker that is not ready yet
                    last[n] = repr(e)
                if time.monotonic() >= deadline:
                    raise AssertionError(
                        f"cluster not formed after {timeout_s}s; last metadata per node "
                        f"(brokers, controller): {last}\n{self.logs()}")
                time.sleep(0.2)
        return time.monotonic() - start

    def wait_leaders(self, topic, partitions, timeout_s=30):
        """Waits until Metadata (from every live broker) gives each partition of `topic` a
        leader that is a live broker; returns {partition: leader node id}."""
        deadline = time.monotonic() + timeout_s
        last = None
        while True:
            try:
                views = []
                for n, b in enumerate(self.brokers):
                    if not b.alive():
                        continue
                    md = self.metadata(n, topic=topic, timeout_s=5)
                    t = md.topics.get(topic)
                    if t is None or t.error is not None or len(t.partitions) != partitions:
                        raise LookupError(f"node {n}: topic {topic}: "
                                          f"{t.error if t else 'missing'}")
                    views.append({p: m.leader for p, m in t.partitions.items()
                                  if m.error is None})
                last = views
                leaders = views[0]
                if (len(leaders) == partitions and all(v == leaders for v in views)
                        and all(0 <= l < len(self.brokers) and self.brokers[l].alive()
                                for l in leaders.values())):
                    return leaders
            except Exception as e:  # noqa: BLE001 - retried until the deadline
                last = repr(e)
            if time.monotonic() >= deadline:
                raise AssertionError(f"partitions of {topic} without one agreed live leader "
                                     f"after {timeout_s}s: {last}\n{self.logs()}")
            time.sleep(0.2)

    def logs(self, lines=LOG_TAIL_LINES):
        out = []
        for i, b in enumerate(self.brokers):
            tail = b.output().splitlines()[-lines:]
            out.append(f"----- node {i} (last {len(tail)} lines) -----")
            out.extend(tail)
        return "\n".join(out)


class Deliveries:
    """Delivery reports of a producer, from its poll thread: acknowledged (partition, offset,
    value) and errors, and when the first acknowledgement of each partition at or after a
    marked produce index arrived."""

    def __init__(self):
        self.lock = threading.Lock()
        self.acked = []
        self.errors = []
        self.marks = {}  # name -> (first produce index that counts, time of the mark)
        self.first_after = {}  # (name, partition or None) -> monotonic time

    def mark(self, name, index):
        with self.lock:
            self.marks[name] = (index, time.monotonic())

    def report(self, err, msg):
        now = time.monotonic()
        with self.lock:
            if err is not None:
                self.errors.append(f"{err} (partition {msg.partition()}, value {msg.value()})")
                return
            value = int(msg.value())
            self.acked.append((msg.partition(), msg.offset(), value))
            for name, (index, _) in self.marks.items():
                if value >= index:
                    self.first_after.setdefault((name, None), now)
                    self.first_after.setdefault((name, msg.partition()), now)

    def count(self):
        with self.lock:
            return len(self.acked)


if __name__ == "__main__":
    sys.exit("a helper module; run the *_test.py files")
