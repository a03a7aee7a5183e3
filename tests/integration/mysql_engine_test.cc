// The engine over real MariaDB sources: the seed graph with users and orders
// in two MariaDB databases compared row by row with the native join, a
// three-source graph (PostgreSQL + MariaDB + SQLite), and the issue's fault
// tests (KILLed sessions, server restarts, pool exhaustion, wait_timeout,
// many graphs with injected failures).
#include <sqlite3.h>

#include <algorithm>
#include <catch2/catch.hpp>
#include <cstdio>
#include <string>
#include <vector>

#include "cost_checks.h"
#include "engine_checks.h"
#include "mysql_util.h"
#include "qg/engine.h"
#include "seed_data.h"
#if QG_WITH_POSTGRES
#include "pg_util.h"
#endif

namespace qg::testing {
namespace {

void MyExecAll(Connection& c, const std::vector<std::string>& sql) {
  for (const std::string& s : sql) MyExec(c, s);
}

// users (qg_users), orders (qg_orders) and both (qgtest, for the native
// join), with the same deterministic data (seed_data.h).
void SeedMysql() {
  static bool done = false;
  if (done) return;
  const auto users = SeedUserRows();
  const auto orders = SeedOrderRows();
  for (const char* db : {"qg_users", "qgtest"}) {
    auto c = MysqlConnect(db);
    MyExecAll(*c, {"DROP TABLE IF EXISTS users",
                   "CREATE TABLE users (id INT PRIMARY KEY, name VARCHAR(100) NOT NULL, "
                   "city VARCHAR(20) NOT NULL, KEY (city)) CHARACTER SET utf8mb4"});
    InsertRows([&](const std::string& sql, const ParamList& p) { MyExec(*c, sql, p); }, "users",
               {"id", "name", "city"}, users);
    MyExec(*c, "ANALYZE TABLE users");
  }
  for (const char* db : {"qg_orders", "qgtest"}) {
    auto c = MysqlConnect(db);
    MyExecAll(*c, {"DROP TABLE IF EXISTS orders",
                   "CREATE TABLE orders (order_id INT PRIMARY KEY, user_id INT NOT NULL, "
                   "amount DECIMAL(12,2) NOT NULL, KEY (user_id))"});
    InsertRows([&](const std::string& sql, const ParamList& p) { MyExec(*c, sql, p); }, "orders",
               {"order_id", "user_id", "amount"}, orders);
    MyExec(*c, "ANALYZE TABLE orders");
  }
  done = true;
}

std::string MysqlSource(const std::string& name, const std::string& db,
                        const std::string& options = R"("pool_max": 8, "acquire_timeout": "2s")") {
  MysqlServer s = RequireMysql();
  return R"({"name": ")" + name + R"(", "provider": "mysql", "connect": ")" + s.ConnectFor(db) +
         R"(", "user": "qg", "password": {"env": "QG_TEST_MYSQL_PASSWORD"}, "options": {)" +
         options + "}}";
}

std::unique_ptr<Engine> MakeEngine(const std::vector<std::string>& sources) {
  return EngineWithSources(sources);
}

std::unique_ptr<Engine> SeedEngine() {
  return MakeEngine({MysqlSource("db_users", "qg_users"), MysqlSource("db_orders", "qg_orders")});
}

// Qg sessions running a statement whose text contains `marker`.
int Running(const std::string& marker) {
  return std::stoi(AdminSql(
      "SELECT COUNT(*) FROM information_schema.PROCESSLIST WHERE USER = 'qg' AND COMMAND IN "
      "('Query', 'Execute') AND INFO LIKE '%" +
      marker + "%'"));
}

TEST_CASE("mysql engine: EXPLAIN ANALYZE estimates of the seed graph are within 2x once calibrated",
          "[mysql][engine][cost]") {
  SeedMysql();
  auto engine = SeedEngine();
  CheckSeedEstimatesConverge(*engine,
                             ReadFile(std::string(QG_SOURCE_DIR) + "/examples/graphs/seed.json"),
                             "mysql EXPLAIN");
}

TEST_CASE("mysql engine: the seed graph on two MariaDB databases equals the native join",
          "[mysql][engine]") {
  SeedMysql();
  auto engine = SeedEngine();
  const std::string graph = ReadFile(std::string(QG_SOURCE_DIR) + "/examples/graphs/seed.json");
  auto native = MysqlConnect("qgtest");
  CheckSeedGraphAgainstNative(
      *engine, graph, TextKey,
      [&](const std::string& city) {
        return MyQuery(*native,
                       "SELECT u.id, u.name, u.city, o.order_id, o.user_id, o.amount FROM "
                       "users u JOIN orders o ON o.user_id = u.id WHERE u.city = :city",
                       {{"city", Value::String(city)}});
      },
      [](const GraphResult&, const NodeResult& orders) {
        CHECK(orders.columns[orders.FindColumn("amount")].type == ValueType::kDecimal);
        CHECK(orders.stats.strategy == "batched");
        CHECK(orders.stats.round_trips < 20);
      });
}

TEST_CASE("mysql engine: forced fetch_once equals the native join on the seed data",
          "[mysql][engine][fetch_once]") {
  SeedMysql();
  auto engine = SeedEngine();
  std::string graph = ReadFile(std::string(QG_SOURCE_DIR) + "/examples/graphs/seed.json");
  const size_t at = graph.find("\"node_id\": \"order_data\",");
  REQUIRE(at != std::string::npos);
  graph.insert(at, "\"strategy\": \"fetch_once\", ");
  auto native = MysqlConnect("qgtest");
  CheckSeedGraphAgainstNative(
      *engine, graph, TextKey,
      [&](const std::string& city) {
        return MyQuery(*native,
                       "SELECT u.id, u.name, u.city, o.order_id, o.user_id, o.amount FROM "
                       "users u JOIN orders o ON o.user_id = u.id WHERE u.city = :city",
                       {{"city", Value::String(city)}});
      },
      [](const GraphResult&, const NodeResult& orders) {
        CHECK(orders.stats.strategy == "fetch_once");
        CHECK(orders.stats.round_trips == 1);
      });
}

#if QG_WITH_POSTGRES
// Runs SQL on a SQLite file; REQUIREs success.
void SqliteExec(sqlite3* db, const std::string& sql) {
  char* err = nullptr;
  int rc = sqlite3_exec(db, sql.c_str(), nullptr, nullptr, &err);
  INFO(sql << ": " << (err != nullptr ? err : ""));
  sqlite3_free(err);
  REQUIRE(rc == SQLITE_OK);
}

std::vector<std::string> SqliteKeys(sqlite3* db, const std::string& sql) {
  sqlite3_stmt* s = nullptr;
  REQUIRE(sqlite3_prepare_v2(db, sql.c_str(), -1, &s, nullptr) == SQLITE_OK);
  std::vector<std::string> out;
  while (sqlite3_step(s) == SQLITE_ROW) {
    std::string k;
    for (int i = 0; i < sqlite3_column_count(s); ++i) {
      const unsigned char* t = sqlite3_column_text(s, i);
      k += (t != nullptr ? reinterpret_cast<const char*>(t) : "") + std::string("|");
    }
    out.push_back(k);
  }
  sqlite3_finalize(s);
  return out;
}

TEST_CASE(
    "mysql engine: a three-source graph (PostgreSQL, MariaDB, SQLite) equals the native "
    "join",
    "[mysql][postgres][engine]") {
  // The same data in each source; the SQLite file also holds copies of the
  // other two tables, for the native three-way join.
  const char* users_gen =
      "WITH RECURSIVE s(g) AS (SELECT 1 UNION ALL SELECT g + 1 FROM s WHERE g < 300) "
      "SELECT g, 'user ' || g, CASE g % 3 WHEN 0 THEN 'Paris' WHEN 1 THEN 'Oslo' ELSE 'Lyon' "
      "END FROM s";
  auto pg = PgConnect("qgtest");
  PgExec(*pg, "DROP TABLE IF EXISTS my3_users");
  PgExec(*pg, "CREATE TABLE my3_users (id int PRIMARY KEY, name text NOT NULL, city text)");
  PgExec(*pg, std::string("INSERT INTO my3_users ") + users_gen);

  auto my = MysqlConnect("qg_orders");
  MyExecAll(*my,
            {"SET SESSION max_recursive_iterations = 1000000", "DROP TABLE IF EXISTS my3_orders",
             "CREATE TABLE my3_orders (order_id INT PRIMARY KEY, user_id INT NOT NULL, "
             "amount DECIMAL(12,2) NOT NULL, KEY (user_id))",
             "INSERT INTO my3_orders WITH RECURSIVE s(o) AS (SELECT 1 UNION ALL SELECT o + "
             "1 FROM s WHERE o < 3000) SELECT o, 1 + (o * 7919) % 350, "
             "CAST(((o * 31) % 100000) / 100 AS DECIMAL(12,2)) FROM s"});

  const std::string file = ServersDir() + "/my3_items.sqlite";
  std::remove(file.c_str());
  sqlite3* db = nullptr;
  REQUIRE(sqlite3_open(file.c_str(), &db) == SQLITE_OK);
  SqliteExec(db,
             "CREATE TABLE order_items (item_id INTEGER PRIMARY KEY, order_id INTEGER, "
             "sku TEXT, qty INTEGER, price DECIMAL(10,2))");
  SqliteExec(db, "CREATE INDEX items_order ON order_items (order_id)");
  SqliteExec(db,
             "INSERT INTO order_items WITH RECURSIVE s(i) AS (SELECT 1 UNION ALL SELECT i + 1 "
             "FROM s WHERE i < 6000) SELECT i, 1 + (i * 104729) % 3200, 'sku-' || (i % 37), "
             "1 + i % 5, printf('%d.%02d', (i * 13) % 500, i % 100) FROM s");
  SqliteExec(db, "CREATE TABLE users (id INTEGER PRIMARY KEY, name TEXT, city TEXT)");
  SqliteExec(db, std::string("INSERT INTO users ") + users_gen);
  SqliteExec(db,
             "CREATE TABLE orders (order_id INTEGER PRIMARY KEY, user_id INTEGER, amount TEXT)");
  SqliteExec(db,
             "INSERT INTO orders WITH RECURSIVE s(o) AS (SELECT 1 UNION ALL SELECT o + 1 FROM s "
             "WHERE o < 3000) SELECT o, 1 + (o * 7919) % 350, printf('%d.%02d', "
             "((o * 31) % 100000) / 100, ((o * 31) % 100000) % 100) FROM s");

  PgServer pgs = RequirePg();
  auto engine = MakeEngine(
      {R"({"name": "db_users", "provider": "postgres", "connect": ")" + pgs.ConnectFor("qgtest") +
           R"(", "user": "qg", "password": {"env": "QG_TEST_PG_PASSWORD"}})",
       MysqlSource("db_orders", "qg_orders"),
       R"({"name": "db_items", "provider": "sqlite", "connect": ")" + file + R"("})"});
  std::string graph =
      ReadFile(std::string(QG_SOURCE_DIR) + "/examples/graphs/three_sources_pg_mysql_sqlite.json");
  for (auto [from, to] : std::vector<std::pair<std::string, std::string>>{
           {"FROM users", "FROM my3_users"}, {"FROM orders", "FROM my3_orders"}}) {
    size_t p = graph.find(from);
    REQUIRE(p != std::string::npos);
    graph.replace(p, from.size(), to);
  }
  auto r = engine->ExecuteJson(graph);
  INFO(r.status().ToString());
  REQUIRE(r.ok());
  const NodeResult* u = r->FindNode("user_data");
  const NodeResult* o = r->FindNode("order_data");
  const NodeResult* it = r->FindNode("item_data");
  REQUIRE((u && o && it));
  auto col = [](const NodeResult* n, const char* name) {
    int c = n->FindColumn(name);
    REQUIRE(c >= 0);
    return c;
  };
  std::vector<std::string> got;
  for (size_t i = 0; i < it->num_rows; ++i) {
    const Value& oid = it->columns[col(it, "order_id")].values[i];
    for (size_t j = 0; j < o->num_rows; ++j) {
      if (!ValueKeyEqual()(o->columns[col(o, "order_id")].values[j], oid)) continue;
      const Value& uid = o->columns[col(o, "user_id")].values[j];
      for (size_t k = 0; k < u->num_rows; ++k) {
        if (!ValueKeyEqual()(u->columns[col(u, "id")].values[k], uid)) continue;
        std::vector<Value> row;
        for (const Column& c : u->columns) row.push_back(c.values[k]);
        for (const Column& c : o->columns) row.push_back(c.values[j]);
        for (const Column& c : it->columns) row.push_back(c.values[i]);
        got.push_back(TextKey(row));
      }
    }
  }
  std::vector<std::string> want = SqliteKeys(
      db,
      "SELECT u.id, u.name, o.order_id, o.user_id, o.amount, i.item_id, i.order_id, i.sku, "
      "i.qty, i.price FROM users u JOIN orders o ON o.user_id = u.id JOIN order_items i ON "
      "i.order_id = o.order_id WHERE u.city = 'Paris'");
  sqlite3_close(db);
  std::sort(got.begin(), got.end());
  std::sort(want.begin(), want.end());
  CHECK(want.size() > 500);
  CHECK(got.size() == want.size());
  CHECK(got == want);
  CHECK(o->columns[col(o, "amount")].type == ValueType::kDecimal);
  CHECK(InUse(*engine) == 0);
  PgExec(*pg, "DROP TABLE my3_users");
  MyExec(*my, "DROP TABLE my3_orders");
}
#endif  // QG_WITH_POSTGRES

TEST_CASE("mysql engine: a KILLed session fails the graph within 2 s", "[mysql][engine]") {
  SeedMysql();
  auto engine = SeedEngine();
  // Two independent nodes on two sources: one gets KILLed, its sibling must
  // be cancelled.
  KilledSessionCase c;
  c.graph = R"({"nodes": [
      {"node_id": "victim", "database_id": "db_users",
       "query_string": "SELECT SLEEP(30) AS x /* qg-victim */",
       "input_parameters": [], "output_fields": ["x"]},
      {"node_id": "sibling", "database_id": "db_orders",
       "query_string": "SELECT SLEEP(30) AS x /* qg-sibling */",
       "input_parameters": [], "output_fields": ["x"]}], "edges": []})";
  c.victim_source = "db_users";
  c.both_running = [] { return Running("qg-victim") == 1 && Running("qg-sibling") == 1; };
  c.kill_victim = [] {
    const std::string victim = AdminSql(
        "SELECT ID FROM information_schema.PROCESSLIST WHERE USER = 'qg' AND INFO LIKE "
        "'%qg-victim%'");
    REQUIRE(!victim.empty());
    AdminSql("KILL " + victim);
  };
  c.sibling_stopped = [] { return Running("qg-sibling") == 0; };
  CheckKilledSessionFailsGraph(*engine, c);
  CHECK(PoolOf(*engine, "db_users").broken >= 1);
  CHECK(PoolOf(*engine, "db_users").idle >= 1);
}

TEST_CASE("mysql engine: server stop and restart without restarting the engine",
          "[mysql][engine]") {
  SeedMysql();
  auto engine = SeedEngine();
  CheckServerStopAndRestart(*engine, OneNodeGraph("db_users", "SELECT COUNT(*) AS x FROM users"),
                            "db_users", StopMariadb, StartMariadb);
}

TEST_CASE("mysql engine: pool exhaustion fails fast with resource exhausted naming the pool",
          "[mysql][engine]") {
  auto engine = MakeEngine(
      {MysqlSource("db_tiny", "qgtest", R"("pool_max": 2, "acquire_timeout": "500ms")")});
  CheckPoolExhaustion(*engine, OneNodeGraph("db_tiny", "SELECT SLEEP(0.4) AS x"), "db_tiny");
}

TEST_CASE("mysql engine: sessions closed by wait_timeout cause no errors", "[mysql][engine]") {
  // New sessions get wait_timeout = 1 s while this test runs.
  const std::string before = AdminSql("SELECT @@GLOBAL.wait_timeout");
  AdminSql("SET GLOBAL wait_timeout = 1");
  struct Restore {
    std::string value;
    ~Restore() {
      try {
        AdminSql("SET GLOBAL wait_timeout = " + value);
      } catch (...) {
      }
    }
  } restore{before};
  auto engine = MakeEngine({MysqlSource("db_idle", "qgtest", R"("pool_max": 4)")});
  const std::string graph = R"({"nodes": [
      {"node_id": "a", "database_id": "db_idle", "query_string": "SELECT 1 AS x",
       "input_parameters": [], "output_fields": ["x"]},
      {"node_id": "b", "database_id": "db_idle", "query_string": "SELECT 2 AS x",
       "input_parameters": [], "output_fields": ["x"]}], "edges": []})";
  CheckIdleSessionsClosed(*engine, graph, [] { return QgMysqlSessions() == 0; });
}

TEST_CASE("mysql engine: 1000 graphs with injected failures leak nothing", "[mysql][engine]") {
  SeedMysql();
  auto engine = SeedEngine();
  InjectedFailureGraphs g;
  g.ok_graph = ReadFile(std::string(QG_SOURCE_DIR) + "/examples/graphs/seed.json");
  g.error_graph = OneNodeGraph("db_users", "SELECT x FROM no_such_table");
  g.slow_graph = OneNodeGraph("db_orders", "SELECT SLEEP(0.5) AS x", R"(, "timeout_ms": 10)");
  g.cancel_graph = OneNodeGraph("db_users", "SELECT SLEEP(0.05) AS x");
  g.seed = 4321;
  RunGraphsWithInjectedFailures(*engine, g);
  // No leaked server sessions: every qg session is an idle pooled connection
  // of this engine, none still running a statement.
  CHECK(PollUntil(
      [&] {
        return AdminSql(
                   "SELECT COUNT(*) FROM information_schema.PROCESSLIST WHERE USER = 'qg' "
                   "AND COMMAND IN ('Query', 'Execute')") == "0";
      },
      2000));
  CHECK(QgMysqlSessions() <= Idle(*engine));
  engine.reset();
  CHECK(PollUntil([&] { return QgMysqlSessions() == 0; }, 2000));
  CHECK(QgMysqlSessions() == 0);
}

}  // namespace
}  // namespace qg::testing
