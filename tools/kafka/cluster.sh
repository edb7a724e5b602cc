#!/usr/bin/env bash
# A real three-broker Apache Kafka KRaft cluster on 127.0.0.1 for htmqc's
# replication and failover tests: three nodes, each a combined broker and
# controller (one JVM), forming a 3-voter controller quorum. Every node is one
# tools/kafka/broker.sh data dir, so start, stop, kill -9 and restart work and
# log exactly as for the single broker, and for both Kafka generations.
#
#   tools/kafka/cluster.sh start [N]           start every node (or node N), wait until each serves
#   tools/kafka/cluster.sh stop [N]            stop every node (or node N): SIGTERM, grace, SIGKILL
#   tools/kafka/cluster.sh kill N              SIGKILL node N now (crash simulation), keep its data
#   tools/kafka/cluster.sh restart N           stop node N if running, start it on the same data
#   tools/kafka/cluster.sh status              one line per node; exit 0 only when all three run
#   tools/kafka/cluster.sh leader TOPIC PART   the node id leading that partition (-1: none)
#   tools/kafka/cluster.sh partition TOPIC PART  {"leader":..,"replicas":[..],"isr":[..]} as JSON
#   tools/kafka/cluster.sh logs N [LINES]      the last LINES (100) lines of node N's server.log
#   tools/kafka/cluster.sh addresses           the bootstrap list, host:port,host:port,host:port
#   tools/kafka/cluster.sh wipe                stop every node and delete the cluster dir
#
# Node N (1..3) has node.id N, client port BASE+N-1 and controller port
# BASE+10+N-1. Topics default to replication factor 3 with min.insync.replicas 2,
# and so do __consumer_offsets and __transaction_state.
#
# Environment (see tools/kafka/README.md):
#   HTMQC_KAFKA_CLUSTER_PORT       base port                   (19800)
#   HTMQC_KAFKA_CLUSTER_DIR        cluster dir, node-N/ inside (<repo>/.cache/kafka-cluster/<base port>)
#   HTMQC_KAFKA_HEAP               -Xmx of each node           (512m)
#   HTMQC_KAFKA_VERSION            3.9.1 (default, or 3), 4 (= 4.4.0) or a full 4.N.M
#   HTMQC_KAFKA_START_TIMEOUT, HTMQC_KAFKA_STOP_GRACE, HTMQC_KAFKA_JVM_OPTS,
#   HTMQC_KAFKA_OVERRIDES          as for broker.sh, for every node
set -euo pipefail

ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)"
BROKER="$ROOT/tools/kafka/broker.sh"
PARTITION="$ROOT/tools/kafka/partition.js"
# shellcheck source=tools/kafka/common.sh
. "$ROOT/tools/kafka/common.sh"
resolve_kafka_version "$ROOT" || exit 2

NODES=3
BASE="${HTMQC_KAFKA_CLUSTER_PORT:-19800}"
case "$BASE" in ''|*[!0-9]*) echo "cluster: ERROR: HTMQC_KAFKA_CLUSTER_PORT='$BASE' is not a port number" >&2; exit 2 ;; esac
{ [ "$BASE" -ge 1024 ] && [ "$BASE" -le 65500 ]; } \
  || { echo "cluster: ERROR: HTMQC_KAFKA_CLUSTER_PORT=$BASE must be between 1024 and 65500 (it uses BASE..BASE+12)" >&2; exit 2; }
CDIR="${HTMQC_KAFKA_CLUSTER_DIR:-$ROOT/.cache/kafka-cluster/$BASE}"
CLUSTER_ID_FILE="$CDIR/cluster.id"

say() { echo "cluster: $*"; }
err() { echo "cluster: ERROR: $*" >&2; }
now_ms() { date +%s%3N; }

client_port() { echo $(( BASE + $1 - 1 )); }
controller_port() { echo $(( BASE + 10 + $1 - 1 )); }
node_dir() { echo "$CDIR/node-$1"; }

addresses() {
  local n out=()
  for n in $(seq 1 "$NODES"); do out+=("127.0.0.1:$(client_port "$n")"); done
  (IFS=,; echo "${out[*]}")
}

voters() {
  local n out=()
  for n in $(seq 1 "$NODES"); do out+=("$n@127.0.0.1:$(controller_port "$n")"); done
  (IFS=,; echo "${out[*]}")
}

node_arg() { # value -> node number or exit 2
  case "${1:-}" in
    [1-9]) [ "$1" -le "$NODES" ] && { echo "$1"; return; } ;;
  esac
  err "node must be 1..$NODES, got '${1:-}'"
  exit 2
}

# Runs broker.sh for node N with that node's identity; the caller's other
# HTMQC_KAFKA_* settings (version, timeouts, overrides) pass through.
node_broker() { # N subcommand
  local n="$1"
  HTMQC_KAFKA_PORT="$(client_port "$n")" \
  HTMQC_KAFKA_CONTROLLER_PORT="$(controller_port "$n")" \
  HTMQC_KAFKA_DIR="$(node_dir "$n")" \
  HTMQC_KAFKA_NODE_ID="$n" \
  HTMQC_KAFKA_VOTERS="$(voters)" \
  HTMQC_KAFKA_CLUSTER_ID="$(cat "$CLUSTER_ID_FILE")" \
  HTMQC_KAFKA_REPLICAS=3 \
  HTMQC_KAFKA_MIN_ISR=2 \
  HTMQC_KAFKA_HEAP="${HTMQC_KAFKA_HEAP:-512m}" \
    "$BROKER" "$2"
}

ensure_cluster_id() {
  mkdir -p "$CDIR"
  [ -s "$CLUSTER_ID_FILE" ] || new_cluster_id > "$CLUSTER_ID_FILE"
}

# Runs one broker.sh subcommand on several nodes at once and prefixes each
# output line with the node. Concurrency matters for start: a node of a
# 3-voter quorum serves only once a majority of controllers runs, so starting
# them one after another would stall the first for its whole timeout.
on_nodes() { # subcommand N...
  local sub="$1" n i rc=0 pids=() nodes=()
  shift
  for n in "$@"; do
    node_broker "$n" "$sub" > "$CDIR/.node-$n.$sub.$$.out" 2>&1 &
    pids+=("$!"); nodes+=("$n")
  done
  for i in "${!pids[@]}"; do
    n="${nodes[$i]}"
    wait "${pids[$i]}" || rc=1
    sed "s/^/[node $n] /" "$CDIR/.node-$n.$sub.$$.out"
    rm -f "$CDIR/.node-$n.$sub.$$.out"
  done
  return "$rc"
}

all_nodes() { seq 1 "$NODES"; }

# Sets NODES_SEL to node N when given, else to every node.
select_nodes() { # [N]
  if [ -n "${1:-}" ]; then NODES_SEL=("$(node_arg "$1")"); else mapfile -t NODES_SEL < <(all_nodes); fi
}

cmd_start() { # [N]
  ensure_cluster_id
  local t0
  t0="$(now_ms)"
  select_nodes "${1:-}"
  on_nodes start "${NODES_SEL[@]}" || { err "starting node(s) ${NODES_SEL[*]} of Kafka $KAFKA_VERSION failed (see above)"; exit 1; }
  say "ready: $(addresses) (Kafka $KAFKA_VERSION, node(s) ${NODES_SEL[*]}) after $(( $(now_ms) - t0 )) ms"
}

cmd_stop() { # [N]
  local t0
  t0="$(now_ms)"
  select_nodes "${1:-}"
  [ -d "$CDIR" ] || { say "not running (no $CDIR)"; return 0; }
  on_nodes stop "${NODES_SEL[@]}"
  say "stopped node(s) ${NODES_SEL[*]} after $(( $(now_ms) - t0 )) ms"
}

cmd_status() {
  [ -d "$CDIR" ] || { say "not running (no $CDIR)"; return 1; }
  local n rc=0
  for n in $(all_nodes); do
    if [ -s "$CLUSTER_ID_FILE" ]; then
      node_broker "$n" status | sed "s/^/[node $n] /" || rc=1
    else
      echo "[node $n] broker: not running"; rc=1
    fi
  done
  return "$rc"
}

cmd_partition() { # subcommand topic partition
  if [ -z "${2:-}" ] || [ -z "${3:-}" ]; then err "usage: cluster.sh $1 TOPIC PARTITION"; exit 2; fi
  node "$PARTITION" "$(addresses)" "$2" "$3"
}

cmd_leader() { # topic partition
  local json
  json="$(cmd_partition leader "$@")"
  sed -n 's/.*"leader":\(-\{0,1\}[0-9]*\).*/\1/p' <<< "$json"
}

cmd_logs() { # N [lines]
  local n lines="${2:-100}"
  n="$(node_arg "${1:-}")"
  case "$lines" in ''|*[!0-9]*) err "LINES must be a number, got '$lines'"; exit 2 ;; esac
  local f
  f="$(node_dir "$n")/server.log"
  [ -e "$f" ] || { err "node $n has no log yet ($f)"; exit 1; }
  tail -n "$lines" "$f"
}

cmd_wipe() {
  [ -d "$CDIR" ] || { say "nothing to wipe ($CDIR does not exist)"; return 0; }
  if [ -s "$CLUSTER_ID_FILE" ]; then
    local nodes
    mapfile -t nodes < <(all_nodes)
    on_nodes wipe "${nodes[@]}" || { err "wiping a node failed (see above); $CDIR kept"; exit 1; }
  fi
  if [ -e "$CLUSTER_ID_FILE" ] || [ -z "$(ls -A "$CDIR")" ]; then
    rm -rf -- "$CDIR"
    say "wiped $CDIR"
  else
    err "refusing to delete $CDIR: it does not look like a cluster dir (no cluster.id)"
    exit 1
  fi
}

usage() { sed -n '2,/^set -euo/p' "$0" | sed '$d' | sed 's/^# \{0,1\}//'; }

cmd="${1:-}"
[ $# -gt 0 ] && shift
case "$cmd" in
  start) cmd_start "$@" ;;
  stop) cmd_stop "$@" ;;
  kill) n="$(node_arg "${1:-}")"; [ -s "$CLUSTER_ID_FILE" ] || { say "not running (no $CDIR)"; exit 0; }
        node_broker "$n" kill9 | sed "s/^/[node $n] /" ;;
  restart) n="$(node_arg "${1:-}")"; ensure_cluster_id
           t0="$(now_ms)"
           node_broker "$n" restart | sed "s/^/[node $n] /"
           say "node $n restarted after $(( $(now_ms) - t0 )) ms" ;;
  status) cmd_status ;;
  leader) cmd_leader "$@" ;;
  partition) cmd_partition partition "$@" ;;
  logs) cmd_logs "$@" ;;
  addresses) addresses ;;
  wipe) cmd_wipe ;;
  -h|--help|help) usage ;;
  *) usage >&2; exit 2 ;;
esac
