#!/usr/bin/env bash
# Demo: build shardpool, start a throwaway PostgreSQL 15, put shardpool in front of it, run
# pgbench through it, then keep shardpool running for you to connect with psql until Ctrl-C.
#   DEMO_SECONDS=N   exit by itself after N seconds instead of waiting for Ctrl-C
#   DEMO_CLIENTS=N   pgbench clients (default 5, the pool size; see below)
#   BUILD_DIR        build directory (default: build)
# Everything it starts is stopped, and its temp directory removed, on exit.
set -euo pipefail
# shellcheck source=scripts/lib.sh
source "$(dirname "${BASH_SOURCE[0]}")/lib.sh"

POOL_SIZE=5
# Session mode: a client holds a server from login to logout, so clients beyond the pool size
# wait at login (up to query_wait_timeout). pgbench logs in all its clients before starting, so
# the demo runs as many clients as there are servers.
CLIENTS=${DEMO_CLIENTS:-$POOL_SIZE}
DEMO_SECONDS=${DEMO_SECONDS:-}

sp_build
BIN=$SP_BUILD_DIR/shardpool
ulimit -n 20000 2>/dev/null || true

WORK=$(mktemp -d /tmp/shardpool-demo.XXXXXX)
SP_PID=""
TAIL_PID=""
cleanup() {
  local rc=$?
  trap - EXIT INT TERM
  [ -n "$TAIL_PID" ] && kill "$TAIL_PID" 2>/dev/null || true
  sp_stop_pid "$SP_PID" 10
  "$SP_ROOT/scripts/pg-cluster.sh" stop "$WORK/pg" >/dev/null 2>&1 || true
  rm -rf "$WORK"
  echo "demo: stopped shardpool and PostgreSQL, removed $WORK"
  exit "$rc"
}
trap cleanup EXIT
trap 'exit 130' INT
trap 'exit 143' TERM

echo "demo: starting PostgreSQL 15"
"$SP_ROOT/scripts/pg-cluster.sh" start "$WORK/pg" >/dev/null
PGPORT=$(sp_env_get "$WORK/pg/env" PGPORT)
PORT=$(sp_free_port)

cat >"$WORK/shardpool.toml" <<EOF
[general]
listen_addr = "127.0.0.1"
listen_port = $PORT
pool_mode = "session"
default_pool_size = $POOL_SIZE
auth_type = "scram-sha-256"
log_level = "info"

[databases.sp_db]
host = "127.0.0.1"
port = $PGPORT
dbname = "sp_db"

[users.sp_scram]
password = "scram_pass"
EOF

echo "demo: starting shardpool on 127.0.0.1:$PORT -> PostgreSQL on 127.0.0.1:$PGPORT"
"$BIN" -c "$WORK/shardpool.toml" >"$WORK/shardpool.log" 2>&1 &
SP_PID=$!
if ! sp_wait_port "$PORT" 10 "$SP_PID"; then
  echo "demo: shardpool did not start; its log:" >&2
  cat "$WORK/shardpool.log" >&2
  exit 1
fi

export PGPASSWORD=scram_pass PGSSLMODE=disable PGCONNECT_TIMEOUT=10
PSQL="PGPASSWORD=scram_pass psql -h 127.0.0.1 -p $PORT -U sp_scram sp_db"
cat <<EOF

Connect through shardpool with:
  $PSQL

EOF

echo "demo: pgbench -i -s 1 (through shardpool)"
timeout 120 pgbench -i -s 1 -h 127.0.0.1 -p "$PORT" -U sp_scram sp_db 2>&1 | sed 's/^/  /'
echo
echo "demo: pgbench -c $CLIENTS -T 5 -S (select-only, through shardpool, pool_size $POOL_SIZE, session mode)"
timeout 120 pgbench -c "$CLIENTS" -j 2 -T 5 -S -h 127.0.0.1 -p "$PORT" -U sp_scram sp_db 2>&1 |
  sed 's/^/  /'
echo

if [ -n "$DEMO_SECONDS" ]; then
  echo "demo: shardpool keeps running for $DEMO_SECONDS s (DEMO_SECONDS); its log follows"
else
  echo "demo: shardpool is running; press Ctrl-C to stop it and PostgreSQL. Its log follows:"
fi
echo "  (connect with: $PSQL)"
tail -n 0 -f "$WORK/shardpool.log" &
TAIL_PID=$!

if [ -n "$DEMO_SECONDS" ]; then
  end=$((SECONDS + DEMO_SECONDS))
  while [ "$SECONDS" -lt "$end" ] && kill -0 "$SP_PID" 2>/dev/null; do sleep 0.2; done
else
  wait "$SP_PID" || true
fi
if ! kill -0 "$SP_PID" 2>/dev/null; then
  echo "demo: shardpool exited by itself" >&2
fi
