// Graphs that attack SQLite and CSV sources from inside: a read node that
// writes, escapes through ATTACH, PRAGMA, load_extension and VACUUM INTO,
// and session state one user leaves on a pooled connection for the next.
// Every attack must fail with an error naming node and source, change
// nothing, and leave nothing behind on the connection.
#include <sys/stat.h>

#include <catch2/catch.hpp>
#include <fstream>
#include <sstream>
#include <string>
#include <vector>

#include "engine_test_util.h"
#include "qg/engine.h"

namespace qg::enginetest {
namespace {

constexpr const char* kCanary = "Canary-Vault-Pw-91c3";

struct Env {
  TempDir dir;
  std::unique_ptr<Engine> engine;
  std::string a;        // source "a": table t (1, 'one'), table users (1, 'real')
  std::string catalog;  // the persisted catalog, holding kCanary in clear text
};

// Source "a" (sqlite, pool_max=1 so every graph reuses one connection),
// "free" (the same file with allow_attach and allow_pragma) and "files"
// (csv over a directory holding users.csv). The catalog is persisted.
std::unique_ptr<Env> MakeEnv() {
  auto env = std::make_unique<Env>();
  env->a = env->dir.File("a.sqlite");
  env->catalog = env->dir.File("catalog.sqlite");
  SqlExec(env->a,
          "CREATE TABLE t (id INTEGER PRIMARY KEY, v TEXT NOT NULL);"
          "INSERT INTO t VALUES (1, 'one');"
          "CREATE INDEX t_v ON t (v);"
          "CREATE TABLE users (id INTEGER PRIMARY KEY, name TEXT);"
          "INSERT INTO users VALUES (1, 'real');");
  std::filesystem::create_directories(env->dir.File("csv"));
  std::ofstream(env->dir.File("csv/users.csv")) << "id,name\n1,ann\n2,bob\n";
  EngineOptions options;
  options.catalog_path = env->catalog;
  auto engine = Engine::Create(options);
  REQUIRE(engine.ok());
  env->engine = std::move(*engine);
  // Every source through catalog statements, so the catalog file holds
  // them; "vault" has a literal password.
  const std::string statements = "CREATE EXTERNAL DATA SOURCE a PROVIDER sqlite CONNECT '" +
                                 env->a +
                                 "' OPTIONS 'pool_max=1';"
                                 "CREATE EXTERNAL DATA SOURCE free PROVIDER sqlite CONNECT '" +
                                 env->a +
                                 "' OPTIONS 'pool_max=1; allow_attach=true; allow_pragma=true';"
                                 "CREATE EXTERNAL DATA SOURCE files PROVIDER csv CONNECT '" +
                                 env->dir.File("csv") +
                                 "' OPTIONS 'pool_max=1';"
                                 "CREATE EXTERNAL DATA SOURCE vault PROVIDER sqlite CONNECT '" +
                                 env->a + "' AS USER 'app' PASSWORD '" + kCanary + "';";
  auto st = env->engine->ExecuteStatements(statements);
  INFO(st.status().message());
  REQUIRE(st.ok());
  return env;
}

std::string Slurp(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  std::stringstream ss;
  ss << in.rdbuf();
  return ss.str();
}

std::string Esc(const std::string& s) {
  std::string out;
  for (char c : s) {
    if (c == '"' || c == '\\') out += '\\';
    out += c;
  }
  return out;
}

// A graph of one node.
std::string One(const std::string& source, const std::string& sql, bool write = false) {
  return R"({"nodes": [{"node_id": "n", "database_id": ")" + source + R"(", )" +
         (write ? R"("mode": "write", )" : "") + R"("query_string": ")" + Esc(sql) + R"("}]})";
}

// The first column of node "n" as text rows.
std::vector<std::string> Column(const GraphResult& r) {
  std::vector<std::string> out;
  const NodeResult* n = r.FindNode("n");
  REQUIRE(n != nullptr);
  for (size_t i = 0; i < n->num_rows; ++i) out.push_back(Canon(n->columns[0].values[i]));
  return out;
}

std::vector<std::string> Rows(const std::string& file) {
  return SqlRows(file, "SELECT id, v FROM t ORDER BY id");
}

// Names of the databases the pooled connection of `source` has (main and
// attached ones).
std::vector<std::string> DatabaseNames(Engine& engine, const std::string& source) {
  auto r = engine.ExecuteJson(R"({"nodes": [{"node_id": "n", "database_id": ")" + source +
                              R"(", "query_string": "SELECT name FROM pragma_database_list"}]})");
  INFO(r.status().message());
  REQUIRE(r.ok());
  // "temp" is listed once anything opened the TEMP schema; it is not an
  // attachment.
  std::vector<std::string> names;
  for (const std::string& n : Column(*r)) {
    if (n != "temp") names.push_back(n);
  }
  std::sort(names.begin(), names.end());
  return names;
}

void RequireRefused(const absl::StatusOr<GraphResult>& r, const std::string& source,
                    const std::string& node = "n") {
  INFO(r.status().message());
  REQUIRE_FALSE(r.ok());
  CHECK(r.status().code() == absl::StatusCode::kPermissionDenied);
  CHECK_THAT(std::string(r.status().message()),
             Catch::Contains("node \"" + node + "\"") && Catch::Contains(source));
  CHECK_THAT(std::string(r.status().message()), !Catch::Contains(kCanary));
}

TEST_CASE("sqlite: a read node cannot change anything", "[engine][sqlite][safety]") {
  auto env = MakeEnv();
  const auto before = Rows(env->a);
  for (const std::string sql :
       {"DELETE FROM t", "INSERT INTO t VALUES (7, 'seven')", "UPDATE t SET v = 'x'",
        "CREATE TABLE t2 (x)", "DROP TABLE t", "CREATE TEMP TABLE tt (x)",
        "WITH k(x) AS (SELECT 9) INSERT INTO t SELECT x, 'cte' FROM k",
        "INSERT INTO t VALUES (8, 'ret') RETURNING id", "PRAGMA query_only = 0",
        "PRAGMA user_version = 5", "BEGIN", "COMMIT", "SAVEPOINT s", "VACUUM", "REINDEX", "ANALYZE",
        "ALTER TABLE t ADD COLUMN w"}) {
    INFO(sql);
    RequireRefused(env->engine->ExecuteJson(One("a", sql)), "sqlite source 'a'");
    CHECK(Rows(env->a) == before);
  }
  CHECK(SqlRows(env->a, "PRAGMA user_version") == std::vector<std::string>{"0"});
  CHECK(SqlRows(env->a, "SELECT count(*) FROM sqlite_schema") == std::vector<std::string>{"3"});
  // Reads, read-only pragmas and table-valued pragmas still work.
  auto r = env->engine->ExecuteJson(One("a", "SELECT v FROM t"));
  INFO(r.status().message());
  REQUIRE(r.ok());
  CHECK(Column(*r) == std::vector<std::string>{"one"});
  r = env->engine->ExecuteJson(One("a", "SELECT name FROM pragma_table_info('t') ORDER BY cid"));
  REQUIRE(r.ok());
  CHECK(Column(*r) == std::vector<std::string>{"id", "v"});
  r = env->engine->ExecuteJson(One("a", "PRAGMA table_info(t)"));
  INFO(r.status().message());
  REQUIRE(r.ok());
  CHECK(r->FindNode("n")->num_rows == 2);
  CHECK(TotalInUse(*env->engine) == 0);
}

TEST_CASE("sqlite: a read node cannot write inside a common transaction",
          "[engine][sqlite][safety]") {
  auto env = MakeEnv();
  const auto before = Rows(env->a);
  // The read node runs first, a write node on the same source after it.
  auto r = env->engine->ExecuteJson(R"j({"transaction": "common", "nodes": [
      {"node_id": "r", "database_id": "a", "query_string": "DELETE FROM t"},
      {"node_id": "w", "database_id": "a", "mode": "write",
       "query_string": "INSERT INTO t VALUES (5, 'five')"}],
    "edges": [{"source_node": "r", "target_node": "w"}]})j");
  RequireRefused(r, "sqlite source 'a'", "r");
  CHECK(Rows(env->a) == before);
  // The read node runs while the write node's transaction is open on the
  // same connection: still refused, and the whole transaction rolls back.
  r = env->engine->ExecuteJson(R"j({"transaction": "common", "nodes": [
      {"node_id": "w", "database_id": "a", "mode": "write",
       "query_string": "INSERT INTO t VALUES (5, 'five')"},
      {"node_id": "r", "database_id": "a", "query_string": "DELETE FROM t"}],
    "edges": [{"source_node": "w", "target_node": "r"}]})j");
  RequireRefused(r, "sqlite source 'a'", "r");
  CHECK_THAT(std::string(r.status().message()), Catch::Contains("rolled back"));
  CHECK(Rows(env->a) == before);
  // The same write alone still works in a common transaction.
  r = env->engine->ExecuteJson(R"j({"transaction": "common", "nodes": [
      {"node_id": "w", "database_id": "a", "mode": "write",
       "query_string": "INSERT INTO t VALUES (5, 'five')"},
      {"node_id": "r", "database_id": "a", "query_string": "SELECT count(*) FROM t"}],
    "edges": [{"source_node": "w", "target_node": "r"}]})j");
  INFO(r.status().message());
  REQUIRE(r.ok());
  CHECK(Rows(env->a) == std::vector<std::string>{"1|one", "5|five"});
}

TEST_CASE("sqlite: ATTACH, DETACH, load_extension, VACUUM INTO are refused",
          "[engine][sqlite][safety]") {
  auto env = MakeEnv();
  // The persisted catalog holds the vault's password in clear text: the
  // attack is real.
  REQUIRE(Slurp(env->catalog).find(kCanary) != std::string::npos);
  const std::string attach = "ATTACH 'file:" + env->catalog + "?mode=ro' AS x";
  const std::string copy = env->dir.File("copy.sqlite");
  for (bool write : {false, true}) {
    INFO("write node: " << write);
    RequireRefused(env->engine->ExecuteJson(One("a", attach, write)), "sqlite source 'a'");
    RequireRefused(env->engine->ExecuteJson(One("a", "ATTACH '" + env->catalog + "' AS x", write)),
                   "sqlite source 'a'");
    RequireRefused(env->engine->ExecuteJson(One("a", "ATTACH ':memory:' AS m", write)),
                   "sqlite source 'a'");
    RequireRefused(env->engine->ExecuteJson(One("a", "DETACH main", write)), "sqlite source 'a'");
    RequireRefused(env->engine->ExecuteJson(One("a", "SELECT load_extension('x')", write)),
                   "sqlite source 'a'");
    RequireRefused(env->engine->ExecuteJson(One("a", "VACUUM INTO '" + copy + "'", write)),
                   "sqlite source 'a'");
    CHECK_FALSE(std::filesystem::exists(copy));
    RequireRefused(env->engine->ExecuteJson(One("a", "PRAGMA writable_schema = 1", write)),
                   "sqlite source 'a'");
    RequireRefused(env->engine->ExecuteJson(One("a", "PRAGMA query_only = 1", write)),
                   "sqlite source 'a'");
    // The next user of the same pooled connection sees no attachment.
    CHECK(DatabaseNames(*env->engine, "a") == std::vector<std::string>{"main"});
  }
  // A write still works: no pragma stuck on the connection.
  auto w = env->engine->ExecuteJson(One("a", "INSERT INTO t VALUES (2, 'two')", true));
  INFO(w.status().message());
  CHECK(w.ok());
}

TEST_CASE("sqlite: allow_attach and allow_pragma open the hatches for write nodes only",
          "[engine][sqlite][safety]") {
  auto env = MakeEnv();
  const std::string other = env->dir.File("other.sqlite");
  SqlExec(other, "CREATE TABLE o (x); INSERT INTO o VALUES (42);");
  // A read node still may not attach or set a pragma.
  RequireRefused(env->engine->ExecuteJson(One("free", "ATTACH '" + other + "' AS o")),
                 "sqlite source 'free'");
  RequireRefused(env->engine->ExecuteJson(One("free", "PRAGMA query_only = 1")),
                 "sqlite source 'free'");
  auto r = env->engine->ExecuteJson(One("free", "ATTACH '" + other + "' AS o", true));
  INFO(r.status().message());
  REQUIRE(r.ok());
  // The attachment does not outlive the graph that made it.
  CHECK(DatabaseNames(*env->engine, "free") == std::vector<std::string>{"main"});
  r = env->engine->ExecuteJson(One("free", "PRAGMA query_only = 1", true));
  INFO(r.status().message());
  REQUIRE(r.ok());
  // Nor does the pragma: the next user may write.
  r = env->engine->ExecuteJson(One("free", "INSERT INTO t VALUES (3, 'three')", true));
  INFO(r.status().message());
  CHECK(r.ok());
  // Defensive mode holds even with allow_pragma: writable_schema is no way
  // to edit the schema by hand.
  const auto schema = SqlRows(env->a, "SELECT name, sql FROM sqlite_schema");
  r = env->engine->ExecuteJson(R"j({"nodes": [
      {"node_id": "p", "database_id": "free", "mode": "write",
       "query_string": "PRAGMA writable_schema = 1"},
      {"node_id": "u", "database_id": "free", "mode": "write",
       "query_string": "UPDATE sqlite_schema SET sql = 'CREATE TABLE t (x)' WHERE name = 't'"}],
    "edges": [{"source_node": "p", "target_node": "u"}]})j");
  CHECK_FALSE(r.ok());
  CHECK(SqlRows(env->a, "SELECT name, sql FROM sqlite_schema") == schema);
}

TEST_CASE("sqlite: the next user of a pooled connection sees nothing the last one left",
          "[engine][sqlite][safety]") {
  auto env = MakeEnv();
  // User A: a TEMP table shadowing the real users, a TEMP view and a TEMP
  // trigger that would wipe t on the next insert; all through write nodes,
  // which may create them.
  auto r = env->engine->ExecuteJson(R"({"nodes": [
      {"node_id": "a1", "database_id": "a", "mode": "write",
       "query_string": "CREATE TEMP TABLE users AS SELECT 1 AS id, 'shadow' AS name"},
      {"node_id": "a2", "database_id": "a", "mode": "write",
       "query_string": "CREATE TEMP VIEW tv AS SELECT 'left' AS x"},
      {"node_id": "a3", "database_id": "a", "mode": "write",
       "query_string": "CREATE TEMP TRIGGER wipe AFTER INSERT ON main.t BEGIN DELETE FROM t; END"}],
    "edges": [{"source_node": "a1", "target_node": "a2"}, {"source_node": "a2", "target_node": "a3"}]})");
  INFO(r.status().message());
  REQUIRE(r.ok());
  // User B on the same connection (pool_max=1).
  r = env->engine->ExecuteJson(One("a", "SELECT name FROM users"));
  INFO(r.status().message());
  REQUIRE(r.ok());
  CHECK(Column(*r) == std::vector<std::string>{"real"});
  r = env->engine->ExecuteJson(One("a", "SELECT count(*) FROM temp.sqlite_schema"));
  REQUIRE(r.ok());
  CHECK(Column(*r) == std::vector<std::string>{"0"});
  r = env->engine->ExecuteJson(One("a", "INSERT INTO t VALUES (4, 'four')", true));
  INFO(r.status().message());
  REQUIRE(r.ok());
  CHECK(Rows(env->a) == std::vector<std::string>{"1|one", "4|four"});
  CHECK(DatabaseNames(*env->engine, "a") == std::vector<std::string>{"main"});
  CHECK(TotalInUse(*env->engine) == 0);
}

TEST_CASE("csv: a read node cannot unlock or change the loaded copy", "[engine][csv][safety]") {
  auto env = MakeEnv();
  for (const std::string& sql : std::vector<std::string>{
           "PRAGMA query_only = 0", "DELETE FROM users", "ATTACH '" + env->catalog + "' AS x",
           "SELECT load_extension('x')", "CREATE TEMP TABLE users (id, name)", "BEGIN"}) {
    INFO(sql);
    RequireRefused(env->engine->ExecuteJson(One("files", sql)), "csv source 'files'");
  }
  auto r = env->engine->ExecuteJson(One("files", "SELECT name FROM users ORDER BY id"));
  INFO(r.status().message());
  REQUIRE(r.ok());
  CHECK(Column(*r) == std::vector<std::string>{"ann", "bob"});
  CHECK(DatabaseNames(*env->engine, "files") == std::vector<std::string>{"main"});
  // A changed file is still reloaded (the provider's own writes work).
  std::ofstream(env->dir.File("csv/users.csv"), std::ios::trunc) << "id,name\n1,ann\n2,bob\n3,cy\n";
  bool reloaded = false;
  for (int i = 0; i < 50 && !reloaded; ++i) {
    r = env->engine->ExecuteJson(One("files", "SELECT count(*) FROM users"));
    REQUIRE(r.ok());
    reloaded = Column(*r) == std::vector<std::string>{"3"};
    if (!reloaded) std::this_thread::sleep_for(std::chrono::milliseconds(20));
  }
  CHECK(reloaded);
}

}  // namespace
}  // namespace qg::enginetest
