// MariaDB safety (issue 13): a read node runs read-only, enforced by the
// server outside transactions (the session's READ ONLY access mode); inside a
// common / 2pc transaction, where MariaDB cannot change the access mode, a
// read that is not a query (the server says so when it prepares it) or that
// does not start as one is refused before it runs. And a pooled session comes
// back clean to the next user (temp tables, session variables, prepared
// statements are ours only: SQL PREPARE is not allowed through the binary
// protocol), named locks, an open transaction).
#include <unistd.h>

#include <catch2/catch.hpp>
#include <filesystem>
#include <string>
#include <vector>

#include "engine_checks.h"
#include "mysql_util.h"
#include "qg/engine.h"
#include "qg/pool.h"

namespace qg::testing {
namespace {

absl::StatusOr<CollectedRows> Run(Connection& conn, const std::string& sql, bool write) {
  CompileRequest req;
  req.query_string = sql;
  req.mode = write ? NodeMode::kWrite : NodeMode::kRead;
  auto stmt = MysqlProvider().Compile(req);
  if (!stmt.ok()) return stmt.status();
  CollectedRows rows;
  ExecStats stats;
  absl::Status st = conn.Execute(*stmt, {}, &rows, &stats);
  if (!st.ok()) return st;
  return rows;
}

std::string One(Connection& conn, const std::string& sql) {
  auto r = Run(conn, sql, false);
  INFO(sql << " -> " << r.status().ToString());
  REQUIRE(r.ok());
  REQUIRE(r->rows.size() == 1);
  return r->rows[0][0].ToText();
}

void Write(Connection& conn, const std::string& sql) {
  auto r = Run(conn, sql, true);
  INFO(sql << " -> " << r.status().ToString());
  REQUIRE(r.ok());
}

std::string Source(const std::string& name) {
  MysqlServer s = RequireMysql();
  return R"({"name": ")" + name + R"(", "provider": "mysql", "connect": ")" +
         s.ConnectFor("qgtest") +
         R"(", "user": "qg", "password": {"env": "QG_TEST_MYSQL_PASSWORD"}, "options": {"pool_max": 4}})";
}

std::unique_ptr<Engine> SafetyEngine(const std::string& log) {
  EngineOptions o;
  o.transaction_prefix = "qgitmysafe";
  o.coordinator_log = log;
  auto e = Engine::Create(std::move(o));
  REQUIRE(e.ok());
  absl::Status st =
      (*e)->LoadCatalogJson(R"({"sources": [)" + Source("mw") + "," + Source("mr") + "]}");
  INFO(st.ToString());
  REQUIRE(st.ok());
  return std::move(*e);
}

void ResetTable() {
  AdminSql("DROP TABLE IF EXISTS qgtest.msafe_t");
  AdminSql(
      "CREATE TABLE qgtest.msafe_t (id int PRIMARY KEY, v varchar(20) NOT NULL) ENGINE=InnoDB");
  AdminSql("INSERT INTO qgtest.msafe_t VALUES (1, 'a'), (2, 'b'), (3, 'c')");
}

std::string Ids() {
  return AdminSql("SELECT coalesce(group_concat(id ORDER BY id), '') FROM qgtest.msafe_t");
}

std::string LogFile() {
  return std::filesystem::temp_directory_path().string() + "/qg_my_safety_" +
         std::to_string(getpid()) + ".log";
}

TEST_CASE("mysql safety: a read node that writes fails and changes nothing", "[mysql][safety]") {
  ResetTable();
  const std::string log = LogFile();
  auto engine = SafetyEngine(log);

  SECTION("autonomous") {
    for (const char* sql : {"DELETE FROM msafe_t", "DELETE FROM msafe_t RETURNING id AS x",
                            "CREATE TABLE msafe_evil (x int)"}) {
      INFO(sql);
      auto r = engine->ExecuteJson(OneNodeGraph("mr", sql));
      REQUIRE_FALSE(r.ok());
      CHECK_THAT(std::string(r.status().message()), Catch::Contains("node \"n\"") &&
                                                        Catch::Contains("source \"mr\"") &&
                                                        Catch::Contains("READ ONLY"));
      CHECK(Ids() == "1,2,3");
    }
    CHECK(AdminSql("SELECT count(*) FROM information_schema.TABLES WHERE TABLE_NAME = "
                   "'msafe_evil'") == "0");
  }

  for (const std::string mode : {"common", "2pc"}) {
    DYNAMIC_SECTION("a read node on a source the graph only reads, " << mode) {
      const std::string graph = R"J({"transaction": ")J" + mode + R"J(", "nodes": [
        {"node_id": "w", "database_id": "mw", "mode": "write",
         "query_string": "INSERT INTO msafe_t (id, v) VALUES (100, 'w')"},
        {"node_id": "r", "database_id": "mr",
         "query_string": "DELETE FROM msafe_t RETURNING id AS x", "output_fields": ["x"]},
        {"node_id": "later", "database_id": "mw", "mode": "write",
         "query_string": "INSERT INTO msafe_t (id, v) VALUES (:x + 1000, NULL)",
         "input_parameters": ["x"]}],
       "edges": [{"source_node": "r", "target_node": "later",
                  "input_mapping": {"r.x": "later.x"}}]})J";
      auto r = engine->ExecuteJson(graph);
      REQUIRE_FALSE(r.ok());
      CHECK_THAT(std::string(r.status().message()), Catch::Contains("node \"r\"") &&
                                                        Catch::Contains("source \"mr\"") &&
                                                        Catch::Contains("READ ONLY"));
      CHECK(Ids() == "1,2,3");
    }
    // On the transaction's own connection MariaDB cannot make a statement
    // read-only: what is refused there is refused before it runs.
    for (const std::string sql :
         {"DELETE FROM msafe_t WHERE id < :x",
          "DELETE FROM msafe_t WHERE id < :x RETURNING id AS y",
          "UPDATE msafe_t SET v = 'r' WHERE id < :x",
          "CREATE TABLE msafe_evil (x int) SELECT :x AS x",
          "/*! DELETE FROM msafe_t WHERE id < */ :x", "CALL no_such_proc(:x)",
          "SELECT id INTO @v FROM msafe_t WHERE id < :x LIMIT 1"}) {
      DYNAMIC_SECTION("a read node on a source the graph writes, " << mode << ": " << sql) {
        const std::string graph = R"J({"transaction": ")J" + mode + R"J(", "nodes": [
          {"node_id": "w", "database_id": "mw", "mode": "write",
           "query_string": "INSERT INTO msafe_t (id, v) VALUES (100, 'w') RETURNING id AS x",
           "output_fields": ["x"]},
          {"node_id": "r", "database_id": "mw", "query_string": ")J" +
                                  sql + R"J(",
           "input_parameters": ["x"], "output_fields": ["y"]}],
         "edges": [{"source_node": "w", "target_node": "r", "input_mapping": {"w.x": "r.x"}}]})J";
        auto r = engine->ExecuteJson(graph);
        REQUIRE_FALSE(r.ok());
        CHECK_THAT(std::string(r.status().message()), Catch::Contains("node \"r\"") &&
                                                          Catch::Contains("source \"mw\"") &&
                                                          Catch::Contains("read node"));
        CHECK(Ids() == "1,2,3");
        CHECK(AdminSql("SELECT count(*) FROM information_schema.TABLES WHERE TABLE_NAME = "
                       "'msafe_evil'") == "0");
      }
    }
  }
  for (const std::string mode : {"common", "2pc"}) {
    DYNAMIC_SECTION("a node that would end the transaction, " << mode) {
      for (const std::string node_mode : {"read", "write"}) {
        for (const char* sql :
             {"COMMIT", " /* x */ commit", "ROLLBACK", "BEGIN", "START TRANSACTION", "SAVEPOINT s",
              "XA END 'x'", "LOCK TABLES msafe_t WRITE"}) {
          INFO(node_mode << ": " << sql);
          const std::string graph = R"J({"transaction": ")J" + mode + R"J(", "nodes": [
            {"node_id": "w", "database_id": "mw", "mode": "write",
             "query_string": "INSERT INTO msafe_t (id, v) VALUES (100, 'w')"},
            {"node_id": "r", "database_id": "mw", "mode": ")J" +
                                    node_mode + R"J(", "query_string": ")J" + sql + R"J("},
            {"node_id": "later", "database_id": "mw", "mode": "write",
             "query_string": "INSERT INTO msafe_t (id, v) VALUES (101, NULL)"}],
           "edges": [{"source_node": "w", "target_node": "r"},
                     {"source_node": "r", "target_node": "later"}]})J";
          auto r = engine->ExecuteJson(graph);
          REQUIRE_FALSE(r.ok());
          CHECK_THAT(std::string(r.status().message()),
                     Catch::Contains("node \"r\"") && Catch::Contains("source \"mw\"") &&
                         Catch::Contains("may not control the transaction"));
          CHECK(Ids() == "1,2,3");
        }
      }
    }
  }
  SECTION("a write node whose DDL commits the transaction implicitly says so") {
    AdminSql("DROP TABLE IF EXISTS qgtest.msafe_ddl");
    const std::string graph = R"J({"transaction": "common", "nodes": [
      {"node_id": "w", "database_id": "mw", "mode": "write",
       "query_string": "INSERT INTO msafe_t (id, v) VALUES (100, 'w')"},
      {"node_id": "ddl", "database_id": "mw", "mode": "write",
       "query_string": "CREATE TABLE msafe_ddl (x int)"}],
     "edges": [{"source_node": "w", "target_node": "ddl"}]})J";
    auto r = engine->ExecuteJson(graph);
    REQUIRE_FALSE(r.ok());
    CHECK(r.status().code() == absl::StatusCode::kDataLoss);
    CHECK_THAT(std::string(r.status().message()),
               Catch::Contains("node \"ddl\"") && Catch::Contains("committed the transaction") &&
                   !Catch::Contains("rolled back on every source"));
    CHECK(Ids() == "1,2,3,100");  // what MariaDB did, told as it is
    AdminSql("DROP TABLE IF EXISTS qgtest.msafe_ddl");
  }
  std::filesystem::remove(log);
}

TEST_CASE("mysql safety: writes still write, and reads see the transaction's earlier writes",
          "[mysql][safety]") {
  const std::string log = LogFile();
  auto engine = SafetyEngine(log);
  for (const std::string mode : {"autonomous", "common", "2pc"}) {
    INFO("mode " << mode);
    ResetTable();
    const std::string graph = R"J({"transaction": ")J" + mode + R"J(", "nodes": [
      {"node_id": "w", "database_id": "mw", "mode": "write",
       "query_string": "INSERT INTO msafe_t (id, v) VALUES (100, 'w') RETURNING id AS x",
       "output_fields": ["x"]},
      {"node_id": "r", "database_id": "mw",
       "query_string": "SELECT count(*) AS n FROM msafe_t WHERE id = :x",
       "input_parameters": ["x"], "output_fields": ["n"]},
      {"node_id": "w2", "database_id": "mw", "mode": "write",
       "query_string": "INSERT INTO msafe_t (id, v) VALUES (:n + 200, 'w2')",
       "input_parameters": ["n"]}],
     "edges": [{"source_node": "w", "target_node": "r", "input_mapping": {"w.x": "r.x"}},
               {"source_node": "r", "target_node": "w2", "input_mapping": {"r.n": "w2.n"}}]})J";
    auto r = engine->ExecuteJson(graph);
    INFO(r.status().ToString());
    REQUIRE(r.ok());
    const NodeResult* rn = r->FindNode("r");
    REQUIRE(rn != nullptr);
    REQUIRE(rn->num_rows == 1);
    CHECK(rn->columns[0].values[0].ToText() == "1");
    CHECK(Ids() == "1,2,3,100,201");
  }
  std::filesystem::remove(log);
}

TEST_CASE("mysql safety: a pooled session comes back clean to the next user", "[mysql][safety]") {
  ResetTable();
  AdminSql("DROP TABLE IF EXISTS qgtest.msafe_users");
  AdminSql("CREATE TABLE qgtest.msafe_users (id int PRIMARY KEY, name varchar(20) NOT NULL)");
  AdminSql("INSERT INTO qgtest.msafe_users VALUES (1, 'ann'), (2, 'bob')");
  PoolOptions po;
  po.pool_max = 1;
  ConnectionPool pool("my_reset", po,
                      [] { return MysqlProvider().Connect(MysqlRequest("qgtest")); });

  std::string session;
  std::string sql_mode;
  std::string time_zone;
  {
    auto u = pool.Acquire();
    REQUIRE(u.ok());
    session = (*u)->session_id();
    sql_mode = One(**u, "SELECT @@session.sql_mode");
    time_zone = One(**u, "SELECT @@session.time_zone");
    CHECK(One(**u, "SELECT count(*) FROM msafe_users") == "2");  // cached before A
  }
  {
    auto a = pool.Acquire();
    REQUIRE(a.ok());
    REQUIRE((*a)->session_id() == session);
    Connection& c = **a;
    Write(c, "CREATE TEMPORARY TABLE msafe_users (secret varchar(20))");
    Write(c, "INSERT INTO msafe_users VALUES ('A-secret')");
    CHECK(One(c, "SELECT * FROM msafe_users") == "A-secret");
    Write(c, "SET SESSION sql_mode = 'ANSI_QUOTES'");
    Write(c, "SET SESSION time_zone = '+09:00'");
    Write(c, "SET @a_secret = 'A-secret'");
    CHECK(One(c, "SELECT GET_LOCK('a_lock', 0)") == "1");
    REQUIRE(c.Begin(TxOptions{}).ok());
    Write(c, "INSERT INTO msafe_t VALUES (9, 'uncommitted')");
  }
  auto b = pool.Acquire();
  REQUIRE(b.ok());
  REQUIRE((*b)->session_id() == session);
  Connection& c = **b;
  auto all = Run(c, "SELECT * FROM msafe_users", false);
  INFO(all.status().ToString());
  REQUIRE(all.ok());
  REQUIRE(all->columns.size() == 2);
  CHECK(all->rows.size() == 2);
  CHECK(One(c, "SELECT count(*) FROM msafe_users") == "2");
  CHECK(One(c, "SELECT @@session.sql_mode") == sql_mode);
  CHECK(One(c, "SELECT @@session.time_zone") == time_zone);
  CHECK(One(c, "SELECT coalesce(@a_secret, 'none')") == "none");
  CHECK(One(c, "SELECT IS_USED_LOCK('a_lock') IS NULL") == "1");
  CHECK(One(c, "SELECT count(*) FROM msafe_t WHERE id = 9") == "0");
  CHECK(One(c, "SELECT @@session.tx_read_only") == "1");
  CHECK(Ids() == "1,2,3");
}

}  // namespace
}  // namespace qg::testing
