#!/usr/bin/env bash
# Stops the test MariaDB server started by start-mariadb.sh DIR, by the pid in
# its pid file (SIGTERM, a normal shutdown; SIGKILL after 30 s). Quiet and
# successful when nothing runs.
#
#   scripts/stop-mariadb.sh DIR
set -euo pipefail

[ $# -eq 1 ] || { echo "usage: $0 DIR" >&2; exit 2; }
[ -d "$1" ] || exit 0
here=$(cd "$(dirname "$0")" && pwd)
# shellcheck source=scripts/lib-server.sh
. "$here/lib-server.sh"
dir=$(cd "$1" && pwd)
base="$dir/mariadb"
[ -f "$dir/mariadb.location" ] && base=$(cat "$dir/mariadb.location")
stop_pid stop-mariadb "$base/mariadb.pid" TERM KILL
