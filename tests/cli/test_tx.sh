#!/usr/bin/env bash
# qgraph run --transaction / --tx-log, catalog exec WITHIN COMMON TRANSACTION,
# and qgraph recover, on two scratch SQLite databases.
source "$(dirname "$0")/lib.sh"

A="$T/a.sqlite"
B="$T/b.sqlite"
sqlite3 "$A" "CREATE TABLE t (id INTEGER PRIMARY KEY)"
sqlite3 "$B" "CREATE TABLE t (id INTEGER PRIMARY KEY); INSERT INTO t VALUES (7)"
cat >"$T/sources.json" <<JSON
{"sources": [{"name": "a", "provider": "sqlite", "connect": "$A"},
             {"name": "b", "provider": "sqlite", "connect": "$B"}]}
JSON
# wa inserts 1 into a, then wb inserts :id into b.
cat >"$T/graph.json" <<'JSON'
{"nodes": [
  {"node_id": "wa", "database_id": "a", "mode": "write", "query_string": "INSERT INTO t VALUES (1)"},
  {"node_id": "wb", "database_id": "b", "mode": "write", "query_string": "INSERT INTO t VALUES (:id)",
   "input_parameters": ["id"]}],
 "edges": [{"source_node": "wa", "target_node": "wb"}]}
JSON
count() { sqlite3 "$1" "SELECT count(*) FROM t"; }
ids() { sqlite3 "$1" "SELECT group_concat(id, ',') FROM (SELECT id FROM t ORDER BY id)"; }
# expect_eq ACTUAL EXPECTED what: every row check passes or fails the script.
expect_eq() {
  if [ "$1" = "$2" ]; then pass "$3"; else fail "$3: got '$1', expected '$2'"; fi
}

run "$QGRAPH" run "$T/graph.json" --sources "$T/sources.json" --param id=7 --transaction common
expect_rc 1 "common with a failing write" &&
  expect_grep "$T/err" 'rolled back on every source' "common failure says it rolled back"
expect_eq "$(count "$A")" 0 "common left a untouched"
expect_eq "$(ids "$B")" 7 "common left b untouched"

run "$QGRAPH" run "$T/graph.json" --sources "$T/sources.json" --param id=7
expect_rc 1 "autonomous with a failing write"
expect_eq "$(ids "$A")" 1 "autonomous kept the first write"
expect_eq "$(ids "$B")" 7 "autonomous: the failing write left b as it was"
sqlite3 "$A" "DELETE FROM t"

run "$QGRAPH" run "$T/graph.json" --sources "$T/sources.json" --param id=8 --transaction common
expect_rc 0 "common success"
expect_eq "$(ids "$A")" 1 "common committed a"
expect_eq "$(ids "$B")" 7,8 "common committed b"

run "$QGRAPH" run "$T/graph.json" --sources "$T/sources.json" --param id=9 --transaction 2pc
expect_rc 1 "2pc without a coordinator log" && expect_grep "$T/err" '--tx-log' "2pc names --tx-log"
expect_eq "$(ids "$B")" 7,8 "refused 2pc wrote nothing"

run "$QGRAPH" run "$T/graph.json" --sources "$T/sources.json" --param id=9 --transaction sometimes
expect_rc 2 "unknown transaction mode" && expect_grep "$T/err" 'sometimes' "bad mode named"

run "$QGRAPH" catalog exec --sources "$T/sources.json" \
  "EXECUTE STATEMENT 'INSERT INTO t VALUES (:id)' (id := 20) ON EXTERNAL DATA SOURCE b WITHIN COMMON TRANSACTION"
expect_rc 0 "EXECUTE STATEMENT WITHIN COMMON TRANSACTION"
expect_eq "$(ids "$B")" 7,8,20 "pass-through committed"

run "$QGRAPH" recover --sources "$T/sources.json" --tx-log "$T/tx.log"
expect_rc 0 "recover" && expect_check "recover report" expr "$T/out" \
  'j["committed"] == 0 and j["rolled_back"] == 0 and j["unresolved"] == []'
[ "$(stat -c %a "$T/tx.log")" = "600" ] && pass "coordinator log mode 600" ||
  fail "coordinator log mode $(stat -c %a "$T/tx.log")"

run "$QGRAPH" recover --sources "$T/sources.json"
expect_rc 2 "recover without --tx-log"

finish
