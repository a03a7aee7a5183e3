#!/usr/bin/env bash
# The other example graphs, the graph's own "output" settings, parameters
# (--param, --params, graph "params"), the graph read from stdin, and both
# dependent-join strategies giving the same rows.
source "$(dirname "$0")/lib.sh"

JOIN_SQL() {  # city -> the seed's joined rows, natively
  echo "SELECT u.id AS \"user_data.id\", u.name AS \"user_data.name\", u.city AS \"user_data.city\",
               o.order_id AS \"order_data.order_id\", o.user_id AS \"order_data.user_id\",
               o.amount AS \"order_data.amount\"
        FROM u.users u JOIN o.orders o ON o.user_id = u.id WHERE u.city = '$1'"
}
native_json "$(JOIN_SQL Paris)" >"$T/paris.json"
native_json "$(JOIN_SQL Lyon)" >"$T/lyon.json"

# The graph's "output": {"shape": "joined"} applies without flags; its
# "params" give city and min_amount.
run "$QGRAPH" run examples/graphs/big_orders_joined.json --sources "$CATALOG"
if expect_rc 0 "big_orders_joined"; then
  native_json "SELECT u.id AS \"user_data.id\", u.name AS \"user_data.name\", u.city AS \"user_data.city\",
                      o.order_id AS \"order_data.order_id\", o.user_id AS \"order_data.user_id\",
                      o.amount AS \"order_data.amount\"
               FROM u.users u JOIN o.orders o ON o.user_id = u.id
               WHERE u.city = 'Paris' AND CAST(o.amount AS REAL) >= 10" >"$T/e.json"
  $CHECK joined-rows "$T/out" >"$T/a.json"
  expect_check "graph output shape joined" rows-equal "$T/a.json" "$T/e.json"
  pass "graph \"output\" settings"
  # --format overrides only the format; the graph's shape stays.
  run "$QGRAPH" run examples/graphs/big_orders_joined.json --sources "$CATALOG" --format ndjson
  expect_rc 0 "graph output + --format ndjson" && {
    $CHECK ndjson "$T/out" >"$T/a.json"
    expect_check "graph shape + --format ndjson" rows-equal "$T/a.json" "$T/e.json"
  }
  # --param overrides the graph's params (strings: the SQL engine coerces).
  run "$QGRAPH" run examples/graphs/big_orders_joined.json --sources "$CATALOG" --param min_amount=100
  expect_rc 0 "--param over graph params" &&
    expect_check "min_amount=100" expr "$T/out" \
      'sorted(r["order_data.order_id"] for r in j["rows"]) == [102]'
fi

# Three nodes: users -> orders -> order items, nested via the graph's output.
run "$QGRAPH" run examples/graphs/order_items.json --sources "$CATALOG"
if expect_rc 0 "order_items"; then
  native_json "SELECT id, name FROM u.users WHERE city = 'Paris'" >"$T/u.json"
  native_json "SELECT order_id, user_id, amount, placed_at FROM o.orders
               WHERE user_id IN (SELECT id FROM u.users WHERE city = 'Paris')" >"$T/o.json"
  native_json "SELECT item_id, order_id, sku, qty, price FROM o.order_items WHERE order_id IN
               (SELECT order_id FROM o.orders WHERE user_id IN
                 (SELECT id FROM u.users WHERE city = 'Paris'))" >"$T/i.json"
  expect_check "three-node nested" nested "$T/out" "$T/u.json" id order_data "$T/o.json" user_id \
    item_data "$T/i.json" order_id order_id
  pass "three-node graph, nested"
  run "$QGRAPH" run examples/graphs/order_items.json --sources "$CATALOG" --shape joined --param city=Lyon
  if expect_rc 0 "order_items joined"; then
    native_json "SELECT u.id AS \"user_data.id\", u.name AS \"user_data.name\",
                        o.order_id AS \"order_data.order_id\", o.user_id AS \"order_data.user_id\",
                        o.amount AS \"order_data.amount\", o.placed_at AS \"order_data.placed_at\",
                        i.item_id AS \"item_data.item_id\", i.order_id AS \"item_data.order_id\",
                        i.sku AS \"item_data.sku\", i.qty AS \"item_data.qty\", i.price AS \"item_data.price\"
                 FROM u.users u JOIN o.orders o ON o.user_id = u.id
                 JOIN o.order_items i ON i.order_id = o.order_id WHERE u.city = 'Lyon'" >"$T/e.json"
    $CHECK joined-rows "$T/out" >"$T/a.json"
    expect_check "three-node joined" rows-equal "$T/a.json" "$T/e.json"
    pass "three-node graph, joined"
  fi
fi

# Independent nodes (no edges).
run "$QGRAPH" run examples/graphs/independent.json --sources "$CATALOG"
if expect_rc 0 "independent"; then
  native_json "SELECT city, COUNT(*) AS users FROM u.users GROUP BY city ORDER BY city" >"$T/e.json"
  $CHECK nodes-rows "$T/out" users_per_city >"$T/a.json"
  expect_check "independent users_per_city" rows-equal "$T/a.json" "$T/e.json"
  expect_check "independent order_totals" expr "$T/out" \
    'j["nodes"]["order_totals"]["rows"] == [[8, "513.24"]]'
  pass "independent nodes"
fi

# --params JSON, --param wins over it, @file.
run "$QGRAPH" run examples/graphs/seed.json --sources "$CATALOG" --params '{"city": "Lyon"}' --shape joined
expect_rc 0 "--params" && { $CHECK joined-rows "$T/out" >"$T/a.json";
  expect_check "--params city=Lyon" rows-equal "$T/a.json" "$T/lyon.json" && pass "--params JSON"; }
run "$QGRAPH" run examples/graphs/seed.json --sources "$CATALOG" --params '{"city": "Lyon"}' \
  --param city=Paris --shape joined
expect_rc 0 "--params + --param" && { $CHECK joined-rows "$T/out" >"$T/a.json";
  expect_check "--param wins over --params" rows-equal "$T/a.json" "$T/paris.json" && pass "--param wins"; }
echo '{"city": "Paris"}' >"$T/params.json"
run "$QGRAPH" run examples/graphs/seed.json --sources "$CATALOG" --params "@$T/params.json" --shape joined
expect_rc 0 "--params @file" && { $CHECK joined-rows "$T/out" >"$T/a.json";
  expect_check "--params @file" rows-equal "$T/a.json" "$T/paris.json" && pass "--params @file"; }

# The graph from stdin gives exactly the same output as from the file.
run "$QGRAPH" run examples/graphs/seed.json --sources "$CATALOG" --param city=Paris --shape nested
cp "$T/out" "$T/from_file"
set +e
"$QGRAPH" run - --sources "$CATALOG" --param city=Paris --shape nested \
  <examples/graphs/seed.json >"$T/out" 2>"$T/err"
RC=$?
set -e
if expect_rc 0 "stdin graph"; then
  cmp -s "$T/out" "$T/from_file" && pass "graph from stdin" || fail "stdin output differs from file output"
fi

# batched and per_binding (forced) return the same rows.
for strategy in batched per_binding auto; do
  python3 - "$strategy" >"$T/graph_$strategy.json" <<'PY'
import json, sys
g = json.load(open("examples/graphs/seed.json"))
g["nodes"][1]["strategy"] = sys.argv[1]
print(json.dumps(g))
PY
  run "$QGRAPH" run "$T/graph_$strategy.json" --sources "$CATALOG" --param city=Paris --shape joined
  expect_rc 0 "strategy $strategy" && { $CHECK joined-rows "$T/out" >"$T/a.json";
    expect_check "strategy $strategy rows" rows-equal "$T/a.json" "$T/paris.json" && pass "strategy $strategy"; }
done

finish
