#!/usr/bin/env bash
# ctest fixture "node": installs node-postgres (pg@8) and postgres.js (postgres, pinned), and the
# MySQL drivers mysql2 and mariadb (both pinned), from the npm registry into DIR once, for the
# node integration tests and the node driver-matrix programs (NODE_PATH=DIR/node_modules).
#   integration/drivers/npm-install.sh DIR
# Fails (non-zero, with the reason) when node or npm is missing or the install does not finish;
# the tests that need the fixture then fail instead of being skipped.
set -euo pipefail

[ $# -eq 1 ] || { echo "usage: $0 DIR" >&2; exit 2; }
DIR=$1
TIMEOUT_S=${NPM_INSTALL_TIMEOUT_S:-240}
PG_SPEC=pg@8            # node-postgres: any 8.x
POSTGRES_VERSION=3.4.10 # postgres.js: exactly this version
MYSQL2_VERSION=3.26.1   # node-mysql2
MARIADB_VERSION=3.5.4   # MariaDB's own node connector
PACKAGES="$PG_SPEC postgres@$POSTGRES_VERSION mysql2@$MYSQL2_VERSION mariadb@$MARIADB_VERSION"

die() { echo "npm-install: $*" >&2; exit 1; }

command -v node >/dev/null 2>&1 || die "node not found on PATH (scripts/install-deps.sh installs nodejs and npm)"
command -v npm >/dev/null 2>&1 || die "npm not found on PATH (scripts/install-deps.sh installs nodejs and npm)"

mkdir -p "$DIR"
cd "$DIR"

# installed_version PACKAGE: the version of DIR/node_modules/PACKAGE, or status 1.
installed_version() {
  node -e 'try { console.log(require(process.argv[1] + "/node_modules/" + process.argv[2] + "/package.json").version) } catch (e) { process.exit(1) }' "$PWD" "$1" 2>/dev/null
}

installed() {
  local pg postgres mysql2 mariadb
  pg=$(installed_version pg) && [ "${pg%%.*}" = "8" ] &&
    postgres=$(installed_version postgres) && [ "$postgres" = "$POSTGRES_VERSION" ] &&
    mysql2=$(installed_version mysql2) && [ "$mysql2" = "$MYSQL2_VERSION" ] &&
    mariadb=$(installed_version mariadb) && [ "$mariadb" = "$MARIADB_VERSION" ] &&
    echo "pg $pg, postgres $postgres, mysql2 $mysql2, mariadb $mariadb"
}

if v=$(installed); then
  echo "npm-install: $v already in $DIR/node_modules"
  exit 0
fi

[ -f package.json ] || echo '{ "name": "shardpool-it-node", "private": true }' >package.json
echo "npm-install: npm install $PACKAGES into $DIR (node $(node --version), npm $(npm --version 2>/dev/null), timeout ${TIMEOUT_S}s)"
rc=0
# shellcheck disable=SC2086 # PACKAGES is a list of words
timeout --kill-after=10 "$TIMEOUT_S" npm install --no-audit --no-fund --no-update-notifier --save-exact \
  --loglevel=error $PACKAGES || rc=$?
if [ "$rc" -eq 124 ] || [ "$rc" -eq 137 ]; then
  die "npm install $PACKAGES did not finish within ${TIMEOUT_S}s (is the npm registry $(npm config get registry 2>/dev/null) reachable?)"
fi
[ "$rc" -eq 0 ] || die "npm install $PACKAGES failed with status $rc (is the npm registry $(npm config get registry 2>/dev/null) reachable?)"

v=$(installed) || die "npm install reported success but $DIR/node_modules lacks one of $PACKAGES"
echo "npm-install: $v installed in $DIR/node_modules"
