// Fault injection over every SQLite driver call (tests/support/fault_sweep.h):
// the seed graph (users -> orders dependent lookup, batched and per binding)
// and a "common" write transaction over two SQLite files, with the N-th call
// (connect, execute, fetch, begin, commit) failing once or for good, for
// N = 1, 2, ... until the graph completes. Also runs in the ASan/LSan build
// (make test), which reports any leak a faulted path leaves.
#include <catch2/catch.hpp>
#include <string>
#include <vector>

#include "engine_test_util.h"
#include "providers/sqlite/sqlite_provider.h"
#include "qg/engine.h"
#include "support/fault_provider.h"
#include "support/fault_sweep.h"

namespace qg::enginetest {
namespace {

using qg::testing::FaultPlan;
using qg::testing::FaultProvider;
using qg::testing::FaultSweepCase;
using qg::testing::RunFaultSweep;

// An engine whose only provider is SQLite wrapped by `plan`, with `sources`.
std::unique_ptr<Engine> FaultEngine(const std::shared_ptr<FaultPlan>& plan,
                                    const std::string& sources) {
  EngineOptions o;
  o.register_builtin_providers = false;
  auto engine = Engine::Create(o);
  REQUIRE(engine.ok());
  REQUIRE(
      (*engine)->RegisterProvider(std::make_shared<FaultProvider>(NewSqliteProvider(), plan)).ok());
  absl::Status st = (*engine)->LoadCatalogJson(R"({"sources": [)" + sources + "]}");
  INFO(st.ToString());
  REQUIRE(st.ok());
  return std::move(*engine);
}

std::string LiteSource(const std::string& name, const std::string& file) {
  return R"({"name": ")" + name + R"(", "provider": "sqlite", "connect": ")" + file +
         R"(", "options": {"pool_max": 4, "acquire_timeout": "5s"}})";
}

// The seed graph's shape; `strategy` for order_data ("" = the planner's).
std::string SeedGraph(const std::string& strategy) {
  const std::string ext = strategy.empty() ? "" : R"(, "strategy": ")" + strategy + "\"";
  return R"({"params": {"city": "Paris"}, "nodes": [
    {"node_id": "user_data", "database_id": "db_users",
     "query_string": "SELECT id, name, city FROM users WHERE city = :city",
     "input_parameters": ["city"], "output_fields": ["id", "name", "city"]},
    {"node_id": "order_data", "database_id": "db_orders",
     "query_string": "SELECT order_id, user_id, amount FROM orders WHERE user_id = :user_id",
     "input_parameters": ["user_id"], "output_fields": ["order_id", "user_id", "amount"])" +
         ext + R"(}],
  "edges": [{"source_node": "user_data", "target_node": "order_data",
             "input_mapping": {"user_data.id": "order_data.user_id"}}]})";
}

void MakeSeedFiles(const TempDir& dir) {
  std::string users = "CREATE TABLE users (id INTEGER PRIMARY KEY, name TEXT, city TEXT);";
  static const char* const kCities[] = {"Paris", "Berlin", "Lyon", "Tokyo", "Oslo"};
  for (int id = 1; id <= 300; ++id) {
    users += "INSERT INTO users VALUES (" + std::to_string(id) + ", 'user " + std::to_string(id) +
             "', '" + kCities[id % 5] + "');";
  }
  SqlExec(dir.File("users.sqlite"), "BEGIN;" + users + "COMMIT;");
  std::string orders =
      "CREATE TABLE orders (order_id INTEGER PRIMARY KEY, user_id INTEGER, amount INTEGER);"
      "CREATE INDEX orders_user ON orders (user_id);";
  for (int o = 1; o <= 1500; ++o) {
    orders += "INSERT INTO orders VALUES (" + std::to_string(o) + ", " +
              std::to_string(1 + (o * 7919) % 400) + ", " + std::to_string(o % 1000) + ");";
  }
  SqlExec(dir.File("orders.sqlite"), "BEGIN;" + orders + "COMMIT;");
}

void SeedSweep(bool persistent, const std::string& strategy) {
  TempDir dir;
  MakeSeedFiles(dir);
  const std::string sources = LiteSource("db_users", dir.File("users.sqlite")) + "," +
                              LiteSource("db_orders", dir.File("orders.sqlite"));
  // The right answer, computed natively in one database.
  const std::vector<std::string> want_users =
      SqlRows(dir.File("users.sqlite"), "SELECT id, name, city FROM users WHERE city = 'Paris'");
  const std::vector<std::string> want_orders =
      SqlRows(dir.File("orders.sqlite"),
              "SELECT order_id, user_id, amount FROM orders WHERE user_id IN "
              "(SELECT id FROM u.users WHERE city = 'Paris')",
              "ATTACH '" + dir.File("users.sqlite") + "' AS u");
  REQUIRE(want_users.size() == 60);
  REQUIRE(want_orders.size() > 100);

  FaultSweepCase c;
  c.name = "seed/sqlite" + (strategy.empty() ? std::string() : "/" + strategy);
  c.persistent = persistent;
  c.make_engine = [&](const std::shared_ptr<FaultPlan>& plan) {
    return FaultEngine(plan, sources);
  };
  const std::string graph = SeedGraph(strategy);
  c.run = [&](Engine& e, int) { return e.ExecuteJson(graph); };
  c.check = [&](Engine&, int, const absl::StatusOr<GraphResult>& r) {
    if (!r.ok()) return;
    const NodeResult* u = r->FindNode("user_data");
    const NodeResult* o = r->FindNode("order_data");
    REQUIRE(u != nullptr);
    REQUIRE(o != nullptr);
    CHECK(RowSet(*u) == want_users);
    CHECK(RowSet(*o) == want_orders);
  };
  RunFaultSweep(c);
}

TEST_CASE("engine fault: the seed graph on SQLite, every driver call failing once",
          "[engine][fault]") {
  SeedSweep(false, "");
  SeedSweep(false, "per_binding");
}

TEST_CASE("engine fault: the seed graph on SQLite, a source down from the N-th call on",
          "[engine][fault]") {
  SeedSweep(true, "");
  SeedSweep(true, "per_binding");
}

// w_a (source a) -> w_b (source b) -> check (reads b inside the transaction).
std::string CommonGraph(int run) {
  const std::string r = std::to_string(run);
  return R"({"transaction": "common", "params": {"run": )" + r + R"J(}, "nodes": [
    {"node_id": "w_a", "database_id": "a", "mode": "write",
     "query_string": "INSERT INTO t (run, v) VALUES (:run, 'a')", "input_parameters": ["run"]},
    {"node_id": "w_b", "database_id": "b", "mode": "write",
     "query_string": "INSERT INTO t (run, v) VALUES (:run, 'b')", "input_parameters": ["run"]},
    {"node_id": "check", "database_id": "b",
     "query_string": "SELECT count(*) AS n FROM t WHERE run = :run",
     "input_parameters": ["run"], "output_fields": ["n"]}],
  "edges": [{"source_node": "w_a", "target_node": "w_b"},
            {"source_node": "w_b", "target_node": "check"}]})J";
}

// A failed common transaction's message and `source`'s rows of the run: a
// commit whose outcome is unknown (its connection was lost during COMMIT)
// may have either; "committed on" means the row is there; else it is not.
bool RowsAgree(const std::string& msg, const std::string& source, size_t rows) {
  INFO("source " << source << ": " << rows << " rows; " << msg);
  const std::string q = "\"" + source + "\"";
  if (msg.find("OUTCOME UNKNOWN on " + q) != std::string::npos) return rows <= 1;
  const bool committed = msg.find(": committed on " + q) != std::string::npos ||
                         msg.find("; committed on " + q) != std::string::npos;
  return rows == (committed ? 1u : 0u);
}

void CommonSweep(bool persistent) {
  TempDir dir;
  for (const char* f : {"a.sqlite", "b.sqlite"}) {
    SqlExec(dir.File(f), "CREATE TABLE t (run INTEGER PRIMARY KEY, v TEXT NOT NULL)");
  }
  const std::string sources =
      LiteSource("a", dir.File("a.sqlite")) + "," + LiteSource("b", dir.File("b.sqlite"));
  auto count = [&](const char* file, int run) {
    return SqlRows(dir.File(file), "SELECT v FROM t WHERE run = " + std::to_string(run)).size();
  };

  FaultSweepCase c;
  c.name = "common/sqlite";
  c.persistent = persistent;
  c.make_engine = [&](const std::shared_ptr<FaultPlan>& plan) {
    return FaultEngine(plan, sources);
  };
  c.run = [&](Engine& e, int run) { return e.ExecuteJson(CommonGraph(run)); };
  c.check = [&](Engine&, int run, const absl::StatusOr<GraphResult>& r) {
    const size_t a = count("a.sqlite", run), b = count("b.sqlite", run);
    if (r.ok()) {
      CHECK(a == 1);
      CHECK(b == 1);
      const NodeResult* chk = r->FindNode("check");
      REQUIRE(chk != nullptr);
      REQUIRE(chk->num_rows == 1);
      CHECK(chk->columns[0].values[0].ToText() == "1");
      for (const ParticipantOutcome& p : r->transaction.participants) {
        CHECK(p.state == ParticipantState::kCommitted);
      }
    } else {
      // Each source's rows agree with what the message says of it ("a"
      // commits first: source name order).
      const std::string msg(r.status().message());
      CHECK(RowsAgree(msg, "a", a));
      CHECK(RowsAgree(msg, "b", b));
    }
  };
  RunFaultSweep(c);
}

TEST_CASE("engine fault: a common transaction over two SQLite files, every call failing once",
          "[engine][fault][tx]") {
  CommonSweep(false);
}

TEST_CASE("engine fault: a common transaction over two SQLite files, a source down",
          "[engine][fault][tx]") {
  CommonSweep(true);
}

}  // namespace
}  // namespace qg::enginetest
