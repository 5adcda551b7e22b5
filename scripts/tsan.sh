#!/usr/bin/env bash
# ThreadSanitizer run: builds the shardpool binary with -fsanitize=thread into build-tsan/, puts
# it with 4 worker threads in front of a throwaway PostgreSQL 15, and drives it for TSAN_SECONDS
# (default 45) with everything that crosses threads at once:
#   - pgbench -M prepared -S, 16 clients on 4 threads, transaction pooling over 8 servers (pools
#     shared by the workers, servers handed from one worker to another);
#   - pgbench tpcb-like with a new connection per transaction (-C): logins and disconnects;
#   - a client that cancels its queries at random moments (CancelRequest routed to the worker
#     that holds the backend) and one that drops its connection in the middle of a query or a
#     transaction;
#   - SIGHUP reloads every 1.5 s that change the pool size;
#   - Prometheus scrapes and admin console SHOW commands (snapshots gathered from every worker).
# Then SIGTERM. Fails when TSan reported anything (all reports are collected, not only the first)
# or when the load did not run. Reports are printed and kept in build-tsan/tsan-reports/, with
# the logs of the run; reports known not to be races are suppressed, each with its reason, in
# scripts/tsan-suppressions.txt. It also counts pgbench queries canceled by another client's
# CancelRequest (a pooling matter, not TSan's: printed as a note).
#
#   TSAN_SECONDS     length of the load (default 45)
#   TSAN_BUILD_DIR   build directory (default: build-tsan)
set -euo pipefail

source "$(dirname "${BASH_SOURCE[0]}")/lib.sh"
ROOT=$SP_ROOT
BUILD=${TSAN_BUILD_DIR:-$ROOT/build-tsan}
SECS=${TSAN_SECONDS:-45}

"$ROOT/scripts/install-deps.sh"
ulimit -n 20000 2>/dev/null || ulimit -n "$(ulimit -Hn)" 2>/dev/null || true

launcher=()
if command -v ccache >/dev/null 2>&1; then launcher=(-DCMAKE_CXX_COMPILER_LAUNCHER=ccache); fi
t0=$(date +%s)
cmake -S "$ROOT" -B "$BUILD" -DBUILD_TESTING=OFF -DCMAKE_BUILD_TYPE=RelWithDebInfo \
  -DCMAKE_CXX_FLAGS_RELWITHDEBINFO="-O1 -g" -DCMAKE_CXX_FLAGS="-fsanitize=thread" \
  -DCMAKE_EXE_LINKER_FLAGS="-fsanitize=thread" "${launcher[@]}" >/dev/null
cmake --build "$BUILD" -j"${TSAN_BUILD_JOBS:-$(nproc)}" --target shardpool
echo "tsan: build took $(($(date +%s) - t0)) s"

REPORTS=$BUILD/tsan-reports
rm -rf "$REPORTS"
mkdir -p "$REPORTS"
WORK=$(mktemp -d /tmp/shardpool-tsan.XXXXXX)
chmod 755 "$WORK"
SP_PID=""
LOAD_PIDS=()
cleanup() {
  local rc=$? p
  trap - EXIT INT TERM
  for p in "${LOAD_PIDS[@]}"; do kill "$p" 2>/dev/null || true; done
  sp_stop_pid "$SP_PID" 30
  cp -f "$WORK"/*.log "$REPORTS"/ 2>/dev/null || true
  "$ROOT/scripts/pg-cluster.sh" stop "$WORK/pg" >/dev/null 2>&1 || true
  rm -rf "$WORK"
  exit "$rc"
}
trap cleanup EXIT
trap 'exit 130' INT
trap 'exit 143' TERM

echo "tsan: PostgreSQL 15 with pgbench scale 2"
PG_CLUSTER_PGBENCH_SCALE=2 "$ROOT/scripts/pg-cluster.sh" start "$WORK/pg" >/dev/null
PGPORT=$(sp_env_get "$WORK/pg/env" PGPORT)
SP_PORT=$(sp_free_port)
METRICS_PORT=$(sp_free_port)

write_config() {
  cat >"$WORK/shardpool.toml" <<TOML
[general]
listen_addr = "127.0.0.1"
listen_port = $SP_PORT
workers = 4
pool_mode = "transaction"
default_pool_size = $1
max_client_conn = 2000
auth_type = "scram-sha-256"
log_level = "warn"
admin_users = ["sp_admin"]
metrics_port = $METRICS_PORT
idle_transaction_timeout = "3s"

[databases.sp_db]
host = "127.0.0.1"
port = $PGPORT
dbname = "sp_db"

[users.sp_scram]
password = "scram_pass"

[users.sp_admin]
password = "admin_pass"
TOML
}
write_config 8

# halt_on_error=0: collect every report of the run; exitcode: the process ends non-zero with one.
# The suppressions (each one explained in the file) are listed at exit (print_suppressions).
export TSAN_OPTIONS="halt_on_error=0:second_deadlock_stack=1:history_size=4:exitcode=66:log_path=$REPORTS/tsan:suppressions=$ROOT/scripts/tsan-suppressions.txt:print_suppressions=1"
"$BUILD/shardpool" -c "$WORK/shardpool.toml" >"$WORK/shardpool.log" 2>&1 &
SP_PID=$!
unset TSAN_OPTIONS
sp_wait_port "$SP_PORT" 60 "$SP_PID" || { echo "tsan: shardpool did not start" >&2; cat "$WORK/shardpool.log" >&2; exit 1; }
echo "tsan: shardpool (pid $SP_PID, 4 workers) on port $SP_PORT; load for $SECS s"

export PGPASSWORD=scram_pass PGSSLMODE=disable PGGSSENCMODE=disable PGCONNECT_TIMEOUT=30
END=$(($(date +%s) + SECS))
# pgbench until the deadline. pgbench ends a whole run at a client's first error, and a
# CancelRequest of the chaos client can reach a pgbench query (see the end): such a run is
# started again, so that the load lasts.
pgbench_loop() {
  local log=$1 left
  shift
  while left=$((END - $(date +%s))); [ "$left" -gt 0 ]; do
    pgbench -n -h 127.0.0.1 -p "$SP_PORT" -U sp_scram "$@" -T "$left" sp_db >>"$log" 2>&1 || true
  done
}
pgbench_loop "$WORK/pgbench-prepared.log" -M prepared -S -c 16 -j 4 &
LOAD_PIDS+=($!)
pgbench_loop "$WORK/pgbench-connect.log" -C -c 4 -j 2 &
LOAD_PIDS+=($!)

cat >"$WORK/chaos.py" <<'PY'
# Cancels queries at random moments and drops connections in the middle of queries and
# transactions, from several threads, until the deadline.
import os, random, socket, sys, threading, time
import psycopg
port, seconds = int(sys.argv[1]), float(sys.argv[2])
dsn = f"host=127.0.0.1 port={port} dbname=sp_db user=sp_scram password=scram_pass sslmode=disable"
deadline = time.time() + seconds
counts = {"cancels": 0, "drops": 0, "errors": 0}
lock = threading.Lock()
def count(k):
    with lock: counts[k] += 1
def canceller():
    while time.time() < deadline:
        try:
            with psycopg.connect(dsn, autocommit=True) as c:
                for _ in range(5):
                    t = threading.Timer(random.uniform(0.0, 0.3), c.cancel)
                    t.start()
                    try: c.execute("SELECT pg_sleep(0.2)")
                    except psycopg.Error: pass
                    t.join()
                    count("cancels")
        except psycopg.Error: count("errors")
def dropper():
    while time.time() < deadline:
        try:
            c = psycopg.connect(dsn)
            if random.random() < 0.5: c.execute("SELECT count(*) FROM pgbench_accounts")
            s = socket.socket(fileno=os.dup(c.fileno()))
            def drop(): s.shutdown(socket.SHUT_RDWR)
            t = threading.Timer(random.uniform(0.0, 0.2), drop)
            t.start()
            try: c.execute("SELECT pg_sleep(0.3)")
            except psycopg.Error: pass
            t.join(); s.close(); c.close()
            count("drops")
        except psycopg.Error: count("errors")
threads = [threading.Thread(target=f) for f in (canceller, canceller, dropper, dropper)]
for t in threads: t.start()
for t in threads: t.join()
print(counts)
PY
/usr/bin/python3 "$WORK/chaos.py" "$SP_PORT" "$SECS" >"$WORK/chaos.log" 2>&1 &
LOAD_PIDS+=($!)

(
  size=8
  end=$(($(date +%s) + SECS))
  while [ "$(date +%s)" -lt "$end" ]; do
    sleep 1.5
    size=$((size == 8 ? 6 : 8))
    write_config "$size"
    kill -HUP "$SP_PID"
  done
) >"$WORK/reload.log" 2>&1 &
LOAD_PIDS+=($!)
(
  end=$(($(date +%s) + SECS))
  while [ "$(date +%s)" -lt "$end" ]; do
    curl -s -o /dev/null -w '%{http_code}\n' "http://127.0.0.1:$METRICS_PORT/metrics" || true
    PGPASSWORD=admin_pass psql -X -q -h 127.0.0.1 -p "$SP_PORT" -U sp_admin -d shardpool \
      -c "SHOW POOLS" -c "SHOW CLIENTS" -c "SHOW SERVERS" -c "SHOW STATS" >/dev/null || true
    sleep 0.3
  done
) >"$WORK/observe.log" 2>&1 &
LOAD_PIDS+=($!)

load_ok=1
for p in "${LOAD_PIDS[@]}"; do wait "$p" || load_ok=0; done
LOAD_PIDS=()
echo "tsan: load done; stopping shardpool"
kill -TERM "$SP_PID"
sp_rc=0
for _ in $(seq 600); do kill -0 "$SP_PID" 2>/dev/null || break; sleep 0.1; done
wait "$SP_PID" || sp_rc=$?
SP_PID=""

txns() {
  sed -n 's/^number of transactions actually processed: \([0-9]*\).*/\1/p' "$1" |
    awk '{ n += $1 } END { print n + 0 }'
}
echo "tsan: pgbench -M prepared -S: $(txns "$WORK/pgbench-prepared.log") transactions;" \
  "pgbench -C: $(txns "$WORK/pgbench-connect.log") transactions; chaos: $(tail -n1 "$WORK/chaos.log");" \
  "scrapes: $(grep -c '^200$' "$WORK/observe.log" || true) ok; shardpool exit status $sp_rc"
status=0
if [ "$(txns "$WORK/pgbench-prepared.log")" -eq 0 ]; then
  echo "tsan: the pgbench load did not run:" >&2
  tail -n 20 "$WORK/pgbench-prepared.log" >&2
  status=1
fi
[ "$load_ok" -eq 1 ] || echo "tsan: note: a load process ended with an error"
# Not a TSan matter, but worth seeing: pgbench never cancels, so a pgbench query canceled "due to
# user request" was hit by a CancelRequest the chaos client sent for its own query.
stray=$(cat "$WORK"/pgbench-*.log | grep -c 'canceling statement due to user request' || true)
if [ "$stray" -gt 0 ]; then
  echo "tsan: note: $stray pgbench queries were canceled by another client's CancelRequest"
fi

reports=$(cat "$REPORTS"/tsan.* 2>/dev/null | grep -c '^WARNING: ThreadSanitizer' || true)
if [ "$reports" -gt 0 ] || [ "$sp_rc" -eq 66 ]; then
  echo "tsan: $reports ThreadSanitizer report(s) in $REPORTS:" >&2
  cat "$REPORTS"/tsan.* | grep -E '^(WARNING|SUMMARY): ThreadSanitizer' | sort | uniq -c | sort -rn >&2
  status=1
else
  echo "tsan: no ThreadSanitizer report"
fi
if grep -q 'Matched [0-9]* suppressions' "$REPORTS"/tsan.* 2>/dev/null; then
  echo "tsan: suppressed as explained in scripts/tsan-suppressions.txt:"
  grep -h -A5 'Matched [0-9]* suppressions' "$REPORTS"/tsan.* | grep -E '^ *[0-9]+ ' || true
fi
exit "$status"
