#!/usr/bin/env bash
# Stops the test PostgreSQL server started by start-postgres.sh DIR, by the
# pid in its postmaster.pid (SIGINT, a fast shutdown: open sessions are
# rolled back; SIGQUIT after 30 s). Quiet and successful when nothing runs.
#
#   scripts/stop-postgres.sh DIR
set -euo pipefail

[ $# -eq 1 ] || { echo "usage: $0 DIR" >&2; exit 2; }
[ -d "$1" ] || exit 0
here=$(cd "$(dirname "$0")" && pwd)
# shellcheck source=scripts/lib-server.sh
. "$here/lib-server.sh"
dir=$(cd "$1" && pwd)
base="$dir/pg"
[ -f "$dir/pg.location" ] && base=$(cat "$dir/pg.location")
stop_pid stop-postgres "$base/data/postmaster.pid" INT QUIT
