// Engine tests on real SQLite files: the seed graph across two databases,
// and a property test comparing dependent joins (batched and per-binding)
// with the same join done natively in one database (ATTACH).
#include <catch2/catch.hpp>
#include <map>
#include <random>
#include <string>
#include <vector>

#include "engine_test_util.h"
#include "qg/engine.h"

namespace qg::enginetest {
namespace {

std::string Quote(const std::string& s) { return "'" + s + "'"; }

std::unique_ptr<Engine> SqliteEngine(const TempDir& dir) {
  auto engine = Engine::Create();
  REQUIRE(engine.ok());
  const std::string catalog = R"({"sources": [
      {"name": "db_users", "provider": "sqlite", "connect": ")" +
                              dir.File("users.sqlite") + R"("},
      {"name": "db_orders", "provider": "sqlite", "connect": ")" +
                              dir.File("orders.sqlite") + R"("}]})";
  auto st = (*engine)->LoadCatalogJson(catalog);
  INFO(st.message());
  REQUIRE(st.ok());
  return std::move(*engine);
}

// The seed's graph, with a strategy (and batch size) for order_data and a
// second dependent node keyed by two parameters of the same parent.
std::string SeedGraph(const std::string& strategy, int batch_size) {
  std::string ext;
  if (!strategy.empty()) ext += R"(, "strategy": ")" + strategy + "\"";
  if (batch_size > 0) ext += R"(, "batch_size": )" + std::to_string(batch_size);
  return R"({
  "nodes": [
    {"node_id": "user_data", "database_id": "db_users",
     "query_string": "SELECT id, name, city FROM users WHERE city = :city",
     "input_parameters": ["city"], "output_fields": ["id", "name", "city"]},
    {"node_id": "order_data", "database_id": "db_orders",
     "query_string": "SELECT order_id, user_id, amount FROM orders WHERE user_id = :user_id",
     "input_parameters": ["user_id"], "output_fields": ["order_id", "user_id", "amount"])" +
         ext + R"(},
    {"node_id": "visit_data", "database_id": "db_orders",
     "query_string": "SELECT user_id, city, n FROM visits WHERE user_id = :uid AND city = :c",
     "input_parameters": ["uid", "c"], "output_fields": ["user_id", "city", "n"])" +
         ext + R"(}
  ],
  "edges": [
    {"source_node": "user_data", "target_node": "order_data",
     "input_mapping": {"user_data.id": "order_data.user_id"}},
    {"source_node": "user_data", "target_node": "visit_data",
     "input_mapping": {"user_data.id": "visit_data.uid", "user_data.city": "visit_data.c"}}
  ]
})";
}

void CreateSchema(const TempDir& dir) {
  SqlExec(dir.File("users.sqlite"),
          "DROP TABLE IF EXISTS users; CREATE TABLE users (id INTEGER, name TEXT, city TEXT);");
  SqlExec(dir.File("orders.sqlite"),
          "DROP TABLE IF EXISTS orders; DROP TABLE IF EXISTS visits;"
          "CREATE TABLE orders (order_id INTEGER, user_id INTEGER, amount INTEGER);"
          "CREATE TABLE visits (user_id INTEGER, city TEXT, n INTEGER);");
}

// The inner join user_data x order_data rebuilt from the result through
// row_binding: "id|name|order_id|amount".
std::vector<std::string> JoinedFromResult(const GraphResult& r) {
  const NodeResult* u = r.FindNode("user_data");
  const NodeResult* o = r.FindNode("order_data");
  std::vector<std::string> rows;
  const int uid = u->FindColumn("id");
  const int uname = u->FindColumn("name");
  const int oid = o->FindColumn("order_id");
  const int oamount = o->FindColumn("amount");
  for (size_t i = 0; i < u->num_rows; ++i) {
    const Value& id = u->columns[uid].values[i];
    for (size_t k = 0; k < o->num_rows; ++k) {
      const Value& bound = o->bindings[o->row_binding[k]][0];
      if (!ValueKeyEqual()(id, bound)) continue;
      rows.push_back(Canon(id) + "|" + Canon(u->columns[uname].values[i]) + "|" +
                     Canon(o->columns[oid].values[k]) + "|" + Canon(o->columns[oamount].values[k]));
    }
  }
  std::sort(rows.begin(), rows.end());
  return rows;
}

struct Native {
  std::vector<std::string> orders;
  std::vector<std::string> visits;
  std::vector<std::string> joined;
};

Native NativeJoin(const TempDir& dir, const std::string& city) {
  const std::string attach = "ATTACH " + Quote(dir.File("orders.sqlite")) + " AS o;";
  const std::string c = Quote(city);
  Native n;
  n.orders = SqlRows(dir.File("users.sqlite"),
                     "SELECT order_id, user_id, amount FROM o.orders WHERE user_id IN "
                     "(SELECT id FROM main.users WHERE city = " +
                         c + ")",
                     attach);
  n.visits = SqlRows(dir.File("users.sqlite"),
                     "SELECT user_id, city, n FROM o.visits v WHERE EXISTS (SELECT 1 FROM "
                     "main.users u WHERE u.city = " +
                         c + " AND u.id = v.user_id AND u.city = v.city)",
                     attach);
  n.joined = SqlRows(dir.File("users.sqlite"),
                     "SELECT u.id, u.name, ord.order_id, ord.amount FROM main.users u JOIN "
                     "o.orders ord ON ord.user_id = u.id WHERE u.city = " +
                         c,
                     attach);
  return n;
}

void CheckAgainstNative(Engine& engine, const TempDir& dir, const std::string& city,
                        const std::string& strategy, int batch_size) {
  ExecuteOptions opts;
  opts.params = {{"city", Value::String(city)}};
  auto r = engine.ExecuteJson(SeedGraph(strategy, batch_size), opts);
  INFO("strategy " << strategy << " batch " << batch_size << " city " << city);
  INFO(r.status().message());
  REQUIRE(r.ok());
  const Native native = NativeJoin(dir, city);
  const NodeResult* o = r->FindNode("order_data");
  const NodeResult* v = r->FindNode("visit_data");
  CHECK(RowSet(*o) == native.orders);
  CHECK(RowSet(*v) == native.visits);
  CHECK(JoinedFromResult(*r) == native.joined);
  const std::vector<std::string> ids =
      SqlRows(dir.File("users.sqlite"),
              "SELECT DISTINCT id FROM users WHERE id IS NOT NULL AND "
              "city = " +
                  Quote(city));
  CHECK(o->bindings.size() == ids.size());
  if (ids.empty()) {
    CHECK(o->status == NodeStatus::kSkipped);
    CHECK(v->status == NodeStatus::kSkipped);
  } else {
    CHECK(o->status == NodeStatus::kOk);
    const std::string expected = strategy.empty() ? "batched" : strategy;
    CHECK(o->stats.strategy == expected);
    CHECK(v->stats.strategy == expected);
  }
  CHECK(TotalInUse(engine) == 0);
}

TEST_CASE("the seed graph on two SQLite files matches the native join", "[engine][sqlite]") {
  TempDir dir;
  CreateSchema(dir);
  SqlExec(dir.File("users.sqlite"),
          "INSERT INTO users VALUES (1, 'Ann', 'Paris'), (2, 'Bob', 'Rome'), (3, 'Cy', 'Paris'),"
          "(NULL, 'Nul', 'Paris'), (4, 'Di', 'Paris');");
  SqlExec(dir.File("orders.sqlite"),
          "INSERT INTO orders VALUES (7, 1, 950), (8, 1, 1200), (9, 2, 300), (10, 3, 5),"
          "(11, NULL, 1), (12, 99, 2);"
          "INSERT INTO visits VALUES (1, 'Paris', 3), (1, 'Rome', 4), (3, 'Paris', 1);");
  auto engine = SqliteEngine(dir);
  for (const std::string strategy : {"", "batched", "per_binding", "fetch_once"}) {
    CheckAgainstNative(*engine, dir, "Paris", strategy, 0);
    CheckAgainstNative(*engine, dir, "Paris", strategy, 2);
  }
  CheckAgainstNative(*engine, dir, "Nowhere", "", 0);

  SECTION("the plan batches with an IN list and EXPLAIN shows it") {
    auto g = ParseGraph(SeedGraph("", 0), engine->GraphParseOptions());
    REQUIRE(g.ok());
    ExecuteOptions opts;
    opts.params = {{"city", Value::String("Paris")}};
    auto plan = engine->Explain(*g, opts);
    REQUIRE(plan.ok());
    REQUIRE(plan->nodes.size() == 3);
    CHECK(plan->nodes[1].kind == ExecKind::kBatched);
    CHECK(plan->nodes[1].statement.find("IN") != std::string::npos);
    CHECK(plan->nodes[1].batch_size == 1000);
    CHECK(plan->nodes[2].batch_size <= 1000);
    const std::string text = RenderPlan(*plan, ExplainFormat::kText);
    CHECK(text.find("sqlite") != std::string::npos);
    // Explain asked SQLite's planner; Execute reuses the cached estimates.
    CHECK(plan->nodes[0].estimate.origin.find("sqlite") == 0);
    auto r = engine->Execute(*g, opts);
    REQUIRE(r.ok());
    CHECK(r->FindNode("user_data")->stats.estimated_rows == plan->nodes[0].estimate.rows);
    CHECK(r->plan.nodes[0].estimate.origin == plan->nodes[0].estimate.origin);
  }
}

TEST_CASE("batched rows link back even when the source converts key types", "[engine][sqlite]") {
  TempDir dir;
  SqlExec(dir.File("users.sqlite"),
          "CREATE TABLE users (id INTEGER, name TEXT, city TEXT);"
          "INSERT INTO users VALUES (1, 'Ann', 'Paris'), (2, 'Bob', 'Paris');");
  // user_id has TEXT affinity: SQLite compares the bound 1 as '1' and
  // returns the key column as text.
  SqlExec(dir.File("orders.sqlite"),
          "CREATE TABLE orders (order_id INTEGER, user_id TEXT, amount INTEGER);"
          "CREATE TABLE visits (user_id INTEGER, city TEXT, n INTEGER);"
          "INSERT INTO orders VALUES (7, '1', 10), (8, '2', 20), (9, '3', 30);");
  auto engine = SqliteEngine(dir);
  for (const std::string strategy : {"batched", "per_binding", "fetch_once"}) {
    ExecuteOptions opts;
    opts.params = {{"city", Value::String("Paris")}};
    auto r = engine->ExecuteJson(SeedGraph(strategy, 0), opts);
    INFO(r.status().message());
    REQUIRE(r.ok());
    const NodeResult* o = r->FindNode("order_data");
    CHECK(o->stats.strategy == strategy);
    CHECK(RowSet(*o) == std::vector<std::string>{"7|1|10", "8|2|20"});
    CHECK(JoinedFromResult(*r) == std::vector<std::string>{"1|Ann|7|10", "2|Bob|8|20"});
  }
}

TEST_CASE("numeric keys of different types bind and link as one value", "[engine][sqlite]") {
  TempDir dir;
  // ids mixes INTEGER and REAL values of the same numbers (2 and 2.0, 3.0):
  // one binding each. scores.k is REAL: the key column comes back as 1.0,
  // 2.0, 3.0 and links to the bindings made from 1, 2 and 3.0.
  SqlExec(dir.File("users.sqlite"),
          "CREATE TABLE ids (v);"
          "INSERT INTO ids VALUES (1), (2), (2.0), (3.0), (NULL), (1);");
  SqlExec(dir.File("orders.sqlite"),
          "CREATE TABLE scores (k REAL, s TEXT);"
          "INSERT INTO scores VALUES (1, 'one'), (2, 'two'), (3, 'three'), (4, 'four');");
  auto engine = SqliteEngine(dir);
  for (const std::string strategy : {"batched", "per_binding", "fetch_once"}) {
    INFO("strategy " << strategy);
    auto r = engine->ExecuteJson(R"({"nodes": [
      {"node_id": "ids", "database_id": "db_users", "query_string": "SELECT v FROM ids",
       "output_fields": ["v"]},
      {"node_id": "scores", "database_id": "db_orders",
       "query_string": "SELECT k, s FROM scores WHERE k = :k", "input_parameters": ["k"],
       "output_fields": ["k", "s"], "strategy": ")" +
                                 strategy + R"("}],
      "edges": [{"source_node": "ids", "target_node": "scores",
                 "input_mapping": {"ids.v": "scores.k"}}]})");
    INFO(r.status().message());
    REQUIRE(r.ok());
    const NodeResult* s = r->FindNode("scores");
    CHECK(s->bindings.size() == 3);
    CHECK(RowSet(*s) == std::vector<std::string>{"1.0|one", "2.0|two", "3.0|three"});
    REQUIRE(s->row_binding.size() == 3);
    for (size_t i = 0; i < s->num_rows; ++i) {
      // Each row belongs to the binding holding the same number.
      const Value& key = s->bindings[s->row_binding[i]][0];
      const double want = s->columns[0].values[i].as_double();
      CHECK((key.type() == ValueType::kInt64 ? static_cast<double>(key.as_int())
                                             : key.as_double()) == want);
    }
  }
}

TEST_CASE("a select-list key column links rows even when the output leaves it out",
          "[engine][sqlite]") {
  // `k AS kk` is the key column itself: the batched statement adds no
  // __qg_k0 and links rows through it; output_fields drop it.
  TempDir dir;
  SqlExec(dir.File("users.sqlite"),
          "CREATE TABLE ids (v INTEGER); INSERT INTO ids VALUES (3), (1), (2), (1);");
  SqlExec(dir.File("orders.sqlite"),
          "CREATE TABLE scores (k INTEGER, s TEXT);"
          "INSERT INTO scores VALUES (1, 'a'), (2, 'b'), (2, 'c'), (4, 'd');");
  auto engine = SqliteEngine(dir);
  auto r = engine->ExecuteJson(R"({"nodes": [
      {"node_id": "ids", "database_id": "db_users", "query_string": "SELECT v FROM ids",
       "output_fields": ["v"]},
      {"node_id": "scores", "database_id": "db_orders",
       "query_string": "SELECT s, k AS kk FROM scores WHERE k = :k ORDER BY s",
       "input_parameters": ["k"], "output_fields": ["s"], "strategy": "batched"}],
      "edges": [{"source_node": "ids", "target_node": "scores",
                 "input_mapping": {"ids.v": "scores.k"}}]})");
  INFO(r.status().message());
  REQUIRE(r.ok());
  const NodeResult* s = r->FindNode("scores");
  CHECK(s->stats.strategy == "batched");
  REQUIRE(s->columns.size() == 1);
  CHECK(RowSet(*s) == std::vector<std::string>{"a", "b", "c"});
  REQUIRE(s->row_binding.size() == 3);
  const std::map<std::string, int64_t> want = {{"a", 1}, {"b", 2}, {"c", 2}};
  for (size_t i = 0; i < s->num_rows; ++i) {
    const std::string& text = s->columns[0].values[i].as_text();
    CHECK(s->bindings[s->row_binding[i]][0] == Value::Int(want.at(text)));
  }
}

TEST_CASE("property: dependent joins equal the native join on random data", "[engine][sqlite]") {
  TempDir dir;
  auto engine = SqliteEngine(dir);
  const std::vector<std::string> cities = {"Paris", "Rome", "Oslo"};
  for (uint32_t seed = 1; seed <= 20; ++seed) {
    std::mt19937 rng(seed);
    auto uni = [&](int lo, int hi) { return std::uniform_int_distribution<int>(lo, hi)(rng); };
    CreateSchema(dir);
    std::string users = "BEGIN;";
    const int n_users = seed % 7 == 0 ? 0 : uni(0, 14);
    for (int k = 0; k < n_users; ++k) {
      const std::string id = uni(0, 9) == 0 ? "NULL" : std::to_string(uni(1, 9));
      users += "INSERT INTO users VALUES (" + id + ", 'u" + std::to_string(k) + "', " +
               Quote(cities[uni(0, 2)]) + ");";
    }
    SqlExec(dir.File("users.sqlite"), users + "COMMIT;");
    std::string orders = "BEGIN;";
    const int n_orders = uni(0, 30);
    for (int k = 0; k < n_orders; ++k) {
      const std::string uid = uni(0, 9) == 0 ? "NULL" : std::to_string(uni(1, 12));
      orders += "INSERT INTO orders VALUES (" + std::to_string(k) + ", " + uid + ", " +
                std::to_string(uni(1, 1000)) + ");";
    }
    const int n_visits = uni(0, 15);
    for (int k = 0; k < n_visits; ++k) {
      orders += "INSERT INTO visits VALUES (" + std::to_string(uni(1, 10)) + ", " +
                Quote(cities[uni(0, 2)]) + ", " + std::to_string(k) + ");";
    }
    SqlExec(dir.File("orders.sqlite"), orders + "COMMIT;");
    const std::string city = uni(0, 5) == 0 ? "Nowhere" : cities[uni(0, 2)];
    const int batch = uni(1, 5);
    INFO("seed " << seed);
    CheckAgainstNative(*engine, dir, city, "batched", batch);
    CheckAgainstNative(*engine, dir, city, "per_binding", 0);
    CheckAgainstNative(*engine, dir, city, "fetch_once", 0);
    CheckAgainstNative(*engine, dir, city, "", 0);
  }
}

}  // namespace
}  // namespace qg::enginetest
