#!/usr/bin/env bash
# Graph and execution errors: exit status 1, one clean "qgraph: CODE: message"
# on stderr, nothing half-written on stdout, no secret in any message.
source "$(dirname "$0")/lib.sh"
SEED="examples/graphs/seed.json"

# error WHAT CODE ARGS...: exit 1, stderr starts with "qgraph: CODE: ".
error() {
  local what="$1" code="$2"; shift 2
  run "$QGRAPH" "$@"
  if expect_rc 1 "$what"; then
    if ! head -n 1 "$T/err" | grep -q "^qgraph: $code: "; then
      fail "$what: expected \"qgraph: $code: ...\", got: $(head -n 3 "$T/err")"
      return 1
    fi
    if grep -qiE "terminate|abort|segmentation|sanitizer" "$T/err"; then
      fail "$what: crashed"; return 1
    fi
    pass "$what"
  fi
}

error "missing graph file" NOT_FOUND run "$T/nope.json" --sources "$CATALOG" --param city=Paris
expect_grep "$T/err" "nope.json" "missing graph file is named"
error "missing catalog file" NOT_FOUND run "$SEED" --sources "$T/nope-catalog.json" --param city=Paris
expect_grep "$T/err" "nope-catalog.json" "missing catalog is named"
error "validate: missing graph file" NOT_FOUND validate "$T/nope.json"

# A catalog whose SQLite file cannot be opened (its directory does not exist).
cat >"$T/catalog_missing.json" <<JSON
{"sources": [
  {"name": "db_users", "provider": "sqlite", "connect": "$T/no/such/dir/users.sqlite"},
  {"name": "db_orders", "provider": "sqlite", "connect": "$ORDERS_DB"}]}
JSON
run "$QGRAPH" run "$SEED" --sources "$T/catalog_missing.json" --param city=Paris
if expect_rc 1 "missing source file"; then
  head -n 1 "$T/err" | grep -q "^qgraph: [A-Z_]*: " || fail "missing source file: unclean message: $(cat "$T/err")"
  expect_grep "$T/err" "db_users" "missing source file: the source is named"
  [ ! -s "$T/out" ] || fail "missing source file: partial stdout"
  pass "missing source file"
fi

# A query that fails in the source names the node.
python3 - >"$T/bad_sql.json" <<'PY'
import json
g = json.load(open("examples/graphs/seed.json"))
g["nodes"][1]["query_string"] = "SELECT order_id, user_id, amount FROM no_such_table WHERE user_id = :user_id"
print(json.dumps(g))
PY
run "$QGRAPH" run "$T/bad_sql.json" --sources "$CATALOG" --param city=Paris
if expect_rc 1 "failing query"; then
  expect_grep "$T/err" "order_data" "failing query names the node"
  expect_grep "$T/err" "no_such_table" "failing query carries the driver message"
  pass "failing query"
fi

# A graph input with no value.
error "missing parameter" INVALID_ARGUMENT run "$SEED" --sources "$CATALOG"
expect_grep "$T/err" "city" "missing parameter is named"

# Unknown provider / malformed catalog.
echo '{"sources": [{"name": "db_users", "provider": "nosuch", "connect": "x"}]}' >"$T/cat_bad_provider.json"
run "$QGRAPH" run "$SEED" --sources "$T/cat_bad_provider.json" --param city=Paris
expect_rc 1 "unknown provider" && expect_grep "$T/err" "nosuch" "unknown provider named" && pass "unknown provider"
echo '{"sources": [' >"$T/cat_malformed.json"
run "$QGRAPH" run "$SEED" --sources "$T/cat_malformed.json" --param city=Paris
expect_rc 1 "malformed catalog" && expect_grep "$T/err" "cat_malformed.json" "malformed catalog named" &&
  pass "malformed catalog"

# A literal password never shows in an error.
cat >"$T/catalog_secret.json" <<JSON
{"sources": [
  {"name": "db_users", "provider": "sqlite", "connect": "$T/no/such/dir/users.sqlite",
   "user": "app", "password": "hunter2-s3cret"},
  {"name": "db_orders", "provider": "sqlite", "connect": "$ORDERS_DB"}]}
JSON
run "$QGRAPH" run "$SEED" --sources "$T/catalog_secret.json" --param city=Paris
if [ "$RC" -ne 0 ]; then
  grep -q "hunter2-s3cret" "$T/err" "$T/out" && fail "the password appears in the output" || pass "no secret in errors"
else
  grep -q "hunter2-s3cret" "$T/out" && fail "the password appears in the output" || pass "no secret in output"
fi

# A timeout cancels the graph (a slow recursive query) with DEADLINE_EXCEEDED.
cat >"$T/slow.json" <<'JSON'
{"nodes": [{"node_id": "slow", "database_id": "db_users",
  "query_string": "WITH RECURSIVE c(x) AS (SELECT 1 UNION ALL SELECT x + 1 FROM c) SELECT count(*) AS n FROM c",
  "input_parameters": [], "output_fields": ["n"]}], "edges": []}
JSON
start=$(date +%s)
error "timeout" DEADLINE_EXCEEDED run "$T/slow.json" --sources "$CATALOG" --timeout-ms 300
[ $(( $(date +%s) - start )) -lt 20 ] || fail "timeout took too long to cancel"

finish
