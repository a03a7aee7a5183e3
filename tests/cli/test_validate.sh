#!/usr/bin/env bash
# qgraph validate: "ok", or every problem with its JSON pointer (exit 1).
source "$(dirname "$0")/lib.sh"

run "$QGRAPH" validate examples/graphs/seed.json
expect_rc 0 "validate seed" && expect_grep "$T/out" "ok" "validate seed prints ok" && pass "validate ok"
run "$QGRAPH" validate examples/graphs/seed.json --sources "$CATALOG" --param city=Paris
expect_rc 0 "validate seed with sources" && pass "validate ok with --sources"
# The SQLite example graphs (other graphs in examples/graphs/ use other catalogs).
for g in examples/graphs/{seed,order_items,big_orders_joined,independent}.json; do
  run "$QGRAPH" validate "$g" --sources "$CATALOG"
  expect_rc 0 "validate $g" && pass "validate $g"
done

# One problem, the design's own example.
python3 - >"$T/bad_field.json" <<'PY'
import json
g = json.load(open("examples/graphs/seed.json"))
g["edges"][0]["input_mapping"] = {"user_data.idx": "order_data.user_id"}
print(json.dumps(g))
PY
run "$QGRAPH" validate "$T/bad_field.json"
if expect_rc 1 "unknown output field"; then
  expect_grep "$T/err" "/edges/0/input_mapping" "pointer of the bad mapping"
  expect_grep "$T/err" "user_data.idx" "the bad field is named"
  [ ! -s "$T/out" ] || fail "validate printed to stdout on failure"
  pass "validate: bad mapping field"
fi

# Several problems at once: all reported.
python3 - >"$T/many.json" <<'PY'
import json
g = json.load(open("examples/graphs/seed.json"))
g["nodes"].append(dict(g["nodes"][0]))          # duplicate node_id -> /nodes/2
g["edges"][0]["target_node"] = "nowhere"        # unknown node -> /edges/0
g["nodes"][1]["query_string"] += " AND x = :undeclared"  # undeclared placeholder
print(json.dumps(g))
PY
run "$QGRAPH" validate "$T/many.json"
if expect_rc 1 "several problems"; then
  expect_grep "$T/err" "/nodes/2" "duplicate node_id pointer"
  expect_grep "$T/err" "/edges/0" "unknown target pointer"
  expect_grep "$T/err" "undeclared" "undeclared placeholder named"
  [ "$(grep -c '^/' "$T/err")" -ge 3 ] || fail "expected at least 3 problem lines"
  pass "validate: every problem reported"
fi

# A cycle names its nodes.
python3 - >"$T/cycle.json" <<'PY'
import json
g = json.load(open("examples/graphs/seed.json"))
g["nodes"][0]["input_parameters"].append("uid")
g["nodes"][0]["query_string"] += " AND id = :uid"
g["edges"].append({"source_node": "order_data", "target_node": "user_data",
                   "input_mapping": {"order_data.user_id": "user_data.uid"}})
print(json.dumps(g))
PY
run "$QGRAPH" validate "$T/cycle.json"
expect_rc 1 "cycle" && expect_grep "$T/err" "cycle" "cycle reported" &&
  expect_grep "$T/err" "user_data" "cycle names nodes" && pass "validate: cycle"

# Unknown database_id only with --sources.
sed 's/"db_orders"/"db_nowhere"/' examples/graphs/seed.json >"$T/unknown_db.json"
run "$QGRAPH" validate "$T/unknown_db.json"
expect_rc 0 "unknown db without --sources is not checked"
run "$QGRAPH" validate "$T/unknown_db.json" --sources "$CATALOG"
expect_rc 1 "unknown database_id" && expect_grep "$T/err" "/nodes/1/database_id" "database_id pointer" &&
  expect_grep "$T/err" "db_nowhere" "source named" && pass "validate: unknown database_id"

# A parameter without a source: checked when parameters are given.
run "$QGRAPH" validate examples/graphs/big_orders_joined.json --param x=1
expect_rc 0 "graph params are a source"
python3 - >"$T/noparam.json" <<'PY'
import json
g = json.load(open("examples/graphs/big_orders_joined.json"))
del g["params"]["min_amount"]
print(json.dumps(g))
PY
run "$QGRAPH" validate "$T/noparam.json" --param city=Paris
expect_rc 1 "parameter without source" && expect_grep "$T/err" "min_amount" "unsourced parameter named" &&
  pass "validate: parameter without a source"

# Malformed JSON, wrong types, unknown keys.
printf '{"nodes": [' >"$T/malformed.json"
run "$QGRAPH" validate "$T/malformed.json"
expect_rc 1 "malformed JSON" && expect_grep "$T/err" "INVALID_ARGUMENT" "malformed JSON code" && pass "validate: malformed JSON"
sed 's/"node_id": "user_data"/"node_id": 7/' examples/graphs/seed.json >"$T/type.json"
run "$QGRAPH" validate "$T/type.json"
expect_rc 1 "wrong type" && expect_grep "$T/err" "/nodes/0/node_id" "wrong type pointer" && pass "validate: wrong type"
sed 's/"edges": \[/"edgez": [], "edges": [/' examples/graphs/seed.json >"$T/unknown_key.json"
run "$QGRAPH" validate "$T/unknown_key.json"
expect_rc 1 "unknown key" && expect_grep "$T/err" "edgez" "unknown key named" && pass "validate: unknown key"

# From stdin.
set +e
"$QGRAPH" validate - <"$T/bad_field.json" >"$T/out" 2>"$T/err"; RC=$?
set -e
expect_rc 1 "validate stdin" && expect_grep "$T/err" "/edges/0/input_mapping" "stdin pointer" && pass "validate from stdin"

# run refuses an invalid graph the same way, before touching any source.
run "$QGRAPH" run "$T/bad_field.json" --sources "$CATALOG" --param city=Paris
expect_rc 1 "run invalid graph" && expect_grep "$T/err" "qgraph: INVALID_ARGUMENT:" "run error format" &&
  expect_grep "$T/err" "/edges/0/input_mapping" "run reports the pointer" && pass "run: invalid graph"

# The document root is written "/" by validate and by run alike.
printf '[]' >"$T/root.json"
run "$QGRAPH" validate "$T/root.json"
expect_rc 1 "validate root" && expect_grep "$T/err" "/: expected an object, got an array" \
  "validate writes the root as /" && pass "validate: document root"
run "$QGRAPH" run "$T/root.json" --sources "$CATALOG"
expect_rc 1 "run root" && expect_grep "$T/err" "qgraph: INVALID_ARGUMENT: /: expected an object" \
  "run writes the root as /" && pass "run: document root"

# A byte-order mark is named, for the graph and for the catalog.
printf '\xef\xbb\xbf' | cat - examples/graphs/seed.json >"$T/bom.json"
run "$QGRAPH" validate "$T/bom.json"
expect_rc 1 "graph BOM" && expect_grep "$T/err" "/: the document starts with a UTF-8 byte-order mark" \
  "graph BOM named" && pass "validate: byte-order mark"
printf '\xef\xbb\xbf' | cat - "$CATALOG" >"$T/bom_catalog.json"
run "$QGRAPH" validate examples/graphs/seed.json --sources "$T/bom_catalog.json"
expect_rc 1 "catalog BOM" && expect_grep "$T/err" "byte-order mark" "catalog BOM named" &&
  pass "validate: catalog byte-order mark"

# A 10 MB key is quoted in ~200 bytes, with its length, not echoed whole.
python3 - >"$T/huge_key.json" <<'PY'
import json
g = json.load(open("examples/graphs/seed.json"))
g["k" * (10 << 20)] = 1
print(json.dumps(g))
PY
run "$QGRAPH" validate "$T/huge_key.json"
if expect_rc 1 "huge key"; then
  expect_grep "$T/err" "(10485760 bytes)" "huge key: total length given"
  [ "$(wc -c <"$T/err")" -lt 2000 ] || fail "huge key: $(wc -c <"$T/err") bytes on stderr"
  pass "validate: huge key clipped"
fi
run "$QGRAPH" run "$T/huge_key.json" --sources "$CATALOG"
if expect_rc 1 "run huge key"; then
  [ "$(wc -c <"$T/err")" -lt 2000 ] || fail "run huge key: $(wc -c <"$T/err") bytes on stderr"
  pass "run: huge key clipped"
fi

finish
