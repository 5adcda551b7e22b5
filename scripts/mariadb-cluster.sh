#!/usr/bin/env bash
# Throwaway MariaDB 10.11 servers for tests, the demo and benchmarks (the MySQL side of
# scripts/pg-cluster.sh, with the same interface).
#
#   scripts/mariadb-cluster.sh start DIR   install + start on a free loopback port; writes DIR/env
#   scripts/mariadb-cluster.sh stop DIR    stop (SIGKILL: the data is thrown away) and delete the data
#   scripts/mariadb-cluster.sh env DIR     print DIR/env of a running server
#   scripts/mariadb-cluster.sh replica PRIMARY_DIR DIR
#                                          a replica of the server in PRIMARY_DIR (binlog replication
#                                          with GTIDs, read_only=ON) on its own free port, caught up
#                                          when the command returns; DIR/env as for start, plus
#                                          ROLE=replica and PRIMARY_PORT
#   scripts/mariadb-cluster.sh promote DIR stop replication on a replica and make it writable
#   scripts/mariadb-cluster.sh crash DIR   SIGKILL the server (a dead primary); data is kept
#   scripts/mariadb-cluster.sh restart DIR start the kept data again on the same port (after crash)
#
# TLS (opt-in): with MARIADB_CLUSTER_SSL_DIR=DIR at `start` (DIR made by
# scripts/make-test-certs.sh), the primary serves TLS with DIR's server.crt/server.key (CA
# ca.crt), copied into its temp dir; its env then says MYSQL_SSL=1. Clients may still connect
# without TLS.
#
# DIR only holds the `env` file (KEY=value lines); the data lives in a mktemp directory under /tmp.
# As root, mariadb-install-db and mariadbd run with --user=mysql (mariadbd refuses root otherwise).
# `--no-defaults` comes first on both, so nothing of /etc/mysql (nor its /run/mysqld socket)
# leaks in. Every server runs with --skip-name-resolve and its binlog on (row format, GTIDs).
#
# Users (mysql_native_password, at '%', '127.0.0.1' and 'localhost'; no anonymous users, and root
# only at localhost over the server's unix socket, without a password):
#   sp_app   / app_pass     every privilege on database sp_db
#   sp_admin / admin_pass   every privilege, WITH GRANT OPTION
#   sp_repl  / repl_pass    REPLICATION SLAVE (what replicas log in as)
#
# Speed: the system tables are installed once per primary into a seed directory (about 6 s, most
# of the run), which replicas copy instead of installing again; the servers skip fsync.
set -euo pipefail

MARIADBD=${MARIADBD:-/usr/sbin/mariadbd}
INSTALL_DB=${MARIADB_INSTALL_DB:-/usr/bin/mariadb-install-db}
CLIENT=${MARIADB_CLIENT:-/usr/bin/mariadb}

usage() {
  echo "usage: $0 start|stop|env|promote|crash|restart DIR | $0 replica PRIMARY_DIR DIR" >&2
  exit 2
}

log() { echo "mariadb-cluster: $*" >&2; }

# shellcheck source=scripts/lib.sh
source "$(dirname "${BASH_SOURCE[0]}")/lib.sh"
sp_cluster_args replica "$@"

# mariadbd and mariadb-install-db switch to the mysql user themselves when started as root.
USER_ARGS=()
if [ "$(id -u)" -eq 0 ]; then USER_ARGS=(--user=mysql); fi

env_get() {
  [ -f "$DIR/env" ] || return 0
  sp_env_get "$DIR/env" "$1"
}

server_pid() {
  local pidfile
  pidfile=$(env_get PID_FILE)
  [ -n "$pidfile" ] && [ -s "$pidfile" ] && head -n1 "$pidfile"
}

# True while PID runs; a zombie (killed, not yet reaped by init) counts as gone.
alive() {
  local state
  state=$(awk '{print $3}' "/proc/$1/stat" 2>/dev/null) || return 1
  [ -n "$state" ] && [ "$state" != Z ]
}

is_running() {
  local pid
  pid=$(server_pid) || return 1
  [ -n "$pid" ] && alive "$pid"
}

# Runs SQL (stdin) as root over the server's unix socket.
root_sql() {
  local sock=$1
  shift
  "$CLIENT" --no-defaults --protocol=socket -S "$sock" -u root --batch --skip-column-names "$@"
}

# mariadbd arguments shared by every start of a server (the first one must stay --no-defaults).
server_args() {
  local tmp=$1 port=$2 server_id=$3 role=$4
  local args=(--no-defaults "${USER_ARGS[@]}"
    --datadir="$tmp/data" --tmpdir="$tmp" --port="$port" --bind-address=127.0.0.1
    --socket="$tmp/mysqld.sock" --pid-file="$tmp/mariadbd.pid" --log-error="$tmp/mariadbd.log"
    --skip-name-resolve --skip-host-cache --max-connections=500 --max-allowed-packet=64M
    --character-set-server=utf8mb4 --collation-server=utf8mb4_general_ci
    --server-id="$server_id" --log-bin=mariadb-bin --binlog-format=ROW --log-slave-updates
    --relay-log=relay-bin --skip-slave-start
    --innodb-log-file-size=16M --innodb-flush-log-at-trx-commit=0 --innodb-doublewrite=0
    --sync-binlog=0 --sync-frm=0)
  if [ "$role" = replica ]; then args+=(--read-only=ON); fi
  if [ -f "$tmp/ssl/server.crt" ]; then
    args+=(--ssl-cert="$tmp/ssl/server.crt" --ssl-key="$tmp/ssl/server.key"
      --ssl-ca="$tmp/ssl/ca.crt")
  fi
  printf '%s\n' "${args[@]}"
}

# Starts mariadbd (detached, its output in its log) and waits until it answers on its socket.
# Fails when it exits first (e.g. its port was taken) or after 60 s.
launch() {
  local tmp=$1 port=$2 server_id=$3 role=$4 pid i
  local args
  mapfile -t args < <(server_args "$tmp" "$port" "$server_id" "$role")
  rm -f "$tmp/mariadbd.pid"
  setsid "$MARIADBD" "${args[@]}" </dev/null >>"$tmp/mariadbd.log" 2>&1 &
  pid=$!
  for ((i = 0; i < 1200; i++)); do
    if ! alive "$pid"; then
      wait "$pid" 2>/dev/null || true
      return 1
    fi
    if [ -S "$tmp/mysqld.sock" ] && root_sql "$tmp/mysqld.sock" -e 'SELECT 1' >/dev/null 2>&1; then
      return 0
    fi
    sleep 0.05
  done
  kill -KILL "$pid" 2>/dev/null || true
  return 1
}

# Starts the server on a free loopback port (a few tries: another process may take the port
# first) and prints the port.
start_on_free_port() {
  local tmp=$1 server_id=$2 role=$3 port attempt
  for attempt in 1 2 3 4 5; do
    port=$(sp_free_port)
    if launch "$tmp" "$port" "$server_id" "$role"; then
      echo "$port"
      return 0
    fi
    log "start on port $port failed (attempt $attempt)"
    tail -n 5 "$tmp/mariadbd.log" >&2 || true
  done
  return 1
}

kill_server() {
  local pid i
  pid=$(server_pid) || return 0
  [ -n "$pid" ] || return 0
  kill -KILL "$pid" 2>/dev/null || true
  for ((i = 0; i < 100; i++)); do
    alive "$pid" || return 0
    sleep 0.05
  done
  log "mariadbd $pid did not exit"
}

do_stop() {
  local tmp
  tmp=$(env_get MARIADB_TMP_DIR)
  kill_server
  case "$tmp" in
    /tmp/shardpool-mariadb.*) rm -rf "$tmp" ;;
    "") ;;
    *) log "not removing unexpected MARIADB_TMP_DIR '$tmp'" ;;
  esac
  rm -f "$DIR/env"
}

# A fresh private directory for one server's data, socket, log and pid file.
make_tmp() {
  local tmp
  tmp=$(mktemp -d /tmp/shardpool-mariadb.XXXXXX)
  chmod 755 "$tmp"
  echo "$tmp"
}

own_tmp() {
  if [ "$(id -u)" -eq 0 ]; then chown -R mysql:mysql "$1"; fi
}

write_env() {
  local tmp=$1 port=$2 server_id=$3 role=$4
  cat >"$DIR/env" <<EOF
MYSQL_HOST=127.0.0.1
MYSQL_PORT=$port
MYSQL_DATABASE=sp_db
MYSQL_SOCKET=$tmp/mysqld.sock
DATA_DIR=$tmp/data
MARIADB_TMP_DIR=$tmp
MARIADB_LOG=$tmp/mariadbd.log
PID_FILE=$tmp/mariadbd.pid
MYSQL_SSL=$([ -f "$tmp/ssl/server.crt" ] && echo 1 || echo 0)
SEED_DIR=$tmp/seed
SERVER_ID=$server_id
ROLE=$role
SP_APP_PASSWORD=app_pass
SP_ADMIN_PASSWORD=admin_pass
SP_REPL_PASSWORD=repl_pass
EOF
}

do_start() {
  mkdir -p "$DIR"
  DIR=$(cd "$DIR" && pwd)
  if is_running; then
    log "server already running in $DIR (port $(env_get MYSQL_PORT)); reusing it"
    cat "$DIR/env"
    return 0
  fi
  if [ -f "$DIR/env" ]; then
    log "removing stale server recorded in $DIR/env"
    do_stop
  fi

  local tmp port
  tmp=$(make_tmp)
  mkdir "$tmp/seed"
  own_tmp "$tmp"
  # Record the temp dir right away so `stop` cleans up even if start fails half-way.
  printf 'MARIADB_TMP_DIR=%s\nPID_FILE=%s\n' "$tmp" "$tmp/mariadbd.pid" >"$DIR/env"

  "$INSTALL_DB" --no-defaults "${USER_ARGS[@]}" --datadir="$tmp/seed" \
    --auth-root-authentication-method=normal --skip-test-db --skip-name-resolve \
    --innodb-log-file-size=16M --innodb-doublewrite=0 --innodb-flush-log-at-trx-commit=0 \
    >"$tmp/install.log" 2>&1 || {
    cat "$tmp/install.log" >&2
    log "mariadb-install-db failed"
    exit 1
  }
  cp -a "$tmp/seed" "$tmp/data"
  if [ -n "${MARIADB_CLUSTER_SSL_DIR:-}" ]; then
    local f
    mkdir -p "$tmp/ssl"
    for f in server.crt server.key ca.crt; do
      [ -r "$MARIADB_CLUSTER_SSL_DIR/$f" ] || {
        log "MARIADB_CLUSTER_SSL_DIR: cannot read $MARIADB_CLUSTER_SSL_DIR/$f (run scripts/make-test-certs.sh first)"
        exit 1
      }
      install -m 600 "$MARIADB_CLUSTER_SSL_DIR/$f" "$tmp/ssl/$f"
    done
    own_tmp "$tmp"
  fi

  port=$(start_on_free_port "$tmp" 1 primary) || {
    log "could not start MariaDB; log: $tmp/mariadbd.log"
    exit 1
  }

  # Written to the binlog, so that replicas made from the seed replay it too.
  local host users=""
  for host in "%" 127.0.0.1 localhost; do
    users+="CREATE USER 'sp_app'@'$host' IDENTIFIED VIA mysql_native_password USING PASSWORD('app_pass');
GRANT ALL ON sp_db.* TO 'sp_app'@'$host';
CREATE USER 'sp_admin'@'$host' IDENTIFIED VIA mysql_native_password USING PASSWORD('admin_pass');
GRANT ALL ON *.* TO 'sp_admin'@'$host' WITH GRANT OPTION;
CREATE USER 'sp_repl'@'$host' IDENTIFIED VIA mysql_native_password USING PASSWORD('repl_pass');
GRANT REPLICATION SLAVE ON *.* TO 'sp_repl'@'$host';
"
  done
  root_sql "$tmp/mysqld.sock" <<EOF || {
DELETE FROM mysql.global_priv WHERE User = '' OR (User = 'root' AND Host <> 'localhost');
FLUSH PRIVILEGES;
$users
CREATE DATABASE sp_db;
EOF
    log "setting up users failed; log: $tmp/mariadbd.log"
    exit 1
  }

  write_env "$tmp" "$port" 1 primary
  log "MariaDB running on 127.0.0.1:$port (data $tmp/data)"
  cat "$DIR/env"
}

# A replica of the server in PRIMARY_DIR: a copy of its seed (the state its binlog starts from)
# replicating every binlog event since, by GTID.
do_replica() {
  sp_cluster_replica_dirs
  local pport psock pseed tmp port server_id pos
  pport=$(sp_env_get "$PRIMARY_DIR/env" MYSQL_PORT)
  psock=$(sp_env_get "$PRIMARY_DIR/env" MYSQL_SOCKET)
  pseed=$(sp_env_get "$PRIMARY_DIR/env" SEED_DIR)
  [ -d "$pseed" ] || {
    log "the server in $PRIMARY_DIR has no seed directory ($pseed)"
    exit 1
  }
  if [ -f "$DIR/env" ]; then do_stop; fi
  tmp=$(make_tmp)
  printf 'MARIADB_TMP_DIR=%s\nPID_FILE=%s\n' "$tmp" "$tmp/mariadbd.pid" >"$DIR/env"
  cp -a "$pseed" "$tmp/data"
  own_tmp "$tmp"
  # Unique among the servers of one machine, as replication needs.
  server_id=$((2 + RANDOM * 32768 + RANDOM))

  port=$(start_on_free_port "$tmp" "$server_id" replica) || {
    log "could not start the replica; log: $tmp/mariadbd.log"
    exit 1
  }
  root_sql "$tmp/mysqld.sock" <<EOF
CHANGE MASTER TO MASTER_HOST = '127.0.0.1', MASTER_PORT = $pport, MASTER_USER = 'sp_repl',
  MASTER_PASSWORD = 'repl_pass', MASTER_USE_GTID = slave_pos, MASTER_CONNECT_RETRY = 1;
START SLAVE;
EOF
  pos=$(root_sql "$psock" -e 'SELECT @@gtid_binlog_pos')
  if [ "$(root_sql "$tmp/mysqld.sock" -e "SELECT MASTER_GTID_WAIT('$pos', 60)")" != 0 ]; then
    root_sql "$tmp/mysqld.sock" -e 'SHOW SLAVE STATUS\G' >&2 || true
    log "the replica did not catch up with $pos"
    exit 1
  fi

  write_env "$tmp" "$port" "$server_id" replica
  echo "PRIMARY_PORT=$pport" >>"$DIR/env"
  log "replica of port $pport running on 127.0.0.1:$port (data $tmp/data)"
  cat "$DIR/env"
}

case "$CMD" in
  start) do_start ;;
  replica) do_replica ;;
  promote)
    DIR=$(cd "$DIR" && pwd)
    root_sql "$(env_get MYSQL_SOCKET)" <<'EOF'
STOP SLAVE;
RESET SLAVE ALL;
SET GLOBAL read_only = OFF;
EOF
    sed -i 's/^ROLE=replica$/ROLE=primary/' "$DIR/env"
    ;;
  crash)
    DIR=$(cd "$DIR" && pwd)
    kill_server
    ;;
  restart)
    DIR=$(cd "$DIR" && pwd)
    launch "$(env_get MARIADB_TMP_DIR)" "$(env_get MYSQL_PORT)" "$(env_get SERVER_ID)" \
      "$(env_get ROLE)" || {
      log "could not restart MariaDB; log: $(env_get MARIADB_LOG)"
      exit 1
    }
    if [ "$(env_get ROLE)" = replica ]; then root_sql "$(env_get MYSQL_SOCKET)" -e 'START SLAVE'; fi
    ;;
  stop)
    if [ -d "$DIR" ]; then DIR=$(cd "$DIR" && pwd); do_stop; fi
    ;;
  env)
    if is_running; then cat "$DIR/env"; else log "no running server in $DIR"; exit 1; fi
    ;;
  *) usage ;;
esac
