#!/usr/bin/env bash
# A real local Apache Kafka broker for htmqc's integration and crash tests:
# one KRaft node (broker + controller in one JVM) on 127.0.0.1, assembled from
# the Maven Central jars `make deps` puts in .cache/kafka/libs (3.9, tools/pom.xml)
# or .cache/kafka-<version>/libs (4.x, tools/kafka/pom-4.xml). cluster.sh runs
# three of these as one cluster through the node variables below.
#
#   tools/kafka/broker.sh start     start (formats storage on first use), wait until it serves
#   tools/kafka/broker.sh stop      SIGTERM, grace period, then SIGKILL
#   tools/kafka/broker.sh kill9     SIGKILL now (crash simulation), keep the data
#   tools/kafka/broker.sh restart   stop if running, then start on the same data
#   tools/kafka/broker.sh status    running / not running (exit 0 / 1)
#   tools/kafka/broker.sh wipe      stop and delete the data dir
#
# Environment (see tools/kafka/README.md):
#   HTMQC_KAFKA_PORT               client port                 (19092)
#   HTMQC_KAFKA_CONTROLLER_PORT    controller port             (client port + 1)
#   HTMQC_KAFKA_DIR                data dir                    (<repo>/.cache/kafka-run/<port>)
#   HTMQC_KAFKA_START_TIMEOUT      seconds to wait for ready   (60)
#   HTMQC_KAFKA_STOP_GRACE         seconds SIGTERM -> SIGKILL  (20)
#   HTMQC_KAFKA_HEAP               -Xmx value                  (768m)
#   HTMQC_KAFKA_JVM_OPTS           extra JVM options, appended
#   HTMQC_KAFKA_OVERRIDES          extra server.properties lines, appended (they win)
#   HTMQC_KAFKA_VERSION            3.9.1 (default, or 3), 4 (= 4.4.0) or a full 4.N.M
# Node of a cluster (cluster.sh sets these; the defaults make a one-node cluster):
#   HTMQC_KAFKA_NODE_ID            node.id                     (1)
#   HTMQC_KAFKA_VOTERS             controller.quorum.voters    (<node id>@127.0.0.1:<controller port>)
#   HTMQC_KAFKA_CLUSTER_ID         cluster id for formatting   (generated once per data dir)
#   HTMQC_KAFKA_REPLICAS           replication factor of default and internal topics (1)
#   HTMQC_KAFKA_MIN_ISR            min.insync.replicas, also of __transaction_state  (1)
set -euo pipefail

ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)"
WAIT_READY="$ROOT/tools/kafka/wait-ready.js"
# shellcheck source=tools/kafka/common.sh
. "$ROOT/tools/kafka/common.sh"
resolve_kafka_version "$ROOT" || exit 2
LIBS="$KAFKA_LIBS"

PORT="${HTMQC_KAFKA_PORT:-19092}"
CPORT="${HTMQC_KAFKA_CONTROLLER_PORT:-$((PORT + 1))}"
DIR="${HTMQC_KAFKA_DIR:-$ROOT/.cache/kafka-run/$PORT}"
START_TIMEOUT="${HTMQC_KAFKA_START_TIMEOUT:-60}"
STOP_GRACE="${HTMQC_KAFKA_STOP_GRACE:-20}"
HEAP="${HTMQC_KAFKA_HEAP:-768m}"
NODE_ID="${HTMQC_KAFKA_NODE_ID:-1}"
VOTERS="${HTMQC_KAFKA_VOTERS:-$NODE_ID@127.0.0.1:$CPORT}"
REPLICAS="${HTMQC_KAFKA_REPLICAS:-1}"
MIN_ISR="${HTMQC_KAFKA_MIN_ISR:-1}"

PROPS="$DIR/server.properties"
PIDFILE="$DIR/broker.pid"
CLUSTER_ID_FILE="$DIR/cluster.id"
# Each release formats and owns its own Kafka log dir, so switching
# HTMQC_KAFKA_VERSION on one data dir neither upgrades the other release's
# metadata in place nor fails on it. 3.9.1 keeps the original name.
if [ "$KAFKA_GENERATION" = 3 ]; then
  LOG4J="$DIR/log4j.properties"
  LOG_CONFIG_OPT="-Dlog4j.configuration=file:$LOG4J"
  LOGDIR="$DIR/logs"
else
  LOG4J="$DIR/log4j2.xml"
  LOG_CONFIG_OPT="-Dlog4j2.configurationFile=$LOG4J"
  LOGDIR="$DIR/logs-$KAFKA_VERSION"
fi
SERVER_LOG="$DIR/server.log"   # log4j output of the broker
JVM_OUT="$DIR/broker.out"      # the JVM's own stdout/stderr (crashes before log4j is up)

say() { echo "broker: $*"; }
err() { echo "broker: ERROR: $*" >&2; }
now_ms() { date +%s%3N; }

# The last 40 lines of the broker log and of the JVM's output, counted from
# the most recent "===== start" marker, so that older runs do not confuse.
log_tail() {
  local f
  for f in "$SERVER_LOG" "$JVM_OUT"; do
    [ -s "$f" ] || continue
    echo "----- last 40 lines of $f since the last start -----" >&2
    awk '/^===== start /{n=0} {buf[n++]=$0} END{for(i=0;i<n;i++) print buf[i]}' "$f" | tail -n 40 >&2
    echo "----- end of $f -----" >&2
  done
}

fail() { err "$*"; log_tail; exit 1; }

case "$PORT$CPORT" in *[!0-9]*) err "ports must be numbers: HTMQC_KAFKA_PORT='$PORT' HTMQC_KAFKA_CONTROLLER_PORT='$CPORT'"; exit 2 ;; esac
[ "$PORT" != "$CPORT" ] || { err "client and controller port are both $PORT"; exit 2; }
case "$NODE_ID$REPLICAS$MIN_ISR" in *[!0-9]*|'') err "HTMQC_KAFKA_NODE_ID='$NODE_ID', HTMQC_KAFKA_REPLICAS='$REPLICAS' and HTMQC_KAFKA_MIN_ISR='$MIN_ISR' must be numbers"; exit 2 ;; esac
{ [ "$MIN_ISR" -ge 1 ] && [ "$MIN_ISR" -le "$REPLICAS" ]; } \
  || { err "HTMQC_KAFKA_MIN_ISR=$MIN_ISR must be between 1 and HTMQC_KAFKA_REPLICAS=$REPLICAS"; exit 2; }
[[ "$VOTERS" == *"$NODE_ID@127.0.0.1:$CPORT"* ]] \
  || { err "HTMQC_KAFKA_VOTERS='$VOTERS' does not name this node ($NODE_ID@127.0.0.1:$CPORT)"; exit 2; }

# --------------------------------------------------------------- process --

# The pid from the pid file if that process is alive and is *this* broker (a
# kafka.Kafka JVM started with this data dir's server.properties); else empty.
# Reads /proc so that a reused pid or an unreaped zombie counts as dead.
broker_pid() {
  [ -s "$PIDFILE" ] || return 0
  local pid
  pid="$(cat "$PIDFILE")"
  case "$pid" in ''|*[!0-9]*) return 0 ;; esac
  is_our_broker "$pid" && echo "$pid"
  return 0
}

is_our_broker() {
  local cmd
  cmd="$(tr '\0' ' ' 2>/dev/null < "/proc/$1/cmdline" || true)"
  [[ "$cmd" == *kafka.Kafka*"$PROPS"* ]]
}

# The Kafka release a running broker of this data dir was started with (the
# -Dhtmqc.kafka.version the JVM carries; brokers started before that existed
# were 3.9.1).
running_version() { # pid
  local cmd
  cmd="$(tr '\0' '\n' 2>/dev/null < "/proc/$1/cmdline" || true)"
  cmd="$(sed -n 's/^-Dhtmqc\.kafka\.version=//p' <<< "$cmd")"
  echo "${cmd:-$KAFKA3_VERSION}"
}

wait_gone() { # pid seconds -> 0 when the process is gone in time
  local pid="$1" deadline=$(( $(now_ms) + $2 * 1000 ))
  while is_our_broker "$pid"; do
    [ "$(now_ms)" -lt "$deadline" ] || return 1
    sleep 0.1
  done
}

port_in_use() { (exec 3<>"/dev/tcp/127.0.0.1/$1") 2>/dev/null; }

# ----------------------------------------------------------------- config --

need_jars() {
  [ -e "$LIBS/kafka_2.13-$KAFKA_VERSION.jar" ] \
    || { err "no Kafka $KAFKA_VERSION jars in $LIBS: run 'make deps' (or 'make kafka-jars HTMQC_KAFKA_VERSION=$KAFKA_VERSION') first"; exit 2; }
  command -v java >/dev/null || { err "java is not on PATH"; exit 2; }
  command -v node >/dev/null || { err "node is not on PATH"; exit 2; }
  [ -d "$ROOT/node_modules/kafkajs" ] || { err "kafkajs is not installed: run 'make deps' first"; exit 2; }
}

write_config() {
  mkdir -p "$DIR" "$LOGDIR"
  if [ -n "${HTMQC_KAFKA_CLUSTER_ID:-}" ]; then
    if [ -s "$CLUSTER_ID_FILE" ] && [ "$(cat "$CLUSTER_ID_FILE")" != "$HTMQC_KAFKA_CLUSTER_ID" ]; then
      fail "HTMQC_KAFKA_CLUSTER_ID=$HTMQC_KAFKA_CLUSTER_ID differs from the cluster id $(cat "$CLUSTER_ID_FILE") this data dir was formatted with ($CLUSTER_ID_FILE); wipe $DIR to change it"
    fi
    echo "$HTMQC_KAFKA_CLUSTER_ID" > "$CLUSTER_ID_FILE"
  fi
  [ -s "$CLUSTER_ID_FILE" ] || new_cluster_id > "$CLUSTER_ID_FILE"
  # Regenerated on every start, so edits here reach existing data dirs.
  cat > "$PROPS" <<EOF
# Generated by tools/kafka/broker.sh on every start for Kafka $KAFKA_VERSION; edit the script, not this file.
process.roles=broker,controller
node.id=$NODE_ID
# A static quorum: both generations accept it, and formatting needs no
# --initial-controllers, so a node formats alone before its peers exist.
controller.quorum.voters=$VOTERS
listeners=PLAINTEXT://127.0.0.1:$PORT,CONTROLLER://127.0.0.1:$CPORT
advertised.listeners=PLAINTEXT://127.0.0.1:$PORT
listener.security.protocol.map=PLAINTEXT:PLAINTEXT,CONTROLLER:PLAINTEXT
controller.listener.names=CONTROLLER
inter.broker.listener.name=PLAINTEXT
log.dirs=$LOGDIR

# HTMQC_KAFKA_REPLICAS / HTMQC_KAFKA_MIN_ISR: 1/1 for one node, 3/2 in cluster.sh.
offsets.topic.replication.factor=$REPLICAS
offsets.topic.num.partitions=4
transaction.state.log.replication.factor=$REPLICAS
transaction.state.log.min.isr=$MIN_ISR
transaction.state.log.num.partitions=4
default.replication.factor=$REPLICAS
min.insync.replicas=$MIN_ISR

# Tests create their topics explicitly and want groups to form at once.
auto.create.topics.enable=false
num.partitions=1
group.initial.rebalance.delay.ms=0

# After a kill -9 the restarted broker cannot register until the controller
# expires the dead incarnation's session (default 9 s); keep that short.
broker.session.timeout.ms=3000
broker.heartbeat.interval.ms=500

# Small machine: few threads.
num.network.threads=2
num.io.threads=4
num.recovery.threads.per.data.dir=1
background.threads=4
EOF
  if [ -n "${HTMQC_KAFKA_OVERRIDES:-}" ]; then
    printf '\n# HTMQC_KAFKA_OVERRIDES\n%s\n' "$HTMQC_KAFKA_OVERRIDES" >> "$PROPS"
  fi

  if [ "$KAFKA_GENERATION" = 4 ]; then
    write_log4j2
    return
  fi
  cat > "$LOG4J" <<'EOF'
# Generated by tools/kafka/broker.sh: the broker logs to server.log in its data dir.
log4j.rootLogger=INFO, server
log4j.appender.server=org.apache.log4j.RollingFileAppender
log4j.appender.server.File=${kafka.logs.dir}/server.log
log4j.appender.server.MaxFileSize=20MB
log4j.appender.server.MaxBackupIndex=2
log4j.appender.server.layout=org.apache.log4j.PatternLayout
log4j.appender.server.layout.ConversionPattern=[%d] %p %m (%c)%n
log4j.logger.kafka.request.logger=WARN
log4j.logger.kafka.network.RequestChannel$=WARN
log4j.logger.org.apache.kafka.clients.NetworkClient=WARN
log4j.logger.state.change.logger=WARN
log4j.logger.kafka.log.LogCleaner=WARN
log4j.logger.kafka.authorizer.logger=WARN
EOF
}

# Kafka 4.x logs through log4j2: the same file, levels and layout as above.
write_log4j2() {
  cat > "$LOG4J" <<'EOF'
<?xml version="1.0" encoding="UTF-8"?>
<!-- Generated by tools/kafka/broker.sh: the broker logs to server.log in its data dir. -->
<Configuration status="warn">
  <Appenders>
    <RollingFile name="server" fileName="${sys:kafka.logs.dir}/server.log"
                 filePattern="${sys:kafka.logs.dir}/server.log.%i">
      <PatternLayout pattern="[%d] %p %m (%c)%n"/>
      <SizeBasedTriggeringPolicy size="20MB"/>
      <DefaultRolloverStrategy max="2"/>
    </RollingFile>
  </Appenders>
  <Loggers>
    <Root level="INFO"><AppenderRef ref="server"/></Root>
    <Logger name="kafka.request.logger" level="WARN"/>
    <Logger name="kafka.network.RequestChannel$" level="WARN"/>
    <Logger name="org.apache.kafka.clients.NetworkClient" level="WARN"/>
    <Logger name="state.change.logger" level="WARN"/>
    <Logger name="kafka.log.LogCleaner" level="WARN"/>
    <Logger name="kafka.authorizer.logger" level="WARN"/>
  </Loggers>
</Configuration>
EOF
}

format_storage() {
  [ -s "$LOGDIR/meta.properties" ] && return 0
  say "formatting storage in $LOGDIR (Kafka $KAFKA_VERSION, cluster id $(cat "$CLUSTER_ID_FILE"))"
  java -Xmx256m "$LOG_CONFIG_OPT" -Dkafka.logs.dir="$DIR" \
    -cp "$LIBS/*" kafka.tools.StorageTool format \
    -t "$(cat "$CLUSTER_ID_FILE")" -c "$PROPS" >> "$JVM_OUT" 2>&1 \
    || fail "formatting storage failed (kafka.tools.StorageTool format, config $PROPS)"
}

# ------------------------------------------------------------ subcommands --

# Waits until the broker answers a metadata request with itself as a live,
# unfenced broker of *our* cluster id; returns wait-ready.js's exit code.
wait_ready() { # deadline_ms [pid]
  local args=("$PORT" "$1" --cluster-id "$(cat "$CLUSTER_ID_FILE" 2>/dev/null || true)")
  [ -z "${2:-}" ] || args+=(--pid "$2")
  local rc=0
  node "$WAIT_READY" "${args[@]}" || rc=$?
  return "$rc"
}

cmd_start() {
  need_jars
  local t0 pid deadline rc
  t0="$(now_ms)"
  deadline=$(( t0 + START_TIMEOUT * 1000 ))
  pid="$(broker_pid)"
  if [ -n "$pid" ]; then
    local running
    running="$(running_version "$pid")"
    [ "$running" = "$KAFKA_VERSION" ] \
      || { err "a Kafka $running broker of $DIR runs (pid $pid), not the requested $KAFKA_VERSION (HTMQC_KAFKA_VERSION); stop it first"; exit 1; }
    rc=0; wait_ready "$deadline" "$pid" || rc=$?
    [ "$rc" -eq 0 ] || fail "broker pid $pid is running but did not answer on 127.0.0.1:$PORT within ${START_TIMEOUT}s"
    say "already running on 127.0.0.1:$PORT (pid $pid, Kafka $KAFKA_VERSION, data $DIR)"
    return 0
  fi
  rm -f "$PIDFILE"

  # A broker just killed with SIGKILL can still hold its sockets for a moment
  # after its /proc entry stops naming it (the kernel releases memory before
  # files), so give a busy port a few seconds to come free before failing.
  local p port_deadline=$(( $(now_ms) + 15000 ))
  for p in "$PORT" "$CPORT"; do
    while port_in_use "$p" && [ "$(now_ms)" -lt "$port_deadline" ]; do sleep 0.2; done
    if port_in_use "$p"; then
      err "port $p on 127.0.0.1 is already in use by another process (no broker of $DIR runs); pick other ports with HTMQC_KAFKA_PORT / HTMQC_KAFKA_CONTROLLER_PORT"
      command -v ss >/dev/null && ss -ltnp "sport = :$p" >&2 2>/dev/null || true
      exit 1   # nothing was launched, so there is no new log to show
    fi
  done

  write_config
  local marker
  marker="===== start $(date -Is) (127.0.0.1:$PORT, Kafka $KAFKA_VERSION, node $NODE_ID) ====="
  printf '%s\n' "$marker" >> "$JVM_OUT"
  printf '%s\n' "$marker" >> "$SERVER_LOG"
  format_storage

  say "starting Kafka $KAFKA_VERSION on 127.0.0.1:$PORT (node $NODE_ID, controller $CPORT, data $DIR)"
  # setsid + nohup: the JVM gets its own session and outlives this script and
  # whoever called it. The inner shell writes its own pid and then execs the JVM,
  # so the pid file holds the JVM's pid. fd 9 (the lock) is not inherited.
  # shellcheck disable=SC2016
  nohup setsid bash -c 'echo $$ > "$0"; exec "$@"' "$PIDFILE" \
    java "-Xmx$HEAP" -Xms256m -XX:+UseG1GC -XX:MaxGCPauseMillis=20 \
    -XX:+ExitOnOutOfMemoryError -Djava.awt.headless=true \
    "$LOG_CONFIG_OPT" "-Dkafka.logs.dir=$DIR" "-Dhtmqc.kafka.version=$KAFKA_VERSION" \
    ${HTMQC_KAFKA_JVM_OPTS:-} \
    -cp "$LIBS/*" kafka.Kafka "$PROPS" \
    < /dev/null >> "$JVM_OUT" 2>&1 9>&- &
  disown

  # Wait for the pid file, then for the broker to serve.
  while [ ! -s "$PIDFILE" ]; do
    [ "$(now_ms)" -lt "$deadline" ] || fail "the JVM did not start within ${START_TIMEOUT}s"
    sleep 0.05
  done
  pid="$(cat "$PIDFILE")"
  rc=0; wait_ready "$deadline" "$pid" || rc=$?
  case "$rc" in
    0) ;;
    2) rm -f "$PIDFILE"
       fail "the broker process (pid $pid) exited during startup on 127.0.0.1:$PORT; see $SERVER_LOG" ;;
    *) err "the broker (pid $pid) did not answer on 127.0.0.1:$PORT within ${START_TIMEOUT}s (HTMQC_KAFKA_START_TIMEOUT); killing it"
       log_tail
       kill -KILL "$pid" 2>/dev/null || true
       wait_gone "$pid" 10 || err "pid $pid survived SIGKILL"
       rm -f "$PIDFILE"
       exit 1 ;;
  esac
  say "ready on 127.0.0.1:$PORT (pid $pid) after $(( $(now_ms) - t0 )) ms (Kafka $KAFKA_VERSION, node $NODE_ID)"
}

cmd_stop() {
  local pid
  pid="$(broker_pid)"
  if [ -z "$pid" ]; then
    rm -f "$PIDFILE"
    say "not running (127.0.0.1:$PORT, data $DIR)"
    return 0
  fi
  local t0
  t0="$(now_ms)"
  kill -TERM "$pid" 2>/dev/null || true
  if wait_gone "$pid" "$STOP_GRACE"; then
    say "stopped pid $pid after $(( $(now_ms) - t0 )) ms"
  else
    err "pid $pid did not exit within ${STOP_GRACE}s of SIGTERM (HTMQC_KAFKA_STOP_GRACE); sending SIGKILL"
    kill -KILL "$pid" 2>/dev/null || true
    wait_gone "$pid" 10 || fail "pid $pid survived SIGKILL"
    say "killed pid $pid after $(( $(now_ms) - t0 )) ms"
  fi
  rm -f "$PIDFILE"
}

cmd_kill9() {
  local pid
  pid="$(broker_pid)"
  if [ -z "$pid" ]; then
    say "not running (127.0.0.1:$PORT, data $DIR)"
    return 0
  fi
  kill -KILL "$pid" 2>/dev/null || true
  wait_gone "$pid" 10 || fail "pid $pid survived SIGKILL"
  printf '\n===== kill -9 of pid %s at %s =====\n' "$pid" "$(date -Is)" >> "$SERVER_LOG"
  rm -f "$PIDFILE"
  say "killed pid $pid with SIGKILL; data left in $DIR"
}

cmd_status() {
  local pid
  pid="$(broker_pid)"
  if [ -z "$pid" ]; then
    say "not running (127.0.0.1:$PORT, data $DIR)"
    return 1
  fi
  if wait_ready "$(( $(now_ms) + 3000 ))" "$pid" 2>/dev/null; then
    say "running on 127.0.0.1:$PORT (pid $pid, Kafka $(running_version "$pid"), data $DIR)"
  else
    say "running on 127.0.0.1:$PORT (pid $pid, data $DIR) but not answering yet"
  fi
}

cmd_wipe() {
  cmd_stop
  [ -e "$DIR" ] || return 0
  # Only delete what looks like one of our data dirs.
  if [ -e "$CLUSTER_ID_FILE" ] || [ -e "$PROPS" ] || [ -z "$(ls -A "$DIR" | grep -vx '.lock')" ]; then
    rm -rf -- "$DIR"
    say "wiped $DIR"
  else
    err "refusing to delete $DIR: it does not look like a broker data dir (no cluster.id or server.properties)"
    exit 1
  fi
}

usage() { sed -n '2,/^set -euo/p' "$0" | sed '$d' | sed 's/^# \{0,1\}//'; }

cmd="${1:-}"
case "$cmd" in
  start|stop|kill9|restart|status|wipe) ;;
  -h|--help|help) usage; exit 0 ;;
  *) usage >&2; exit 2 ;;
esac

# Nothing to stop, kill or report when the data dir does not exist yet.
if [ ! -d "$DIR" ] && [ "$cmd" != start ] && [ "$cmd" != restart ]; then
  say "not running (127.0.0.1:$PORT, data $DIR)"
  [ "$cmd" = status ] && exit 1
  exit 0
fi

# One subcommand at a time per data dir.
mkdir -p "$DIR"
exec 9> "$DIR/.lock"
flock -w "$(( START_TIMEOUT + STOP_GRACE + 15 ))" 9 || { err "another broker.sh holds $DIR/.lock"; exit 1; }

case "$cmd" in
  start) cmd_start ;;
  stop) cmd_stop ;;
  kill9) cmd_kill9 ;;
  restart) cmd_stop; cmd_start ;;
  status) cmd_status ;;
  wipe) cmd_wipe ;;
esac
