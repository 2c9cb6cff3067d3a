#!/usr/bin/env python3
"""The admin API of the real broker (--smp 2): /metrics passes `promtool check metrics` and its
counters move when records are produced and fetched (per API, per topic, per shard log, consumer
group lag); every JSON endpoint answers valid JSON of the documented shape; malformed, oversized
and non-GET requests are refused (400 and a closed connection, 405) while the broker keeps
serving; /v1/status/ready is 503 until every shard serves and again while the broker stops;
--admin-addr '' disables the API and a taken address stops the broker at start-up."""

import http.client
import json
import re
import shutil
import signal
import socket
import subprocess
import time
import unittest

from confluent_kafka import Consumer, Producer, TopicPartition

from wharf_broker import Broker, wait_until, wharf_binary

TIMEOUT_S = 60
TOPIC = "admin-metrics"
SAMPLE = re.compile(r'^([a-zA-Z_:][a-zA-Z0-9_:]*)(\{[^}]*\})? (\S+)$')


def http_get(port, path, method="GET"):
    conn = http.client.HTTPConnection("127.0.0.1", port, timeout=TIMEOUT_S)
    try:
        conn.request(method, path)
        r = conn.getresponse()
        return r.status, dict(r.getheaders()), r.read()
    finally:
        conn.close()


def parse_metrics(text):
    """{(name, labels): value} from the text format; labels as a frozenset of (name, value)."""
    samples = {}
    for line in text.splitlines():
        if not line or line.startswith("#"):
            continue
        m = SAMPLE.match(line)
        assert m, f"not a sample line: {line!r}"
        labels = frozenset(re.findall(r'(\w+)="((?:[^"\\]|\\.)*)"', m.group(2) or ""))
        samples[(m.group(1), labels)] = float(m.group(3))
    return samples


def total(samples, name, **want):
    """Sum of the samples of `name` whose labels include `want`."""
    return sum(v for (n, labels), v in samples.items()
               if n == name and all((k, str(val)) in labels for k, val in want.items()))


def raw_exchange(port, data):
    """Sends raw bytes; returns (response bytes, closed) where closed says the server ended the
    connection after its response."""
    s = socket.create_connection(("127.0.0.1", port), timeout=TIMEOUT_S)
    try:
        try:
            s.sendall(data)
        except (BrokenPipeError, ConnectionResetError):
            pass  # refused before it read everything; the answer is still there to read
        got = b""
        while True:
            try:
                chunk = s.recv(65536)
            except ConnectionResetError:
                return got, True
            if not chunk:
                return got, True
            got += chunk
            head, sep, body = got.partition(b"\r\n\r\n")
            if not sep:
                continue
            length = int(re.search(rb"Content-Length: (\d+)", head).group(1))
            if len(body) < length:
                continue
            # The whole response is in: is the connection closed after it?
            s.settimeout(5)
            try:
                return got, s.recv(1) == b""
            except ConnectionResetError:
                return got, True
            except socket.timeout:
                return got, False
    finally:
        s.close()


class admin_api_test(unittest.TestCase):
    @classmethod
    def setUpClass(cls):
        # A 1 s stall threshold instead of the default 25 ms: on a loaded machine a shard thread
        # that waits for a CPU during start-up counts as a stall, and test_1 expects none.
        cls.broker = Broker("--admin-addr", "127.0.0.1:0", "--stall-threshold", "1s",
                            smp=2).start()
        cls.port = cls.broker.admin_port
        assert cls.port, "no 'admin API on' line in:\n" + cls.broker.output()

    @classmethod
    def tearDownClass(cls):
        cls.broker.close()

    def scrape(self):
        status, headers, body = http_get(self.port, "/metrics")
        self.assertEqual(status, 200)
        self.assertEqual(headers["Content-Type"], "text/plain; version=0.0.4; charset=utf-8")
        return body.decode()

    def promtool_check(self, text):
        out = subprocess.run(["promtool", "check", "metrics"], input=text.encode(),
                             capture_output=True, timeout=TIMEOUT_S)
        self.assertEqual(out.returncode, 0,
                         f"promtool check metrics:\n{out.stdout.decode()}{out.stderr.decode()}")

    def produce(self, count, size):
        p = Producer({"bootstrap.servers": self.broker.bootstrap, "linger.ms": 0, "acks": "all"})
        for i in range(count):
            p.produce(TOPIC, value=bytes([65 + i % 26]) * size, partition=0)
            p.poll(0)
        self.assertEqual(p.flush(TIMEOUT_S), 0)

    def test_1_metrics_pass_promtool_and_move_with_traffic(self):
        self.assertTrue(shutil.which("promtool"), "promtool is missing (Debian package prometheus)")
        before = parse_metrics(self.scrape())
        self.produce(20, 1000)
        c = Consumer({"bootstrap.servers": self.broker.bootstrap, "group.id": "lag-group",
                      "enable.auto.commit": False})
        c.assign([TopicPartition(TOPIC, 0, 0)])
        got = 0
        deadline = time.monotonic() + TIMEOUT_S
        while got < 20 and time.monotonic() < deadline:
            m = c.poll(0.5)
            if m is not None and m.error() is None:
                got += 1
        self.assertEqual(got, 20)
        # The group has consumed 20 but commits 7: its lag is 13.
        c.commit(offsets=[TopicPartition(TOPIC, 0, 7)], asynchronous=False)
        c.close()

        text = self.scrape()
        self.promtool_check(text)
        after = parse_metrics(text)

        def moved(name, **labels):
            return total(after, name, **labels) - total(before, name, **labels)

        self.assertGreaterEqual(moved("wharf_kafka_requests_total", api="Produce"), 1)
        self.assertEqual(total(after, "wharf_kafka_request_latency_seconds_count", api="Produce"),
                         total(after, "wharf_kafka_requests_total", api="Produce"))
        self.assertGreaterEqual(moved("wharf_kafka_requests_total", api="Fetch"), 1)
        self.assertGreaterEqual(moved("wharf_kafka_topic_bytes_in_total", topic=TOPIC), 20 * 1000)
        self.assertGreaterEqual(moved("wharf_kafka_topic_bytes_out_total", topic=TOPIC), 20 * 1000)
        self.assertGreaterEqual(moved("wharf_log_appends_total"), 1)  # batches, not records
        self.assertGreaterEqual(moved("wharf_log_append_bytes_total"), 20 * 1000)
        self.assertGreaterEqual(moved("wharf_log_fsyncs_total"), 1)
        self.assertEqual(moved("wharf_log_fsync_latency_seconds_count"),
                         moved("wharf_log_fsyncs_total"))
        self.assertGreaterEqual(moved("wharf_log_read_batches_total", source="cache"), 1)
        self.assertGreaterEqual(moved("wharf_reactor_io_uring_completions_total"), 1)
        self.assertGreater(total(after, "wharf_reactor_loop_turn_duration_seconds_count",
                                 shard=1), 0)
        self.assertEqual(total(after, "wharf_consumer_group_lag", group="lag-group",
                               topic=TOPIC, partition=0), 13)
        for shard in ("0", "1"):
            u = total(after, "wharf_reactor_utilization", shard=shard)
            self.assertTrue(0 <= u <= 1, u)
            self.assertGreater(total(after, "wharf_memory_budget_bytes", shard=shard), 0)
        self.assertGreaterEqual(total(after, "wharf_consumer_groups"), 1)
        self.assertIn((("wharf_shards", frozenset())), after)
        # The stall detector's count is exported (zero on a healthy run: no loop turn of 1 s).
        self.assertTrue(any(n == "wharf_reactor_stalls_total" for (n, _) in after))
        self.assertEqual(total(after, "wharf_reactor_stalls_total"), 0)

    def test_2_every_json_endpoint_answers(self):
        status, headers, body = http_get(self.port, "/v1/status/ready")
        self.assertEqual((status, json.loads(body)), (200, {"ready": True}))
        self.assertEqual(headers["Content-Type"], "application/json")

        status, _, body = http_get(self.port, "/v1/health")
        health = json.loads(body)
        self.assertEqual(status, 200, health)
        self.assertTrue(health["healthy"])
        self.assertEqual([s["running"] for s in health["shards"]], [True, True])

        status, _, body = http_get(self.port, "/v1/brokers")
        brokers = json.loads(body)
        self.assertEqual(status, 200)
        self.assertEqual(len(brokers), 1)
        self.assertEqual(brokers[0]["kafka_addr"], self.broker.bootstrap)
        self.assertEqual(brokers[0]["admin_addr"], f"127.0.0.1:{self.port}")
        self.assertEqual(brokers[0]["shards"], 2)

        status, _, body = http_get(self.port, "/v1/shards")
        shards = json.loads(body)
        self.assertEqual(status, 200)
        self.assertEqual([s["shard"] for s in shards], [0, 1])
        for s in shards:
            for key in ("partitions", "log_bytes", "segments", "utilization", "raft"):
                self.assertIn(key, s)
        # __consumer_offsets (50 partitions) and the test topics spread over both shards.
        self.assertGreaterEqual(sum(s["partitions"] for s in shards), 50)
        self.assertGreater(sum(s["log_bytes"] for s in shards), 0)

        self.produce(3, 10)
        status, _, body = http_get(self.port, "/v1/partitions")
        partitions = json.loads(body)
        self.assertEqual(status, 200)
        mine = [p for p in partitions if p["topic"] == TOPIC and p["partition"] == 0]
        self.assertEqual(len(mine), 1, partitions)
        self.assertGreaterEqual(mine[0]["high_watermark"], 3)
        self.assertEqual(mine[0]["start_offset"], 0)

        status, _, body = http_get(self.port, "/v1/config")
        config = json.loads(body)
        self.assertEqual(status, 200)
        self.assertEqual(config["admin-addr"], "127.0.0.1:0")
        self.assertEqual(config["smp"], 2)
        self.assertEqual(config["fsync"], "always")
        # Every setting --print-config knows is in /v1/config (the list there is kept by hand).
        printed = subprocess.run([wharf_binary(), "--print-config", "--smp", "1",
                                  "--overprovisioned"], capture_output=True, text=True,
                                 timeout=60, check=True).stdout
        keys = {line.split(" = ")[0] for line in printed.splitlines()
                if " = " in line and not line.startswith("#")}
        self.assertGreater(len(keys), 20, printed)
        self.assertEqual(keys - set(config), set(), "settings missing from /v1/config")

        for path in ("/metrics", "/v1/health"):
            status, headers, body = http_get(self.port, path, method="HEAD")
            self.assertEqual(status, 200)
            self.assertEqual(body, b"")
        status, _, _ = http_get(self.port, "/v1/nothing")
        self.assertEqual(status, 404)

    def test_3_bad_requests_are_refused_and_the_broker_keeps_serving(self):
        cases = [
            b"GARBAGE\r\n\r\n",
            b"GET /metrics HTTP/1.1\r\nX-Filler: " + b"a" * 9000 + b"\r\n\r\n",
            b"GET /metrics HTTP/1.1\r\nContent-Length: 100000\r\n\r\n",
            b"GET /metrics HTTP/1.1\r\nTransfer-Encoding: chunked\r\n\r\n" +
            (b"8000\r\n" + b"x" * 0x8000 + b"\r\n") * 3,
        ]
        for data in cases:
            got, closed = raw_exchange(self.port, data)
            self.assertTrue(got.startswith(b"HTTP/1.1 400 "), got[:200])
            self.assertTrue(closed, f"connection left open after {data[:40]!r}")
        status, headers, _ = http_get(self.port, "/metrics", method="POST")
        self.assertEqual(status, 405)
        self.assertEqual(headers["Allow"], "GET, HEAD")

        text = self.scrape()
        self.assertGreaterEqual(total(parse_metrics(text), "wharf_admin_http_bad_requests_total"),
                                len(cases))
        before = total(parse_metrics(text), "wharf_kafka_topic_bytes_in_total", topic=TOPIC)
        self.produce(1, 500)
        after = total(parse_metrics(self.scrape()), "wharf_kafka_topic_bytes_in_total",
                      topic=TOPIC)
        self.assertGreaterEqual(after - before, 500)
        status, _, _ = http_get(self.port, "/v1/status/ready")
        self.assertEqual(status, 200)


class admin_addr_flag_test(unittest.TestCase):
    def test_ready_is_503_until_every_shard_serves_and_while_stopping(self):
        # 1000 __consumer_offsets partitions make the start-up long enough to be seen from
        # outside: the admin API starts before the shards open their logs. (They also make the
        # stop take tens of milliseconds between the broker turning unready and closing its
        # admin API, which is what the second half watches.)
        b = Broker("--offsets-partitions", "1000", smp=2).start(running=False)
        try:
            port = b.admin_port
            codes = []
            deadline = time.monotonic() + TIMEOUT_S
            while time.monotonic() < deadline:
                codes.append(http_get(port, "/v1/status/ready")[0])
                if codes[-1] == 200:
                    break
                time.sleep(0.01)  # the broker starts on the same 2 cores: leave it the CPU
            self.assertEqual(codes[-1], 200, codes)
            self.assertEqual(set(codes[:-1]), {503}, codes)
            # A scrape works too; then the stop makes the broker unready first.
            self.assertEqual(http_get(port, "/metrics")[0], 200)
            b.proc.send_signal(signal.SIGTERM)
            # Ready may say 200 until the broker has read the signal; then it must say 503 until
            # the admin API closes (last, after the Kafka listeners and the groups), which ends
            # the polling with a refused or closed connection.
            seen = []
            deadline = time.monotonic() + TIMEOUT_S
            while time.monotonic() < deadline:
                try:
                    seen.append(http_get(port, "/v1/status/ready")[0])
                except OSError as e:
                    seen.append(type(e).__name__)
                    break
                time.sleep(0.002)  # short: the stopping window is tens of milliseconds
            runs = [x for k, x in enumerate(seen) if k == 0 or seen[k - 1] != x]
            self.assertIsInstance(seen[-1], str, f"the admin API still answers: {runs}")
            self.assertIn(503, seen, f"ready never said 503 while the broker stopped: {runs}")
            first = seen.index(503)
            self.assertTrue(all(x == 200 for x in seen[:first]), runs)
            self.assertTrue(all(x == 503 for x in seen[first:-1]), runs)
            self.assertEqual(b.proc.wait(timeout=TIMEOUT_S), 0, b.output())
        finally:
            b.close()

    def test_an_empty_address_disables_the_api(self):
        with Broker("--admin-addr", "") as b:
            self.assertIsNone(b.admin_port)
            self.assertIn("admin API disabled", b.output())

    def test_a_taken_address_stops_the_broker_at_start_up(self):
        taken = socket.socket()
        taken.bind(("127.0.0.1", 0))
        taken.listen(1)
        port = taken.getsockname()[1]
        b = Broker("--admin-addr", f"127.0.0.1:{port}")
        try:
            with self.assertRaises(AssertionError):
                b.start()
            wait_until(lambda: not b.alive(), TIMEOUT_S, "the broker to exit")
            self.assertEqual(b.proc.returncode, 1)
            self.assertIn(f"cannot listen on --admin-addr 127.0.0.1:{port}", b.output())
        finally:
            b.close()
            taken.close()


if __name__ == "__main__":
    unittest.main()
