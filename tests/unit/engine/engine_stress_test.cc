// 64 threads sharing one engine: dependent joins on the fake provider and on
// SQLite files, graphs cancelled from another thread, graph and node
// timeouts, failing nodes, and catalog changes (sources created, used and
// dropped by statements) all at once. Every result is checked — the right
// rows, or a clean kCancelled / kDeadlineExceeded / the node's own error —
// and every pool is whole at the end. Runs in the normal build and, with
// make test-tsan, under ThreadSanitizer (which must report nothing).
#include <atomic>
#include <catch2/catch.hpp>
#include <chrono>
#include <map>
#include <mutex>
#include <string>
#include <thread>
#include <vector>

#include "engine_test_util.h"
#include "qg/engine.h"

namespace qg::enginetest {
namespace {

constexpr int kThreads = 64;
constexpr int kRoundsPerThread = 12;

// The users/orders join on the fake provider: rows each user id links to.
std::string FakeJoinGraph(bool batched) {
  return std::string(R"({"nodes": [
    {"node_id": "u", "database_id": "db", "query_string": "table users",
     "input_parameters": [], "output_fields": ["id", "name"]},
    {"node_id": "o", "database_id": "db2",
     "query_string": "table orders where user_id = :uid",
     "input_parameters": ["uid"], "output_fields": ["order_id", "user_id"])") +
         (batched ? R"(, "strategy": "batched", "batch_size": 2)"
                  : R"(, "strategy": "per_binding")") +
         R"(}],
    "edges": [{"source_node": "u", "target_node": "o",
               "input_mapping": {"u.id": "o.uid"}}]})";
}

std::string SqliteJoinGraph() {
  return R"({"nodes": [
    {"node_id": "u", "database_id": "lite_users",
     "query_string": "SELECT id, name FROM users WHERE city = :city",
     "input_parameters": ["city"], "output_fields": ["id", "name"]},
    {"node_id": "o", "database_id": "lite_orders",
     "query_string": "SELECT order_id, user_id, amount FROM orders WHERE user_id = :uid",
     "input_parameters": ["uid"], "output_fields": ["order_id", "user_id", "amount"]}],
    "edges": [{"source_node": "u", "target_node": "o",
               "input_mapping": {"u.id": "o.uid"}}]})";
}

std::string SlowGraph(const std::string& extra_graph, const std::string& extra_node = "") {
  return R"({"nodes": [
    {"node_id": "slow", "database_id": "db", "query_string": "@sleep=60000 range 1",
     "input_parameters": [], "output_fields": ["i"])" +
         extra_node + R"(},
    {"node_id": "fast", "database_id": "db2", "query_string": "range 3",
     "input_parameters": [], "output_fields": ["i"]}])" +
         extra_graph + "}";
}

// Outcomes seen, by kind, for the final report and checks.
struct Tally {
  std::mutex mu;
  std::map<std::string, int> counts;
  std::vector<std::string> wrong;  // every unexpected outcome, described
  void Count(const std::string& kind) {
    std::lock_guard<std::mutex> l(mu);
    ++counts[kind];
  }
  void Wrong(const std::string& what) {
    std::lock_guard<std::mutex> l(mu);
    wrong.push_back(what);
  }
};

TEST_CASE("64 threads share one engine: joins, cancels, timeouts, catalog changes",
          "[engine][stress]") {
  TempDir dir;
  const std::string users = dir.File("users.sqlite");
  const std::string orders = dir.File("orders.sqlite");
  SqlExec(users,
          "CREATE TABLE users (id INTEGER PRIMARY KEY, name TEXT, city TEXT);"
          "INSERT INTO users VALUES (1, 'ann', 'Paris'), (2, 'bob', 'Lyon'), (3, 'cy', 'Paris');");
  SqlExec(orders,
          "CREATE TABLE orders (order_id INTEGER PRIMARY KEY, user_id INTEGER, amount INTEGER);"
          "INSERT INTO orders VALUES (10, 1, 5), (11, 1, 6), (12, 2, 7), (13, 3, 8);");

  EngineOptions options;
  options.workers = 8;
  FakeEnv env = MakeFakeEngine(/*pool_max=*/6, options);
  env.fake->AddTable("users", {"id", "name"},
                     {{Value::Int(1), Value::String("ann")},
                      {Value::Int(2), Value::String("bob")},
                      {Value::Null(), Value::String("nobody")},
                      {Value::Int(3), Value::String("cy")}});
  env.fake->AddTable("orders", {"order_id", "user_id"},
                     {{Value::Int(10), Value::Int(1)},
                      {Value::Int(11), Value::Int(1)},
                      {Value::Int(12), Value::Int(2)},
                      {Value::Int(13), Value::Int(4)}});
  REQUIRE(env.engine
              ->LoadCatalogJson(R"({"sources": [
                  {"name": "lite_users", "provider": "sqlite", "connect": ")" +
                                users + R"(", "options": {"pool_max": 4}},
                  {"name": "lite_orders", "provider": "sqlite", "connect": ")" +
                                orders + R"(", "options": {"pool_max": 4}}]})")
              .ok());
  Engine& engine = *env.engine;

  const std::vector<std::string> fake_orders = {"10|1", "11|1", "12|2"};
  const std::vector<std::string> paris_orders = {"10|1|5", "11|1|6", "13|3|8"};
  Tally tally;
  std::atomic<int> done{0};

  auto worker = [&](int t) {
    for (int round = 0; round < kRoundsPerThread; ++round) {
      const int kind = (t + round) % 7;
      const std::string where = "thread " + std::to_string(t) + " round " + std::to_string(round);
      switch (kind) {
        case 0:
        case 1: {  // dependent join on the fake provider, batched or per binding
          auto r = engine.ExecuteJson(FakeJoinGraph(kind == 0));
          if (!r.ok()) {
            tally.Wrong(where + " fake join: " + r.status().ToString());
          } else if (RowSet(*r->FindNode("o")) != fake_orders) {
            tally.Wrong(where + " fake join: wrong rows");
          } else {
            tally.Count("fake join");
          }
          break;
        }
        case 2: {  // dependent join on two SQLite files
          ExecuteOptions opts;
          opts.params = {{"city", Value::String("Paris")}};
          auto r = engine.ExecuteJson(SqliteJoinGraph(), opts);
          if (!r.ok()) {
            tally.Wrong(where + " sqlite join: " + r.status().ToString());
          } else if (RowSet(*r->FindNode("o")) != paris_orders ||
                     RowSet(*r->FindNode("u")) != std::vector<std::string>{"1|ann", "3|cy"}) {
            tally.Wrong(where + " sqlite join: wrong rows");
          } else {
            tally.Count("sqlite join");
          }
          break;
        }
        case 3: {  // cancelled from another thread after a short while
          ExecuteOptions opts;
          opts.cancel = std::make_shared<CancelToken>();
          std::thread canceller([token = opts.cancel, t] {
            std::this_thread::sleep_for(std::chrono::milliseconds(1 + t % 20));
            token->Cancel();
          });
          auto r = engine.ExecuteJson(SlowGraph(""), opts);
          canceller.join();
          if (r.ok() || r.status().code() != absl::StatusCode::kCancelled) {
            tally.Wrong(where + " cancel: " + r.status().ToString());
          } else {
            tally.Count("cancelled");
          }
          break;
        }
        case 4: {  // graph timeout, or a node timeout naming the node
          const bool node_timeout = (t & 1) != 0;
          auto r = engine.ExecuteJson(node_timeout ? SlowGraph("", R"(, "timeout_ms": 15)")
                                                   : SlowGraph(R"(, "timeout_ms": 15)"));
          const std::string message = r.ok() ? "" : std::string(r.status().message());
          if (r.ok() || r.status().code() != absl::StatusCode::kDeadlineExceeded ||
              (node_timeout && message != "node \"slow\" (source \"db\"): timed out after 15 ms")) {
            tally.Wrong(where + " timeout: " + r.status().ToString());
          } else {
            tally.Count("timed out");
          }
          break;
        }
        case 5: {  // a failing node: its own error, siblings cancelled
          auto r = engine.ExecuteJson(R"({"nodes": [
            {"node_id": "bad", "database_id": "db2", "query_string": "@fail=unavailable range 1",
             "input_parameters": [], "output_fields": ["i"]},
            {"node_id": "slow", "database_id": "db", "query_string": "@sleep=60000 range 1",
             "input_parameters": [], "output_fields": ["i"]}]})");
          if (r.ok() || r.status().code() != absl::StatusCode::kUnavailable ||
              std::string(r.status().message()).find("fake failure") == std::string::npos) {
            tally.Wrong(where + " failure: " + r.status().ToString());
          } else {
            tally.Count("failed");
          }
          break;
        }
        case 6: {  // catalog change: a source of its own, used, then dropped
          const std::string name = "s_" + std::to_string(t) + "_" + std::to_string(round);
          auto created = engine.ExecuteStatements("CREATE EXTERNAL DATA SOURCE " + name +
                                                  " PROVIDER sqlite CONNECT '" + users + "'");
          auto r = engine.ExecuteStatements(
              "EXECUTE STATEMENT 'SELECT count(*) AS n FROM users' "
              "ON EXTERNAL DATA SOURCE " +
              name);
          auto dropped = engine.ExecuteStatements("DROP EXTERNAL DATA SOURCE " + name);
          if (!created.ok() || !dropped.ok() || !r.ok()) {
            tally.Wrong(where + " catalog: " + created.status().ToString() + " / " +
                        r.status().ToString() + " / " + dropped.status().ToString());
          } else if (RowSet(r->nodes[0]) != std::vector<std::string>{"3"}) {
            tally.Wrong(where + " catalog: wrong count");
          } else {
            tally.Count("catalog change");
          }
          break;
        }
      }
    }
    done.fetch_add(1);
  };

  std::vector<std::thread> threads;
  threads.reserve(kThreads);
  for (int t = 0; t < kThreads; ++t) threads.emplace_back(worker, t);
  for (std::thread& th : threads) th.join();

  REQUIRE(done.load() == kThreads);
  for (const std::string& w : tally.wrong) UNSCOPED_INFO(w);
  CHECK(tally.wrong.empty());
  int total = 0;
  for (const auto& [kind, n] : tally.counts) {
    UNSCOPED_INFO(kind << ": " << n);
    total += n;
  }
  CHECK(total == kThreads * kRoundsPerThread);
  for (const char* kind :
       {"fake join", "sqlite join", "cancelled", "timed out", "failed", "catalog change"}) {
    CHECK(tally.counts[kind] > 0);
  }
  // Pools whole: nothing in use, no pool above its maximum.
  CHECK(TotalInUse(engine) == 0);
  for (const auto& [key, stats] : engine.PoolStatistics()) {
    INFO(key);
    CHECK(stats.in_use == 0);
  }
  CHECK(engine.catalog().sources().size() == 4);
}

}  // namespace
}  // namespace qg::enginetest
