#!/usr/bin/env bash
# Stops the test PostgreSQL server started by start-postgres.sh DIR, by the
# pid in its postmaster.pid (fast shutdown: open sessions are rolled back).
# Quiet and successful when nothing runs.
#
#   scripts/stop-postgres.sh DIR
set -euo pipefail

[ $# -eq 1 ] || { echo "usage: $0 DIR" >&2; exit 2; }
[ -d "$1" ] || exit 0
dir=$(cd "$1" && pwd)
base="$dir/pg"
[ -f "$dir/pg.location" ] && base=$(cat "$dir/pg.location")
pidfile="$base/data/postmaster.pid"
[ -f "$pidfile" ] || exit 0
pid=$(head -1 "$pidfile")
[ -n "$pid" ] && kill -0 "$pid" 2>/dev/null || exit 0

kill -INT "$pid" 2>/dev/null || true  # SIGINT = fast shutdown
for _ in $(seq 1 300); do
  kill -0 "$pid" 2>/dev/null || exit 0
  sleep 0.1
done
echo "stop-postgres: pid $pid still running after 30 s; sending SIGQUIT" >&2
kill -QUIT "$pid" 2>/dev/null || true
sleep 1
kill -0 "$pid" 2>/dev/null && { echo "stop-postgres: could not stop pid $pid" >&2; exit 1; }
exit 0
