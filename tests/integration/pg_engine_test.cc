// The engine over real PostgreSQL sources: the seed graph across two
// databases compared row by row with the native join, and the issue's fault
// tests (killed backends, server restarts, pool exhaustion, idle sessions
// closed by the server, many graphs with injected failures).
#include <algorithm>
#include <catch2/catch.hpp>
#include <string>
#include <thread>
#include <vector>

#include "cost_checks.h"
#include "engine_checks.h"
#include "pg_util.h"
#include "qg/engine.h"
#include "seed_data.h"

namespace qg::testing {
namespace {

// Fills users (qg_users), orders (qg_orders) and both (qgtest, for the
// native join) with the same deterministic data (seed_data.h). Idempotent.
void SeedData() {
  static bool done = false;
  if (done) return;
  const auto users = SeedUserRows();
  const auto orders = SeedOrderRows();
  for (const char* db : {"qg_users", "qgtest"}) {
    auto c = PgConnect(db);
    PgExec(*c, "DROP TABLE IF EXISTS users");
    PgExec(*c, "CREATE TABLE users (id int PRIMARY KEY, name text NOT NULL, city text NOT NULL)");
    InsertRows([&](const std::string& sql, const ParamList& p) { PgExec(*c, sql, p); }, "users",
               {"id", "name", "city"}, users);
    PgExec(*c, "ANALYZE users");
  }
  for (const char* db : {"qg_orders", "qgtest"}) {
    auto c = PgConnect(db);
    PgExec(*c, "DROP TABLE IF EXISTS orders");
    PgExec(*c,
           "CREATE TABLE orders (order_id int PRIMARY KEY, user_id int NOT NULL, "
           "amount numeric(12,2) NOT NULL)");
    InsertRows([&](const std::string& sql, const ParamList& p) { PgExec(*c, sql, p); }, "orders",
               {"order_id", "user_id", "amount"}, orders);
    PgExec(*c, "CREATE INDEX orders_user ON orders (user_id)");
    PgExec(*c, "ANALYZE orders");
  }
  done = true;
}

// The example catalog (examples/catalog-servers.json) pointed at the test
// server, plus extra sources.
std::string CatalogJson(const std::string& extra_sources = "") {
  PgServer pg = RequirePg();
  std::string json = ReadFile(std::string(QG_SOURCE_DIR) + "/examples/catalog-servers.json");
  for (size_t p; (p = json.find("port=5432")) != std::string::npos;) {
    json.replace(p, 9, "port=" + pg.port);
  }
  // Only the PostgreSQL sources: the others belong to other tests.
  std::string out = R"({"sources": [)";
  size_t pos = 0;
  bool first = true;
  while ((pos = json.find("{\"name\"", pos)) != std::string::npos) {
    size_t end = json.find("}}", pos);
    REQUIRE(end != std::string::npos);
    std::string src = json.substr(pos, end + 2 - pos);
    if (src.find("\"provider\": \"postgres\"") != std::string::npos) {
      out += (first ? "" : ",") + src;
      first = false;
    }
    pos = end;
  }
  if (!extra_sources.empty()) out += "," + extra_sources;
  out += "]}";
  return out;
}

std::string PgSource(const std::string& name, const std::string& db, const std::string& options) {
  PgServer pg = RequirePg();
  return R"({"name": ")" + name + R"(", "provider": "postgres", "connect": ")" + pg.ConnectFor(db) +
         R"(", "user": "qg", "password": {"env": "QG_TEST_PG_PASSWORD"},
            "options": {)" +
         options + "}}";
}

std::unique_ptr<Engine> MakeEngine(const std::string& extra_sources = "") {
  return EngineWithCatalog(CatalogJson(extra_sources));
}

TEST_CASE("pg engine: EXPLAIN ANALYZE estimates of the seed graph are within 2x once calibrated",
          "[postgres][engine][cost]") {
  SeedData();
  auto engine = MakeEngine();
  CheckSeedEstimatesConverge(*engine,
                             ReadFile(std::string(QG_SOURCE_DIR) + "/examples/graphs/seed_pg.json"),
                             "postgres EXPLAIN");
}

TEST_CASE("pg engine: the seed graph across two databases equals the native join",
          "[postgres][engine]") {
  SeedData();
  auto engine = MakeEngine();
  const std::string graph = ReadFile(std::string(QG_SOURCE_DIR) + "/examples/graphs/seed_pg.json");
  auto native = PgConnect("qgtest");
  CheckSeedGraphAgainstNative(
      *engine, graph, DebugKey,
      [&](const std::string& city) {
        return PgQuery(*native,
                       "SELECT u.id, u.name, u.city, o.order_id, o.user_id, o.amount FROM "
                       "users u JOIN orders o ON o.user_id = u.id WHERE u.city = :city",
                       {{"city", Value::String(city)}});
      },
      [](const GraphResult& r, const NodeResult& orders) {
        // Batched: = ANY($1) with one array argument, few round trips.
        CHECK(orders.stats.strategy == "batched");
        CHECK(orders.stats.round_trips < 20);
        bool any = false;
        for (const NodePlan& np : r.plan.nodes) {
          if (np.node_id == "order_data") any = np.statement.find("ANY($") != std::string::npos;
        }
        CHECK(any);
      });
}

TEST_CASE("pg engine: forced fetch_once equals the native join on the seed data",
          "[postgres][engine][fetch_once]") {
  SeedData();
  auto engine = MakeEngine();
  std::string graph = ReadFile(std::string(QG_SOURCE_DIR) + "/examples/graphs/seed_pg.json");
  const size_t at = graph.find("\"node_id\": \"order_data\",");
  REQUIRE(at != std::string::npos);
  graph.insert(at, "\"strategy\": \"fetch_once\", ");
  auto native = PgConnect("qgtest");
  CheckSeedGraphAgainstNative(
      *engine, graph, DebugKey,
      [&](const std::string& city) {
        return PgQuery(*native,
                       "SELECT u.id, u.name, u.city, o.order_id, o.user_id, o.amount FROM "
                       "users u JOIN orders o ON o.user_id = u.id WHERE u.city = :city",
                       {{"city", Value::String(city)}});
      },
      [](const GraphResult& r, const NodeResult& orders) {
        CHECK(orders.stats.strategy == "fetch_once");
        CHECK(orders.stats.round_trips <= 2);  // one execution (prepare + execute)
        for (const NodePlan& np : r.plan.nodes) {
          if (np.node_id == "order_data") {
            CHECK(np.statement.find("IS NOT NULL") != std::string::npos);
          }
        }
      });
}

// Active statements whose text contains `marker`.
std::string ActiveWith(const std::string& marker) {
  return SuperSql("SELECT count(*) FROM pg_stat_activity WHERE state = 'active' AND query LIKE '%" +
                  marker + "%' AND pid <> pg_backend_pid()");
}

TEST_CASE("pg engine: a large key set is cut into one = ANY piece per connection",
          "[postgres][engine]") {
  {
    auto c = PgConnect("qgtest");
    PgExec(*c, "DROP TABLE IF EXISTS split_keys, split_rows");
    PgExec(*c, "CREATE TABLE split_keys AS SELECT g AS k FROM generate_series(1, 5000) g");
    PgExec(*c,
           "CREATE TABLE split_rows AS SELECT g AS k, g * 10 + r AS v "
           "FROM generate_series(1, 5000) g, generate_series(1, 2) r");
  }
  auto engine = EngineWithCatalog(R"({"sources": [)" +
                                  PgSource("pg_split", "qgtest", R"("pool_max": 8)") + "]}");
  auto graph = [](const std::string& batch) {
    return R"({"nodes": [
      {"node_id": "keys", "database_id": "pg_split", "query_string": "SELECT k FROM split_keys",
       "output_fields": ["k"]},
      {"node_id": "rows", "database_id": "pg_split",
       "query_string": "SELECT k, v FROM split_rows WHERE k = :k", "input_parameters": ["k"],
       "output_fields": ["k", "v"])" +
           batch + R"(}],
      "edges": [{"source_node": "keys", "target_node": "rows",
                 "input_mapping": {"keys.k": "rows.k"}}]})";
  };
  auto check_rows = [](const NodeResult& n) {
    REQUIRE(n.num_rows == 10000);
    REQUIRE(n.bindings.size() == 5000);
    for (size_t i = 0; i < n.num_rows; ++i) {
      const int64_t k = n.columns[0].values[i].as_int();
      REQUIRE(n.bindings[n.row_binding[i]][0].as_int() == k);
      REQUIRE(n.columns[1].values[i].as_int() / 10 == k);
    }
  };

  // The default batch_size (1000) would take 5 executions; the key set is
  // cut into one piece per connection the node may use at once: pool_max 8,
  // the engine's workers, and this machine's cores (at least 2).
  auto r = engine->ExecuteJson(graph(""));
  INFO(r.status().ToString());
  REQUIRE(r.ok());
  const NodeResult& rows = *r->FindNode("rows");
  check_rows(rows);
  const int cores = static_cast<int>(std::max(2u, std::thread::hardware_concurrency()));
  const int width = std::min({8, std::max(4, 4 * cores), cores});
  const int64_t piece = std::max<int64_t>(1000, (5000 + width - 1) / width);
  const int64_t pieces = (5000 + piece - 1) / piece;
  // Round trips: one execution per piece, plus a PREPARE on each connection
  // that had not seen the statement.
  CHECK(rows.stats.round_trips >= pieces);
  CHECK(rows.stats.round_trips <= pieces + rows.stats.parallelism);
  CHECK(rows.stats.parallelism <= width);
  bool said = false;
  for (const NodePlan& np : r->plan.nodes) {
    if (np.node_id == "rows") said = np.reason.find("split evenly") != std::string::npos;
  }
  CHECK(said);

  // A batch_size the node sets is kept.
  r = engine->ExecuteJson(graph(R"(, "batch_size": 1000)"));
  REQUIRE(r.ok());
  check_rows(*r->FindNode("rows"));
  CHECK(r->FindNode("rows")->stats.round_trips >= 5);
  CHECK(InUse(*engine) == 0);
}

TEST_CASE("pg engine: a backend killed mid-query fails the graph within 2 s",
          "[postgres][engine]") {
  SeedData();
  auto engine = MakeEngine();
  // Two independent nodes on two sources: one gets killed, the other (its
  // sibling) must be cancelled.
  KilledSessionCase c;
  c.graph = R"({"nodes": [
      {"node_id": "victim", "database_id": "db_users",
       "query_string": "SELECT 1 AS x FROM pg_sleep(30) /* qg-victim */",
       "input_parameters": [], "output_fields": ["x"]},
      {"node_id": "sibling", "database_id": "db_pg_orders",
       "query_string": "SELECT 1 AS x FROM pg_sleep(30) /* qg-sibling */",
       "input_parameters": [], "output_fields": ["x"]}], "edges": []})";
  c.victim_source = "db_users";
  c.both_running = [] { return ActiveWith("qg-victim") == "1" && ActiveWith("qg-sibling") == "1"; };
  c.kill_victim = [] {
    SuperSql(
        "SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE query LIKE "
        "'%qg-victim%' AND pid <> pg_backend_pid()");
  };
  c.sibling_stopped = [] { return ActiveWith("qg-sibling") == "0"; };
  CheckKilledSessionFailsGraph(*engine, c);
}

TEST_CASE("pg engine: server stop and restart without restarting the engine",
          "[postgres][engine]") {
  SeedData();
  auto engine = MakeEngine();
  CheckServerStopAndRestart(*engine, OneNodeGraph("db_users", "SELECT count(*) AS x FROM users"),
                            "db_users", StopPostgres, StartPostgres);
}

TEST_CASE("pg engine: pool exhaustion fails fast with resource exhausted naming the pool",
          "[postgres][engine]") {
  SeedData();
  auto engine =
      MakeEngine(PgSource("db_tiny", "qgtest", R"("pool_max": 2, "acquire_timeout": "500ms")"));
  CheckPoolExhaustion(*engine, OneNodeGraph("db_tiny", "SELECT 1 AS x FROM pg_sleep(0.4)"),
                      "db_tiny");
}

TEST_CASE("pg engine: sessions the server closes while idle cause no errors",
          "[postgres][engine]") {
  SeedData();
  // A database whose sessions the server ends after 300 ms idle.
  if (SuperSql("SELECT count(*) FROM pg_database WHERE datname = 'qg_idle'") == "0") {
    SuperSql("CREATE DATABASE qg_idle OWNER qg", "postgres");
  }
  SuperSql("ALTER DATABASE qg_idle SET idle_session_timeout = '300ms'", "postgres");
  auto engine = MakeEngine(PgSource("db_idle", "qg_idle", R"("pool_max": 4)"));
  const std::string graph = R"({"nodes": [
      {"node_id": "a", "database_id": "db_idle", "query_string": "SELECT 1 AS x",
       "input_parameters": [], "output_fields": ["x"]},
      {"node_id": "b", "database_id": "db_idle", "query_string": "SELECT 2 AS x",
       "input_parameters": [], "output_fields": ["x"]}], "edges": []})";
  CheckIdleSessionsClosed(*engine, graph, [] {
    return SuperSql("SELECT count(*) FROM pg_stat_activity WHERE datname = 'qg_idle'") == "0";
  });
}

TEST_CASE("pg engine: 1000 graphs with injected failures leak nothing", "[postgres][engine]") {
  SeedData();
  auto engine = MakeEngine();
  InjectedFailureGraphs g;
  g.ok_graph = ReadFile(std::string(QG_SOURCE_DIR) + "/examples/graphs/seed_pg.json");
  g.error_graph = OneNodeGraph("db_users", "SELECT 1 / (count(*) - count(*)) AS x FROM users");
  g.slow_graph =
      OneNodeGraph("db_pg_orders", "SELECT 1 AS x FROM pg_sleep(1)", R"(, "timeout_ms": 20)");
  g.cancel_graph = OneNodeGraph("db_users", "SELECT 1 AS x FROM pg_sleep(0.05)");
  g.seed = 1234;
  RunGraphsWithInjectedFailures(*engine, g);
  // No leaked server sessions: every qg session is an idle pooled connection
  // of this engine (and none is still running a query).
  CHECK(WaitFor(
      [&] {
        return SuperSql(
                   "SELECT count(*) FROM pg_stat_activity WHERE usename = 'qg' AND state "
                   "<> 'idle'") == "0";
      },
      2000));
  CHECK(QgSessionCount() <= Idle(*engine));
  engine.reset();
  CHECK(WaitFor([&] { return QgSessionCount() == 0; }, 2000));
  INFO(
      SuperSql("SELECT string_agg(pid || ' ' || state || ' ' || left(query, 60), E'\n') FROM "
               "pg_stat_activity WHERE usename = 'qg'"));
  CHECK(QgSessionCount() == 0);
}

}  // namespace
}  // namespace qg::testing
