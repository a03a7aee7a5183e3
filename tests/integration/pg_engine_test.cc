// The engine over real PostgreSQL sources: the seed graph across two
// databases compared row by row with the native join, and the issue's fault
// tests (killed backends, server restarts, pool exhaustion, idle sessions
// closed by the server, many graphs with injected failures).
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

#include "pg_util.h"
#include "qg/engine.h"

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

// Fills users (qg_users), orders (qg_orders) and both (qgtest, for the
// native join) with the same deterministic data. Idempotent.
void SeedData() {
  static bool done = false;
  if (done) return;
  const char* users =
      "DROP TABLE IF EXISTS users; "
      "CREATE TABLE users (id int PRIMARY KEY, name text NOT NULL, city text NOT NULL); "
      "INSERT INTO users SELECT g, 'user ' || g || CASE WHEN g % 97 = 0 THEN ' Zoë''s' ELSE '' "
      "END, (ARRAY['Paris','Berlin','Lyon','Tokyo','Oslo'])[1 + g % 5] FROM "
      "generate_series(1, 2000) g; ANALYZE users";
  const char* orders =
      "DROP TABLE IF EXISTS orders; "
      "CREATE TABLE orders (order_id int PRIMARY KEY, user_id int NOT NULL, "
      "amount numeric(12,2) NOT NULL); "
      "INSERT INTO orders SELECT o, 1 + (o * 7919) % 2500, round((o % 1000) / 7.0 + 1, 2) FROM "
      "generate_series(1, 20000) o; CREATE INDEX orders_user ON orders (user_id); ANALYZE orders";
  for (const auto& [db, sql] : std::vector<std::pair<std::string, std::string>>{
           {"qg_users", users}, {"qg_orders", orders}, {"qgtest", users}, {"qgtest", orders}}) {
    auto c = PgConnect(db);
    // One statement at a time: prepared statements hold a single command.
    size_t start = 0;
    while (start < sql.size()) {
      size_t end = sql.find("; ", start);
      if (end == std::string::npos) end = sql.size();
      PgExec(*c, sql.substr(start, end - start));
      start = end + 2;
    }
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
  auto e = Engine::Create();
  REQUIRE(e.ok());
  absl::Status s = (*e)->LoadCatalogJson(CatalogJson(extra_sources));
  INFO(s.ToString());
  REQUIRE(s.ok());
  return std::move(*e);
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

std::string Key(const std::vector<Value>& row) {
  std::string k;
  for (const Value& v : row) k += v.DebugString() + "|";
  return k;
}

TEST_CASE("pg engine: the seed graph across two databases equals the native join",
          "[postgres][engine]") {
  SeedData();
  auto engine = MakeEngine();
  const std::string graph = ReadFile(std::string(QG_SOURCE_DIR) + "/examples/graphs/seed_pg.json");
  auto native = PgConnect("qgtest");
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
    // Join the node results along the edge.
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
    auto want_rows = PgQuery(*native,
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
      // Batched: = ANY($1) with one array argument, few round trips.
      CHECK(orders->stats.strategy == "batched");
      CHECK(orders->stats.round_trips < 20);
      bool any = false;
      for (const NodePlan& np : r->plan.nodes) {
        if (np.node_id == "order_data") any = np.statement.find("ANY($") != std::string::npos;
      }
      CHECK(any);
    }
  }
  CHECK(InUse(*engine) == 0);
}

TEST_CASE("pg engine: a backend killed mid-query fails the graph within 2 s",
          "[postgres][engine]") {
  SeedData();
  auto engine = MakeEngine();
  // Two independent nodes on two sources: one gets killed, the other (its
  // sibling) must be cancelled.
  const std::string graph = R"({"nodes": [
      {"node_id": "victim", "database_id": "db_users",
       "query_string": "SELECT 1 AS x FROM pg_sleep(30) /* qg-victim */",
       "input_parameters": [], "output_fields": ["x"]},
      {"node_id": "sibling", "database_id": "db_pg_orders",
       "query_string": "SELECT 1 AS x FROM pg_sleep(30) /* qg-sibling */",
       "input_parameters": [], "output_fields": ["x"]}], "edges": []})";
  absl::StatusOr<GraphResult> result = absl::UnknownError("not run");
  std::atomic<bool> done{false};
  std::thread runner([&] {
    result = engine->ExecuteJson(graph);
    done = true;
  });
  auto active = [](const std::string& marker) {
    return SuperSql(
        "SELECT count(*) FROM pg_stat_activity WHERE state = 'active' AND query "
        "LIKE '%" +
        marker + "%' AND pid <> pg_backend_pid()");
  };
  REQUIRE(
      WaitFor([&] { return active("qg-victim") == "1" && active("qg-sibling") == "1"; }, 10000));
  auto t0 = steady_clock::now();
  SuperSql(
      "SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE query LIKE "
      "'%qg-victim%' AND pid <> pg_backend_pid()");
  CHECK(WaitFor([&] { return done.load(); }, 2000));
  runner.join();
  CHECK(Since(t0) < 2.0);
  REQUIRE_FALSE(result.ok());
  CHECK(result.status().code() == absl::StatusCode::kUnavailable);
  const std::string msg(result.status().message());
  INFO(msg);
  CHECK(msg.find("victim") != std::string::npos);
  CHECK(msg.find("db_users") != std::string::npos);
  // The sibling's query is stopped server-side too.
  CHECK(WaitFor([&] { return active("qg-sibling") == "0"; }, 1000));
  CHECK(InUse(*engine) == 0);
  // The next graph succeeds.
  auto next = engine->ExecuteJson(OneNodeGraph("db_users", "SELECT 1 AS x"));
  INFO(next.status().ToString());
  CHECK(next.ok());
  CHECK(InUse(*engine) == 0);
}

TEST_CASE("pg engine: server stop and restart without restarting the engine",
          "[postgres][engine]") {
  SeedData();
  auto engine = MakeEngine();
  const std::string graph = OneNodeGraph("db_users", "SELECT count(*) AS x FROM users");
  REQUIRE(engine->ExecuteJson(graph).ok());
  StopPostgres();
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
  StartPostgres();
  auto back = steady_clock::now();
  bool ok = WaitFor([&] { return engine->ExecuteJson(graph).ok(); }, 2000);
  CHECK(ok);
  CHECK(Since(back) < 2.0);
  CHECK(InUse(*engine) == 0);
}

TEST_CASE("pg engine: pool exhaustion fails fast with resource exhausted naming the pool",
          "[postgres][engine]") {
  SeedData();
  auto engine =
      MakeEngine(PgSource("db_tiny", "qgtest", R"("pool_max": 2, "acquire_timeout": "500ms")"));
  const std::string graph = OneNodeGraph("db_tiny", "SELECT 1 AS x FROM pg_sleep(0.4)");
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
  for (const auto& [key, st] : engine->PoolStatistics()) {
    if (key.rfind("db_tiny", 0) == 0) {
      CHECK(st.max == 2);
      CHECK(st.timeouts >= 1);
    }
  }
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
  for (int round = 0; round < 4; ++round) {
    auto r = engine->ExecuteJson(graph);
    INFO("round " << round << ": " << r.status().ToString());
    CHECK(r.ok());
    // Let the server close the pooled sessions.
    REQUIRE(WaitFor(
        [&] {
          return SuperSql("SELECT count(*) FROM pg_stat_activity WHERE datname = 'qg_idle'") == "0";
        },
        5000));
  }
  CHECK(InUse(*engine) == 0);
}

TEST_CASE("pg engine: 1000 graphs with injected failures leak nothing", "[postgres][engine]") {
  SeedData();
  auto engine = MakeEngine();
  const std::string ok_graph =
      ReadFile(std::string(QG_SOURCE_DIR) + "/examples/graphs/seed_pg.json");
  const std::string error_graph =
      OneNodeGraph("db_users", "SELECT 1 / (count(*) - count(*)) AS x FROM users");
  const std::string slow_graph =
      OneNodeGraph("db_pg_orders", "SELECT 1 AS x FROM pg_sleep(1)", R"(, "timeout_ms": 20)");
  const std::string cancel_graph = OneNodeGraph("db_users", "SELECT 1 AS x FROM pg_sleep(0.05)");
  std::atomic<int> n_ok{0}, n_fail{0};
  std::atomic<int> bad{0};
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
  for (int t = 0; t < 4; ++t) threads.emplace_back(worker, 1234 + t);
  for (auto& t : threads) t.join();
  CHECK(n_ok + n_fail == 1000);
  CHECK(n_fail > 100);
  for (const auto& [what, count] : notes) UNSCOPED_INFO(count << " x " << what);
  CHECK(bad == 0);
  CHECK(InUse(*engine) == 0);
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
