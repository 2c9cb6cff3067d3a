#!/usr/bin/python3
"""Writes golden request frames encoded by kafka-python (Debian python3-kafka), offline.

Each file `<api>_v<version>.hex` holds one request frame (request header + body, without the
4-byte size prefix) as lowercase hex. tests/net/kafka_golden_test.cc decodes each and requires
a byte-identical re-encode. Run with the system interpreter, which has the kafka module:

    /usr/bin/python3 tests/net/golden/capture_kafka_python.py tests/net/golden
"""

import os
import sys

from kafka.protocol import admin, commit, fetch, group, metadata, offset, produce
from kafka.protocol.api import RequestHeader
from kafka.record.memory_records import MemoryRecordsBuilder


def record_batch(magic):
    """A real record batch (two records, one with a header) in the given message format."""
    b = MemoryRecordsBuilder(magic=magic, compression_type=0, batch_size=1 << 20)
    headers = [("h", b"v")] if magic >= 2 else None
    b.append(timestamp=1700000000000, key=b"key-1", value=b"value-1", headers=headers or [])
    b.append(timestamp=1700000000001, key=None, value=b"value-2", headers=[])
    b.close()
    return b.buffer()


def requests():
    """(api name, request object) for every request kafka-python encodes in Wharf's ranges."""
    out = []
    for v in range(0, 3):
        out.append(("api_versions", admin.ApiVersionRequest[v]()))
    for v in range(0, 6):
        args = [["orders", "payments"]]
        if v >= 4:
            args.append(True)
        out.append(("metadata", metadata.MetadataRequest[v](*args)))
    out.append(("metadata_all", metadata.MetadataRequest[1](None)))
    for v in range(0, 9):
        magic = 0 if v < 2 else (1 if v == 2 else 2)
        topics = [("orders", [(0, record_batch(magic)), (1, record_batch(magic))])]
        args = ([None] if v >= 3 else []) + [-1, 30000, topics]
        out.append(("produce", produce.ProduceRequest[v](*args)))
    for v in range(4, 12):
        out.append(("fetch", fetch_request(v)))
    # kafka-python 2.0.2 encodes ListOffsets v4-v5 CurrentLeaderEpoch as an int64 (Kafka: int32),
    # so those frames are not valid Kafka and are left out.
    for v in range(1, 4):
        out.append(("list_offsets", list_offsets_request(v)))
    for v in range(2, 4):
        topics = [("orders", 3, 1, [], [("retention.ms", "1000")]),
                  ("payments", -1, -1, [(0, [1, 2])], [])]
        out.append(("create_topics", admin.CreateTopicsRequest[v](topics, 5000, False)))
    for v in range(1, 4):
        out.append(("delete_topics", admin.DeleteTopicsRequest[v](["orders", "payments"], 5000)))
    for v in range(0, 2):
        out.append(("create_partitions", admin.CreatePartitionsRequest[v](
            [("orders", (4, None)), ("payments", (3, [[1], [2]]))], 5000, False)))
    for v in range(1, 3):
        out.append(("describe_configs", admin.DescribeConfigsRequest[v](
            [(2, "orders", ["retention.ms"]), (4, "1", None)], True)))
    for v in range(0, 2):
        out.append(("alter_configs", admin.AlterConfigsRequest[v](
            [(2, "orders", [("retention.ms", "1000"), ("cleanup.policy", None)])], False)))
    for v in range(0, 2):
        out.append(("find_coordinator", commit.GroupCoordinatorRequest[v](
            *(["group-1"] + ([0] if v >= 1 else [])))))
    for v in range(2, 4):
        out.append(("offset_commit", commit.OffsetCommitRequest[v](
            "group-1", 3, "member-1", -1, [("orders", [(0, 42, "meta"), (1, 7, None)])])))
    for v in range(1, 4):
        out.append(("offset_fetch", commit.OffsetFetchRequest[v]("group-1", [("orders", [0, 1])])))
    out.append(("offset_fetch_all", commit.OffsetFetchRequest[2]("group-1", None)))
    for v in range(0, 3):
        args = ["group-1", 10000] + ([30000] if v >= 1 else []) + \
            ["", "consumer", [("range", b"\x00\x01meta"), ("roundrobin", b"")]]
        out.append(("join_group", group.JoinGroupRequest[v](*args)))
    for v in range(0, 2):
        out.append(("sync_group", group.SyncGroupRequest[v](
            "group-1", 3, "member-1", [("member-1", b"\x00\x01assignment")])))
        out.append(("heartbeat", group.HeartbeatRequest[v]("group-1", 3, "member-1")))
        out.append(("leave_group", group.LeaveGroupRequest[v]("group-1", "member-1")))
        out.append(("list_groups", admin.ListGroupsRequest[v]()))
        out.append(("delete_groups", admin.DeleteGroupsRequest[v](["group-1", "group-2"])))
    for v in range(0, 4):
        args = [["group-1", "group-2"]] + ([True] if v >= 3 else [])
        out.append(("describe_groups", admin.DescribeGroupsRequest[v](*args)))
    return out


def fetch_request(v):
    part = [0]
    if v >= 9:
        part.append(5)  # current leader epoch
    part.append(42)  # fetch offset
    if v >= 5:
        part.append(-1)  # log start offset
    part.append(1 << 20)
    args = [-1, 500, 1, 50 << 20, 0]
    if v >= 7:
        args += [0, -1]
    args.append([("orders", [tuple(part)])])
    if v >= 7:
        args.append([])
    if v >= 11:
        args.append("rack-a")
    return fetch.FetchRequest[v](*args)


def list_offsets_request(v):
    part = [0] + ([5] if v >= 4 else []) + [-1]
    args = [-1] + ([1] if v >= 2 else []) + [[("orders", [tuple(part)])]]
    return offset.OffsetRequest[v](*args)


def main(out_dir):
    seen = set()
    correlation_id = 100
    for name, req in requests():
        correlation_id += 1
        version = req.API_VERSION
        fname = f"{name}_v{version}.hex"
        if fname in seen:
            continue
        seen.add(fname)
        header = RequestHeader(req, correlation_id=correlation_id, client_id="kafka-python")
        frame = header.encode() + req.encode()
        with open(os.path.join(out_dir, fname), "w") as fh:
            fh.write(frame.hex() + "\n")
    print(f"wrote {len(seen)} frames to {out_dir}")


if __name__ == "__main__":
    main(sys.argv[1] if len(sys.argv) > 1 else os.path.dirname(os.path.abspath(__file__)))
