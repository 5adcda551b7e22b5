#!/usr/bin/env bash
# Failover benchmark: a primary with a synchronous streaming standby, shardpool in front with
# health checks and auto_promote, writers inserting through it; the primary is killed (SIGKILL of
# the whole server) and the time to the first acknowledged write afterwards is measured. Several
# runs; prints each and the median, with client-visible errors and closed client connections.
#   BENCH_RUNS     runs (default 5)
#   BENCH_CLIENTS  writers (default 8)
#   BUILD_DIR      build directory (default: build)
set -euo pipefail
# shellcheck source=scripts/lib.sh
source "$(dirname "${BASH_SOURCE[0]}")/lib.sh"

RUNS=${BENCH_RUNS:-5}
CLIENTS=${BENCH_CLIENTS:-8}
sp_build
BIN=$SP_BUILD_DIR/shardpool
PY=/usr/bin/python3
WORK=$(mktemp -d /tmp/shardpool-failover.XXXXXX)
chmod 755 "$WORK"
SP_PID=""
cleanup() {
  local rc=$?
  trap - EXIT INT TERM
  [ -n "$SP_PID" ] && sp_stop_pid "$SP_PID" 10
  "$SP_ROOT/scripts/pg-cluster.sh" stop "$WORK/standby" >/dev/null 2>&1 || true
  "$SP_ROOT/scripts/pg-cluster.sh" stop "$WORK/primary" >/dev/null 2>&1 || true
  rm -rf "$WORK"
  exit "$rc"
}
trap cleanup EXIT
trap 'exit 130' INT
trap 'exit 143' TERM

# Stops shardpool and both servers of one run.
end_run() {
  sp_stop_pid "$SP_PID" 10
  SP_PID=""
  rm -f "$WORK/started"
  "$SP_ROOT/scripts/pg-cluster.sh" stop "$WORK/standby" >/dev/null
  "$SP_ROOT/scripts/pg-cluster.sh" stop "$WORK/primary" >/dev/null
}

results=()
for run in $(seq "$RUNS"); do
  "$SP_ROOT/scripts/pg-cluster.sh" start "$WORK/primary" >/dev/null
  "$SP_ROOT/scripts/pg-cluster.sh" standby "$WORK/primary" "$WORK/standby" >/dev/null
  PPORT=$(sp_env_get "$WORK/primary/env" PGPORT)
  SPORT=$(sp_env_get "$WORK/standby/env" PGPORT)
  SNAME=$(sp_env_get "$WORK/standby/env" STANDBY_NAME)
  PGPASSWORD=admin_pass psql -X -q -h 127.0.0.1 -p "$PPORT" -U sp_admin sp_db <<EOF
ALTER SYSTEM SET synchronous_standby_names = '$SNAME';
ALTER SYSTEM SET synchronous_commit = 'on';
SELECT pg_reload_conf();
CREATE TABLE acks (id bigint PRIMARY KEY);
EOF
  LPORT=$(sp_free_port)
  cat >"$WORK/shardpool.toml" <<EOF
[general]
listen_port = $LPORT
pool_mode = "transaction"
health_check_interval = "200ms"
health_check_failures = 2
failover_wait_timeout = "30s"
auto_promote = true
[databases.sp_db]
port = $PPORT
user = "sp_admin"
password = "admin_pass"
replicas = [ { host = "127.0.0.1", port = $SPORT } ]
[users.app]
password = "app_pass"
EOF
  "$BIN" -c "$WORK/shardpool.toml" >"$WORK/shardpool.log" 2>&1 &
  SP_PID=$!
  sp_wait_port "$LPORT" 10
  timeout 60 "$PY" "$SP_ROOT/scripts/bench_failover_writer.py" \
    "host=127.0.0.1 port=$LPORT dbname=sp_db user=app password=app_pass" "$CLIENTS" 6 \
    "$WORK/started" >"$WORK/result.json" &
  WPID=$!
  while [ ! -f "$WORK/started" ]; do sleep 0.05; done
  sleep 2
  KILL_AT=$(date +%s.%N)
  "$SP_ROOT/scripts/pg-cluster.sh" crash "$WORK/primary"  # returns once every process is gone
  DEAD_AT=$(date +%s.%N)
  if ! wait "$WPID" || [ ! -s "$WORK/result.json" ]; then
    echo "run $run: the writers did not finish within 60 s (a client stalled after the failover)"
    results+=("stalled")
    end_run
    continue
  fi
  line=$("$PY" - "$WORK/result.json" "$KILL_AT" "$DEAD_AT" <<'EOF'
import json, sys
r = json.load(open(sys.argv[1])); kill, dead = float(sys.argv[2]), float(sys.argv[3])
# Writes acknowledged after the old primary was certainly gone were made on the new one.
after = [t for t in r["acks"] if t > dead]
first = (min(after) - kill) * 1000 if after else float("nan")
print(f"{first:.0f} {len(r['errors'])} {r['closed']} {len(r['acks'])}")
EOF
)
  read -r ms errs closed acks <<<"$line"
  echo "run $run: first write after the kill in $ms ms; $errs client-visible error(s); $closed client connection(s) closed; $acks writes acknowledged"
  results+=("$ms")
  end_run
done
median=$(printf '%s\n' "${results[@]}" | grep -v stalled | sort -n | awk '{a[NR]=$1} END {print (NR%2) ? a[(NR+1)/2] : (a[NR/2]+a[NR/2+1])/2}')
echo "failover: median time from SIGKILL of the primary to the first acknowledged write: $median ms ($RUNS runs, $CLIENTS writers)"
