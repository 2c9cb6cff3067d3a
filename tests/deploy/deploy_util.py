"""Shared by the deployment tests (tests/deploy/*_test.py): where the binaries and the source
tree are (ctest passes them in the environment), skipping with a reason, and a broker process
whose output is read by a thread and that is killed at the end whatever happens. Brokers bind
port 0 and the tests read the port they got from their log (process.kafka_port): a port found
free beforehand could be taken by another test before the broker binds it."""

import os
import re
import shutil
import signal
import socket
import subprocess
import sys
import threading
import time

SKIP = 77  # ctest's SKIP_RETURN_CODE for these tests
RUNNING = re.compile(r"wharf is running: Kafka API on [0-9.]+:(\d+)")
SOURCE_DIR = os.environ.get("WHARF_SOURCE_DIR") or os.path.dirname(
    os.path.dirname(os.path.dirname(os.path.abspath(__file__))))


def wharf_binary():
    path = os.environ.get("WHARF_BIN")
    if not path or not os.access(path, os.X_OK):
        raise SystemExit(f"WHARF_BIN must name the built wharf binary (got {path!r})")
    return path


def skip(reason):
    """Ends the test with ctest's skip code and the reason on stderr."""
    print(f"SKIPPED: {reason}", file=sys.stderr)
    sys.exit(SKIP)


def skip_unless_tools(*tools):
    """Skips, naming the missing tools, unless every one is on the PATH."""
    missing = [t for t in tools if shutil.which(t) is None]
    if missing:
        skip(f"{', '.join(missing)} not installed (deploy/install-deps.sh installs them)")


def port_open(port):
    try:
        with socket.create_connection(("127.0.0.1", port), timeout=2):
            return True
    except OSError:
        return False


class process:
    """A started program, its output (stdout and stderr together) collected by a thread."""

    def __init__(self, args, env=None):
        self.proc = subprocess.Popen(args, stdout=subprocess.PIPE, stderr=subprocess.STDOUT,
                                     text=True, start_new_session=True, env=env)
        self._lines = []
        self._lock = threading.Lock()
        self._reader = threading.Thread(target=self._drain, daemon=True)
        self._reader.start()

    def _drain(self):
        for line in self.proc.stdout:
            with self._lock:
                self._lines.append(line)

    def output(self):
        with self._lock:
            return "".join(self._lines)

    def wait_for_output(self, needle, timeout_s=60):
        self._wait_for(lambda out: needle in out, f"'{needle}'", timeout_s)

    def wait_for_match(self, pattern, timeout_s=60):
        """The first match of the regular expression `pattern` in the output, once there is one."""
        return self._wait_for(lambda out: re.search(pattern, out), f"/{pattern}/", timeout_s)

    def kafka_port(self, timeout_s=60):
        """The Kafka port of 'wharf is running: Kafka API on HOST:PORT', once the broker logs it
        (for --kafka-addr HOST:0, the port it got)."""
        return int(self.wait_for_match(RUNNING, timeout_s).group(1))

    def _wait_for(self, find, what, timeout_s):
        """find(output)'s first true value, waiting for it (failing with the output if the
        program exits or timeout_s passes first)."""
        deadline = time.monotonic() + timeout_s
        while time.monotonic() < deadline:
            if found := find(self.output()):
                return found
            if self.proc.poll() is not None:
                self._reader.join(5)
                if found := find(self.output()):
                    return found
                break
            time.sleep(0.05)
        raise AssertionError(f"{what} not seen; output:\n{self.output()}")

    def stop(self, timeout_s=60):
        """SIGTERM, then the exit code (killed and failed after timeout_s)."""
        if self.proc.poll() is None:
            self.proc.send_signal(signal.SIGTERM)
        return self.wait(timeout_s)

    def wait(self, timeout_s=60):
        """The exit code (killed and failed after timeout_s)."""
        try:
            code = self.proc.wait(timeout=timeout_s)
        except subprocess.TimeoutExpired:
            self.kill()
            raise AssertionError(f"did not exit within {timeout_s}s; output:\n" + self.output())
        self._reader.join(5)
        return code

    def kill(self):
        if self.proc.poll() is None:
            os.killpg(self.proc.pid, signal.SIGKILL)
            self.proc.wait(timeout=30)
        self._reader.join(5)
        if not self._reader.is_alive():
            self.proc.stdout.close()


if __name__ == "__main__":
    sys.exit("a helper module; run the *_test.py files")
