#!/usr/bin/env bash
# qgraph explain: text, json, dot; --analyze adds actuals.
source "$(dirname "$0")/lib.sh"
SEED="examples/graphs/seed.json"

run "$QGRAPH" explain "$SEED" --sources "$CATALOG" --param city=Paris
if expect_rc 0 "explain text"; then
  expect_grep "$T/out" "user_data" "text names user_data"
  expect_grep "$T/out" "order_data" "text names order_data"
  grep -qiE "batched|per_binding" "$T/out" || fail "text shows the dependent node's strategy"
  cp "$T/out" "$T/text"
  pass "explain text"
fi

run "$QGRAPH" explain "$SEED" --sources "$CATALOG" --param city=Paris --format json
if expect_rc 0 "explain json"; then
  python3 -c 'import json,sys; json.load(open(sys.argv[1]))' "$T/out" || fail "explain json does not parse"
  expect_grep "$T/out" "\"order_data\"" "json names order_data"
  expect_grep "$T/out" "db_orders" "json names the source"
  pass "explain json"
fi

run "$QGRAPH" explain "$SEED" --sources "$CATALOG" --param city=Paris --format dot
if expect_rc 0 "explain dot"; then
  grep -qE '^(strict )?digraph' "$T/out" || fail "dot output does not start with digraph"
  expect_grep "$T/out" "user_data" "dot names user_data"
  expect_grep "$T/out" "->" "dot has an edge"
  pass "explain dot"
fi

# Forced strategies show in the plan.
python3 - >"$T/per_binding.json" <<'PY'
import json
g = json.load(open("examples/graphs/seed.json"))
g["nodes"][1]["strategy"] = "per_binding"
print(json.dumps(g))
PY
run "$QGRAPH" explain "$T/per_binding.json" --sources "$CATALOG" --param city=Paris
expect_rc 0 "explain per_binding" && expect_grep "$T/out" "per_binding" "forced strategy shown" &&
  pass "explain shows a forced strategy"

# --analyze executes and adds actuals.
for fmt in text json dot; do
  run "$QGRAPH" explain "$SEED" --sources "$CATALOG" --param city=Paris --analyze --format "$fmt"
  expect_rc 0 "explain --analyze $fmt" || continue
  cp "$T/out" "$T/analyze.$fmt"
done
if [ -f "$T/analyze.text" ]; then
  cmp -s "$T/analyze.text" "$T/text" && fail "--analyze output is the same as plain explain"
  grep -qiE "actual" "$T/analyze.text" || fail "--analyze text shows no actuals"
  pass "explain --analyze text"
fi
if [ -f "$T/analyze.json" ]; then
  python3 - "$T/analyze.json" <<'PY' || fail "--analyze json: not JSON or no actuals"
import json, sys
text = open(sys.argv[1]).read()
json.loads(text)
assert "actual" in text
PY
  pass "explain --analyze json"
fi

# --analyze always shows real estimates beside the actuals (a one-shot run
# asks the sources), for every node.
if [ -f "$T/analyze.text" ]; then
  grep -q "origin=default" "$T/analyze.text" && fail "--analyze text shows default estimates"
  [ "$(grep -c 'origin=sqlite' "$T/analyze.text")" -ge 2 ] ||
    fail "--analyze text lacks the sqlite planner's estimate for every node"
  [ "$(grep -c '^  expected:' "$T/analyze.text")" -ge 2 ] || fail "--analyze text lacks expected rows"
  pass "explain --analyze text shows estimates"
fi
if [ -f "$T/analyze.json" ]; then
  python3 - "$T/analyze.json" <<'PY' || fail "--analyze json: estimates missing or default"
import json, sys
plan = json.load(open(sys.argv[1]))
for n in plan["nodes"]:
    assert n["estimate"]["origin"].startswith("sqlite"), n["estimate"]
    assert "fallback_reason" not in n["estimate"], n["estimate"]
    assert n["expected"]["rows"] is not None, n
    assert "actual" in n, n
PY
  pass "explain --analyze json shows estimates beside actuals"
fi

# Errors: invalid graph, missing --sources, bad format.
run "$QGRAPH" explain "$SEED" --sources "$CATALOG" --format svg --param city=Paris
expect_rc 2 "explain bad --format" && pass "explain: bad --format is a usage error"
run "$QGRAPH" explain "$SEED" --param city=Paris
expect_rc 2 "explain without --sources" && pass "explain: --sources required"
sed 's/"db_orders"/"db_nowhere"/' "$SEED" >"$T/unknown_db.json"
run "$QGRAPH" explain "$T/unknown_db.json" --sources "$CATALOG" --param city=Paris
expect_rc 1 "explain invalid graph" && expect_grep "$T/err" "/nodes/1/database_id" "explain reports the pointer" &&
  pass "explain: invalid graph"

finish
