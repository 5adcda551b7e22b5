#!/usr/bin/env bash
# Installs dependencies, builds (RelWithDebInfo) into build/ and runs every test: unit tests and
# the integration tests, which start their own throwaway PostgreSQL (ctest fixture "pg").
#   BUILD_DIR   build directory (default: build)
#   CTEST_ARGS  extra ctest arguments, e.g. "-R integration" or "-L ..."
set -euo pipefail

ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
BUILD_DIR=${BUILD_DIR:-$ROOT/build}
cd "$ROOT"

"$ROOT/scripts/install-deps.sh"

# Integration tests hold hundreds of sockets; initdb/postgres run as `postgres` (see pg-cluster.sh).
ulimit -n 20000 2>/dev/null || ulimit -n "$(ulimit -Hn)" 2>/dev/null || true

cmake -S "$ROOT" -B "$BUILD_DIR" -DCMAKE_BUILD_TYPE=RelWithDebInfo -DBUILD_TESTING=ON
cmake --build "$BUILD_DIR" -j"$(nproc)"

# Tests are independent (ports picked at run time, per-test roles/tables); the load tests are
# marked RUN_SERIAL so they never share the machine with timing-sensitive ones.
# shellcheck disable=SC2086
ctest --test-dir "$BUILD_DIR" --output-on-failure -j2 ${CTEST_ARGS:-}

# Fuzzing: every libFuzzer target (fuzz/) on its seed corpus for FUZZ_SECONDS each, both cores at
# once; any crash or sanitizer report fails the run (scripts/fuzz.sh). Measured on the 2-core
# machine: the clang/ASan build takes 5.2 CPU-minutes (about 2.7 min on 2 idle cores), then
# 14 targets x 20 s / 2 cores = 2.3 min: about 5 min in all.
FUZZ_JOBS=$(nproc) "$ROOT/scripts/fuzz.sh" "${FUZZ_SECONDS:-20}"
