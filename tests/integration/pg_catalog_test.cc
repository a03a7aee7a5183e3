// The catalog statements against the real PostgreSQL server: user mappings
// seen through SELECT current_user (explicit, ALL, the source's AS USER),
// pools per (source, external user), and ALTER/DROP of a source under a
// running load of graphs without failed graphs or leaked sessions.
#include <catch2/catch.hpp>
#include <cstdlib>
#include <string>

#include "catalog_mapping_util.h"
#include "pg_util.h"
#include "qg/engine.h"
#include "unit/engine/catalog_load_util.h"

namespace qg::testing {
namespace {

// A login role with `password` (created once, password reset every time).
void EnsurePgRole(const std::string& role, const std::string& password) {
  SuperSql("DO $$BEGIN IF NOT EXISTS (SELECT FROM pg_roles WHERE rolname = '" + role +
           "') THEN CREATE ROLE " + role + " LOGIN; END IF; END$$; ALTER ROLE " + role +
           " LOGIN PASSWORD '" + password + "'; GRANT CONNECT ON DATABASE qgtest TO " + role);
}

int PgSessionsOf(const std::string& role) {
  return std::stoi(SuperSql("SELECT count(*) FROM pg_stat_activity WHERE usename = '" + role +
                            "' AND backend_type = 'client backend'"));
}

int PgSessionsIn(const std::string& db) {
  return std::stoi(SuperSql("SELECT count(*) FROM pg_stat_activity WHERE datname = '" + db +
                            "' AND backend_type = 'client backend' AND pid <> pg_backend_pid()"));
}

TEST_CASE("pg catalog: local users reach one source as different external users",
          "[postgres][catalog]") {
  PgServer pg = RequirePg();
  MappingScenario sc = MappingScenario::Make(
      "postgres", pg.ConnectFor("qgtest"), pg.user, "QG_TEST_PG_PASSWORD",
      "SELECT CAST(current_user AS text) AS u, (SELECT count(*) FROM qgcat_t) AS n");
  sc.reported = [](const std::string& u) { return u; };
  sc.sessions_of = PgSessionsOf;
  for (const auto& [role, pw] : sc.logins()) {
    EnsurePgRole(role, pw);
  }
  SuperSql(
      "DROP TABLE IF EXISTS qgcat_t; CREATE TABLE qgcat_t (x int); "
      "INSERT INTO qgcat_t VALUES (1), (2), (3); "
      "GRANT SELECT ON qgcat_t TO qgcat_alice, qgcat_bob, qgcat_all, qg");
  RunMappingScenario(sc);
}

TEST_CASE("pg catalog: ALTER and DROP under a running load fail no graph and leak no session",
          "[postgres][catalog][live]") {
  PgServer pg = RequirePg();
  EnsurePgRole("qgcat_load", "qgcat-Load-pw-4");
  ::setenv("QG_CAT_LOAD_PW", "qgcat-Load-pw-4", 1);
  SuperSql(
      "DROP TABLE IF EXISTS qgcat_keys, qgcat_vals; "
      "CREATE TABLE qgcat_keys (k int); INSERT INTO qgcat_keys VALUES (1), (2), (3); "
      "CREATE TABLE qgcat_vals (k int, v text); "
      "INSERT INTO qgcat_vals VALUES (1, 'a'), (2, 'b'), (3, 'c'); "
      "GRANT SELECT ON qgcat_keys, qgcat_vals TO qgcat_load");
  REQUIRE(WaitFor([&] { return PgSessionsOf("qgcat_load") == 0; }, 10000));
  const int baseline = PgSessionsIn("qgtest");

  auto created = Engine::Create();
  REQUIRE(created.ok());
  Engine& engine = **created;
  auto run = [&](const std::string& statements) { RequireStatements(engine, statements); };
  // Equivalent connection strings (the same keys in another order), and
  // changing pool options: each ALTER drains the old pools.
  const std::string connects[] = {
      "host=127.0.0.1 port=" + pg.port + " dbname=qgtest",
      "dbname=qgtest port=" + pg.port + " host=127.0.0.1",
  };
  auto define = [&](const char* verb, int i) {
    return std::string(verb) + " EXTERNAL DATA SOURCE pg_load PROVIDER postgres CONNECT '" +
           connects[i % 2] +
           "' AS USER 'qgcat_load' PASSWORD ENV 'QG_CAT_LOAD_PW' OPTIONS 'pool_max=" +
           std::to_string(3 + i % 2) + ";acquire_timeout=30s;connect_timeout=10s'";
  };
  run(define("CREATE", 0));
  {
    testing_load::GraphLoad load(
        engine, "pg_load",
        testing_load::DependentGraph(
            "pg_load", "SELECT k FROM qgcat_keys ORDER BY k",
            "SELECT v.k, v.v, (SELECT count(*) FROM generate_series(1, 20000)) AS n "
            "FROM qgcat_vals v WHERE v.k = :k"),
        /*threads=*/4);
    REQUIRE(load.WaitForGraphs(10));
    for (int i = 1; i <= 8; ++i) {
      const int before = load.completed();
      run(define("ALTER", i));
      REQUIRE(load.WaitForGraphs(before + 4));
      // Drained pools close their sessions as graphs return them: never
      // more than two pools' worth are open.
      CHECK(PgSessionsOf("qgcat_load") <= 2 * 4);
    }
    load.BeginDrop();
    run("DROP EXTERNAL DATA SOURCE pg_load");
    load.EndDrop();
    load.StopAndCheck(/*min_ok=*/10 + 8 * 4, /*after_drop_per_thread=*/3);
  }
  // Nothing in use, no pool of the dropped source, and the server's
  // sessions back to where they were.
  for (const auto& [key, stats] : engine.PoolStatistics()) {
    INFO(key);
    CHECK(key.rfind("pg_load/", 0) != 0);
    CHECK(stats.in_use == 0);
  }
  CHECK(WaitFor([&] { return PgSessionsOf("qgcat_load") == 0; }, 10000));
  CHECK(WaitFor([&] { return PgSessionsIn("qgtest") <= baseline; }, 10000));
}

}  // namespace
}  // namespace qg::testing
