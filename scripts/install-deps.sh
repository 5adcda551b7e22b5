#!/usr/bin/env bash
# Installs every Debian package that building, testing, the demo and the benchmarks need.
# Idempotent: when everything is already installed it only runs dpkg-query and exits.
set -euo pipefail

PACKAGES=(
  # build
  build-essential cmake pkg-config clang-format
  # fuzzing (scripts/fuzz.sh): clang 14 and its libFuzzer/ASan/UBSan runtimes
  clang libclang-rt-14-dev
  libuv1-dev libtomlplusplus-dev libfmt-dev libpq-dev catch2 libssl-dev libpg-query-dev
  # real servers and clients for tests, demo and benchmarks
  postgresql postgresql-contrib postgresql-client pgbouncer
  mariadb-server mariadb-client sysbench
  # MySQL drivers (and Django's ORM on MySQLdb) for the MySQL engine's driver tests
  python3-pymysql python3-mysqldb python3-django
  python3-psycopg openssl procps iproute2
  # client drivers of the driver matrix (integration/driver_matrix_test.cpp): every one from
  # Debian, nothing downloaded at test time
  python3-psycopg2 python3-asyncpg libpostgresql-jdbc-java default-jdk-headless golang-go
  golang-github-jackc-pgx-v4-dev php-cli php-pgsql libdbd-pg-perl ruby-pg
  # benchmarks: exact syscall counts of the poolers (scripts/bench.sh)
  strace
)
# node + npm for the node-postgres integration test (it installs pg@8 from the npm registry).
# Only when npm is missing: a Node.js from another source (e.g. NodeSource's nodejs, which bundles
# npm) must not be replaced by Debian's.
# Debian's node-pg is not installed for the driver matrix: its dependencies need Debian's nodejs
# (nodejs:any), which cannot sit beside NodeSource's.
if ! command -v npm >/dev/null 2>&1; then
  PACKAGES+=(nodejs npm)
fi

missing=()
for p in "${PACKAGES[@]}"; do
  if ! dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed"; then
    missing+=("$p")
  fi
done

if [ ${#missing[@]} -eq 0 ]; then
  echo "install-deps: all ${#PACKAGES[@]} packages present"
  exit 0
fi

echo "install-deps: installing ${missing[*]}"
SUDO=""
if [ "$(id -u)" -ne 0 ]; then SUDO="sudo"; fi
export DEBIAN_FRONTEND=noninteractive
$SUDO apt-get update -qq
# Do not let Debian's postinst start cluster services: tests start their own throwaway servers.
if [ ! -e /usr/sbin/policy-rc.d ]; then
  printf '#!/bin/sh\nexit 101\n' | $SUDO tee /usr/sbin/policy-rc.d >/dev/null
  $SUDO chmod +x /usr/sbin/policy-rc.d
  trap '$SUDO rm -f /usr/sbin/policy-rc.d' EXIT
fi
$SUDO apt-get install -y -qq --no-install-recommends "${missing[@]}"
echo "install-deps: done"
