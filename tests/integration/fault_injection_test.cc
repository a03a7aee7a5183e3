// Fault injection over every driver call against the real servers
// (tests/support/fault_sweep.h): the N-th call — connect, execute, fetch,
// begin, commit, prepare (2PC), commit prepared — fails once or for good
// (the source is down), for N = 1, 2, ... until the graph completes, over
//  - the seed graph (users -> orders dependent lookup) on PostgreSQL and on
//    MariaDB;
//  - a 2pc write graph over PostgreSQL, MariaDB and SQLite (the last
//    resource), and the same over PostgreSQL and MariaDB with the fault
//    striking after the call (the server did it, the answer was lost);
//  - the same writes in a common transaction.
// Besides the sweep's own checks (defined error naming the source, pools
// whole, a clean run afterwards), after each run and Engine::Recover():
// PostgreSQL has no session of ours idle in a transaction and no prepared
// transaction of ours; MariaDB has no transaction of our sessions
// (information_schema.innodb_trx) and nothing of ours in XA RECOVER; and the
// written rows are on every source or on none, as the outcome says.
#include <catch2/catch.hpp>
#include <filesystem>
#include <string>
#include <vector>

#include "absl/strings/str_cat.h"
#include "engine_checks.h"
#include "providers/sqlite/sqlite_provider.h"
#include "qg/engine.h"
#include "seed_data.h"
#include "servers.h"
#include "support/fault_provider.h"
#include "support/fault_sweep.h"
#if QG_WITH_POSTGRES
#include "pg_util.h"
#include "providers/postgres/postgres_provider.h"
#endif
#if QG_WITH_MYSQL
#include "mysql_util.h"
#include "providers/mysql/mysql_provider.h"
#endif

namespace qg::testing {
namespace {

constexpr const char* kPrefix = "qgfault";

class ScratchDir {
 public:
  ScratchDir() {
    std::string tmpl = std::filesystem::temp_directory_path().string() + "/qg_fault_XXXXXX";
    REQUIRE(mkdtemp(tmpl.data()) != nullptr);
    path_ = tmpl;
  }
  ~ScratchDir() {
    std::error_code ec;
    std::filesystem::remove_all(path_, ec);
  }
  std::string File(const std::string& name) const { return path_ + "/" + name; }

 private:
  std::string path_;
};

// An engine whose providers (sqlite, and postgres / mysql when built) are
// FaultProviders sharing `plan`; `log`: the coordinator log ("" = none).
std::unique_ptr<Engine> FaultEngine(const std::shared_ptr<FaultPlan>& plan,
                                    const std::vector<std::string>& sources,
                                    const std::string& log = "") {
  EngineOptions o;
  o.register_builtin_providers = false;
  o.coordinator_log = log;
  o.transaction_prefix = kPrefix;
  auto e = Engine::Create(o);
  INFO(e.status().ToString());
  REQUIRE(e.ok());
  REQUIRE((*e)->RegisterProvider(std::make_shared<FaultProvider>(NewSqliteProvider(), plan)).ok());
#if QG_WITH_POSTGRES
  REQUIRE(
      (*e)->RegisterProvider(std::make_shared<FaultProvider>(NewPostgresProvider(), plan)).ok());
#endif
#if QG_WITH_MYSQL
  REQUIRE((*e)->RegisterProvider(std::make_shared<FaultProvider>(NewMysqlProvider(), plan)).ok());
#endif
  std::string json = R"({"sources": [)";
  for (size_t i = 0; i < sources.size(); ++i) json += (i ? "," : "") + sources[i];
  absl::Status st = (*e)->LoadCatalogJson(json + "]}");
  INFO(st.ToString());
  REQUIRE(st.ok());
  return std::move(*e);
}

constexpr const char* kPoolOptions =
    R"("options": {"pool_max": 4, "acquire_timeout": "5s", "connect_timeout": "5s"})";

// The seed data, trimmed (300 users, 3000 orders), in fault_users /
// fault_orders of one database.
std::vector<std::vector<Value>> FaultUsers() {
  auto rows = SeedUserRows();
  rows.resize(300);
  return rows;
}
std::vector<std::vector<Value>> FaultOrders() {
  auto rows = SeedOrderRows();
  rows.resize(3000);
  return rows;
}

// The seed graph's shape; `strategy` for order_data ("" = the planner's).
std::string FaultSeedGraph(const std::string& strategy) {
  const std::string ext = strategy.empty() ? "" : R"(, "strategy": ")" + strategy + "\"";
  return R"({"params": {"city": "Paris"}, "nodes": [
    {"node_id": "user_data", "database_id": "db_users",
     "query_string": "SELECT id, name, city FROM fault_users WHERE city = :city",
     "input_parameters": ["city"], "output_fields": ["id", "name", "city"]},
    {"node_id": "order_data", "database_id": "db_orders",
     "query_string": "SELECT order_id, user_id, amount FROM fault_orders WHERE user_id = :user_id",
     "input_parameters": ["user_id"], "output_fields": ["order_id", "user_id", "amount"])" +
         ext + R"(}],
  "edges": [{"source_node": "user_data", "target_node": "order_data",
             "input_mapping": {"user_data.id": "order_data.user_id"}}]})";
}

constexpr const char* kNativeUsers = "SELECT id, name, city FROM fault_users WHERE city = 'Paris'";
constexpr const char* kNativeOrders =
    "SELECT order_id, user_id, amount FROM fault_orders WHERE user_id IN "
    "(SELECT id FROM fault_users WHERE city = 'Paris')";

std::vector<std::string> NodeKeys(const NodeResult& n) {
  std::vector<std::string> out;
  for (size_t i = 0; i < n.num_rows; ++i) {
    std::vector<Value> row;
    for (const Column& c : n.columns) row.push_back(c.values[i]);
    out.push_back(DebugKey(row));
  }
  std::sort(out.begin(), out.end());
  return out;
}

void SeedSweep(const std::string& name, const std::vector<std::string>& sources, bool persistent,
               const std::string& strategy, const std::vector<std::string>& want_users,
               const std::vector<std::string>& want_orders,
               const std::function<void()>& check_servers) {
  FaultSweepCase c;
  c.name = name + (strategy.empty() ? "" : "/" + strategy);
  c.persistent = persistent;
  c.make_engine = [&](const std::shared_ptr<FaultPlan>& plan) {
    return FaultEngine(plan, sources);
  };
  const std::string graph = FaultSeedGraph(strategy);
  c.run = [&](Engine& e, int) { return e.ExecuteJson(graph); };
  c.check = [&](Engine&, int, const absl::StatusOr<GraphResult>& r) {
    if (!r.ok()) return;
    const NodeResult* u = r->FindNode("user_data");
    const NodeResult* o = r->FindNode("order_data");
    REQUIRE(u != nullptr);
    REQUIRE(o != nullptr);
    CHECK(NodeKeys(*u) == want_users);
    CHECK(NodeKeys(*o) == want_orders);
  };
  c.check_servers = check_servers;
  RunFaultSweep(c);
}

// ---------------------------------------------------------------------------
// What the servers hold.

#if QG_WITH_POSTGRES
std::string PgSourceJson(const std::string& name) {
  PgServer pg = RequirePg();
  return R"({"name": ")" + name + R"(", "provider": "postgres", "connect": ")" +
         pg.ConnectFor("qgtest") +
         R"(", "user": "qg", "password": {"env": "QG_TEST_PG_PASSWORD"}, )" + kPoolOptions + "}";
}

int PgIdleInTransaction() {
  return std::stoi(
      SuperSql("SELECT count(*) FROM pg_stat_activity WHERE usename = 'qg' AND state LIKE "
               "'idle in transaction%'"));
}
int PgPreparedOurs() {
  return std::stoi(SuperSql(std::string("SELECT count(*) FROM pg_prepared_xacts WHERE gid LIKE '") +
                            kPrefix + ".%'"));
}
// No session of ours idle in a transaction (a closed session's backend may
// take a moment to go), nothing of ours prepared.
void CheckPgClean() {
  CHECK(PollFor([] { return PgIdleInTransaction() == 0; }, 5000));
  CHECK(PgPreparedOurs() == 0);
}
#endif

#if QG_WITH_MYSQL
std::string MySourceJson(const std::string& name) {
  MysqlServer s = RequireMysql();
  return R"({"name": ")" + name + R"(", "provider": "mysql", "connect": ")" +
         s.ConnectFor("qgtest") +
         R"(", "user": "qg", "password": {"env": "QG_TEST_MYSQL_PASSWORD"}, )" + kPoolOptions + "}";
}

int MyOpenTransactions() {
  return std::stoi(
      AdminSql("SELECT count(*) FROM information_schema.innodb_trx t JOIN "
               "information_schema.PROCESSLIST p ON p.ID = t.trx_mysql_thread_id WHERE p.USER = "
               "'qg'"));
}
int MyPreparedOurs() {
  int n = 0;
  for (const auto& r : AdminRows("XA RECOVER")) {
    REQUIRE(r.size() >= 4);
    if (r[3].substr(0, std::stoul(r[1])).rfind(std::string(kPrefix) + ".", 0) == 0) ++n;
  }
  return n;
}
void CheckMyClean() {
  CHECK(PollUntil([] { return MyOpenTransactions() == 0; }, 5000));
  CHECK(MyPreparedOurs() == 0);
}
#endif

// ---------------------------------------------------------------------------
// The seed graph.

#if QG_WITH_POSTGRES
void PgSeedTables() {
  static bool done = false;
  if (done) return;
  auto c = PgConnect("qgtest");
  PgExec(*c, "DROP TABLE IF EXISTS fault_users");
  PgExec(*c, "DROP TABLE IF EXISTS fault_orders");
  PgExec(*c,
         "CREATE TABLE fault_users (id int PRIMARY KEY, name text NOT NULL, city text NOT NULL)");
  PgExec(*c,
         "CREATE TABLE fault_orders (order_id int PRIMARY KEY, user_id int NOT NULL, "
         "amount numeric(12,2) NOT NULL)");
  PgExec(*c, "CREATE INDEX fault_orders_user ON fault_orders (user_id)");
  auto exec = [&](const std::string& sql, const ParamList& p) { PgExec(*c, sql, p); };
  InsertRows(exec, "fault_users", {"id", "name", "city"}, FaultUsers());
  InsertRows(exec, "fault_orders", {"order_id", "user_id", "amount"}, FaultOrders());
  done = true;
}

void PgSeedSweep(bool persistent) {
  PgSeedTables();
  auto c = PgConnect("qgtest");
  auto users = PgQuery(*c, kNativeUsers);
  auto orders = PgQuery(*c, kNativeOrders);
  REQUIRE(users.ok());
  REQUIRE(orders.ok());
  REQUIRE(users->rows.size() == 60);
  REQUIRE(orders->rows.size() > 64);
  for (const std::string strategy : {"", "per_binding"}) {
    SeedSweep("seed/postgres", {PgSourceJson("db_users"), PgSourceJson("db_orders")}, persistent,
              strategy, SortedKeys(*users, DebugKey), SortedKeys(*orders, DebugKey), CheckPgClean);
  }
}

TEST_CASE("fault: the seed graph on PostgreSQL, every driver call failing once",
          "[postgres][fault]") {
  PgSeedSweep(false);
}

TEST_CASE("fault: the seed graph on PostgreSQL, the source down from the N-th call on",
          "[postgres][fault]") {
  PgSeedSweep(true);
}
#endif

#if QG_WITH_MYSQL
void MySeedTables() {
  static bool done = false;
  if (done) return;
  auto c = MysqlConnect("qgtest");
  MyExec(*c, "DROP TABLE IF EXISTS fault_users");
  MyExec(*c, "DROP TABLE IF EXISTS fault_orders");
  MyExec(*c,
         "CREATE TABLE fault_users (id INT PRIMARY KEY, name VARCHAR(100) NOT NULL, city "
         "VARCHAR(20) NOT NULL) CHARACTER SET utf8mb4");
  MyExec(*c,
         "CREATE TABLE fault_orders (order_id INT PRIMARY KEY, user_id INT NOT NULL, amount "
         "DECIMAL(12,2) NOT NULL, KEY (user_id))");
  auto exec = [&](const std::string& sql, const ParamList& p) { MyExec(*c, sql, p); };
  InsertRows(exec, "fault_users", {"id", "name", "city"}, FaultUsers());
  InsertRows(exec, "fault_orders", {"order_id", "user_id", "amount"}, FaultOrders());
  done = true;
}

void MySeedSweep(bool persistent) {
  MySeedTables();
  auto c = MysqlConnect("qgtest");
  auto users = MyQuery(*c, kNativeUsers);
  auto orders = MyQuery(*c, kNativeOrders);
  REQUIRE(users.ok());
  REQUIRE(orders.ok());
  REQUIRE(users->rows.size() == 60);
  REQUIRE(orders->rows.size() > 64);
  for (const std::string strategy : {"", "per_binding"}) {
    SeedSweep("seed/mariadb", {MySourceJson("db_users"), MySourceJson("db_orders")}, persistent,
              strategy, SortedKeys(*users, DebugKey), SortedKeys(*orders, DebugKey), CheckMyClean);
  }
}

TEST_CASE("fault: the seed graph on MariaDB, every driver call failing once", "[mysql][fault]") {
  MySeedSweep(false);
}

TEST_CASE("fault: the seed graph on MariaDB, the source down from the N-th call on",
          "[mysql][fault]") {
  MySeedSweep(true);
}
#endif

// ---------------------------------------------------------------------------
// Writes in a 2pc / common transaction over PostgreSQL and MariaDB (and
// SQLite as the last resource).

#if QG_WITH_POSTGRES && QG_WITH_MYSQL
struct TxWorld {
  ScratchDir dir;
  bool with_lite = false;
  std::string lite() const { return dir.File("lite.sqlite"); }
};

void TxTables(TxWorld& w) {
  auto pg = PgConnect("qgtest");
  PgExec(*pg, "DROP TABLE IF EXISTS fault_tx");
  PgExec(*pg, "CREATE TABLE fault_tx (run int PRIMARY KEY, v text NOT NULL)");
  auto my = MysqlConnect("qgtest");
  MyExec(*my, "DROP TABLE IF EXISTS fault_tx");
  MyExec(*my, "CREATE TABLE fault_tx (run INT PRIMARY KEY, v VARCHAR(16) NOT NULL)");
  auto lite = NewSqliteProvider();
  ConnectRequest req;
  req.source_name = "lite";
  req.connect = w.lite();
  req.options = {{"create", "true"}};
  auto lc = lite->Connect(req);
  REQUIRE(lc.ok());
  auto st = RunQuery(*lite, **lc, "CREATE TABLE fault_tx (run INTEGER PRIMARY KEY, v TEXT)");
  INFO(st.status().ToString());
  REQUIRE(st.ok());
}

// w_pg -> w_my [-> w_lite] -> check (reads PostgreSQL inside the transaction).
std::string TxGraph(const std::string& mode, bool with_lite, int run) {
  std::string nodes = R"J(
    {"node_id": "w_pg", "database_id": "pg", "mode": "write",
     "query_string": "INSERT INTO fault_tx (run, v) VALUES (:run, 'pg')", "input_parameters": ["run"]},
    {"node_id": "w_my", "database_id": "my", "mode": "write",
     "query_string": "INSERT INTO fault_tx (run, v) VALUES (:run, 'my')", "input_parameters": ["run"]},
    {"node_id": "check", "database_id": "pg",
     "query_string": "SELECT count(*) AS n FROM fault_tx WHERE run = :run",
     "input_parameters": ["run"], "output_fields": ["n"]})J";
  std::string edges = R"({"source_node": "w_pg", "target_node": "w_my"},
    {"source_node": "w_my", "target_node": "check"})";
  if (with_lite) {
    nodes += R"J(,
    {"node_id": "w_lite", "database_id": "lite", "mode": "write",
     "query_string": "INSERT INTO fault_tx (run, v) VALUES (:run, 'lite')", "input_parameters": ["run"]})J";
    edges += R"(, {"source_node": "w_my", "target_node": "w_lite"})";
  }
  return absl::StrCat(R"({"transaction": ")", mode, R"(", "params": {"run": )", run,
                      R"(}, "nodes": [)", nodes, R"(], "edges": [)", edges, "]}");
}

int PgHas(int run) {
  return std::stoi(SuperSql("SELECT count(*) FROM fault_tx WHERE run = " + std::to_string(run)));
}
int MyHas(int run) {
  return std::stoi(
      AdminSql("SELECT count(*) FROM qgtest.fault_tx WHERE run = " + std::to_string(run)));
}
int LiteHas(const TxWorld& w, int run) {
  auto lite = NewSqliteProvider();
  ConnectRequest req;
  req.source_name = "lite";
  req.connect = w.lite();
  auto c = lite->Connect(req);
  REQUIRE(c.ok());
  auto rows = RunQuery(*lite, **c, "SELECT count(*) FROM fault_tx WHERE run = :run",
                       {{"run", Value::Int(run)}});
  REQUIRE(rows.ok());
  return static_cast<int>(rows->rows[0][0].as_int());
}

// A failed common transaction's message and `source`'s rows of the run: a
// commit whose outcome is unknown (its connection was lost during COMMIT)
// may have either; "committed on" means the row is there; else it is not.
bool CommonRowsAgree(const std::string& msg, const std::string& source, int rows) {
  INFO("source " << source << ": " << rows << " rows; " << msg);
  const std::string q = "\"" + source + "\"";
  if (msg.find("OUTCOME UNKNOWN on " + q) != std::string::npos) return rows == 0 || rows == 1;
  const bool committed = msg.find(": committed on " + q) != std::string::npos ||
                         msg.find("; committed on " + q) != std::string::npos;
  return rows == (committed ? 1 : 0);
}

void TxSweep(const std::string& mode, bool with_lite, bool persistent, FaultPlan::Where where) {
  TxWorld w;
  w.with_lite = with_lite;
  TxTables(w);
  std::vector<std::string> sources = {PgSourceJson("pg"), MySourceJson("my")};
  if (with_lite) {
    sources.push_back(R"({"name": "lite", "provider": "sqlite", "connect": ")" + w.lite() +
                      R"(", "options": {"pool_max": 2}})");
  }
  const bool two_phase = mode == "2pc";
  FaultSweepCase c;
  c.name = mode + (with_lite ? "/postgres+mariadb+sqlite" : "/postgres+mariadb");
  c.persistent = persistent;
  c.where = where;
  c.recover = two_phase;
  c.make_engine = [&](const std::shared_ptr<FaultPlan>& plan) {
    return FaultEngine(plan, sources, two_phase ? w.dir.File("tx.log") : "");
  };
  c.run = [&](Engine& e, int run) { return e.ExecuteJson(TxGraph(mode, with_lite, run)); };
  c.check = [&](Engine&, int run, const absl::StatusOr<GraphResult>& r) {
    const int pg = PgHas(run), my = MyHas(run);
    const int lite = with_lite ? LiteHas(w, run) : pg;
    INFO("run " << run << ": rows on pg " << pg << ", my " << my << ", lite " << lite);
    if (r.ok()) {
      CHECK((pg == 1 && my == 1 && lite == 1));
      const NodeResult* chk = r->FindNode("check");
      REQUIRE(chk != nullptr);
      REQUIRE(chk->num_rows == 1);
      CHECK(chk->columns[0].values[0].ToText() == "1");
    } else if (!two_phase) {
      // common: each source's rows agree with what the message says of it.
      const std::string msg(r.status().message());
      CHECK(CommonRowsAgree(msg, "my", my));
      CHECK(CommonRowsAgree(msg, "pg", pg));
    } else {
      CHECK((pg == 0 && my == 0 && lite == 0));
    }
  };
  c.check_servers = [] {
    CheckPgClean();
    CheckMyClean();
  };
  RunFaultSweep(c);
}

TEST_CASE("fault: 2pc over PostgreSQL, MariaDB and SQLite, every driver call failing once",
          "[postgres][mysql][fault][tx]") {
  TxSweep("2pc", true, false, FaultPlan::Where::kBefore);
}

TEST_CASE("fault: 2pc over PostgreSQL, MariaDB and SQLite, a source down from the N-th call on",
          "[postgres][mysql][fault][tx]") {
  TxSweep("2pc", true, true, FaultPlan::Where::kBefore);
}

TEST_CASE("fault: 2pc over PostgreSQL and MariaDB, the answer of the N-th call lost",
          "[postgres][mysql][fault][tx]") {
  TxSweep("2pc", false, false, FaultPlan::Where::kAfter);
  TxSweep("2pc", false, true, FaultPlan::Where::kAfter);
}

TEST_CASE("fault: common transaction over PostgreSQL and MariaDB, every call failing once",
          "[postgres][mysql][fault][tx]") {
  TxSweep("common", false, false, FaultPlan::Where::kBefore);
}

TEST_CASE("fault: common transaction over PostgreSQL and MariaDB, a source down",
          "[postgres][mysql][fault][tx]") {
  TxSweep("common", false, true, FaultPlan::Where::kBefore);
}

TEST_CASE("fault: common transaction over PostgreSQL and MariaDB, the answer of the N-th call lost",
          "[postgres][mysql][fault][tx]") {
  TxSweep("common", false, false, FaultPlan::Where::kAfter);
}
#endif

}  // namespace
}  // namespace qg::testing
