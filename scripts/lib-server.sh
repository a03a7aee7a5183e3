# shellcheck shell=bash
# Shared by scripts/start-postgres.sh and scripts/start-mariadb.sh (sourced,
# not run): who owns a test server, where it lives, and a free port.
#
#   server_init OS_USER   as root the server runs as OS_USER (PostgreSQL
#                         refuses root; MariaDB as `mysql` by convention);
#                         as an ordinary user it runs as that user itself.
#                         Sets is_root and server_user.
#   as_owner CMD...       runs CMD as server_user
#   server_base DIR NAME  prints where the server lives: DIR/NAME, or a
#                         private directory /tmp/qg-NAME.XXXXXX when (root)
#                         server_user cannot write under DIR or the path is
#                         too long for a unix socket; remembered in
#                         DIR/NAME.location so later runs find it again
#   free_port             prints a free TCP port on 127.0.0.1

server_init() {
  is_root=0
  [ "$(id -u)" -eq 0 ] && is_root=1
  if [ "$is_root" -eq 1 ]; then
    server_user=$1
    id "$server_user" >/dev/null 2>&1 ||
      { echo "$(basename "$0"): running as root needs the OS user '$server_user'" >&2; exit 1; }
  else
    server_user=$(id -un)
  fi
}

as_owner() {
  if [ "$is_root" -eq 1 ]; then runuser -u "$server_user" -- "$@"; else "$@"; fi
}

server_base() {
  local dir=$1 name=$2 loc base
  loc="$dir/$name.location"
  if [ -f "$loc" ] && [ -d "$(cat "$loc")" ]; then
    cat "$loc"
    return
  fi
  base="$dir/$name"
  mkdir -p "$base"
  if [ "$is_root" -eq 1 ]; then
    chown "$server_user": "$base"
    if ! runuser -u "$server_user" -- test -w "$base"; then
      rmdir "$base" 2>/dev/null || true
      base=$(mktemp -d "/tmp/qg-$name.XXXXXX")
      chown "$server_user": "$base"
    fi
  fi
  if [ ${#base} -gt 80 ]; then  # socket paths are limited to ~107 bytes
    base=$(mktemp -d "/tmp/qg-$name.XXXXXX")
    [ "$is_root" -eq 1 ] && chown "$server_user": "$base"
  fi
  echo "$base" >"$loc"
  echo "$base"
}

free_port() {
  python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1]); s.close()'
}
