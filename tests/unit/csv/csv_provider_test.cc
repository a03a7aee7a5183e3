// The csv provider on real files in a temp directory.
#include "providers/csv/csv_provider.h"

#include <stdlib.h>
#include <unistd.h>

#include <catch2/catch.hpp>
#include <filesystem>
#include <fstream>
#include <map>
#include <string>
#include <thread>

#include "qg/provider.h"

namespace qg {
namespace {

namespace fs = std::filesystem;

class TempDir {
 public:
  TempDir() {
    std::string tmpl = (fs::temp_directory_path() / "qg_csv_XXXXXX").string();
    REQUIRE(mkdtemp(tmpl.data()) != nullptr);
    path_ = tmpl;
  }
  ~TempDir() {
    std::error_code ec;
    fs::remove_all(path_, ec);
  }
  std::string Write(const std::string& name, const std::string& text) const {
    const std::string p = path_ + "/" + name;
    std::ofstream(p, std::ios::binary | std::ios::trunc) << text;
    return p;
  }
  const std::string& path() const { return path_; }

 private:
  std::string path_;
};

struct Rows : RowSink {
  std::vector<ColumnInfo> columns;
  std::vector<std::vector<Value>> rows;
  absl::Status OnColumns(const std::vector<ColumnInfo>& c) override {
    columns = c;
    return absl::OkStatus();
  }
  absl::Status OnRow(std::vector<Value>& row) override {
    rows.push_back(row);
    return absl::OkStatus();
  }
};

std::unique_ptr<Connection> Open(Provider& p, const std::string& connect,
                                 std::map<std::string, std::string> options = {}) {
  ConnectRequest req;
  req.source_name = "files";
  req.connect = connect;
  req.options = std::move(options);
  auto c = p.Connect(req);
  INFO(c.status().ToString());
  REQUIRE(c.ok());
  return std::move(*c);
}

absl::Status Query(Provider& p, Connection& c, const std::string& sql, Rows* out,
                   std::map<std::string, Value> params = {}) {
  CompileRequest req;
  req.query_string = sql;
  for (const auto& [k, v] : params) req.input_parameters.push_back(k);
  auto stmt = p.Compile(req);
  if (!stmt.ok()) return stmt.status();
  std::vector<BoundArg> args;
  for (const BatchArg& a : stmt->args) args.push_back(BoundArg{params.at(a.name), {}, false});
  ExecStats stats;
  return c.Execute(*stmt, args, out, &stats);
}

TEST_CASE("csv: quoting, embedded newlines, UTF-8, BOM, empty vs NULL", "[csv]") {
  TempDir dir;
  dir.Write("people.csv",
            "\xEF\xBB\xBFid,name,note,score\r\n"
            "1,\"Smith, Ann\",\"said \"\"hi\"\"\",1.5\r\n"
            "2,Chloé,\"line one\nline two\",2\r\n"
            "3,,\"\",\n"
            "\n"
            "007,Zoë,plain,4\n");
  auto p = NewCsvProvider();
  auto c = Open(*p, dir.path());
  Rows r;
  auto st = Query(*p, *c, "SELECT id, name, note, score FROM people ORDER BY rowid", &r);
  INFO(st.ToString());
  REQUIRE(st.ok());
  REQUIRE(r.rows.size() == 4);
  CHECK(r.columns[0].name == "id");  // BOM stripped
  // "007" keeps the column text (leading zero), so ids are strings.
  CHECK(r.rows[0][0].type() == ValueType::kString);
  CHECK(r.rows[3][0].as_text() == "007");
  CHECK(r.rows[0][1].as_text() == "Smith, Ann");
  CHECK(r.rows[0][2].as_text() == "said \"hi\"");
  CHECK(r.rows[1][1].as_text() == "Chloé");
  CHECK(r.rows[1][2].as_text() == "line one\nline two");
  CHECK(r.rows[2][1].is_null());                     // empty unquoted: NULL
  CHECK(r.rows[2][2].type() == ValueType::kString);  // quoted "": empty string
  CHECK(r.rows[2][2].as_text().empty());
  CHECK(r.rows[2][3].is_null());
  CHECK(r.rows[0][3].type() == ValueType::kDouble);
  CHECK(r.rows[1][3].type() == ValueType::kDouble);  // the column is REAL

  Rows b;
  st =
      Query(*p, *c, "SELECT name FROM people WHERE note = :n", &b, {{"n", Value::String("plain")}});
  REQUIRE(st.ok());
  REQUIRE(b.rows.size() == 1);
  CHECK(b.rows[0][0].as_text() == "Zoë");
}

TEST_CASE("csv: declared and inferred types, options", "[csv]") {
  TempDir dir;
  dir.Write(
      "orders.csv",
      "order_id;user_id;amount;paid;at\n7;1;9.50;true;2024-05-01\n8;2;100.10;no;2024-05-02\n");
  auto p = NewCsvProvider();
  auto c = Open(*p, dir.path(),
                {{"delimiter", ";"},
                 {"types", "orders.amount=decimal; orders.paid=bool; orders.at=timestamp"}});
  Rows r;
  REQUIRE(
      Query(*p, *c, "SELECT order_id, user_id, amount, paid, at FROM orders ORDER BY order_id", &r)
          .ok());
  REQUIRE(r.rows.size() == 2);
  CHECK(r.rows[0][0].type() == ValueType::kInt64);
  CHECK(r.rows[0][2].type() == ValueType::kDecimal);
  CHECK(r.rows[0][2].as_text() == "9.50");
  CHECK(r.rows[0][3].as_int() == 1);
  CHECK(r.rows[1][3].as_int() == 0);
  CHECK(r.rows[0][4].type() == ValueType::kTimestamp);

  // header=false and a null_string.
  TempDir d2;
  const std::string file = d2.Write("raw.csv", "1,NA,\n2,x,\"\"\n");
  auto c2 = Open(*p, file, {{"header", "false"}, {"null_string", "NA"}});
  Rows r2;
  REQUIRE(Query(*p, *c2, "SELECT c1, c2, c3 FROM raw ORDER BY c1", &r2).ok());
  REQUIRE(r2.rows.size() == 2);
  CHECK(r2.rows[0][1].is_null());
  CHECK(r2.rows[0][2].as_text().empty());  // empty unquoted is text once null_string is set

  ConnectRequest bad;
  bad.source_name = "s";
  bad.connect = dir.path();
  bad.options = {{"encoding", "latin1"}};
  auto st = p->Connect(bad).status();
  CHECK(st.code() == absl::StatusCode::kInvalidArgument);
  CHECK(st.message().find("utf-8") != absl::string_view::npos);
  bad.connect = dir.path() + "/nope";
  bad.options = {};
  CHECK(p->Connect(bad).status().code() == absl::StatusCode::kNotFound);
}

TEST_CASE("csv: malformed rows are reported with file:line", "[csv]") {
  TempDir dir;
  dir.Write("good.csv", "a,b\n1,2\n");
  dir.Write("short.csv", "a,b,c\n1,2,3\n4,5\n");
  dir.Write("open.csv", "a,b\n1,\"never closed\n2,3\n");
  dir.Write("typed.csv", "id\n1\nx\n");
  auto p = NewCsvProvider();
  auto c = Open(*p, dir.path(), {{"types", "typed.id=int"}});
  Rows r;
  REQUIRE(Query(*p, *c, "SELECT a, b FROM good", &r).ok());
  CHECK(r.rows.size() == 1);
  auto st = Query(*p, *c, "SELECT * FROM short", &r);
  CHECK(st.code() == absl::StatusCode::kInvalidArgument);
  CHECK(st.message().find("short.csv:3: 2 fields, expected 3") != absl::string_view::npos);
  st = Query(*p, *c, "SELECT * FROM \"open\"", &r);
  CHECK(st.message().find("open.csv:2: unterminated quoted field") != absl::string_view::npos);
  st = Query(*p, *c, "SELECT * FROM typed", &r);
  CHECK(st.message().find("typed.csv:3") != absl::string_view::npos);
}

TEST_CASE("csv: a changed file is reloaded", "[csv]") {
  TempDir dir;
  dir.Write("t.csv", "x\n1\n2\n");
  auto p = NewCsvProvider();
  auto c = Open(*p, dir.path());
  Rows r;
  REQUIRE(Query(*p, *c, "SELECT count(*) FROM t", &r).ok());
  CHECK(r.rows[0][0].as_int() == 2);
  dir.Write("t.csv", "x\n1\n2\n3\n");  // different size: reloaded
  dir.Write("u.csv", "y\nhello\n");    // new table
  Rows r2;
  REQUIRE(Query(*p, *c, "SELECT count(*) FROM t", &r2).ok());
  CHECK(r2.rows[0][0].as_int() == 3);
  Rows r3;
  REQUIRE(Query(*p, *c, "SELECT y FROM u", &r3).ok());
  CHECK(r3.rows[0][0].as_text() == "hello");
  fs::remove(dir.path() + "/u.csv");
  Rows r4;
  CHECK(!Query(*p, *c, "SELECT y FROM u", &r4).ok());
  // The loaded copy is read-only: a query cannot change what later ones see.
  CHECK(!Query(*p, *c, "DELETE FROM t", &r4).ok());
  Rows r5;
  REQUIRE(Query(*p, *c, "SELECT count(*) FROM t", &r5).ok());
  CHECK(r5.rows[0][0].as_int() == 3);
}

TEST_CASE("csv: a table file may not lead out of the source's directory", "[csv][safety]") {
  TempDir outside;
  const std::string secret = "Secret-Token-4f2a9";
  outside.Write("secret.csv", secret + "\n" + secret + "," + secret + "\n");
  outside.Write("data.csv", "k\n" + secret + "\n");
  TempDir dir;
  dir.Write("good.csv", "a\n1\n");
  fs::create_symlink(outside.path() + "/secret.csv", dir.path() + "/leak.csv");
  fs::create_symlink(outside.path() + "/data.csv", dir.path() + "/data.csv");
  fs::create_symlink(dir.path() + "/good.csv", dir.path() + "/same.csv");  // stays inside
  auto p = NewCsvProvider();
  auto c = Open(*p, dir.path());
  Rows r;
  for (const char* table : {"leak", "data"}) {
    INFO(table);
    auto st = Query(*p, *c, std::string("SELECT * FROM ") + table, &r);
    INFO(st.ToString());
    CHECK(st.code() == absl::StatusCode::kPermissionDenied);
    CHECK_THAT(std::string(st.message()),
               Catch::Contains(std::string(table) + ".csv") && Catch::Contains("outside") &&
                   !Catch::Contains(secret) && !Catch::Contains(outside.path()));
  }
  CHECK(r.rows.empty());
  Rows ok;
  REQUIRE(Query(*p, *c, "SELECT a FROM same", &ok).ok());
  CHECK(ok.rows.size() == 1);
  REQUIRE(Query(*p, *c, "SELECT a FROM good", &ok).ok());
}

TEST_CASE("csv: errors quote at most a few hundred bytes of a file", "[csv][safety]") {
  TempDir dir;
  const std::string big(100000, 'Z');
  dir.Write("dup.csv", big + "," + big + "\n1,2\n");
  dir.Write("typed.csv", "id\n" + big + "\n");
  auto p = NewCsvProvider();
  auto c = Open(*p, dir.path(), {{"types", "typed.id=int"}});
  Rows r;
  for (const char* table : {"dup", "typed"}) {
    auto st = Query(*p, *c, std::string("SELECT * FROM ") + table, &r);
    INFO(st.ToString().substr(0, 300));
    CHECK(st.code() == absl::StatusCode::kInvalidArgument);
    CHECK(st.message().size() < 400);
  }
}

}  // namespace
}  // namespace qg
