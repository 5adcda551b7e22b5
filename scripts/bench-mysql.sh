#!/usr/bin/env bash
# MySQL-protocol benchmark: sysbench against a throwaway MariaDB 10.11 (scripts/mariadb-cluster.sh)
# directly, through shardpool in session pooling (one server per client), and through shardpool in
# transaction pooling with fewer servers than clients, in one run, the same workload each time.
# Prints TPS (and its ratio to direct), p95 latency, errors, and the CPU time per transaction
# of shardpool, MariaDB and sysbench side by side: on a machine they share, their sum is what
# one transaction costs, and it bounds the TPS.
# (ProxySQL, the reference MySQL pooler, is not packaged in Debian: it is not run here.)
#   BENCH_SECONDS   length of each sysbench run (default 10)
#   BENCH_THREADS   sysbench thread counts (default "16 100")
#   BENCH_POOL_SIZE transaction-pooling servers (default 4)
#   BENCH_TABLES, BENCH_TABLE_SIZE  sysbench data (default 4 tables of 10,000 rows)
#   BENCH_WORKLOADS sysbench tests (default "oltp_point_select oltp_read_only oltp_read_write")
#   BENCH_PS_MODES  --db-ps-mode values (default "auto disable": prepared statements or not)
#   BENCH_OUT       where raw outputs and shardpool's log go (default: $BUILD_DIR/bench-mysql)
#   BUILD_DIR       build directory (default: build)
# Everything shares this machine's cores (sysbench, MariaDB and shardpool): compare the columns
# within one run, not the absolute figures.
set -euo pipefail
# shellcheck source=scripts/lib.sh
source "$(dirname "${BASH_SOURCE[0]}")/lib.sh"

SECS=${BENCH_SECONDS:-10}
THREADS=${BENCH_THREADS:-16 100}
MAX_THREADS=0
for t in $THREADS; do [ "$t" -gt "$MAX_THREADS" ] && MAX_THREADS=$t; done
POOL=${BENCH_POOL_SIZE:-4}
TABLES=${BENCH_TABLES:-4}
TABLE_SIZE=${BENCH_TABLE_SIZE:-10000}
WORKLOADS=${BENCH_WORKLOADS:-oltp_point_select oltp_read_only oltp_read_write}
PS_MODES=${BENCH_PS_MODES:-auto disable}
OUT=${BENCH_OUT:-$SP_BUILD_DIR/bench-mysql}

sp_build
BIN=$SP_BUILD_DIR/shardpool
ulimit -n 20000 2>/dev/null || true
WORK=$(mktemp -d /tmp/shardpool-bench-mysql.XXXXXX)
chmod 755 "$WORK"
mkdir -p "$OUT"
SP_PID=""
cleanup() {
  local rc=$?
  trap - EXIT INT TERM
  [ -n "$SP_PID" ] && sp_stop_pid "$SP_PID" 10
  cp -f "$WORK"/*.log "$OUT"/ 2>/dev/null || true
  "$SP_ROOT/scripts/mariadb-cluster.sh" stop "$WORK/db" >/dev/null 2>&1 || true
  rm -rf "$WORK"
  exit "$rc"
}
trap cleanup EXIT
trap 'exit 130' INT
trap 'exit 143' TERM

echo "bench-mysql: MariaDB, sysbench $TABLES tables x $TABLE_SIZE rows, threads: $THREADS" >&2
"$SP_ROOT/scripts/mariadb-cluster.sh" start "$WORK/db" >/dev/null
DB_PORT=$(sp_env_get "$WORK/db/env" MYSQL_PORT)
PASS=$(sp_env_get "$WORK/db/env" SP_APP_PASSWORD)
MY_PORT=$(sp_free_port)
PG_PORT=$(sp_free_port)
cat >"$WORK/shardpool.toml" <<TOML
[general]
listen_addr = "127.0.0.1"
listen_port = $PG_PORT
mysql_listen_port = $MY_PORT
log_level = "warn"

# One MariaDB database under two names: a server per client, and a few shared.
[databases.session]
protocol = "mysql"
host = "127.0.0.1"
port = $DB_PORT
dbname = "sp_db"
pool_mode = "session"
pool_size = $((MAX_THREADS + 4))

[databases.transaction]
protocol = "mysql"
host = "127.0.0.1"
port = $DB_PORT
dbname = "sp_db"
pool_mode = "transaction"
pool_size = $POOL

[users.sp_app]
password = "$PASS"
TOML
"$BIN" -c "$WORK/shardpool.toml" >"$WORK/shardpool.log" 2>&1 &
SP_PID=$!
if ! sp_wait_port "$MY_PORT" 10 "$SP_PID"; then
  echo "bench-mysql: shardpool did not start" >&2
  cat "$WORK/shardpool.log" >&2
  exit 1
fi

sb() {  # sb PORT DB ARGS...
  local port=$1 db=$2
  shift 2
  sysbench --mysql-host=127.0.0.1 --mysql-port="$port" --mysql-user=sp_app \
    --mysql-password="$PASS" --mysql-db="$db" --tables="$TABLES" --table-size="$TABLE_SIZE" "$@"
}
sb "$DB_PORT" sp_db oltp_read_write prepare >"$WORK/prepare.log" 2>&1

DB_PID=$(cat "$(sp_env_get "$WORK/db/env" PID_FILE)")
cpu_ticks() { awk '{print $14 + $15}' "/proc/$1/stat"; }
TICK=$(getconf CLK_TCK)
per_tx() {  # per_tx TICKS TRANSACTIONS -> µs per transaction
  awk -v t="$1" -v n="$2" -v k="$TICK" 'BEGIN {printf "%.1f", t * 1e6 / k / n}'
}

# run NAME PORT DB WORKLOAD PSMODE THREADS
#   -> "TPS P95 ERRORS SHARDPOOL_US_PER_TX MARIADB_US_PER_TX SYSBENCH_US_PER_TX"
run() {
  local name=$1 port=$2 db=$3 workload=$4 ps=$5 threads=$6 raw="$OUT/$1.txt"
  local before after db_before db_after tps p95 err tx
  before=$(cpu_ticks "$SP_PID")
  db_before=$(cpu_ticks "$DB_PID")
  # sysbench's own CPU: the subshell's children's times (bash's `times`, second line).
  if ! (sb "$port" "$db" "$workload" --threads="$threads" --time="$SECS" --db-ps-mode="$ps" \
    --mysql-ignore-errors=1213,1205 --percentile=95 run >"$raw" 2>&1; rc=$?
    times >"$raw.times"; exit $rc); then
    echo "bench-mysql: $name failed; last lines of $raw:" >&2
    tail -n 5 "$raw" | sed 's/^/  /' >&2
    echo "FAIL FAIL FAIL FAIL FAIL FAIL"
    return
  fi
  after=$(cpu_ticks "$SP_PID")
  db_after=$(cpu_ticks "$DB_PID")
  tps=$(sed -n 's/^ *transactions: *[0-9]* *(\([0-9.]*\) per sec.*/\1/p' "$raw")
  tx=$(sed -n 's/^ *transactions: *\([0-9]*\) .*/\1/p' "$raw")
  p95=$(sed -n 's/^ *95th percentile: *\([0-9.]*\).*/\1/p' "$raw")
  err=$(sed -n 's/^ *ignored errors: *\([0-9]*\) .*/\1/p' "$raw")
  local cpu="-" dbcpu="-" sbcpu="-"
  if [ "${tx:-0}" -gt 0 ]; then
    [ "$port" = "$MY_PORT" ] && cpu=$(per_tx "$((after - before))" "$tx")
    dbcpu=$(per_tx "$((db_after - db_before))" "$tx")
    # "0m1.234s 0m0.567s" -> seconds, user + system
    sbcpu=$(awk -v n="$tx" 'NR == 2 {
        split($1, u, /[ms]/); split($2, s, /[ms]/)
        printf "%.1f", ((u[1] + s[1]) * 60 + u[2] + s[2]) * 1e6 / n }' "$raw.times")
  fi
  echo "${tps:-?} ${p95:-?} ${err:-0} $cpu $dbcpu $sbcpu"
}

echo "bench-mysql: warm-up" >&2
sb "$DB_PORT" sp_db oltp_read_only --threads=16 --time=2 run >/dev/null 2>&1 || true
sb "$MY_PORT" transaction oltp_read_only --threads=16 --time=2 run >/dev/null 2>&1 || true

echo
echo "sysbench, ${SECS}s per run; transaction pooling with $POOL servers"
echo
echo "| threads | workload | prepared | target | TPS | x direct | p95 ms | ignored errors | CPU µs/tx: shardpool | MariaDB | sysbench | all |"
echo "| ---: | --- | --- | --- | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: |"
for threads in $THREADS; do
  for w in $WORKLOADS; do
    for ps in $PS_MODES; do
      direct_tps=""
      for target in direct session transaction; do
        case $target in
          direct) port=$DB_PORT db=sp_db ;;
          session) port=$MY_PORT db=session ;;
          transaction) port=$MY_PORT db=transaction ;;
        esac
        label=$([ "$ps" = auto ] && echo yes || echo no)
        read -r tps p95 err cpu dbcpu sbcpu < <(run "$threads-$w-$ps-$target" "$port" "$db" "$w" "$ps" "$threads")
        [ "$target" = direct ] && direct_tps=$tps
        ratio=$(awk -v a="$tps" -v b="$direct_tps" 'BEGIN { if (b + 0 > 0 && a + 0 > 0) printf "%.2f", a / b; else print "-" }')
        all=$(awk -v a="$cpu" -v b="$dbcpu" -v c="$sbcpu" 'BEGIN { if (b == "-" || c == "-") print "-"; else printf "%.1f", (a == "-" ? 0 : a) + b + c }')
        echo "| $threads | $w | $label | $target | $tps | $ratio | $p95 | $err | $cpu | $dbcpu | $sbcpu | $all |"
      done
    done
  done
done
