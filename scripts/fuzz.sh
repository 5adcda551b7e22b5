#!/usr/bin/env bash
# Builds the libFuzzer targets (fuzz/, clang with ASan + UBSan) and runs each one on a copy of its
# checked-in seed corpus (fuzz/corpus/<target>/) for SECONDS seconds (default 30), with its
# dictionary (fuzz/dict/<target>.dict) when there is one. Fails when any target finds a crash,
# a sanitizer report, a leak or a timeout; the input that did it is kept (see below) and named.
#
#   scripts/fuzz.sh [SECONDS]        e.g. scripts/fuzz.sh 600 for a longer run
#   FUZZ_BUILD_DIR  build directory (default: build-fuzz)
#   FUZZ_TARGETS    space-separated subset, e.g. "pg_frontend http_request" (default: all)
#   FUZZ_JOBS       targets run at once (default 1; CI uses the number of cores)
#   FUZZ_ARTIFACTS  where crashing inputs and logs go (default: $FUZZ_BUILD_DIR/artifacts)
#
# Reproduce a finding: $FUZZ_BUILD_DIR/fuzz/fuzz_<target> <crash-file>
# Runs never add to the checked-in corpus: each works on a temporary copy.
set -euo pipefail

ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
SECONDS_PER_TARGET=${1:-30}
BUILD=${FUZZ_BUILD_DIR:-$ROOT/build-fuzz}
JOBS=${FUZZ_JOBS:-1}
ARTIFACTS=${FUZZ_ARTIFACTS:-$BUILD/artifacts}
ALL_TARGETS=(pg_frontend pg_backend pg_startup pg_merge http_request scram_server scram_client
  config_toml hba_rules sql_analyze route_bind pooler_text mysql_codec mysql_session)
read -r -a TARGETS <<<"${FUZZ_TARGETS:-${ALL_TARGETS[*]}}"

case "$SECONDS_PER_TARGET" in
  '' | *[!0-9]*) echo "usage: $0 [seconds-per-target]" >&2; exit 2 ;;
esac
for t in "${TARGETS[@]}"; do
  [ -d "$ROOT/fuzz/corpus/$t" ] || { echo "fuzz: unknown target '$t'" >&2; exit 2; }
done
command -v clang++ >/dev/null || { echo "fuzz: clang++ is missing (scripts/install-deps.sh)" >&2; exit 1; }

launcher=()
if command -v ccache >/dev/null 2>&1; then launcher=(-DCMAKE_CXX_COMPILER_LAUNCHER=ccache); fi
build_start=$(date +%s)
CC=clang CXX=clang++ cmake -S "$ROOT" -B "$BUILD" -DSHARDPOOL_FUZZ=ON -DCMAKE_BUILD_TYPE=Fuzz \
  -DBUILD_TESTING=OFF "${launcher[@]}" >/dev/null
cmake --build "$BUILD" -j"${FUZZ_BUILD_JOBS:-$(nproc)}" --target "${TARGETS[@]/#/fuzz_}"
echo "fuzz: build took $(($(date +%s) - build_start)) s"

mkdir -p "$ARTIFACTS"
WORK=$(mktemp -d /tmp/shardpool-fuzz.XXXXXX)
trap 'rm -rf "$WORK"' EXIT

# Runs one target; writes its summary line to $WORK/<target>.result.
run_target() {
  local t=$1 corpus=$WORK/$1.corpus log=$ARTIFACTS/$1.log dict=() rc=0
  mkdir -p "$corpus"
  cp -R "$ROOT/fuzz/corpus/$t/." "$corpus/"
  if [ -f "$ROOT/fuzz/dict/$t.dict" ]; then dict=(-dict="$ROOT/fuzz/dict/$t.dict"); fi
  # -timeout: one input running this long is a finding (a hang). -rss_limit_mb: likewise memory.
  ASAN_OPTIONS=${ASAN_OPTIONS:-detect_leaks=1} \
  UBSAN_OPTIONS=${UBSAN_OPTIONS:-print_stacktrace=1:halt_on_error=1} \
    "$BUILD/fuzz/fuzz_$t" -max_total_time="$SECONDS_PER_TARGET" -timeout=10 -rss_limit_mb=2048 \
    -print_final_stats=1 -artifact_prefix="$ARTIFACTS/$t-" "${dict[@]}" "$corpus" \
    >"$log" 2>&1 || rc=$?
  local execs rate
  execs=$(sed -n 's/^stat::number_of_executed_units: *//p' "$log" | tail -n1)
  rate=$(sed -n 's/^stat::average_exec_per_sec: *//p' "$log" | tail -n1)
  printf '%-14s %10s execs %8s/s  corpus %5s -> %5s  %s\n' "$t" "${execs:-?}" "${rate:-?}" \
    "$(find "$ROOT/fuzz/corpus/$t" -type f | wc -l)" "$(find "$corpus" -type f | wc -l)" \
    "$([ "$rc" -eq 0 ] && echo ok || echo "FAILED (exit $rc, log $log)")" >"$WORK/$t.result"
  return "$rc"
}

echo "fuzz: ${#TARGETS[@]} target(s), ${SECONDS_PER_TARGET} s each, $JOBS at a time"
run_start=$(date +%s)
failed=()
running=0
for t in "${TARGETS[@]}"; do
  run_target "$t" &
  running=$((running + 1))
  if [ "$running" -ge "$JOBS" ]; then wait -n || true; running=$((running - 1)); fi
done
wait || true
for t in "${TARGETS[@]}"; do
  [ -f "$WORK/$t.result" ] || echo "$t: no result (the run did not finish)" >"$WORK/$t.result"
  cat "$WORK/$t.result"
  grep -q ' ok$' "$WORK/$t.result" || failed+=("$t")
done
echo "fuzz: running took $(($(date +%s) - run_start)) s"

if [ ${#failed[@]} -gt 0 ]; then
  for t in "${failed[@]}"; do
    echo "---- fuzz_$t: end of $ARTIFACTS/$t.log"
    grep -E -A40 '^==[0-9]+==ERROR|runtime error|FUZZ_CHECK|deadly signal|ALARM|out-of-memory' \
      "$ARTIFACTS/$t.log" | head -n 60 || tail -n 40 "$ARTIFACTS/$t.log"
    ls "$ARTIFACTS/$t-"* 2>/dev/null | sed 's/^/  input: /' || true
  done
  echo "fuzz: FAILED: ${failed[*]}" >&2
  exit 1
fi
echo "fuzz: all ${#TARGETS[@]} target(s) ran clean"
