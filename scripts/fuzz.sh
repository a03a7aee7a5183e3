#!/usr/bin/env bash
# Usage: scripts/fuzz.sh [SECONDS] [TARGET...]
# Builds the libFuzzer targets (clang, ASan+UBSan) in build-fuzz/ — every
# tests/fuzz/*_fuzz.cc, or only the TARGETs named — and runs each for SECONDS
# (default 30) from a copy of its seed corpus tests/fuzz/corpus_<name without
# _fuzz>/. Prints one line per target; on a crash, leak, timeout or failed
# invariant prints the fuzzer's report and the reproducer (kept under
# build-fuzz/artifacts/<target>/), goes on with the other targets and exits
# non-zero at the end. Reproduce with: build-fuzz/bin/<target> <reproducer>.
set -euo pipefail
cd "$(dirname "$0")/.."

secs="${1:-30}"
case "$secs" in '' | *[!0-9]*) echo "usage: $0 [SECONDS] [TARGET...]" >&2; exit 2 ;; esac
shift || true
build=build-fuzz
work="$(mktemp -d)"
trap 'rm -rf "$work"' EXIT

targets=("$@")
if [ ${#targets[@]} -eq 0 ]; then
  for f in tests/fuzz/*_fuzz.cc; do targets+=("$(basename "$f" .cc)"); done
fi
[ ${#targets[@]} -gt 0 ] || { echo "fuzz: no target in tests/fuzz/" >&2; exit 1; }

launcher=()
if command -v ccache >/dev/null; then
  launcher=(-DCMAKE_C_COMPILER_LAUNCHER=ccache -DCMAKE_CXX_COMPILER_LAUNCHER=ccache)
fi
if ! {
  cmake -S . -B "$build" "${launcher[@]}" -DCMAKE_C_COMPILER=clang -DCMAKE_CXX_COMPILER=clang++ \
    -DCMAKE_BUILD_TYPE=RelWithDebInfo \
    -DCMAKE_CXX_FLAGS="-fsanitize=fuzzer-no-link,address,undefined -fno-sanitize-recover=undefined" \
    -DQG_FUZZ=ON -DQG_BUILD_TESTS=OFF -DQG_BUILD_TOOLS=OFF -DQG_BUILD_BENCH=OFF \
    -DQG_WITH_POSTGRES=OFF -DQG_WITH_MYSQL=OFF &&
    cmake --build "$build" -j"${JOBS:-2}" --target "${targets[@]}"
} >"$work/build.log" 2>&1; then
  tail -n 40 "$work/build.log" >&2
  echo "fuzz: FAILED to build ${targets[*]} (log above)" >&2
  exit 1
fi

failed=()
for t in "${targets[@]}"; do
  corpus="$work/corpus_$t"
  mkdir -p "$corpus" "$build/artifacts/$t"
  seeds=tests/fuzz/corpus_${t%_fuzz}
  [ -d "$seeds" ] || seeds=tests/fuzz/corpus_$t
  if [ -d "$seeds" ]; then
    cp -R "$seeds/." "$corpus/"
  else
    echo "fuzz: warning: $t has no seed corpus (tests/fuzz/corpus_${t%_fuzz}/)" >&2
  fi
  log="$work/$t.log"
  if ! "$build/bin/$t" -max_total_time="$secs" -timeout=10 -rss_limit_mb=2048 \
    -max_len=16384 -artifact_prefix="$build/artifacts/$t/" -print_final_stats=1 \
    "$corpus" >"$log" 2>&1; then
    tail -n 60 "$log" >&2
    repro="$(sed -n 's/.*Test unit written to \(.*\)$/\1/p' "$log" | tail -n 1)"
    echo "fuzz: $t FAILED; reproducer: ${repro:-see $build/artifacts/$t/}" >&2
    failed+=("$t")
    continue
  fi
  runs="$(sed -n 's/^stat::number_of_executed_units: *//p' "$log" | tail -n 1)"
  cov="$(grep -o 'cov: [0-9]*' "$log" | tail -n 1 || true)"
  echo "fuzz: $t ok, ${runs:-?} runs in ${secs}s, ${cov:-cov: ?}, no crash"
done
if [ ${#failed[@]} -gt 0 ]; then
  echo "fuzz: FAILED: ${failed[*]}" >&2
  exit 1
fi
