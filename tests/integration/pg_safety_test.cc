// PostgreSQL safety (issue 13): a read node runs read-only, enforced by the
// server, autonomous and inside common / 2pc transactions; and a pooled
// session comes back clean to the next user (temp tables, settings, prepared
// statements, advisory locks, LISTEN, cursors, an open transaction).
#include <unistd.h>

#include <catch2/catch.hpp>
#include <filesystem>
#include <string>
#include <vector>

#include "absl/strings/str_cat.h"
#include "engine_checks.h"
#include "pg_util.h"
#include "qg/engine.h"
#include "qg/pool.h"

namespace qg::testing {
namespace {

// Compiles `sql` as a read or write node would and runs it.
absl::StatusOr<CollectedRows> Run(Connection& conn, const std::string& sql, bool write) {
  CompileRequest req;
  req.query_string = sql;
  req.mode = write ? NodeMode::kWrite : NodeMode::kRead;
  auto stmt = PgProvider().Compile(req);
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

std::string Source(const std::string& name, const std::string& options = R"("pool_max": 4)") {
  PgServer pg = RequirePg();
  return R"({"name": ")" + name + R"(", "provider": "postgres", "connect": ")" +
         pg.ConnectFor("qgtest") +
         R"(", "user": "qg", "password": {"env": "QG_TEST_PG_PASSWORD"}, "options": {)" + options +
         "}}";
}

std::unique_ptr<Engine> SafetyEngine(const std::string& log) {
  EngineOptions o;
  o.transaction_prefix = "qgitsafe";
  o.coordinator_log = log;
  auto e = Engine::Create(std::move(o));
  REQUIRE(e.ok());
  absl::Status st =
      (*e)->LoadCatalogJson(R"({"sources": [)" + Source("pw") + "," + Source("pr") + "]}");
  INFO(st.ToString());
  REQUIRE(st.ok());
  return std::move(*e);
}

void ResetTable() {
  SuperSql("DROP TABLE IF EXISTS safe_t");
  SuperSql("CREATE TABLE safe_t (id int PRIMARY KEY, v text NOT NULL)");
  SuperSql("GRANT ALL ON safe_t TO qg");
  SuperSql("INSERT INTO safe_t VALUES (1, 'a'), (2, 'b'), (3, 'c')");
}

std::string Ids() {
  return SuperSql("SELECT coalesce(string_agg(id::text, ',' ORDER BY id), '') FROM safe_t");
}

std::string LogFile() {
  return std::filesystem::temp_directory_path().string() + "/qg_pg_safety_" +
         std::to_string(getpid()) + ".log";
}

TEST_CASE("pg safety: a read node that writes fails and changes nothing", "[postgres][safety]") {
  ResetTable();
  const std::string log = LogFile();
  auto engine = SafetyEngine(log);

  SECTION("autonomous") {
    for (const char* sql : {"DELETE FROM safe_t", "DELETE FROM safe_t RETURNING id AS x",
                            "WITH d AS (DELETE FROM safe_t RETURNING id) SELECT id AS x FROM d",
                            "CREATE TABLE safe_evil (x int)"}) {
      INFO(sql);
      auto r = engine->ExecuteJson(OneNodeGraph("pr", sql));
      REQUIRE_FALSE(r.ok());
      CHECK_THAT(std::string(r.status().message()), Catch::Contains("node \"n\"") &&
                                                        Catch::Contains("source \"pr\"") &&
                                                        Catch::Contains("read-only transaction"));
      CHECK(Ids() == "1,2,3");
    }
    CHECK(SuperSql("SELECT count(*) FROM pg_class WHERE relname = 'safe_evil'") == "0");
  }

  for (const std::string mode : {"common", "2pc"}) {
    DYNAMIC_SECTION("a read node on a source the graph only reads, " << mode) {
      // r deletes through a source with no write node (read outside the
      // transaction); "later" then fails, so the transaction rolls back.
      const std::string graph = R"J({"transaction": ")J" + mode + R"J(", "nodes": [
        {"node_id": "w", "database_id": "pw", "mode": "write",
         "query_string": "INSERT INTO safe_t (id, v) VALUES (100, 'w')"},
        {"node_id": "r", "database_id": "pr",
         "query_string": "DELETE FROM safe_t RETURNING id AS x", "output_fields": ["x"]},
        {"node_id": "later", "database_id": "pw", "mode": "write",
         "query_string": "INSERT INTO safe_t (id, v) VALUES (:x + 1000, NULL)",
         "input_parameters": ["x"]}],
       "edges": [{"source_node": "r", "target_node": "later",
                  "input_mapping": {"r.x": "later.x"}}]})J";
      auto r = engine->ExecuteJson(graph);
      REQUIRE_FALSE(r.ok());
      CHECK_THAT(std::string(r.status().message()), Catch::Contains("node \"r\"") &&
                                                        Catch::Contains("source \"pr\"") &&
                                                        Catch::Contains("read-only transaction"));
      CHECK(Ids() == "1,2,3");
    }
    DYNAMIC_SECTION("a read node on a source the graph writes, " << mode) {
      // r runs on the transaction's pinned connection; nothing else fails.
      const std::string graph = R"J({"transaction": ")J" + mode + R"J(", "nodes": [
        {"node_id": "w", "database_id": "pw", "mode": "write",
         "query_string": "INSERT INTO safe_t (id, v) VALUES (100, 'w') RETURNING id AS x",
         "output_fields": ["x"]},
        {"node_id": "r", "database_id": "pw",
         "query_string": "DELETE FROM safe_t WHERE id < :x RETURNING id AS y",
         "input_parameters": ["x"], "output_fields": ["y"]}],
       "edges": [{"source_node": "w", "target_node": "r", "input_mapping": {"w.x": "r.x"}}]})J";
      auto r = engine->ExecuteJson(graph);
      REQUIRE_FALSE(r.ok());
      CHECK_THAT(std::string(r.status().message()), Catch::Contains("node \"r\"") &&
                                                        Catch::Contains("source \"pw\"") &&
                                                        Catch::Contains("read-only transaction"));
      CHECK(Ids() == "1,2,3");
    }
  }
  for (const std::string mode : {"common", "2pc"}) {
    DYNAMIC_SECTION("a node that would end the transaction, " << mode) {
      // r (ordered after w, before "later") would COMMIT w's insert.
      for (const char* sql :
           {"COMMIT", " /* x */ commit", "ROLLBACK", "END", "BEGIN", "SAVEPOINT s",
            "RELEASE SAVEPOINT qg_ro", "PREPARE TRANSACTION 'x'"}) {
        INFO(sql);
        const std::string graph = R"J({"transaction": ")J" + mode + R"J(", "nodes": [
          {"node_id": "w", "database_id": "pw", "mode": "write",
           "query_string": "INSERT INTO safe_t (id, v) VALUES (100, 'w')"},
          {"node_id": "r", "database_id": "pw", "query_string": ")J" +
                                  std::string(sql) + R"J("},
          {"node_id": "later", "database_id": "pw", "mode": "write",
           "query_string": "INSERT INTO safe_t (id, v) VALUES (101, NULL)"}],
         "edges": [{"source_node": "w", "target_node": "r"},
                   {"source_node": "r", "target_node": "later"}]})J";
        auto r = engine->ExecuteJson(graph);
        REQUIRE_FALSE(r.ok());
        CHECK_THAT(std::string(r.status().message()),
                   Catch::Contains("node \"r\"") && Catch::Contains("source \"pw\"") &&
                       Catch::Contains("may not control the transaction"));
        CHECK(Ids() == "1,2,3");
      }
    }
  }
  std::filesystem::remove(log);
}

TEST_CASE("pg safety: writes still write, and reads see the transaction's earlier writes",
          "[postgres][safety]") {
  const std::string log = LogFile();
  auto engine = SafetyEngine(log);
  for (const std::string mode : {"autonomous", "common", "2pc"}) {
    INFO("mode " << mode);
    ResetTable();
    // w writes 100; r (a read on the same source) must see it; w2 writes
    // after the read, on the same pinned connection in common / 2pc.
    const std::string graph = R"J({"transaction": ")J" + mode + R"J(", "nodes": [
      {"node_id": "w", "database_id": "pw", "mode": "write",
       "query_string": "INSERT INTO safe_t (id, v) VALUES (100, 'w') RETURNING id AS x",
       "output_fields": ["x"]},
      {"node_id": "r", "database_id": "pw",
       "query_string": "SELECT count(*) AS n, current_setting('transaction_read_only') AS ro FROM safe_t WHERE id = :x",
       "input_parameters": ["x"], "output_fields": ["n", "ro"]},
      {"node_id": "w2", "database_id": "pw", "mode": "write",
       "query_string": "INSERT INTO safe_t (id, v) VALUES (:n + 200, 'w2')",
       "input_parameters": ["n"]}],
     "edges": [{"source_node": "w", "target_node": "r", "input_mapping": {"w.x": "r.x"}},
               {"source_node": "r", "target_node": "w2", "input_mapping": {"r.n": "w2.n"}}]})J";
    auto r = engine->ExecuteJson(graph);
    INFO(r.status().ToString());
    REQUIRE(r.ok());
    const NodeResult* rn = r->FindNode("r");
    REQUIRE(rn != nullptr);
    REQUIRE(rn->num_rows == 1);
    REQUIRE(rn->columns.size() == 2);
    CHECK(rn->columns[0].values[0].ToText() == "1");
    CHECK(rn->columns[1].values[0].ToText() == "on");  // the read ran read-only
    CHECK(Ids() == "1,2,3,100,201");
  }
  std::filesystem::remove(log);
}

TEST_CASE("pg safety: a pooled session comes back clean to the next user", "[postgres][safety]") {
  SuperSql("DROP TABLE IF EXISTS safe_users");
  SuperSql("CREATE TABLE safe_users (id int PRIMARY KEY, name text NOT NULL)");
  SuperSql("GRANT ALL ON safe_users TO qg");
  SuperSql("INSERT INTO safe_users VALUES (1, 'ann'), (2, 'bob')");
  PoolOptions po;
  po.pool_max = 1;
  ConnectionPool pool("pg_reset", po, [] { return PgProvider().Connect(PgRequest("qgtest")); });

  std::string session;
  std::string search_path;
  {
    auto u = pool.Acquire();
    REQUIRE(u.ok());
    session = (*u)->session_id();
    search_path = One(**u, "SELECT current_setting('search_path')");
    // A statement cached before anyone shadows the table.
    CHECK(One(**u, "SELECT count(*) FROM safe_users") == "2");
  }
  {
    auto a = pool.Acquire();
    REQUIRE(a.ok());
    REQUIRE((*a)->session_id() == session);
    Connection& c = **a;
    Write(c, "CREATE TEMP TABLE safe_users (secret text)");
    Write(c, "INSERT INTO safe_users VALUES ('A-secret')");
    CHECK(One(c, "SELECT * FROM safe_users") == "A-secret");
    Write(c, "CREATE TEMP TABLE a_scratch (x int)");
    Write(c, "PREPARE a_stmt AS SELECT 42");
    CHECK(One(c, "SELECT pg_advisory_lock(4242)::text") == "");
    Write(c, "LISTEN a_channel");
    Write(c, "DECLARE a_cursor CURSOR WITH HOLD FOR SELECT 1");
    Write(c, "SET TIME ZONE 'Asia/Tokyo'");
    Write(c, "SET search_path TO pg_temp, public");
    REQUIRE(c.Begin(TxOptions{}).ok());
    Write(c, "INSERT INTO public.safe_users VALUES (9, 'uncommitted')");
  }
  auto b = pool.Acquire();
  REQUIRE(b.ok());
  REQUIRE((*b)->session_id() == session);  // the same server session
  Connection& c = **b;
  // The real table, through the statement A's temp table answered.
  auto all = Run(c, "SELECT * FROM safe_users", false);
  INFO(all.status().ToString());
  REQUIRE(all.ok());
  REQUIRE(all->columns.size() == 2);
  CHECK(all->rows.size() == 2);
  CHECK(One(c, "SELECT count(*) FROM safe_users") == "2");  // cached before A
  CHECK(One(c, "SELECT count(*) FROM pg_class WHERE relnamespace = pg_my_temp_schema()") == "0");
  CHECK(One(c, "SELECT current_setting('TimeZone')") != "Asia/Tokyo");
  CHECK(One(c, "SELECT current_setting('search_path')") == search_path);
  CHECK(One(c, "SELECT count(*) FROM pg_prepared_statements WHERE from_sql") == "0");
  CHECK(One(c,
            "SELECT count(*) FROM pg_locks WHERE locktype = 'advisory' AND pid = "
            "pg_backend_pid()") == "0");
  CHECK(One(c, "SELECT count(*) FROM pg_listening_channels()") == "0");
  CHECK(One(c, "SELECT count(*) FROM pg_cursors WHERE name = 'a_cursor'") == "0");
  CHECK(One(c, "SELECT count(*) FROM safe_users WHERE id = 9") == "0");
  CHECK(One(c, "SELECT current_setting('default_transaction_read_only')") == "on");
  CHECK(SuperSql("SELECT count(*) FROM safe_users WHERE id = 9") == "0");
}

}  // namespace
}  // namespace qg::testing
