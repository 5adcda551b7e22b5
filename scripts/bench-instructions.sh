#!/usr/bin/env bash
# User-space instructions per transaction of shardpool and PgBouncer (Debian's package), side by
# side, counted by valgrind's callgrind: exact and nearly immune to a busy machine, unlike TPS.
# Each pooler runs under callgrind twice per protocol, with `pgbench -S -t N` for two values of
# N and the same clients; the difference of the two totals divided by the difference of the
# transactions is the cost of one transaction, with start-up and logins cancelled out. Also
# prints the malloc calls and mutex locks per transaction the same way.
#
# Knobs: INSTR_CLIENTS (16), INSTR_POOL (4: fewer servers than clients, so servers change
# hands), INSTR_MODES ("simple extended"), INSTR_TXNS ("200 600": transactions per client of
# the two runs), SHARDPOOL_BIN (else built into BUILD_DIR), PGBOUNCER, PGBENCH.
set -euo pipefail
# shellcheck source=scripts/lib.sh
source "$(dirname "${BASH_SOURCE[0]}")/lib.sh"

CLIENTS=${INSTR_CLIENTS:-16}
POOL=${INSTR_POOL:-4}
MODES=${INSTR_MODES:-simple extended}
read -r N1 N2 <<<"${INSTR_TXNS:-200 600}"
PGBENCH=${PGBENCH:-pgbench}
PGBOUNCER=${PGBOUNCER:-pgbouncer}
command -v valgrind >/dev/null || { echo "bench-instructions: valgrind is not installed" >&2; exit 2; }

if [ -n "${SHARDPOOL_BIN:-}" ]; then BIN=$SHARDPOOL_BIN; else sp_build; BIN=$SP_BUILD_DIR/shardpool; fi
WORK=$(mktemp -d /tmp/shardpool-instr.XXXXXX)
chmod 755 "$WORK"
POOLER_PID=""
cleanup() {
  [ -n "$POOLER_PID" ] && kill -KILL "$POOLER_PID" 2>/dev/null
  "$SP_ROOT/scripts/pg-cluster.sh" stop "$WORK/pg" >/dev/null 2>&1 || true
  rm -rf "$WORK"
}
trap cleanup EXIT
PG_CLUSTER_PGBENCH_SCALE=1 "$SP_ROOT/scripts/pg-cluster.sh" start "$WORK/pg" >/dev/null
PGPORT=$(sp_env_get "$WORK/pg/env" PGPORT)
export PGPASSWORD=scram_pass PGSSLMODE=disable PGGSSENCMODE=disable

# calls_of FUNCTION_REGEX CALLGRIND_OUT: how many times the function was called (the call counts
# of its callers in callgrind's caller tree).
calls_of() {
  callgrind_annotate --tree=caller "$2" 2>/dev/null | FN="$1" awk '
    /^$/ { n = 0; next }
    $0 ~ ("\\*  .*" ENVIRON["FN"]) { for (i = 0; i < n; i++) s += c[i]; n = 0; next }
    / < / { if (match($0, /\(([0-9,]+)x\)/)) { v = substr($0, RSTART + 1, RLENGTH - 3); gsub(",", "", v); c[n++] = v } }
    END { print s + 0 }'
}

# run_under WHO MODE TXNS: Ir, malloc calls and mutex locks of one run ("IR MALLOCS LOCKS").
run_under() {
  local who=$1 mode=$2 txns=$3 port out=$WORK/cg.$1.$2.$3 vg
  port=$(sp_free_port)
  vg=(valgrind --tool=callgrind --callgrind-out-file="$out" --dump-line=no)
  if [ "$who" = shardpool ]; then
    "${vg[@]}" "$BIN" --listen "127.0.0.1:$port" \
      --backend "postgres://sp_scram:scram_pass@127.0.0.1:$PGPORT/sp_db" \
      --pool-mode transaction --pool-size "$POOL" --workers 1 --log-level warn \
      >"$WORK/pooler.log" 2>&1 &
  else
    sp_pgbouncer_config "$WORK/pgb" "$port" "$PGPORT" transaction "$POOL" 1000
    if [ "$(id -u)" -eq 0 ]; then
      chown -R postgres:postgres "$WORK/pgb"
      touch "$out" && chown postgres "$out"
      runuser -u postgres -- "${vg[@]}" "$PGBOUNCER" "$WORK/pgb/pgbouncer.ini" >"$WORK/pooler.log" 2>&1 &
    else
      "${vg[@]}" "$PGBOUNCER" "$WORK/pgb/pgbouncer.ini" >"$WORK/pooler.log" 2>&1 &
    fi
  fi
  POOLER_PID=$!
  sp_wait_port "$port" 60 || { cat "$WORK/pooler.log" >&2; exit 1; }
  "$PGBENCH" -n -S -M "$mode" -c "$CLIENTS" -j 2 -t "$txns" -h 127.0.0.1 -p "$port" -U sp_scram \
    sp_db >"$WORK/pgbench.out" 2>&1 || { cat "$WORK/pgbench.out" >&2; exit 1; }
  # SIGINT: PgBouncer's safe shutdown; shardpool drains on SIGTERM (both exit with no clients).
  if [ "$who" = shardpool ]; then kill -TERM "$POOLER_PID"; else pkill -INT -f "pgbouncer $WORK/pgb" || kill -INT "$POOLER_PID"; fi
  wait "$POOLER_PID" 2>/dev/null || true
  POOLER_PID=""
  local ir
  ir=$(sed -n 's/^summary: *\([0-9]*\).*/\1/p' "$out" | head -n1)
  echo "$ir $(calls_of 'malloc\.c:malloc \[' "$out") $(calls_of ':(___?)?pthread_mutex_lock[@ ]' "$out")"
}

printf '%-10s %-9s %14s %14s %14s\n' pooler protocol "Ir/txn" "malloc/txn" "mutex/txn"
for mode in $MODES; do
  for who in pgbouncer shardpool; do
    read -r ir1 m1 l1 <<<"$(run_under "$who" "$mode" "$N1")"
    read -r ir2 m2 l2 <<<"$(run_under "$who" "$mode" "$N2")"
    txns=$(( (N2 - N1) * CLIENTS ))
    per() { awk -v a="$1" -v b="$2" -v n="$txns" -v f="$3" 'BEGIN { printf f, (b - a) / n }'; }
    printf '%-10s %-9s %14s %14s %14s\n' "$who" "$mode" "$(per "$ir1" "$ir2" %.0f)" \
      "$(per "$m1" "$m2" %.2f)" "$(per "$l1" "$l2" %.2f)"
  done
done
echo "($CLIENTS clients, pool $POOL, transaction pooling, shardpool with 1 worker; pgbench -S -t $N1 and -t $N2 per client)"
