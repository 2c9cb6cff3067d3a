#!/usr/bin/env bash
# The first produce numbers of the Kafka front end (issue 3, section 6): for each --smp, the
# maximum produce throughput of 1 KiB records with acks=1 and acks=all, then the produce latency
# (p50/p99, coordinated-omission corrected) at half of that rate. A fresh broker and data
# directory per --smp; the load generator is perf/kafka_produce_bench (librdkafka).
#
#   perf/kafka_produce_suite.sh [--smp "1 2"] [--duration 10] [--partitions 8] [--fsync always]
#                               [--data-root DIR] [--record-bytes 1024]
# Needs a release build: `make release` (or BUILD=dir with core/wharf and perf/kafka_produce_bench).
set -euo pipefail

BUILD=${BUILD:-build/release}
SMPS="1 2"
DURATION=10
PARTITIONS=8
FSYNC=always
RECORD_BYTES=1024
DATA_ROOT=${TMPDIR:-/tmp}
while [ $# -gt 0 ]; do
  case "$1" in
    --smp) SMPS="$2"; shift 2 ;;
    --duration) DURATION="$2"; shift 2 ;;
    --partitions) PARTITIONS="$2"; shift 2 ;;
    --fsync) FSYNC="$2"; shift 2 ;;
    --record-bytes) RECORD_BYTES="$2"; shift 2 ;;
    --data-root) DATA_ROOT="$2"; shift 2 ;;
    *) echo "unknown argument $1" >&2; exit 2 ;;
  esac
done

WHARF="$BUILD/core/wharf"
BENCH="$BUILD/perf/kafka_produce_bench"
for b in "$WHARF" "$BENCH"; do
  [ -x "$b" ] || { echo "missing $b: run 'make release' first" >&2; exit 2; }
done

broker_pid=""
data_dir=""
cleanup() {
  if [ -n "$broker_pid" ]; then kill -TERM -- "-$broker_pid" 2>/dev/null || true; wait "$broker_pid" 2>/dev/null || true; fi
  if [ -n "$data_dir" ]; then rm -rf "$data_dir"; fi
}
trap cleanup EXIT

start_broker() {
  local smp=$1
  data_dir=$(mktemp -d "$DATA_ROOT/wharf-perf.XXXXXX")
  setsid "$WHARF" --data-dir "$data_dir/data" --smp "$smp" --kafka-addr 127.0.0.1:0 \
    --admin-addr 127.0.0.1:0 \
    --default-partitions "$PARTITIONS" --fsync "$FSYNC" --memory "$((smp * 1024))MiB" \
    --log-level info > "$data_dir/broker.log" 2>&1 &
  broker_pid=$!
  for _ in $(seq 1 300); do
    port=$(sed -n 's/.*wharf is running: Kafka API on [0-9.]*:\([0-9]*\).*/\1/p' "$data_dir/broker.log")
    [ -n "$port" ] && return 0
    sleep 0.1
  done
  echo "broker did not start:" >&2; cat "$data_dir/broker.log" >&2; exit 1
}

stop_broker() {
  kill -TERM -- "-$broker_pid" 2>/dev/null || true
  wait "$broker_pid" 2>/dev/null || true
  broker_pid=""
  rm -rf "$data_dir"; data_dir=""
}

field() { sed -n "s/.*\"$1\":\\([0-9.]*\\).*/\\1/p"; }

rows=()
for smp in $SMPS; do
  start_broker "$smp"
  for acks in 1 all; do
    topic="bench-acks$acks"
    max=$("$BENCH" --brokers "127.0.0.1:$port" --topic "$topic" --acks "$acks" \
          --record-bytes "$RECORD_BYTES" --duration "$DURATION" --warmup 2 --json)
    rps=$(echo "$max" | field records_per_s)
    mbps=$(echo "$max" | field mb_per_s)
    half=$(awk -v r="$rps" 'BEGIN { printf "%d", r / 2 }')
    lat=$("$BENCH" --brokers "127.0.0.1:$port" --topic "$topic" --acks "$acks" \
          --record-bytes "$RECORD_BYTES" --duration "$DURATION" --warmup 2 --rate "$half" --json)
    rows+=("$(printf '%-5s %-5s %12s %10s %12s %10s %10s' "$smp" "$acks" "$rps" "$mbps" "$half" \
      "$(echo "$lat" | field p50_ms)" "$(echo "$lat" | field p99_ms)")")
  done
  stop_broker
done

echo "produce, ${RECORD_BYTES} B records, $PARTITIONS partitions, fsync $FSYNC, ${DURATION}s per run, $(nproc) CPUs"
printf '%-5s %-5s %12s %10s %12s %10s %10s\n' smp acks "records/s" "MB/s" "half rate" "p50 ms" "p99 ms"
for r in "${rows[@]}"; do echo "$r"; done
