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
BOUNCER_PIDFILE=$WORK/pgbouncer/pgbouncer.pid
cleanup() {
  local rc=$?
  trap - EXIT INT TERM
  sp_stop_pid "$SP_PID" 10
  if [ -f "$BOUNCER_PIDFILE" ]; then
    local bpid
    bpid=$(cat "$BOUNCER_PIDFILE" 2>/dev/null || true)
    if [ -n "$bpid" ]; then
      kill -TERM "$bpid" 2>/dev/null || true
      for _ in $(seq 50); do kill -0 "$bpid" 2>/dev/null || break; sleep 0.1; done
      kill -KILL "$bpid" 2>/dev/null || true
    fi
  fi
  cp -f "$WORK"/*.log "$WORK"/pgbouncer/*.log "$OUT"/ 2>/dev/null || true
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
BOUNCER_PORT=$(sp_free_port)
mkdir -p "$WORK/pgbouncer"
cat >"$WORK/pgbouncer/userlist.txt" <<EOF
"sp_scram" "scram_pass"
EOF
cat >"$WORK/pgbouncer/pgbouncer.ini" <<EOF
[databases]
sp_db = host=127.0.0.1 port=$PGPORT dbname=sp_db

[pgbouncer]
listen_addr = 127.0.0.1
listen_port = $BOUNCER_PORT
unix_socket_dir =
auth_type = scram-sha-256
auth_file = $WORK/pgbouncer/userlist.txt
pool_mode = $POOL_MODE
default_pool_size = $POOL_SIZE
max_client_conn = 2000
max_db_connections = 0
server_reset_query = DISCARD ALL
log_connections = 0
log_disconnections = 0
logfile = $WORK/pgbouncer/pgbouncer.log
pidfile = $BOUNCER_PIDFILE
EOF
if [ "$(id -u)" -eq 0 ]; then
  chown -R postgres:postgres "$WORK/pgbouncer"
  runuser -u postgres -- bash -c 'ulimit -n 20000 2>/dev/null || true; exec pgbouncer -d "$1"' \
    pgbouncer "$WORK/pgbouncer/pgbouncer.ini"
else
  pgbouncer -d "$WORK/pgbouncer/pgbouncer.ini"
fi
if ! sp_wait_port "$BOUNCER_PORT" 10; then
  echo "bench: pgbouncer did not start" >&2
  cat "$WORK/pgbouncer/pgbouncer.log" >&2 || true
  exit 1
fi

# --- shardpool ---------------------------------------------------------------------------------
SP_PORT=$(sp_free_port)
cat >"$WORK/shardpool.toml" <<EOF
[general]
listen_addr = "127.0.0.1"
listen_port = $SP_PORT
pool_mode = "$POOL_MODE"
default_pool_size = $POOL_SIZE
max_client_conn = 2000
auth_type = "scram-sha-256"
log_level = "warn"

[databases.sp_db]
host = "127.0.0.1"
port = $PGPORT
dbname = "sp_db"

[users.sp_scram]
password = "scram_pass"
EOF
"$BIN" -c "$WORK/shardpool.toml" >"$WORK/shardpool.log" 2>&1 &
SP_PID=$!
SP_STATUS=""
if ! sp_wait_port "$SP_PORT" 10 "$SP_PID"; then
  echo "bench: shardpool did not start" >&2
  cat "$WORK/shardpool.log" >&2
  exit 1
fi

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
run_workload() {
  local label=$1 clients=$2
  shift 2
  local tag="${label// /_}-c$clients" d b s
  echo "bench: $label, $clients clients, ${SECS}s each: direct, pgbouncer, shardpool" >&2
  d=$(run_pgbench "direct-$tag" "$PGPORT" -c "$clients" -j 2 -T "$SECS" "$@")
  b=$(run_pgbench "pgbouncer-$tag" "$BOUNCER_PORT" -c "$clients" -j 2 -T "$SECS" "$@")
  if kill -0 "$SP_PID" 2>/dev/null; then
    s=$(run_pgbench "shardpool-$tag" "$SP_PORT" -c "$clients" -j 2 -T "$SECS" "$@")
  else
    s="FAIL FAIL"
  fi
  if ! kill -0 "$SP_PID" 2>/dev/null && [ -z "$SP_STATUS" ]; then
    wait "$SP_PID" && SP_STATUS=0 || SP_STATUS=$?
    echo "bench: shardpool exited with status $SP_STATUS; its log:" >&2
    tail -n 20 "$WORK/shardpool.log" | sed 's/^/  /' >&2
  fi
  ROWS+=("$label|$clients|$d|$b|$s")
}

run_workload "select-only" 16 -S
run_workload "select-only" 100 -S
run_workload "select-only connect-per-txn" 16 -S -C

cell() {  # "TPS LAT" -> "12345 / 1.23 ms"
  local tps=${1%% *} lat=${1##* }
  if [ "$tps" = FAIL ]; then echo "FAIL"; else printf '%.0f / %s ms' "$tps" "$lat"; fi
}
ratio() {
  local b=${1%% *} s=${2%% *}
  if [ "$b" = FAIL ] || [ "$s" = FAIL ]; then echo "-"; else awk -v s="$s" -v b="$b" 'BEGIN { printf "%.2f", (b > 0 ? s / b : 0) }'; fi
}

echo
echo "pgbench -S (select-only), scale $SCALE, -j 2, -T $SECS, $(nproc) cores shared by everything."
echo "Both poolers: pool_mode $POOL_MODE, pool size $POOL_SIZE (session mode holds one server per"
echo "client, so the pool is as large as the largest client count), SCRAM client auth."
echo "TPS excludes initial connection time, except connect-per-txn (-C) which includes reconnects."
echo
fmt='%-28s | %7s | %-20s | %-20s | %-20s | %s\n'
printf "$fmt" "workload" "clients" "direct TPS/lat" "pgbouncer TPS/lat" "shardpool TPS/lat" "shardpool/pgbouncer"
printf "$fmt" "----------------------------" "-------" "--------------------" "--------------------" "--------------------" "-------------------"
status=0
for row in "${ROWS[@]}"; do
  IFS='|' read -r label clients d b s <<<"$row"
  printf "$fmt" "$label" "$clients" "$(cell "$d")" "$(cell "$b")" "$(cell "$s")" "$(ratio "$b" "$s")"
  case "$d $b $s" in *FAIL*) status=1 ;; esac
done
echo
echo "Raw pgbench output and logs: $OUT"
exit "$status"
