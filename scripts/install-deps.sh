#!/usr/bin/env bash
# Installs exactly the Debian 12 packages qgraph needs to build and test.
# Idempotent and quiet when everything is already there; runs apt-get update
# once, only when something is missing. Needs root (or sudo) to install.
set -euo pipefail

PKGS=(
  build-essential cmake pkg-config git
  libsimdjson-dev libfmt-dev libabsl-dev libsqlite3-dev sqlite3 catch2
  clang libclang-rt-14-dev
  libpqxx-dev libpq-dev postgresql postgresql-contrib
  libmariadb-dev mariadb-server mariadb-client
  libcurl4-openssl-dev libcpp-httplib-dev libboost-dev curl python3
  graphviz
)

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
