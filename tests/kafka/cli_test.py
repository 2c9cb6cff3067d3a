#!/usr/bin/env python3
"""The `wharf` command-line client (issue 8) against the real broker: topic administration,
produce and consume (checked against kcat, so the CLI speaks plain Kafka both ways), consumer
groups with lag and seek, cluster info and health, JSON output, and errors that name the Kafka
error with exit status 1 (bad usage: 2)."""

import json
import os
import subprocess
import time
import unittest

from wharf_broker import Broker

TIMEOUT_S = 60


class cli_test(unittest.TestCase):
    @classmethod
    def setUpClass(cls):
        cls.broker = Broker("--group-initial-rebalance-delay", "100ms", smp=2).start()

    @classmethod
    def tearDownClass(cls):
        cls.broker.close()

    def wharf(self, *args, stdin=None, expect=0):
        env = dict(os.environ, WHARF_BROKERS=self.broker.bootstrap)
        out = subprocess.run([os.environ["WHARF_BIN"], *args], input=stdin, capture_output=True,
                             text=True, timeout=TIMEOUT_S, env=env)
        self.assertEqual(out.returncode, expect, f"wharf {' '.join(args)}:\n{out.stdout}{out.stderr}")
        return out

    def json(self, *args):
        return json.loads(self.wharf(*args, "--format", "json").stdout)

    def test_topics_and_their_configs(self):
        self.wharf("topic", "create", "cli-topics", "-p", "3", "-c", "retention.ms=60000")
        err = self.wharf("topic", "create", "cli-topics", expect=1).stderr
        self.assertIn("TOPIC_ALREADY_EXISTS", err)
        self.assertEqual(err.count("\n"), 1)  # one clear line
        topics = {t["topic"]: t for t in self.json("topic", "list")}
        self.assertEqual(topics["cli-topics"]["partitions"], 3)
        parts = self.json("topic", "describe", "cli-topics")
        self.assertEqual(sorted(p["partition"] for p in parts), [0, 1, 2])
        self.assertTrue(all(p["leader"] >= 0 for p in parts))
        self.wharf("topic", "add-partitions", "cli-topics", "-p", "5")
        self.assertEqual(len(self.json("topic", "describe", "cli-topics")), 5)
        self.wharf("topic", "alter-config", "cli-topics", "--set", "retention.ms=120000",
                   "--delete", "cleanup.policy")
        configs = {c["config"]: c for c in self.json("topic", "describe-config", "cli-topics")}
        self.assertEqual(str(configs["retention.ms"]["value"]), "120000")
        self.assertEqual(configs["retention.ms"]["source"], "topic")
        err = self.wharf("topic", "alter-config", "cli-topics", "--set", "retention.ms=soon",
                         expect=1).stderr
        self.assertIn("INVALID_CONFIG", err)
        self.wharf("topic", "delete", "cli-topics")
        self.assertIn("UNKNOWN_TOPIC_OR_PARTITION",
                      self.wharf("topic", "describe", "cli-topics", expect=1).stderr)

    def test_produce_and_consume_interoperate_with_kcat(self):
        self.wharf("topic", "create", "cli-records", "-p", "4")
        lines = "".join(f"key-{i % 7}:value-{i}\n" for i in range(200))
        self.wharf("produce", "cli-records", "-k", ":", "-H", "origin=cli", "-z", "lz4",
                   stdin=lines)
        out = self.wharf("consume", "cli-records", "-o", "start", "-e",
                         "-f", "%p|%o|%k|%v|%h\\n").stdout.splitlines()
        self.assertEqual(len(out), 200)
        partition_of = {}
        for line in out:
            p, _, k, v, h = line.split("|")
            self.assertEqual(h, "origin=cli")
            self.assertEqual(partition_of.setdefault(k, p), p)  # one partition per key
        # kcat reads what the CLI wrote, and the CLI reads what kcat wrote.
        kcat = subprocess.run(["kcat", "-b", self.broker.bootstrap, "-C", "-t", "cli-records",
                               "-e", "-q", "-f", "%k:%s\\n"], capture_output=True, text=True,
                              timeout=TIMEOUT_S)
        self.assertEqual(sorted(kcat.stdout.splitlines()), sorted(lines.splitlines()))
        subprocess.run(["kcat", "-b", self.broker.bootstrap, "-P", "-t", "cli-records",
                        "-K", ":", "-p", "0"], input="from:kcat\n", text=True, check=True,
                       timeout=TIMEOUT_S)
        out = self.wharf("consume", "cli-records", "-p", "0", "-o", "start", "-e",
                         "-f", "%k=%v\\n").stdout
        self.assertIn("from=kcat", out)
        # --num stops early; @timestamp in the future starts at the end.
        self.assertEqual(len(self.wharf("consume", "cli-records", "-o", "start", "-n", "5")
                             .stdout.splitlines()), 5)
        future = str(int(time.time() * 1000) + 3_600_000)
        self.assertEqual(self.wharf("consume", "cli-records", "-o", "@" + future, "-e").stdout, "")

    def test_groups_lag_and_seek(self):
        self.wharf("topic", "create", "cli-groups", "-p", "2")
        self.wharf("produce", "cli-groups", stdin="".join(f"r{i}\n" for i in range(10)))
        got = self.wharf("consume", "cli-groups", "-g", "cli-g", "-o", "start", "-e").stdout
        self.assertEqual(sorted(got.split()), sorted(f"r{i}" for i in range(10)))
        groups = {g["group"]: g for g in self.json("group", "list")}
        self.assertEqual(groups["cli-g"]["state"], "Empty")
        self.wharf("produce", "cli-groups", stdin="late1\nlate2\n")
        out = self.wharf("group", "describe", "cli-g").stdout
        lag = sum(int(line.split()[-1]) for line in out.splitlines()
                  if line.startswith("cli-g ") and "cli-groups" in line)
        self.assertEqual(lag, 2)
        described = self.json("group", "describe", "cli-g")
        self.assertEqual(described["members"][0]["state"], "Empty")
        self.assertEqual(sum(o["lag"] for o in described["offsets"]), 2)
        # A second consumer in the group resumes after the commit.
        self.assertEqual(sorted(self.wharf("consume", "cli-groups", "-g", "cli-g", "-e")
                                .stdout.split()), ["late1", "late2"])
        dry = self.wharf("group", "seek", "cli-g", "--topic", "cli-groups", "--to", "start",
                         "--dry-run").stdout
        self.assertIn("dry run", dry)
        self.assertEqual(self.wharf("consume", "cli-groups", "-g", "cli-g", "-e").stdout, "")
        self.wharf("group", "seek", "cli-g", "--topic", "cli-groups", "--to", "start")
        self.assertEqual(len(self.wharf("consume", "cli-groups", "-g", "cli-g", "-e")
                             .stdout.split()), 12)
        self.wharf("group", "delete", "cli-g")
        self.assertNotIn("cli-g", {g["group"] for g in self.json("group", "list")})

    def test_cluster_and_errors(self):
        info = self.json("cluster", "info")
        self.assertEqual(len(info), 1)
        self.assertEqual(info[0]["port"], self.broker.port)
        health = self.json("cluster", "health")[0]
        self.assertEqual(health["healthy"], "yes")
        self.assertEqual(health["leaderless"], 0)
        self.wharf("topic", "frobnicate", expect=2)
        self.wharf("consume", expect=2)
        self.assertIn("--brokers", self.wharf("topic", "list", "-b", "nonsense", expect=2).stderr)
        self.assertIn("cannot reach", self.wharf("topic", "list", "-b", "127.0.0.1:1",
                                                 expect=1).stderr)
        self.assertIn("UNKNOWN_TOPIC_OR_PARTITION",
                      self.wharf("produce", "no-such-topic", stdin="x\n", expect=1).stderr)
        # Bad offsets and partitions, and a group the broker refuses once the member exists:
        # one line each, and the client closes cleanly (no abort).
        self.wharf("topic", "create", "cli-bad-input")
        for args, says in ((("-o", "@soon"), "offset '@soon'"), (("-o", "3x"), "offset '3x'"),
                           (("-p", "99"), "--partition 99"),
                           (("-g", "", "-e"), "INVALID_GROUP_ID")):
            err = self.wharf("consume", "cli-bad-input", *args, expect=1).stderr
            self.assertIn(says, err)
            self.assertEqual(err.count("\n"), 1, err)
        # Names that look like numbers stay strings in JSON.
        self.wharf("topic", "create", "007")
        self.assertIn("007", {t["topic"] for t in self.json("topic", "list")})


if __name__ == "__main__":
    unittest.main()
