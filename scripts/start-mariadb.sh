#!/usr/bin/env bash
# Starts a small MariaDB (10.11) server for tests and benchmarks.
#
#   scripts/start-mariadb.sh DIR
#
# The server lives in DIR/mariadb (data in .../data, unix socket .../sock/
# mariadb.sock, pid file .../mariadb.pid, log .../mariadb.log), listens on
# 127.0.0.1 on a free port picked at first start, and has a password login
# qg/qgpass (for '127.0.0.1' and 'localhost') with all privileges on the
# databases qgtest, qg_users and qg_orders, plus PROCESS (the full process
# list), CONNECTION ADMIN (KILL) and what XA RECOVER needs (SUPER on MariaDB,
# XA_RECOVER_ADMIN on MySQL). The invoking OS user is an admin through the
# unix socket (unix_socket auth: OS root as `root`, an ordinary user under its
# own name). The script writes DIR/mariadb.env:
#
#   QG_TEST_MYSQL_CONNECT='host=127.0.0.1 port=N dbname=qgtest'
#   QG_TEST_MYSQL_USER=qg  QG_TEST_MYSQL_PASSWORD=qgpass  QG_TEST_MYSQL_PORT=N
#   QG_TEST_MYSQL_SOCKET=<admin's unix socket>  QG_TEST_MYSQL_ADMIN_USER=<admin login>
#
# Idempotent: a running server is left alone (the env file is rewritten); a
# stopped one is started again on its port. Works as root (the server runs as
# the `mysql` OS user, data under /tmp when that user cannot reach DIR) and
# as an ordinary user. Stop with stop-mariadb.sh DIR.
set -euo pipefail

[ $# -eq 1 ] || { echo "usage: $0 DIR" >&2; exit 2; }
mkdir -p "$1"
dir=$(cd "$1" && pwd)
command -v mariadbd >/dev/null 2>&1 || [ -x /usr/sbin/mariadbd ] ||
  { echo "start-mariadb: no mariadbd (apt-get install mariadb-server)" >&2; exit 1; }
MARIADBD=$(command -v mariadbd 2>/dev/null || echo /usr/sbin/mariadbd)
CLIENT=$(command -v mariadb 2>/dev/null || command -v mysql)

here=$(cd "$(dirname "$0")" && pwd)
# shellcheck source=scripts/lib-server.sh
. "$here/lib-server.sh"
server_init mysql
base=$(server_base "$dir" mariadb)
data="$base/data"
sock="$base/sock/mariadb.sock"
pidfile="$base/mariadb.pid"
log="$base/mariadb.log"
conf="$base/my.cnf"
admin_user=$server_user
[ "$is_root" -eq 1 ] && admin_user=root

running() {
  [ -f "$pidfile" ] || return 1
  local pid
  pid=$(cat "$pidfile" 2>/dev/null || true)
  [ -n "$pid" ] && kill -0 "$pid" 2>/dev/null
}

sql_admin() {  # SQL as the server's admin (unix_socket auth) over the unix socket
  "$CLIENT" --no-defaults --protocol=socket -S "$sock" -u "$admin_user" "$@"
}

fresh=0
if [ ! -d "$data/mysql" ]; then
  port=$(free_port)
  as_owner mkdir -p "$data" "$base/sock"
  install_args=(--no-defaults --datadir="$data" --auth-root-authentication-method=socket
    --skip-test-db)
  install_args+=(--user="$server_user")
  if ! mariadb-install-db "${install_args[@]}" >"$base/install.log" 2>&1; then
    echo "start-mariadb: mariadb-install-db failed:" >&2
    cat "$base/install.log" >&2
    exit 1
  fi
  echo "$port" >"$base/port"
  fresh=1
else
  port=$(cat "$base/port")
fi

as_owner tee "$conf" >/dev/null <<EOF
[mariadbd]
datadir=$data
socket=$sock
pid-file=$pidfile
log-error=$log
port=$port
bind-address=127.0.0.1
skip-name-resolve
innodb_buffer_pool_size=32M
innodb_log_file_size=48M
innodb_flush_log_at_trx_commit=0
performance_schema=OFF
max_connections=300
character-set-server=utf8mb4
collation-server=utf8mb4_general_ci
max_allowed_packet=64M
skip-log-bin
EOF

if ! running; then
  as_owner mkdir -p "$base/sock"
  rm -f "$pidfile" "$sock" 2>/dev/null || true
  server_args=(--defaults-file="$conf")
  [ "$is_root" -eq 1 ] && server_args+=(--user="$server_user")
  # Detached from this script's stdio so a caller waiting on it never hangs.
  setsid "$MARIADBD" "${server_args[@]}" </dev/null >>"$base/stdout.log" 2>&1 &
  ok=0
  for _ in $(seq 1 300); do  # at most 30 s
    if [ -S "$sock" ] && sql_admin -e 'SELECT 1' >/dev/null 2>&1; then
      ok=1
      break
    fi
    sleep 0.1
  done
  if [ "$ok" -ne 1 ]; then
    echo "start-mariadb: server did not answer within 30 s; log:" >&2
    tail -50 "$log" >&2 2>/dev/null || true
    exit 1
  fi
fi

# Users and databases (idempotent, so also run on a restarted server).
sql_admin <<'EOF'
CREATE DATABASE IF NOT EXISTS qgtest CHARACTER SET utf8mb4;
CREATE DATABASE IF NOT EXISTS qg_users CHARACTER SET utf8mb4;
CREATE DATABASE IF NOT EXISTS qg_orders CHARACTER SET utf8mb4;
CREATE USER IF NOT EXISTS 'qg'@'127.0.0.1' IDENTIFIED BY 'qgpass';
CREATE USER IF NOT EXISTS 'qg'@'localhost' IDENTIFIED BY 'qgpass';
GRANT ALL PRIVILEGES ON qgtest.* TO 'qg'@'127.0.0.1', 'qg'@'localhost';
GRANT ALL PRIVILEGES ON qg_users.* TO 'qg'@'127.0.0.1', 'qg'@'localhost';
GRANT ALL PRIVILEGES ON qg_orders.* TO 'qg'@'127.0.0.1', 'qg'@'localhost';
GRANT PROCESS, CONNECTION ADMIN ON *.* TO 'qg'@'127.0.0.1', 'qg'@'localhost';
EOF
# XA RECOVER: MySQL 8 has XA_RECOVER_ADMIN; MariaDB 10.11 has no such
# privilege and asks for SUPER.
if ! sql_admin -e "GRANT XA_RECOVER_ADMIN ON *.* TO 'qg'@'127.0.0.1', 'qg'@'localhost'" \
  2>/dev/null; then
  sql_admin -e "GRANT SUPER ON *.* TO 'qg'@'127.0.0.1', 'qg'@'localhost'"
fi

env_file="$dir/mariadb.env"
tmp="$env_file.tmp.$$"
cat >"$tmp" <<EOF
QG_TEST_MYSQL_CONNECT='host=127.0.0.1 port=$port dbname=qgtest'
QG_TEST_MYSQL_USER=qg
QG_TEST_MYSQL_PASSWORD=qgpass
QG_TEST_MYSQL_PORT=$port
QG_TEST_MYSQL_SOCKET=$sock
QG_TEST_MYSQL_ADMIN_USER=$admin_user
EOF
mv "$tmp" "$env_file"
[ "$fresh" -eq 1 ] && echo "start-mariadb: initialized $data" >&2
echo "start-mariadb: running on 127.0.0.1:$port (data $data)" >&2
