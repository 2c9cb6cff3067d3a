"""Starts the real wharf binary for the Kafka client tests: a temporary data directory, a free
port (the broker binds port 0 and logs the port it got), output drained by a thread so that the
broker never blocks on a full pipe, every wait bounded, and the process group killed at the end."""

import os
import re
import signal
import socket
import struct
import subprocess
import sys
import tempfile
import threading
import time

START_TIMEOUT_S = 60
RUNNING = re.compile(r"wharf is running: Kafka API on ([0-9.]+):(\d+)")
ADMIN = re.compile(r"admin API on ([0-9.]+):(\d+)")


def wharf_binary():
    path = os.environ.get("WHARF_BIN")
    if not path:
        raise SystemExit("WHARF_BIN must name the wharf binary")
    return path


class Broker:
    """One broker process. `data_dir` survives restarts of the same Broker object."""

    def __init__(self, *flags, data_dir=None, smp=1, host="127.0.0.1", wrap=None):
        # host: the Kafka listener's address; wrap: a function that turns the command line into
        # the one to run (tests/kafka/wharf_netns.py runs a broker in a network namespace).
        self.host = host
        self.wrap = wrap
        self._tmp = None
        if data_dir is None:
            self._tmp = tempfile.TemporaryDirectory(prefix="wharf-kafka-")
            data_dir = os.path.join(self._tmp.name, "data")
        self.data_dir = data_dir
        self.flags = list(flags)
        self.smp = smp
        self.proc = None
        self.port = None
        self.admin_port = None
        self.lines = []
        self._lock = threading.Lock()

    # --- lifecycle ---------------------------------------------------------------------------
    def start(self, port=0, running=True):
        """Starts the broker and returns once it logs 'wharf is running' (self.port is set then).
        With running=False it returns as soon as the admin API listens (self.admin_port is set;
        the shards may still be starting, and self.port is set when they are done): for tests
        that watch the start-up from outside. That needs the admin API (not --admin-addr '')."""
        # The admin API on a free port too, unless the test chooses one: brokers of concurrent
        # tests must not share the default 9644.
        admin = [] if "--admin-addr" in self.flags else ["--admin-addr", "127.0.0.1:0"]
        cmd = [wharf_binary(), "--data-dir", self.data_dir, "--overprovisioned",
               "--smp", str(self.smp), "--memory", f"{256 * self.smp}MiB",
               "--kafka-addr", f"{self.host}:{port}", *admin, *self.flags]
        if self.wrap is not None:
            cmd = self.wrap(cmd)
        self.proc = subprocess.Popen(cmd, stdout=subprocess.PIPE, stderr=subprocess.STDOUT,
                                     text=True, start_new_session=True)
        started = threading.Event()
        admin_up = threading.Event()
        threading.Thread(target=self._drain, args=(self.proc, started, admin_up),
                         daemon=True).start()
        if running:
            up = started.wait(START_TIMEOUT_S) and self.port is not None
        else:
            up = admin_up.wait(START_TIMEOUT_S) and self.admin_port is not None
        if not up:
            self.kill()
            raise AssertionError("broker did not start; output:\n" + self.output())
        return self

    def _drain(self, proc, started, admin_up=None):
        for line in proc.stdout:
            with self._lock:
                self.lines.append(line)
            a = ADMIN.search(line)
            if a:
                self.admin_port = int(a.group(2))
                if admin_up is not None:
                    admin_up.set()
            m = RUNNING.search(line)
            if m:
                self.port = int(m.group(2))
                started.set()
        started.set()
        if admin_up is not None:
            admin_up.set()

    @property
    def bootstrap(self):
        return f"{self.host}:{self.port}"

    def output(self):
        with self._lock:
            return "".join(self.lines)

    def alive(self):
        return self.proc is not None and self.proc.poll() is None

    def stop(self, timeout_s=60):
        """SIGTERM and wait for a clean exit; returns the exit code."""
        if not self.alive():
            return self.proc.returncode if self.proc else None
        self.proc.send_signal(signal.SIGTERM)
        try:
            return self.proc.wait(timeout=timeout_s)
        except subprocess.TimeoutExpired:
            self.kill()
            raise AssertionError("broker did not stop on SIGTERM; output:\n" + self.output())

    def kill(self):
        if self.proc is not None and self.proc.poll() is None:
            os.killpg(self.proc.pid, signal.SIGKILL)
            self.proc.wait(timeout=30)

    def restart(self, hard=False):
        port = self.port
        if hard:
            self.kill()
        else:
            self.stop()
        self.port = None
        self.admin_port = None
        return self.start(port)

    def close(self):
        self.kill()
        if self.proc is not None and self.proc.stdout is not None:
            self.proc.stdout.close()
        if self._tmp is not None:
            self._tmp.cleanup()

    def __enter__(self):
        return self.start()

    def __exit__(self, *exc):
        self.close()


# --- raw protocol helpers (bad-input tests) ---------------------------------------------------
def connect(port, timeout_s=10):
    s = socket.create_connection(("127.0.0.1", port), timeout=timeout_s)
    s.settimeout(timeout_s)
    return s


def request_frame(api_key, version, correlation_id, body, client_id=b"wharf-test", flexible=False):
    header = struct.pack(">hhi", api_key, version, correlation_id)
    header += struct.pack(">h", len(client_id)) + client_id
    if flexible:
        header += b"\x00"  # empty tagged fields
    payload = header + body
    return struct.pack(">i", len(payload)) + payload


def read_frame(sock):
    """Returns one response frame's body, or None when the broker closed the connection."""
    head = _read_exact(sock, 4)
    if head is None:
        return None
    (size,) = struct.unpack(">i", head)
    return _read_exact(sock, size)


def _read_exact(sock, n):
    buf = b""
    while len(buf) < n:
        try:
            chunk = sock.recv(n - len(buf))
        except (ConnectionResetError, socket.timeout):
            return None
        if not chunk:
            return None
        buf += chunk
    return buf


def wait_until(cond, timeout_s=30, what="condition"):
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        if cond():
            return
        time.sleep(0.05)
    raise AssertionError(f"timed out waiting for {what}")


if __name__ == "__main__":
    sys.exit("a helper module; run the *_test.py files")
