// A graph mixing REST (the fixture server, tests/unit/http/fixture_server.py),
// CSV files, SQLite and the real PostgreSQL test server: a REST id feeds a
// PostgreSQL lookup, PostgreSQL rows feed REST calls, CSV and SQLite tables
// hang off both. The engine's result, flattened along the edges through each
// row's binding, is compared row by row with the same join done natively in
// PostgreSQL over the same data (the REST bodies as fetched from the server,
// the CSV and SQLite rows as written). Plus the conversion failures: a REST
// string bound to an integer PostgreSQL parameter fails with an error naming
// the node, its source and the value.
#include <sqlite3.h>
#include <stdlib.h>

#include <algorithm>
#include <catch2/catch.hpp>
#include <filesystem>
#include <fstream>
#include <map>
#include <string>
#include <vector>

#include "pg_util.h"
#include "qg/engine.h"
#include "support/http_fixture_server.h"

namespace qg::testing {
namespace {

namespace fs = std::filesystem;
using qg::test_support::HttpFixtureServer;

// PostgreSQL: accounts of REST users (user_id 9 is not a REST user; tier
// platinum has no SQLite row; user 2 has no account).
struct Account {
  int account_no;
  int user_id;
  const char* tier;
  int manager_id;
};
const std::vector<Account> kAccounts = {
    {1001, 1, "gold", 2}, {1002, 1, "basic", 4},    {1003, 3, "silver", 2},
    {1005, 5, "gold", 1}, {1004, 4, "platinum", 5}, {1009, 9, "gold", 3},
};
// CSV shipments.csv (order 51 has none; order 99 is no REST order).
struct Shipment {
  int order_id;
  const char* carrier;
  int weight_kg;
};
const std::vector<Shipment> kShipments = {
    {10, "DHL", 2}, {11, "Post, Inc.", 5}, {30, "Łódź \"Express\"", 1},
    {50, "DHL", 3}, {52, "UPS", 4},        {99, "DHL", 9},
};
// SQLite tiers.
struct Tier {
  const char* tier;
  int discount_pct;
};
const std::vector<Tier> kTiers = {{"gold", 10}, {"silver", 5}, {"basic", 0}};

std::string CsvField(const std::string& s) {
  if (s.find_first_of(",\"\n") == std::string::npos) return s;
  std::string out = "\"";
  for (char c : s) out += c == '"' ? std::string("\"\"") : std::string(1, c);
  return out + "\"";
}

// One test directory (CSV folder + SQLite file) and the PostgreSQL tables.
struct MixEnv {
  std::string dir;
  std::unique_ptr<Engine> engine;
  ~MixEnv() {
    std::error_code ec;
    fs::remove_all(dir, ec);
  }
};

std::unique_ptr<MixEnv> MakeMixEnv() {
  auto env = std::make_unique<MixEnv>();
  std::string tmpl = (fs::temp_directory_path() / "qg_pgmix_XXXXXX").string();
  REQUIRE(mkdtemp(tmpl.data()) != nullptr);
  env->dir = tmpl;

  // CSV.
  fs::create_directories(env->dir + "/csv");
  {
    std::ofstream csv(env->dir + "/csv/shipments.csv");
    csv << "order_id,carrier,weight_kg\n";
    for (const Shipment& s : kShipments) {
      csv << s.order_id << "," << CsvField(s.carrier) << "," << s.weight_kg << "\n";
    }
  }
  // SQLite, filled with bound parameters.
  sqlite3* db = nullptr;
  REQUIRE(sqlite3_open((env->dir + "/tiers.sqlite").c_str(), &db) == SQLITE_OK);
  REQUIRE(sqlite3_exec(db, "CREATE TABLE tiers (tier TEXT PRIMARY KEY, discount_pct INTEGER)",
                       nullptr, nullptr, nullptr) == SQLITE_OK);
  sqlite3_stmt* ins = nullptr;
  REQUIRE(sqlite3_prepare_v2(db, "INSERT INTO tiers VALUES (?1, ?2)", -1, &ins, nullptr) ==
          SQLITE_OK);
  for (const Tier& t : kTiers) {
    sqlite3_bind_text(ins, 1, t.tier, -1, SQLITE_TRANSIENT);
    sqlite3_bind_int(ins, 2, t.discount_pct);
    REQUIRE(sqlite3_step(ins) == SQLITE_DONE);
    sqlite3_reset(ins);
  }
  sqlite3_finalize(ins);
  sqlite3_close(db);

  // PostgreSQL: the accounts the graph reads, and copies of the CSV and
  // SQLite rows for the native join.
  auto pg = PgConnect("qgtest");
  for (const char* sql :
       {"DROP TABLE IF EXISTS pgmix_accounts", "DROP TABLE IF EXISTS pgmix_shipments",
        "DROP TABLE IF EXISTS pgmix_tiers", "DROP TABLE IF EXISTS pgmix_rest",
        "CREATE TABLE pgmix_accounts (account_no int PRIMARY KEY, user_id int NOT NULL, "
        "tier text NOT NULL, manager_id int NOT NULL)",
        "CREATE TABLE pgmix_shipments (order_id int, carrier text, weight_kg int)",
        "CREATE TABLE pgmix_tiers (tier text, discount_pct int)",
        "CREATE TABLE pgmix_rest (path text PRIMARY KEY, body jsonb)"}) {
    PgExec(*pg, sql);
  }
  for (const Account& a : kAccounts) {
    PgExec(*pg, "INSERT INTO pgmix_accounts VALUES (:a, :u, :t, :m)",
           {{"a", Value::Int(a.account_no)},
            {"u", Value::Int(a.user_id)},
            {"t", Value::String(a.tier)},
            {"m", Value::Int(a.manager_id)}});
  }
  for (const Shipment& s : kShipments) {
    PgExec(*pg, "INSERT INTO pgmix_shipments VALUES (:o, :c, :w)",
           {{"o", Value::Int(s.order_id)},
            {"c", Value::String(s.carrier)},
            {"w", Value::Int(s.weight_kg)}});
  }
  for (const Tier& t : kTiers) {
    PgExec(*pg, "INSERT INTO pgmix_tiers VALUES (:t, :d)",
           {{"t", Value::String(t.tier)}, {"d", Value::Int(t.discount_pct)}});
  }

  auto e = Engine::Create();
  REQUIRE(e.ok());
  env->engine = std::move(*e);
  PgServer pgs = RequirePg();
  const std::string catalog = R"({"sources": [
    {"name": "api", "provider": "http", "connect": ")" +
                              HttpFixtureServer::Get().base() + R"(", "options": {"pool_max": 4}},
    {"name": "db_pg", "provider": "postgres", "connect": ")" +
                              pgs.ConnectFor("qgtest") +
                              R"(", "user": "qg", "password": {"env": "QG_TEST_PG_PASSWORD"},
     "options": {"pool_max": 4}},
    {"name": "files", "provider": "csv", "connect": ")" +
                              env->dir + R"(/csv"},
    {"name": "tiers", "provider": "sqlite", "connect": ")" +
                              env->dir + R"(/tiers.sqlite"}]})";
  absl::Status st = env->engine->LoadCatalogJson(catalog);
  INFO(st.ToString());
  REQUIRE(st.ok());
  return env;
}

// Stores the REST body of GET `path` in pgmix_rest (a bound jsonb parameter).
void StoreRestBody(Connection& pg, const std::string& path) {
  long status = 0;
  std::string body = HttpFixtureServer::Get().GetBody(path, &status);
  INFO(path << " -> " << status << " " << body);
  REQUIRE((status == 200 || status == 404));
  if (status != 200) return;
  PgExec(pg, "INSERT INTO pgmix_rest VALUES (:p, CAST(:b AS jsonb))",
         {{"p", Value::String(path)}, {"b", Value::String(body)}});
}

const NodeResult& Node(const GraphResult& r, const std::string& id) {
  const NodeResult* n = r.FindNode(id);
  INFO(id);
  REQUIRE(n != nullptr);
  return *n;
}

// A child of the flattened tree: `node`'s binding parameter `param` equals
// field `parent_field` of node `parent`.
struct Link {
  std::string node;
  std::string parent;
  std::string parent_field;
  std::string param;
};

// The graph flattened from `root` along `links` (each link's parent listed
// before it) with inner-join semantics, each child row matched to its parent
// row through the binding that produced it (NodeResult::row_binding). Each
// row is every column of every node, as text, in node order.
std::vector<std::string> Flatten(const GraphResult& r, const std::string& root,
                                 const std::vector<Link>& links) {
  std::vector<std::string> order = {root};
  std::vector<std::map<std::string, size_t>> partial;
  const NodeResult& rn = Node(r, root);
  for (size_t i = 0; i < rn.num_rows; ++i) partial.push_back({{root, i}});
  for (const Link& l : links) {
    const NodeResult& child = Node(r, l.node);
    const NodeResult& parent = Node(r, l.parent);
    const int pcol = parent.FindColumn(l.parent_field);
    INFO(l.parent << "." << l.parent_field);
    REQUIRE(pcol >= 0);
    auto pit = std::find(child.binding_params.begin(), child.binding_params.end(), l.param);
    INFO(l.node << " binding params do not include " << l.param);
    REQUIRE(pit != child.binding_params.end());
    const size_t ppos = static_cast<size_t>(pit - child.binding_params.begin());
    REQUIRE(child.row_binding.size() == child.num_rows);
    std::vector<std::map<std::string, size_t>> next;
    for (const auto& p : partial) {
      const Value& want = parent.columns[pcol].values[p.at(l.parent)];
      for (size_t i = 0; i < child.num_rows; ++i) {
        const Value& got = child.bindings[child.row_binding[i]][ppos];
        if (got.ToText() != want.ToText()) continue;
        auto row = p;
        row[l.node] = i;
        next.push_back(std::move(row));
      }
    }
    partial = std::move(next);
    order.push_back(l.node);
  }
  std::vector<std::string> out;
  for (const auto& p : partial) {
    std::string k;
    for (const std::string& id : order) {
      const NodeResult& n = Node(r, id);
      for (const Column& c : n.columns) k += c.values[p.at(id)].ToText() + "|";
    }
    out.push_back(k);
  }
  std::sort(out.begin(), out.end());
  return out;
}

TEST_CASE("pg mix: REST -> PostgreSQL -> REST, CSV and SQLite equals the native join",
          "[postgres][http][engine]") {
  auto env = MakeMixEnv();
  auto& srv = HttpFixtureServer::Get();
  const std::string graph = R"({
    "nodes": [
      {"node_id": "users", "database_id": "api", "query_string": "GET /users fields=id,name,city",
       "input_parameters": [], "output_fields": ["id", "name", "city"]},
      {"node_id": "accounts", "database_id": "db_pg",
       "query_string": "SELECT account_no, user_id, tier, manager_id FROM pgmix_accounts WHERE user_id = :uid",
       "input_parameters": ["uid"],
       "output_fields": ["account_no", "user_id", "tier", "manager_id"]},
      {"node_id": "orders", "database_id": "api",
       "query_string": "GET /users/:user_id/orders rows_at=/orders fields=order_id,user_id,amount",
       "input_parameters": ["user_id"], "output_fields": ["order_id", "user_id", "amount"]},
      {"node_id": "shipments", "database_id": "files",
       "query_string": "SELECT order_id, carrier, weight_kg FROM shipments WHERE order_id = :oid",
       "input_parameters": ["oid"], "output_fields": ["order_id", "carrier", "weight_kg"]},
      {"node_id": "discount", "database_id": "tiers",
       "query_string": "SELECT tier, discount_pct FROM tiers WHERE tier = :tier",
       "input_parameters": ["tier"], "output_fields": ["tier", "discount_pct"]},
      {"node_id": "manager", "database_id": "api", "query_string": "GET /users/:id fields=id,name",
       "input_parameters": ["id"], "output_fields": ["id", "name"]}
    ],
    "edges": [
      {"source_node": "users", "target_node": "accounts",
       "input_mapping": {"users.id": "accounts.uid"}},
      {"source_node": "accounts", "target_node": "orders",
       "input_mapping": {"accounts.user_id": "orders.user_id"}},
      {"source_node": "orders", "target_node": "shipments",
       "input_mapping": {"orders.order_id": "shipments.oid"}},
      {"source_node": "accounts", "target_node": "discount",
       "input_mapping": {"accounts.tier": "discount.tier"}},
      {"source_node": "accounts", "target_node": "manager",
       "input_mapping": {"accounts.manager_id": "manager.id"}}
    ]})";
  srv.Reset();
  auto r = env->engine->ExecuteJson(graph);
  INFO(r.status().ToString());
  REQUIRE(r.ok());
  for (const NodeResult& n : r->nodes) {
    INFO(n.node_id << ": " << n.error.ToString());
    CHECK(n.status == NodeStatus::kOk);
  }
  std::vector<std::string> got = Flatten(*r, "users",
                                         {{"accounts", "users", "id", "uid"},
                                          {"orders", "accounts", "user_id", "user_id"},
                                          {"shipments", "orders", "order_id", "oid"},
                                          {"discount", "accounts", "tier", "tier"},
                                          {"manager", "accounts", "manager_id", "id"}});

  // The REST id reached PostgreSQL as a batched lookup (= ANY($1)); the
  // PostgreSQL rows reached the REST API one request per distinct value.
  const NodeResult& accounts = Node(*r, "accounts");
  CHECK(accounts.stats.strategy == "batched");
  CHECK(accounts.bindings.size() == 5);  // users 1..5
  CHECK(accounts.stats.round_trips < 5);
  CHECK(accounts.num_rows == 5);  // user 9 is no REST user
  bool any = false;
  for (const NodePlan& np : r->plan.nodes) {
    if (np.node_id == "accounts") any = np.statement.find("ANY($") != std::string::npos;
  }
  CHECK(any);
  const NodeResult& orders = Node(*r, "orders");
  CHECK(orders.stats.strategy == "per_binding");
  CHECK(orders.bindings.size() == 4);  // user ids 1, 3, 4, 5
  for (int uid : {1, 3, 4, 5}) {
    CHECK(srv.Count("/users/" + std::to_string(uid) + "/orders") == 1);
  }
  CHECK(srv.Count("/users/2/orders") == 0);
  CHECK(srv.Count("/users/9/orders") == 0);
  CHECK(Node(*r, "manager").bindings.size() == 4);  // managers 1, 2, 4, 5
  CHECK(srv.Count("/users/3") == 0);                // only account 1009's, never bound
  // Types as each provider gives them.
  CHECK(orders.columns[orders.FindColumn("amount")].values.size() == orders.num_rows);
  CHECK(accounts.columns[accounts.FindColumn("account_no")].type == ValueType::kInt64);
  const NodeResult& ship = Node(*r, "shipments");
  CHECK(ship.columns[ship.FindColumn("weight_kg")].type == ValueType::kInt64);

  // The same join natively in PostgreSQL: the REST bodies as the server
  // serves them, the CSV and SQLite rows as written.
  auto pg = PgConnect("qgtest");
  StoreRestBody(*pg, "/users");
  for (int uid = 1; uid <= 9; ++uid)
    StoreRestBody(*pg, "/users/" + std::to_string(uid) + "/orders");
  auto want_rows =
      PgQuery(*pg, R"(
      WITH u AS (
        SELECT e->>'id' AS id, e->>'name' AS name, e->>'city' AS city
        FROM pgmix_rest r, jsonb_array_elements(r.body) e WHERE r.path = :users),
      o AS (
        SELECT e->>'order_id' AS order_id, e->>'user_id' AS user_id, e->>'amount' AS amount
        FROM pgmix_rest r, jsonb_array_elements(r.body->'orders') e
        WHERE r.path LIKE :orders)
      SELECT u.id, u.name, u.city, a.account_no, a.user_id, a.tier, a.manager_id,
             o.order_id, o.user_id, o.amount, s.order_id, s.carrier, s.weight_kg,
             t.tier, t.discount_pct, m.id, m.name
      FROM u
      JOIN pgmix_accounts a ON a.user_id = u.id::int
      JOIN o ON o.user_id::int = a.user_id
      JOIN pgmix_shipments s ON s.order_id = o.order_id::int
      JOIN pgmix_tiers t ON t.tier = a.tier
      JOIN u m ON m.id::int = a.manager_id)",
              {{"users", Value::String("/users")}, {"orders", Value::String("/users/%/orders")}});
  INFO(want_rows.status().ToString());
  REQUIRE(want_rows.ok());
  std::vector<std::string> want;
  for (const auto& row : want_rows->rows) {
    std::string k;
    for (const Value& v : row) k += v.ToText() + "|";
    want.push_back(k);
  }
  std::sort(want.begin(), want.end());
  // Users 1 (two accounts x orders 10, 11), 3 (order 30) and 5 (orders 50,
  // 52; 51 has no shipment); user 4's tier has no discount row.
  CHECK(want.size() == 7);
  CHECK(got.size() == want.size());
  CHECK(got == want);
  for (const char* sql : {"DROP TABLE pgmix_accounts", "DROP TABLE pgmix_shipments",
                          "DROP TABLE pgmix_tiers", "DROP TABLE pgmix_rest"}) {
    PgExec(*pg, sql);
  }
}

TEST_CASE("pg mix: a REST value that cannot convert to the PostgreSQL parameter names the node",
          "[postgres][http][engine]") {
  auto env = MakeMixEnv();
  // users.name (REST strings "Ann", "Chloé") into an integer parameter: an
  // explicit CAST (per binding), and the batched = ANY($1) the planner makes
  // of a plain comparison with an int column.
  for (const std::string& where :
       {std::string("user_id = CAST(:uid AS integer)"), std::string("user_id = :uid")}) {
    const std::string graph = R"({
      "nodes": [
        {"node_id": "users", "database_id": "api", "query_string": "GET /users?ids=1,3 fields=id,name",
         "input_parameters": [], "output_fields": ["id", "name"]},
        {"node_id": "acct_lookup", "database_id": "db_pg",
         "query_string": "SELECT account_no FROM pgmix_accounts WHERE )" +
                              where + R"(",
         "input_parameters": ["uid"], "output_fields": ["account_no"]}
      ],
      "edges": [{"source_node": "users", "target_node": "acct_lookup",
                 "input_mapping": {"users.name": "acct_lookup.uid"}}]})";
    auto r = env->engine->ExecuteJson(graph);
    INFO(where);
    REQUIRE_FALSE(r.ok());
    const std::string msg(r.status().message());
    INFO(msg);
    CHECK(r.status().code() == absl::StatusCode::kInvalidArgument);
    CHECK(msg.find("node \"acct_lookup\"") != std::string::npos);
    CHECK(msg.find("db_pg") != std::string::npos);
    CHECK(msg.find("integer") != std::string::npos);
    CHECK((msg.find("\"Ann\"") != std::string::npos || msg.find("\"Chloé\"") != std::string::npos));
    CHECK(msg.find("22P02") != std::string::npos);  // invalid_text_representation
    // ... and where the value came from.
    CHECK(msg.find("bound values: :uid <- users.name") != std::string::npos);
  }
  // The engine is fine afterwards: the same graph with the id converts.
  const std::string ok_graph = R"g({
    "nodes": [
      {"node_id": "users", "database_id": "api", "query_string": "GET /users?ids=1,3 fields=id,name",
       "input_parameters": [], "output_fields": ["id", "name"]},
      {"node_id": "acct_lookup", "database_id": "db_pg",
       "query_string": "SELECT account_no FROM pgmix_accounts WHERE user_id = CAST(:uid AS integer)",
       "input_parameters": ["uid"], "output_fields": ["account_no"]}
    ],
    "edges": [{"source_node": "users", "target_node": "acct_lookup",
               "input_mapping": {"users.id": "acct_lookup.uid"}}]})g";
  auto ok = env->engine->ExecuteJson(ok_graph);
  INFO(ok.status().ToString());
  REQUIRE(ok.ok());
  std::vector<std::string> got;
  for (const Value& v : Node(*ok, "acct_lookup").columns[0].values) got.push_back(v.ToText());
  std::sort(got.begin(), got.end());
  CHECK(got == std::vector<std::string>{"1001", "1002", "1003"});
  auto pg = PgConnect("qgtest");
  for (const char* sql : {"DROP TABLE pgmix_accounts", "DROP TABLE pgmix_shipments",
                          "DROP TABLE pgmix_tiers", "DROP TABLE pgmix_rest"}) {
    PgExec(*pg, sql);
  }
}

}  // namespace
}  // namespace qg::testing
