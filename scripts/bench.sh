#!/usr/bin/env bash
# Benchmark on this machine: pgbench select-only straight to PostgreSQL, through PgBouncer and
# through shardpool, with the same pool mode and size for both poolers.
#   BENCH_SECONDS  length of each pgbench run (default 15)
#   BENCH_SCALE    pgbench scale (default 10)
#   BENCH_OUT      where raw pgbench outputs and logs are kept (default: $BUILD_DIR/bench)
#   BUILD_DIR      build directory (default: build)
# All servers run on the same cores as pgbench, so absolute numbers mean little; the ratio
# shardpool/pgbouncer is the figure to watch.
set -euo pipefail
# shellcheck source=scripts/lib.sh
source "$(dirname "${BASH_SOURCE[0]}")/lib.sh"

SECS=${BENCH_SECONDS:-15}
SCALE=${BENCH_SCALE:-10}
OUT=${BENCH_OUT:-$SP_BUILD_DIR/bench}
# Session mode: a client keeps its server from login to logout, so pgbench clients beyond the pool
# size would wait at login. Both poolers get 100 servers: one per client at the largest run.
POOL_MODE=session
POOL_SIZE=100
RUN_TIMEOUT=$((SECS + 90))

sp_build
BIN=$SP_BUILD_DIR/shardpool
ulimit -n 20000 2>/dev/null || ulimit -n "$(ulimit -Hn)" 2>/dev/null || true

WORK=$(mktemp -d /tmp/shardpool-bench.XXXXXX)
chmod 755 "$WORK"
mkdir -p "$OUT"
SP_PID=""
cleanup() {
  local rc=$?
  trap - EXIT INT TERM
  local p f bpid
  if [ -f "$WORK/shardpool.pids" ]; then
    while read -r p; do sp_stop_pid "$p" 10; done <"$WORK/shardpool.pids"
  fi
  for f in "$WORK"/pgbouncer*/pgbouncer.pid; do
    [ -f "$f" ] || continue
    bpid=$(cat "$f" 2>/dev/null || true)
    if [ -n "$bpid" ]; then
      kill -TERM "$bpid" 2>/dev/null || true
      for _ in $(seq 50); do kill -0 "$bpid" 2>/dev/null || break; sleep 0.1; done
      kill -KILL "$bpid" 2>/dev/null || true
    fi
  done
  cp -f "$WORK"/*.log "$OUT"/ 2>/dev/null || true
  for f in "$WORK"/pgbouncer*/pgbouncer.log; do
    [ -f "$f" ] && cp -f "$f" "$OUT/$(basename "$(dirname "$f")").log"
  done
  "$SP_ROOT/scripts/pg-cluster.sh" stop "$WORK/pg" >/dev/null 2>&1 || true
  rm -rf "$WORK"
  exit "$rc"
}
trap cleanup EXIT
trap 'exit 130' INT
trap 'exit 143' TERM

echo "bench: PostgreSQL 15 with pgbench scale $SCALE"
PG_CLUSTER_PGBENCH_SCALE=$SCALE "$SP_ROOT/scripts/pg-cluster.sh" start "$WORK/pg" >/dev/null
PGPORT=$(sp_env_get "$WORK/pg/env" PGPORT)

# --- PgBouncer (refuses to run as root: run it as postgres) ----------------------------------
# start_pgbouncer NAME MODE POOL_SIZE -> prints the port
start_pgbouncer() {
  local name=$1 mode=$2 pool=$3 port dir
  port=$(sp_free_port)
  dir=$WORK/$name
  mkdir -p "$dir"
  echo '"sp_scram" "scram_pass"' >"$dir/userlist.txt"
  cat >"$dir/pgbouncer.ini" <<INI
[databases]
sp_db = host=127.0.0.1 port=$PGPORT dbname=sp_db

[pgbouncer]
listen_addr = 127.0.0.1
listen_port = $port
unix_socket_dir =
auth_type = scram-sha-256
auth_file = $dir/userlist.txt
pool_mode = $mode
default_pool_size = $pool
max_client_conn = 5000
max_db_connections = 0
server_reset_query = DISCARD ALL
log_connections = 0
log_disconnections = 0
logfile = $dir/pgbouncer.log
pidfile = $dir/pgbouncer.pid
INI
  if [ "$(id -u)" -eq 0 ]; then
    chown -R postgres:postgres "$dir"
    runuser -u postgres -- bash -c 'ulimit -n 20000 2>/dev/null || true; exec pgbouncer -d "$1"' \
      pgbouncer "$dir/pgbouncer.ini"
  else
    pgbouncer -d "$dir/pgbouncer.ini"
  fi
  if ! sp_wait_port "$port" 10; then
    echo "bench: pgbouncer ($name) did not start" >&2
    cat "$dir/pgbouncer.log" >&2 || true
    exit 1
  fi
  echo "$port"
}

# --- shardpool ---------------------------------------------------------------------------------
# start_shardpool NAME MODE POOL_SIZE -> sets SP_PORT and SP_PID (and records the pid for cleanup)
start_shardpool() {
  local name=$1 mode=$2 pool=$3
  SP_PORT=$(sp_free_port)
  cat >"$WORK/$name.toml" <<TOML
[general]
listen_addr = "127.0.0.1"
listen_port = $SP_PORT
pool_mode = "$mode"
default_pool_size = $pool
max_client_conn = 5000
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
  SP_PID=$!
  echo "$SP_PID" >>"$WORK/shardpool.pids"
  if ! sp_wait_port "$SP_PORT" 10 "$SP_PID"; then
    echo "bench: shardpool ($name) did not start" >&2
    cat "$WORK/$name.log" >&2
    exit 1
  fi
}

BOUNCER_PORT=$(start_pgbouncer pgbouncer "$POOL_MODE" "$POOL_SIZE")
start_shardpool shardpool "$POOL_MODE" "$POOL_SIZE"

export PGPASSWORD=scram_pass PGSSLMODE=disable PGGSSENCMODE=disable PGCONNECT_TIMEOUT=30

# run_pgbench NAME PORT ARGS... -> prints "TPS LAT" (or "FAIL FAIL") and keeps the raw output.
run_pgbench() {
  local name=$1 port=$2
  shift 2
  local raw="$OUT/$name.txt" tps lat
  if timeout "$RUN_TIMEOUT" pgbench -n -h 127.0.0.1 -p "$port" -U sp_scram "$@" sp_db >"$raw" 2>&1; then
    tps=$(sed -n 's/^tps = \([0-9.]*\).*/\1/p' "$raw" | head -n1)
    lat=$(sed -n 's/^latency average = \([0-9.]*\) ms.*/\1/p' "$raw" | head -n1)
    echo "${tps:-FAIL} ${lat:-FAIL}"
  else
    echo "bench: $name failed (exit $?); last lines of $raw:" >&2
    tail -n 5 "$raw" | sed 's/^/  /' >&2
    echo "FAIL FAIL"
  fi
}

declare -a ROWS=()
# run_workload LABEL CLIENTS THREADS BOUNCER_PORT SHARDPOOL_PORT SHARDPOOL_PID DIRECT(yes|no) ARGS...
run_workload() {
  local label=$1 clients=$2 threads=$3 bport=$4 sport=$5 spid=$6 direct=$7
  shift 7
  local tag="${label// /_}-c$clients" d b s
  echo "bench: $label, $clients clients, ${SECS}s each: direct, pgbouncer, shardpool" >&2
  if [ "$direct" = yes ]; then
    d=$(run_pgbench "direct-$tag" "$PGPORT" -c "$clients" -j "$threads" -T "$SECS" "$@")
  else
    d="SKIP SKIP"
  fi
  b=$(run_pgbench "pgbouncer-$tag" "$bport" -c "$clients" -j "$threads" -T "$SECS" "$@")
  if kill -0 "$spid" 2>/dev/null; then
    s=$(run_pgbench "shardpool-$tag" "$sport" -c "$clients" -j "$threads" -T "$SECS" "$@")
  else
    echo "bench: shardpool (pid $spid) is not running" >&2
    s="FAIL FAIL"
  fi
  ROWS+=("$label|$clients|$d|$b|$s")
}

S_PORT=$SP_PORT
S_PID=$SP_PID
run_workload "session select-only" 16 2 "$BOUNCER_PORT" "$S_PORT" "$S_PID" yes -S
run_workload "session select-only" 100 2 "$BOUNCER_PORT" "$S_PORT" "$S_PID" yes -S
run_workload "session connect-per-txn" 16 2 "$BOUNCER_PORT" "$S_PORT" "$S_PID" yes -S -C

# The session-mode poolers hold 100 servers each: stop them to stay under max_connections.
sp_stop_pid "$S_PID" 10
kill -TERM "$(cat "$WORK/pgbouncer/pgbouncer.pid")" 2>/dev/null || true
sleep 1

# Transaction pooling: 100 and 1,000 clients over 20 servers. PostgreSQL itself allows only
# max_connections = 300, so the direct column is skipped at 1,000 clients. pgbench -M prepared
# prepares with a blocking call per client; with the select-only script no client holds a server
# between statements, so several clients per pgbench thread cannot deadlock the pool.
TX_POOL=20
TX_BOUNCER_PORT=$(start_pgbouncer pgbouncer-tx transaction "$TX_POOL")
start_shardpool shardpool-tx transaction "$TX_POOL"
TX_SP_PORT=$SP_PORT
TX_SP_PID=$SP_PID
for mode in simple prepared; do
  run_workload "txn select-only $mode" 100 2 "$TX_BOUNCER_PORT" "$TX_SP_PORT" "$TX_SP_PID" yes -S -M "$mode"
  run_workload "txn select-only $mode" 1000 4 "$TX_BOUNCER_PORT" "$TX_SP_PORT" "$TX_SP_PID" no -S -M "$mode"
done

cell() {  # "TPS LAT" -> "12345 / 1.23 ms"
  local tps=${1%% *} lat=${1##* }
  case "$tps" in
    FAIL) echo "FAIL" ;;
    SKIP) echo "-" ;;
    *) printf '%.0f / %s ms' "$tps" "$lat" ;;
  esac
}
ratio() {
  local b=${1%% *} s=${2%% *}
  if [ "$b" = FAIL ] || [ "$s" = FAIL ] || [ "$b" = SKIP ]; then echo "-"; else awk -v s="$s" -v b="$b" 'BEGIN { printf "%.2f", (b > 0 ? s / b : 0) }'; fi
}

echo
echo "pgbench -S (select-only), scale $SCALE, -T $SECS, $(nproc) cores shared by everything."
echo "Session rows: both poolers in session mode with pool size $POOL_SIZE (one server per client)."
echo "Txn rows: both poolers in transaction mode with pool size $TX_POOL. PgBouncer $(pgbouncer --version | head -n1 | awk '{print $2}')"
echo "has no prepared-statement support (max_prepared_statements arrived in 1.21), so its prepared"
echo "rows fail; shardpool maps prepared statements per server (max_prepared_statements)."
echo "Direct is skipped above PostgreSQL's max_connections. SCRAM client auth everywhere."
echo "TPS excludes initial connection time, except connect-per-txn (-C) which includes reconnects."
echo
fmt='%-32s | %7s | %-20s | %-20s | %-20s | %s\n'
printf "$fmt" "workload" "clients" "direct TPS/lat" "pgbouncer TPS/lat" "shardpool TPS/lat" "shardpool/pgbouncer"
printf "$fmt" "--------------------------------" "-------" "--------------------" "--------------------" "--------------------" "-------------------"
status=0
for row in "${ROWS[@]}"; do
  IFS='|' read -r label clients d b s <<<"$row"
  printf "$fmt" "$label" "$clients" "$(cell "$d")" "$(cell "$b")" "$(cell "$s")" "$(ratio "$b" "$s")"
  case "$label" in
    *prepared*) case "$d $s" in *FAIL*) status=1 ;; esac ;;  # PgBouncer 1.18 cannot run these
    *) case "$d $b $s" in *FAIL*) status=1 ;; esac ;;
  esac
done
echo
echo "Raw pgbench output and logs: $OUT"
exit "$status"
