// The engine over real MariaDB sources: the seed graph with users and orders
// in two MariaDB databases compared row by row with the native join, a
// three-source graph (PostgreSQL + MariaDB + SQLite), and the issue's fault
// tests (KILLed sessions, server restarts, pool exhaustion, wait_timeout,
// many graphs with injected failures).
#include <sqlite3.h>

#include <algorithm>
#include <atomic>
#include <catch2/catch.hpp>
#include <chrono>
#include <fstream>
#include <map>
#include <mutex>
#include <random>
#include <sstream>
#include <string>
#include <thread>
#include <vector>

#include "mysql_util.h"
#include "qg/engine.h"
#if QG_WITH_POSTGRES
#include "pg_util.h"
#endif

namespace qg::testing {
namespace {

using std::chrono::steady_clock;

double Since(steady_clock::time_point t0) {
  return std::chrono::duration<double>(steady_clock::now() - t0).count();
}

std::string ReadFile(const std::string& path) {
  std::ifstream in(path);
  REQUIRE(in.good());
  std::stringstream ss;
  ss << in.rdbuf();
  return ss.str();
}

void MyExecAll(Connection& c, const std::vector<std::string>& sql) {
  for (const std::string& s : sql) MyExec(c, s);
}

// users (qg_users), orders (qg_orders) and both (qgtest, for the native
// join), with the same deterministic data.
void SeedMysql() {
  static bool done = false;
  if (done) return;
  const std::vector<std::string> users = {
      "SET SESSION max_recursive_iterations = 1000000", "DROP TABLE IF EXISTS users",
      "CREATE TABLE users (id INT PRIMARY KEY, name VARCHAR(100) NOT NULL, "
      "city VARCHAR(20) NOT NULL, KEY (city)) CHARACTER SET utf8mb4",
      "INSERT INTO users WITH RECURSIVE s(g) AS (SELECT 1 UNION ALL SELECT g + 1 FROM s WHERE g "
      "< 2000) SELECT g, CONCAT('user ', g, IF(g % 97 = 0, ' Zoë''s 🚀', '')), "
      "ELT(1 + g % 5, 'Paris', 'Berlin', 'Lyon', 'Tokyo', 'Oslo') FROM s",
      "ANALYZE TABLE users"};
  const std::vector<std::string> orders = {
      "SET SESSION max_recursive_iterations = 1000000", "DROP TABLE IF EXISTS orders",
      "CREATE TABLE orders (order_id INT PRIMARY KEY, user_id INT NOT NULL, "
      "amount DECIMAL(12,2) NOT NULL, KEY (user_id))",
      "INSERT INTO orders WITH RECURSIVE s(o) AS (SELECT 1 UNION ALL SELECT o + 1 FROM s WHERE o "
      "< 20000) SELECT o, 1 + (o * 7919) % 2500, ROUND((o % 1000) / 7.0 + 1, 2) FROM s",
      "ANALYZE TABLE orders"};
  for (const auto& [db, sql] : std::vector<std::pair<std::string, std::vector<std::string>>>{
           {"qg_users", users}, {"qg_orders", orders}, {"qgtest", users}, {"qgtest", orders}}) {
    auto c = MysqlConnect(db);
    MyExecAll(*c, sql);
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
  auto e = Engine::Create();
  REQUIRE(e.ok());
  std::string json = R"({"sources": [)";
  for (size_t i = 0; i < sources.size(); ++i) json += (i ? "," : "") + sources[i];
  json += "]}";
  absl::Status s = (*e)->LoadCatalogJson(json);
  INFO(s.ToString());
  REQUIRE(s.ok());
  return std::move(*e);
}

std::unique_ptr<Engine> SeedEngine() {
  return MakeEngine({MysqlSource("db_users", "qg_users"), MysqlSource("db_orders", "qg_orders")});
}

PoolStats PoolOf(const Engine& e, const std::string& source) {
  for (const auto& [key, st] : e.PoolStatistics()) {
    if (key.rfind(source + "/", 0) == 0 || key == source) return st;
  }
  return {};
}

int InUse(const Engine& e) {
  int n = 0;
  for (const auto& [key, st] : e.PoolStatistics()) n += st.in_use;
  return n;
}
int Idle(const Engine& e) {
  int n = 0;
  for (const auto& [key, st] : e.PoolStatistics()) n += st.idle;
  return n;
}

std::string OneNodeGraph(const std::string& source, const std::string& sql,
                         const std::string& extra = "") {
  return R"({"nodes": [{"node_id": "n", "database_id": ")" + source + R"(", "query_string": ")" +
         sql + R"(", "input_parameters": [], "output_fields": ["x"]}], "edges": [])" + extra + "}";
}

// A row as comparable text (sources differ in how they type the same value).
std::string Key(const std::vector<Value>& row) {
  std::string k;
  for (const Value& v : row) k += v.ToText() + "|";
  return k;
}

// Qg sessions running a statement whose text contains `marker`.
int Running(const std::string& marker) {
  return std::stoi(AdminSql(
      "SELECT COUNT(*) FROM information_schema.PROCESSLIST WHERE USER = 'qg' AND COMMAND IN "
      "('Query', 'Execute') AND INFO LIKE '%" +
      marker + "%'"));
}

TEST_CASE("mysql engine: the seed graph on two MariaDB databases equals the native join",
          "[mysql][engine]") {
  SeedMysql();
  auto engine = SeedEngine();
  const std::string graph = ReadFile(std::string(QG_SOURCE_DIR) + "/examples/graphs/seed.json");
  auto native = MysqlConnect("qgtest");
  for (const char* city : {"Paris", "Tokyo", "Nowhere"}) {
    ExecuteOptions opts;
    opts.params = {{"city", Value::String(city)}};
    auto r = engine->ExecuteJson(graph, opts);
    INFO(city << ": " << r.status().ToString());
    REQUIRE(r.ok());
    const NodeResult* users = r->FindNode("user_data");
    const NodeResult* orders = r->FindNode("order_data");
    REQUIRE(users != nullptr);
    REQUIRE(orders != nullptr);
    std::vector<std::string> got;
    const int uid = users->FindColumn("id");
    const int ouid = orders->FindColumn("user_id");
    REQUIRE(uid >= 0);
    REQUIRE(ouid >= 0);
    for (size_t o = 0; o < orders->num_rows; ++o) {
      const Value& key = orders->columns[ouid].values[o];
      int matches = 0;
      for (size_t u = 0; u < users->num_rows; ++u) {
        if (!ValueKeyEqual()(users->columns[uid].values[u], key)) continue;
        std::vector<Value> row;
        for (const Column& c : users->columns) row.push_back(c.values[u]);
        for (const Column& c : orders->columns) row.push_back(c.values[o]);
        got.push_back(Key(row));
        ++matches;
      }
      CHECK(matches == 1);
    }
    auto want_rows = MyQuery(*native,
                             "SELECT u.id, u.name, u.city, o.order_id, o.user_id, o.amount FROM "
                             "users u JOIN orders o ON o.user_id = u.id WHERE u.city = :city",
                             {{"city", Value::String(city)}});
    REQUIRE(want_rows.ok());
    std::vector<std::string> want;
    for (const auto& row : want_rows->rows) want.push_back(Key(row));
    std::sort(got.begin(), got.end());
    std::sort(want.begin(), want.end());
    CHECK(got.size() == want.size());
    CHECK(got == want);
    if (std::string(city) == "Nowhere") {
      CHECK(orders->status == NodeStatus::kSkipped);
    } else {
      CHECK(want.size() > 1000);
      CHECK(orders->columns[orders->FindColumn("amount")].type == ValueType::kDecimal);
      CHECK(orders->stats.strategy == "batched");
      CHECK(orders->stats.round_trips < 20);
    }
  }
  CHECK(InUse(*engine) == 0);
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
        got.push_back(Key(row));
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
  const std::string graph = R"({"nodes": [
      {"node_id": "victim", "database_id": "db_users",
       "query_string": "SELECT SLEEP(30) AS x /* qg-victim */",
       "input_parameters": [], "output_fields": ["x"]},
      {"node_id": "sibling", "database_id": "db_orders",
       "query_string": "SELECT SLEEP(30) AS x /* qg-sibling */",
       "input_parameters": [], "output_fields": ["x"]}], "edges": []})";
  absl::StatusOr<GraphResult> result = absl::UnknownError("not run");
  std::atomic<bool> done{false};
  ExecuteOptions opts;
  opts.cancel = std::make_shared<CancelToken>();
  std::thread runner([&] {
    result = engine->ExecuteJson(graph, opts);
    done = true;
  });
  struct StopRunner {  // a failed REQUIRE must not leave the graph running
    std::thread& t;
    CancelToken& token;
    ~StopRunner() {
      if (t.joinable()) {
        token.Cancel();
        t.join();
      }
    }
  } stop{runner, *opts.cancel};
  REQUIRE(
      PollUntil([&] { return Running("qg-victim") == 1 && Running("qg-sibling") == 1; }, 10000));
  auto t0 = steady_clock::now();
  const std::string victim = AdminSql(
      "SELECT ID FROM information_schema.PROCESSLIST WHERE USER = 'qg' AND INFO LIKE "
      "'%qg-victim%'");
  REQUIRE(!victim.empty());
  AdminSql("KILL " + victim);
  CHECK(PollUntil([&] { return done.load(); }, 2000));
  runner.join();
  CHECK(Since(t0) < 2.0);
  REQUIRE_FALSE(result.ok());
  CHECK(result.status().code() == absl::StatusCode::kUnavailable);
  const std::string msg(result.status().message());
  INFO(msg);
  CHECK(msg.find("victim") != std::string::npos);
  CHECK(msg.find("db_users") != std::string::npos);
  CHECK(PollUntil([&] { return Running("qg-sibling") == 0; }, 1000));
  CHECK(InUse(*engine) == 0);
  CHECK(PoolOf(*engine, "db_users").broken >= 1);
  auto next = engine->ExecuteJson(OneNodeGraph("db_users", "SELECT 1 AS x"));
  INFO(next.status().ToString());
  CHECK(next.ok());
  CHECK(InUse(*engine) == 0);
  CHECK(PoolOf(*engine, "db_users").idle >= 1);
}

TEST_CASE("mysql engine: server stop and restart without restarting the engine",
          "[mysql][engine]") {
  SeedMysql();
  auto engine = SeedEngine();
  const std::string graph = OneNodeGraph("db_users", "SELECT COUNT(*) AS x FROM users");
  REQUIRE(engine->ExecuteJson(graph).ok());
  StopMariadb();
  for (int i = 0; i < 3; ++i) {
    auto t0 = steady_clock::now();
    auto down = engine->ExecuteJson(graph);
    REQUIRE_FALSE(down.ok());
    INFO(down.status().ToString());
    CHECK(down.status().code() == absl::StatusCode::kUnavailable);
    CHECK(std::string(down.status().message()).find("db_users") != std::string::npos);
    CHECK(Since(t0) < 10.0);
  }
  CHECK(InUse(*engine) == 0);
  StartMariadb();
  auto back = steady_clock::now();
  bool ok = PollUntil([&] { return engine->ExecuteJson(graph).ok(); }, 2000);
  CHECK(ok);
  CHECK(Since(back) < 2.0);
  CHECK(InUse(*engine) == 0);
}

TEST_CASE("mysql engine: pool exhaustion fails fast with resource exhausted naming the pool",
          "[mysql][engine]") {
  auto engine = MakeEngine(
      {MysqlSource("db_tiny", "qgtest", R"("pool_max": 2, "acquire_timeout": "500ms")")});
  const std::string graph = OneNodeGraph("db_tiny", "SELECT SLEEP(0.4) AS x");
  constexpr int kThreads = 8;
  std::vector<absl::Status> results(kThreads);
  std::vector<std::thread> threads;
  for (int i = 0; i < kThreads; ++i) {
    threads.emplace_back([&, i] { results[i] = engine->ExecuteJson(graph).status(); });
  }
  for (auto& t : threads) t.join();
  int ok = 0, exhausted = 0;
  for (const absl::Status& s : results) {
    INFO(s.ToString());
    if (s.ok()) {
      ++ok;
      continue;
    }
    CHECK(s.code() == absl::StatusCode::kResourceExhausted);
    CHECK(std::string(s.message()).find("db_tiny") != std::string::npos);
    ++exhausted;
  }
  CHECK(ok >= 2);
  CHECK(exhausted >= 1);
  CHECK(ok + exhausted == kThreads);
  CHECK(InUse(*engine) == 0);
  PoolStats st = PoolOf(*engine, "db_tiny");
  CHECK(st.max == 2);
  CHECK(st.timeouts >= 1);
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
  for (int round = 0; round < 4; ++round) {
    auto r = engine->ExecuteJson(graph);
    INFO("round " << round << ": " << r.status().ToString());
    CHECK(r.ok());
    // Let the server close the pooled sessions.
    REQUIRE(PollUntil([&] { return QgMysqlSessions() == 0; }, 5000));
  }
  CHECK(InUse(*engine) == 0);
}

TEST_CASE("mysql engine: 1000 graphs with injected failures leak nothing", "[mysql][engine]") {
  SeedMysql();
  auto engine = SeedEngine();
  const std::string ok_graph = ReadFile(std::string(QG_SOURCE_DIR) + "/examples/graphs/seed.json");
  const std::string error_graph = OneNodeGraph("db_users", "SELECT x FROM no_such_table");
  const std::string slow_graph =
      OneNodeGraph("db_orders", "SELECT SLEEP(0.5) AS x", R"(, "timeout_ms": 10)");
  const std::string cancel_graph = OneNodeGraph("db_users", "SELECT SLEEP(0.05) AS x");
  std::atomic<int> n_ok{0}, n_fail{0}, bad{0};
  std::mutex notes_mu;
  std::map<std::string, int> notes;  // unexpected outcomes (Catch2 is not thread-safe)
  auto Note = [&](std::string what) {
    std::lock_guard<std::mutex> l(notes_mu);
    ++notes[what.substr(0, 200)];
  };
  auto worker = [&](int seed) {
    std::mt19937 rng(seed);
    for (int i = 0; i < 250; ++i) {
      int kind = static_cast<int>(rng() % 10);
      ExecuteOptions opts;
      opts.params = {{"city", Value::String(kind % 2 ? "Oslo" : "Lyon")}};
      absl::StatusOr<GraphResult> r = absl::UnknownError("");
      if (kind <= 4) {
        r = engine->ExecuteJson(ok_graph, opts);
        if (!r.ok()) {
          ++bad;
          Note("ok graph failed: " + r.status().ToString());
        }
      } else if (kind <= 6) {
        r = engine->ExecuteJson(error_graph, opts);
        if (r.ok() || r.status().code() != absl::StatusCode::kInvalidArgument) {
          ++bad;
          Note("error graph: " + r.status().ToString());
        }
      } else if (kind == 7) {
        r = engine->ExecuteJson(slow_graph, opts);
        if (r.ok() || r.status().code() != absl::StatusCode::kDeadlineExceeded) {
          ++bad;
          Note("slow graph: " + r.status().ToString());
        }
      } else {
        opts.cancel = std::make_shared<CancelToken>();
        auto token = opts.cancel;
        std::thread canceller([token, delay = rng() % 20] {
          std::this_thread::sleep_for(std::chrono::milliseconds(delay));
          token->Cancel();
        });
        r = engine->ExecuteJson(cancel_graph, opts);
        canceller.join();
        if (!r.ok() && r.status().code() != absl::StatusCode::kCancelled) {
          ++bad;
          Note("cancelled graph: " + r.status().ToString());
        }
      }
      (r.ok() ? n_ok : n_fail)++;
    }
  };
  std::vector<std::thread> threads;
  for (int t = 0; t < 4; ++t) threads.emplace_back(worker, 4321 + t);
  for (auto& t : threads) t.join();
  CHECK(n_ok + n_fail == 1000);
  CHECK(n_fail > 100);
  for (const auto& [what, count] : notes) UNSCOPED_INFO(count << " x " << what);
  CHECK(bad == 0);
  CHECK(InUse(*engine) == 0);
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
