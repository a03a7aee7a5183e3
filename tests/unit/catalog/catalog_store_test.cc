// Tests of the SQLite catalog store: round trip, mode 0600, refusals, and
// that no listing shows a literal password.
#include "qg/catalog_store.h"

#include <sqlite3.h>
#include <sys/stat.h>
#include <unistd.h>

#include <catch2/catch.hpp>
#include <cstdlib>
#include <fstream>
#include <string>
#include <thread>
#include <vector>

#include "qg/catalog.h"
#include "qg/catalog_statement.h"

namespace qg {
namespace {

constexpr const char* kCanary = "Canary-Pw-5b1e77";

std::string FreshPath(const char* name) {
  const char* dir = std::getenv("TMPDIR");
  std::string p = std::string(dir != nullptr ? dir : "/tmp") + "/qg_store_test_" +
                  std::to_string(::getpid()) + "_" + name;
  ::unlink(p.c_str());
  ::unlink((p + "-journal").c_str());
  return p;
}

Catalog Sample() {
  Catalog c;
  auto stmts = ParseStatements(std::string(R"(
    CREATE EXTERNAL DATA SOURCE db_users PROVIDER sqlite CONNECT 'users.sqlite';
    CREATE EXTERNAL DATA SOURCE db_orders PROVIDER postgres CONNECT 'host=127.0.0.1 dbname=orders'
      AS USER 'app' PASSWORD ')") +
                               kCanary + R"('
      OPTIONS 'pool_min=1;pool_max=3;acquire_timeout=250ms;idle_timeout=90s;max_lifetime=0;
               lifetime_jitter=0.25;health_check=SELECT 2;health_check_interval=1500ms;
               connect_timeout=5s;statement_timeout=1m;sslmode=require;application_name=qg';
    CREATE EXTERNAL DATA SOURCE "Env" PROVIDER mysql CONNECT 'host=h' AS USER 'e' PASSWORD ENV 'E_PW';
    CREATE EXTERNAL DATA SOURCE cur PROVIDER mysql CONNECT 'host=h' AS CURRENT_USER;
    CREATE EXTERNAL USER ON db_orders AS 'ro_alice' PASSWORD FILE '/run/secrets/alice' FOR alice;
    CREATE EXTERNAL USER ON db_orders AS 'ro' PASSWORD ')" +
                               kCanary + R"(' FOR ALL;
    CREATE EXTERNAL USER ON "Env" AS CURRENT_USER FOR CURRENT_USER;
  )");
  REQUIRE(stmts.ok());
  for (const auto& s : *stmts) REQUIRE(ApplyStatement(s.statement, &c).ok());
  return c;
}

TEST_CASE("a saved catalog reopens identical", "[catalog][store]") {
  const std::string path = FreshPath("roundtrip.db");
  const Catalog original = Sample();
  {
    auto store = CatalogStore::Open(path);
    REQUIRE(store.ok());
    auto empty = (*store)->Load();
    REQUIRE(empty.ok());
    CHECK(empty->sources().empty());
    REQUIRE((*store)->Save(original).ok());
  }
  auto store = CatalogStore::Open(path);
  REQUIRE(store.ok());
  auto loaded = (*store)->Load();
  REQUIRE(loaded.ok());
  CHECK(*loaded == original);
  CHECK(loaded->ToJson() == original.ToJson());
  const SourceConfig* orders = loaded->FindSource("db_orders");
  REQUIRE(orders != nullptr);
  CHECK(orders->pool.max_lifetime == absl::ZeroDuration());
  CHECK(orders->pool.health_check == "SELECT 2");
  CHECK(orders->password.Resolve().value() == kCanary);  // literal kept for connecting

  // Save replaces: a dropped source is gone after reopening.
  Catalog smaller = *loaded;
  REQUIRE(smaller.DropSource("db_orders").ok());
  REQUIRE((*store)->Save(smaller).ok());
  store->reset();
  auto again = CatalogStore::Open(path);
  REQUIRE(again.ok());
  CHECK((*again)->Load().value() == smaller);
  ::unlink(path.c_str());
}

TEST_CASE("the catalog file is created with mode 0600 whatever the umask", "[catalog][store]") {
  const std::string path = FreshPath("mode.db");
  const mode_t old = ::umask(0);
  auto store = CatalogStore::Open(path);
  ::umask(old);
  REQUIRE(store.ok());
  REQUIRE((*store)->Save(Sample()).ok());
  struct stat st {};
  REQUIRE(::stat(path.c_str(), &st) == 0);
  CHECK((st.st_mode & 0777) == 0600);
  ::unlink(path.c_str());
}

TEST_CASE("a pre-existing catalog file readable by others is made 0600 before secrets go in",
          "[catalog][store][secrets]") {
  const std::string path = FreshPath("mode0644.db");
  {
    auto store = CatalogStore::Open(path);
    REQUIRE(store.ok());
    REQUIRE((*store)->Save(Catalog()).ok());
  }
  // Left behind by an older version, a copy or a restore: the file and its
  // side files readable by everyone.
  for (const std::string& f : {path, path + "-journal", path + "-wal"}) {
    if (f != path) std::ofstream(f, std::ios::binary | std::ios::trunc).flush();
    REQUIRE(::chmod(f.c_str(), 0644) == 0);
  }
  auto store = CatalogStore::Open(path);
  INFO(store.status().ToString());
  REQUIRE(store.ok());
  REQUIRE((*store)->Save(Sample()).ok());  // holds literal passwords
  for (const std::string& f : {path, path + "-journal", path + "-wal"}) {
    INFO(f);
    struct stat st {};
    if (::stat(f.c_str(), &st) != 0) continue;  // SQLite removed a stale side file
    CHECK((st.st_mode & 0777) == 0600);
  }
  struct stat st {};
  REQUIRE(::stat(path.c_str(), &st) == 0);
  CHECK((st.st_mode & 0777) == 0600);
  for (const std::string& f : {path, path + "-journal", path + "-wal"}) ::unlink(f.c_str());
}

TEST_CASE("a file that is not a catalog is refused, naming it", "[catalog][store]") {
  const std::string path = FreshPath("garbage.db");
  {
    std::ofstream out(path, std::ios::binary);
    out << std::string(4096, 'x');
  }
  auto store = CatalogStore::Open(path);
  REQUIRE_FALSE(store.ok());
  CHECK(store.status().code() == absl::StatusCode::kDataLoss);
  CHECK(std::string(store.status().message()) ==
        "catalog file " + path + ": not an SQLite database (corrupt, or another kind of file)");
  ::unlink(path.c_str());
}

TEST_CASE("a damaged catalog is refused, never half-loaded", "[catalog][store]") {
  const std::string path = FreshPath("damaged.db");
  {
    auto store = CatalogStore::Open(path);
    REQUIRE(store.ok());
    REQUIRE((*store)->Save(Sample()).ok());
  }
  // Overwrite the middle of the file (past the header) with garbage.
  {
    std::fstream f(path, std::ios::in | std::ios::out | std::ios::binary);
    f.seekp(0, std::ios::end);
    const auto size = static_cast<long>(f.tellp());
    REQUIRE(size > 4096);
    f.seekp(size / 2);
    const std::string junk(static_cast<size_t>(size / 2 - 100 > 2048 ? 2048 : size / 4), '\xA5');
    f.write(junk.data(), static_cast<std::streamsize>(junk.size()));
  }
  auto store = CatalogStore::Open(path);
  if (store.ok()) {
    // Damage SQLite did not see at open must surface at Load.
    auto loaded = (*store)->Load();
    REQUIRE_FALSE(loaded.ok());
    CHECK(loaded.status().code() == absl::StatusCode::kDataLoss);
  } else {
    CHECK(store.status().code() == absl::StatusCode::kDataLoss);
    CHECK(std::string(store.status().message()).find(path) != std::string::npos);
  }
  ::unlink(path.c_str());
}

void ExecSql(const std::string& path, const char* sql) {
  sqlite3* db = nullptr;
  REQUIRE(sqlite3_open(path.c_str(), &db) == SQLITE_OK);
  char* err = nullptr;
  const int rc = sqlite3_exec(db, sql, nullptr, nullptr, &err);
  INFO((err != nullptr ? err : ""));
  sqlite3_free(err);
  sqlite3_close(db);
  REQUIRE(rc == SQLITE_OK);
}

TEST_CASE("an unknown schema version is refused", "[catalog][store]") {
  const std::string path = FreshPath("version.db");
  REQUIRE(CatalogStore::Open(path).ok());
  ExecSql(path, "UPDATE meta SET value = '2' WHERE key = 'schema_version'");
  auto store = CatalogStore::Open(path);
  REQUIRE_FALSE(store.ok());
  CHECK(store.status().code() == absl::StatusCode::kFailedPrecondition);
  CHECK(std::string(store.status().message()) ==
        "catalog file " + path + ": schema version 2; this qgraph reads version 1 only");
  ::unlink(path.c_str());
}

TEST_CASE("another SQLite database or missing tables are refused", "[catalog][store]") {
  const std::string foreign = FreshPath("foreign.db");
  ExecSql(foreign, "CREATE TABLE t (x)");
  auto a = CatalogStore::Open(foreign);
  REQUIRE_FALSE(a.ok());
  CHECK(a.status().code() == absl::StatusCode::kFailedPrecondition);
  CHECK(std::string(a.status().message()) ==
        "catalog file " + foreign +
            ": an SQLite database but not a qgraph catalog (no meta table)");
  ::unlink(foreign.c_str());

  const std::string partial = FreshPath("partial.db");
  REQUIRE(CatalogStore::Open(partial).ok());
  ExecSql(partial, "DROP TABLE user_mappings");
  auto b = CatalogStore::Open(partial);
  REQUIRE_FALSE(b.ok());
  CHECK(b.status().code() == absl::StatusCode::kDataLoss);
  CHECK(std::string(b.status().message())
            .starts_with("catalog file " + partial + ": schema damaged: no such table"));
  ::unlink(partial.c_str());
}

TEST_CASE("an invalid row fails Load as a whole", "[catalog][store]") {
  const std::string path = FreshPath("badrow.db");
  {
    auto store = CatalogStore::Open(path);
    REQUIRE(store.ok());
    REQUIRE((*store)->Save(Sample()).ok());
  }
  ExecSql(path, "UPDATE user_mappings SET scope = 'everyone' WHERE scope = 'all'");
  auto store = CatalogStore::Open(path);
  REQUIRE(store.ok());
  auto loaded = (*store)->Load();
  REQUIRE_FALSE(loaded.ok());
  CHECK(loaded.status().code() == absl::StatusCode::kDataLoss);
  CHECK(std::string(loaded.status().message()) ==
        "catalog file " + path +
            ": invalid row in user_mappings: unknown scope on source db_orders");
  ::unlink(path.c_str());
}

TEST_CASE("no listing shows a literal password", "[catalog][store][secrets]") {
  const std::string path = FreshPath("canary.db");
  const Catalog c = Sample();
  const std::string json = c.ToJson();
  CHECK(json.find(kCanary) == std::string::npos);
  CHECK(json.find("\"***\"") != std::string::npos);
  CHECK(json.find("E_PW") != std::string::npos);  // references are shown
  auto store = CatalogStore::Open(path);
  REQUIRE(store.ok());
  REQUIRE((*store)->Save(c).ok());
  auto loaded = (*store)->Load();
  REQUIRE(loaded.ok());
  CHECK(loaded->ToJson().find(kCanary) == std::string::npos);
  for (const SourceConfig& s : loaded->sources()) {
    CHECK(s.password.Describe().find(kCanary) == std::string::npos);
    CHECK(s.connect.find(kCanary) == std::string::npos);
  }
  for (const UserMapping& m : loaded->mappings()) {
    CHECK(m.password.Describe().find(kCanary) == std::string::npos);
  }
  ::unlink(path.c_str());
}

TEST_CASE("Update applies a statement atomically, and a failed change leaves the file as it was",
          "[catalog][store]") {
  const std::string path = FreshPath("update.db");
  auto store = CatalogStore::Open(path);
  REQUIRE(store.ok());
  auto apply = [&](std::string_view text) {
    return (*store)->Update([&](Catalog* c) { return ApplyStatement(*ParseStatement(text), c); });
  };
  auto a = apply("CREATE EXTERNAL DATA SOURCE a PROVIDER sqlite CONNECT 'a.db'");
  REQUIRE(a.ok());
  CHECK(a->SourceNames() == std::vector<std::string>{"a"});
  auto dup = apply("CREATE EXTERNAL DATA SOURCE a PROVIDER sqlite CONNECT 'other.db'");
  REQUIRE_FALSE(dup.ok());
  CHECK(dup.status().code() == absl::StatusCode::kAlreadyExists);
  auto loaded = (*store)->Load();
  REQUIRE(loaded.ok());
  CHECK(*loaded == *a);
  ::unlink(path.c_str());
}

TEST_CASE("two stores on one file never lose each other's updates", "[catalog][store]") {
  const std::string path = FreshPath("concurrent.db");
  REQUIRE(CatalogStore::Open(path).ok());
  constexpr int kPerThread = 10;
  std::vector<std::thread> threads;
  std::vector<absl::Status> errors(2);
  for (int t = 0; t < 2; ++t) {
    threads.emplace_back([&, t] {
      auto store = CatalogStore::Open(path);  // its own SQLite connection
      if (!store.ok()) {
        errors[t] = store.status();
        return;
      }
      for (int i = 0; i < kPerThread && errors[t].ok(); ++i) {
        std::string name = "s";
        name += std::to_string(t);
        name += "_";
        name += std::to_string(i);
        errors[t] = (*store)
                        ->Update([&](Catalog* c) {
                          SourceConfig s;
                          s.name = name;
                          s.provider = "sqlite";
                          return c->AddSource(std::move(s));
                        })
                        .status();
      }
    });
  }
  for (std::thread& th : threads) th.join();
  CHECK(errors[0].ok());
  CHECK(errors[1].ok());
  auto store = CatalogStore::Open(path);
  REQUIRE(store.ok());
  auto c = (*store)->Load();
  REQUIRE(c.ok());
  CHECK(c->sources().size() == 2 * kPerThread);
  ::unlink(path.c_str());
}

}  // namespace
}  // namespace qg
