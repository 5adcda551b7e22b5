#!/usr/bin/env bash
# Failover benchmark: a primary with a synchronous streaming hot standby, shardpool in front with
# health checks and auto_promote and a pool exactly as large as the number of writers (so a dead
# server that kept its pool slot would make a writer wait), writers inserting through it; the
# primary is killed (SIGKILL of the postmaster and all its children at once) and the time to the
# first write acknowledged by the new primary is measured, from the kill and from detection.
# Every run starts fresh clusters and a fresh shardpool. Prints a table of the runs with min,
# median and max, and exits 1 when a run had no write on the new primary within BENCH_MAX_MS of
# detection.
#
# Times (all on this machine's clock; shardpool's log lines carry milliseconds):
#   kill          just before kill -9 of the old primary's postmaster and children
#   detected      shardpool's log line "failover: sp_db/...: 127.0.0.1:OLD is down after N failed
#                 health checks" (the decision that starts the failover); "kill -> detected"
#                 includes the health checks that had to fail (health_check_failures)
#   write target  shardpool's "127.0.0.1:NEW is the write target" (after pg_promote())
#   first write   the first INSERT acknowledged to a writer whose RETURNING inet_server_port()
#                 is the standby's port: a write on the new primary (never one the old primary
#                 acknowledged late)
#   every writer  the moment by which every writer has had a write on the new primary
#
#   BENCH_RUNS       runs (default 8)
#   BENCH_CLIENTS    writers, each on its own client connection; also the pool_size (default 8)
#   BENCH_WARMUP     seconds of writing, once every writer has written, before the kill (default 1)
#   BENCH_MAX_MS     the most ms allowed from detection to the first write (default 1000)
#   SHARDPOOL_BIN    a shardpool binary to use instead of building one into BUILD_DIR
#   BUILD_DIR        build directory (default: build)
#   BENCH_KEEP_LOGS  a directory to copy each run's shardpool log and writer results into
#   BENCH_LOG_LEVEL  shardpool's log_level (default info)
# When the writers are still going 2 s after the kill (normally they are done in a few hundred ms:
# each stops after 5 writes on the new primary), the admin console's SHOW POOLS, SERVERS, CLIENTS
# and EVENTS are saved (and kept with BENCH_KEEP_LOGS) to show where the clients wait.
set -euo pipefail
# shellcheck source=scripts/lib.sh
source "$(dirname "${BASH_SOURCE[0]}")/lib.sh"

RUNS=${BENCH_RUNS:-8}
CLIENTS=${BENCH_CLIENTS:-8}
WARMUP=${BENCH_WARMUP:-1}
MAX_MS=${BENCH_MAX_MS:-1000}
KEEP=${BENCH_KEEP_LOGS:-}
LOG_LEVEL=${BENCH_LOG_LEVEL:-info}
if [ -n "${SHARDPOOL_BIN:-}" ]; then
  BIN=$SHARDPOOL_BIN
else
  sp_build
  BIN=$SP_BUILD_DIR/shardpool
fi
PY=/usr/bin/python3
REPORT=$SP_ROOT/scripts/bench_failover_report.py
WORK=$(mktemp -d /tmp/shardpool-failover.XXXXXX)
chmod 755 "$WORK"
[ -z "$KEEP" ] || mkdir -p "$KEEP"
SP_PID=""
WPID=""
cleanup() {
  local rc=$?
  trap - EXIT INT TERM
  if [ "$rc" -ne 0 ] && [ -s "$WORK/clusters.log" ]; then tail -n 20 "$WORK/clusters.log" >&2; fi
  [ -n "$WPID" ] && sp_stop_pid "$WPID" 2
  [ -n "$SP_PID" ] && sp_stop_pid "$SP_PID" 10
  "$SP_ROOT/scripts/pg-cluster.sh" stop "$WORK/standby" >/dev/null 2>&1 || true
  "$SP_ROOT/scripts/pg-cluster.sh" stop "$WORK/primary" >/dev/null 2>&1 || true
  rm -rf "$WORK"
  exit "$rc"
}
trap cleanup EXIT
trap 'exit 130' INT
trap 'exit 143' TERM

# Stops shardpool and both servers of one run; keeps its logs when asked.
end_run() {
  sp_stop_pid "$SP_PID" 10
  SP_PID=""
  if [ -n "$KEEP" ]; then
    cp "$WORK/shardpool.log" "$KEEP/run$1-shardpool.log"
    cp "$WORK/result.json" "$KEEP/run$1-writers.json" 2>/dev/null || true
    cp "$WORK/snapshot.txt" "$KEEP/run$1-snapshot.txt" 2>/dev/null || true
    printf 'kill_at=%s old_port=%s new_port=%s\n' "$KILL_AT" "$PPORT" "$SPORT" >"$KEEP/run$1-info"
  fi
  rm -f "$WORK/started" "$WORK/result.json" "$WORK/snapshot.txt"
  "$SP_ROOT/scripts/pg-cluster.sh" stop "$WORK/standby" >/dev/null
  "$SP_ROOT/scripts/pg-cluster.sh" stop "$WORK/primary" >/dev/null
}

: >"$WORK/runs.jsonl"
echo "failover: $RUNS runs, $CLIENTS writers, pool_size = $CLIENTS, $BIN"
for run in $(seq "$RUNS"); do
  KILL_AT=""
  "$SP_ROOT/scripts/pg-cluster.sh" start "$WORK/primary" >/dev/null 2>>"$WORK/clusters.log"
  "$SP_ROOT/scripts/pg-cluster.sh" standby "$WORK/primary" "$WORK/standby" >/dev/null \
    2>>"$WORK/clusters.log"
  PPORT=$(sp_env_get "$WORK/primary/env" PGPORT)
  SPORT=$(sp_env_get "$WORK/standby/env" PGPORT)
  SNAME=$(sp_env_get "$WORK/standby/env" STANDBY_NAME)
  PDATA=$(sp_env_get "$WORK/primary/env" DATA_DIR)
  PGPASSWORD=admin_pass psql -X -q -v ON_ERROR_STOP=1 -h 127.0.0.1 -p "$PPORT" -U sp_admin sp_db \
    >/dev/null <<SQL
ALTER SYSTEM SET synchronous_standby_names = '$SNAME';
ALTER SYSTEM SET synchronous_commit = 'on';
SELECT pg_reload_conf();
CREATE TABLE acks (id bigint PRIMARY KEY);
SQL
  LPORT=$(sp_free_port)
  cat >"$WORK/shardpool.toml" <<TOML
[general]
listen_port = $LPORT
pool_mode = "transaction"
health_check_interval = "200ms"
health_check_failures = 2
failover_wait_timeout = "30s"
auto_promote = true
log_level = "$LOG_LEVEL"
admin_users = ["ops"]
[databases.sp_db]
port = $PPORT
user = "sp_admin"
password = "admin_pass"
pool_size = $CLIENTS
replicas = [ { host = "127.0.0.1", port = $SPORT } ]
[users.app]
password = "app_pass"
[users.ops]
password = "ops_pass"
TOML
  "$BIN" -c "$WORK/shardpool.toml" >"$WORK/shardpool.log" 2>&1 &
  SP_PID=$!
  sp_wait_port "$LPORT" 10 "$SP_PID"
  # Each writer stops after 5 writes on the new primary, or after 40 s.
  timeout 60 "$PY" "$SP_ROOT/scripts/bench_failover_writer.py" \
    "host=127.0.0.1 port=$LPORT dbname=sp_db user=app password=app_pass" "$CLIENTS" 40 \
    "$SPORT" "$WORK/started" 5 >"$WORK/result.json" &
  WPID=$!
  for _ in $(seq 600); do
    [ -f "$WORK/started" ] || ! kill -0 "$WPID" 2>/dev/null && break
    sleep 0.05
  done
  if [ ! -f "$WORK/started" ]; then
    echo "run $run: the writers did not all get a first write through within 30 s" >&2
    exit 1
  fi
  sleep "$WARMUP"
  # The whole server at once, as when its machine dies: the postmaster and every child.
  PM=$(head -n1 "$PDATA/postmaster.pid")
  PIDS=$(pgrep -P "$PM" | tr '\n' ' ')
  KILL_AT=$EPOCHREALTIME
  # shellcheck disable=SC2086
  kill -9 "$PM" $PIDS
  "$SP_ROOT/scripts/pg-cluster.sh" crash "$WORK/primary"  # anything forked meanwhile; waits
  while kill -0 "$WPID" 2>/dev/null && (($(date +%s%N) / 1000 - ${KILL_AT/./} < 2000000)); do
    sleep 0.05
  done
  if kill -0 "$WPID" 2>/dev/null; then
    for cmd in POOLS SERVERS CLIENTS EVENTS; do
      echo "== $(date -u +%T.%N | cut -c1-12) SHOW $cmd"
      PGPASSWORD=ops_pass psql -X -h 127.0.0.1 -p "$LPORT" -U ops shardpool -c "SHOW $cmd" 2>&1
    done >"$WORK/snapshot.txt"
    pools=$(PGPASSWORD=ops_pass psql -X -A -F'|' -P footer=off -h 127.0.0.1 -p "$LPORT" -U ops \
      shardpool -c "SHOW POOLS" 2>&1 | awk -F'|' '
        NR == 1 { for (i = 1; i <= NF; i++) col[$i] = i; next }
        $1 == "sp_db" { printf "cl_waiting=%s sv_active=%s sv_idle=%s sv_login=%s slots=%s queued=%s held=%s stale_servers=%s",
          $col["cl_waiting"], $col["sv_active"], $col["sv_idle"], $col["sv_login"], $col["slots"],
          $col["queued"], $col["held"], $col["stale_servers"] }')
    echo "run $run: writers still waiting 2 s after the kill; SHOW POOLS: $pools"
  fi
  if ! wait "$WPID" || [ ! -s "$WORK/result.json" ]; then
    WPID=""
    echo "run $run: the writers did not finish within 60 s (a client stalled after the failover)"
    echo '{"stalled": "writers did not finish within 60 s"}' >>"$WORK/runs.jsonl"
    end_run "$run"
    continue
  fi
  WPID=""
  line=$("$PY" "$REPORT" run "$WORK/result.json" "$WORK/shardpool.log" "$KILL_AT" "$PPORT" "$SPORT")
  echo "$line" >>"$WORK/runs.jsonl"
  "$PY" - "$run" "$line" <<'PYEOF'
import json, sys
r = json.loads(sys.argv[2])
print(f"run {sys.argv[1]}: detected {r['kill_to_detected']} ms after the kill; first write on the "
      f"new primary {r['detected_to_first']} ms after detection ({r['kill_to_first']} ms after the "
      f"kill), every writer {r['detected_to_every']} ms; {r['errors']} client-visible error(s); "
      f"{r['closed']} client connection(s) closed")
PYEOF
  end_run "$run"
done
echo
echo "failover, $RUNS runs, $CLIENTS writers, pool_size = $CLIENTS (times in ms):"
"$PY" "$REPORT" table "$WORK/runs.jsonl" "$MAX_MS"
