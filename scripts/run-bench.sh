#!/usr/bin/env bash
# Runs every benchmark program in BUILD_DIR/bin (bench_*), one after another.
# Usage: scripts/run-bench.sh BUILD_DIR [extra arguments for every bench]
# Each program builds (or reuses) its data under BUILD_DIR/bench-data and
# prints its own table of times and ratios; this script fails if one fails.
set -euo pipefail
BUILD="${1:?usage: scripts/run-bench.sh BUILD_DIR}"
shift
cd "$(dirname "$0")/.."
shopt -s nullglob
benches=("$BUILD"/bin/bench_*)
if [ ${#benches[@]} -eq 0 ]; then
  echo "run-bench: no bench_* programs in $BUILD/bin (build with -DQG_BUILD_BENCH=ON)" >&2
  exit 1
fi
failed=0
for b in "${benches[@]}"; do
  [ -x "$b" ] && [ -f "$b" ] || continue
  echo "=== $(basename "$b")"
  args=("$@")
  # The soak runs for minutes by default; a short run here (make soak: 10 min).
  [ "$(basename "$b")" = bench_soak ] && args=(--seconds "${QG_SOAK_SECONDS:-20}")
  if ! "$b" "${args[@]}"; then
    echo "run-bench: $(basename "$b") failed" >&2
    failed=1
  fi
  echo
done
exit $failed
