#!/usr/bin/env bash
# Install/consumer test: installs the build tree BUILD_DIR into a temporary
# prefix, then
#   1. configures, builds and runs tests/install/consumer (find_package(qg),
#      links qg::qg, runs a graph on in-memory SQLite);
#   2. checks that pkg-config finds qg.pc there, and builds and runs a C
#      program with its flags against the installed qg.h and libqg.so.
# Usage: tests/install/run.sh BUILD_DIR SOURCE_DIR
set -euo pipefail
BUILD="$(cd "$1" && pwd)"
SRC="$(cd "$2" && pwd)"
tmp="$(mktemp -d "${TMPDIR:-/tmp}/qgraph-install-test.XXXXXX")"
trap 'rm -rf "$tmp"' EXIT
prefix="$tmp/prefix"
# A sanitizer build's libraries need the sanitizer runtime in every program
# that links them.
san_flags=""
if grep -q '^QG_SANITIZE:BOOL=ON' "$BUILD/CMakeCache.txt" 2>/dev/null; then
  san_flags="-fsanitize=address,undefined"
fi

echo "== cmake --install $BUILD --prefix $prefix"
cmake --install "$BUILD" --prefix "$prefix" >"$tmp/install.log" || { cat "$tmp/install.log" >&2; exit 1; }
for f in include/qg/engine.h include/qg.h include/qg_provider.h; do
  [ -f "$prefix/$f" ] || { echo "FAIL: $f not installed" >&2; exit 1; }
done
libdir="$(dirname "$(find "$prefix" -name qgConfig.cmake | head -n 1)")"
libdir="${libdir%/cmake/qg}"
[ -f "$libdir/libqg.a" ] || { echo "FAIL: libqg.a not installed" >&2; exit 1; }
ls "$libdir"/libqg.so* >/dev/null 2>&1 || { echo "FAIL: libqg.so not installed" >&2; exit 1; }

echo "== consumer project (find_package(qg), qg::qg)"
cmake -S "$SRC/tests/install/consumer" -B "$tmp/build" -DCMAKE_PREFIX_PATH="$prefix" \
  -DCMAKE_BUILD_TYPE=Release -DCMAKE_CXX_FLAGS="$san_flags" -DCMAKE_EXE_LINKER_FLAGS="$san_flags" \
  >"$tmp/configure.log" 2>&1 || { cat "$tmp/configure.log" >&2; exit 1; }
cmake --build "$tmp/build" -j2 >"$tmp/build.log" 2>&1 || { cat "$tmp/build.log" >&2; exit 1; }
"$tmp/build/consumer"

echo "== pkg-config qg"
export PKG_CONFIG_PATH="$libdir/pkgconfig"
pkg-config --exists qg || { echo "FAIL: pkg-config does not find qg.pc in $PKG_CONFIG_PATH" >&2; exit 1; }
want="$(sed -n 's/^project(qgraph VERSION \([0-9.]*\).*/\1/p' "$SRC/CMakeLists.txt")"
got="$(pkg-config --modversion qg)"
[ "$got" = "$want" ] || { echo "FAIL: qg.pc version $got, project version $want" >&2; exit 1; }
# qg.pc's prefix is the configure-time one; --define-prefix points it at the
# prefix we installed to.
flags="$(pkg-config --define-prefix --cflags --libs qg)"
echo "pkg-config --cflags --libs qg: $flags"
# shellcheck disable=SC2086
cc -std=c11 -Wall -Werror $san_flags "$SRC/tests/install/c_consumer.c" $flags -o "$tmp/c_consumer"
LD_LIBRARY_PATH="$libdir" "$tmp/c_consumer"
echo "install test: ok"
