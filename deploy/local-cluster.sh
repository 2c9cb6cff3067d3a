#!/usr/bin/env bash
# Starts a local Wharf cluster of N brokers (1..5) on this machine, for development and demos.
#
#   deploy/local-cluster.sh N [--netns] [-- extra wharf flags]
#
# Node K (0-based) runs build/release/core/wharf (or $WHARF_BIN) with
#   --node-id K --data-dir $DATA_DIR/node-K (DATA_DIR defaults to ./data)
#   --kafka-addr HOST:9092+K --rpc-addr HOST:33145+K --admin-addr HOST:9644+K
#   --seeds 0@HOST:33145,1@HOST:33146,... (the same list for every node; none for N=1, which is
#   a single broker as `make run` starts it)
#   --smp 1 --overprovisioned --memory 1GiB (defaults: an extra --smp or --memory replaces
#   its default)
# and logs to $DATA_DIR/node-K/wharf.log. HOST is 127.0.0.1, or the node's namespace address with
# --netns. The script prints the bootstrap string once every broker runs, then waits; Ctrl-C or
# SIGTERM stops every broker (SIGTERM, then SIGKILL after 10 s). If a broker exits on its own, the
# script prints the tail of its log and stops the others (exit status 1).
#
# Extra flags after `--` go to every broker (e.g. `-- --log-level debug --fsync never`). The
# flags that differ per node (--node-id, --data-dir, --kafka-addr, --rpc-addr, --admin-addr,
# their --advertise-* forms, --seeds) are the script's and are refused there.
#
# --netns (root and iproute2 required): every broker runs in its own network namespace wharf-nK
# with address 10.77.0.(K+1)/24 on a veth pair whose root end is attached to the bridge
# wharf-br0 (10.77.0.254/24) in the root namespace, so that brokers reach each other only over a
# real network path, and `ip netns exec wharf-nK ...` or `ip link set wharf-vK down` can cut one
# off to test partitions. The namespaces, veths and the bridge are removed on exit (stale ones
# of an earlier run are removed at start). Clients on the host use the printed 10.77.0.x
# bootstrap. If the host firewall drops bridged traffic (Docker sets the FORWARD policy to DROP
# and br_netfilter passes bridged frames through it), allow it:
#   iptables -I FORWARD -i wharf-br0 -o wharf-br0 -j ACCEPT
#
# Examples:
#   make release && deploy/local-cluster.sh 3
#   kcat -b 127.0.0.1:9092,127.0.0.1:9093,127.0.0.1:9094 -L
#   DATA_DIR=/tmp/wharf deploy/local-cluster.sh 3 -- --log-level debug
#   sudo deploy/local-cluster.sh 3 --netns
set -euo pipefail

readonly KAFKA_PORT_BASE=9092
readonly RPC_PORT_BASE=33145
readonly ADMIN_PORT_BASE=9644
readonly NETNS_PREFIX=wharf-n
readonly VETH_PREFIX=wharf-v
readonly BRIDGE=wharf-br0
readonly NETNS_SUBNET=10.77.0
readonly BRIDGE_ADDR=${NETNS_SUBNET}.254
readonly STOP_TIMEOUT_S=10
readonly START_TIMEOUT_S=60

usage() {
  cat >&2 <<EOF
usage: $0 N [--netns] [-- extra wharf flags]
  N        number of brokers: 1, 3 or 5 (a raft cluster has an odd number of seeds)
  --netns  one network namespace per broker (needs root and ip); see the header of this script
environment: WHARF_BIN (default build/release/core/wharf), DATA_DIR (default ./data)
EOF
  exit 2
}

die() {
  echo "local-cluster: $*" >&2
  exit 2
}

# --- arguments -------------------------------------------------------------------------------
[[ $# -ge 1 ]] || usage
case $1 in
  -h | --help) usage ;;
esac
nodes=$1
shift
[[ $nodes =~ ^[0-9]+$ ]] || die "N must be a number of brokers (1..5), not '$nodes'"
((nodes >= 1 && nodes <= 5)) || die "N must be between 1 and 5, not $nodes"
# --seeds takes 1, 3 or 5 brokers: an even count adds a broker that every majority needs
# without tolerating one more failure.
((nodes % 2 == 1)) || die "N must be 1, 3 or 5 (--seeds takes an odd number of brokers), not $nodes"

netns=0
extra=()
while [[ $# -gt 0 ]]; do
  case $1 in
    --netns) netns=1 ;;
    --) shift; extra=("$@"); break ;;
    -h | --help) usage ;;
    *) die "unknown argument '$1' (wharf flags go after --)" ;;
  esac
  shift
done

default_smp=1
default_memory=1
for flag in "${extra[@]+"${extra[@]}"}"; do
  name=${flag%%=*}
  case $name in
    --node-id | --data-dir | --kafka-addr | --advertise-kafka-addr | --rpc-addr | \
      --advertise-rpc-addr | --admin-addr | --seeds)
      die "$name is set per node by this script; it cannot be passed after --" ;;
    --smp) default_smp=0 ;;
    --memory) default_memory=0 ;;
  esac
done

bin=${WHARF_BIN:-build/release/core/wharf}
[[ -x $bin ]] || die "no wharf binary at '$bin' (run 'make release', or set WHARF_BIN)"
data_base=${DATA_DIR:-./data}

if ((nodes > 1)) && ! "$bin" --help 2>/dev/null | grep -q -- '--seeds'; then
  die "$bin has no --seeds flag: it cannot run a cluster (rebuild it, or use N=1)"
fi
if ((netns)); then
  ((EUID == 0)) || die "--netns needs root (network namespaces and veth pairs)"
  command -v ip >/dev/null || die "--netns needs the 'ip' command (iproute2)"
fi

host_of() { # node -> the address it listens on
  if ((netns)); then echo "${NETNS_SUBNET}.$(($1 + 1))"; else echo 127.0.0.1; fi
}

seeds=""
bootstrap=""
for ((k = 0; k < nodes; k++)); do
  seeds+="${seeds:+,}$k@$(host_of "$k"):$((RPC_PORT_BASE + k))"
  bootstrap+="${bootstrap:+,}$(host_of "$k"):$((KAFKA_PORT_BASE + k))"
done

# --- network namespaces ----------------------------------------------------------------------
remove_netns() {
  local k
  for ((k = 0; k < 5; k++)); do
    if ip netns list 2>/dev/null | grep -qw "${NETNS_PREFIX}$k"; then
      ip netns delete "${NETNS_PREFIX}$k" || true # takes its end of the veth pair with it
    fi
    if ip link show "${VETH_PREFIX}$k" >/dev/null 2>&1; then
      ip link delete "${VETH_PREFIX}$k" || true
    fi
  done
  if ip link show "$BRIDGE" >/dev/null 2>&1; then
    ip link delete "$BRIDGE" || true
  fi
}

create_netns() {
  remove_netns # leftovers of a run that was SIGKILLed
  ip link add "$BRIDGE" type bridge
  ip addr add "$BRIDGE_ADDR/24" dev "$BRIDGE"
  ip link set "$BRIDGE" up
  local k ns
  for ((k = 0; k < nodes; k++)); do
    ns=${NETNS_PREFIX}$k
    ip netns add "$ns"
    ip link add "${VETH_PREFIX}$k" type veth peer name eth0 netns "$ns"
    ip link set "${VETH_PREFIX}$k" master "$BRIDGE" up
    ip -n "$ns" link set lo up
    ip -n "$ns" addr add "$(host_of "$k")/24" dev eth0
    ip -n "$ns" link set eth0 up
    ip -n "$ns" route add default via "$BRIDGE_ADDR"
  done
}

# --- brokers ---------------------------------------------------------------------------------
pids=()
stopping=0

broker_alive() { kill -0 "${pids[$1]}" 2>/dev/null; }

stop_all() {
  local k deadline
  for ((k = 0; k < ${#pids[@]}; k++)); do
    if broker_alive "$k"; then kill -TERM "${pids[$k]}" 2>/dev/null || true; fi
  done
  deadline=$((SECONDS + STOP_TIMEOUT_S))
  for ((k = 0; k < ${#pids[@]}; k++)); do
    while broker_alive "$k" && ((SECONDS < deadline)); do sleep 0.2; done
    if broker_alive "$k"; then
      echo "local-cluster: node $k did not stop within ${STOP_TIMEOUT_S}s: SIGKILL" >&2
      kill -KILL "${pids[$k]}" 2>/dev/null || true
    fi
    wait "${pids[$k]}" 2>/dev/null || true
  done
  pids=()
}

cleanup() {
  stop_all
  if ((netns)); then remove_netns; fi
}

on_signal() {
  if ((stopping)); then return; fi
  stopping=1
  echo
  echo "local-cluster: stopping ${#pids[@]} broker(s)"
  cleanup
  exit 0
}

log_tail() {
  echo "----- tail of $1 -----" >&2
  tail -n 40 "$1" >&2 || true
  echo "-----" >&2
}

start_node() {
  local k=$1 host dir log
  host=$(host_of "$k")
  dir=$data_base/node-$k
  log=$dir/wharf.log
  mkdir -p "$dir"
  local cmd=("$bin" --data-dir "$dir" --overprovisioned
    --kafka-addr "$host:$((KAFKA_PORT_BASE + k))"
    --admin-addr "$host:$((ADMIN_PORT_BASE + k))")
  if ((nodes > 1)); then
    cmd+=(--node-id "$k" --rpc-addr "$host:$((RPC_PORT_BASE + k))" --seeds "$seeds")
  fi
  if ((default_smp)); then cmd+=(--smp 1); fi
  if ((default_memory)); then cmd+=(--memory 1GiB); fi
  cmd+=("${extra[@]+"${extra[@]}"}")
  if ((netns)); then cmd=(ip netns exec "${NETNS_PREFIX}$k" "${cmd[@]}"); fi
  echo "=== $(date '+%F %T') local-cluster: ${cmd[*]}" >>"$log"
  # Each broker in its own session: a Ctrl-C in the terminal reaches only this script, which
  # sends one SIGTERM (a second signal would make the broker exit at once, without flushing).
  # setsid does not fork here (a background job is no process group leader), so $! is the broker.
  setsid "${cmd[@]}" >>"$log" 2>&1 </dev/null &
  pids+=($!)
}

# Waits until every broker logs that it runs; a broker that exits first fails the start.
wait_running() {
  local k deadline=$((SECONDS + START_TIMEOUT_S)) pending
  while ((SECONDS < deadline)); do
    pending=0
    for ((k = 0; k < nodes; k++)); do
      if ! broker_alive "$k"; then
        echo "local-cluster: node $k exited during start-up" >&2
        log_tail "$data_base/node-$k/wharf.log"
        cleanup
        exit 1
      fi
      # Only the lines of this run (after the last '=== ' marker) count.
      if ! awk '/^=== /{r=0} /wharf is running/{r=1} END{exit !r}' \
        "$data_base/node-$k/wharf.log"; then
        pending=1
      fi
    done
    ((pending)) || return 0
    sleep 0.2
  done
  echo "local-cluster: not every broker was running after ${START_TIMEOUT_S}s" >&2
  for ((k = 0; k < nodes; k++)); do log_tail "$data_base/node-$k/wharf.log"; done
  cleanup
  exit 1
}

trap on_signal INT TERM
trap 'if ((!stopping)); then cleanup; fi' EXIT

if ((netns)); then create_netns; fi
for ((k = 0; k < nodes; k++)); do start_node "$k"; done
wait_running

echo "wharf: $nodes broker(s) running (logs: $data_base/node-*/wharf.log)"
for ((k = 0; k < nodes; k++)); do
  echo "  node $k: kafka $(host_of "$k"):$((KAFKA_PORT_BASE + k))," \
    "admin http://$(host_of "$k"):$((ADMIN_PORT_BASE + k)), pid ${pids[$k]}"
done
echo "bootstrap: $bootstrap"
echo "  e.g. kcat -b $bootstrap -L"
echo "stop: Ctrl-C, or kill $$"

# Wait, a second at a time so that the traps run promptly, until a signal or a broker's death.
while true; do
  for ((k = 0; k < nodes; k++)); do
    if ! broker_alive "$k"; then
      status=0
      wait "${pids[$k]}" || status=$?
      echo "local-cluster: node $k (pid ${pids[$k]}) exited with status $status;" \
        "stopping the others" >&2
      log_tail "$data_base/node-$k/wharf.log"
      stopping=1
      cleanup
      exit 1
    fi
  done
  sleep 1 &
  wait $! || true
done
