#!/usr/bin/env bash
# The custom C++ provider example: a host-side key/value provider joined with
# the SQLite users database.
source "$(dirname "$0")/lib.sh"
EXAMPLE="$BIN/custom_provider"

run "$EXAMPLE" "$USERS_DB" Paris
if expect_rc 0 "custom_provider Paris"; then
  native_json "SELECT id, name, city FROM u.users WHERE city = 'Paris'" >"$T/users.json"
  echo '[{"name": "Paris", "country": "France", "population": 2102650}]' >"$T/facts.json"
  expect_check "custom provider nested" nested "$T/out" "$T/users.json" city city_facts "$T/facts.json" name
  pass "custom provider joined with SQLite"
fi
run "$EXAMPLE" "$USERS_DB" Berlin
expect_rc 0 "custom_provider Berlin" && expect_check "Berlin facts" expr "$T/out" \
  'all(u["city_facts"][0]["country"] == "Germany" for u in j["user_data"]) and len(j["user_data"]) == 2' &&
  pass "custom provider, another city"

finish
