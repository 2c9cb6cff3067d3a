#!/usr/bin/env python3
"""One consumer-group member, run as its own process by groups_test.py so that it can be killed.

    group_member.py CLIENT BOOTSTRAP GROUP TOPIC [--assignor range|roundrobin|cooperative-sticky]
                    [--session-timeout-ms N]

CLIENT is `confluent` (librdkafka) or `kafka-python`. Prints one JSON object per line on stdout:
{"event": "assigned", "partitions": [...]} whenever its assignment changes,
{"event": "consumed", "p": P, "o": O} for each record, and {"event": "committed", "p": P, "o": O}
once the synchronous commit of that record returned. Stops cleanly (leaving the group) on SIGTERM.
"""

import argparse
import json
import signal
import sys

stop = False


def emit(**kw):
    sys.stdout.write(json.dumps(kw) + "\n")
    sys.stdout.flush()


def on_term(*_):
    global stop
    stop = True


def run_confluent(a):
    from confluent_kafka import Consumer, KafkaException, TopicPartition
    conf = {"bootstrap.servers": a.bootstrap, "group.id": a.group, "enable.auto.commit": False,
            "auto.offset.reset": "earliest", "session.timeout.ms": a.session_timeout_ms,
            "heartbeat.interval.ms": 500, "partition.assignment.strategy": a.assignor}
    c = Consumer(conf)
    owned = set()

    def on_assign(consumer, parts):
        if a.assignor == "cooperative-sticky":
            owned.update(p.partition for p in parts)
            consumer.incremental_assign(parts)
        else:
            owned.clear()
            owned.update(p.partition for p in parts)
        emit(event="assigned", partitions=sorted(owned))

    def on_revoke(consumer, parts):
        if a.assignor == "cooperative-sticky":
            owned.difference_update(p.partition for p in parts)
            consumer.incremental_unassign(parts)
        else:
            owned.clear()
        emit(event="assigned", partitions=sorted(owned))

    c.subscribe([a.topic], on_assign=on_assign, on_revoke=on_revoke)
    while not stop:
        m = c.poll(0.2)
        if m is None or m.error():
            continue
        emit(event="consumed", p=m.partition(), o=m.offset())
        try:
            c.commit(offsets=[TopicPartition(m.topic(), m.partition(), m.offset() + 1)],
                     asynchronous=False)
        except KafkaException as e:
            # A commit refused during a rebalance (REBALANCE_IN_PROGRESS, ILLEGAL_GENERATION):
            # the record stays uncommitted and may be consumed again by its next owner.
            emit(event="commit_failed", p=m.partition(), o=m.offset(), error=str(e))
            continue
        emit(event="committed", p=m.partition(), o=m.offset())
    c.close()


def run_kafka_python(a):
    from kafka import KafkaConsumer, OffsetAndMetadata, TopicPartition
    from kafka.errors import CommitFailedError, KafkaError
    from kafka.coordinator.assignors.range import RangePartitionAssignor
    from kafka.coordinator.assignors.roundrobin import RoundRobinPartitionAssignor
    assignor = RoundRobinPartitionAssignor if a.assignor == "roundrobin" else RangePartitionAssignor
    c = KafkaConsumer(bootstrap_servers=a.bootstrap, group_id=a.group, enable_auto_commit=False,
                      auto_offset_reset="earliest", session_timeout_ms=a.session_timeout_ms,
                      heartbeat_interval_ms=500, partition_assignment_strategy=[assignor])
    c.subscribe([a.topic])
    last = None
    while not stop:
        batch = c.poll(timeout_ms=200, max_records=1)
        now = sorted(tp.partition for tp in c.assignment())
        if now != last:
            emit(event="assigned", partitions=now)
            last = now
        for tp, records in batch.items():
            for m in records:
                emit(event="consumed", p=m.partition, o=m.offset)
                try:
                    c.commit({TopicPartition(m.topic, m.partition):
                              OffsetAndMetadata(m.offset + 1, "")})
                except (CommitFailedError, KafkaError) as e:
                    emit(event="commit_failed", p=m.partition, o=m.offset, error=str(e))
                    continue
                emit(event="committed", p=m.partition, o=m.offset)
    c.close()


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("client", choices=["confluent", "kafka-python"])
    ap.add_argument("bootstrap")
    ap.add_argument("group")
    ap.add_argument("topic")
    ap.add_argument("--assignor", default="range")
    ap.add_argument("--session-timeout-ms", type=int, default=6000)
    a = ap.parse_args()
    signal.signal(signal.SIGTERM, on_term)
    (run_confluent if a.client == "confluent" else run_kafka_python)(a)


if __name__ == "__main__":
    main()
