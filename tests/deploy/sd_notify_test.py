#!/usr/bin/env python3
"""The broker's systemd notifications (Type=notify in deploy/systemd/wharf.service), as systemd
sees them: a unix datagram socket named by NOTIFY_SOCKET (a path, or an abstract name written
'@...') receives READY=1 only once the Kafka port accepts connections, and STOPPING=1 on
SIGTERM before the broker exits 0. A socket nobody listens on does not stop the broker."""

import os
import signal
import socket
import tempfile
import unittest

from deploy_util import port_open, process, wharf_binary

WHARF = wharf_binary()
RECV_TIMEOUT_S = 60


class sd_notify(unittest.TestCase):
    def setUp(self):
        self.tmp = tempfile.TemporaryDirectory(prefix="wharf-notify-")
        self.procs = []

    def tearDown(self):
        for p in self.procs:
            p.kill()
        self.tmp.cleanup()

    def start(self, notify_socket):
        # Port 0 for both APIs: the Kafka port is read from the log (process.kafka_port).
        env = dict(os.environ, NOTIFY_SOCKET=notify_socket)
        p = process([WHARF, "--data-dir", os.path.join(self.tmp.name, "data"),
                     "--overprovisioned", "--smp", "2", "--memory", "512MiB",
                     "--kafka-addr", "127.0.0.1:0", "--admin-addr", "127.0.0.1:0"], env=env)
        self.procs.append(p)
        return p

    def receive(self, sock, p):
        try:
            return sock.recv(4096).decode()
        except socket.timeout:
            raise AssertionError("no notification; broker output:\n" + p.output())

    def check_ready_then_stopping(self, sock, address):
        sock.settimeout(RECV_TIMEOUT_S)
        p = self.start(address)
        ready = self.receive(sock, p)
        # The broker logs its port before it sends READY=1, so the line is there (or on its way
        # through the pipe) by now.
        port = p.kafka_port()
        # READY=1 is sent after every shard's listener is open: the port answers at once.
        self.assertTrue(port_open(port), "READY=1 came before the Kafka port was open")
        self.assertIn("READY=1", ready.split("\n"), ready)
        p.proc.send_signal(signal.SIGTERM)
        stopping = self.receive(sock, p)
        self.assertIn("STOPPING=1", stopping.split("\n"), stopping)
        self.assertEqual(p.wait(), 0, p.output())
        self.assertIn("wharf stopped cleanly", p.output())

    def test_ready_and_stopping_on_a_socket_path(self):
        path = os.path.join(self.tmp.name, "notify.sock")
        with socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM) as sock:
            sock.bind(path)
            self.check_ready_then_stopping(sock, path)

    def test_ready_and_stopping_on_an_abstract_socket(self):
        name = f"wharf-notify-test-{os.getpid()}"
        with socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM) as sock:
            sock.bind("\0" + name)
            self.check_ready_then_stopping(sock, "@" + name)

    def test_an_unreachable_socket_is_logged_and_the_broker_serves(self):
        p = self.start(os.path.join(self.tmp.name, "nobody-listens.sock"))
        port = p.kafka_port()
        p.wait_for_output("cannot notify systemd")
        self.assertTrue(port_open(port))
        self.assertEqual(p.stop(), 0, p.output())


if __name__ == "__main__":
    unittest.main(verbosity=2)
