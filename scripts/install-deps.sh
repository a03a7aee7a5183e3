#!/usr/bin/env bash
# Installs exactly the Debian 12 packages qgraph needs. Idempotent and quiet
# when everything is already there; runs apt-get update once, only when
# something is missing. Needs root (or sudo) to install.
#
#   install-deps.sh build   what `make` (and `make demo`, `make unit`) needs:
#                           compilers, libraries, the sqlite3 CLI
#   install-deps.sh [test]  that plus what the full test suite needs: the
#                           PostgreSQL and MariaDB servers the integration
#                           tests start, clang for the fuzzers, curl and
#                           python3 for the server tests
set -euo pipefail

group=${1:-test}
BUILD_PKGS=(
  build-essential cmake pkg-config git
  libsimdjson-dev libfmt-dev libabsl-dev libsqlite3-dev sqlite3 catch2
  libpqxx-dev libpq-dev libmariadb-dev
  libcurl4-openssl-dev libcpp-httplib-dev libboost-dev
  graphviz
)
TEST_PKGS=(
  clang libclang-rt-14-dev
  postgresql postgresql-contrib
  mariadb-server mariadb-client
  curl python3
)
case "$group" in
  build) PKGS=("${BUILD_PKGS[@]}") ;;
  test) PKGS=("${BUILD_PKGS[@]}" "${TEST_PKGS[@]}") ;;
  *) echo "install-deps: unknown group '$group' (build or test)" >&2; exit 2 ;;
esac

missing=()
for p in "${PKGS[@]}"; do
  if ! dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed"; then
    missing+=("$p")
  fi
done
[ ${#missing[@]} -eq 0 ] && exit 0

SUDO=""
if [ "$(id -u)" -ne 0 ]; then
  if command -v sudo >/dev/null 2>&1; then SUDO="sudo"; else
    echo "install-deps: missing packages (${missing[*]}) and not root; install them and retry" >&2
    exit 1
  fi
fi
echo "install-deps: installing ${missing[*]}" >&2
export DEBIAN_FRONTEND=noninteractive
$SUDO apt-get update -qq >/dev/null
# Debian's server packages try to start their services; keep them from doing
# that on CI machines and containers (tests start their own servers).
if [ ! -e /usr/sbin/policy-rc.d ]; then
  printf '#!/bin/sh\nexit 101\n' | $SUDO tee /usr/sbin/policy-rc.d >/dev/null
  $SUDO chmod +x /usr/sbin/policy-rc.d
  trap '$SUDO rm -f /usr/sbin/policy-rc.d' EXIT
fi
$SUDO apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
