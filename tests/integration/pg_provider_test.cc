// The postgres provider against a real PostgreSQL 15 (direct, no engine):
// types, batched ANY lookups, injection, cancel, timeouts, transactions and
// two-phase commit, broken connections, cost estimates.
#include <atomic>
#include <catch2/catch.hpp>
#include <chrono>
#include <cmath>
#include <string>
#include <thread>
#include <vector>

#include "pg_util.h"
#include "providers/postgres/pg_types.h"
#include "qg/cost.h"

namespace qg::testing {
namespace {

using std::chrono::steady_clock;

std::string S(const absl::Status& s) { return std::string(s.ToString()); }

// Runs the query and returns its rows, REQUIRing success.
Rows Q(Connection& c, const std::string& sql, const ParamList& params = {}) {
  auto r = PgQuery(c, sql, params);
  INFO(sql << " -> " << S(r.status()));
  REQUIRE(r.ok());
  return std::move(*r);
}

Value One(Connection& c, const std::string& sql, const ParamList& params = {}) {
  Rows r = Q(c, sql, params);
  REQUIRE(r.rows.size() == 1);
  REQUIRE(r.rows[0].size() >= 1);
  return r.rows[0][0];
}

TEST_CASE("pg: scalar types round-trip exactly through bound parameters", "[postgres]") {
  auto c = PgConnect();
  PgExec(*c, "DROP TABLE IF EXISTS it_types");
  PgExec(*c,
         "CREATE TABLE it_types (id int PRIMARY KEY, n numeric(38,10), i8 int8, i2 int2, "
         "f8 float8, f4 float4, t text, vc varchar(20), bp char(3), b bool, d date, "
         "ts timestamp, tz timestamptz, j json, jb jsonb, by bytea, u uuid)");
  const std::string zeros("a\0b\0\0\xff\x01", 7);
  ParamList p = {{"id", Value::Int(1)},
                 {"n", Value::Decimal("1234567890123456789012345678.0123456789")},
                 {"i8", Value::Int(INT64_MIN)},
                 {"i2", Value::Int(-32768)},
                 {"f8", Value::Double(0.1)},
                 {"f4", Value::Double(1.5)},
                 {"t", Value::String("Zürich 東京 🚀 'quoted' \"dq\" \\ back")},
                 {"vc", Value::String("")},
                 {"bp", Value::String("ab")},
                 {"b", Value::Bool(true)},
                 {"d", Value::Timestamp("2024-05-01")},
                 {"ts", Value::Timestamp("2024-05-01 10:11:12.123456")},
                 {"tz", Value::Timestamp("2024-05-01T10:00:00+02:00")},
                 {"j", Value::Json(R"({"b": [1, 2.50, null], "a": "x"})")},
                 {"jb", Value::Json(R"({"b": [1, 2.50, null], "a": "x"})")},
                 {"by", Value::Bytes(zeros)},
                 {"u", Value::String("a0eebc99-9c0b-4ef8-bb6d-6bb9bd380a11")}};
  PgExec(*c,
         "INSERT INTO it_types VALUES (:id, :n, :i8, :i2, :f8, :f4, :t, :vc, :bp, :b, :d, :ts, "
         ":tz, :j, :jb, :by, :u)",
         p);
  PgExec(*c, "INSERT INTO it_types (id, i8, t) VALUES (:id, :i8, :t)",
         {{"id", Value::Int(2)}, {"i8", Value::Int(INT64_MAX)}, {"t", Value::Null()}});

  Rows r = Q(*c,
             "SELECT n, i8, i2, f8, f4, t, vc, bp, b, d, ts, tz AT TIME ZONE 'UTC' AS tzu, j, "
             "jb, by, u FROM it_types WHERE id = :id",
             {{"id", Value::Int(1)}});
  REQUIRE(r.rows.size() == 1);
  const auto& row = r.rows[0];
  CHECK(row[0] == Value::Decimal("1234567890123456789012345678.0123456789"));
  CHECK(row[1] == Value::Int(INT64_MIN));
  CHECK(row[2] == Value::Int(-32768));
  CHECK(row[3] == Value::Double(0.1));
  CHECK(row[4] == Value::Double(1.5));
  CHECK(row[5] == Value::String("Zürich 東京 🚀 'quoted' \"dq\" \\ back"));
  CHECK(row[6] == Value::String(""));     // empty, not NULL
  CHECK(row[7] == Value::String("ab "));  // char(3) pads
  CHECK(row[8] == Value::Bool(true));
  CHECK(row[9] == Value::Timestamp("2024-05-01"));
  CHECK(row[10] == Value::Timestamp("2024-05-01 10:11:12.123456"));
  CHECK(row[11] == Value::Timestamp("2024-05-01 08:00:00"));
  CHECK(row[12] == Value::Json(R"({"b": [1, 2.50, null], "a": "x"})"));  // json: verbatim
  CHECK(row[13] == Value::Json(R"({"a": "x", "b": [1, 2.50, null]})"));  // jsonb: normalised
  CHECK(row[14] == Value::Bytes(zeros));
  CHECK(row[14].as_text().size() == 7);
  CHECK(row[15] == Value::String("a0eebc99-9c0b-4ef8-bb6d-6bb9bd380a11"));
  // Column metadata.
  CHECK(r.columns[0].type == ValueType::kDecimal);
  CHECK(r.columns[0].native_type == "numeric");
  CHECK(r.columns[14].type == ValueType::kBytes);
  CHECK(r.columns[12].type == ValueType::kJson);

  Rows r2 = Q(*c, "SELECT i8, t, vc, n FROM it_types WHERE id = 2");
  CHECK(r2.rows[0][0] == Value::Int(INT64_MAX));
  CHECK(r2.rows[0][1].is_null());  // NULL, not ""
  CHECK(r2.rows[0][2].is_null());
  CHECK(r2.rows[0][3].is_null());

  // Filtering by an empty string finds the empty string, not NULLs.
  Rows r3 = Q(*c, "SELECT id FROM it_types WHERE vc = :v", {{"v", Value::String("")}});
  REQUIRE(r3.rows.size() == 1);
  CHECK(r3.rows[0][0] == Value::Int(1));
  PgExec(*c, "DROP TABLE it_types");
}

TEST_CASE("pg: floats keep NaN, infinities and full precision", "[postgres]") {
  auto c = PgConnect();
  Rows r = Q(*c,
             "SELECT 'NaN'::float8, 'Infinity'::float8, '-Infinity'::float8, "
             "0.30000000000000004::float8, 1e-300::float8, :x::float8, 'NaN'::numeric",
             {{"x", Value::Double(-HUGE_VAL)}});
  const auto& row = r.rows[0];
  CHECK(std::isnan(row[0].as_double()));
  CHECK(row[1] == Value::Double(HUGE_VAL));
  CHECK(row[2] == Value::Double(-HUGE_VAL));
  CHECK(row[3] == Value::Double(0.30000000000000004));
  CHECK(row[4] == Value::Double(1e-300));
  CHECK(row[5] == Value::Double(-HUGE_VAL));
  CHECK(row[6] == Value::Decimal("NaN"));
  // A NaN parameter reaches the server as NaN.
  Value nan = One(*c, "SELECT :x::float8 = 'NaN'::float8", {{"x", Value::Double(std::nan(""))}});
  CHECK(nan == Value::Bool(true));
}

TEST_CASE("pg: arrays become JSON arrays", "[postgres]") {
  auto c = PgConnect();
  Rows r = Q(*c,
             "SELECT ARRAY[1, NULL, 3]::int4[], ARRAY['a', 'b\"c', NULL, 'NULL', '', 'x,y', "
             "'back\\slash']::text[], ARRAY[[1.5, 2], [3, 4]]::numeric[], ARRAY[true, false], "
             "'{}'::int8[], ARRAY['{\"k\": 1}'::jsonb], ARRAY['NaN'::float8], "
             "'[0:1]={7,8}'::int[]");
  const auto& row = r.rows[0];
  CHECK(row[0] == Value::Json("[1,null,3]"));
  CHECK(row[1] == Value::Json(R"(["a","b\"c",null,"NULL","","x,y","back\\slash"])"));
  CHECK(row[2] == Value::Json("[[1.5,2],[3,4]]"));
  CHECK(row[3] == Value::Json("[true,false]"));
  CHECK(row[4] == Value::Json("[]"));
  CHECK(row[5] == Value::Json(R"([{"k": 1}])"));
  CHECK(row[6] == Value::Json(R"(["NaN"])"));
  CHECK(row[7] == Value::Json("[7,8]"));
  CHECK(r.columns[0].native_type == "int4[]");
  // A user-defined type (enum) and its array: strings and a JSON array.
  PgExec(*c, "DROP TYPE IF EXISTS it_mood CASCADE");
  PgExec(*c, "CREATE TYPE it_mood AS ENUM ('ok', 'sad')");
  Rows e = Q(*c, "SELECT 'ok'::it_mood, ARRAY['ok', 'sad']::it_mood[], interval '1 day'");
  CHECK(e.rows[0][0] == Value::String("ok"));
  CHECK(e.columns[0].native_type == "it_mood");
  CHECK(e.rows[0][1] == Value::Json(R"(["ok","sad"])"));
  CHECK(e.rows[0][2] == Value::String("1 day"));
  PgExec(*c, "DROP TYPE it_mood CASCADE");
}

// Runs a batched (kAnyArray) statement for `keys`.
Rows Batched(Connection& c, const std::string& sql, const std::string& key,
             const std::vector<Value>& keys, ParamList others = {}) {
  CompileRequest req;
  req.query_string = sql;
  req.input_parameters.push_back(key);
  for (const auto& [n, v] : others) req.input_parameters.push_back(n);
  req.key_params = {key};
  req.batch_items = keys.size();
  req.form = BatchForm::kAnyArray;
  auto stmt = PgProvider().Compile(req);
  INFO(S(stmt.status()));
  REQUIRE(stmt.ok());
  CHECK(stmt->text.find("ANY($") != std::string::npos);
  std::vector<BoundArg> args;
  for (const BatchArg& a : stmt->args) {
    BoundArg b;
    if (a.kind == BatchArg::Kind::kKeyArray) {
      b.is_array = true;
      b.array = keys;
    } else {
      for (const auto& [n, v] : others) {
        if (n == a.name) b.value = v;
      }
    }
    args.push_back(std::move(b));
  }
  Rows rows;
  ExecStats stats;
  absl::Status s = c.Execute(*stmt, args, &rows, &stats);
  INFO(stmt->text << " -> " << S(s));
  REQUIRE(s.ok());
  CHECK(stats.round_trips >= 1);
  return rows;
}

TEST_CASE("pg: batched lookups bind one array for = ANY($n) (int and text keys)", "[postgres]") {
  auto c = PgConnect();
  PgExec(*c, "DROP TABLE IF EXISTS it_orders");
  PgExec(*c,
         "CREATE TABLE it_orders (order_id int PRIMARY KEY, user_id int8, code text, "
         "amount numeric(10,2))");
  PgExec(*c,
         "INSERT INTO it_orders SELECT g, g % 10, 'c' || (g % 7), g * 1.5 FROM "
         "generate_series(1, 200) g");
  std::vector<Value> keys = {Value::Int(1), Value::Int(3), Value::Null(), Value::Int(99)};
  Rows r = Batched(*c, "SELECT order_id, amount FROM it_orders WHERE user_id = :uid", "uid", keys);
  // The key column comes last.
  REQUIRE(r.columns.size() == 3);
  CHECK(r.columns[2].name == "__qg_k0");
  CHECK(r.rows.size() == 40);  // 20 orders each for users 1 and 3
  for (const auto& row : r.rows) {
    CHECK((row[2] == Value::Int(1) || row[2] == Value::Int(3)));
  }
  // Text keys, with quotes, commas, braces, backslashes and the word NULL.
  PgExec(*c,
         "INSERT INTO it_orders VALUES (1000, 1, 'a\"b,{c}\\d', 1), (1001, 1, 'NULL', 2), "
         "(1002, 1, '', 3)");
  std::vector<Value> tkeys = {Value::String("c3"), Value::String("a\"b,{c}\\d"),
                              Value::String("NULL"), Value::String(""),
                              Value::String("'; DROP TABLE it_orders; --")};
  Rows t = Batched(*c, "SELECT order_id FROM it_orders WHERE code = :code AND amount > :min",
                   "code", tkeys, {{"min", Value::Int(0)}});
  int expected = std::stoi(SuperSql("SELECT count(*) FROM it_orders WHERE code = 'c3'")) + 3;
  CHECK(static_cast<int>(t.rows.size()) == expected);
  // Numeric keys for a text column and a text key for an int column both fail
  // or convert the PostgreSQL way, never splice.
  Rows big = Batched(*c, "SELECT order_id FROM it_orders WHERE order_id = :id", "id",
                     std::vector<Value>(5000, Value::Int(7)));
  CHECK(big.rows.size() == 1);
  PgExec(*c, "DROP TABLE it_orders");
}

TEST_CASE("pg: hostile values are returned exactly or rejected, never executed", "[postgres]") {
  auto c = PgConnect();
  PgExec(*c, "DROP TABLE IF EXISTS it_victim");
  PgExec(*c, "CREATE TABLE it_victim (id serial PRIMARY KEY, v text)");
  std::vector<std::string> hostile = {"'",
                                      "''",
                                      "\"",
                                      "'; DROP TABLE it_victim; --",
                                      "\\'; DROP TABLE it_victim; --",
                                      "$1",
                                      ":v",
                                      "$$; DROP TABLE it_victim; $$",
                                      "%s%n",
                                      "Robert'); DROP TABLE it_victim;--",
                                      std::string(1 << 20, 'x') + "'; DROP TABLE it_victim; --"};
  for (const std::string& h : hostile) {
    PgExec(*c, "INSERT INTO it_victim (v) VALUES (:v)", {{"v", Value::String(h)}});
    Value back = One(*c, "SELECT v FROM it_victim WHERE v = :v", {{"v", Value::String(h)}});
    CHECK(back == Value::String(h));
  }
  // NUL bytes: PostgreSQL text cannot hold them: a clear error, nothing sent.
  auto nul = PgQuery(*c, "INSERT INTO it_victim (v) VALUES (:v)",
                     {{"v", Value::String(std::string("a\0'; DROP TABLE it_victim; --", 30))}});
  REQUIRE_FALSE(nul.ok());
  CHECK(nul.status().code() == absl::StatusCode::kInvalidArgument);
  CHECK(std::string(nul.status().message()).find("NUL") != std::string::npos);
  // NUL inside a batched key array too.
  CompileRequest req;
  req.query_string = "SELECT id FROM it_victim WHERE v = :v";
  req.input_parameters = {"v"};
  req.key_params = {"v"};
  req.batch_items = 2;
  req.form = BatchForm::kAnyArray;
  auto stmt = PgProvider().Compile(req);
  REQUIRE(stmt.ok());
  BoundArg arr;
  arr.is_array = true;
  arr.array = {Value::String("ok"), Value::String(std::string("x\0y", 3))};
  Rows sink;
  ExecStats st;
  absl::Status s = c->Execute(*stmt, {arr}, &sink, &st);
  CHECK(s.code() == absl::StatusCode::kInvalidArgument);
  // As bytes, NUL is fine.
  Value b = One(*c, "SELECT :b::bytea", {{"b", Value::Bytes(std::string("\0'\0", 3))}});
  CHECK(b == Value::Bytes(std::string("\0'\0", 3)));
  // The table is still there with every row.
  CHECK(SuperSql("SELECT count(*) FROM it_victim") == std::to_string(hostile.size()));
  PgExec(*c, "DROP TABLE it_victim");
}

TEST_CASE("pg: cancel stops pg_sleep(60) server-side within 1 s", "[postgres]") {
  auto c = PgConnect();
  const std::string pid = c->session_id();
  REQUIRE_FALSE(pid.empty());
  std::atomic<bool> done{false};
  absl::Status result;
  std::thread worker([&] {
    auto r = PgQuery(*c, "SELECT pg_sleep(60)");
    result = r.status();
    done = true;
  });
  // Wait until the server runs it.
  bool running = WaitFor(
      [&] {
        return SuperSql("SELECT count(*) FROM pg_stat_activity WHERE pid = " + pid +
                        " AND state = 'active' AND query LIKE '%pg_sleep(60)%'") == "1";
      },
      10000);
  REQUIRE(running);
  auto t0 = steady_clock::now();
  c->Cancel();
  bool stopped = WaitFor(
      [&] {
        return SuperSql("SELECT count(*) FROM pg_stat_activity WHERE pid = " + pid +
                        " AND state = 'active'") == "0";
      },
      1000);
  double secs = std::chrono::duration<double>(steady_clock::now() - t0).count();
  CHECK(stopped);
  CHECK(secs < 1.0);
  worker.join();
  CHECK(done);
  CHECK(result.code() == absl::StatusCode::kCancelled);
  CHECK(std::string(result.message()).find("57014") != std::string::npos);
  CHECK_FALSE(c->broken());
  // After Cancel, Execute fails until Reset.
  auto again = PgQuery(*c, "SELECT 1");
  CHECK(again.status().code() == absl::StatusCode::kCancelled);
  REQUIRE(c->Reset().ok());
  CHECK(One(*c, "SELECT 1") == Value::Int(1));
}

TEST_CASE("pg: statement_timeout fails with deadline exceeded and survives Reset", "[postgres]") {
  ConnectRequest req = PgRequest();
  req.statement_timeout = absl::Milliseconds(200);
  auto c = PgProvider().Connect(req);
  REQUIRE(c.ok());
  auto t0 = steady_clock::now();
  auto r = PgQuery(**c, "SELECT pg_sleep(5)");
  double secs = std::chrono::duration<double>(steady_clock::now() - t0).count();
  CHECK(r.status().code() == absl::StatusCode::kDeadlineExceeded);
  CHECK(std::string(r.status().message()).find("SQLSTATE 57014") != std::string::npos);
  CHECK(secs < 4.0);
  CHECK_FALSE((*c)->broken());
  PgExec(**c, "SET statement_timeout = 0");
  REQUIRE((*c)->Reset().ok());
  CHECK(One(**c, "SHOW statement_timeout") == Value::String("200ms"));
}

TEST_CASE("pg: errors map to codes and keep the SQLSTATE", "[postgres]") {
  auto c = PgConnect();
  auto syntax = PgQuery(*c, "SELEC 1");
  CHECK(syntax.status().code() == absl::StatusCode::kInvalidArgument);
  CHECK(std::string(syntax.status().message()).find("[SQLSTATE 42601]") != std::string::npos);
  auto missing = PgQuery(*c, "SELECT * FROM it_no_such_table");
  CHECK(missing.status().code() == absl::StatusCode::kInvalidArgument);
  CHECK(std::string(missing.status().message()).find("42P01") != std::string::npos);
  CHECK(One(*c, "SELECT 2") == Value::Int(2));  // still usable

  // Serialization failure -> kAborted [40001].
  PgExec(*c, "DROP TABLE IF EXISTS it_ser");
  PgExec(*c, "CREATE TABLE it_ser (id int PRIMARY KEY, v int)");
  PgExec(*c, "INSERT INTO it_ser VALUES (1, 0)");
  auto other = PgConnect();
  TxOptions rr;
  rr.isolation = IsolationLevel::kRepeatableRead;
  REQUIRE(c->Begin(rr).ok());
  CHECK(One(*c, "SELECT v FROM it_ser WHERE id = 1") == Value::Int(0));
  PgExec(*other, "UPDATE it_ser SET v = v + 1 WHERE id = 1");
  auto conflict = PgQuery(*c, "UPDATE it_ser SET v = v + 10 WHERE id = 1");
  CHECK(conflict.status().code() == absl::StatusCode::kAborted);
  CHECK(std::string(conflict.status().message()).find("40001") != std::string::npos);
  // Commit of the failed transaction reports the rollback.
  CHECK(c->Commit().code() == absl::StatusCode::kAborted);
  CHECK(One(*c, "SELECT v FROM it_ser WHERE id = 1") == Value::Int(1));
  PgExec(*c, "DROP TABLE it_ser");
}

TEST_CASE("pg: credentials never appear in errors", "[postgres]") {
  ConnectRequest req = PgRequest();
  req.password = "sUp3r-s3cr3t-pw";
  auto c = PgProvider().Connect(req);
  REQUIRE_FALSE(c.ok());
  CHECK(c.status().code() == absl::StatusCode::kPermissionDenied);
  CHECK(std::string(c.status().message()).find("sUp3r-s3cr3t-pw") == std::string::npos);
  CHECK(std::string(c.status().message()).find("pg_qgtest") != std::string::npos);

  ConnectRequest bad = PgRequest();
  bad.connect += " password=qgpass";
  auto b = PgProvider().Connect(bad);
  REQUIRE_FALSE(b.ok());
  CHECK(b.status().code() == absl::StatusCode::kInvalidArgument);
  CHECK(std::string(b.status().message()).find("qgpass") == std::string::npos);

  ConnectRequest down = PgRequest();
  down.connect = "host=127.0.0.1 port=1 dbname=qgtest";
  down.password = "an0ther-s3cret";
  auto d = PgProvider().Connect(down);
  REQUIRE_FALSE(d.ok());
  CHECK(d.status().code() == absl::StatusCode::kUnavailable);
  CHECK(std::string(d.status().message()).find("an0ther-s3cret") == std::string::npos);
}

TEST_CASE("pg: transactions, savepoints and Reset", "[postgres]") {
  auto c = PgConnect();
  PgExec(*c, "DROP TABLE IF EXISTS it_tx");
  PgExec(*c, "CREATE TABLE it_tx (id int PRIMARY KEY)");
  REQUIRE(c->Begin({}).ok());
  PgExec(*c, "INSERT INTO it_tx VALUES (1)");
  REQUIRE(c->Savepoint("sp 1\"x").ok());
  PgExec(*c, "INSERT INTO it_tx VALUES (2)");
  CHECK_FALSE(PgQuery(*c, "INSERT INTO it_tx VALUES (1)").ok());  // duplicate
  REQUIRE(c->RollbackToSavepoint("sp 1\"x").ok());
  PgExec(*c, "INSERT INTO it_tx VALUES (3)");
  REQUIRE(c->ReleaseSavepoint("sp 1\"x").ok());
  REQUIRE(c->Commit().ok());
  CHECK(SuperSql("SELECT string_agg(id::text, ',' ORDER BY id) FROM it_tx") == "1,3");

  // Reset rolls back an open transaction and undoes SETs.
  REQUIRE(c->Begin({}).ok());
  PgExec(*c, "INSERT INTO it_tx VALUES (4)");
  PgExec(*c, "SET application_name = 'changed'");
  REQUIRE(c->Reset().ok());
  CHECK(SuperSql("SELECT count(*) FROM it_tx WHERE id = 4") == "0");
  CHECK(One(*c, "SHOW application_name") == Value::String("qgraph"));
  // Rollback works and read-only is enforced.
  TxOptions ro;
  ro.read_only = true;
  REQUIRE(c->Begin(ro).ok());
  auto w = PgQuery(*c, "INSERT INTO it_tx VALUES (5)");
  CHECK_FALSE(w.ok());
  REQUIRE(c->Rollback().ok());
  ExecStats stats;
  auto upd = PgQuery(*c, "UPDATE it_tx SET id = id + 10", {}, &stats);
  REQUIRE(upd.ok());
  CHECK(stats.rows_affected == 2);
  PgExec(*c, "DROP TABLE it_tx");
}

// Takes `limit` rows, then refuses the next one (as a result limit does).
struct StoppingSink final : public RowSink {
  explicit StoppingSink(size_t limit) : limit(limit) {}
  size_t limit, rows = 0;
  absl::Status OnColumns(const std::vector<ColumnInfo>&) override { return absl::OkStatus(); }
  absl::Status OnRow(std::vector<Value>&) override {
    if (rows == limit) return absl::ResourceExhaustedError("stopping sink: enough rows");
    ++rows;
    return absl::OkStatus();
  }
};

TEST_CASE("pg: a sink that stops mid-result leaves the session usable", "[postgres]") {
  // Rows stream into the sink as they arrive; when it refuses one, the rest
  // of the result is cancelled (outside a transaction) or read and dropped
  // (inside one, where a cancel would abort the transaction).
  auto c = PgConnect();
  const std::string big = "SELECT g, repeat('x', 100) AS pad FROM generate_series(1, :n) g";
  StoppingSink outside(10);
  absl::Status s = RunQueryInto(PgProvider(), *c, big, {{"n", Value::Int(2000000)}}, &outside);
  CHECK(s.code() == absl::StatusCode::kResourceExhausted);
  CHECK(outside.rows == 10);
  CHECK_FALSE(c->broken());
  CHECK(One(*c, "SELECT 41 + 1") == Value::Int(42));

  PgExec(*c, "DROP TABLE IF EXISTS it_stop");
  PgExec(*c, "CREATE TABLE it_stop (id int)");
  REQUIRE(c->Begin({}).ok());
  PgExec(*c, "INSERT INTO it_stop VALUES (1)");
  StoppingSink inside(5);
  s = RunQueryInto(PgProvider(), *c, big, {{"n", Value::Int(100000)}}, &inside);
  CHECK(s.code() == absl::StatusCode::kResourceExhausted);
  CHECK(inside.rows == 5);
  PgExec(*c, "INSERT INTO it_stop VALUES (2)");  // the transaction is still good
  REQUIRE(c->Commit().ok());
  CHECK(SuperSql("SELECT string_agg(id::text, ',' ORDER BY id) FROM it_stop") == "1,2");
  REQUIRE(c->Reset().ok());
  CHECK(One(*c, "SELECT count(*) FROM generate_series(1, 3)") == Value::Int(3));
  PgExec(*c, "DROP TABLE it_stop");
}

TEST_CASE("pg: two-phase commit: prepare, list, commit and roll back prepared", "[postgres]") {
  auto c = PgConnect();
  auto other = PgConnect();
  PgExec(*c, "DROP TABLE IF EXISTS it_2pc");
  PgExec(*c, "CREATE TABLE it_2pc (id int PRIMARY KEY)");
  const std::string gid1 = "qgit-1-it's";
  const std::string gid2 = "qgit-2";
  for (const auto& [gid, id] : {std::pair{gid1, 1}, std::pair{gid2, 2}}) {
    REQUIRE(c->Begin({}).ok());
    PgExec(*c, "INSERT INTO it_2pc VALUES (:id)", {{"id", Value::Int(id)}});
    absl::Status p = c->PrepareTransaction(gid);
    INFO(S(p));
    REQUIRE(p.ok());
  }
  CHECK(SuperSql("SELECT count(*) FROM it_2pc") == "0");  // not yet visible
  auto listed = other->ListPrepared("qgit-");
  REQUIRE(listed.ok());
  CHECK(*listed == std::vector<std::string>{gid1, gid2});
  CHECK(other->ListPrepared("nomatch-")->empty());
  REQUIRE(other->CommitPrepared(gid1).ok());
  REQUIRE(other->RollbackPrepared(gid2).ok());
  CHECK(SuperSql("SELECT string_agg(id::text, ',') FROM it_2pc") == "1");
  CHECK(other->ListPrepared("qgit-")->empty());
  auto unknown = other->CommitPrepared("qgit-unknown");
  CHECK_FALSE(unknown.ok());
  // A failed transaction cannot be prepared.
  REQUIRE(c->Begin({}).ok());
  CHECK_FALSE(PgQuery(*c, "INSERT INTO it_2pc VALUES (1)").ok());
  CHECK(c->PrepareTransaction("qgit-3").code() == absl::StatusCode::kAborted);
  CHECK(other->ListPrepared("qgit-")->empty());
  PgExec(*c, "DROP TABLE it_2pc");
}

bool SessionGone(const std::string& pid) {
  return SuperSql("SELECT count(*) FROM pg_stat_activity WHERE pid = " + pid) == "0";
}

TEST_CASE("pg: a terminated backend makes the connection unavailable and broken", "[postgres]") {
  // Killed while idle: nothing is lost, so the next statement runs on a new
  // session (idle_session_timeout and server restarts look the same).
  auto a = PgConnect();
  const std::string old_pid = a->session_id();
  SuperSql("SELECT pg_terminate_backend(" + old_pid + ")");
  REQUIRE(WaitFor([&] { return SessionGone(old_pid); }, 5000));
  CHECK(One(*a, "SELECT 41 + 1") == Value::Int(42));
  CHECK(a->session_id() != old_pid);
  CHECK_FALSE(a->broken());

  // Killed inside an open transaction: the work is gone, say so.
  auto c = PgConnect();
  REQUIRE(c->Begin({}).ok());
  CHECK(One(*c, "SELECT 1") == Value::Int(1));
  const std::string tx_pid = c->session_id();
  SuperSql("SELECT pg_terminate_backend(" + tx_pid + ")");
  REQUIRE(WaitFor([&] { return SessionGone(tx_pid); }, 5000));
  auto r = PgQuery(*c, "SELECT 1");
  CHECK(r.status().code() == absl::StatusCode::kUnavailable);
  CHECK(c->broken());
  CHECK(c->Ping("").code() == absl::StatusCode::kUnavailable);
  CHECK_FALSE(c->Reset().ok());

  // Killed mid-query: the error comes back within 2 s.
  auto d = PgConnect();
  absl::Status result;
  std::atomic<bool> done{false};
  std::thread worker([&] {
    result = PgQuery(*d, "SELECT pg_sleep(30)").status();
    done = true;
  });
  REQUIRE(WaitFor(
      [&] {
        return SuperSql("SELECT count(*) FROM pg_stat_activity WHERE pid = " + d->session_id() +
                        " AND state = 'active'") == "1";
      },
      10000));
  auto t0 = steady_clock::now();
  SuperSql("SELECT pg_terminate_backend(" + d->session_id() + ")");
  bool finished = WaitFor([&] { return done.load(); }, 2000);
  CHECK(finished);
  worker.join();
  CHECK(std::chrono::duration<double>(steady_clock::now() - t0).count() < 2.0);
  CHECK(result.code() == absl::StatusCode::kUnavailable);
  CHECK(d->broken());
  // Cancel on a dead connection is harmless.
  d->Cancel();
}

TEST_CASE("pg: prepared statements are cached per connection and bounded", "[postgres]") {
  auto c = PgConnect();
  ExecStats first, second;
  REQUIRE(PgQuery(*c, "SELECT :a::int + 1", {{"a", Value::Int(1)}}, &first).ok());
  REQUIRE(PgQuery(*c, "SELECT :a::int + 1", {{"a", Value::Int(2)}}, &second).ok());
  CHECK(first.round_trips == 2);  // prepare + execute
  CHECK(second.round_trips == 1);
  for (int i = 0; i < 300; ++i) {
    Value v = One(*c, "SELECT " + std::to_string(i) + " + :a::int", {{"a", Value::Int(1)}});
    REQUIRE(v == Value::Int(i + 1));
  }
  int prepared =
      std::stoi(SuperSql("SELECT count(*) FROM pg_stat_activity WHERE pid = " + c->session_id()));
  CHECK(prepared == 1);
  Rows n = Q(*c, "SELECT count(*) FROM pg_prepared_statements");
  CHECK(n.rows[0][0].as_int() <= 129);
  // A statement that fails to prepare is not cached.
  CHECK_FALSE(PgQuery(*c, "SELECT no_such_column").ok());
  CHECK_FALSE(PgQuery(*c, "SELECT no_such_column").ok());
}

TEST_CASE("pg: cost estimates come from EXPLAIN", "[postgres]") {
  auto c = PgConnect();
  PgExec(*c, "DROP TABLE IF EXISTS it_cost");
  PgExec(*c, "CREATE TABLE it_cost (id int PRIMARY KEY, city text)");
  PgExec(*c, "INSERT INTO it_cost SELECT g, 'c' || (g % 50) FROM generate_series(1, 20000) g");
  PgExec(*c, "ANALYZE it_cost");
  CompileRequest req;
  req.query_string = "SELECT * FROM it_cost WHERE id = :id";
  req.input_parameters = {"id"};
  auto stmt = PgProvider().Compile(req);
  REQUIRE(stmt.ok());
  BoundArg null_arg;  // generic plan
  auto e = c->EstimateCost(*stmt, {null_arg});
  INFO(S(e.status()));
  REQUIRE(e.ok());
  CHECK(e->uses_index);
  CHECK(e->rows >= 1);
  CHECK(e->rows <= 2);
  CHECK(e->origin == "postgres EXPLAIN");
  CHECK(e->startup_cost > 0);

  req.query_string = "SELECT * FROM it_cost WHERE city = :city";
  req.input_parameters = {"city"};
  auto scan = PgProvider().Compile(req);
  REQUIRE(scan.ok());
  BoundArg city;
  city.value = Value::String("c7");
  auto e2 = c->EstimateCost(*scan, {city});
  REQUIRE(e2.ok());
  CHECK_FALSE(e2->uses_index);
  CHECK(e2->rows > 100);
  CHECK(e2->rows < 1000);
  // The connection is still clean afterwards.
  CHECK(One(*c, "SHOW plan_cache_mode") == Value::String("auto"));
  PgExec(*c, "DROP TABLE it_cost");
}

TEST_CASE("pg: array literal and bytea helpers", "[postgres]") {
  using pg::ArrayLiteral;
  CHECK(*ArrayLiteral({Value::Int(1), Value::Null(), Value::Int(-3)}) == "{1,NULL,-3}");
  CHECK(*ArrayLiteral({Value::String("a\"b"), Value::String("NULL"), Value::String("")}) ==
        R"({"a\"b","NULL",""})");
  CHECK(*ArrayLiteral({}) == "{}");
  CHECK(*pg::DecodeBytea("\\x00ff41") == std::string("\0\xff"
                                                     "A",
                                                     3));
  CHECK(*pg::DecodeBytea("a\\\\b\\000") == std::string("a\\b\0", 4));
  CHECK(*pg::ArrayToJson("{{1,2},{NULL,4}}", pg::kOidInt4, ',') == "[[1,2],[null,4]]");
}

}  // namespace
}  // namespace qg::testing

namespace qg::testing {
namespace {

TEST_CASE("pg: a session closed by idle_session_timeout is replaced transparently", "[postgres]") {
  auto c = PgConnect();
  PgExec(*c, "SET idle_session_timeout = '300ms'");
  const std::string pid = c->session_id();
  REQUIRE(WaitFor(
      [&] { return SuperSql("SELECT count(*) FROM pg_stat_activity WHERE pid = " + pid) == "0"; },
      5000));
  auto r = PgQuery(*c, "SELECT 7");
  INFO(r.status().ToString());
  REQUIRE(r.ok());
  CHECK(r->rows[0][0] == Value::Int(7));
  CHECK(c->session_id() != pid);
}

TEST_CASE("pg: server stop and restart: clean failures, then success", "[postgres]") {
  auto idle = PgConnect();
  StopPostgres();
  auto t0 = steady_clock::now();
  auto down = PgQuery(*idle, "SELECT 1");
  CHECK(down.status().code() == absl::StatusCode::kUnavailable);
  auto fresh = PgProvider().Connect(PgRequest());
  CHECK(fresh.status().code() == absl::StatusCode::kUnavailable);
  CHECK(std::chrono::duration<double>(steady_clock::now() - t0).count() < 5.0);
  StartPostgres();
  auto back = steady_clock::now();
  bool ok = WaitFor(
      [&] {
        auto c = PgProvider().Connect(PgRequest());
        return c.ok() && PgQuery(**c, "SELECT 1").ok();
      },
      2000);
  CHECK(ok);
  CHECK(std::chrono::duration<double>(steady_clock::now() - back).count() < 2.0);
}

}  // namespace
}  // namespace qg::testing
