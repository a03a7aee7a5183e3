#include "providers/sqlite/sqlite_provider.h"

#include <unistd.h>

#include <catch2/catch.hpp>
#include <chrono>
#include <cstdint>
#include <filesystem>
#include <fstream>
#include <limits>
#include <string>
#include <thread>
#include <vector>

#include "providers/sqlite/sqlite_connection.h"
#include "qg/provider.h"

namespace qg {
namespace {

namespace fs = std::filesystem;

class CollectSink : public RowSink {
 public:
  absl::Status OnColumns(const std::vector<ColumnInfo>& columns) override {
    ++on_columns_calls;
    this->columns = columns;
    return absl::OkStatus();
  }
  absl::Status OnRow(std::vector<Value>& row) override {
    rows.push_back(row);
    if (stop_after > 0 && rows.size() >= stop_after) {
      return absl::ResourceExhaustedError("row limit reached");
    }
    return absl::OkStatus();
  }
  int on_columns_calls = 0;
  size_t stop_after = 0;
  std::vector<ColumnInfo> columns;
  std::vector<std::vector<Value>> rows;
};

// A fresh directory under the build tree for database files.
fs::path TempDir() {
  static int n = 0;
  fs::path dir = fs::path(QG_BINARY_DIR) / "tmp_sqlite_test" /
                 (std::to_string(getpid()) + "_" + std::to_string(n++));
  fs::remove_all(dir);
  fs::create_directories(dir);
  return dir;
}

std::unique_ptr<Connection> Open(std::string connect,
                                 std::map<std::string, std::string> options = {},
                                 absl::Duration statement_timeout = absl::ZeroDuration()) {
  auto provider = NewSqliteProvider();
  ConnectRequest req;
  req.source_name = "test";
  req.connect = std::move(connect);
  req.options = std::move(options);
  req.statement_timeout = statement_timeout;
  auto conn = provider->Connect(req);
  INFO(conn.status().ToString());
  REQUIRE(conn.ok());
  return std::move(*conn);
}

Statement Compile(std::string_view sql, std::vector<std::string> params = {},
                  NodeMode mode = NodeMode::kRead) {
  auto provider = NewSqliteProvider();
  CompileRequest req;
  req.query_string = sql;
  req.input_parameters = std::move(params);
  req.mode = mode;
  auto stmt = provider->Compile(req);
  INFO(stmt.status().ToString());
  REQUIRE(stmt.ok());
  return *stmt;
}

std::vector<BoundArg> Args(std::vector<Value> values) {
  std::vector<BoundArg> args;
  for (Value& v : values) args.push_back(BoundArg{std::move(v), {}, false});
  return args;
}

// Runs a statement as a write node would (schema and data changes).
void Exec(Connection& c, std::string_view sql, std::vector<Value> values = {}) {
  std::vector<std::string> names;
  auto parsed = ParseSql(sql);
  REQUIRE(parsed.ok());
  Statement stmt = Compile(sql, parsed->Names(), NodeMode::kWrite);
  auto st = c.Execute(stmt, Args(std::move(values)), nullptr, nullptr);
  INFO(std::string(sql) + ": " + st.ToString());
  REQUIRE(st.ok());
}

std::vector<std::vector<Value>> Query(Connection& c, std::string_view sql,
                                      std::vector<Value> values = {}) {
  auto parsed = ParseSql(sql);
  REQUIRE(parsed.ok());
  Statement stmt = Compile(sql, parsed->Names());
  CollectSink sink;
  auto st = c.Execute(stmt, Args(std::move(values)), &sink, nullptr);
  INFO(std::string(sql) + ": " + st.ToString());
  REQUIRE(st.ok());
  return sink.rows;
}

TEST_CASE("sqlite provider declares its capabilities", "[sqlite]") {
  auto p = NewSqliteProvider();
  CHECK(p->name() == "sqlite");
  Capabilities c = p->capabilities();
  CHECK(c.placeholder_style == PlaceholderStyle::kQuestion);
  CHECK(c.max_placeholders == 32766);
  CHECK(c.batch_in_list);
  CHECK_FALSE(c.batch_any_array);
  CHECK(c.writes);
  CHECK(c.transactions);
  CHECK(c.savepoints);
  CHECK_FALSE(c.two_phase);
  CHECK(c.cancel);
  CHECK(c.cost_estimates);
  CHECK(p->option_keys() == std::vector<std::string>{"busy_timeout", "journal_mode", "read_only",
                                                     "create", "foreign_keys", "cache_size",
                                                     "mmap_size", "allow_attach", "allow_pragma"});
}

TEST_CASE("sqlite connects to files, :memory: and URIs", "[sqlite]") {
  auto p = NewSqliteProvider();
  fs::path dir = TempDir();
  ConnectRequest req;
  req.source_name = "orders_db";

  req.connect = (dir / "typo.db").string();
  auto missing = p->Connect(req);
  REQUIRE_FALSE(missing.ok());
  CHECK(missing.status().code() == absl::StatusCode::kNotFound);
  CHECK_THAT(std::string(missing.status().message()), Catch::Contains(req.connect));
  CHECK_THAT(std::string(missing.status().message()), Catch::Contains("orders_db"));
  CHECK_FALSE(fs::exists(dir / "typo.db"));

  req.connect = "file:" + (dir / "typo2.db").string() + "?cache=private";
  missing = p->Connect(req);
  REQUIRE_FALSE(missing.ok());
  CHECK(missing.status().code() == absl::StatusCode::kNotFound);

  req.connect = (dir / "new.db").string();
  req.options = {{"create", "true"},
                 {"journal_mode", "wal"},
                 {"busy_timeout", "250ms"},
                 {"foreign_keys", "on"}};
  auto created = p->Connect(req);
  INFO(created.status().ToString());
  REQUIRE(created.ok());
  CHECK(fs::exists(dir / "new.db"));
  Exec(**created, "CREATE TABLE t(x)");
  Exec(**created, "INSERT INTO t VALUES (1)");
  CHECK(Query(**created, "SELECT * FROM pragma_journal_mode")[0][0].as_text() == "wal");
  CHECK(Query(**created, "PRAGMA foreign_keys")[0][0].as_int() == 1);

  req.options = {{"read_only", "true"}};
  auto ro = p->Connect(req);
  REQUIRE(ro.ok());
  CHECK(Query(**ro, "SELECT x FROM t")[0][0].as_int() == 1);
  auto write = (*ro)->Execute(Compile("INSERT INTO t VALUES (2)", {}, NodeMode::kWrite), {},
                              nullptr, nullptr);
  CHECK(write.code() == absl::StatusCode::kFailedPrecondition);

  req.connect = "file:" + (dir / "new.db").string() + "?mode=ro";
  req.options = {};
  auto uri = p->Connect(req);
  REQUIRE(uri.ok());
  CHECK(Query(**uri, "SELECT count(*) FROM t")[0][0].as_int() == 1);

  req.connect = "file:memdb_test?mode=memory&cache=shared";
  CHECK(p->Connect(req).ok());
  req.connect = ":memory:";
  CHECK(p->Connect(req).ok());

  req.options = {{"bogus", "1"}};
  CHECK(p->Connect(req).status().code() == absl::StatusCode::kInvalidArgument);
  req.options = {{"busy_timeout", "soon"}};
  CHECK(p->Connect(req).status().code() == absl::StatusCode::kInvalidArgument);
  req.options = {{"journal_mode", "fast; DROP TABLE t"}};
  CHECK(p->Connect(req).status().code() == absl::StatusCode::kInvalidArgument);
  req.options = {};
  req.connect = "";
  CHECK(p->Connect(req).status().code() == absl::StatusCode::kInvalidArgument);

  // A file that is not a database.
  {
    std::ofstream f(dir / "junk.db");
    f << std::string(4096, 'x');
  }
  req.connect = (dir / "junk.db").string();
  auto junk = p->Connect(req);
  REQUIRE_FALSE(junk.ok());
  CHECK(junk.status().code() == absl::StatusCode::kUnavailable);
  CHECK_THAT(std::string(junk.status().message()), Catch::Contains("SQLITE_NOTADB"));
  fs::remove_all(dir);
}

TEST_CASE("sqlite maps types without loss", "[sqlite]") {
  auto c = Open(":memory:");
  Exec(*c,
       "CREATE TABLE t(i INTEGER, d REAL, s TEXT, b BLOB, n, price DECIMAL(38,10), "
       "day DATE, at TIMESTAMP, doc JSON)");
  const int64_t kMin = std::numeric_limits<int64_t>::min();
  const int64_t kMax = std::numeric_limits<int64_t>::max();
  std::string blob("a\0b\0\xff", 5);
  Exec(*c, "INSERT INTO t VALUES (:i, :d, :s, :b, :n, :price, :day, :at, :doc)",
       {Value::Int(kMin), Value::Double(0.1),
        Value::String("h\xc3\xa9llo \xe2\x82\xac \xf0\x9f\x98\x80"), Value::Bytes(blob),
        Value::Null(), Value::Decimal("12345678901234567890.0123456789"),
        Value::Timestamp("2024-05-01"), Value::Timestamp("2024-05-01T10:00:00+02:00"),
        Value::Json("{\"a\": [1, 2]}")});
  Exec(*c, "INSERT INTO t(i, d, s, b, n) VALUES (:i, :d, :s, :b, :n)",
       {Value::Int(kMax), Value::Double(-1.5e308), Value::String(""), Value::Bytes(""),
        Value::Bool(true)});

  Statement stmt = Compile("SELECT * FROM t ORDER BY rowid");
  CollectSink sink;
  ExecStats stats;
  REQUIRE(c->Execute(stmt, {}, &sink, &stats).ok());
  CHECK(sink.on_columns_calls == 1);
  CHECK(stats.round_trips == 1);
  CHECK(stats.rows_affected == -1);
  REQUIRE(sink.columns.size() == 9);
  CHECK(sink.columns[0].name == "i");
  CHECK(sink.columns[5].native_type == "DECIMAL(38,10)");
  CHECK(sink.columns[4].native_type.empty());
  REQUIRE(sink.rows.size() == 2);
  const auto& r = sink.rows[0];
  CHECK(r[0] == Value::Int(kMin));
  CHECK(r[1] == Value::Double(0.1));
  CHECK(r[2] == Value::String("h\xc3\xa9llo \xe2\x82\xac \xf0\x9f\x98\x80"));
  CHECK(r[3] == Value::Bytes(blob));
  CHECK(r[3].as_text().size() == 5);
  CHECK(r[4].is_null());
  // DECIMAL affinity keeps text that would lose precision as REAL... SQLite
  // converts it to REAL only when lossless; the value here is not.
  CHECK(r[5].type() != ValueType::kString);
  CHECK(r[6] == Value::Timestamp("2024-05-01"));
  CHECK(r[7] == Value::Timestamp("2024-05-01T10:00:00+02:00"));
  CHECK(r[8] == Value::Json("{\"a\": [1, 2]}"));
  const auto& r2 = sink.rows[1];
  CHECK(r2[0] == Value::Int(kMax));
  CHECK(r2[1] == Value::Double(-1.5e308));
  CHECK(r2[2] == Value::String(""));
  CHECK(r2[3] == Value::Bytes(""));
  CHECK(r2[4] == Value::Int(1));  // bool is stored as 1

  // Exact decimals stored as text come back as decimals.
  Exec(*c, "CREATE TABLE m(amount NUMERIC(10,2))");
  Exec(*c, "INSERT INTO m VALUES (CAST('9.50' AS TEXT))");
  auto m = Query(*c, "SELECT amount, CAST('x' AS TEXT) FROM m");
  CHECK((m[0][0].type() == ValueType::kDouble || m[0][0].type() == ValueType::kDecimal));
  Exec(*c, "CREATE TABLE m2(amount DECIMAL)");
  REQUIRE(c->Execute(Compile("INSERT INTO m2 VALUES ('not a number')", {}, NodeMode::kWrite), {},
                     nullptr, nullptr)
              .ok());
  auto m2 = Query(*c, "SELECT amount FROM m2");
  CHECK(m2[0][0] == Value::String("not a number"));
}

TEST_CASE("sqlite reuses prepared statements with a bounded cache", "[sqlite]") {
  auto conn = Open(":memory:");
  auto* c = static_cast<sqlite::SqliteConnection*>(conn.get());
  Exec(*c, "CREATE TABLE t(x)");
  size_t before = c->cached_statements();
  for (int i = 0; i < 5; ++i) Exec(*c, "INSERT INTO t VALUES (:x)", {Value::Int(i)});
  CHECK(c->cached_statements() == before + 1);
  CHECK(Query(*c, "SELECT count(*) FROM t")[0][0].as_int() == 5);
  for (int i = 0; i < 300; ++i) Query(*c, "SELECT " + std::to_string(i));
  CHECK(c->cached_statements() == sqlite::SqliteConnection::kStatementCacheSize);
  // A statement failing mid-way is reset: the next use works.
  Statement div = Compile("SELECT x FROM t WHERE x = :x", {"x"});
  CollectSink sink;
  sink.stop_after = 1;
  CHECK(c->Execute(div, Args({Value::Int(3)}), &sink, nullptr).code() ==
        absl::StatusCode::kResourceExhausted);
  CollectSink again;
  REQUIRE(c->Execute(div, Args({Value::Int(4)}), &again, nullptr).ok());
  REQUIRE(again.rows.size() == 1);
  CHECK(again.rows[0][0] == Value::Int(4));
}

TEST_CASE("sqlite rejects bad arguments and maps errors", "[sqlite]") {
  auto c = Open(":memory:");
  Exec(*c, "CREATE TABLE t(id INTEGER PRIMARY KEY, v NOT NULL)");
  Exec(*c, "INSERT INTO t VALUES (1, 'a')");

  Statement bad = Compile("SELEC * FROM t");
  auto st = c->Execute(bad, {}, nullptr, nullptr);
  CHECK(st.code() == absl::StatusCode::kInvalidArgument);
  CHECK_THAT(std::string(st.message()), Catch::Contains("SELEC * FROM t"));
  CHECK_THAT(std::string(st.message()), Catch::Contains("SQLITE_ERROR"));
  CHECK_THAT(std::string(st.message()), Catch::Contains("syntax error"));

  st = c->Execute(Compile("SELECT * FROM nope"), {}, nullptr, nullptr);
  CHECK(st.code() == absl::StatusCode::kInvalidArgument);
  CHECK_THAT(std::string(st.message()), Catch::Contains("no such table: nope"));

  st = c->Execute(Compile("INSERT INTO t VALUES (1, 'b')", {}, NodeMode::kWrite), {}, nullptr,
                  nullptr);
  CHECK(st.code() == absl::StatusCode::kAlreadyExists);
  CHECK_THAT(std::string(st.message()), Catch::Contains("SQLITE_CONSTRAINT_PRIMARYKEY"));
  st = c->Execute(Compile("INSERT INTO t VALUES (2, NULL)", {}, NodeMode::kWrite), {}, nullptr,
                  nullptr);
  CHECK(st.code() == absl::StatusCode::kFailedPrecondition);

  Statement one = Compile("SELECT * FROM t WHERE id = :id", {"id"});
  BoundArg array;
  array.is_array = true;
  array.array = {Value::Int(1)};
  st = c->Execute(one, {array}, nullptr, nullptr);
  CHECK(st.code() == absl::StatusCode::kInvalidArgument);
  CHECK_THAT(std::string(st.message()), Catch::Contains("array"));
  CHECK(c->Execute(one, {}, nullptr, nullptr).code() == absl::StatusCode::kInvalidArgument);

  st = c->Execute(Compile("SELECT 1; SELECT 2"), {}, nullptr, nullptr);
  CHECK(st.code() == absl::StatusCode::kInvalidArgument);
  CHECK(c->Execute(Compile("SELECT 1; -- done"), {}, nullptr, nullptr).ok());

  // A native placeholder typed by hand is refused at compile time.
  auto p = NewSqliteProvider();
  CompileRequest req;
  req.query_string = "SELECT * FROM t WHERE id = ?";
  CHECK(p->Compile(req).status().code() == absl::StatusCode::kInvalidArgument);
  CHECK_FALSE(c->broken());
  CHECK(c->Ping("").ok());
  CHECK(c->Ping("SELECT count(*) FROM t").ok());
  CHECK(c->Ping("SELECT * FROM missing").code() == absl::StatusCode::kInvalidArgument);
}

TEST_CASE("sqlite batched statements link keys in the trailing column", "[sqlite]") {
  auto p = NewSqliteProvider();
  CompileRequest req;
  req.query_string = "SELECT id, amount FROM orders WHERE user_id = :uid AND amount > :min";
  req.input_parameters = {"uid", "min"};
  req.key_params = {"uid"};
  req.batch_items = 32765;  // + :min = 32766 placeholders
  auto big = p->Compile(req);
  REQUIRE(big.ok());
  CHECK(big->args.size() == 32766);
  req.batch_items = 32766;
  auto too_big = p->Compile(req);
  CHECK(too_big.status().code() == absl::StatusCode::kFailedPrecondition);
  req.query_string = "SELECT id FROM orders WHERE user_id = :uid";
  req.input_parameters = {"uid"};
  auto max = p->Compile(req);
  REQUIRE(max.ok());
  CHECK(max->args.size() == 32766);
  req.form = BatchForm::kAnyArray;
  CHECK(p->Compile(req).status().code() == absl::StatusCode::kFailedPrecondition);

  auto c = Open(":memory:");
  Exec(*c, "CREATE TABLE orders(id INTEGER PRIMARY KEY, user_id INTEGER, amount REAL)");
  Exec(*c, "CREATE INDEX orders_user ON orders(user_id)");
  for (int i = 1; i <= 100; ++i) {
    Exec(*c, "INSERT INTO orders VALUES (:id, :u, :a)",
         {Value::Int(i), Value::Int(i % 10), Value::Double(i * 1.5)});
  }
  // The full-size statement runs: every key bound, rows linked to keys.
  std::vector<BoundArg> args;
  for (size_t i = 0; i < max->args.size(); ++i) {
    CHECK(max->args[i].kind == BatchArg::Kind::kKeyItem);
    args.push_back(BoundArg{Value::Int(static_cast<int64_t>(max->args[i].item)), {}, false});
  }
  CollectSink sink;
  ExecStats stats;
  auto st = c->Execute(*max, args, &sink, &stats);
  INFO(st.ToString());
  REQUIRE(st.ok());
  CHECK(stats.round_trips == 1);
  CHECK(sink.rows.size() == 100);
  REQUIRE(sink.columns.size() == 2);
  CHECK(sink.columns.back().name == "__qg_k0");
  for (const auto& row : sink.rows) CHECK(row[1] == Value::Int(row[0].as_int() % 10));

  // Key items and an ordinary parameter mixed.
  req.form = BatchForm::kInList;
  req.query_string = "SELECT id FROM orders WHERE user_id = :uid AND amount > :min ORDER BY id";
  req.input_parameters = {"uid", "min"};
  req.batch_items = 2;
  auto small = p->Compile(req);
  REQUIRE(small.ok());
  CollectSink s2;
  REQUIRE(c->Execute(*small, Args({Value::Int(3), Value::Int(4), Value::Double(100)}), &s2, nullptr)
              .ok());
  REQUIRE(s2.rows.size() == 6);  // 73, 74, 83, 84, 93, 94
  CHECK(s2.rows[0][0] == Value::Int(73));
  CHECK(s2.rows[0][1] == Value::Int(3));
  CHECK(s2.rows[1][1] == Value::Int(4));

  // Several keys: row values.
  req.query_string = "SELECT id FROM orders WHERE user_id = :uid AND id = :id";
  req.input_parameters = {"uid", "id"};
  req.key_params = {"uid", "id"};
  req.batch_items = 3;
  auto multi = p->Compile(req);
  REQUIRE(multi.ok());
  CollectSink s3;
  st = c->Execute(*multi,
                  Args({Value::Int(3), Value::Int(13), Value::Int(4), Value::Int(5), Value::Int(5),
                        Value::Int(25)}),
                  &s3, nullptr);
  INFO(multi->text);
  REQUIRE(st.ok());
  REQUIRE(s3.rows.size() == 2);
  for (const auto& row : s3.rows) {
    CHECK(row.size() == 3);
    CHECK(row[2] == row[0]);
    CHECK(row[1] == Value::Int(row[0].as_int() % 10));
  }
}

TEST_CASE("sqlite writes report rows affected and RETURNING rows", "[sqlite]") {
  auto c = Open(":memory:");
  Exec(*c, "CREATE TABLE t(id INTEGER PRIMARY KEY, v TEXT)");
  ExecStats stats;
  Statement ins = Compile("INSERT INTO t(v) VALUES (:a), (:b)", {"a", "b"}, NodeMode::kWrite);
  CHECK(ins.is_write);
  REQUIRE(c->Execute(ins, Args({Value::String("x"), Value::String("y")}), nullptr, &stats).ok());
  CHECK(stats.rows_affected == 2);
  CHECK(stats.round_trips == 1);

  Statement upd =
      Compile("UPDATE t SET v = :v WHERE id > 100 RETURNING id", {"v"}, NodeMode::kWrite);
  CollectSink none;
  stats = ExecStats{};
  REQUIRE(c->Execute(upd, Args({Value::String("z")}), &none, &stats).ok());
  CHECK(stats.rows_affected == 0);
  CHECK(none.on_columns_calls == 1);
  CHECK(none.rows.empty());

  Statement del = Compile("DELETE FROM t WHERE v = :v RETURNING id, v", {"v"}, NodeMode::kWrite);
  CollectSink returned;
  stats = ExecStats{};
  REQUIRE(c->Execute(del, Args({Value::String("y")}), &returned, &stats).ok());
  CHECK(stats.rows_affected == 1);
  REQUIRE(returned.rows.size() == 1);
  CHECK(returned.rows[0][0] == Value::Int(2));
  CHECK(returned.rows[0][1] == Value::String("y"));

  stats = ExecStats{};
  REQUIRE(c->Execute(Compile("CREATE TABLE u(x)", {}, NodeMode::kWrite), {}, nullptr, &stats).ok());
  CHECK(stats.rows_affected == 0);
}

int64_t Count(Connection& c) { return Query(c, "SELECT count(*) FROM t")[0][0].as_int(); }

TEST_CASE("sqlite transactions and savepoints", "[sqlite]") {
  fs::path dir = TempDir();
  std::string path = (dir / "tx.db").string();
  auto c = Open(path, {{"create", "true"}});
  Exec(*c, "CREATE TABLE t(x)");

  REQUIRE(c->Begin(TxOptions{}).ok());
  Exec(*c, "INSERT INTO t VALUES (1)");
  REQUIRE(c->Savepoint("s\"1").ok());
  Exec(*c, "INSERT INTO t VALUES (2)");
  CHECK(Count(*c) == 2);
  REQUIRE(c->RollbackToSavepoint("s\"1").ok());
  CHECK(Count(*c) == 1);
  REQUIRE(c->ReleaseSavepoint("s\"1").ok());
  REQUIRE(c->Commit().ok());
  CHECK(Count(*c) == 1);

  REQUIRE(c->Begin(TxOptions{IsolationLevel::kSerializable, false, {}}).ok());
  Exec(*c, "INSERT INTO t VALUES (3)");
  REQUIRE(c->Rollback().ok());
  CHECK(Count(*c) == 1);

  CHECK(c->RollbackToSavepoint("nope").code() == absl::StatusCode::kInvalidArgument);
  CHECK(c->Commit().code() == absl::StatusCode::kInvalidArgument);  // no transaction
  CHECK(c->PrepareTransaction("g").code() == absl::StatusCode::kUnimplemented);

  // A writer holding the lock makes another connection's write retryable.
  auto other = Open(path, {{"busy_timeout", "0"}});
  REQUIRE(c->Begin(TxOptions{IsolationLevel::kSerializable, false, {}}).ok());
  Exec(*c, "INSERT INTO t VALUES (4)");
  auto busy = other->Execute(Compile("INSERT INTO t VALUES (5)", {}, NodeMode::kWrite), {}, nullptr,
                             nullptr);
  CHECK(busy.code() == absl::StatusCode::kUnavailable);
  CHECK_THAT(std::string(busy.message()), Catch::Contains("SQLITE_BUSY"));
  CHECK_FALSE(other->broken());

  // Reset rolls back the open transaction.
  REQUIRE(c->Reset().ok());
  CHECK(Count(*c) == 1);
  CHECK(Count(*other) == 1);
  c.reset();
  other.reset();
  fs::remove_all(dir);
}

constexpr std::string_view kLongQuery =
    "WITH RECURSIVE n(i) AS (SELECT 1 UNION ALL SELECT i + 1 FROM n WHERE i < 1000000000) "
    "SELECT count(*) FROM n";

TEST_CASE("sqlite cancel from another thread stops a long query", "[sqlite]") {
  auto c = Open(":memory:");
  Statement stmt = Compile(kLongQuery);
  absl::Status result;
  std::thread runner([&] { result = c->Execute(stmt, {}, nullptr, nullptr); });
  std::this_thread::sleep_for(std::chrono::milliseconds(100));
  c->Cancel();
  runner.join();
  CHECK(result.code() == absl::StatusCode::kCancelled);
  CHECK_FALSE(c->broken());
  // Still cancelled until Reset.
  CHECK(c->Execute(Compile("SELECT 1"), {}, nullptr, nullptr).code() ==
        absl::StatusCode::kCancelled);
  REQUIRE(c->Reset().ok());
  CHECK(Query(*c, "SELECT 41 + 1")[0][0] == Value::Int(42));
}

TEST_CASE("sqlite cancel before Execute is not lost", "[sqlite]") {
  auto c = Open(":memory:");
  c->Cancel();
  CHECK(c->Execute(Compile(kLongQuery), {}, nullptr, nullptr).code() ==
        absl::StatusCode::kCancelled);
  CHECK(c->Ping("").code() == absl::StatusCode::kCancelled);
  REQUIRE(c->Reset().ok());
  CHECK(c->Ping("").ok());
  // Cancel racing the statement start (from another thread, no sleep).
  for (int i = 0; i < 20; ++i) {
    REQUIRE(c->Reset().ok());
    std::thread canceller([&] { c->Cancel(); });
    auto st = c->Execute(Compile(kLongQuery), {}, nullptr, nullptr);
    canceller.join();
    CHECK(st.code() == absl::StatusCode::kCancelled);
  }
}

TEST_CASE("sqlite statement timeout", "[sqlite]") {
  auto c = Open(":memory:", {}, absl::Milliseconds(50));
  auto st = c->Execute(Compile(kLongQuery), {}, nullptr, nullptr);
  CHECK(st.code() == absl::StatusCode::kDeadlineExceeded);
  CHECK(Query(*c, "SELECT 1")[0][0] == Value::Int(1));
}

TEST_CASE("sqlite cost estimator tells an index probe from a scan", "[sqlite]") {
  auto p = NewSqliteProvider();
  auto c = Open(":memory:");
  Exec(*c, "CREATE TABLE orders(id INTEGER PRIMARY KEY, user_id INTEGER, note TEXT)");
  Exec(*c, "CREATE INDEX orders_user ON orders(user_id)");
  Exec(*c,
       "WITH RECURSIVE n(i) AS (SELECT 1 UNION ALL SELECT i + 1 FROM n WHERE i < 5000) "
       "INSERT INTO orders SELECT i, i % 500, 'n' || i FROM n");
  std::vector<BoundArg> null_arg = Args({Value::Null()});

  auto probe =
      c->EstimateCost(Compile("SELECT * FROM orders o WHERE o.user_id = :u", {"u"}), null_arg);
  REQUIRE(probe.ok());
  CHECK(probe->uses_index);
  CHECK(probe->origin == "sqlite planner");
  CHECK(probe->rows >= 1);
  CHECK(probe->rows <= 10);

  auto scan = c->EstimateCost(Compile("SELECT * FROM orders WHERE note = :n", {"n"}), null_arg);
  REQUIRE(scan.ok());
  CHECK_FALSE(scan->uses_index);
  CHECK(scan->rows == Approx(5000));
  CHECK(scan->startup_cost > probe->startup_cost);

  auto pk = c->EstimateCost(Compile("SELECT * FROM orders WHERE id = :id", {"id"}), null_arg);
  REQUIRE(pk.ok());
  CHECK(pk->uses_index);
  CHECK(pk->rows == 1);

  Exec(*c, "ANALYZE");
  auto stats = c->EstimateCost(Compile("SELECT * FROM orders WHERE user_id = :u", {"u"}), null_arg);
  REQUIRE(stats.ok());
  CHECK(stats->uses_index);
  CHECK(stats->rows == Approx(10));  // 5000 rows / 500 users
  CHECK_THAT(stats->origin, Catch::Contains("sqlite_stat1"));

  CompileRequest req;
  req.query_string = "SELECT * FROM orders WHERE user_id = :u";
  req.input_parameters = {"u"};
  req.key_params = {"u"};
  req.batch_items = 4;
  auto batched = p->Compile(req);
  REQUIRE(batched.ok());
  auto b =
      c->EstimateCost(*batched, Args({Value::Int(1), Value::Int(2), Value::Int(3), Value::Int(4)}));
  REQUIRE(b.ok());
  CHECK(b->uses_index);
  CHECK(b->rows == Approx(40));

  auto bad = c->EstimateCost(Compile("SELECT * FROM nope"), {});
  CHECK(bad.status().code() == absl::StatusCode::kInvalidArgument);
}

}  // namespace
}  // namespace qg
