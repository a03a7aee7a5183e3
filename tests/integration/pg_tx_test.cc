// Transactions across real servers (issue 5, docs/design.md §10): `common` and
// `2pc` graphs writing PostgreSQL 15, MariaDB and SQLite.
//
//  - atomicity: a chain of n writes over the three sources where node k
//    fails leaves every table of every database exactly as before, for every
//    k, in common and in 2pc (SQLite as the last resource);
//  - crashes: a child process (child/tx_crash_child.cc) is SIGKILLed at each
//    injection point of the two-phase commit; reopening the engine on the same
//    coordinator log (or Recover()) leaves none of our branches prepared and
//    every source agreeing with the logged decision;
//  - a participant lost between PREPARE and COMMIT (backend terminated /
//    session KILLed / server stopped) is committed, at once or by Recover();
//  - savepoints: a failed on_error=continue node rolls back alone;
//  - pass-through EXECUTE STATEMENT … WITHIN COMMON [2PC] TRANSACTION;
//  - a serialization failure on PostgreSQL fails the graph with kAborted.
//
// Every test uses its own transaction_prefix ("qgit…") so no test resolves
// another's branches; leftovers of an earlier failed run are rolled back at
// the start of each test (before its tables are dropped).
#include <signal.h>
#include <spawn.h>
#include <sqlite3.h>
#include <stdlib.h>
#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <atomic>
#include <catch2/catch.hpp>
#include <filesystem>
#include <functional>
#include <string>
#include <thread>
#include <vector>

#include "absl/strings/str_cat.h"
#include "engine_checks.h"
#include "pg_util.h"
#include "qg/catalog.h"
#include "qg/catalog_store.h"
#include "qg/engine.h"
#include "qg/transaction.h"
#if QG_WITH_MYSQL
#include "mysql_util.h"
#endif

extern char** environ;

namespace qg::testing {
namespace {

// ---------------------------------------------------------------------------
// Scratch files.

class TempDir {
 public:
  TempDir() {
    std::string tmpl = std::filesystem::temp_directory_path().string() + "/qg_tx_XXXXXX";
    REQUIRE(mkdtemp(tmpl.data()) != nullptr);
    path_ = tmpl;
  }
  ~TempDir() {
    std::error_code ec;
    std::filesystem::remove_all(path_, ec);
  }
  TempDir(const TempDir&) = delete;
  TempDir& operator=(const TempDir&) = delete;
  std::string File(const std::string& name) const { return path_ + "/" + name; }

 private:
  std::string path_;
};

// ---------------------------------------------------------------------------
// SQLite, directly.

[[maybe_unused]] void LiteExec(const std::string& file, const std::string& sql,
                               const ParamList& params = {}) {
  sqlite3* db = nullptr;
  REQUIRE(sqlite3_open(file.c_str(), &db) == SQLITE_OK);
  sqlite3_stmt* st = nullptr;
  int rc = sqlite3_prepare_v2(db, sql.c_str(), -1, &st, nullptr);
  INFO(sql << ": " << sqlite3_errmsg(db));
  REQUIRE(rc == SQLITE_OK);
  for (size_t i = 0; i < params.size(); ++i) {
    const Value& v = params[i].second;
    const int idx = sqlite3_bind_parameter_index(st, (":" + params[i].first).c_str());
    REQUIRE(idx > 0);
    if (v.type() == ValueType::kInt64) {
      sqlite3_bind_int64(st, idx, v.as_int());
    } else {
      const std::string text = v.ToText();
      sqlite3_bind_text(st, idx, text.c_str(), static_cast<int>(text.size()), SQLITE_TRANSIENT);
    }
  }
  rc = sqlite3_step(st);
  INFO(sqlite3_errmsg(db));
  CHECK(rc == SQLITE_DONE);
  sqlite3_finalize(st);
  sqlite3_close(db);
}

// Every row of every table of the file, as text, tables and rows sorted.
[[maybe_unused]] std::string LiteSnapshot(const std::string& file) {
  sqlite3* db = nullptr;
  REQUIRE(sqlite3_open_v2(file.c_str(), &db, SQLITE_OPEN_READONLY, nullptr) == SQLITE_OK);
  std::vector<std::string> tables;
  sqlite3_stmt* st = nullptr;
  REQUIRE(sqlite3_prepare_v2(db,
                             "SELECT name FROM sqlite_master WHERE type = 'table' AND name NOT "
                             "LIKE 'sqlite_%' ORDER BY name",
                             -1, &st, nullptr) == SQLITE_OK);
  while (sqlite3_step(st) == SQLITE_ROW) {
    tables.emplace_back(reinterpret_cast<const char*>(sqlite3_column_text(st, 0)));
  }
  sqlite3_finalize(st);
  std::string out;
  for (const std::string& t : tables) {
    out += t + ":";
    std::string q = "SELECT * FROM \"" + t + "\"";
    REQUIRE(sqlite3_prepare_v2(db, q.c_str(), -1, &st, nullptr) == SQLITE_OK);
    std::vector<std::string> rows;
    while (sqlite3_step(st) == SQLITE_ROW) {
      std::string row;
      for (int c = 0; c < sqlite3_column_count(st); ++c) {
        const unsigned char* v = sqlite3_column_text(st, c);
        row += (v == nullptr ? std::string("\\N") : reinterpret_cast<const char*>(v)) + "|";
      }
      rows.push_back(row);
    }
    sqlite3_finalize(st);
    std::sort(rows.begin(), rows.end());
    for (const std::string& r : rows) out += r + ";";
    out += "\n";
  }
  sqlite3_close(db);
  return out;
}

// ---------------------------------------------------------------------------
// PostgreSQL and MariaDB, directly.

// md5 of every row (sorted) of every table in every user schema of qgtest.
// Every table of the test database but the benches' (bench/ may share the
// test servers; checksumming its million-row tables took minutes).
[[maybe_unused]] std::string PgSnapshot() {
  return SuperSql(
      "SELECT string_agg(table_schema || '.' || table_name || '=' || "
      "md5(query_to_xml(format('SELECT * FROM %I.%I t ORDER BY t::text', table_schema, "
      "table_name), true, false, '')::text), ',' ORDER BY table_schema, table_name) "
      "FROM information_schema.tables WHERE table_type = 'BASE TABLE' AND table_schema NOT IN "
      "('pg_catalog', 'information_schema') AND table_name NOT LIKE 'bench\\_%'");
}

[[maybe_unused]] int64_t PgCount(const std::string& sql, const ParamList& params = {}) {
  auto c = PgConnect("qgtest");
  auto r = PgQuery(*c, sql, params);
  INFO(sql << " -> " << r.status().ToString());
  REQUIRE(r.ok());
  REQUIRE(r->rows.size() == 1);
  return r->rows[0][0].as_int();
}

// Prepared transactions whose gid starts with "<prefix>.".
[[maybe_unused]] int64_t PgPrepared(const std::string& prefix) {
  return PgCount("SELECT count(*) FROM pg_prepared_xacts WHERE starts_with(gid, CAST(:p AS text))",
                 {{"p", Value::String(prefix + ".")}});
}

// Rows of `table` (PostgreSQL, qgtest) as "id|v" sorted by id.
std::vector<std::string> PgRows(const std::string& table) {
  auto c = PgConnect("qgtest");
  auto r = PgQuery(*c, "SELECT id, v FROM " + table + " ORDER BY id");
  REQUIRE(r.ok());
  std::vector<std::string> out;
  for (const auto& row : r->rows) out.push_back(row[0].ToText() + "|" + row[1].ToText());
  return out;
}

// Rolls back every prepared branch of PostgreSQL whose gid starts with
// `prefix` (leftovers of a failed earlier run: they would lock our tables).
void PgRollbackPrepared(const std::string& prefix) {
  for (int i = 0; i < 100; ++i) {
    const std::string gid = SuperSql("SELECT gid FROM pg_prepared_xacts WHERE starts_with(gid, '" +
                                     prefix + "') AND database = current_database() LIMIT 1");
    if (gid.empty()) return;
    SuperSql("ROLLBACK PREPARED '" + gid + "'");
  }
}

// (Re)creates `table` (id int primary key, v text) holding (1, 'one').
void PgResetTable(const std::string& table) {
  auto c = PgConnect("qgtest");
  PgExec(*c, "DROP TABLE IF EXISTS " + table);
  PgExec(*c, "CREATE TABLE " + table + " (id int PRIMARY KEY, v text NOT NULL)");
  PgExec(*c, "INSERT INTO " + table + " (id, v) VALUES (:id, :v)",
         {{"id", Value::Int(1)}, {"v", Value::String("one")}});
}

#if QG_WITH_MYSQL
// CHECKSUM TABLE of every base table of qgtest.
std::string MySnapshot() {
  auto tables = AdminRows(
      "SELECT table_name FROM information_schema.tables WHERE table_schema = 'qgtest' AND "
      "table_type = 'BASE TABLE' AND table_name NOT LIKE 'bench\\_%' ORDER BY table_name");
  std::string out;
  for (const auto& t : tables) {
    auto rows = AdminRows("CHECKSUM TABLE qgtest.`" + t[0] + "`");
    REQUIRE(rows.size() == 1);
    out += rows[0][0] + "=" + rows[0][1] + ",";
  }
  return out;
}

int64_t MyCount(const std::string& sql, const ParamList& params = {}) {
  auto c = MysqlConnect("qgtest");
  auto rows = MyRows(*c, sql, params);
  REQUIRE(rows.rows.size() == 1);
  return rows.rows[0][0].as_int();
}

// Prepared XA branches whose gtrid starts with "<prefix>." (XA RECOVER).
int64_t MyPrepared(const std::string& prefix) {
  int64_t n = 0;
  for (const auto& r : AdminRows("XA RECOVER")) {
    REQUIRE(r.size() >= 4);
    const std::string gtrid = r[3].substr(0, std::stoul(r[1]));
    if (gtrid.rfind(prefix + ".", 0) == 0) ++n;
  }
  return n;
}

std::vector<std::string> MyTableRows(const std::string& table) {
  auto c = MysqlConnect("qgtest");
  auto rows = MyRows(*c, "SELECT id, v FROM " + table + " ORDER BY id");
  std::vector<std::string> out;
  for (const auto& row : rows.rows) out.push_back(row[0].ToText() + "|" + row[1].ToText());
  return out;
}

void MyRollbackPrepared(const std::string& prefix) {
  for (const auto& r : AdminRows("XA RECOVER")) {
    const std::string gtrid = r[3].substr(0, std::stoul(r[1]));
    if (gtrid.rfind(prefix, 0) == 0) AdminSql("XA ROLLBACK '" + gtrid + "'");
  }
}

void MyResetTable(const std::string& table) {
  auto c = MysqlConnect("qgtest");
  MyExec(*c, "DROP TABLE IF EXISTS " + table);
  MyExec(*c, "CREATE TABLE " + table + " (id INT PRIMARY KEY, v VARCHAR(64) NOT NULL)");
  MyExec(*c, "INSERT INTO " + table + " (id, v) VALUES (:id, :v)",
         {{"id", Value::Int(1)}, {"v", Value::String("one")}});
}

// The qg sessions of MariaDB are gone (a killed client's session lingers a
// moment; its prepared branch can be committed elsewhere only afterwards).
void WaitMysqlSessionsGone() {
  CHECK(PollUntil([] { return QgMysqlSessions() == 0; }, 10000));
}
#endif

// Every test's prefix starts with this; leftovers are rolled back on start.
constexpr const char* kPrefixRoot = "qgit";

void CleanLeftovers() {
  PgRollbackPrepared(kPrefixRoot);
#if QG_WITH_MYSQL
  MyRollbackPrepared(kPrefixRoot);
#endif
}

// ---------------------------------------------------------------------------
// Engines.

std::string PgSourceJson(const std::string& name, const std::string& connect_extra = "") {
  PgServer pg = RequirePg();
  return R"({"name": ")" + name + R"(", "provider": "postgres", "connect": ")" +
         pg.ConnectFor("qgtest") + connect_extra +
         R"(", "user": "qg", "password": {"env": "QG_TEST_PG_PASSWORD"},
            "options": {"pool_max": 4, "acquire_timeout": "2s", "connect_timeout": "2s"}})";
}

#if QG_WITH_MYSQL
std::string MySourceJson(const std::string& name) {
  MysqlServer s = RequireMysql();
  return R"({"name": ")" + name + R"(", "provider": "mysql", "connect": ")" +
         s.ConnectFor("qgtest") +
         R"(", "user": "qg", "password": {"env": "QG_TEST_MYSQL_PASSWORD"},
            "options": {"pool_max": 4, "acquire_timeout": "2s", "connect_timeout": "2s"}})";
}
#endif

[[maybe_unused]] std::string LiteSourceJson(const std::string& name, const std::string& file) {
  return R"({"name": ")" + name + R"(", "provider": "sqlite", "connect": ")" + file + R"("})";
}

std::string CatalogOf(const std::vector<std::string>& sources) {
  std::string json = R"({"sources": [)";
  for (size_t i = 0; i < sources.size(); ++i) json += (i ? "," : "") + sources[i];
  return json + "]}";
}

// An engine with prefix `prefix`, coordinator log `log` ("" for none) and
// the catalog `sources`.
std::unique_ptr<Engine> TxEngine(const std::string& prefix, const std::string& log,
                                 const std::vector<std::string>& sources,
                                 TransactionHook hook = {}) {
  EngineOptions o;
  o.transaction_prefix = prefix;
  o.coordinator_log = log;
  o.transaction_hook = std::move(hook);
  auto e = Engine::Create(std::move(o));
  INFO(e.status().ToString());
  REQUIRE(e.ok());
  absl::Status st = (*e)->LoadCatalogJson(CatalogOf(sources));
  INFO(st.ToString());
  REQUIRE(st.ok());
  return std::move(*e);
}

std::string Msg(const absl::Status& s) { return std::string(s.message()); }

[[maybe_unused]] bool StartsWith(const std::string& s, const std::string& p) {
  return s.rfind(p, 0) == 0;
}

#if QG_WITH_MYSQL

// ---------------------------------------------------------------------------
// a. Atomicity over PostgreSQL, MariaDB and SQLite.

struct Hop {
  const char* source;
  const char* table;
};
constexpr Hop kHops[] = {{"pg", "tx_pg"}, {"my", "tx_my"}, {"lite", "tx_lite"}};

// n write nodes w0..w{n-1} over pg, my, lite in turn, chained by ordering
// edges (no input_mapping); node i inserts (base + i, 'w<i>') — or the
// existing key 1 when i == failing. Every value is a bound parameter.
std::string WriteChain(int n, int failing, const std::string& mode, int base) {
  std::string nodes, edges, params;
  for (int i = 0; i < n; ++i) {
    const Hop& h = kHops[i % 3];
    const std::string k = absl::StrCat(i);
    const int id = i == failing ? 1 : base + i;
    if (i > 0) {
      absl::StrAppend(&nodes, ",");
      absl::StrAppend(&params, ",");
    }
    absl::StrAppend(&params, "\"id", k, "\": ", id, ", \"v", k, "\": \"w", k, "\"");
    absl::StrAppend(&nodes, "{\"node_id\": \"w", k, "\", \"database_id\": \"", h.source,
                    "\", \"mode\": \"write\", \"query_string\": \"INSERT INTO ", h.table,
                    " (id, v) VALUES (:id", k, ", :v", k, ")\", \"input_parameters\": [\"id", k,
                    "\", \"v", k, "\"]}");
    if (i > 0) {
      absl::StrAppend(&edges, i > 1 ? "," : "", "{\"source_node\": \"w", i - 1,
                      "\", \"target_node\": \"w", k, "\"}");
    }
  }
  return absl::StrCat("{\"transaction\": \"", mode, "\", \"params\": {", params, "}, \"nodes\": [",
                      nodes, "], \"edges\": [", edges, "]}");
}

struct Snapshot {
  std::string pg, my, lite;
  bool operator==(const Snapshot&) const = default;
};

Snapshot TakeSnapshot(const std::string& lite_file) {
  return Snapshot{PgSnapshot(), MySnapshot(), LiteSnapshot(lite_file)};
}

TEST_CASE("tx: node k of n fails over PostgreSQL, MariaDB and SQLite: all three stay as before",
          "[postgres][mysql][tx]") {
  const std::string prefix = "qgitatom";
  CleanLeftovers();
  PgResetTable("tx_pg");
  MyResetTable("tx_my");
  TempDir dir;
  const std::string lite = dir.File("lite.sqlite");
  LiteExec(lite, "CREATE TABLE tx_lite (id INTEGER PRIMARY KEY, v TEXT NOT NULL)");
  LiteExec(lite, "INSERT INTO tx_lite (id, v) VALUES (:id, :v)",
           {{"id", Value::Int(1)}, {"v", Value::String("one")}});
  LiteExec(lite, "CREATE TABLE other (k TEXT)");
  auto engine = TxEngine(prefix, dir.File("tx.log"),
                         {PgSourceJson("pg"), MySourceJson("my"), LiteSourceJson("lite", lite)});

  const Snapshot before = TakeSnapshot(lite);
  const int n = 7;  // w0..w6: pg, my, lite, pg, my, lite, pg
  for (const std::string mode : {"common", "2pc"}) {
    for (int k = 0; k < n; ++k) {
      INFO("mode " << mode << ", failing node w" << k);
      auto r = engine->ExecuteJson(WriteChain(n, k, mode, 1000));
      REQUIRE_FALSE(r.ok());
      INFO(r.status().ToString());
      // Duplicate key: kAlreadyExists on all three (PostgreSQL 23505).
      CHECK(r.status().code() == absl::StatusCode::kAlreadyExists);
      CHECK_THAT(Msg(r.status()), Catch::Contains("node \"w" + std::to_string(k) + "\"") &&
                                      Catch::Contains("rolled back on every source"));
      CHECK(TakeSnapshot(lite) == before);
      CHECK(InUse(*engine) == 0);
      CHECK(PgPrepared(prefix) == 0);
      CHECK(MyPrepared(prefix) == 0);
    }
  }

  // The autonomous mode keeps what ran before the failure: the snapshots do
  // see these writes.
  {
    auto r = engine->ExecuteJson(WriteChain(n, 3, "autonomous", 900));
    REQUIRE_FALSE(r.ok());
    const Snapshot after = TakeSnapshot(lite);
    CHECK_FALSE(after.pg == before.pg);      // w0
    CHECK_FALSE(after.my == before.my);      // w1
    CHECK_FALSE(after.lite == before.lite);  // w2
    PgResetTable("tx_pg");
    MyResetTable("tx_my");
    LiteExec(lite, "DELETE FROM tx_lite WHERE id <> 1");
    REQUIRE(TakeSnapshot(lite) == before);
  }

  // Success commits on all three and reports every participant.
  int base = 2000;
  for (const std::string mode : {"common", "2pc"}) {
    INFO("mode " << mode);
    auto r = engine->ExecuteJson(WriteChain(n, -1, mode, base));
    INFO(r.status().ToString());
    REQUIRE(r.ok());
    auto id = [&](int i) { return std::to_string(base + i); };
    std::vector<std::string> pg = PgRows("tx_pg"), my = MyTableRows("tx_my");
    CHECK(std::count(pg.begin(), pg.end(), id(0) + "|w0") == 1);
    CHECK(std::count(pg.begin(), pg.end(), id(3) + "|w3") == 1);
    CHECK(std::count(pg.begin(), pg.end(), id(6) + "|w6") == 1);
    CHECK(std::count(my.begin(), my.end(), id(1) + "|w1") == 1);
    CHECK(std::count(my.begin(), my.end(), id(4) + "|w4") == 1);
    const std::string ls = LiteSnapshot(lite);
    CHECK_THAT(ls, Catch::Contains(id(2) + "|w2|") && Catch::Contains(id(5) + "|w5|"));

    const TransactionReport& tx = r->transaction;
    CHECK(tx.mode == mode);
    REQUIRE(tx.participants.size() == 3);
    std::vector<std::string> sources;
    for (const ParticipantOutcome& p : tx.participants) {
      INFO("participant " << p.source << ": " << p.error);
      sources.push_back(p.source);
      CHECK(p.state == ParticipantState::kCommitted);
      CHECK(p.error.empty());
      if (mode == "2pc") {
        CHECK(p.last_resource == (p.source == "lite"));
        if (p.source == "lite") {
          CHECK(p.gid.empty());
        } else {
          CHECK(StartsWith(p.gid, prefix + "." + tx.id + "."));
        }
      } else {
        CHECK(p.gid.empty());
        CHECK_FALSE(p.last_resource);
      }
    }
    std::sort(sources.begin(), sources.end());
    CHECK(sources == std::vector<std::string>{"lite", "my", "pg"});
    if (mode == "2pc") {
      CHECK(tx.id.size() == 16);
      // The last resource commits last.
      CHECK(tx.participants.back().source == "lite");
    }
    for (int i = 0; i < n; ++i) {
      const NodeResult* w = r->FindNode(absl::StrCat("w", i));
      REQUIRE(w != nullptr);
      CHECK(w->stats.rows_affected == 1);
    }
    CHECK(InUse(*engine) == 0);
    CHECK(PgPrepared(prefix) == 0);
    CHECK(MyPrepared(prefix) == 0);
    base += 1000;
  }
  // Nothing was left in the coordinator log.
  auto rec = engine->Recover();
  REQUIRE(rec.ok());
  CHECK(rec->resolved_log == 0);
  CHECK(rec->committed == 0);
  CHECK(rec->rolled_back == 0);
  CHECK(rec->unresolved.empty());
}

// ---------------------------------------------------------------------------
// b. Crash tests: the coordinator dies (SIGKILL) at each injection point.

struct ChildExit {
  bool signaled = false;
  int signal = 0;
  int code = -1;
};

ChildExit RunChild(const std::vector<std::string>& args) {
  std::vector<char*> argv;
  std::string path = QG_TX_CRASH_CHILD;
  argv.push_back(path.data());
  std::vector<std::string> copy = args;
  for (std::string& a : copy) argv.push_back(a.data());
  argv.push_back(nullptr);
  pid_t pid = 0;
  int rc = posix_spawn(&pid, path.c_str(), nullptr, nullptr, argv.data(), environ);
  INFO("posix_spawn " << path << ": " << rc);
  REQUIRE(rc == 0);
  int status = 0;
  REQUIRE(waitpid(pid, &status, 0) == pid);
  ChildExit out;
  out.signaled = WIFSIGNALED(status);
  if (out.signaled) out.signal = WTERMSIG(status);
  if (WIFEXITED(status)) out.code = WEXITSTATUS(status);
  return out;
}

// The catalog file the child (and the reopened engine) load: sources "pg"
// and "my" on qgtest.
void WriteCatalogFile(const std::string& path) {
  auto catalog = Catalog::FromJson(CatalogOf({PgSourceJson("pg"), MySourceJson("my")}));
  INFO(catalog.status().ToString());
  REQUIRE(catalog.ok());
  auto store = CatalogStore::Open(path);
  REQUIRE(store.ok());
  REQUIRE((*store)->Save(*catalog).ok());
}

int64_t PgHas(int id) {
  return PgCount("SELECT count(*) FROM tx_crash WHERE id = :id", {{"id", Value::Int(id)}});
}
int64_t MyHas(int id) {
  return MyCount("SELECT count(*) FROM tx_crash WHERE id = :id", {{"id", Value::Int(id)}});
}

struct CrashCase {
  std::string point;
  bool commit;         // the logged decision
  int prepared_after;  // our branches prepared right after the crash (pg + my)
  int committed_by_recover;
  int rolled_back_by_recover;
};

// Crashes the child at `c.point` writing row `id`, then recovers with a
// reopened engine (recover_on_open) or an explicit Recover(). With `json`
// the engine reopens through Engine::CreateWithCatalogJson, its sources given
// as JSON: it must recover once they are loaded, not before.
void CheckCrash(const CrashCase& c, bool reopen, int id, bool json = false) {
  const std::string prefix = std::string(kPrefixRoot) + "cr" + std::to_string(id);
  INFO("point " << c.point << (reopen ? ", reopen" : ", Recover()") << ", prefix " << prefix);
  TempDir dir;
  const std::string catalog = dir.File("catalog.db"), log = dir.File("tx.log");
  WriteCatalogFile(catalog);

  ChildExit ex = RunChild({c.point, catalog, log, prefix, std::to_string(id)});
  REQUIRE(ex.signaled);
  REQUIRE(ex.signal == SIGKILL);
  // The killed client's MariaDB session goes away (its branch stays).
  WaitMysqlSessionsGone();

  // Something of ours is prepared right after the crash.
  const int64_t pg_prepared = PgPrepared(prefix), my_prepared = MyPrepared(prefix);
  CHECK(pg_prepared + my_prepared == c.prepared_after);
  if (c.point != "between_commits") {
    CHECK(pg_prepared == 1);
    CHECK(my_prepared == 1);
  } else {
    // The branch committed before the crash is visible on its source.
    if (pg_prepared == 0) CHECK(PgHas(id) == 1);
    if (my_prepared == 0) CHECK(MyHas(id) == 1);
  }

  EngineOptions o;
  if (!json) o.catalog_path = catalog;
  o.coordinator_log = log;
  o.transaction_prefix = prefix;
  o.recover_on_open = reopen;
  auto engine = json ? Engine::CreateWithCatalogJson(
                           std::move(o), CatalogOf({PgSourceJson("pg"), MySourceJson("my")}))
                     : Engine::Create(std::move(o));
  INFO(engine.status().ToString());
  REQUIRE(engine.ok());
  auto rec = (*engine)->Recover();
  INFO(rec.status().ToString());
  REQUIRE(rec.ok());
  INFO("recover: committed " << rec->committed << ", rolled_back " << rec->rolled_back
                             << ", resolved_log " << rec->resolved_log << ", unresolved "
                             << rec->unresolved.size());
  for (const std::string& u : rec->unresolved) UNSCOPED_INFO("unresolved: " << u);
  CHECK(rec->unresolved.empty());
  if (reopen) {
    // Create() recovered already: nothing is left for this call.
    CHECK(rec->committed == 0);
    CHECK(rec->rolled_back == 0);
    CHECK(rec->resolved_log == 0);
  } else {
    CHECK(rec->committed == c.committed_by_recover);
    CHECK(rec->rolled_back == c.rolled_back_by_recover);
    CHECK(rec->resolved_log == 1);
  }
  CHECK(PgPrepared(prefix) == 0);
  CHECK(MyPrepared(prefix) == 0);
  const int64_t want = c.commit ? 1 : 0;
  CHECK(PgHas(id) == want);
  CHECK(MyHas(id) == want);
  CHECK(InUse(**engine) == 0);
}

TEST_CASE("tx crash: the coordinator killed at each 2pc point is resolved by recovery",
          "[postgres][mysql][tx][crash]") {
  CleanLeftovers();
  PgResetTable("tx_crash");
  MyResetTable("tx_crash");

  SECTION("the child commits when not killed") {
    TempDir dir;
    const std::string catalog = dir.File("catalog.db"), log = dir.File("tx.log");
    WriteCatalogFile(catalog);
    ChildExit ex = RunChild({"none", catalog, log, std::string(kPrefixRoot) + "crok", "10"});
    CHECK_FALSE(ex.signaled);
    CHECK(ex.code == 0);
    CHECK(PgHas(10) == 1);
    CHECK(MyHas(10) == 1);
    CHECK(PgPrepared(std::string(kPrefixRoot) + "crok") == 0);
    CHECK(MyPrepared(std::string(kPrefixRoot) + "crok") == 0);
  }
  SECTION("after_prepare: no decision, rolled back everywhere") {
    const CrashCase c{"after_prepare", false, 2, 0, 2};
    CheckCrash(c, /*reopen=*/true, 21);
    CheckCrash(c, /*reopen=*/true, 23, /*json=*/true);
    CheckCrash(c, /*reopen=*/false, 22);
  }
  SECTION("after_decision: committed everywhere") {
    const CrashCase c{"after_decision", true, 2, 2, 0};
    CheckCrash(c, /*reopen=*/true, 31);
    CheckCrash(c, /*reopen=*/true, 33, /*json=*/true);
    CheckCrash(c, /*reopen=*/false, 32);
  }
  SECTION("between_commits: committed everywhere") {
    const CrashCase c{"between_commits", true, 1, 1, 0};
    CheckCrash(c, /*reopen=*/true, 41);
    CheckCrash(c, /*reopen=*/true, 43, /*json=*/true);
    CheckCrash(c, /*reopen=*/false, 42);
  }
}

// ---------------------------------------------------------------------------
// c. A participant lost between PREPARE and COMMIT.

// A 2pc graph inserting (id, v) into tx_lost on "pg" and on "my".
std::string LostGraph(int id) {
  return R"J({"transaction": "2pc", "params": {"id": )J" + std::to_string(id) +
         R"J(, "v": "lost"}, "nodes": [
      {"node_id": "wp", "database_id": "pg", "mode": "write",
       "query_string": "INSERT INTO tx_lost (id, v) VALUES (:id, :v)",
       "input_parameters": ["id", "v"]},
      {"node_id": "wm", "database_id": "my", "mode": "write",
       "query_string": "INSERT INTO tx_lost (id, v) VALUES (:id, :v)",
       "input_parameters": ["id", "v"]}],
    "edges": [{"source_node": "wp", "target_node": "wm"}]})J";
}

const ParticipantOutcome* Outcome(const GraphResult& r, const std::string& source) {
  for (const auto& p : r.transaction.participants) {
    if (p.source == source) return &p;
  }
  return nullptr;
}

int64_t LostRows(bool pg, int id) {
  const std::string sql = "SELECT count(*) FROM tx_lost WHERE id = :id";
  return pg ? PgCount(sql, {{"id", Value::Int(id)}}) : MyCount(sql, {{"id", Value::Int(id)}});
}

// Runs LostGraph(id) on a fresh engine whose after_decision hook runs
// `lose`; then (server back) checks the row is committed on both sources
// (by the graph or by Recover()) and nothing of ours stays prepared.
// `victim` is "pg" or "my"; `must_pend` requires the victim's participant
// to be reported kCommitPending (its server was down).
void CheckLostParticipant(const std::string& prefix, int id, const std::string& victim,
                          const std::function<void()>& lose, const std::function<void()>& revive,
                          bool must_pend) {
  CleanLeftovers();
  PgResetTable("tx_lost");
  MyResetTable("tx_lost");
  TempDir dir;
  std::atomic<int> hooked{0};
  auto engine = TxEngine(prefix, dir.File("tx.log"), {PgSourceJson("pg"), MySourceJson("my")},
                         [&](std::string_view point) {
                           // Only the first graph loses its participant.
                           if (point == "after_decision" && hooked++ == 0) lose();
                         });
  auto r = engine->ExecuteJson(LostGraph(id));
  INFO(r.status().ToString());
  REQUIRE(r.ok());
  CHECK(hooked.load() == 1);
  const ParticipantOutcome* v = Outcome(*r, victim);
  REQUIRE(v != nullptr);
  INFO("victim " << victim << ": " << ParticipantStateName(v->state) << " " << v->error);
  CHECK((v->state == ParticipantState::kCommitted || v->state == ParticipantState::kCommitPending));
  if (must_pend) CHECK(v->state == ParticipantState::kCommitPending);
  const std::string other = victim == "pg" ? "my" : "pg";
  const ParticipantOutcome* o = Outcome(*r, other);
  REQUIRE(o != nullptr);
  CHECK(o->state == ParticipantState::kCommitted);
  CHECK(InUse(*engine) == 0);

  revive();
  if (v->state == ParticipantState::kCommitPending) {
    CHECK_THAT(v->error, Catch::Contains("Recover"));
    // Still in doubt on the victim until recovery.
    CHECK((victim == "pg" ? PgPrepared(prefix) : MyPrepared(prefix)) == 1);
    auto rec = engine->Recover();
    INFO(rec.status().ToString());
    REQUIRE(rec.ok());
    for (const std::string& u : rec->unresolved) UNSCOPED_INFO("unresolved: " << u);
    CHECK(rec->unresolved.empty());
    CHECK(rec->committed == 1);
    CHECK(rec->rolled_back == 0);
    CHECK(rec->resolved_log == 1);
  } else {
    auto rec = engine->Recover();
    REQUIRE(rec.ok());
    CHECK(rec->committed == 0);
    CHECK(rec->rolled_back == 0);
  }
  CHECK(LostRows(true, id) == 1);
  CHECK(LostRows(false, id) == 1);
  CHECK(PgPrepared(prefix) == 0);
  CHECK(MyPrepared(prefix) == 0);
  CHECK(InUse(*engine) == 0);
  // The engine works on after the loss.
  auto again = engine->ExecuteJson(LostGraph(id + 1));
  INFO(again.status().ToString());
  CHECK(again.ok());
  CHECK(LostRows(true, id + 1) == 1);
  CHECK(LostRows(false, id + 1) == 1);
}

TEST_CASE("tx: a PostgreSQL backend terminated between PREPARE and COMMIT is committed",
          "[postgres][mysql][tx]") {
  CheckLostParticipant(
      "qgitlostpg", 100, "pg",
      [] {
        // The pinned session is the engine's only qg backend on qgtest.
        CHECK(SuperSql("SELECT count(pg_terminate_backend(pid)) FROM pg_stat_activity WHERE "
                       "usename = 'qg' AND datname = 'qgtest' AND backend_type = 'client "
                       "backend'") == "1");
        CHECK(WaitFor([] { return QgSessionCount() == 0; }, 5000));
      },
      [] {}, /*must_pend=*/false);
}

TEST_CASE("tx: PostgreSQL stopped between PREPARE and COMMIT is committed by Recover()",
          "[postgres][mysql][tx][restart]") {
  CheckLostParticipant(
      "qgitstoppg", 200, "pg", [] { StopPostgres(); }, [] { StartPostgres(); },
      /*must_pend=*/true);
}

TEST_CASE("tx: a MariaDB session KILLed between PREPARE and COMMIT is committed",
          "[postgres][mysql][tx]") {
  std::string killed;
  CheckLostParticipant(
      "qgitlostmy", 300, "my",
      [&] {
        // The pinned session is the engine's only qg session on qgtest.
        auto ids = AdminRows(
            "SELECT ID FROM information_schema.PROCESSLIST WHERE USER = 'qg' AND DB = 'qgtest'");
        REQUIRE(ids.size() == 1);
        killed = ids[0][0];
        AdminSql("KILL " + killed);
      },
      [&] {
        // Recovery can take the branch over once the killed session is gone.
        CHECK(PollUntil([&] { return MysqlSessionInfo(killed).empty(); }, 10000));
      },
      /*must_pend=*/false);
}

TEST_CASE("tx: MariaDB stopped between PREPARE and COMMIT is committed by Recover()",
          "[postgres][mysql][tx][restart]") {
  CheckLostParticipant(
      "qgitstopmy", 400, "my", [] { StopMariadb(); }, [] { StartMariadb(); },
      /*must_pend=*/true);
}

// ---------------------------------------------------------------------------
// d. Savepoints.

// src (pg) yields ids 7, 8, 1; ins_pg / ins_my insert them one per binding
// into tx_sp with on_error=continue: the third (1) exists, so each fails after
// two inserts. after_pg / after_my (independent of them: a failed node's
// dependents are skipped) write id 50 on the same pinned connections.
std::string SavepointGraph(const std::string& mode) {
  return R"J({"transaction": ")J" + mode + R"J(", "params": {"a": 50, "va": "after", "vi": "ins"},
   "nodes": [
    {"node_id": "src", "database_id": "pg",
     "query_string": "SELECT 7 AS id UNION ALL SELECT 8 UNION ALL SELECT 1",
     "output_fields": ["id"]},
    {"node_id": "ins_pg", "database_id": "pg", "mode": "write", "on_error": "continue",
     "strategy": "per_binding",
     "query_string": "INSERT INTO tx_sp (id, v) VALUES (:id, :vi)",
     "input_parameters": ["id", "vi"]},
    {"node_id": "ins_my", "database_id": "my", "mode": "write", "on_error": "continue",
     "strategy": "per_binding",
     "query_string": "INSERT INTO tx_sp (id, v) VALUES (:id, :vi)",
     "input_parameters": ["id", "vi"]},
    {"node_id": "after_pg", "database_id": "pg", "mode": "write",
     "query_string": "INSERT INTO tx_sp (id, v) VALUES (:a, :va)", "input_parameters": ["a", "va"]},
    {"node_id": "after_my", "database_id": "my", "mode": "write",
     "query_string": "INSERT INTO tx_sp (id, v) VALUES (:a, :va)", "input_parameters": ["a", "va"]}],
   "edges": [
    {"source_node": "src", "target_node": "ins_pg", "input_mapping": {"src.id": "ins_pg.id"}},
    {"source_node": "src", "target_node": "ins_my", "input_mapping": {"src.id": "ins_my.id"}}]})J";
}

TEST_CASE("tx: a failed on_error=continue node rolls back alone to its savepoint",
          "[postgres][mysql][tx]") {
  const std::string prefix = "qgitsp";
  CleanLeftovers();
  TempDir dir;
  auto engine = TxEngine(prefix, dir.File("tx.log"), {PgSourceJson("pg"), MySourceJson("my")});
  for (const std::string mode : {"common", "2pc", "autonomous"}) {
    INFO("mode " << mode);
    PgResetTable("tx_sp");
    MyResetTable("tx_sp");
    auto r = engine->ExecuteJson(SavepointGraph(mode));
    INFO(r.status().ToString());
    REQUIRE(r.ok());
    for (const char* node : {"ins_pg", "ins_my"}) {
      INFO("node " << node);
      const NodeResult* n = r->FindNode(node);
      REQUIRE(n != nullptr);
      CHECK(n->status == NodeStatus::kFailed);
      CHECK(n->error.code() == absl::StatusCode::kAlreadyExists);
    }
    for (const char* node : {"src", "after_pg", "after_my"}) {
      INFO("node " << node << ": " << r->FindNode(node)->error.ToString());
      CHECK(r->FindNode(node)->status == NodeStatus::kOk);
    }
    if (mode == "autonomous") {
      // Without a transaction the two inserts before the failure stay: the
      // node did write before it failed.
      CHECK(PgRows("tx_sp") == std::vector<std::string>{"1|one", "7|ins", "8|ins", "50|after"});
      CHECK(MyTableRows("tx_sp") ==
            std::vector<std::string>{"1|one", "7|ins", "8|ins", "50|after"});
      continue;
    }
    CHECK(PgRows("tx_sp") == std::vector<std::string>{"1|one", "50|after"});
    CHECK(MyTableRows("tx_sp") == std::vector<std::string>{"1|one", "50|after"});
    REQUIRE(r->transaction.participants.size() == 2);
    for (const auto& p : r->transaction.participants) {
      INFO(p.source << ": " << p.error);
      CHECK(p.state == ParticipantState::kCommitted);
    }
    CHECK(InUse(*engine) == 0);
    CHECK(PgPrepared(prefix) == 0);
    CHECK(MyPrepared(prefix) == 0);
  }
}

TEST_CASE("tx: dependent inserts go to PostgreSQL and MariaDB as multi-row VALUES",
          "[postgres][mysql][tx]") {
  const std::string prefix = "qgitbw";
  CleanLeftovers();
  TempDir dir;
  const std::string lite = dir.File("src.sqlite");
  LiteExec(lite, "CREATE TABLE src (id INTEGER PRIMARY KEY)");
  LiteExec(lite,
           "WITH RECURSIVE n(i) AS (SELECT 1 UNION ALL SELECT i + 1 FROM n WHERE i < 2500) "
           "INSERT INTO src SELECT i + 1000 FROM n");
  auto engine = TxEngine(prefix, dir.File("tx.log"),
                         {PgSourceJson("pg"), MySourceJson("my"), LiteSourceJson("lite", lite)});
  auto graph = [](const std::string& mode, const std::string& strategy) {
    std::string g = R"J({"transaction": ")J" + mode + R"J(", "params": {"v": "batched"}, "nodes": [
      {"node_id": "src", "database_id": "lite", "query_string": "SELECT id FROM src",
       "output_fields": ["id"]})J";
    for (const char* db : {"pg", "my"}) {
      g += std::string(R"J(, {"node_id": "ins_)J") + db + R"J(", "database_id": ")J" + db +
           R"J(", "mode": "write", "strategy": ")J" + strategy +
           R"J(", "query_string": "INSERT INTO tx_bw (id, v) VALUES (:id, :v)",
           "input_parameters": ["id", "v"]})J";
    }
    g += R"J(], "edges": [
      {"source_node": "src", "target_node": "ins_pg", "input_mapping": {"src.id": "ins_pg.id"}},
      {"source_node": "src", "target_node": "ins_my", "input_mapping": {"src.id": "ins_my.id"}}]})J";
    return g;
  };
  for (const std::string mode : {"2pc", "common"}) {
    INFO("mode " << mode);
    PgResetTable("tx_bw");
    MyResetTable("tx_bw");
    auto r = engine->ExecuteJson(graph(mode, "auto"));
    INFO(r.status().ToString());
    REQUIRE(r.ok());
    for (const char* node : {"ins_pg", "ins_my"}) {
      INFO(node);
      CHECK(r->FindNode(node)->stats.rows_affected == 2500);
      // 1000 rows per statement (3 executions, plus a prepare per statement size)
      CHECK(r->FindNode(node)->stats.round_trips <= 6);
    }
    CHECK(PgCount("SELECT count(*) FROM tx_bw WHERE v = 'batched'") == 2500);
    CHECK(MyCount("SELECT count(*) FROM tx_bw WHERE v = 'batched'") == 2500);

    // A duplicate key in the last batch of one source: nothing stays anywhere.
    PgResetTable("tx_bw");
    MyResetTable("tx_bw");
    {
      auto c = MysqlConnect("qgtest");
      MyExec(*c, "INSERT INTO tx_bw (id, v) VALUES (3400, 'dup')");
    }
    auto dup = engine->ExecuteJson(graph(mode, "batched"));
    REQUIRE_FALSE(dup.ok());
    CHECK(dup.status().code() == absl::StatusCode::kAlreadyExists);
    CHECK(PgRows("tx_bw") == std::vector<std::string>{"1|one"});
    CHECK(MyTableRows("tx_bw") == std::vector<std::string>{"1|one", "3400|dup"});
    CHECK(InUse(*engine) == 0);
    CHECK(PgPrepared(prefix) == 0);
    CHECK(MyPrepared(prefix) == 0);
  }
}

// ---------------------------------------------------------------------------
// e. Pass-through statements.

TEST_CASE("tx: EXECUTE STATEMENT … WITHIN COMMON [2PC] TRANSACTION", "[postgres][mysql][tx]") {
  const std::string prefix = "qgitpass";
  CleanLeftovers();
  PgResetTable("tx_pass");
  MyResetTable("tx_pass");
  TempDir dir;
  auto engine = TxEngine(prefix, dir.File("tx.log"), {PgSourceJson("pg"), MySourceJson("my")});
  int id = 10;
  for (const std::string source : {"pg", "my"}) {
    for (const std::string within : {"COMMON", "COMMON 2PC"}) {
      INFO(source << " WITHIN " << within);
      ++id;
      const std::string ok_stmt =
          "EXECUTE STATEMENT 'INSERT INTO tx_pass (id, v) VALUES (:id, :v)' (id := " +
          std::to_string(id) + ", v := 'pass') ON EXTERNAL DATA SOURCE " + source + " WITHIN " +
          within + " TRANSACTION";
      auto r = engine->ExecuteStatements(ok_stmt);
      INFO(r.status().ToString());
      REQUIRE(r.ok());
      CHECK(r->transaction.mode == (within == "COMMON" ? "common" : "2pc"));
      REQUIRE(r->transaction.participants.size() == 1);
      const ParticipantOutcome& p = r->transaction.participants[0];
      CHECK(p.source == source);
      CHECK(p.state == ParticipantState::kCommitted);
      if (within != "COMMON") CHECK(StartsWith(p.gid, prefix + "."));
      CHECK(r->FindNode("statement")->stats.rows_affected == 1);
      const std::vector<std::string> rows =
          source == "pg" ? PgRows("tx_pass") : MyTableRows("tx_pass");
      CHECK(std::count(rows.begin(), rows.end(), std::to_string(id) + "|pass") == 1);

      // A failing statement (its second row's key exists) leaves nothing.
      const int fresh = id + 100;
      const std::string bad_stmt =
          "EXECUTE STATEMENT 'INSERT INTO tx_pass (id, v) VALUES (:a, :v), (:b, :v)' (a := " +
          std::to_string(fresh) + ", b := 1, v := 'bad') ON EXTERNAL DATA SOURCE " + source +
          " WITHIN " + within + " TRANSACTION";
      auto bad = engine->ExecuteStatements(bad_stmt);
      REQUIRE_FALSE(bad.ok());
      INFO(bad.status().ToString());
      CHECK(bad.status().code() == absl::StatusCode::kAlreadyExists);
      CHECK_THAT(Msg(bad.status()), Catch::Contains("rolled back"));
      const std::vector<std::string> after =
          source == "pg" ? PgRows("tx_pass") : MyTableRows("tx_pass");
      CHECK(after == rows);
      CHECK(InUse(*engine) == 0);
      CHECK(PgPrepared(prefix) == 0);
      CHECK(MyPrepared(prefix) == 0);
    }
  }
}

#endif  // QG_WITH_MYSQL

// ---------------------------------------------------------------------------
// f. A serialization failure on PostgreSQL.
//
// The source's connect string sets default_transaction_isolation=serializable
// in the startup options (the provider passes `options` on to libpq and adds
// its own settings after it). The graph reads row 1 (taking its snapshot),
// inserts row 2, waits for an advisory lock the test holds, then updates row
// 1; while the graph waits, the test updates row 1 from another session,
// commits, and only then releases the lock (as the server's conflict test
// does: no timing window). PostgreSQL fails the graph's UPDATE with SQLSTATE
// 40001 (could not serialize access due to concurrent update): the graph
// fails with kAborted, its insert is gone.

TEST_CASE("tx: a PostgreSQL serialization failure aborts a common graph, leaving nothing",
          "[postgres][tx]") {
  const std::string prefix = "qgitconf";
  CleanLeftovers();
  PgResetTable("tx_conf");
  auto engine =
      TxEngine(prefix, "",
               {PgSourceJson("pgser", " options='-c default_transaction_isolation=serializable'")});
  // The option took effect.
  {
    auto r = engine->ExecuteJson(
        OneNodeGraph("pgser", "SELECT current_setting('transaction_isolation') AS x"));
    INFO(r.status().ToString());
    REQUIRE(r.ok());
    REQUIRE(r->nodes.size() == 1);
    REQUIRE(r->nodes[0].columns.size() == 1);
    REQUIRE(r->nodes[0].columns[0].values.size() == 1);
    CHECK(r->nodes[0].columns[0].values[0].ToText() == "serializable");
  }
  const std::string graph = R"J({"transaction": "common",
    "params": {"one": 1, "two": 2, "v": "graph", "key": 424243}, "nodes": [
    {"node_id": "r", "database_id": "pgser",
     "query_string": "SELECT v FROM tx_conf WHERE id = :one",
     "input_parameters": ["one"], "output_fields": ["v"]},
    {"node_id": "ins", "database_id": "pgser", "mode": "write",
     "query_string": "INSERT INTO tx_conf (id, v) VALUES (:two, :v)",
     "input_parameters": ["two", "v"]},
    {"node_id": "s", "database_id": "pgser",
     "query_string": "SELECT 1 AS x_qgit_lock FROM (SELECT pg_advisory_xact_lock(:key)) l",
     "input_parameters": ["key"], "output_fields": ["x_qgit_lock"]},
    {"node_id": "u", "database_id": "pgser", "mode": "write",
     "query_string": "UPDATE tx_conf SET v = :v WHERE id = :one",
     "input_parameters": ["v", "one"]}],
    "edges": [{"source_node": "r", "target_node": "ins"},
              {"source_node": "ins", "target_node": "s"},
              {"source_node": "s", "target_node": "u"}]})J";
  // The test's session holds the lock node "s" waits for.
  auto holder = PgConnect("qgtest");
  const ParamList key = {{"k", Value::Int(424243)}};
  REQUIRE(PgQuery(*holder, "SELECT 1 AS x FROM (SELECT pg_advisory_lock(:k)) l", key).ok());
  absl::StatusOr<GraphResult> result = absl::UnknownError("not run");
  std::thread t([&] { result = engine->ExecuteJson(graph); });
  const bool waiting = WaitFor(
      [] {
        return SuperSql(
                   "SELECT count(*) FROM pg_locks WHERE locktype = 'advisory' AND objid = 424243 "
                   "AND NOT granted") == "1";
      },
      10000);
  if (waiting) {
    // Another session updates row 1 and commits while the graph waits.
    auto c = PgConnect("qgtest");
    PgExec(*c, "UPDATE tx_conf SET v = :v WHERE id = :id",
           {{"v", Value::String("direct")}, {"id", Value::Int(1)}});
  }
  // Released in every case, so the graph goes on (and the thread ends).
  CHECK(PgQuery(*holder, "SELECT 1 AS x FROM (SELECT pg_advisory_unlock(:k)) l", key).ok());
  t.join();
  REQUIRE(waiting);
  REQUIRE_FALSE(result.ok());
  INFO(result.status().ToString());
  CHECK(result.status().code() == absl::StatusCode::kAborted);
  CHECK_THAT(Msg(result.status()),
             Catch::Contains("node \"u\"") && Catch::Contains("rolled back on every source"));
  CHECK(PgRows("tx_conf") == std::vector<std::string>{"1|direct"});  // no row 2
  CHECK(InUse(*engine) == 0);
}

}  // namespace
}  // namespace qg::testing
