#!/usr/bin/env bash
# Help, version and usage errors (exit status 2, message on stderr).
source "$(dirname "$0")/lib.sh"
SEED="examples/graphs/seed.json"

run "$QGRAPH" --help
expect_rc 0 "--help" && expect_grep "$T/out" "Usage: qgraph" "--help text" &&
  expect_grep "$T/out" "validate" "--help lists verbs" && pass "--help"
for verb in run validate explain; do
  run "$QGRAPH" help "$verb"
  expect_rc 0 "help $verb" && expect_grep "$T/out" "Usage: qgraph $verb" "help $verb text" && pass "help $verb"
  run "$QGRAPH" "$verb" --help
  expect_rc 0 "$verb --help" && expect_grep "$T/out" "Usage: qgraph $verb" "$verb --help text"
done
run "$QGRAPH" help run
expect_grep "$T/out" "--timeout-ms" "help run lists options"
run "$QGRAPH" --version
expect_rc 0 "--version" && grep -qE '^qgraph [0-9]+\.[0-9]+\.[0-9]+$' "$T/out" && pass "--version" ||
  fail "--version output: $(cat "$T/out")"

# usage CASE ARGS...: exit 2, a "qgraph: usage:" line on stderr, nothing on stdout.
usage() {
  local what="$1"; shift
  run "$QGRAPH" "$@"
  if expect_rc 2 "$what"; then
    if ! grep -q "^qgraph: usage: " "$T/err" && ! grep -q "^Usage: qgraph" "$T/err"; then
      fail "$what: no usage message on stderr"
    elif [ -s "$T/out" ]; then
      fail "$what: wrote to stdout"
    else
      pass "usage error: $what"
    fi
  fi
}
usage "no arguments"
usage "unknown verb" frobnicate
usage "unknown global option" --frob
usage "help for an unknown verb" help frobnicate
usage "run without graph" run --sources "$CATALOG"
usage "run with two graphs" run "$SEED" "$SEED" --sources "$CATALOG"
usage "run without --sources" run "$SEED" --param city=Paris
usage "unknown option" run "$SEED" --sources "$CATALOG" --frobnicate
usage "option without value" run "$SEED" --sources
usage "flag with value" run "$SEED" --sources "$CATALOG" --pretty=yes
usage "option given twice" run "$SEED" --sources "$CATALOG" --sources "$CATALOG"
usage "--param without =" run "$SEED" --sources "$CATALOG" --param city
usage "--param with empty name" run "$SEED" --sources "$CATALOG" --param =Paris
usage "--params not JSON" run "$SEED" --sources "$CATALOG" --params '{city'
usage "--params not an object" run "$SEED" --sources "$CATALOG" --params '[1, 2]'
usage "bad --shape" run "$SEED" --sources "$CATALOG" --param city=Paris --shape tree
usage "bad --format" run "$SEED" --sources "$CATALOG" --param city=Paris --format xml
usage "nested as csv" run "$SEED" --sources "$CATALOG" --param city=Paris --shape nested --format csv
usage "bad --timeout-ms" run "$SEED" --sources "$CATALOG" --param city=Paris --timeout-ms soon
usage "zero --timeout-ms" run "$SEED" --sources "$CATALOG" --param city=Paris --timeout-ms 0
usage "validate without graph" validate
usage "validate unknown option" validate "$SEED" --shape joined
usage "explain --analyze=1" explain "$SEED" --sources "$CATALOG" --analyze=1

# --option=value works like "--option value".
run "$QGRAPH" run "$SEED" --sources="$CATALOG" --param=city=Paris --shape=joined
expect_rc 0 "--opt=value" && expect_check "--opt=value rows" expr "$T/out" 'len(j["rows"]) == 5' &&
  pass "--option=value"

finish
