#!/usr/bin/env bash
# Runs every ctest test of a build tree (unit, integration against the real
# servers the ctest fixtures start, C ABI, CLI, install). Fails if any fails
# or if no test ran at all.
set -euo pipefail
build=${1:-build}
cd "$(dirname "$0")/.."
[ -d "$build" ] || { echo "run-tests: no build tree at $build" >&2; exit 1; }
log="$build/ctest.log"
# Server-backed tests share fixtures; two jobs keep the 2-core machine busy
# without starving the servers.
set +e
ctest --test-dir "$build" --output-on-failure --timeout 600 -j "${QG_TEST_JOBS:-2}" "${@:2}" 2>&1 | tee "$log"
rc=${PIPESTATUS[0]}
set -e
if ! grep -qE '[0-9]+ tests? failed out of [1-9][0-9]*' "$log" && ! grep -qE '100% tests passed, 0 tests failed out of [1-9]' "$log"; then
  echo "run-tests: ctest ran no test in $build" >&2
  exit 1
fi
# Every discovered test must have run (a filter passed in "${@:2}" narrows
# both counts alike).
discovered=$(ctest --test-dir "$build" -N "${@:2}" | sed -n 's/^Total Tests: *//p')
ran=$(sed -n 's/.*tests\{0,1\} failed out of \([0-9][0-9]*\).*/\1/p' "$log" | tail -n 1)
if [ -n "$discovered" ] && [ "${ran:-0}" -lt "$discovered" ]; then
  echo "run-tests: ctest ran ${ran:-0} tests of $discovered discovered in $build" >&2
  exit 1
fi
echo "run-tests: $ran of $discovered discovered tests ran in $build"
exit "$rc"
