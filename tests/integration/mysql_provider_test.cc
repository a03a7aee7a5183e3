// The mysql provider against a real MariaDB 10.11 (direct, no engine):
// types, batched IN lookups, injection, cancel, max_statement_time, XA
// two-phase commit, killed and idle-closed sessions, errors, cost estimates.
#include <atomic>
#include <catch2/catch.hpp>
#include <chrono>
#include <cmath>
#include <string>
#include <thread>
#include <vector>

#include "absl/strings/str_cat.h"
#include "mysql_util.h"
#include "providers/mysql/mysql_connection.h"
#include "qg/cost.h"

namespace qg::testing {
namespace {

using std::chrono::steady_clock;

std::string S(const absl::Status& s) { return std::string(s.ToString()); }

Value One(Connection& c, const std::string& sql, const ParamList& params = {}) {
  MysqlRows r = MyRows(c, sql, params);
  REQUIRE(r.rows.size() == 1);
  REQUIRE(r.rows[0].size() >= 1);
  return r.rows[0][0];
}

mysql::MysqlConnection& My(Connection& c) {
  auto* m = dynamic_cast<mysql::MysqlConnection*>(&c);
  REQUIRE(m != nullptr);
  return *m;
}

int64_t ElapsedMs(steady_clock::time_point since) {
  return std::chrono::duration_cast<std::chrono::milliseconds>(steady_clock::now() - since).count();
}

TEST_CASE("mysql: every type round-trips exactly through bound parameters", "[mysql]") {
  auto c = MysqlConnect();
  MyExec(*c, "DROP TABLE IF EXISTS it_types");
  MyExec(*c,
         "CREATE TABLE it_types (id INT PRIMARY KEY, d DECIMAL(38,10), u BIGINT UNSIGNED, "
         "i BIGINT, ti TINYINT, su SMALLINT UNSIGNED, f DOUBLE, fl FLOAT, t TEXT, "
         "vc VARCHAR(20), bl BLOB, vb VARBINARY(20), dt DATETIME(6), dd DATE, tm TIME, "
         "j JSON, yr YEAR, bt BIT(8), e ENUM('a','b'), lt LONGTEXT) CHARACTER SET utf8mb4");
  const std::string zeros("a\0b\0\0\xff\x01", 7);
  const std::string text = "Zürich 東京 🚀 'quoted' \"dq\" \\ back";
  const std::string big(100000, 'x');
  ParamList p = {{"id", Value::Int(1)},
                 {"d", Value::Decimal("1234567890123456789012345678.0123456789")},
                 {"u", Value::Decimal("18446744073709551615")},
                 {"i", Value::Int(INT64_MIN)},
                 {"ti", Value::Int(-128)},
                 {"su", Value::Int(65535)},
                 {"f", Value::Double(0.1)},
                 {"fl", Value::Double(1.5)},
                 {"t", Value::String(text)},
                 {"vc", Value::String("")},
                 {"bl", Value::Bytes(zeros)},
                 {"vb", Value::Bytes(std::string("\0\0", 2))},
                 {"dt", Value::Timestamp("2024-05-01 10:11:12.123456")},
                 {"dd", Value::Timestamp("2024-05-01")},
                 {"tm", Value::Timestamp("-838:59:59")},
                 {"j", Value::Json(R"({"b": [1, 2.50, null], "a": "x🚀"})")},
                 {"yr", Value::Int(2024)},
                 {"bt", Value::Int(255)},
                 {"e", Value::String("b")},
                 {"lt", Value::String(big)}};
  ExecStats stats;
  auto ins = MyQuery(*c,
                     "INSERT INTO it_types VALUES (:id, :d, :u, :i, :ti, :su, :f, :fl, :t, :vc, "
                     ":bl, :vb, :dt, :dd, :tm, :j, :yr, :bt, :e, :lt)",
                     p, &stats);
  INFO(S(ins.status()));
  REQUIRE(ins.ok());
  CHECK(stats.rows_affected == 1);
  MyExec(*c, "INSERT INTO it_types (id, u, i, t) VALUES (:id, :u, :i, :t)",
         {{"id", Value::Int(2)},
          {"u", Value::Int(INT64_MAX)},
          {"i", Value::Int(INT64_MAX)},
          {"t", Value::Null()}});
  MyExec(*c, "INSERT INTO it_types (id, u) VALUES (:id, :u)",
         {{"id", Value::Int(3)}, {"u", Value::Decimal("9223372036854775808")}});

  MysqlRows r = MyRows(*c,
                       "SELECT d, u, i, ti, su, f, fl, t, vc, bl, vb, dt, dd, tm, j, yr, bt, e, "
                       "lt FROM it_types WHERE id = :id",
                       {{"id", Value::Int(1)}});
  REQUIRE(r.rows.size() == 1);
  const auto& row = r.rows[0];
  CHECK(row[0] == Value::Decimal("1234567890123456789012345678.0123456789"));
  CHECK(row[1] == Value::Decimal("18446744073709551615"));
  CHECK(row[2] == Value::Int(INT64_MIN));
  CHECK(row[3] == Value::Int(-128));
  CHECK(row[4] == Value::Int(65535));
  CHECK(row[5] == Value::Double(0.1));
  CHECK(row[6] == Value::Double(1.5));
  CHECK(row[7] == Value::String(text));
  CHECK(row[8] == Value::String(""));  // empty, not NULL
  CHECK(row[9] == Value::Bytes(zeros));
  CHECK(row[9].as_text().size() == 7);
  CHECK(row[10] == Value::Bytes(std::string("\0\0", 2)));
  CHECK(row[11] == Value::Timestamp("2024-05-01 10:11:12.123456"));
  CHECK(row[12] == Value::Timestamp("2024-05-01"));
  CHECK(row[13] == Value::Timestamp("-838:59:59"));
  CHECK(row[14] == Value::Json(R"({"b": [1, 2.50, null], "a": "x🚀"})"));
  CHECK(row[15] == Value::Int(2024));
  CHECK(row[16] == Value::Int(255));
  CHECK(row[17] == Value::String("b"));
  CHECK(row[18] == Value::String(big));  // longer than the column buffer: fetched whole

  CHECK(r.columns[0].type == ValueType::kDecimal);
  CHECK(r.columns[0].native_type == "DECIMAL(38,10)");
  CHECK(r.columns[1].native_type == "BIGINT UNSIGNED");
  CHECK(r.columns[2].type == ValueType::kInt64);
  CHECK(r.columns[5].type == ValueType::kDouble);
  CHECK(r.columns[7].type == ValueType::kString);
  CHECK(r.columns[9].type == ValueType::kBytes);
  CHECK(r.columns[11].type == ValueType::kTimestamp);
  CHECK(r.columns[11].native_type == "DATETIME(6)");
  CHECK(r.columns[14].type == ValueType::kJson);  // MariaDB: via extended metadata

  MysqlRows r2 = MyRows(*c, "SELECT u, i, t, vc, d, bl, dt, j FROM it_types WHERE id = 2");
  CHECK(r2.rows[0][0] == Value::Int(INT64_MAX));
  CHECK(r2.rows[0][1] == Value::Int(INT64_MAX));
  for (size_t i = 2; i < r2.rows[0].size(); ++i) CHECK(r2.rows[0][i].is_null());
  CHECK(One(*c, "SELECT u FROM it_types WHERE id = 3") == Value::Decimal("9223372036854775808"));

  // Keys of every kind find their rows through bound parameters.
  CHECK(One(*c, "SELECT id FROM it_types WHERE u = :u",
            {{"u", Value::Decimal("18446744073709551615")}}) == Value::Int(1));
  CHECK(One(*c, "SELECT id FROM it_types WHERE vc = :v", {{"v", Value::String("")}}) ==
        Value::Int(1));
  CHECK(One(*c, "SELECT id FROM it_types WHERE bl = :b", {{"b", Value::Bytes(zeros)}}) ==
        Value::Int(1));
  CHECK(One(*c, "SELECT id FROM it_types WHERE d = :d",
            {{"d", Value::Decimal("1234567890123456789012345678.0123456789")}}) == Value::Int(1));
  CHECK(One(*c, "SELECT id FROM it_types WHERE dt = :dt",
            {{"dt", Value::Timestamp("2024-05-01 10:11:12.123456")}}) == Value::Int(1));
  CHECK(One(*c, "SELECT id FROM it_types WHERE t = :t", {{"t", Value::String(text)}}) ==
        Value::Int(1));
  CHECK(One(*c, "SELECT :b AS b, :n AS n", {{"b", Value::Bool(true)}, {"n", Value::Null()}}) ==
        Value::Int(1));
  MyExec(*c, "DROP TABLE it_types");
}

TEST_CASE("mysql: batched IN lookups link rows to keys, also chunked", "[mysql]") {
  auto c = MysqlConnect();
  MyExec(*c, "DROP TABLE IF EXISTS it_batch");
  MyExec(*c, "CREATE TABLE it_batch (id INT PRIMARY KEY, grp INT, name VARCHAR(20))");
  MyExec(*c, "SET SESSION max_recursive_iterations = 1000000");
  MyExec(*c,
         "INSERT INTO it_batch WITH RECURSIVE s(n) AS (SELECT 1 UNION ALL SELECT n + 1 FROM s "
         "WHERE n < 70000) SELECT n, n % 7, CONCAT('n', n) FROM s");

  CompileRequest req;
  req.query_string = "SELECT name FROM it_batch WHERE id = :id AND grp >= :g";
  req.input_parameters = {"id", "g"};
  req.key_params = {"id"};
  req.batch_items = 4;
  auto stmt = MysqlProvider().Compile(req);
  INFO(S(stmt.status()));
  REQUIRE(stmt.ok());
  CHECK(stmt->key_columns == 1);
  std::vector<BoundArg> args;
  std::vector<int64_t> keys = {5, 9, 70001, 9};
  size_t k = 0;
  for (const BatchArg& a : stmt->args) {
    BoundArg b;
    b.value = a.kind == BatchArg::Kind::kKeyItem ? Value::Int(keys[k++]) : Value::Int(0);
    args.push_back(b);
  }
  MysqlRows rows;
  REQUIRE(c->Execute(*stmt, args, &rows, nullptr).ok());
  REQUIRE(rows.rows.size() == 2);  // 70001 does not exist; IN dedups 9
  for (const auto& r : rows.rows) {
    REQUIRE(r.size() == 2);
    CHECK(r[0] == Value::String(absl::StrCat("n", r[1].as_int())));
  }

  // The placeholder limit: 65535 items fit one statement, 65536 do not.
  CompileRequest too_many = req;
  too_many.batch_items = 65536;
  auto refused = MysqlProvider().Compile(too_many);
  CHECK(refused.status().code() == absl::StatusCode::kFailedPrecondition);

  // 70000 keys in two chunks (65534 + 4466 items, the non-key :g included).
  size_t total = 0;
  for (auto [from, items] : {std::pair<int64_t, size_t>{1, 65534}, {65535, 4466}}) {
    CompileRequest chunk = req;
    chunk.batch_items = items;
    auto cs = MysqlProvider().Compile(chunk);
    INFO(S(cs.status()));
    REQUIRE(cs.ok());
    std::vector<BoundArg> cargs;
    int64_t next = from;
    for (const BatchArg& a : cs->args) {
      BoundArg b;
      b.value = a.kind == BatchArg::Kind::kKeyItem ? Value::Int(next++) : Value::Int(0);
      cargs.push_back(b);
    }
    MysqlRows out;
    absl::Status st = c->Execute(*cs, cargs, &out, nullptr);
    INFO(S(st));
    REQUIRE(st.ok());
    for (const auto& r : out.rows) {
      CHECK(r[0] == Value::String(absl::StrCat("n", r[1].as_int())));
    }
    total += out.rows.size();
  }
  CHECK(total == 70000);
  MyExec(*c, "DROP TABLE it_batch");
}

TEST_CASE("mysql: hostile values are returned exactly, never executed", "[mysql]") {
  auto c = MysqlConnect();
  MyExec(*c, "DROP TABLE IF EXISTS it_inject");
  MyExec(*c, "CREATE TABLE it_inject (id INT PRIMARY KEY, v LONGTEXT, b LONGBLOB)");
  const std::vector<std::string> hostile = {
      "'",
      "''",
      "\\",
      "\\'; DROP TABLE it_inject; --",
      "'; DROP TABLE it_inject; --",
      "\" OR 1=1 --",
      "`; DROP TABLE it_inject; #",
      "1' OR '1'='1",
      std::string("nul\0inside'; DROP TABLE it_inject; --", 38),
      "/* */ UNION SELECT 1, 2, 3",
      "?",
      ":id",
      std::string(1 << 20, '\''),  // 1 MB of quotes
  };
  for (size_t i = 0; i < hostile.size(); ++i) {
    MyExec(*c, "INSERT INTO it_inject VALUES (:id, :v, :b)",
           {{"id", Value::Int(static_cast<int64_t>(i))},
            {"v", Value::String(hostile[i])},
            {"b", Value::Bytes(hostile[i])}});
  }
  for (size_t i = 0; i < hostile.size(); ++i) {
    MysqlRows r = MyRows(*c, "SELECT v, b FROM it_inject WHERE id = :id",
                         {{"id", Value::Int(static_cast<int64_t>(i))}});
    REQUIRE(r.rows.size() == 1);
    CHECK(r.rows[0][0] == Value::String(hostile[i]));
    CHECK(r.rows[0][1] == Value::Bytes(hostile[i]));
    // As a filter: finds exactly its own row.
    MysqlRows f =
        MyRows(*c, "SELECT id FROM it_inject WHERE b = :b", {{"b", Value::Bytes(hostile[i])}});
    REQUIRE(f.rows.size() == 1);
    CHECK(f.rows[0][0] == Value::Int(static_cast<int64_t>(i)));
  }
  // The table is still there, with every row.
  CHECK(One(*c, "SELECT COUNT(*) FROM it_inject") ==
        Value::Int(static_cast<int64_t>(hostile.size())));
  CHECK(AdminSql("SELECT COUNT(*) FROM qgtest.it_inject") == std::to_string(hostile.size()));
  MyExec(*c, "DROP TABLE it_inject");
}

TEST_CASE("mysql: cancel stops SLEEP(60) server-side within 1 s", "[mysql]") {
  auto c = MysqlConnect();
  const std::string id = c->session_id();
  REQUIRE(!id.empty());
  absl::Status result;
  std::atomic<bool> done{false};
  std::thread worker([&] {
    result = MyQuery(*c, "SELECT SLEEP(60)").status();
    done = true;
  });
  // Wait until the server runs it (bounded).
  bool running =
      PollUntil([&] { return MysqlSessionInfo(id).find("SLEEP(60)") != std::string::npos; }, 10000);
  CHECK(running);
  auto t0 = steady_clock::now();
  c->Cancel();
  bool stopped =
      PollUntil([&] { return MysqlSessionInfo(id).find("SLEEP(60)") == std::string::npos; }, 1000);
  CHECK(stopped);
  CHECK(PollUntil([&] { return done.load(); }, 1000));
  worker.join();
  CHECK(ElapsedMs(t0) < 2000);
  CHECK(result.code() == absl::StatusCode::kCancelled);
  CHECK_FALSE(c->broken());
  // Cancelled until Reset.
  CHECK(MyQuery(*c, "SELECT 1").status().code() == absl::StatusCode::kCancelled);
  REQUIRE(c->Reset().ok());
  CHECK(One(*c, "SELECT 1") == Value::Int(1));
  // Cancel with nothing running: the next Execute fails, nothing else happens.
  c->Cancel();
  CHECK(MyQuery(*c, "SELECT 1").status().code() == absl::StatusCode::kCancelled);
  REQUIRE(c->Reset().ok());
  CHECK(One(*c, "SELECT 2") == Value::Int(2));
}

TEST_CASE("mysql: cancel racing statement starts never leaves one running", "[mysql]") {
  auto c = MysqlConnect();
  const std::string id = c->session_id();
  for (int i = 0; i < 20; ++i) {
    std::thread worker([&] { (void)MyQuery(*c, "SELECT SLEEP(30)"); });
    std::this_thread::sleep_for(std::chrono::milliseconds(i % 5));
    c->Cancel();
    worker.join();  // returns: the KILL reached the statement, or it never started
    CHECK(MysqlSessionInfo(id).find("SLEEP") == std::string::npos);
    REQUIRE(c->Reset().ok());
  }
}

TEST_CASE("mysql: statement_timeout becomes max_statement_time", "[mysql]") {
  ConnectRequest req = MysqlRequest();
  req.statement_timeout = absl::Milliseconds(300);
  auto c = MysqlProvider().Connect(req);
  REQUIRE(c.ok());
  CHECK(One(**c, "SELECT @@max_statement_time") == Value::Double(0.3));
  auto t0 = steady_clock::now();
  auto r = MyQuery(**c, "SELECT SLEEP(3)");
  CHECK(ElapsedMs(t0) < 5000);
  INFO(S(r.status()));
  CHECK(r.status().code() == absl::StatusCode::kDeadlineExceeded);
  CHECK(std::string(r.status().message()).find("1969") != std::string::npos);
  CHECK_FALSE((*c)->broken());
  CHECK(One(**c, "SELECT 3") == Value::Int(3));
}

TEST_CASE("mysql: XA prepare, recover, commit and rollback", "[mysql]") {
  auto a = MysqlConnect();
  auto b = MysqlConnect();
  auto leftovers = b->ListPrepared("qgt");
  REQUIRE(leftovers.ok());
  for (const std::string& g : *leftovers) {
    (void)b->RollbackPrepared(g);  // leftovers of an interrupted run
  }
  MyExec(*a, "DROP TABLE IF EXISTS it_xa");
  MyExec(*a, "CREATE TABLE it_xa (id INT PRIMARY KEY) ENGINE=InnoDB");

  // Commit from another session after the preparing one went back to its pool.
  REQUIRE(My(*a).BeginXa("qgt-xa-1", {}).ok());
  MyExec(*a, "INSERT INTO it_xa VALUES (1)");
  REQUIRE(a->PrepareTransaction("qgt-xa-1").ok());
  auto listed = b->ListPrepared("qgt-xa-");
  REQUIRE(listed.ok());
  CHECK(*listed == std::vector<std::string>{"qgt-xa-1"});
  CHECK(One(*b, "SELECT COUNT(*) FROM it_xa") == Value::Int(0));
  REQUIRE(a->Reset().ok());  // closes the session holding the prepared branch
  absl::Status st = b->CommitPrepared("qgt-xa-1");
  INFO(S(st));
  REQUIRE(st.ok());
  CHECK(One(*b, "SELECT COUNT(*) FROM it_xa") == Value::Int(1));
  CHECK(One(*a, "SELECT COUNT(*) FROM it_xa") == Value::Int(1));  // reopened

  // Rollback of a prepared branch on the preparing session.
  REQUIRE(My(*a).BeginXa("qgt-xa-2", {}).ok());
  MyExec(*a, "INSERT INTO it_xa VALUES (2)");
  REQUIRE(a->PrepareTransaction("qgt-xa-2").ok());
  REQUIRE(a->RollbackPrepared("qgt-xa-2").ok());
  CHECK(One(*a, "SELECT COUNT(*) FROM it_xa") == Value::Int(1));

  // Commit on the preparing session.
  REQUIRE(My(*a).BeginXa("qgt-xa-3", {}).ok());
  MyExec(*a, "INSERT INTO it_xa VALUES (3)");
  REQUIRE(a->PrepareTransaction("qgt-xa-3").ok());
  REQUIRE(a->CommitPrepared("qgt-xa-3").ok());
  CHECK(One(*b, "SELECT COUNT(*) FROM it_xa") == Value::Int(2));

  // An active XA rolled back by Reset; one-phase commit through Commit().
  REQUIRE(My(*a).BeginXa("qgt-xa-4", {}).ok());
  MyExec(*a, "INSERT INTO it_xa VALUES (4)");
  REQUIRE(a->Reset().ok());
  REQUIRE(My(*a).BeginXa("qgt-xa-5", {}).ok());
  MyExec(*a, "INSERT INTO it_xa VALUES (5)");
  REQUIRE(a->Commit().ok());
  CHECK(One(*b, "SELECT GROUP_CONCAT(id ORDER BY id) FROM it_xa") == Value::String("1,3,5"));

  // A normal transaction cannot be prepared; ids are hex-encoded, never spliced.
  REQUIRE(a->Begin({}).ok());
  CHECK(a->PrepareTransaction("qgt-xa-6").code() == absl::StatusCode::kFailedPrecondition);
  REQUIRE(a->Rollback().ok());
  REQUIRE(My(*a).BeginXa("qgt'; DROP TABLE it_xa; --", {}).ok());
  REQUIRE(a->PrepareTransaction("qgt'; DROP TABLE it_xa; --").ok());
  auto odd = b->ListPrepared("qgt'");
  REQUIRE(odd.ok());
  CHECK(*odd == std::vector<std::string>{"qgt'; DROP TABLE it_xa; --"});
  REQUIRE(a->RollbackPrepared("qgt'; DROP TABLE it_xa; --").ok());
  CHECK(b->ListPrepared("qgt").value().empty());
  CHECK(b->CommitPrepared("qgt-no-such").code() == absl::StatusCode::kNotFound);
  MyExec(*b, "DROP TABLE it_xa");
}

TEST_CASE("mysql: transactions and savepoints", "[mysql]") {
  auto c = MysqlConnect();
  MyExec(*c, "DROP TABLE IF EXISTS it_tx");
  MyExec(*c, "CREATE TABLE it_tx (id INT PRIMARY KEY) ENGINE=InnoDB");
  TxOptions serializable;
  serializable.isolation = IsolationLevel::kSerializable;
  REQUIRE(c->Begin(serializable).ok());
  MyExec(*c, "INSERT INTO it_tx VALUES (1)");
  REQUIRE(c->Savepoint("sp `odd` name").ok());
  MyExec(*c, "INSERT INTO it_tx VALUES (2)");
  REQUIRE(c->RollbackToSavepoint("sp `odd` name").ok());
  REQUIRE(c->ReleaseSavepoint("sp `odd` name").ok());
  REQUIRE(c->Commit().ok());
  CHECK(One(*c, "SELECT GROUP_CONCAT(id) FROM it_tx") == Value::String("1"));
  // Reset rolls back an open transaction.
  REQUIRE(c->Begin({}).ok());
  MyExec(*c, "INSERT INTO it_tx VALUES (3)");
  REQUIRE(c->Reset().ok());
  CHECK(One(*c, "SELECT COUNT(*) FROM it_tx") == Value::Int(1));
  // Also one opened by SQL (a node may not run START TRANSACTION; with
  // autocommit off the INSERT opens one).
  CHECK(MyQuery(*c, "START TRANSACTION").status().code() == absl::StatusCode::kInvalidArgument);
  MyExec(*c, "SET autocommit = 0");
  MyExec(*c, "INSERT INTO it_tx VALUES (4)");
  REQUIRE(c->Reset().ok());
  CHECK(One(*c, "SELECT COUNT(*) FROM it_tx") == Value::Int(1));
  CHECK(One(*c, "SELECT @@autocommit") == Value::Int(1));
  MyExec(*c, "DROP TABLE it_tx");
}

TEST_CASE("mysql: a KILLed session fails with unavailable and is broken", "[mysql]") {
  auto c = MysqlConnect();
  const std::string id = c->session_id();
  absl::Status result;
  std::thread worker([&] { result = MyQuery(*c, "SELECT SLEEP(20)").status(); });
  REQUIRE(
      PollUntil([&] { return MysqlSessionInfo(id).find("SLEEP") != std::string::npos; }, 10000));
  auto t0 = steady_clock::now();
  AdminSql("KILL " + id);
  worker.join();
  CHECK(ElapsedMs(t0) < 2000);
  INFO(S(result));
  CHECK(result.code() == absl::StatusCode::kUnavailable);
  CHECK(c->broken());
  CHECK(c->Reset().code() == absl::StatusCode::kUnavailable);
  CHECK(MyQuery(*c, "SELECT 1").status().code() == absl::StatusCode::kUnavailable);
}

TEST_CASE("mysql: an idle session closed by the server is replaced unless in a transaction",
          "[mysql]") {
  auto c = MysqlConnect();
  const std::string id = c->session_id();
  AdminSql("KILL " + id);
  REQUIRE(PollUntil([&] { return MysqlSessionInfo(id).empty(); }, 2000));
  CHECK(One(*c, "SELECT 1") == Value::Int(1));  // nothing of ours ran on the dead one
  CHECK(c->session_id() != id);
  CHECK_FALSE(c->broken());

  // wait_timeout: the server closes the idle session by itself.
  MyExec(*c, "SET SESSION wait_timeout = 1");
  const std::string id2 = c->session_id();
  REQUIRE(PollUntil([&] { return MysqlSessionInfo(id2).empty(); }, 5000));
  CHECK(One(*c, "SELECT 2") == Value::Int(2));
  CHECK_FALSE(c->broken());

  // Inside a transaction the work is lost: unavailable + broken.
  REQUIRE(c->Begin({}).ok());
  const std::string id3 = c->session_id();
  AdminSql("KILL " + id3);
  REQUIRE(PollUntil([&] { return MysqlSessionInfo(id3).empty(); }, 2000));
  CHECK(MyQuery(*c, "SELECT 1").status().code() == absl::StatusCode::kUnavailable);
  CHECK(c->broken());
}

TEST_CASE("mysql: errors keep the error number and SQLSTATE, never the password", "[mysql]") {
  auto c = MysqlConnect();
  auto syntax = MyQuery(*c, "SELEC 1");
  CHECK(syntax.status().code() == absl::StatusCode::kInvalidArgument);
  CHECK(std::string(syntax.status().message()).find("1064") != std::string::npos);
  CHECK(std::string(syntax.status().message()).find("42000") != std::string::npos);
  auto table = MyQuery(*c, "SELECT * FROM no_such_table_here");
  CHECK(table.status().code() == absl::StatusCode::kInvalidArgument);
  CHECK(std::string(table.status().message()).find("1146") != std::string::npos);
  auto column = MyQuery(*c, "SELECT no_such_column FROM DUAL");
  CHECK(column.status().code() == absl::StatusCode::kInvalidArgument);
  CHECK_FALSE(c->broken());
  CHECK(One(*c, "SELECT 1") == Value::Int(1));

  ConnectRequest bad = MysqlRequest();
  bad.password = "s3cr3t-wrong-pw";
  auto denied = MysqlProvider().Connect(bad);
  REQUIRE_FALSE(denied.ok());
  CHECK(denied.status().code() == absl::StatusCode::kPermissionDenied);
  CHECK(std::string(denied.status().message()).find("s3cr3t") == std::string::npos);
  CHECK(std::string(denied.status().message()).find("1045") != std::string::npos);

  ConnectRequest down = MysqlRequest();
  down.connect = "host=127.0.0.1 port=1 dbname=qgtest";
  auto refused = MysqlProvider().Connect(down);
  CHECK(refused.status().code() == absl::StatusCode::kUnavailable);

  ConnectRequest creds = MysqlRequest();
  creds.connect += " password=x";
  CHECK(MysqlProvider().Connect(creds).status().code() == absl::StatusCode::kInvalidArgument);
  ConnectRequest opt = MysqlRequest();
  opt.options.emplace(std::string("no_such_option"), std::string("1"));
  CHECK(MysqlProvider().Connect(opt).status().code() == absl::StatusCode::kInvalidArgument);
}

TEST_CASE("mysql: cost estimates come from EXPLAIN FORMAT=JSON", "[mysql]") {
  auto c = MysqlConnect();
  MyExec(*c, "DROP TABLE IF EXISTS it_cost");
  MyExec(*c, "CREATE TABLE it_cost (id INT PRIMARY KEY, k INT, v INT, KEY (k))");
  MyExec(*c, "SET SESSION max_recursive_iterations = 1000000");
  MyExec(*c,
         "INSERT INTO it_cost WITH RECURSIVE s(n) AS (SELECT 1 UNION ALL SELECT n + 1 FROM s "
         "WHERE n < 5000) SELECT n, n % 100, n FROM s");
  MyExec(*c, "ANALYZE TABLE it_cost");
  CompileRequest req;
  req.query_string = "SELECT * FROM it_cost WHERE k = :k";
  req.input_parameters = {"k"};
  auto lookup = MysqlProvider().Compile(req);
  REQUIRE(lookup.ok());
  BoundArg arg;
  arg.value = Value::Int(7);
  auto e1 = c->EstimateCost(*lookup, {arg});
  INFO(S(e1.status()));
  REQUIRE(e1.ok());
  CHECK(e1->origin == "mysql EXPLAIN");
  CHECK(e1->uses_index);
  CHECK(e1->rows > 0);
  CHECK(e1->rows < 1000);

  req.query_string = "SELECT * FROM it_cost WHERE v > :k";
  auto scan = MysqlProvider().Compile(req);
  REQUIRE(scan.ok());
  auto e2 = c->EstimateCost(*scan, {arg});
  REQUIRE(e2.ok());
  CHECK_FALSE(e2->uses_index);
  CHECK(e2->startup_cost > e1->startup_cost);
  MyExec(*c, "DROP TABLE it_cost");
}

}  // namespace
}  // namespace qg::testing
