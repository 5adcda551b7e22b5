#!/usr/bin/env bash
# ctest fixture "node": installs node-postgres (pg@8) from the npm registry into DIR once, for
# the node-postgres integration test (NODE_PATH=DIR/node_modules).
#   integration/drivers/npm-install.sh DIR
# Fails (non-zero, with the reason) when node or npm is missing or the install does not finish;
# the tests that need the fixture then fail instead of being skipped.
set -euo pipefail

[ $# -eq 1 ] || { echo "usage: $0 DIR" >&2; exit 2; }
DIR=$1
TIMEOUT_S=${NPM_INSTALL_TIMEOUT_S:-240}

die() { echo "npm-install: $*" >&2; exit 1; }

command -v node >/dev/null 2>&1 || die "node not found on PATH (scripts/install-deps.sh installs nodejs and npm)"
command -v npm >/dev/null 2>&1 || die "npm not found on PATH (scripts/install-deps.sh installs nodejs and npm)"

mkdir -p "$DIR"
cd "$DIR"

installed_version() {
  node -e 'try { console.log(require(process.argv[1] + "/node_modules/pg/package.json").version) } catch (e) { process.exit(1) }' "$PWD" 2>/dev/null
}

if v=$(installed_version) && [ "${v%%.*}" = "8" ]; then
  echo "npm-install: pg $v already in $DIR/node_modules"
  exit 0
fi

[ -f package.json ] || echo '{ "name": "shardpool-it-node", "private": true }' >package.json
echo "npm-install: npm install pg@8 into $DIR (node $(node --version), npm $(npm --version 2>/dev/null), timeout ${TIMEOUT_S}s)"
rc=0
timeout --kill-after=10 "$TIMEOUT_S" npm install --no-audit --no-fund --no-update-notifier \
  --loglevel=error pg@8 || rc=$?
if [ "$rc" -eq 124 ] || [ "$rc" -eq 137 ]; then
  die "npm install pg@8 did not finish within ${TIMEOUT_S}s (is the npm registry $(npm config get registry 2>/dev/null) reachable?)"
fi
[ "$rc" -eq 0 ] || die "npm install pg@8 failed with status $rc (is the npm registry $(npm config get registry 2>/dev/null) reachable?)"

v=$(installed_version) || die "npm install reported success but $DIR/node_modules/pg is missing"
echo "npm-install: pg $v installed in $DIR/node_modules"
