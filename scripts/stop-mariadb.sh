#!/usr/bin/env bash
# Stops the test MariaDB server started by start-mariadb.sh DIR, by the pid in
# its pid file (SIGTERM: a normal shutdown), waiting at most 30 s before
# SIGKILL. Quiet and successful when nothing runs.
#
#   scripts/stop-mariadb.sh DIR
set -euo pipefail

[ $# -eq 1 ] || { echo "usage: $0 DIR" >&2; exit 2; }
[ -d "$1" ] || exit 0
dir=$(cd "$1" && pwd)
base="$dir/mariadb"
[ -f "$dir/mariadb.location" ] && base=$(cat "$dir/mariadb.location")
pidfile="$base/mariadb.pid"
[ -f "$pidfile" ] || exit 0
pid=$(cat "$pidfile" 2>/dev/null || true)
[ -n "$pid" ] && kill -0 "$pid" 2>/dev/null || exit 0

kill -TERM "$pid" 2>/dev/null || true
for _ in $(seq 1 300); do
  kill -0 "$pid" 2>/dev/null || exit 0
  sleep 0.1
done
echo "stop-mariadb: pid $pid still running after 30 s; sending SIGKILL" >&2
kill -KILL "$pid" 2>/dev/null || true
for _ in $(seq 1 50); do
  kill -0 "$pid" 2>/dev/null || exit 0
  sleep 0.1
done
echo "stop-mariadb: could not stop pid $pid" >&2
exit 1
