#!/usr/bin/env bash
# qgraph catalog exec / list: statements on a persisted SQLite catalog and on
# a JSON catalog, EXECUTE STATEMENT pass-through, run --catalog, and a canary
# password that never shows in any output.
source "$(dirname "$0")/lib.sh"

CAT="$T/catalog.db"
CANARY="Canary-Cli-Pw-19d2"

run "$QGRAPH" catalog exec \
  "CREATE EXTERNAL DATA SOURCE db_users PROVIDER sqlite CONNECT '$USERS_DB' AS USER 'u' PASSWORD '$CANARY'" \
  "CREATE EXTERNAL DATA SOURCE db_orders PROVIDER sqlite CONNECT '$ORDERS_DB'" \
  "CREATE EXTERNAL USER ON db_users AS 'ext' PASSWORD '$CANARY' FOR alice" \
  --catalog "$CAT"
expect_rc 0 "catalog exec CREATE" && expect_grep "$T/out" 'ok' "catalog exec prints ok"
[ -f "$CAT" ] || fail "catalog file not created"
[ "$(stat -c %a "$CAT")" = "600" ] || fail "catalog file mode is $(stat -c %a "$CAT"), not 600"

run "$QGRAPH" catalog list --catalog "$CAT"
if expect_rc 0 "catalog list"; then
  cp "$T/out" "$T/list.json"
  expect_check "catalog list sources" expr "$T/list.json" \
    'sorted(s["name"] for s in j["sources"]) == ["db_orders", "db_users"]'
  pass "catalog list"
fi

# EXECUTE STATEMENT through the persisted catalog, with a parameter and a user.
run "$QGRAPH" catalog exec --catalog "$CAT" --user alice \
  "EXECUTE STATEMENT 'SELECT count(*) AS n FROM users WHERE city = :c' (c := 'Paris') ON EXTERNAL DATA SOURCE db_users"
expect_rc 0 "catalog exec EXECUTE STATEMENT" &&
  expect_check "pass-through rows" expr "$T/out" \
    'j["nodes"]["statement"]["columns"] == ["n"] and len(j["nodes"]["statement"]["rows"]) == 1'
cp "$T/out" "$T/exec.json"

# run --catalog: the seed graph on the persisted catalog.
run "$QGRAPH" run examples/graphs/seed.json --catalog "$CAT" --param city=Paris
expect_rc 0 "run --catalog" && expect_check "run --catalog rows" expr "$T/out" \
  'len(j["nodes"]["order_data"]["rows"]) == 5'
run "$QGRAPH" explain examples/graphs/seed.json --catalog "$CAT" --param city=Paris
expect_rc 0 "explain --catalog"
cp "$T/out" "$T/explain.txt"
run "$QGRAPH" validate examples/graphs/seed.json --catalog "$CAT"
expect_rc 0 "validate --catalog"

# A JSON catalog: changes are in memory; list shows them.
run "$QGRAPH" catalog exec --sources "$CATALOG" "DROP EXTERNAL DATA SOURCE db_orders" \
  "EXECUTE STATEMENT 'SELECT 1 AS one' ON EXTERNAL DATA SOURCE db_users"
expect_rc 0 "catalog exec --sources" &&
  expect_check "--sources pass-through" expr "$T/out" 'j["nodes"]["statement"]["columns"] == ["one"]'

# DROP: then the source is not found, named in the message.
run "$QGRAPH" catalog exec --catalog "$CAT" "DROP EXTERNAL DATA SOURCE db_orders"
expect_rc 0 "catalog exec DROP"
run "$QGRAPH" catalog exec --catalog "$CAT" \
  "EXECUTE STATEMENT 'SELECT 1' ON EXTERNAL DATA SOURCE db_orders"
expect_rc 1 "EXECUTE STATEMENT on a dropped source"
expect_grep "$T/err" '"db_orders"' "dropped source is named"
cp "$T/err" "$T/err1.txt"

# Errors with line:column, usage errors.
run "$QGRAPH" catalog exec --catalog "$CAT" "CREATE EXTERNAL DATA SORCE x"
expect_rc 1 "parse error"
cp "$T/err" "$T/err2.txt"
run "$QGRAPH" catalog exec --catalog "$CAT" --sources "$CATALOG" "DROP EXTERNAL DATA SOURCE x"
expect_rc 2 "--catalog with --sources"
run "$QGRAPH" catalog frobnicate
expect_rc 2 "unknown catalog command"
run "$QGRAPH" catalog exec --catalog "$CAT"
expect_rc 2 "exec without statements"
run "$QGRAPH" help catalog
expect_rc 0 "help catalog" && expect_grep "$T/out" 'catalog exec STATEMENT' "help catalog"

# A corrupt catalog file is refused.
echo "not a database, not at all, really not one, no ........................." >"$T/bad.db"
run "$QGRAPH" catalog list --catalog "$T/bad.db"
expect_rc 1 "corrupt catalog refused"

# The canary appears in no output.
run "$QGRAPH" catalog list --catalog "$CAT"
cat "$T/out" "$T/list.json" "$T/exec.json" "$T/explain.txt" "$T/err1.txt" "$T/err2.txt" >"$T/all"
if grep -q "$CANARY" "$T/all"; then
  fail "the canary password appears in an output"
else
  pass "canary password never shown"
fi

finish
