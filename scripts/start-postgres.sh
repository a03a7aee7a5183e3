#!/usr/bin/env bash
# Starts a small PostgreSQL 15 server for tests and benchmarks.
#
#   scripts/start-postgres.sh DIR
#
# The cluster lives in DIR/pg (data in DIR/pg/data, unix socket in
# DIR/pg/sock), listens on 127.0.0.1 on a free port picked at first start,
# and has a password (scram) login `qg`/`qgpass` owning the databases qgtest,
# qg_users and qg_orders; the superuser `postgres` logs in over the unix
# socket without a password. The script writes DIR/postgres.env:
#
#   QG_TEST_PG_CONNECT='host=127.0.0.1 port=N dbname=qgtest'
#   QG_TEST_PG_USER=qg  QG_TEST_PG_PASSWORD=qgpass  QG_TEST_PG_PORT=N
#   QG_TEST_PG_BIN=...  QG_TEST_PG_DATA=...  QG_TEST_PG_SUPERUSER_SOCKET=...
#
# Idempotent: a running server is left alone (the env file is rewritten); a
# stopped one is started again on its port. PostgreSQL refuses to run as
# root, so as root the server runs as the `postgres` OS user (the data lives
# under /tmp when that user cannot reach DIR). Stop with stop-postgres.sh DIR.
set -euo pipefail

[ $# -eq 1 ] || { echo "usage: $0 DIR" >&2; exit 2; }
mkdir -p "$1"
dir=$(cd "$1" && pwd)
PG_BIN=${QG_PG_BIN:-/usr/lib/postgresql/15/bin}
[ -x "$PG_BIN/initdb" ] || { echo "start-postgres: no $PG_BIN/initdb (apt-get install postgresql)" >&2; exit 1; }

here=$(cd "$(dirname "$0")" && pwd)
# shellcheck source=scripts/lib-server.sh
. "$here/lib-server.sh"
server_init postgres
base=$(server_base "$dir" pg)
data="$base/data"
sock="$base/sock"
log="$base/postgres.log"

psql_su() {  # psql as the superuser over the unix socket
  "$PG_BIN/psql" -X -q -v ON_ERROR_STOP=1 -h "$sock" -p "$port" -U postgres "$@"
}

running() {
  [ -f "$data/postmaster.pid" ] || return 1
  local pid
  pid=$(head -1 "$data/postmaster.pid")
  [ -n "$pid" ] && kill -0 "$pid" 2>/dev/null
}

if [ ! -f "$data/PG_VERSION" ]; then
  port=$(free_port)
  as_owner mkdir -p "$sock"
  chmod 700 "$sock"
  as_owner "$PG_BIN/initdb" -D "$data" -U postgres -A trust -E UTF8 --locale=C.UTF-8 \
    --no-instructions >"$base/initdb.log" 2>&1 ||
    { echo "start-postgres: initdb failed:" >&2; cat "$base/initdb.log" >&2; exit 1; }
  as_owner tee -a "$data/postgresql.conf" >/dev/null <<EOF

# --- qgraph test server ---
port = $port
listen_addresses = '127.0.0.1'
unix_socket_directories = '$sock'
fsync = off
synchronous_commit = off
full_page_writes = off
# PostgreSQL's default: the bench's orders table (73 MB with its index) stays in
# the buffer cache, as it would on a real server.
shared_buffers = 128MB
max_connections = 100
max_prepared_transactions = 20
password_encryption = 'scram-sha-256'
log_min_messages = warning
log_connections = off
EOF
  # Superuser: local socket only (the socket dir is private). Everyone else:
  # scram passwords over TCP on loopback.
  as_owner tee "$data/pg_hba.conf" >/dev/null <<EOF
local   all   postgres                 trust
local   all   all                      scram-sha-256
host    all   all      127.0.0.1/32    scram-sha-256
EOF
  echo "$port" >"$base/port"
  fresh=1
else
  port=$(cat "$base/port")
  fresh=0
fi

if ! running; then
  as_owner mkdir -p "$sock"
  rm -f "$log" 2>/dev/null || true
  if ! as_owner "$PG_BIN/pg_ctl" -D "$data" -l "$log" -w -t 60 start >/dev/null; then
    echo "start-postgres: server did not start; log:" >&2
    cat "$log" >&2 || true
    exit 1
  fi
fi

if [ "$fresh" -eq 1 ]; then
  psql_su -d postgres <<'EOF'
CREATE ROLE qg LOGIN PASSWORD 'qgpass';
GRANT pg_monitor, pg_signal_backend TO qg;
CREATE DATABASE qgtest OWNER qg;
CREATE DATABASE qg_users OWNER qg;
CREATE DATABASE qg_orders OWNER qg;
EOF
fi

env_file="$dir/postgres.env"
tmp="$env_file.tmp.$$"
cat >"$tmp" <<EOF
QG_TEST_PG_CONNECT='host=127.0.0.1 port=$port dbname=qgtest'
QG_TEST_PG_USER=qg
QG_TEST_PG_PASSWORD=qgpass
QG_TEST_PG_PORT=$port
QG_TEST_PG_BIN=$PG_BIN
QG_TEST_PG_DATA=$data
QG_TEST_PG_SUPERUSER_SOCKET=$sock
EOF
mv "$tmp" "$env_file"
echo "start-postgres: running on 127.0.0.1:$port (data $data)" >&2
