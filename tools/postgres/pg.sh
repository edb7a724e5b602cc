#!/usr/bin/env bash
# A real local PostgreSQL server for htmqc's PostgreSQL ledger tests: one
# cluster initialised into .cache/postgres/<port>/, listening on 127.0.0.1
# only, durable (fsync, synchronous_commit and full_page_writes on, stated in
# the generated config), run by Debian's binaries (`make deps` installs the
# `postgresql` package when no initdb is found).
#
#   tools/postgres/pg.sh start     initdb on first use, start, wait until it answers queries (idempotent)
#   tools/postgres/pg.sh stop      fast shutdown (pg_ctl -m fast), immediate after the grace period
#   tools/postgres/pg.sh kill      SIGKILL the postmaster now (crash simulation); the data stays
#   tools/postgres/pg.sh restart   SIGKILL the postmaster if it runs, then start: crash recovery
#   tools/postgres/pg.sh status    running / not running (exit 0 / 1)
#   tools/postgres/pg.sh url       print the connection string of the htmqc database
#   tools/postgres/pg.sh logs [N]  the last N (50) lines of the server log
#   tools/postgres/pg.sh wipe      stop and delete the data dir
#   tools/postgres/pg.sh bindir    print the server's bin dir (exit 1 when none is installed)
#
# PostgreSQL refuses to run as root.  Run as root, the script creates the
# system user HTMQC_PG_OS_USER (htmqc-pg) when missing and runs initdb, pg_ctl
# and postgres as that user (runuser); the data dir is chowned to it.  Run as
# another user, it runs them as that user.
#
# Environment (see tools/postgres/README.md):
#   HTMQC_PG_PORT            TCP port on 127.0.0.1             (15432)
#   HTMQC_PG_DIR             cluster dir                       (<repo>/.cache/postgres/<port>)
#   HTMQC_PG_BINDIR          PostgreSQL's bin dir              (pg_config --bindir, else the newest /usr/lib/postgresql/*/bin)
#   HTMQC_PG_OS_USER         OS user that runs the server      (htmqc-pg, when run as root)
#   HTMQC_PG_START_TIMEOUT   seconds to wait for queries       (60)
#   HTMQC_PG_STOP_GRACE      seconds of fast shutdown          (20)
#   HTMQC_PG_OVERRIDES       extra postgresql.conf lines, appended (they win)
set -euo pipefail

ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)"
PORT="${HTMQC_PG_PORT:-15432}"
DIR="${HTMQC_PG_DIR:-$ROOT/.cache/postgres/$PORT}"
OS_USER="${HTMQC_PG_OS_USER:-htmqc-pg}"
START_TIMEOUT="${HTMQC_PG_START_TIMEOUT:-60}"
STOP_GRACE="${HTMQC_PG_STOP_GRACE:-20}"
DB=htmqc
ROLE=htmqc

DATA="$DIR/data"
LOG="$DIR/postgres.log"
CONF="$DATA/htmqc.conf"

say() { echo "pg: $*"; }
err() { echo "pg: ERROR: $*" >&2; }
now_ms() { date +%s%3N; }

# The server log from the most recent "===== start" marker on, last 40 lines.
log_tail() {
  [ -s "$LOG" ] || return 0
  echo "----- last 40 lines of $LOG since the last start -----" >&2
  awk '/^===== start /{n=0} {buf[n++]=$0} END{for(i=0;i<n;i++) print buf[i]}' "$LOG" | tail -n 40 >&2
  echo "----- end of $LOG -----" >&2
}

fail() { err "$*"; log_tail; exit 1; }

case "$PORT" in ''|*[!0-9]*) err "HTMQC_PG_PORT must be a number, got '$PORT'"; exit 2 ;; esac
[ "$PORT" -ge 1 ] && [ "$PORT" -le 65535 ] || { err "HTMQC_PG_PORT must be in 1..65535, got $PORT"; exit 2; }

# ---------------------------------------------------------------- binaries --

# Debian installs the server under /usr/lib/postgresql/<major>/bin, off PATH;
# pg_config (libpq-dev or the server package) names it when present.
find_bindir() {
  if [ -n "${HTMQC_PG_BINDIR:-}" ]; then echo "$HTMQC_PG_BINDIR"; return; fi
  local d
  if command -v pg_config >/dev/null; then
    d="$(pg_config --bindir 2>/dev/null || true)"
    if [ -x "$d/initdb" ] && [ -x "$d/postgres" ]; then echo "$d"; return; fi
  fi
  d="$(ls -d /usr/lib/postgresql/*/bin 2>/dev/null | sort -V | tail -n 1 || true)"
  if [ -n "$d" ] && [ -x "$d/initdb" ]; then echo "$d"; return; fi
}

BIN="$(find_bindir)"
need_bin() {
  [ -n "$BIN" ] && [ -x "$BIN/initdb" ] && [ -x "$BIN/pg_ctl" ] && [ -x "$BIN/postgres" ] \
    || { err "no PostgreSQL server binaries found (pg_config --bindir, /usr/lib/postgresql/*/bin, HTMQC_PG_BINDIR='${HTMQC_PG_BINDIR:-}'): run 'make deps' (installs Debian's postgresql)"; exit 2; }
  command -v psql >/dev/null || [ -x "$BIN/psql" ] || { err "psql not found in $BIN or on PATH: run 'make deps'"; exit 2; }
}
psql_bin() { if [ -x "$BIN/psql" ]; then echo "$BIN/psql"; else command -v psql; fi; }

# ------------------------------------------------------------------- user --

AS=()
if [ "$(id -u)" -eq 0 ]; then AS=(runuser -u "$OS_USER" --); fi

ensure_os_user() {
  [ "$(id -u)" -eq 0 ] || return 0
  id -u "$OS_USER" >/dev/null 2>&1 && return 0
  say "creating system user $OS_USER (PostgreSQL refuses to run as root)"
  useradd --system --user-group --no-create-home --home-dir /nonexistent --shell /usr/sbin/nologin "$OS_USER" \
    || { err "useradd $OS_USER failed"; exit 1; }
}

# The server user must reach the data dir: every parent must be searchable by it.
check_traversable() {
  [ "$(id -u)" -eq 0 ] || return 0
  local d="$DIR"
  while [ "$d" != "/" ]; do
    d="$(dirname "$d")"
    "${AS[@]}" test -x "$d" || { err "$OS_USER cannot enter $d (parent of $DIR): make it world-searchable (chmod o+x) or set HTMQC_PG_DIR"; exit 1; }
  done
}

as_server() { "${AS[@]}" "$@"; }

# ---------------------------------------------------------------- process --

# The postmaster's pid from postmaster.pid when that process is alive and is
# a postgres of *this* data dir; else empty.  Reads /proc so that a reused
# pid counts as dead.
postmaster_pid() {
  [ -s "$DATA/postmaster.pid" ] || return 0
  local pid
  pid="$(head -n 1 "$DATA/postmaster.pid" 2>/dev/null || true)"
  case "$pid" in ''|*[!0-9]*) return 0 ;; esac
  is_ours "$pid" && echo "$pid"
  return 0
}

is_ours() {
  local cmd
  cmd="$(tr '\0' ' ' 2>/dev/null < "/proc/$1/cmdline" || true)"
  [[ "$cmd" == *postgres*"-D $DATA"* ]]
}

# Every process whose working directory is the data dir: the postmaster and
# its children (each chdirs there).  After a SIGKILL of the postmaster the
# children exit on their own when they notice; a new postmaster cannot start
# while one of them still holds the shared memory.
cluster_pids() {
  local p
  for p in /proc/[0-9]*; do
    [ "$(readlink "$p/cwd" 2>/dev/null || true)" = "$DATA" ] && echo "${p#/proc/}"
  done
  return 0
}

wait_cluster_gone() { # seconds -> 0 when no process of the cluster is left
  local deadline=$(( $(now_ms) + $1 * 1000 ))
  while [ -n "$(cluster_pids)" ]; do
    [ "$(now_ms)" -lt "$deadline" ] || return 1
    sleep 0.1
  done
}

# A postmaster killed with SIGKILL leaves postmaster.pid behind.  When its
# pid is not reaped (a container whose init does not reap orphans) the new
# postmaster sees it "alive" and refuses to start, so once no process of the
# cluster is left the stale file is removed here.
remove_stale_pidfile() {
  [ -e "$DATA/postmaster.pid" ] || return 0
  [ -z "$(postmaster_pid)" ] && [ -z "$(cluster_pids)" ] || return 0
  rm -f "$DATA/postmaster.pid"
}

port_in_use() { (exec 3<>"/dev/tcp/127.0.0.1/$1") 2>/dev/null; }

# ----------------------------------------------------------------- config --

init_cluster() {
  [ -s "$DATA/PG_VERSION" ] && return 0
  mkdir -p "$DIR"
  [ "$(id -u)" -ne 0 ] || chown "$OS_USER:" "$DIR"
  say "initdb into $DATA ($BIN)"
  # Trust on loopback only: a test server that listens on 127.0.0.1 alone.
  as_server "$BIN/initdb" -D "$DATA" -U postgres --auth-local=trust --auth-host=trust \
    --encoding=UTF8 --no-locale >> "$DIR/initdb.log" 2>&1 \
    || { err "initdb failed; see $DIR/initdb.log"; tail -n 40 "$DIR/initdb.log" >&2; exit 1; }
  echo "include 'htmqc.conf'" >> "$DATA/postgresql.conf"
}

write_config() {
  # Regenerated on every start, so edits here reach existing clusters.
  cat > "$CONF" <<EOF
# Generated by tools/postgres/pg.sh on every start; edit the script, not this file.
listen_addresses = '127.0.0.1'
port = $PORT
# No Unix socket: a deep worktree path overflows sun_path, and tests use TCP.
unix_socket_directories = ''

# Durability is explicit, as for the SQLite ledger (synchronous=FULL): a
# COMMIT returns only once its WAL is flushed, and a torn page is repaired
# from the WAL after a crash.
fsync = on
synchronous_commit = on
full_page_writes = on

# Small shared machine.
max_connections = 100
shared_buffers = 64MB
max_wal_size = 256MB

log_line_prefix = '%m [%p] %q%u@%d '
log_min_messages = warning
log_connections = off
log_disconnections = off
EOF
  if [ -n "${HTMQC_PG_OVERRIDES:-}" ]; then
    printf '\n# HTMQC_PG_OVERRIDES\n%s\n' "$HTMQC_PG_OVERRIDES" >> "$CONF"
  fi
  [ "$(id -u)" -ne 0 ] || chown "$OS_USER:" "$CONF"
}

# ------------------------------------------------------------ subcommands --

run_psql() { # db sql...
  local db="$1"; shift
  PGCONNECT_TIMEOUT=2 "$(psql_bin)" -X -q -v ON_ERROR_STOP=1 -h 127.0.0.1 -p "$PORT" -U postgres -d "$db" -Atc "$@"
}

# Waits until the server answers SELECT 1, with a progress line every 2 s;
# 0 ready, 2 the postmaster died, 1 timeout.
wait_ready() { # deadline_ms pid
  local last_note t0
  t0="$(now_ms)"; last_note="$t0"
  while :; do
    if run_psql postgres 'SELECT 1' >/dev/null 2>&1; then return 0; fi
    is_ours "$2" || return 2
    [ "$(now_ms)" -lt "$1" ] || return 1
    if [ $(( $(now_ms) - last_note )) -ge 2000 ]; then
      say "waiting for 127.0.0.1:$PORT to accept queries ($(( ($(now_ms) - t0) / 1000 )) s)"
      last_note="$(now_ms)"
    fi
    sleep 0.1
  done
}

ensure_database() {
  run_psql postgres "DO \$\$BEGIN IF NOT EXISTS (SELECT 1 FROM pg_roles WHERE rolname = '$ROLE') THEN CREATE ROLE $ROLE LOGIN; END IF; END\$\$" \
    || fail "creating role $ROLE failed"
  if [ -z "$(run_psql postgres "SELECT 1 FROM pg_database WHERE datname = '$DB'")" ]; then
    run_psql postgres "CREATE DATABASE $DB OWNER $ROLE" || fail "creating database $DB failed"
    say "created database $DB owned by role $ROLE"
  fi
}

cmd_start() {
  need_bin
  ensure_os_user
  check_traversable
  local t0 pid deadline rc
  t0="$(now_ms)"
  deadline=$(( t0 + START_TIMEOUT * 1000 ))
  pid="$(postmaster_pid)"
  if [ -n "$pid" ]; then
    rc=0; wait_ready "$deadline" "$pid" || rc=$?
    [ "$rc" -eq 0 ] || fail "postmaster pid $pid is running but did not answer on 127.0.0.1:$PORT within ${START_TIMEOUT}s"
    ensure_database
    say "already running on 127.0.0.1:$PORT (pid $pid, data $DATA)"
    return 0
  fi

  # Children of a killed postmaster may still hold the shared memory.
  wait_cluster_gone 15 || fail "processes of a previous server of $DATA are still running: $(cluster_pids | tr '\n' ' ')"
  local port_deadline=$(( $(now_ms) + 10000 ))
  while port_in_use "$PORT" && [ "$(now_ms)" -lt "$port_deadline" ]; do sleep 0.2; done
  if port_in_use "$PORT"; then
    err "port $PORT on 127.0.0.1 is already in use by another process (no server of $DATA runs); pick another with HTMQC_PG_PORT"
    command -v ss >/dev/null && ss -ltnp "sport = :$PORT" >&2 2>/dev/null || true
    exit 1
  fi

  remove_stale_pidfile
  init_cluster
  write_config
  touch "$LOG"
  [ "$(id -u)" -ne 0 ] || chown "$OS_USER:" "$LOG"
  printf '===== start %s (127.0.0.1:%s) =====\n' "$(date -Is)" "$PORT" >> "$LOG"

  say "starting PostgreSQL $("$BIN/postgres" --version | awk '{print $3}') on 127.0.0.1:$PORT (data $DATA)"
  # pg_ctl forks the postmaster into its own session (setsid), so it outlives
  # this script; -W: the wait below is ours, with progress and the log tail.
  # fd 9 (the lock) is not inherited.
  as_server "$BIN/pg_ctl" start -W -D "$DATA" -l "$LOG" >/dev/null 9>&- \
    || fail "pg_ctl start failed for $DATA"
  while [ -z "$(postmaster_pid)" ]; do
    if [ "$(now_ms)" -ge "$deadline" ] || { [ -z "$(cluster_pids)" ] && [ $(( $(now_ms) - t0 )) -gt 3000 ]; }; then
      fail "the postmaster did not start (no live pid in $DATA/postmaster.pid)"
    fi
    sleep 0.05
  done
  pid="$(postmaster_pid)"
  rc=0; wait_ready "$deadline" "$pid" || rc=$?
  case "$rc" in
    0) ;;
    2) fail "the postmaster (pid $pid) exited during startup on 127.0.0.1:$PORT" ;;
    *) err "the server (pid $pid) did not accept queries on 127.0.0.1:$PORT within ${START_TIMEOUT}s (HTMQC_PG_START_TIMEOUT); killing it"
       log_tail
       kill -KILL "$pid" 2>/dev/null || true
       wait_cluster_gone 10 || err "processes of $DATA survived"
       exit 1 ;;
  esac
  ensure_database
  local recovered=""
  if awk '/^===== start /{r=0} /automatic recovery in progress/{r=1} END{exit !r}' "$LOG"; then recovered=", after crash recovery"; fi
  say "ready on 127.0.0.1:$PORT (pid $pid) after $(( $(now_ms) - t0 )) ms$recovered"
}

cmd_stop() {
  need_bin
  local pid t0
  pid="$(postmaster_pid)"
  if [ -z "$pid" ]; then
    say "not running (127.0.0.1:$PORT, data $DATA)"
    return 0
  fi
  t0="$(now_ms)"
  if as_server "$BIN/pg_ctl" stop -D "$DATA" -m fast -w -t "$STOP_GRACE" >/dev/null 2>&1; then
    say "stopped pid $pid after $(( $(now_ms) - t0 )) ms"
  else
    err "pid $pid did not stop within ${STOP_GRACE}s of a fast shutdown (HTMQC_PG_STOP_GRACE); immediate shutdown"
    as_server "$BIN/pg_ctl" stop -D "$DATA" -m immediate -w -t 10 >/dev/null 2>&1 || kill -KILL "$pid" 2>/dev/null || true
    wait_cluster_gone 10 || fail "processes of $DATA survived an immediate shutdown"
    say "stopped pid $pid (immediate) after $(( $(now_ms) - t0 )) ms"
  fi
}

cmd_kill() {
  local pid
  pid="$(postmaster_pid)"
  if [ -z "$pid" ]; then
    say "not running (127.0.0.1:$PORT, data $DATA)"
    return 0
  fi
  kill -KILL "$pid" 2>/dev/null || true
  wait_cluster_gone 15 || fail "processes of $DATA are still running 15 s after SIGKILL of the postmaster: $(cluster_pids | tr '\n' ' ')"
  remove_stale_pidfile
  printf '===== kill -9 of postmaster pid %s at %s =====\n' "$pid" "$(date -Is)" >> "$LOG"
  say "killed postmaster pid $pid with SIGKILL; data left in $DATA"
}

cmd_status() {
  local pid
  pid="$(postmaster_pid)"
  if [ -z "$pid" ]; then
    say "not running (127.0.0.1:$PORT, data $DATA)"
    return 1
  fi
  if [ -n "$BIN" ] && run_psql postgres 'SELECT 1' >/dev/null 2>&1; then
    say "running on 127.0.0.1:$PORT (pid $pid, data $DATA)"
  else
    say "running on 127.0.0.1:$PORT (pid $pid, data $DATA) but not answering yet"
  fi
}

cmd_url() { echo "postgres://$ROLE@127.0.0.1:$PORT/$DB"; }

cmd_logs() {
  [ -s "$LOG" ] || { say "no log yet ($LOG)"; return 0; }
  tail -n "${1:-50}" "$LOG"
}

cmd_wipe() {
  cmd_stop
  [ -e "$DIR" ] || return 0
  if [ -e "$DATA/PG_VERSION" ] || [ -z "$(ls -A "$DIR" | grep -vx '.lock')" ]; then
    rm -rf -- "$DIR"
    say "wiped $DIR"
  else
    err "refusing to delete $DIR: it does not look like a cluster dir (no data/PG_VERSION)"
    exit 1
  fi
}

usage() { sed -n '2,30p' "$0" | sed 's/^# \{0,1\}//'; }

cmd="${1:-}"
case "$cmd" in
  start|stop|kill|restart|status|url|logs|wipe|bindir) ;;
  -h|--help|help) usage; exit 0 ;;
  *) usage >&2; exit 2 ;;
esac

case "$cmd" in
  url) cmd_url; exit 0 ;;
  bindir) need_bin; echo "$BIN"; exit 0 ;;
  logs) cmd_logs "${2:-50}"; exit 0 ;;
esac

# Nothing to stop, kill or report when the cluster dir does not exist yet.
if [ ! -d "$DIR" ] && [ "$cmd" != start ] && [ "$cmd" != restart ]; then
  say "not running (127.0.0.1:$PORT, data $DATA)"
  [ "$cmd" = status ] && exit 1
  exit 0
fi

# One subcommand at a time per cluster dir.
mkdir -p "$DIR"
exec 9> "$DIR/.lock"
flock -w "$(( START_TIMEOUT + STOP_GRACE + 30 ))" 9 || { err "another pg.sh holds $DIR/.lock"; exit 1; }

case "$cmd" in
  start) cmd_start ;;
  stop) cmd_stop ;;
  kill) cmd_kill ;;
  restart) cmd_kill; cmd_start ;;
  status) cmd_status ;;
  wipe) cmd_wipe ;;
esac
