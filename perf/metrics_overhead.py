#!/usr/bin/env python3
"""What scraping /metrics costs the produce path (issue 8, "Measured"): produce throughput while
a Prometheus-like client (curl) scrapes /metrics every second, against no scraping, in the same
run of this script. Every measurement gets a fresh release broker and data directory: a max-rate
run writes gigabytes, and on a virtual disk the run after such a one is much slower, whatever it
does. Rounds pair one run of each kind, the order alternating (AB, BA, ...); the result is the
median of the per-round ratios.

    make release
    /usr/bin/python3 perf/metrics_overhead.py --rounds 8
    # the CPU side alone, without the disk's variance (memory-backed, no fdatasync):
    /usr/bin/python3 perf/metrics_overhead.py --rounds 8 --fsync never --data-dir /dev/shm

Prints one line per run and, last, `metrics overhead: throughput ratio scraped/unscraped =
0.998 (median of 8 rounds ...)`. Exits 1 when a run fails, or with --min-ratio when the median
is below it."""

import argparse
import json
import os
import re
import shutil
import signal
import statistics
import subprocess
import sys
import tempfile
import threading
import time

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
ADMIN = re.compile(r"admin API on ([0-9.]+):(\d+)")
KAFKA = re.compile(r"wharf is running: Kafka API on ([0-9.]+):(\d+)")
START_TIMEOUT_S = 120

# Used when perf/workloads/ has no max-rate 1 KiB workload: produce as fast as one producer can
# into 16 partitions. Consumers are always turned off (--groups 0): the produce path alone.
FALLBACK_WORKLOAD = """\
name = "metrics overhead: max-rate produce, 1 topic, 16 partitions, 1 KiB"
topics = 1
partitions = 16
message_size = 1KiB
key_distribution = "none"

[producer]
producers = 1
rate = 0

[consumer]
groups = 0

[run]
duration = 10s
warmup = 3s
"""


def parse_args():
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--wharf", default=os.path.join(ROOT, "build/release/core/wharf"))
    p.add_argument("--bench", default=os.path.join(ROOT, "build/release/perf/wharf-bench"))
    p.add_argument("--workload", help="a 1 KiB workload file [default: perf/workloads/"
                   "max-rate-1-topic-16-partitions-1kb.toml, or a produce-only one]")
    p.add_argument("--rounds", type=int, default=8, help="pairs of runs (scraped, unscraped)")
    p.add_argument("--duration", default="10s", help="measured time of each run")
    p.add_argument("--warmup", default="3s")
    p.add_argument("--smp", type=int, default=1, help="broker shards")
    p.add_argument("--bench-smp", type=int, default=1, help="load generator shards")
    p.add_argument("--fsync", default="always", choices=["always", "never"])
    p.add_argument("--interval", type=float, default=1.0, help="seconds between scrapes")
    p.add_argument("--min-ratio", type=float, help="exit 1 when the median ratio is below this")
    p.add_argument("--data-dir", help="where the brokers' data directories go (one per run, "
                   "removed after it) [default: a temporary directory]")
    return p.parse_args()


class broker:
    """One release broker for the whole measurement; its output drained by a thread."""

    def __init__(self, args, data_dir):
        cmd = [args.wharf, "--data-dir", data_dir, "--smp", str(args.smp), "--overprovisioned",
               "--memory", f"{1024 * args.smp}MiB", "--kafka-addr", "127.0.0.1:0",
               "--admin-addr", "127.0.0.1:0", "--fsync", args.fsync]
        self.proc = subprocess.Popen(cmd, stdout=subprocess.PIPE, stderr=subprocess.STDOUT,
                                     text=True, start_new_session=True)
        self.kafka = self.admin = None
        self.lines = []
        started = threading.Event()
        threading.Thread(target=self._drain, args=(started,), daemon=True).start()
        if not started.wait(START_TIMEOUT_S) or self.kafka is None or self.admin is None:
            self.close()
            sys.exit("broker did not start:\n" + "".join(self.lines[-30:]))

    def _drain(self, started):
        for line in self.proc.stdout:
            self.lines.append(line)
            if m := ADMIN.search(line):
                self.admin = f"{m.group(1)}:{m.group(2)}"
            if m := KAFKA.search(line):
                self.kafka = f"{m.group(1)}:{m.group(2)}"
                started.set()
        started.set()

    def close(self):
        if self.proc.poll() is None:
            self.proc.send_signal(signal.SIGTERM)
            try:
                self.proc.wait(timeout=60)
            except subprocess.TimeoutExpired:
                os.killpg(self.proc.pid, signal.SIGKILL)
                self.proc.wait(timeout=30)


class scraper:
    """curl /metrics every `interval` seconds until stopped; counts the scrapes that succeeded."""

    def __init__(self, admin, interval):
        self.url = f"http://{admin}/metrics"
        self.interval = interval
        self.ok = self.failed = 0
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, daemon=True)
        self._thread.start()

    def _run(self):
        while not self._stop.is_set():
            t0 = time.monotonic()
            r = subprocess.run(["curl", "-sf", "-o", "/dev/null", "--max-time", "5", self.url])
            if r.returncode == 0:
                self.ok += 1
            else:
                self.failed += 1
            self._stop.wait(max(0.0, self.interval - (time.monotonic() - t0)))

    def stop(self):
        self._stop.set()
        self._thread.join(timeout=30)


def run_bench(args, b, workload, label, out_dir):
    output = os.path.join(out_dir, f"{label}.json")
    cmd = [args.bench, "run", "-b", b.kafka, "-w", workload, "--smp", str(args.bench_smp),
           "--duration", args.duration, "--warmup", args.warmup, "--groups", "0",
           "--topic-prefix", label,
           "--label", label, "--output", output, "--quiet"]
    r = subprocess.run(cmd, capture_output=True, text=True, timeout=3600)
    if r.returncode != 0:
        sys.exit(f"wharf-bench failed ({r.returncode}):\n{r.stdout}{r.stderr}")
    with open(output) as f:
        result = json.load(f)
    return result["produce_mb_per_s"]


def measure(args, workload, out_dir, round_index, scraped):
    label = f"r{round_index}-{'scraped' if scraped else 'plain'}"
    data_dir = os.path.join(args.data_dir or out_dir, f"wharf-{label}")
    b = broker(args, data_dir)
    s = scraper(b.admin, args.interval) if scraped else None
    try:
        mb_s = run_bench(args, b, workload, label, out_dir)
    finally:
        if s:
            s.stop()
        b.close()
        shutil.rmtree(data_dir, ignore_errors=True)
    note = ""
    if s:
        if s.ok == 0 or s.failed > 0:
            sys.exit(f"{label}: {s.ok} scrapes succeeded, {s.failed} failed")
        note = f" ({s.ok} scrapes)"
    print(f"  {label:<14} {mb_s:10.1f} MB/s{note}", flush=True)
    return mb_s


def main():
    args = parse_args()
    for path in (args.wharf, args.bench):
        if not os.access(path, os.X_OK):
            sys.exit(f"{path} is missing: run `make release` first")
    with tempfile.TemporaryDirectory(prefix="wharf-metrics-overhead-") as tmp:
        workload = args.workload
        if workload is None:
            candidate = os.path.join(ROOT, "perf/workloads/max-rate-1-topic-16-partitions-1kb.toml")
            workload = candidate if os.path.exists(candidate) else os.path.join(tmp, "w.toml")
            if workload != candidate:
                with open(workload, "w") as f:
                    f.write(FALLBACK_WORKLOAD)
        print(f"workload {workload}, {args.rounds} rounds of 2 x {args.duration}, "
              f"fsync {args.fsync}", flush=True)
        ratios = []
        runs = {True: [], False: []}
        for i in range(args.rounds):
            # Which kind runs first alternates, so that a trend over the rounds hits both.
            order = (True, False) if i % 2 == 0 else (False, True)
            got = {kind: measure(args, workload, tmp, i, kind) for kind in order}
            for kind, mb_s in got.items():
                runs[kind].append(mb_s)
            ratios.append(got[True] / got[False])
            print(f"  round {i}: ratio {ratios[-1]:.4f}", flush=True)
    print(f"median MB/s: scraped {statistics.median(runs[True]):.1f}, "
          f"unscraped {statistics.median(runs[False]):.1f}")
    median = statistics.median(ratios)
    print(f"metrics overhead: throughput ratio scraped/unscraped = {median:.4f} "
          f"(median of {len(ratios)} rounds; min {min(ratios):.4f}, max {max(ratios):.4f})")
    if args.min_ratio is not None and median < args.min_ratio:
        print(f"below --min-ratio {args.min_ratio}", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
