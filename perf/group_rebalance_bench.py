#!/usr/bin/env python3
"""Time from a group member's SIGKILL to the completed rebalance that hands its partitions to the
others (issue 4's figure; target: within 1 s of the session timeout). Three confluent-kafka-python
members (librdkafka, range assignor, heartbeat 500 ms) share a 12-partition topic; each round
kills one member and times until the live members' assignments cover every partition exactly
once again, then starts a replacement. Uses the member process of tests/kafka/.

    WHARF_BIN=build/release/core/wharf /usr/bin/python3 perf/group_rebalance_bench.py \\
        [--rounds 3] [--session-timeout-ms 6000]
"""

import argparse
import os
import statistics
import sys
import time

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "tests", "kafka"))

from groups_test import Member, covers_exactly_once, create_topic, wait_stable  # noqa: E402
from wharf_broker import Broker  # noqa: E402


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--rounds", type=int, default=3)
    ap.add_argument("--session-timeout-ms", type=int, default=6000)
    a = ap.parse_args()
    broker = Broker(smp=2).start()
    members = []
    times = []
    try:
        create_topic(broker.bootstrap, "rebalance", 12)
        new = lambda: Member("confluent", broker.bootstrap, "rebalance-bench", "rebalance",
                             session_ms=a.session_timeout_ms)
        members = [new() for _ in range(3)]
        wait_stable(members, "initial group")
        for r in range(a.rounds):
            victim = members.pop(0)
            killed_at = time.monotonic()
            victim.kill()
            deadline = killed_at + a.session_timeout_ms / 1000 + 60
            while not covers_exactly_once(members) and time.monotonic() < deadline:
                time.sleep(0.01)
            took = time.monotonic() - killed_at
            times.append(took)
            print(f"round {r + 1}: rebalanced {took:.2f} s after SIGKILL "
                  f"({took - a.session_timeout_ms / 1000:+.2f} s past the session timeout)")
            members.append(new())
            wait_stable(members, "replacement joined")
    finally:
        for m in members:
            m.kill()
        broker.close()
    print(f"session timeout {a.session_timeout_ms / 1000:.1f} s: median {statistics.median(times):.2f} s, "
          f"max {max(times):.2f} s from SIGKILL to a complete assignment")


if __name__ == "__main__":
    main()
