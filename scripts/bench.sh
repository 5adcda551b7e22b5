#!/usr/bin/env bash
# Side-by-side benchmark of shardpool and PgBouncer (Debian's package) on this machine, in one
# run, alternating between the two, with the same pool mode and size for both; direct
# PostgreSQL as the reference. Sections (BENCH_ONLY, comma-separated; default all):
#   tps       pgbench -S in transaction pooling (pool BENCH_POOL_SIZE) per protocol
#             (BENCH_MODES) and client count (BENCH_CLIENTS): TPS, p50/p99 latency, and the
#             pooler's CPU time and context switches per transaction (steady part of each run)
#   session   pgbench -S in session pooling (pool 100) at 16 and 100 clients
#   syscalls  one more transaction-pooling run per pooler (BENCH_SYSCALL_CLIENTS clients) with
#             exact syscall counts: perf stat raw_syscalls:sys_enter when perf may attach,
#             then a short strace -f -c run for the per-syscall breakdown
#   churn     pgbench -C (a new connection per transaction, BENCH_CHURN_CLIENTS clients): TPS,
#             PostgreSQL's CPU per new client connection and the pooler's own
#   idle      RSS per idle client: BENCH_IDLE_CLIENTS (10,000) logged-in clients that each ran
#             one SELECT, held open by scripts/bench_idle_clients.py
# Knobs:
#   BENCH_SECONDS          seconds measured per run, once pgbench's clients are all logged in
#                          (default 15; the churn runs last this long in all)
#   BENCH_SCALE            pgbench scale (default 10)
#   BENCH_CLIENTS          client counts of the tps section (default "16 100 1000")
#   BENCH_MODES            pgbench -M modes of the tps section (default "simple extended prepared")
#   BENCH_POOL_SIZE        transaction-pooling pool size (default 20)
#   PGBENCH_JOBS           pgbench -j (default 2, and 4 from 1,000 clients)
#   BENCH_WORKERS          shardpool worker threads (default 0: one per core)
#   BENCH_SYSCALL_CLIENTS  clients of the syscalls section (default 100)
#   BENCH_SYSCALL_SECONDS  seconds measured by perf (default 5; strace stays attached 3 s)
#   BENCH_CHURN_CLIENTS    clients of the churn section (default 16)
#   BENCH_IDLE_CLIENTS     idle clients (default 10000; needs `ulimit -n` above it)
#   BENCH_OUT              where raw outputs, per-run summaries and summary.md go
#                          (default: $BUILD_DIR/bench)
#   SHARDPOOL_BIN          a shardpool binary to use instead of building one into BUILD_DIR
#   PGBENCH, PGBOUNCER     the client and pooler binaries (default: from PATH); PG_BIN for the
#                          server (see scripts/pg-cluster.sh)
# Everything runs on the same cores, so absolute numbers say little about another machine;
# compare the two poolers within one run (the shardpool / PgBouncer ratio).
set -euo pipefail
# shellcheck source=scripts/lib.sh
source "$(dirname "${BASH_SOURCE[0]}")/lib.sh"

SECS=${BENCH_SECONDS:-15}
SCALE=${BENCH_SCALE:-10}
OUT=${BENCH_OUT:-$SP_BUILD_DIR/bench}
ONLY=${BENCH_ONLY:-tps,session,syscalls,churn,idle}
CLIENTS=${BENCH_CLIENTS:-16 100 1000}
MODES=${BENCH_MODES:-simple extended prepared}
TX_POOL=${BENCH_POOL_SIZE:-20}
SESSION_POOL=100
WORKERS=${BENCH_WORKERS:-0}
SYSCALL_CLIENTS=${BENCH_SYSCALL_CLIENTS:-100}
SYSCALL_SECS=${BENCH_SYSCALL_SECONDS:-5}
STRACE_SECS=3
CHURN_CLIENTS=${BENCH_CHURN_CLIENTS:-16}
IDLE_N=${BENCH_IDLE_CLIENTS:-10000}
PGBENCH=${PGBENCH:-pgbench}
PGBOUNCER=${PGBOUNCER:-pgbouncer}
RUN_TIMEOUT=$((SECS + 300))
LOGIN_LIMIT=300  # seconds for pgbench to log in its clients
DIRECT_MAX=250  # PostgreSQL's max_connections is 300, and the poolers hold some

for s in ${ONLY//,/ }; do
  case "$s" in tps | session | syscalls | churn | idle) ;; *)
    echo "bench: unknown section '$s' in BENCH_ONLY (tps, session, syscalls, churn, idle)" >&2
    exit 2
    ;;
  esac
done
want() { case ",$ONLY," in *",$1,"*) return 0 ;; *) return 1 ;; esac; }

PY=/usr/bin/python3
[ -x "$PY" ] || PY=python3
TOOLS=$SP_ROOT/scripts
if [ -n "${SHARDPOOL_BIN:-}" ]; then
  BIN=$SHARDPOOL_BIN
else
  sp_build
  BIN=$SP_BUILD_DIR/shardpool
fi
ulimit -n 20000 2>/dev/null || ulimit -n "$(ulimit -Hn)" 2>/dev/null || true
if want idle && [ "$(ulimit -n)" -le $((IDLE_N + 100)) ]; then
  echo "bench: open-files limit $(ulimit -n) is too low for $IDLE_N idle clients" >&2
  exit 2
fi

WORK=$(mktemp -d /tmp/shardpool-bench.XXXXXX)
chmod 755 "$WORK"
mkdir -p "$OUT" "$WORK/logs"
rm -f "$OUT"/*.txt "$OUT"/*.summary "$OUT"/*.log "$OUT/results" "$OUT/rows" "$OUT/summary.md"
BG_PIDS=()
cleanup() {
  local rc=$?
  trap - EXIT INT TERM
  local p f
  for p in "${BG_PIDS[@]}"; do kill -TERM "$p" 2>/dev/null || true; done
  if [ -f "$WORK/shardpool.pids" ]; then
    while read -r p; do sp_stop_pid "$p" 10; done <"$WORK/shardpool.pids"
  fi
  for f in "$WORK"/pgbouncer*/pgbouncer.pid; do
    [ -f "$f" ] && stop_pgbouncer_pidfile "$f"
  done
  cp -f "$WORK"/*.log "$OUT"/ 2>/dev/null || true
  for f in "$WORK"/pgbouncer*/pgbouncer.log; do
    [ -f "$f" ] && cp -f "$f" "$OUT/$(basename "$(dirname "$f")").log"
  done
  "$SP_ROOT/scripts/pg-cluster.sh" stop "$WORK/pg" >/dev/null 2>&1 || true
  rm -rf "$WORK"
  exit "$rc"
}
stop_pgbouncer_pidfile() {
  local bpid
  bpid=$(cat "$1" 2>/dev/null || true)
  [ -n "$bpid" ] || return 0
  kill -TERM "$bpid" 2>/dev/null || true
  for _ in $(seq 50); do kill -0 "$bpid" 2>/dev/null || break; sleep 0.1; done
  kill -KILL "$bpid" 2>/dev/null || true
  rm -f "$1"
}
trap cleanup EXIT
trap 'exit 130' INT
trap 'exit 143' TERM

note() { echo "bench: $*" >&2; }
per_unit() {  # BEFORE AFTER COUNT SCALE -> (AFTER - BEFORE) * SCALE / COUNT
  awk -v a="$1" -v b="$2" -v n="$3" -v k="$4" 'BEGIN { printf "%.1f", (n > 0 ? (b - a) * k / n : 0) }'
}
# Results: one NAME.KEY=VALUE line per figure, read back by scripts/bench_report.py.
result() { echo "$1.$2=$3" >>"$OUT/results"; }
result bench date "$(date -u '+%Y-%m-%d %H:%M UTC')"
result bench cores "$(nproc)"
result bench seconds "$SECS"
result bench scale "$SCALE"
result bench pool "$TX_POOL"
result bench loadavg_start "$(cut -d' ' -f1-3 /proc/loadavg)"
result bench pgbouncer "$("$PGBOUNCER" --version | head -n1 | awk '{print $2}')"
result bench postgres "$("$PGBENCH" --version | awk '{print $3}')"
result bench idle_clients "$IDLE_N"

note "PostgreSQL with pgbench scale $SCALE; sections: $ONLY"
PG_CLUSTER_PGBENCH_SCALE=$SCALE "$SP_ROOT/scripts/pg-cluster.sh" start "$WORK/pg" >/dev/null
PGPORT=$(sp_env_get "$WORK/pg/env" PGPORT)
POSTMASTER=$(head -n1 "$(sp_env_get "$WORK/pg/env" DATA_DIR)/postmaster.pid")

# --- the poolers -------------------------------------------------------------------------------
# start_pgbouncer NAME MODE POOL_SIZE MAX_CLIENTS: sets B_PORT and B_PID. PgBouncer refuses to
# run as root: as root it runs as postgres.
start_pgbouncer() {
  local name=$1 mode=$2 pool=$3 maxc=$4 dir=$WORK/$1
  B_PORT=$(sp_free_port)
  sp_pgbouncer_config "$dir" "$B_PORT" "$PGPORT" "$mode" "$pool" "$maxc"
  if [ "$(id -u)" -eq 0 ]; then
    chown -R postgres:postgres "$dir"
    # shellcheck disable=SC2016 # $1 and $2 expand in the inner bash
    runuser -u postgres -- bash -c 'ulimit -n 20000 2>/dev/null || true; exec "$1" -d "$2"' \
      pgbouncer "$PGBOUNCER" "$dir/pgbouncer.ini"
  else
    "$PGBOUNCER" -d "$dir/pgbouncer.ini"
  fi
  if ! sp_wait_port "$B_PORT" 10; then
    note "pgbouncer ($name) did not start"
    cat "$dir/pgbouncer.log" >&2 || true
    exit 1
  fi
  B_PID=$(cat "$dir/pgbouncer.pid")
}
stop_pgbouncer() { stop_pgbouncer_pidfile "$WORK/$1/pgbouncer.pid"; }

# start_shardpool NAME MODE POOL_SIZE MAX_CLIENTS: sets S_PORT and S_PID.
start_shardpool() {
  local name=$1 mode=$2 pool=$3 maxc=$4
  S_PORT=$(sp_free_port)
  cat >"$WORK/$name.toml" <<TOML
[general]
listen_addr = "127.0.0.1"
listen_port = $S_PORT
pool_mode = "$mode"
default_pool_size = $pool
max_client_conn = $maxc
workers = $WORKERS
auth_type = "scram-sha-256"
log_level = "warn"

[databases.sp_db]
host = "127.0.0.1"
port = $PGPORT
dbname = "sp_db"

[users.sp_scram]
password = "scram_pass"
TOML
  "$BIN" -c "$WORK/$name.toml" >"$WORK/$name.log" 2>&1 &
  S_PID=$!
  echo "$S_PID" >>"$WORK/shardpool.pids"
  if ! sp_wait_port "$S_PORT" 10 "$S_PID"; then
    note "shardpool ($name) did not start"
    cat "$WORK/$name.log" >&2
    exit 1
  fi
}

export PGPASSWORD=scram_pass PGSSLMODE=disable PGGSSENCMODE=disable PGCONNECT_TIMEOUT=60

jobs_for() {  # clients -> pgbench -j
  local c=$1 j=${PGBENCH_JOBS:-}
  if [ -z "$j" ]; then j=2; [ "$c" -ge 1000 ] && j=4; fi
  [ "$j" -gt "$c" ] && j=$c
  echo "$j"
}

# pgbench_once NAME PORT ARGS...: runs pgbench into $OUT/NAME.txt; records NAME.tps and
# NAME.txns (or NAME.status=FAIL) and returns non-zero on failure.
pgbench_once() {
  local name=$1 port=$2 raw="$OUT/$1.txt" tps txns
  shift 2
  if timeout "$RUN_TIMEOUT" "$PGBENCH" -n -h 127.0.0.1 -p "$port" -U sp_scram "$@" sp_db \
    >"$raw" 2>&1; then
    tps=$(sed -n 's/^tps = \([0-9.]*\).*/\1/p' "$raw" | head -n1)
    txns=$(sed -n 's/^number of transactions actually processed: \([0-9]*\).*/\1/p' "$raw" | head -n1)
    if [ -n "$tps" ] && [ -n "$txns" ]; then
      result "$name" tps "$tps"
      result "$name" txns "$txns"
      return 0
    fi
  fi
  note "$name failed; last lines of $raw:"
  tail -n 3 "$raw" | sed 's/^/  /' >&2
  result "$name" status FAIL
  return 1
}

# Steady-state runs: pgbench runs with per-transaction logs (one file per pgbench thread) and
# a long -T; once every thread has written transactions (so all its clients have logged in: a
# thread starts its transactions after connecting all of them), a window of WINDOW seconds is
# measured, then pgbench is stopped. Logging in is left out (PgBouncer 1.18 derives the SCRAM
# key of a plaintext password at every login: 1,000 logins take seconds, more on a busy
# machine), and the transactions counted are those that completed inside the window.

# start_pgbench NAME PORT ARGS...: starts pgbench (PB_PID) and waits until every thread logs;
# returns non-zero (and records NAME.status=FAIL) if pgbench exited first.
start_pgbench() {
  local name=$1 port=$2 threads i
  shift 2
  threads=$(jobs_of "$@")
  rm -f "$WORK/logs/$name".*
  "$PGBENCH" -n -h 127.0.0.1 -p "$port" -U sp_scram -l --log-prefix="$WORK/logs/$name" "$@" \
    -T 3600 sp_db >"$OUT/$name.txt" 2>&1 &
  PB_PID=$!
  BG_PIDS+=("$PB_PID")
  for ((i = 0; i < LOGIN_LIMIT * 10; i++)); do  # a log appears when its buffer first fills
    if [ "$(find "$WORK/logs" -name "$name.*" -size +0 | wc -l)" -ge "$threads" ]; then
      sleep 0.5
      kill -0 "$PB_PID" 2>/dev/null && return 0
    fi
    kill -0 "$PB_PID" 2>/dev/null || break
    sleep 0.1
  done
  kill -TERM "$PB_PID" 2>/dev/null || true
  wait "$PB_PID" 2>/dev/null || true
  note "$name failed (pgbench stopped, or its clients were not all in after ${LOGIN_LIMIT}s):"
  grep -v '^pgbench: error: Run was aborted' "$OUT/$name.txt" | grep -m 3 -i 'error\|abort' |
    sed 's/^/  /' >&2 || true
  result "$name" status FAIL
  rm -f "$WORK/logs/$name".*
  return 1
}
# stop_pgbench NAME: stops it once the transactions of the window have reached its logs (a log
# line is buffered until about 4 KB have gathered behind it).
stop_pgbench() {
  sleep 2
  kill -TERM "$PB_PID" 2>/dev/null || true  # (SIGINT would only cancel the running queries)
  wait "$PB_PID" 2>/dev/null || true
}
jobs_of() {  # pgbench ARGS... -> the value of -j
  while [ $# -gt 1 ]; do
    if [ "$1" = -j ]; then echo "$2"; return; fi
    shift
  done
  echo 1
}

# measured_run NAME PORT PID WINDOW ARGS...: a steady-state run; the pooler PID ("-" for none)
# is sampled from /proc and, with PERF=1 in the environment, its syscalls counted by perf.
# Records TPS, latency percentiles and the costs per transaction in the window.
measured_run() {
  local name=$1 port=$2 pid=$3 window=$4 sampler="" perf="" perf_start="" ta tb rc=0
  shift 4
  if [ "$pid" != "-" ]; then
    "$PY" "$TOOLS/bench_proc.py" sample "$pid" "$WORK/$name.samples" 0.2 &
    sampler=$!
    BG_PIDS+=("$sampler")
  fi
  if [ "${PERF:-0}" = 1 ] && [ "$pid" != "-" ]; then
    perf_start=$(date +%s.%N)
    perf stat -I 200 -x, -e raw_syscalls:sys_enter -p "$pid" -o "$WORK/$name.perf" &
    perf=$!
    BG_PIDS+=("$perf")
  fi
  if start_pgbench "$name" "$port" "$@"; then
    ta=$(date +%s.%N)
    sleep "$window"
    tb=$(date +%s.%N)
    stop_pgbench
    if grep -q 'aborted' "$OUT/$name.txt"; then  # some clients gave up: not a valid run
      note "$name failed: pgbench clients aborted:"
      grep -m 2 'aborted' "$OUT/$name.txt" | sed 's/^/  /' >&2
      result "$name" status FAIL
      rc=1
    fi
  else
    rc=1
  fi
  if [ -n "$perf" ]; then kill -INT "$perf" 2>/dev/null || true; wait "$perf" 2>/dev/null || true; fi
  if [ -n "$sampler" ]; then kill -TERM "$sampler" 2>/dev/null || true; wait "$sampler" 2>/dev/null || true; fi
  if [ "$rc" -eq 0 ]; then
    "$PY" "$TOOLS/bench_proc.py" summarize "$WORK/logs/$name" "$ta" "$tb" \
      "$([ -n "$sampler" ] && echo "$WORK/$name.samples" || echo -)" \
      ${perf:+"$WORK/$name.perf" "$perf_start"} >"$OUT/$name.summary"
    sed "s/^/$name./" "$OUT/$name.summary" >>"$OUT/results"
  fi
  rm -f "$WORK/logs/$name".*
  return "$rc"
}

# warm_up PORT: servers, caches and the pool, so that the first measured run is not the slowest.
warm_up() {
  pgbench_once "warmup-$1" "$1" -S -c 20 -j 2 -T 2 >/dev/null 2>&1 || true
}

# A row of the throughput tables: the same pgbench run direct (when PostgreSQL allows that
# many clients), through PgBouncer and through shardpool. The poolers' order alternates from
# row to row, so neither always runs right after the other.
ROW_NO=0
run_row() {  # SECTION TAG LABEL CLIENTS ARGS...
  local section=$1 tag="$2-c$4" label=$3 clients=$4 j direct=- who
  shift 4
  j=$(jobs_for "$clients")
  note "$section: $label, $clients clients, ${SECS}s of steady state each"
  if [ "$clients" -le "$DIRECT_MAX" ]; then
    direct="direct-$tag"
    measured_run "$direct" "$PGPORT" - "$SECS" -c "$clients" -j "$j" "$@" || true
  fi
  local order="pgbouncer shardpool"
  [ $((ROW_NO % 2)) -eq 1 ] && order="shardpool pgbouncer"
  ROW_NO=$((ROW_NO + 1))
  for who in $order; do
    local port=$B_PORT pid=$B_PID
    [ "$who" = shardpool ] && port=$S_PORT pid=$S_PID
    if kill -0 "$pid" 2>/dev/null; then
      measured_run "$who-$tag" "$port" "$pid" "$SECS" -c "$clients" -j "$j" "$@" || true
    else
      note "$who (pid $pid) is not running"
      result "$who-$tag" status FAIL
    fi
  done
  echo "$section|$label|$clients|$direct|pgbouncer-$tag|shardpool-$tag" >>"$OUT/rows"
}

# --- session pooling (the rows this benchmark had before) ---------------------------------------
if want session; then
  start_pgbouncer pgbouncer-session session "$SESSION_POOL" 2000
  start_shardpool shardpool-session session "$SESSION_POOL" 2000
  warm_up "$B_PORT"
  warm_up "$S_PORT"
  for c in 16 100; do run_row session session-simple "session, simple" "$c" -S; done
  sp_stop_pid "$S_PID" 10
  stop_pgbouncer pgbouncer-session
  sleep 1
fi

# --- transaction pooling ---------------------------------------------------------------------------
if want tps || want syscalls || want churn; then
  start_pgbouncer pgbouncer-tx transaction "$TX_POOL" 2000
  start_shardpool shardpool-tx transaction "$TX_POOL" 2000
  warm_up "$B_PORT"
  warm_up "$S_PORT"
fi

if want tps; then
  # pgbench -M prepared prepares with a blocking call per client; with the select-only script
  # no client holds a server between statements, so many clients per thread cannot deadlock.
  for mode in $MODES; do
    for c in $CLIENTS; do run_row txn "txn-$mode" "transaction, $mode" "$c" -S -M "$mode"; done
  done
fi

# strace_run NAME PORT PID ARGS...: once pgbench's clients are all in, strace -f -c attaches to
# the pooler for STRACE_SECS; its syscalls are divided by the transactions that completed
# while it was attached (strace slows the pooler down, so this run's TPS is not comparable).
strace_run() {
  local name=$1 port=$2 pid=$3 st ta tb txns
  shift 3
  note "syscalls: strace -f -c on pid $pid for ${STRACE_SECS}s ($name)"
  start_pgbench "$name" "$port" "$@" || return 0
  ta=$(date +%s.%N)
  strace -f -c -p "$pid" -o "$WORK/$name.strace" 2>/dev/null &
  st=$!
  sleep "$STRACE_SECS"
  kill -INT "$st" 2>/dev/null || true
  wait "$st" 2>/dev/null || true
  tb=$(date +%s.%N)
  stop_pgbench
  txns=$("$PY" "$TOOLS/bench_proc.py" count "$WORK/logs/$name" "$ta" "$tb")
  cp "$WORK/$name.strace" "$OUT/$name.strace.txt" 2>/dev/null || true
  {
    echo "strace_txns=$txns"
    "$PY" "$TOOLS/bench_proc.py" strace-summary "$WORK/$name.strace" "$txns"
  } >"$OUT/$name.summary"
  rm -f "$WORK/logs/$name".*
}

if want syscalls; then
  use_perf=0
  if command -v perf >/dev/null 2>&1 &&
    perf stat -e raw_syscalls:sys_enter -- true 2>&1 | grep -Eq '^ *[0-9,]+ +raw_syscalls'; then
    use_perf=1
  else
    note "perf cannot count syscalls here: no perf figures (strace and /proc only)"
  fi
  result bench perf "$use_perf"
  j=$(jobs_for "$SYSCALL_CLIENTS")
  for who in pgbouncer shardpool; do
    if [ "$who" = pgbouncer ]; then port=$B_PORT pid=$B_PID; else port=$S_PORT pid=$S_PID; fi
    name="$who-syscalls"
    note "syscalls: $who, $SYSCALL_CLIENTS clients, ${SYSCALL_SECS}s (perf: $use_perf)"
    PERF=$use_perf measured_run "$name" "$port" "$pid" "$SYSCALL_SECS" -S \
      -c "$SYSCALL_CLIENTS" -j "$j" || true
    if command -v strace >/dev/null 2>&1; then
      strace_run "$name-strace" "$port" "$pid" -S -c "$SYSCALL_CLIENTS" -j "$j"
      if [ -f "$OUT/$name-strace.summary" ]; then
        sed -n "s/^/$name./p" "$OUT/$name-strace.summary" >>"$OUT/results"
      fi
    fi
  done
fi

if want churn; then
  # A new connection (SCRAM login) per transaction. PostgreSQL's CPU counts every process of
  # the cluster, including backends that exited (the postmaster's cutime/cstime).
  j=$(jobs_for "$CHURN_CLIENTS")
  for who in direct pgbouncer shardpool; do
    case $who in
      direct) port=$PGPORT pid="" ;;
      pgbouncer) port=$B_PORT pid=$B_PID ;;
      shardpool) port=$S_PORT pid=$S_PID ;;
    esac
    name="$who-churn"
    note "churn: $who, $CHURN_CLIENTS clients, new connection per transaction, ${SECS}s"
    pg0=$("$PY" "$TOOLS/bench_proc.py" cluster-cpu "$POSTMASTER")
    p0=0
    [ -n "$pid" ] && p0=$("$PY" "$TOOLS/bench_proc.py" cpu "$pid")
    if pgbench_once "$name" "$port" -S -C -c "$CHURN_CLIENTS" -j "$j" -T "$SECS"; then
      sleep 0.5  # the postmaster reaps the last backends
      pg1=$("$PY" "$TOOLS/bench_proc.py" cluster-cpu "$POSTMASTER")
      p1=0
      [ -n "$pid" ] && p1=$("$PY" "$TOOLS/bench_proc.py" cpu "$pid")
      txns=$(sed -n "s/^$name.txns=//p" "$OUT/results" | tail -n1)
      result "$name" pg_cpu_us_per_conn "$(per_unit "$pg0" "$pg1" "$txns" 1e6)"
      if [ -n "$pid" ]; then result "$name" pooler_cpu_us_per_conn "$(per_unit "$p0" "$p1" "$txns" 1e6)"; fi
    fi
  done
fi

if want tps || want syscalls || want churn; then
  sp_stop_pid "$S_PID" 10
  stop_pgbouncer pgbouncer-tx
  sleep 1
fi

if want idle; then
  # Fresh poolers, one at a time: RSS with one client's worth of state, then with IDLE_N
  # logged-in clients that each ran one SELECT (transaction pooling: they hold no server).
  for who in pgbouncer shardpool; do
    if [ "$who" = pgbouncer ]; then
      start_pgbouncer pgbouncer-idle transaction "$TX_POOL" $((IDLE_N + 100))
      port=$B_PORT pid=$B_PID
    else
      start_shardpool shardpool-idle transaction "$TX_POOL" $((IDLE_N + 100))
      port=$S_PORT pid=$S_PID
    fi
    name="$who-idle"
    note "idle: $who, $IDLE_N idle clients"
    pgbench_once "$name-warmup" "$port" -S -c 1 -j 1 -t 10 >/dev/null || true
    sleep 1
    rss0=$("$PY" "$TOOLS/bench_proc.py" rss "$pid")
    cpu0=$("$PY" "$TOOLS/bench_proc.py" cpu "$pid")
    "$PY" "$TOOLS/bench_idle_clients.py" 127.0.0.1 "$port" sp_scram scram_pass sp_db "$IDLE_N" \
      --query >"$WORK/$name.clients" 2>"$WORK/$name.clients.err" &
    cl=$!
    BG_PIDS+=("$cl")
    for _ in $(seq 1200); do
      grep -q '^ready' "$WORK/$name.clients" 2>/dev/null && break
      kill -0 "$cl" 2>/dev/null || break
      sleep 0.5
    done
    read -r _ ok failed secs <"$WORK/$name.clients" || true
    sleep 2
    rss1=$("$PY" "$TOOLS/bench_proc.py" rss "$pid")
    cpu1=$("$PY" "$TOOLS/bench_proc.py" cpu "$pid")
    kill -TERM "$cl" 2>/dev/null || true
    wait "$cl" 2>/dev/null || true
    cat "$WORK/$name.clients.err" >&2 || true
    result "$name" clients_ok "${ok:-0}"
    result "$name" clients_failed "${failed:-?}"
    result "$name" login_seconds "${secs:-}"
    result "$name" rss_kb_before "$rss0"
    result "$name" rss_kb_after "$rss1"
    if [ "${ok:-0}" -gt 0 ]; then
      result "$name" rss_bytes_per_client "$(per_unit "$rss0" "$rss1" "$ok" 1024)"
      result "$name" cpu_us_per_login "$(per_unit "$cpu0" "$cpu1" "$ok" 1e6)"
    fi
    if [ "$who" = pgbouncer ]; then stop_pgbouncer pgbouncer-idle; else sp_stop_pid "$S_PID" 10; fi
    sleep 1
  done
fi

result bench loadavg_end "$(cut -d' ' -f1-3 /proc/loadavg)"
echo
"$PY" "$TOOLS/bench_report.py" "$OUT/results" "$OUT/rows" | tee "$OUT/summary.md"
echo
echo "Raw pgbench output, per-run summaries and logs: $OUT"

# Failures: any run that failed, except PgBouncer's -M prepared rows (1.18 cannot run them).
if grep '\.status=FAIL' "$OUT/results" | grep -v '^pgbouncer-txn-prepared-' | grep -q .; then
  exit 1
fi
exit 0
