#!/usr/bin/env bash
# AddressSanitizer + UndefinedBehaviorSanitizer run: builds build-asan/ (the project's compiler,
# -fsanitize=address,undefined -fno-omit-frame-pointer, asserts on) and runs, under ctest,
#   1. the unit tests (every one), then
#   2. the integration tests, except those that measure memory or throughput (see EXCLUDE).
# Every process that reports (a test binary, or a shardpool the integration tests start) stops at
# its first report (halt_on_error) and writes it to build-asan/sanitizer-logs/; the run fails when
# a test fails or any report was written, and prints the reports.
#
#   scripts/sanitize.sh [unit|integration|all|build]   (default: all; build: only build)
#   ASAN_BUILD_DIR   build directory (default: build-asan)
#   CTEST_ARGS       extra ctest arguments
#
# Measured on the 2-core development machine (shared with other builds): see README.md, Testing.
set -euo pipefail

ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
BUILD=${ASAN_BUILD_DIR:-$ROOT/build-asan}
PART=${1:-all}
case "$PART" in
  unit | integration | all | build) ;;
  *) echo "usage: $0 [unit|integration|all|build]" >&2; exit 2 ;;
esac

# Integration tests left out, and why (ASAN_EXCLUDE replaces the list):
#  - "100 MB": asserts the proxy's resident memory while a 110 MB result streams through it.
#  - "never reads its result": asserts the proxy's resident memory while a client stalls.
#    ASan's shadow memory and its quarantine of freed blocks make both numbers meaningless.
EXCLUDE=${ASAN_EXCLUDE:-'100 MB|never reads its result'}

"$ROOT/scripts/install-deps.sh"
ulimit -n 20000 2>/dev/null || ulimit -n "$(ulimit -Hn)" 2>/dev/null || true

launcher=()
if command -v ccache >/dev/null 2>&1; then launcher=(-DCMAKE_CXX_COMPILER_LAUNCHER=ccache); fi
SAN="-fsanitize=address,undefined -fno-omit-frame-pointer"
t0=$(date +%s)
cmake -S "$ROOT" -B "$BUILD" -DBUILD_TESTING=ON -DCMAKE_BUILD_TYPE=RelWithDebInfo \
  -DCMAKE_CXX_FLAGS_RELWITHDEBINFO="-O1 -g" -DCMAKE_CXX_FLAGS="$SAN" \
  -DCMAKE_EXE_LINKER_FLAGS="$SAN" "${launcher[@]}" >/dev/null
targets=(unit_tests)
if [ "$PART" != unit ]; then targets+=(integration_tests shardpool); fi
cmake --build "$BUILD" -j"${ASAN_BUILD_JOBS:-$(nproc)}" --target "${targets[@]}"
echo "sanitize: build took $(($(date +%s) - t0)) s"
[ "$PART" != build ] || exit 0

LOGS=$BUILD/sanitizer-logs
rm -rf "$LOGS"
mkdir -p "$LOGS"
# detect_leaks: a leak is a report too. abort_on_error: die loudly, so a shardpool under test
# that hit a report is noticed by the test that uses it.
export ASAN_OPTIONS="halt_on_error=1:abort_on_error=1:detect_leaks=1:strict_string_checks=1:detect_stack_use_after_return=1:check_initialization_order=1:log_path=$LOGS/asan"
export UBSAN_OPTIONS="halt_on_error=1:abort_on_error=1:print_stacktrace=1:log_path=$LOGS/ubsan"

status=0
run_part() {
  local name=$1
  shift
  local start
  start=$(date +%s)
  # shellcheck disable=SC2086
  ctest --test-dir "$BUILD" --output-on-failure "$@" ${CTEST_ARGS:-} || status=1
  echo "sanitize: $name tests took $(($(date +%s) - start)) s"
}
if [ "$PART" != integration ]; then run_part unit -j2 -R '^unit:'; fi
if [ "$PART" != unit ]; then run_part integration -j2 -R '^integration' -E "$EXCLUDE"; fi

if compgen -G "$LOGS/*" >/dev/null; then
  echo "sanitize: sanitizer reports:" >&2
  for f in "$LOGS"/*; do
    echo "==== $f" >&2
    head -n 60 "$f" >&2
  done
  status=1
fi
[ "$status" -eq 0 ] && echo "sanitize: clean" || echo "sanitize: FAILED" >&2
exit "$status"
