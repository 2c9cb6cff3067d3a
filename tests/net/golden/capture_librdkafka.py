#!/usr/bin/env python3
"""Records the requests that librdkafka (through kcat and confluent-kafka-python) sends to a real
Wharf broker: a recording proxy sits between the clients and the broker, and the broker
advertises the proxy's address so that every connection goes through it. The first frame of each
(API, version) is written as hex to `librdkafka_<api>_v<version>.hex`.

    WHARF_BIN=build/debug/core/wharf /usr/bin/python3 tests/net/golden/capture_librdkafka.py \\
        tests/net/golden
"""

import os
import re
import select
import socket
import struct
import subprocess
import sys
import tempfile
import threading
import time

API_NAMES = {0: "produce", 1: "fetch", 2: "list_offsets", 3: "metadata", 18: "api_versions",
             19: "create_topics", 20: "delete_topics", 21: "delete_records",
             22: "init_producer_id", 23: "offset_for_leader_epoch", 32: "describe_configs",
             33: "alter_configs", 37: "create_partitions", 44: "incremental_alter_configs",
             60: "describe_cluster"}

frames = {}
lock = threading.Lock()


def pump_requests(client, server):
    """Forwards client -> broker, recording whole request frames."""
    buf = b""
    while True:
        data = client.recv(65536)
        if not data:
            server.shutdown(socket.SHUT_WR)
            return
        server.sendall(data)
        buf += data
        while len(buf) >= 4:
            (size,) = struct.unpack(">i", buf[:4])
            if len(buf) < 4 + size:
                break
            frame, buf = buf[4:4 + size], buf[4 + size:]
            key, version = struct.unpack(">hh", frame[:4])
            with lock:
                frames.setdefault((key, version), frame)


def pump(src, dst):
    while True:
        data = src.recv(65536)
        if not data:
            dst.shutdown(socket.SHUT_WR)
            return
        dst.sendall(data)


def proxy(listener, broker_port):
    while True:
        try:
            client, _ = listener.accept()
        except OSError:
            return
        server = socket.create_connection(("127.0.0.1", broker_port))
        for target in (lambda: pump_requests(client, server), lambda: pump(server, client)):
            threading.Thread(target=lambda t=target: _quiet(t), daemon=True).start()


def _quiet(fn):
    try:
        fn()
    except OSError:
        pass


def run_clients(bootstrap):
    from confluent_kafka import Consumer, Producer, TopicPartition
    from confluent_kafka.admin import (AdminClient, ConfigResource, NewPartitions, NewTopic)

    run = lambda *a, **kw: subprocess.run(a, capture_output=True, timeout=60, **kw)
    run("kcat", "-b", bootstrap, "-L")
    run("kcat", "-b", bootstrap, "-t", "golden", "-P", "-K:", input=b"k1:v1\nk2:v2\n")
    run("kcat", "-b", bootstrap, "-t", "golden", "-C", "-o", "beginning", "-e")
    admin = AdminClient({"bootstrap.servers": bootstrap})
    wait = lambda fs: [f.result(timeout=30) for f in fs.values()]
    wait(admin.create_topics([NewTopic("golden-admin", 2, 1,
                                       config={"retention.ms": "3600000"})]))
    res = ConfigResource(ConfigResource.Type.TOPIC, "golden-admin")
    wait(admin.describe_configs([res]))
    res.set_config("retention.ms", "7200000")
    wait(admin.alter_configs([res]))
    wait(admin.create_partitions([NewPartitions("golden-admin", 3)]))
    p = Producer({"bootstrap.servers": bootstrap, "enable.idempotence": True,
                  "compression.codec": "zstd", "linger.ms": 5})
    for i in range(100):
        p.produce("golden-admin", value=f"value-{i}".encode(), key=str(i).encode())
    p.flush(30)
    c = Consumer({"bootstrap.servers": bootstrap, "group.id": "golden",
                  "enable.auto.commit": False})
    c.assign([TopicPartition("golden-admin", 0, -2)])
    deadline = time.monotonic() + 10
    while time.monotonic() < deadline:
        m = c.poll(0.5)
        if m is not None and not m.error():
            break
    c.get_watermark_offsets(TopicPartition("golden-admin", 0), 10)
    c.close()
    wait(admin.delete_topics(["golden-admin"]))


def main(out_dir):
    listener = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    listener.bind(("127.0.0.1", 0))
    listener.listen(64)
    proxy_port = listener.getsockname()[1]
    tmp = tempfile.TemporaryDirectory(prefix="wharf-golden-")
    broker = subprocess.Popen(
        [os.environ["WHARF_BIN"], "--data-dir", tmp.name, "--overprovisioned", "--smp", "1",
         "--memory", "256MiB", "--kafka-addr", "127.0.0.1:0", "--admin-addr", "127.0.0.1:0",
         "--advertise-kafka-addr", f"127.0.0.1:{proxy_port}"],
        stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True, start_new_session=True)
    try:
        port = None
        for line in broker.stdout:
            m = re.search(r"wharf is running: Kafka API on [0-9.]+:(\d+)", line)
            if m:
                port = int(m.group(1))
                break
        assert port, "the broker did not start"
        threading.Thread(target=proxy, args=(listener, port), daemon=True).start()
        run_clients(f"127.0.0.1:{proxy_port}")
    finally:
        broker.kill()
        broker.wait()
        listener.close()
        tmp.cleanup()
    for (key, version), frame in sorted(frames.items()):
        name = API_NAMES.get(key, f"api{key}")
        path = os.path.join(out_dir, f"librdkafka_{name}_v{version}.hex")
        with open(path, "w") as fh:
            fh.write(frame.hex() + "\n")
        print(f"wrote {path}")


if __name__ == "__main__":
    main(sys.argv[1] if len(sys.argv) > 1 else os.path.dirname(os.path.abspath(__file__)))
