# Shared helpers for the CLI tests. Each test script is run by ctest as
#   bash <script> QGRAPH SOURCE_DIR [BIN_DIR]
# from SOURCE_DIR (the example catalog's paths are relative to it), and
# sources this file first.
set -euo pipefail

QGRAPH="$1"
SRC="$2"
BIN="${3:-$(dirname "$QGRAPH")}"
cd "$SRC"
CHECK="python3 $SRC/tests/cli/check.py"
T="$(mktemp -d "${TMPDIR:-/tmp}/qgraph-cli-test.XXXXXX")"
trap 'rm -rf "$T"' EXIT
CATALOG="examples/catalog.json"
USERS_DB="examples/data/users.sqlite"
ORDERS_DB="examples/data/orders.sqlite"
bash scripts/make-example-data.sh >/dev/null

FAILURES=0
fail() {
  echo "FAIL: $*" >&2
  FAILURES=$((FAILURES + 1))
}
pass() { echo "ok: $*"; }

# run CMD...: runs a command, keeping stdout in $T/out, stderr in $T/err and
# the exit status in $RC; never aborts the script. A command that hangs is
# killed after 60 s (exit status 124).
run() {
  set +e
  timeout --kill-after=5 60 "$@" >"$T/out" 2>"$T/err"
  RC=$?
  set -e
}

# expect_rc N what: checks $RC of the last run.
expect_rc() {
  if [ "$RC" -ne "$1" ]; then
    fail "$2: exit status $RC, expected $1"
    echo "--- stderr:" >&2; head -c 2000 "$T/err" >&2; echo >&2
    echo "--- stdout:" >&2; head -c 2000 "$T/out" >&2; echo >&2
    return 1
  fi
  return 0
}

# expect_grep FILE PATTERN what (fixed string)
expect_grep() {
  if ! grep -qF -- "$2" "$1"; then
    fail "$3: \"$2\" not found in $(basename "$1")"
    head -c 2000 "$1" >&2; echo >&2
    return 1
  fi
  return 0
}

# expect_check what ARGS...: runs check.py ARGS, failing the test on error.
expect_check() {
  local what="$1"; shift
  if ! $CHECK "$@" >"$T/check" 2>&1; then
    fail "$what"
    cat "$T/check" >&2
    return 1
  fi
  return 0
}

# native_json DB SQL: the sqlite3 CLI's own answer, as a JSON array (empty
# result -> []). Both example databases are attached as "u" and "o".
native_json() {
  local out
  out="$(sqlite3 -json ":memory:" "ATTACH '$USERS_DB' AS u; ATTACH '$ORDERS_DB' AS o; $1")"
  if [ -z "$out" ]; then echo "[]"; else echo "$out"; fi
}

finish() {
  if [ "$FAILURES" -ne 0 ]; then
    echo "$FAILURES check(s) failed" >&2
    exit 1
  fi
  echo "all checks passed"
}
