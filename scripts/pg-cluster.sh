#!/usr/bin/env bash
# Throwaway PostgreSQL 15 cluster for tests, the demo and benchmarks.
#
#   scripts/pg-cluster.sh start DIR   initdb + start on a free loopback port; writes DIR/env
#   scripts/pg-cluster.sh stop DIR    stop (immediate) and delete the data
#   scripts/pg-cluster.sh env DIR     print DIR/env of a running cluster
#   scripts/pg-cluster.sh standby PRIMARY_DIR DIR
#                                     hot standby of the cluster in PRIMARY_DIR (pg_basebackup -R,
#                                     streaming replication) on its own free port; DIR/env as for
#                                     start, plus ROLE=standby and PRIMARY_PORT
#   scripts/pg-cluster.sh promote DIR pg_ctl promote (the standby becomes a primary)
#   scripts/pg-cluster.sh crash DIR   SIGKILL the postmaster (a dead primary); data is kept
#   scripts/pg-cluster.sh restart DIR start the kept data again on the same port (after crash)
#
# DIR only holds the `env` file (KEY=value lines) and a pointer to the real data, which lives in a
# mktemp directory under /tmp so that the postgres user can reach it wherever DIR is.
# As root every server command runs as the `postgres` user (initdb/postgres refuse root).
#
# Roles (all LOGIN, all may use database sp_db):
#   sp_scram / scram_pass   stored SCRAM, hba scram-sha-256 (owner of sp_db)
#   sp_md5   / md5_pass     stored md5,   hba md5
#   sp_clear / clear_pass   stored SCRAM, hba password (cleartext on the wire)
#   sp_trust                no password,  hba trust
#   sp_admin / admin_pass   SUPERUSER, stored SCRAM, hba scram-sha-256
# Any other role (tests create their own) gets hba scram-sha-256 over TCP.
#
# TLS (opt-in): with PG_CLUSTER_SSL_DIR=DIR at `start` (DIR made by scripts/make-test-certs.sh),
# DIR/server.crt and DIR/server.key are copied into the data directory (owned by postgres, key
# 0600) and the server runs with ssl=on; DIR/env then says PG_SSL=1 and PG_SSL_DIR=DIR. One more
# role exists then:
#   sp_tlsonly / tls_pass   stored SCRAM, hostssl scram-sha-256, hostnossl reject (TLS only)
# Without the variable nothing changes (no TLS, no sp_tlsonly).
set -euo pipefail

PG_BIN=${PG_BIN:-/usr/lib/postgresql/15/bin}
SCALE=${PG_CLUSTER_PGBENCH_SCALE:-0}  # >0: also run `pgbench -i -s SCALE` as sp_scram
SSL_DIR=${PG_CLUSTER_SSL_DIR:-}       # set: TLS on, certificates from here (see above)

usage() {
  echo "usage: $0 start|stop|env|promote|crash|restart DIR | $0 standby PRIMARY_DIR DIR" >&2
  exit 2
}

log() { echo "pg-cluster: $*" >&2; }

# Runs a command as the postgres user when we are root, else as ourselves; with a high fd limit.
as_pg() {
  if [ "$(id -u)" -eq 0 ]; then
    runuser -u postgres -- bash -c 'ulimit -n 20000 2>/dev/null || ulimit -n 4096 2>/dev/null || true; exec "$@"' as_pg "$@"
  else
    bash -c 'ulimit -n 20000 2>/dev/null || true; exec "$@"' as_pg "$@"
  fi
}

# shellcheck source=scripts/lib.sh
source "$(dirname "${BASH_SOURCE[0]}")/lib.sh"
sp_cluster_args standby "$@"
free_port() { sp_free_port; }

# Reads KEY from DIR/env (empty when absent).
env_get() {
  [ -f "$DIR/env" ] || return 0
  sed -n "s/^$1=//p" "$DIR/env" | head -n1
}

is_running() {
  local data
  data=$(env_get DATA_DIR)
  [ -n "$data" ] && [ -d "$data" ] && as_pg "$PG_BIN/pg_ctl" -D "$data" status >/dev/null 2>&1
}

# Starts the server in DATA on a free loopback port (a few tries: another process may take the
# port first) and prints the port; fails after the last try.
start_on_free_port() {
  local data=$1 logf=$2 port attempt
  for attempt in 1 2 3 4 5; do
    port=$(free_port)
    if as_pg "$PG_BIN/pg_ctl" -D "$data" -l "$logf" -w -t 60 -o "-p $port" start >/dev/null 2>&1; then
      echo "$port"
      return 0
    fi
    log "start on port $port failed (attempt $attempt)"
    tail -n 5 "$logf" >&2 || true
  done
  return 1
}

do_stop() {
  local data tmp
  data=$(env_get DATA_DIR)
  tmp=$(env_get PG_TMP_DIR)
  if [ -n "$data" ] && [ -d "$data" ]; then
    as_pg "$PG_BIN/pg_ctl" -D "$data" -m immediate -w -t 30 stop >/dev/null 2>&1 || true
  fi
  case "$tmp" in
    /tmp/shardpool-pg.*) rm -rf "$tmp" ;;
    "") ;;
    *) log "not removing unexpected PG_TMP_DIR '$tmp'" ;;
  esac
  rm -f "$DIR/env"
}

do_start() {
  mkdir -p "$DIR"
  DIR=$(cd "$DIR" && pwd)
  if [ -n "$SSL_DIR" ]; then
    local f
    for f in server.crt server.key; do
      [ -r "$SSL_DIR/$f" ] || {
        log "PG_CLUSTER_SSL_DIR: cannot read $SSL_DIR/$f (run scripts/make-test-certs.sh first)"
        exit 1
      }
    done
    SSL_DIR=$(cd "$SSL_DIR" && pwd)
  fi
  if is_running; then
    if [ -z "$SSL_DIR" ] || [ "$(env_get PG_SSL)" = 1 ]; then
      log "cluster already running in $DIR (port $(env_get PGPORT)); reusing it"
      cat "$DIR/env"
      return 0
    fi
    log "cluster running in $DIR has no TLS; replacing it"
  fi
  if [ -f "$DIR/env" ]; then
    log "removing stale cluster recorded in $DIR/env"
    do_stop
  fi

  local tmp data sock logf port
  tmp=$(mktemp -d /tmp/shardpool-pg.XXXXXX)
  chmod 755 "$tmp"
  data=$tmp/data
  sock=$tmp/sock
  logf=$tmp/postgres.log
  mkdir -p "$sock"
  if [ "$(id -u)" -eq 0 ]; then chown -R postgres:postgres "$tmp"; fi
  # Record the temp dir right away so `stop` cleans up even if start fails half-way.
  printf 'PG_TMP_DIR=%s\nDATA_DIR=%s\n' "$tmp" "$data" >"$DIR/env"

  as_pg "$PG_BIN/initdb" -D "$data" -U postgres --auth-local=trust --auth-host=scram-sha-256 \
    --encoding=UTF8 --locale=C.UTF-8 --no-sync >"$tmp/initdb.log" 2>&1 || {
    cat "$tmp/initdb.log" >&2
    log "initdb failed"
    exit 1
  }

  cat >>"$data/postgresql.conf" <<EOF

# --- shardpool throwaway cluster ---
listen_addresses = '127.0.0.1'
unix_socket_directories = '$sock'
max_connections = 300
fsync = off
synchronous_commit = off
full_page_writes = off
password_encryption = 'scram-sha-256'
logging_collector = off
log_line_prefix = '%m [%p] %u@%d '
log_connections = off
EOF

  # TLS: the postgres user must own the key (mode 0600), so it gets its own copy in the data dir.
  local hba_tls=""
  if [ -n "$SSL_DIR" ]; then
    install -m 644 "$SSL_DIR/server.crt" "$data/server.crt"
    install -m 600 "$SSL_DIR/server.key" "$data/server.key"
    if [ "$(id -u)" -eq 0 ]; then chown postgres:postgres "$data/server.crt" "$data/server.key"; fi
    cat >>"$data/postgresql.conf" <<EOF
ssl = on
ssl_cert_file = '$data/server.crt'
ssl_key_file = '$data/server.key'
ssl_min_protocol_version = 'TLSv1.2'
EOF
    hba_tls="hostnossl all    sp_tlsonly 127.0.0.1/32  reject
hostssl all      sp_tlsonly 127.0.0.1/32  scram-sha-256
"
  fi

  cat >"$data/pg_hba.conf" <<EOF
# TYPE  DATABASE  USER      ADDRESS        METHOD
local   all       all                      trust
local   replication postgres               trust
${hba_tls}host    all       sp_trust  127.0.0.1/32   trust
host    all       sp_clear  127.0.0.1/32   password
host    all       sp_md5    127.0.0.1/32   md5
host    all       all       127.0.0.1/32   scram-sha-256
EOF
  if [ "$(id -u)" -eq 0 ]; then chown postgres:postgres "$data/pg_hba.conf"; fi

  port=$(start_on_free_port "$data" "$logf") || {
    log "could not start PostgreSQL; log: $logf"
    exit 1
  }

  local psql_admin=(as_pg "$PG_BIN/psql" -X -q -v ON_ERROR_STOP=1 -h "$sock" -p "$port" -U postgres)
  "${psql_admin[@]}" -d postgres <<'EOF'
SET password_encryption = 'scram-sha-256';
CREATE ROLE sp_admin LOGIN SUPERUSER PASSWORD 'admin_pass';
CREATE ROLE sp_scram LOGIN PASSWORD 'scram_pass';
CREATE ROLE sp_clear LOGIN PASSWORD 'clear_pass';
CREATE ROLE sp_trust LOGIN;
SET password_encryption = 'md5';
CREATE ROLE sp_md5 LOGIN PASSWORD 'md5_pass';
RESET password_encryption;
CREATE DATABASE sp_db OWNER sp_scram;
GRANT ALL ON DATABASE sp_db TO sp_md5, sp_clear, sp_trust, sp_admin, PUBLIC;
EOF
  if [ -n "$SSL_DIR" ]; then
    "${psql_admin[@]}" -d postgres <<'EOF'
SET password_encryption = 'scram-sha-256';
CREATE ROLE sp_tlsonly LOGIN PASSWORD 'tls_pass';
EOF
  fi
  "${psql_admin[@]}" -d sp_db <<'EOF'
GRANT ALL ON SCHEMA public TO PUBLIC;
-- Tables any role creates are usable by every other role.
ALTER DEFAULT PRIVILEGES FOR ROLE sp_scram, sp_md5, sp_clear, sp_trust, sp_admin
  IN SCHEMA public GRANT ALL ON TABLES TO PUBLIC;
ALTER DEFAULT PRIVILEGES FOR ROLE sp_scram, sp_md5, sp_clear, sp_trust, sp_admin
  IN SCHEMA public GRANT ALL ON SEQUENCES TO PUBLIC;
EOF

  cat >"$DIR/env" <<EOF
PGHOST=127.0.0.1
PGPORT=$port
PGDATABASE=sp_db
SOCKET_DIR=$sock
DATA_DIR=$data
PG_TMP_DIR=$tmp
PG_LOG=$logf
PG_BIN=$PG_BIN
SP_SCRAM_PASSWORD=scram_pass
SP_MD5_PASSWORD=md5_pass
SP_CLEAR_PASSWORD=clear_pass
SP_ADMIN_PASSWORD=admin_pass
EOF
  if [ -n "$SSL_DIR" ]; then
    printf 'PG_SSL=1\nPG_SSL_DIR=%s\nSP_TLSONLY_PASSWORD=tls_pass\n' "$SSL_DIR" >>"$DIR/env"
  fi

  if [ "$SCALE" -gt 0 ]; then
    log "pgbench -i -s $SCALE"
    PGPASSWORD=scram_pass "$PG_BIN/pgbench" -i -q -s "$SCALE" -h 127.0.0.1 -p "$port" -U sp_scram sp_db \
      >"$tmp/pgbench-init.log" 2>&1 || {
      cat "$tmp/pgbench-init.log" >&2
      exit 1
    }
  fi

  log "PostgreSQL running on 127.0.0.1:$port (data $data)"
  cat "$DIR/env"
}

# A hot standby streaming from the cluster in PRIMARY_DIR.
do_standby() {
  sp_cluster_replica_dirs
  local psock pport tmp data sock logf port
  psock=$(sed -n 's/^SOCKET_DIR=//p' "$PRIMARY_DIR/env")
  pport=$(sed -n 's/^PGPORT=//p' "$PRIMARY_DIR/env")
  if [ -f "$DIR/env" ]; then do_stop; fi
  tmp=$(mktemp -d /tmp/shardpool-pg.XXXXXX)
  chmod 755 "$tmp"
  data=$tmp/data
  sock=$tmp/sock
  logf=$tmp/postgres.log
  mkdir -p "$sock"
  if [ "$(id -u)" -eq 0 ]; then chown -R postgres:postgres "$tmp"; fi
  printf 'PG_TMP_DIR=%s\nDATA_DIR=%s\n' "$tmp" "$data" >"$DIR/env"
  as_pg "$PG_BIN/pg_basebackup" -h "$psock" -p "$pport" -U postgres -D "$data" -R -X stream \
    --no-sync --checkpoint=fast >"$tmp/basebackup.log" 2>&1 || {
    cat "$tmp/basebackup.log" >&2
    log "pg_basebackup failed"
    exit 1
  }
  # The copied postgresql.conf names the primary's socket directory; the standby gets its own.
  # Its walreceiver reports application_name = the DIR's base name (for synchronous_standby_names).
  cat >>"$data/postgresql.conf" <<EOF
unix_socket_directories = '$sock'
hot_standby = on
EOF
  local appname
  appname=$(basename "$DIR" | tr -c 'a-zA-Z0-9_\n' '_')
  sed -i "s/^primary_conninfo = '/primary_conninfo = 'application_name=$appname /" \
    "$data/postgresql.auto.conf"
  port=$(start_on_free_port "$data" "$logf") || {
    log "could not start the standby; log: $logf"
    exit 1
  }
  sed -e "s|^PGPORT=.*|PGPORT=$port|" -e "s|^SOCKET_DIR=.*|SOCKET_DIR=$sock|" \
    -e "s|^DATA_DIR=.*|DATA_DIR=$data|" -e "s|^PG_TMP_DIR=.*|PG_TMP_DIR=$tmp|" \
    -e "s|^PG_LOG=.*|PG_LOG=$logf|" "$PRIMARY_DIR/env" >"$DIR/env"
  printf 'ROLE=standby\nPRIMARY_PORT=%s\nSTANDBY_NAME=%s\n' "$pport" "$appname" >>"$DIR/env"
  log "hot standby of port $pport running on 127.0.0.1:$port (data $data)"
  cat "$DIR/env"
}

case "$CMD" in
  start) do_start ;;
  standby) do_standby ;;
  promote)
    DIR=$(cd "$DIR" && pwd)
    as_pg "$PG_BIN/pg_ctl" -D "$(env_get DATA_DIR)" -w -t 60 promote >/dev/null
    sed -i 's/^ROLE=standby$/ROLE=primary/' "$DIR/env"
    ;;
  crash)
    DIR=$(cd "$DIR" && pwd)
    # The whole server at once, as when its machine dies: the postmaster and every child.
    pid=$(head -n1 "$(env_get DATA_DIR)/postmaster.pid" 2>/dev/null || true)
    if [ -n "$pid" ]; then
      kill -9 "$pid" $(pgrep -P "$pid") 2>/dev/null || true
      for _ in $(seq 50); do
        pgrep -P "$pid" >/dev/null || kill -0 "$pid" 2>/dev/null || break
        sleep 0.1
      done
    fi
    ;;
  restart)
    DIR=$(cd "$DIR" && pwd)
    as_pg "$PG_BIN/pg_ctl" -D "$(env_get DATA_DIR)" -l "$(env_get PG_LOG)" -w -t 60 \
      -o "-p $(env_get PGPORT)" start >/dev/null
    ;;
  stop)
    if [ -d "$DIR" ]; then DIR=$(cd "$DIR" && pwd); do_stop; fi
    ;;
  env)
    if is_running; then cat "$DIR/env"; else log "no running cluster in $DIR"; exit 1; fi
    ;;
  *) usage ;;
esac
