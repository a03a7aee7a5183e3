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
#   wait_gone PID TENTHS  waits up to TENTHS/10 s for PID to exit
#   stop_pid NAME PIDFILE SIGNAL LAST_SIGNAL
#                         stops the server whose pid is the first line of
#                         PIDFILE: SIGNAL, up to 30 s, then LAST_SIGNAL and
#                         up to 5 s more. Quiet and successful when nothing
#                         runs; exit status 1 when it could not stop it.

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

# Waits up to TENTHS tenths of a second for PID to exit; fails if it did not.
wait_gone() {
  local pid=$1 tenths=$2
  for _ in $(seq 1 "$tenths"); do
    kill -0 "$pid" 2>/dev/null || return 0
    sleep 0.1
  done
  return 1
}

stop_pid() {
  local name=$1 pidfile=$2 sig=$3 last=$4 pid
  [ -f "$pidfile" ] || return 0
  pid=$(head -1 "$pidfile" 2>/dev/null || true)
  [ -n "$pid" ] && kill -0 "$pid" 2>/dev/null || return 0
  kill "-$sig" "$pid" 2>/dev/null || true
  wait_gone "$pid" 300 && return 0
  echo "$name: pid $pid still running after 30 s; sending SIG$last" >&2
  kill "-$last" "$pid" 2>/dev/null || true
  wait_gone "$pid" 50 && return 0
  echo "$name: could not stop pid $pid" >&2
  return 1
}
