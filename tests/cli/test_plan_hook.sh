#!/usr/bin/env bash
# The plan hook example: the host's strategy for order_data is what runs,
# and every strategy returns the rows the sqlite3 CLI counts.
source "$(dirname "$0")/lib.sh"
EXAMPLE="$BIN/plan_hook"

want="$(sqlite3 ":memory:" "ATTACH '$USERS_DB' AS u; ATTACH '$ORDERS_DB' AS o;
  SELECT count(*) FROM u.users JOIN o.orders ON orders.user_id = users.id
  WHERE users.city = 'Paris'")"
for s in batched per_binding fetch_once; do
  run "$EXAMPLE" "$s" Paris
  expect_rc 0 "plan_hook $s" &&
    expect_grep "$T/out" "chosen by the host's plan hook: $s" "plan_hook $s: EXPLAIN reason" &&
    expect_grep "$T/out" "order_data: $want rows, strategy $s," "plan_hook $s: rows and strategy" &&
    pass "plan hook $s: $want rows"
done
run "$EXAMPLE" nonsense
expect_rc 2 "plan_hook with an unknown strategy" && pass "plan hook usage"

finish
