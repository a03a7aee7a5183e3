#!/usr/bin/env bash
# qgraph run: the seed graph in every shape and format, compared with the
# answer of the sqlite3 CLI doing the same join natively (both files attached).
source "$(dirname "$0")/lib.sh"

SEED="examples/graphs/seed.json"
native_json "SELECT id, name, city FROM u.users WHERE city = 'Paris'" >"$T/users.json"
native_json "SELECT order_id, user_id, amount FROM o.orders
             WHERE user_id IN (SELECT id FROM u.users WHERE city = 'Paris')" >"$T/orders.json"
native_json "SELECT u.id AS \"user_data.id\", u.name AS \"user_data.name\", u.city AS \"user_data.city\",
                    o.order_id AS \"order_data.order_id\", o.user_id AS \"order_data.user_id\",
                    o.amount AS \"order_data.amount\"
             FROM u.users u JOIN o.orders o ON o.user_id = u.id WHERE u.city = 'Paris'" >"$T/joined.json"
$CHECK expr "$T/joined.json" 'len(j) == 5'  # the fixture itself: 5 orders of Paris users

# shape nodes (the default), json
run "$QGRAPH" run "$SEED" --sources "$CATALOG" --param city=Paris
if expect_rc 0 "nodes/json"; then
  cp "$T/out" "$T/nodes.json"
  $CHECK nodes-rows "$T/nodes.json" user_data >"$T/a.json"
  expect_check "nodes/json user_data rows" rows-equal "$T/a.json" "$T/users.json"
  $CHECK nodes-rows "$T/nodes.json" order_data >"$T/a.json"
  expect_check "nodes/json order_data rows" rows-equal "$T/a.json" "$T/orders.json"
  expect_check "nodes/json columns" expr "$T/nodes.json" \
    'j["nodes"]["user_data"]["columns"] == ["id", "name", "city"] and j["nodes"]["order_data"]["columns"] == ["order_id", "user_id", "amount"]'
  expect_check "nodes/json stats" expr "$T/nodes.json" \
    '"stats" in j and "order_data" in j["stats"] and "user_data" in j["stats"]'
  expect_check "decimal stays exact" expr "$T/nodes.json" \
    '"9.50" in [r[2] for r in j["nodes"]["order_data"]["rows"]]'
  [ "$(wc -l <"$T/out")" -le 1 ] || fail "nodes/json without --pretty spans several lines"
  pass "run --shape nodes --format json"
fi

# --pretty: same data, indented
run "$QGRAPH" run "$SEED" --sources "$CATALOG" --param city=Paris --pretty
if expect_rc 0 "nodes/json --pretty"; then
  [ "$(wc -l <"$T/out")" -gt 5 ] || fail "--pretty output is not indented"
  $CHECK nodes-rows "$T/out" order_data >"$T/a.json"
  expect_check "--pretty rows" rows-equal "$T/a.json" "$T/orders.json"
  pass "run --pretty"
fi

# shape joined, json
run "$QGRAPH" run "$SEED" --sources "$CATALOG" --param city=Paris --shape joined
if expect_rc 0 "joined/json"; then
  $CHECK joined-rows "$T/out" >"$T/a.json"
  expect_check "joined/json rows" rows-equal "$T/a.json" "$T/joined.json"
  pass "run --shape joined --format json"
fi

# shape nested, json: every Paris user (Emma without orders too)
run "$QGRAPH" run "$SEED" --sources "$CATALOG" --param city=Paris --shape nested
if expect_rc 0 "nested/json"; then
  expect_check "nested/json" nested "$T/out" "$T/users.json" id order_data "$T/orders.json" user_id
  expect_check "nested: Emma has an empty order list" expr "$T/out" \
    '[u["order_data"] for u in j["user_data"] if u["name"] == "Emma"] == [[]]'
  pass "run --shape nested --format json"
fi

# ndjson: one object per line
run "$QGRAPH" run "$SEED" --sources "$CATALOG" --param city=Paris --shape joined --format ndjson
if expect_rc 0 "joined/ndjson"; then
  [ "$(grep -c . "$T/out")" -eq 5 ] || fail "joined/ndjson: expected 5 lines"
  $CHECK ndjson "$T/out" >"$T/a.json"
  expect_check "joined/ndjson rows" rows-equal "$T/a.json" "$T/joined.json"
  pass "run --shape joined --format ndjson"
fi
run "$QGRAPH" run "$SEED" --sources "$CATALOG" --param city=Paris --format ndjson
if expect_rc 0 "nodes/ndjson"; then
  [ "$(grep -c . "$T/out")" -eq 8 ] || fail "nodes/ndjson: expected 3 + 5 lines"
  $CHECK ndjson-nodes "$T/out" order_data >"$T/a.json"
  expect_check "nodes/ndjson order rows" rows-equal "$T/a.json" "$T/orders.json"
  $CHECK ndjson-nodes "$T/out" user_data >"$T/a.json"
  expect_check "nodes/ndjson user rows" rows-equal "$T/a.json" "$T/users.json"
  pass "run --shape nodes --format ndjson"
fi
run "$QGRAPH" run "$SEED" --sources "$CATALOG" --param city=Paris --shape nested --format ndjson
if expect_rc 0 "nested/ndjson"; then
  [ "$(grep -c . "$T/out")" -eq 3 ] || fail "nested/ndjson: expected one line per Paris user"
  $CHECK ndjson "$T/out" >"$T/a.json"
  # each line is one root row under its node's name: {"user_data": {...}}
  python3 -c 'import json,sys; print(json.dumps({"user_data": [l["user_data"] for l in json.load(open(sys.argv[1]))]}))' \
    "$T/a.json" >"$T/b.json"
  expect_check "nested/ndjson" nested "$T/b.json" "$T/users.json" id order_data "$T/orders.json" user_id
  pass "run --shape nested --format ndjson"
fi

# csv: values as text, RFC 4180 quoting
run "$QGRAPH" run "$SEED" --sources "$CATALOG" --param city=Paris --shape joined --format csv
if expect_rc 0 "joined/csv"; then
  head -n 1 "$T/out" | tr -d '\r' >"$T/header"
  expect_grep "$T/header" "user_data.id,user_data.name,user_data.city,order_data.order_id,order_data.user_id,order_data.amount" "joined/csv header"
  $CHECK csv "$T/out" >"$T/a.json"
  $CHECK texts "$T/joined.json" >"$T/e.json"
  expect_check "joined/csv rows" rows-equal "$T/a.json" "$T/e.json"
  pass "run --shape joined --format csv"
fi
run "$QGRAPH" run "$SEED" --sources "$CATALOG" --param city=Paris --format csv
if expect_rc 0 "nodes/csv"; then
  $CHECK csv-nodes "$T/out" order_data >"$T/a.json"
  $CHECK texts "$T/orders.json" >"$T/e.json"
  expect_check "nodes/csv order_data" rows-equal "$T/a.json" "$T/e.json"
  $CHECK csv-nodes "$T/out" user_data >"$T/a.json"
  $CHECK texts "$T/users.json" >"$T/e.json"
  expect_check "nodes/csv user_data" rows-equal "$T/a.json" "$T/e.json"
  pass "run --shape nodes --format csv"
fi

# Another city, and a city with no users: the dependent node is skipped.
run "$QGRAPH" run "$SEED" --sources "$CATALOG" --param city=Lyon --shape joined
if expect_rc 0 "Lyon"; then
  native_json "SELECT u.id AS \"user_data.id\", u.name AS \"user_data.name\", u.city AS \"user_data.city\",
                      o.order_id AS \"order_data.order_id\", o.user_id AS \"order_data.user_id\",
                      o.amount AS \"order_data.amount\"
               FROM u.users u JOIN o.orders o ON o.user_id = u.id WHERE u.city = 'Lyon'" >"$T/e.json"
  $CHECK joined-rows "$T/out" >"$T/a.json"
  expect_check "Lyon joined rows" rows-equal "$T/a.json" "$T/e.json"
  pass "run --param city=Lyon"
fi
run "$QGRAPH" run "$SEED" --sources "$CATALOG" --param city=Atlantis
if expect_rc 0 "no bindings"; then
  expect_check "no bindings: zero rows" expr "$T/out" \
    'j["nodes"]["user_data"]["rows"] == [] and j["nodes"]["order_data"]["rows"] == []'
  expect_grep "$T/out" "skipped" "no bindings: order_data reported as skipped"
  run "$QGRAPH" run "$SEED" --sources "$CATALOG" --param city=Atlantis --shape nested
  expect_rc 0 "no bindings nested" && expect_check "no bindings nested" expr "$T/out" 'j == {"user_data": []}'
  pass "run with no bindings"
fi

finish
