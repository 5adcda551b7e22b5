# Shared helpers for demo.sh and bench.sh (sourced, not run).
# shellcheck shell=bash

SP_ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
SP_BUILD_DIR=${BUILD_DIR:-$SP_ROOT/build}

# A loopback TCP port that was free a moment ago.
sp_free_port() {
  local py
  for py in /usr/bin/python3 python3; do
    if command -v "$py" >/dev/null 2>&1; then
      "$py" -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1]); s.close()'
      return
    fi
  done
  local p
  while :; do
    p=$((20000 + RANDOM % 40000))
    if ! ss -Htln "sport = :$p" | grep -q .; then
      echo "$p"
      return
    fi
  done
}

# Waits until 127.0.0.1:PORT accepts TCP connections; fails after SECONDS (default 10) or when
# PID (optional) has exited.
sp_wait_port() {
  local port=$1 seconds=${2:-10} pid=${3:-} i
  for ((i = 0; i < seconds * 20; i++)); do
    if (exec 3<>"/dev/tcp/127.0.0.1/$port") 2>/dev/null; then return 0; fi
    if [ -n "$pid" ] && ! kill -0 "$pid" 2>/dev/null; then return 1; fi
    sleep 0.05
  done
  return 1
}

# Reads KEY from an env file written by pg-cluster.sh or mariadb-cluster.sh.
sp_env_get() { sed -n "s/^$2=//p" "$1" | head -n1; }

# A cluster script's arguments (pg-cluster.sh, mariadb-cluster.sh): `COMMAND DIR`, or
# `SECOND PRIMARY_DIR DIR` for its command SECOND (standby, replica). Sets CMD, DIR and
# PRIMARY_DIR; calls the script's usage() on anything else.
# shellcheck disable=SC2034  # CMD, DIR and PRIMARY_DIR are for the caller
sp_cluster_args() {
  local second=$1
  shift
  CMD=${1:-}
  if [ "$CMD" = "$second" ]; then
    [ $# -eq 3 ] || usage
    PRIMARY_DIR=$2
    DIR=$3
  else
    [ $# -eq 2 ] || usage
    DIR=$2
  fi
}

# Builds the shardpool binary (RelWithDebInfo) into $SP_BUILD_DIR.
sp_build() {
  "$SP_ROOT/scripts/install-deps.sh"
  cmake -S "$SP_ROOT" -B "$SP_BUILD_DIR" -DCMAKE_BUILD_TYPE=RelWithDebInfo >/dev/null
  cmake --build "$SP_BUILD_DIR" --target shardpool -j"$(nproc)"
}

# Stops a process: SIGTERM, then SIGKILL after SECONDS (default 5).
sp_stop_pid() {
  local pid=$1 seconds=${2:-5} i
  [ -n "$pid" ] || return 0
  kill -0 "$pid" 2>/dev/null || return 0
  kill -TERM "$pid" 2>/dev/null || true
  for ((i = 0; i < seconds * 10; i++)); do
    kill -0 "$pid" 2>/dev/null || { wait "$pid" 2>/dev/null || true; return 0; }
    sleep 0.1
  done
  kill -KILL "$pid" 2>/dev/null || true
  wait "$pid" 2>/dev/null || true
}

# Writes DIR/pgbouncer.ini and DIR/userlist.txt for PgBouncer in front of the cluster on PGPORT:
# sp_pgbouncer_config DIR LISTEN_PORT PGPORT MODE POOL_SIZE MAX_CLIENTS
sp_pgbouncer_config() {
  local dir=$1
  mkdir -p "$dir"
  echo '"sp_scram" "scram_pass"' >"$dir/userlist.txt"
  cat >"$dir/pgbouncer.ini" <<INI
[databases]
sp_db = host=127.0.0.1 port=$3 dbname=sp_db

[pgbouncer]
listen_addr = 127.0.0.1
listen_port = $2
listen_backlog = 1024
unix_socket_dir =
auth_type = scram-sha-256
auth_file = $dir/userlist.txt
pool_mode = $4
default_pool_size = $5
max_client_conn = $6
max_db_connections = 0
server_reset_query = DISCARD ALL
log_connections = 0
log_disconnections = 0
logfile = $dir/pgbouncer.log
pidfile = $dir/pgbouncer.pid
INI
}

# A cluster script's standby/replica command: DIR created and made absolute; fails (with the
# script's log()) unless PRIMARY_DIR holds a running server's env file.
sp_cluster_replica_dirs() {
  mkdir -p "$DIR"
  DIR=$(cd "$DIR" && pwd)
  [ -f "$PRIMARY_DIR/env" ] || {
    log "no server recorded in $PRIMARY_DIR"
    exit 1
  }
}
