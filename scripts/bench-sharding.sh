#!/usr/bin/env bash
# Shard-routing benchmark: single-key reads and writes through shardpool to a database sharded
# over two PostgreSQL servers (modulo on aid) vs the same workload through shardpool to an
# unsharded database (on the first of the two servers), transaction pooling both. Prints TPS and
# mean latency side by side and the cost of the sharded path per query in µs (the difference of
# the mean latencies): parsed queries (the key read from the statement, or from the Bind value)
# and hinted ones (/* shard: N */). Then the router's own parse cost, from the unit tests'
# micro-benchmark when that binary is built.
#   BENCH_SECONDS  length of each pgbench run (default 10; 10 runs, about 2 minutes in all)
#   BENCH_CLIENTS  pgbench clients (default 1: the difference of latencies is then the added
#                  latency per query; more clients measure throughput under contention)
#   BENCH_SCALE    pgbench scale: 100,000 accounts each (default 1)
#   BENCH_OUT      where raw pgbench outputs and logs are kept (default: $BUILD_DIR/bench-sharding)
#   BUILD_DIR      build directory (default: build)
# Everything shares this machine's cores, so absolute figures mean little; the difference between
# the columns is the figure to watch.
set -euo pipefail
# shellcheck source=scripts/lib.sh
source "$(dirname "${BASH_SOURCE[0]}")/lib.sh"

SECS=${BENCH_SECONDS:-10}
CLIENTS=${BENCH_CLIENTS:-1}
SCALE=${BENCH_SCALE:-1}
OUT=${BENCH_OUT:-$SP_BUILD_DIR/bench-sharding}
NACCOUNTS=$((SCALE * 100000))
RUN_TIMEOUT=$((SECS + 60))
THREADS=$((CLIENTS < 2 ? 1 : 2))

sp_build
BIN=$SP_BUILD_DIR/shardpool
ulimit -n 20000 2>/dev/null || ulimit -n "$(ulimit -Hn)" 2>/dev/null || true

WORK=$(mktemp -d /tmp/shardpool-bench-sharding.XXXXXX)
chmod 755 "$WORK"
mkdir -p "$OUT"
SP_PID=""
cleanup() {
  local rc=$?
  trap - EXIT INT TERM
  [ -n "$SP_PID" ] && sp_stop_pid "$SP_PID" 10
  cp -f "$WORK"/*.log "$OUT"/ 2>/dev/null || true
  "$SP_ROOT/scripts/pg-cluster.sh" stop "$WORK/s0" >/dev/null 2>&1 || true
  "$SP_ROOT/scripts/pg-cluster.sh" stop "$WORK/s1" >/dev/null 2>&1 || true
  rm -rf "$WORK"
  exit "$rc"
}
trap cleanup EXIT
trap 'exit 130' INT
trap 'exit 143' TERM

echo "bench-sharding: two PostgreSQL 15 servers, pgbench scale $SCALE ($NACCOUNTS accounts)" >&2
"$SP_ROOT/scripts/pg-cluster.sh" start "$WORK/s0" >/dev/null
"$SP_ROOT/scripts/pg-cluster.sh" start "$WORK/s1" >/dev/null
P0=$(sp_env_get "$WORK/s0/env" PGPORT)
P1=$(sp_env_get "$WORK/s1/env" PGPORT)
export PGSSLMODE=disable PGGSSENCMODE=disable PGCONNECT_TIMEOUT=30

# Unsharded: sp_db on the first server, all accounts. Sharded: database sh on both servers, each
# keeping the accounts of its shard (aid % 2).
PGPASSWORD=scram_pass pgbench -i -q -s "$SCALE" -h 127.0.0.1 -p "$P0" -U sp_scram sp_db \
  >"$WORK/init-unsharded.log" 2>&1
shard=0
for port in "$P0" "$P1"; do
  PGPASSWORD=admin_pass psql -X -q -v ON_ERROR_STOP=1 -h 127.0.0.1 -p "$port" -U sp_admin sp_db \
    -c "CREATE DATABASE sh OWNER sp_scram" >/dev/null
  PGPASSWORD=scram_pass pgbench -i -q -s "$SCALE" -h 127.0.0.1 -p "$port" -U sp_scram sh \
    >"$WORK/init-s$shard.log" 2>&1
  PGPASSWORD=scram_pass psql -X -q -v ON_ERROR_STOP=1 -h 127.0.0.1 -p "$port" -U sp_scram sh \
    -c "DELETE FROM pgbench_accounts WHERE aid % 2 <> $shard" -c "VACUUM ANALYZE pgbench_accounts" \
    >/dev/null
  shard=$((shard + 1))
done

SP_PORT=$(sp_free_port)
cat >"$WORK/shardpool.toml" <<TOML
[general]
listen_addr = "127.0.0.1"
listen_port = $SP_PORT
pool_mode = "transaction"
default_pool_size = 8
auth_type = "scram-sha-256"
log_level = "warn"

[databases.unsharded]
host = "127.0.0.1"
port = $P0
dbname = "sp_db"

[databases.sharded]
host = "127.0.0.1"
dbname = "sh"
sharding_function = "modulo"
default_shard = 0

[[databases.sharded.shards]]
name = "s0"
port = $P0

[[databases.sharded.shards]]
name = "s1"
port = $P1

[databases.sharded.tables]
pgbench_accounts = { key = "aid" }
pgbench_history = { key = "aid" }

[users.sp_scram]
password = "scram_pass"
TOML
"$BIN" -c "$WORK/shardpool.toml" >"$WORK/shardpool.log" 2>&1 &
SP_PID=$!
if ! sp_wait_port "$SP_PORT" 10 "$SP_PID"; then
  echo "bench-sharding: shardpool did not start" >&2
  cat "$WORK/shardpool.log" >&2
  exit 1
fi
export PGPASSWORD=scram_pass

# run_pgbench NAME DB ARGS... -> prints "TPS LAT" (or "FAIL FAIL") and keeps the raw output.
run_pgbench() {
  local name=$1 db=$2
  shift 2
  local raw="$OUT/$name.txt" tps lat
  if timeout "$RUN_TIMEOUT" pgbench -n -h 127.0.0.1 -p "$SP_PORT" -U sp_scram -c "$CLIENTS" \
    -j "$THREADS" -T "$SECS" -D naccounts="$NACCOUNTS" "$@" "$db" >"$raw" 2>&1 &&
    ! grep -q "number of failed transactions: [1-9]" "$raw"; then
    tps=$(sed -n 's/^tps = \([0-9.]*\).*/\1/p' "$raw" | head -n1)
    lat=$(sed -n 's/^latency average = \([0-9.]*\) ms.*/\1/p' "$raw" | head -n1)
    echo "${tps:-FAIL} ${lat:-FAIL}"
  else
    echo "bench-sharding: $name failed; last lines of $raw:" >&2
    tail -n 5 "$raw" | sed 's/^/  /' >&2
    echo "FAIL FAIL"
  fi
}

S=$SP_ROOT/scripts/bench_sharding.pgbench
# Warm-up (not reported): servers, caches and both pools, so the first row is not the slowest.
echo "bench-sharding: warm-up, 2s per database" >&2
for db in unsharded sharded; do
  run_pgbench "warmup-$db" "$db" -M extended -f "$S.select" -T 2 >/dev/null
done

declare -a ROWS=()
# run_workload LABEL TAG ARGS... : the same pgbench run on the unsharded and the sharded database.
run_workload() {
  local label=$1 tag=$2
  shift 2
  echo "bench-sharding: $label, ${SECS}s each: unsharded, sharded" >&2
  local u s
  u=$(run_pgbench "unsharded-$tag" unsharded "$@")
  s=$(run_pgbench "sharded-$tag" sharded "$@")
  ROWS+=("$label|$u|$s")
}
run_workload "SELECT by aid, extended" select-ext -M extended -f "$S.select"
run_workload "SELECT by aid, simple" select-simple -M simple -f "$S.select"
run_workload "INSERT by aid, extended" insert-ext -M extended -f "$S.insert"
run_workload "SELECT /* shard: N */, extended" hinted-ext -M extended -f "$S.hinted-s0" -f "$S.hinted-s1"
run_workload "SELECT /* shard: N */, simple" hinted-simple -M simple -f "$S.hinted-s0" -f "$S.hinted-s1"

cell() {  # "TPS LAT" -> "12345 / 0.123 ms"
  local tps=${1%% *} lat=${1##* }
  case "$tps" in
    FAIL) echo "FAIL" ;;
    *) printf '%.0f / %s ms' "$tps" "$lat" ;;
  esac
}
cost() {  # unsharded and sharded "TPS LAT" -> "+12.3 µs"
  local lu=${1##* } ls=${2##* }
  if [ "$lu" = FAIL ] || [ "$ls" = FAIL ]; then echo "-"; else
    awk -v u="$lu" -v s="$ls" 'BEGIN { printf "%+.1f µs", (s - u) * 1000 }'
  fi
}

echo
echo "Through shardpool (transaction pooling, pool size 8 per shard), $CLIENTS client(s), -T $SECS,"
echo "$(nproc) cores shared by everything. Unsharded: one server. Sharded: modulo on aid over two"
echo "servers (the unsharded one and a second), each holding only its accounts."
echo "Sharded path cost = sharded mean latency - unsharded mean latency, per query (one query per"
echo "transaction). Extended mode sends one statement text (cached analysis, key from the Bind"
echo "value); simple mode sends a new text per aid (parsed each time). Hinted queries are still"
echo "analysed: the comment hint decides, but the statement is parsed as well."
echo
fmt='%-32s | %-22s | %-22s | %s\n'
printf "$fmt" "workload" "unsharded TPS / lat" "sharded TPS / lat" "sharded path cost"
printf "$fmt" "--------------------------------" "----------------------" "----------------------" "-----------------"
status=0
for row in "${ROWS[@]}"; do
  IFS='|' read -r label u s <<<"$row"
  printf "$fmt" "$label" "$(cell "$u")" "$(cell "$s")" "$(cost "$u" "$s")"
  case "$u $s" in *FAIL*) status=1 ;; esac
done

UNIT=$SP_BUILD_DIR/tests/unit_tests
echo
if [ -x "$UNIT" ]; then
  echo "Router analysis cost per statement (libpg_query parse + key extraction, and a cache hit),"
  echo "from $UNIT \"analyze: micro-benchmark\":"
  "$UNIT" "analyze: micro-benchmark" 2>&1 | grep -E ' us ' | sed 's/^/  /' || true
else
  echo "Router parse cost: build the unit tests (cmake --build $SP_BUILD_DIR --target unit_tests)"
  echo "and run: $UNIT \"analyze: micro-benchmark\""
fi
echo
echo "Raw pgbench output and logs: $OUT"
exit "$status"
