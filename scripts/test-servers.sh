#!/usr/bin/env bash
# Starts or stops every database server the integration tests and benchmarks
# use, each on a free loopback port with its data under DIR:
#
#   scripts/test-servers.sh start DIR   # writes DIR/postgres.env, DIR/mariadb.env
#   scripts/test-servers.sh stop DIR
#
# PostgreSQL: scripts/start-postgres.sh / stop-postgres.sh. MariaDB:
# scripts/start-mariadb.sh / stop-mariadb.sh when present. Idempotent.
set -euo pipefail

[ $# -eq 2 ] || { echo "usage: $0 start|stop DIR" >&2; exit 2; }
here=$(cd "$(dirname "$0")" && pwd)
cmd=$1
dir=$2

case "$cmd" in
  start)
    mkdir -p "$dir"
    bash "$here/start-postgres.sh" "$dir"
    if [ -f "$here/start-mariadb.sh" ]; then
      bash "$here/start-mariadb.sh" "$dir"
    fi
    ;;
  stop)
    rc=0
    bash "$here/stop-postgres.sh" "$dir" || rc=1
    if [ -f "$here/stop-mariadb.sh" ]; then
      bash "$here/stop-mariadb.sh" "$dir" || rc=1
    fi
    exit $rc
    ;;
  *)
    echo "usage: $0 start|stop DIR" >&2
    exit 2
    ;;
esac
