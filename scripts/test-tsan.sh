#!/usr/bin/env bash
# Usage: scripts/test-tsan.sh [TEST_TARGET...]
# The ThreadSanitizer build (build-tsan/, -DQG_TSAN=ON) of the library and of
# the unit tests named (default: every unit test binary but test_http), then
#  1. every ctest test labelled "unit" under TSan: any report fails its test;
#  2. the planted races of tests/unit/common/absl_sync_tsan_test.cc, alone:
#     each must be reported, or the interposer / TSan is not doing its job.
# Prints the build and run times.
set -euo pipefail
cd "$(dirname "$0")/.."
build=build-tsan
targets=("$@")
[ ${#targets[@]} -gt 0 ] || targets=(test_common test_sql test_graph test_result test_pool
  test_store test_catalog test_sqlite test_csv test_engine)
launcher=()
if command -v ccache >/dev/null; then
  launcher=(-DCMAKE_C_COMPILER_LAUNCHER=ccache -DCMAKE_CXX_COMPILER_LAUNCHER=ccache)
fi
start=$(date +%s)
# -O1 -g1: line tables are all a report's stack needs; half -O2 -g's compile time.
cmake -S . -B "$build" "${launcher[@]}" -DCMAKE_BUILD_TYPE=RelWithDebInfo -DQG_TSAN=ON \
  -DCMAKE_C_FLAGS_RELWITHDEBINFO="-O1 -g1 -DNDEBUG" -DCMAKE_CXX_FLAGS_RELWITHDEBINFO="-O1 -g1 -DNDEBUG" \
  -DQG_BUILD_BENCH=OFF -DQG_BUILD_TOOLS=OFF ${CMAKE_FLAGS:-} >/dev/null
cmake --build "$build" -j"${JOBS:-2}" --target "${targets[@]}"
built=$(date +%s)
export TSAN_OPTIONS="halt_on_error=1 second_deadlock_stack=1 suppressions=$PWD/tests/tsan.supp"
bash scripts/run-tests.sh "$build" -L unit
ran=$(date +%s)

log="$build/planted-race.log"
for t in "planted race: a counter behind no lock" \
  "planted race: a counter behind two different mutexes"; do
  if TSAN_OPTIONS="halt_on_error=1 exitcode=66" "$build/bin/test_common" "$t" >"$log" 2>&1; then
    echo "test-tsan: the planted race \"$t\" was NOT reported" >&2
    exit 1
  fi
  if ! grep -q "WARNING: ThreadSanitizer: data race" "$log"; then
    tail -n 30 "$log" >&2
    echo "test-tsan: \"$t\" failed without a data race report" >&2
    exit 1
  fi
  echo "test-tsan: planted race reported: $t"
done
echo "test-tsan: ok; build $((built - start)) s, tests $((ran - built)) s"
