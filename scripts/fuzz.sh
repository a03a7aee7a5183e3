#!/usr/bin/env bash
# Usage: scripts/fuzz.sh [SECONDS]
# Builds the libFuzzer targets (clang, ASan+UBSan) in build-fuzz/ and runs
# qgdl_fuzz for SECONDS (default 60) from a copy of tests/fuzz/corpus. Quiet
# on success (one summary line); on a crash prints the fuzzer's report, keeps
# the reproducer under build-fuzz/artifacts/ and exits non-zero.
set -euo pipefail
cd "$(dirname "$0")/.."

secs="${1:-60}"
case "$secs" in '' | *[!0-9]*) echo "usage: $0 [SECONDS]" >&2; exit 2 ;; esac
build=build-fuzz
work="$(mktemp -d)"
trap 'rm -rf "$work"' EXIT

if ! {
  cmake -S . -B "$build" -DCMAKE_C_COMPILER=clang -DCMAKE_CXX_COMPILER=clang++ \
    -DCMAKE_BUILD_TYPE=RelWithDebInfo \
    -DCMAKE_CXX_FLAGS="-fsanitize=fuzzer-no-link,address,undefined -fno-sanitize-recover=undefined" \
    -DQG_FUZZ=ON -DQG_BUILD_TESTS=OFF -DQG_BUILD_TOOLS=OFF -DQG_BUILD_BENCH=OFF \
    -DQG_WITH_POSTGRES=OFF -DQG_WITH_MYSQL=OFF &&
    cmake --build "$build" --target qgdl_fuzz -j2
} >"$work/build.log" 2>&1; then
  tail -n 40 "$work/build.log" >&2
  echo "fuzz: FAILED to build qgdl_fuzz (log above)" >&2
  exit 1
fi

mkdir -p "$work/corpus" "$build/artifacts"
cp -R tests/fuzz/corpus/. "$work/corpus/"
if ! "$build/bin/qgdl_fuzz" -max_total_time="$secs" -timeout=10 -rss_limit_mb=2048 \
  -max_len=16384 -artifact_prefix="$build/artifacts/" -print_final_stats=1 \
  "$work/corpus" >"$work/run.log" 2>&1; then
  tail -n 60 "$work/run.log" >&2
  echo "fuzz: qgdl_fuzz FAILED; reproducer(s) in $build/artifacts/" >&2
  exit 1
fi
runs="$(sed -n 's/^stat::number_of_executed_units: *//p' "$work/run.log" | tail -n 1)"
echo "fuzz: qgdl_fuzz ok, ${runs:-?} runs in ${secs}s, no crash"
