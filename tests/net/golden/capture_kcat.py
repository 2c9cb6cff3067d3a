#!/usr/bin/env python3
"""Records the first request frame kcat (librdkafka) sends: ApiVersions in its flexible form.

Listens on a free loopback port, runs `kcat -b 127.0.0.1:PORT -L` with a short timeout, and
writes the frame (without its size prefix) as hex to `librdkafka_api_versions_v<version>.hex`.

    python3 tests/net/golden/capture_kcat.py tests/net/golden
"""

import os
import socket
import struct
import subprocess
import sys


def recv_exact(conn, n):
    data = b""
    while len(data) < n:
        chunk = conn.recv(n - len(data))
        if not chunk:
            raise EOFError("kcat closed the connection")
        data += chunk
    return data


def main(out_dir):
    srv = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    srv.bind(("127.0.0.1", 0))
    srv.listen(1)
    srv.settimeout(10)
    port = srv.getsockname()[1]
    kcat = subprocess.Popen(["kcat", "-b", f"127.0.0.1:{port}", "-L", "-m", "3"],
                            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    try:
        conn, _ = srv.accept()
        conn.settimeout(10)
        size = struct.unpack(">i", recv_exact(conn, 4))[0]
        frame = recv_exact(conn, size)
        conn.close()
    finally:
        kcat.kill()
        kcat.wait()
        srv.close()
    api_key, version = struct.unpack(">hh", frame[:4])
    assert api_key == 18, f"expected ApiVersions first, got key {api_key}"
    path = os.path.join(out_dir, f"librdkafka_api_versions_v{version}.hex")
    with open(path, "w") as fh:
        fh.write(frame.hex() + "\n")
    print(f"wrote {path}")


if __name__ == "__main__":
    main(sys.argv[1] if len(sys.argv) > 1 else os.path.dirname(os.path.abspath(__file__)))
