// The two-phase-commit coordinator log: durable records, reopened identical,
// mode 0600, foreign or newer files refused.
#include "store/coordinator_log.h"

#include <sqlite3.h>
#include <sys/stat.h>
#include <unistd.h>

#include <catch2/catch.hpp>
#include <filesystem>
#include <string>

namespace qg {
namespace {

std::string TempPath(const std::string& name) {
  return (std::filesystem::temp_directory_path() /
          ("qg_txlog_test_" + std::to_string(getpid()) + "_" + name))
      .string();
}

TEST_CASE("coordinator log records, decides, forgets, and reopens identical", "[store]") {
  const std::string path = TempPath("a.log");
  std::filesystem::remove(path);
  {
    auto log = CoordinatorLog::Open(path);
    REQUIRE(log.ok());
    struct stat st {};
    REQUIRE(stat(path.c_str(), &st) == 0);
    CHECK((st.st_mode & 0777) == 0600);
    LoggedTransaction t1{
        "aaaa", false, {{"pg", "alice", "qg.aaaa.0", false}, {"lite", "alice", "", true}}};
    LoggedTransaction t2{"bbbb", false, {{"my", "", "qg.bbbb.0", false}}};
    REQUIRE((*log)->Begin(t1).ok());
    REQUIRE((*log)->Begin(t2).ok());
    REQUIRE((*log)->DecideCommit("bbbb").ok());
    CHECK((*log)->DecideCommit("nope").code() == absl::StatusCode::kInternal);
    CHECK((*log)->Begin(t1).code() == absl::StatusCode::kUnavailable);  // duplicate id
  }
  auto log = CoordinatorLog::Open(path);
  REQUIRE(log.ok());
  auto all = (*log)->List();
  REQUIRE(all.ok());
  REQUIRE(all->size() == 2);
  const LoggedTransaction* a = (*all)[0].id == "aaaa" ? &(*all)[0] : &(*all)[1];
  const LoggedTransaction* b = (*all)[0].id == "aaaa" ? &(*all)[1] : &(*all)[0];
  CHECK_FALSE(a->commit);
  REQUIRE(a->participants.size() == 2);
  CHECK(a->participants[0].source == "pg");
  CHECK(a->participants[0].local_user == "alice");
  CHECK(a->participants[0].gid == "qg.aaaa.0");
  CHECK(a->participants[1].last_resource);
  CHECK(b->commit);
  REQUIRE((*log)->Forget("aaaa").ok());
  all = (*log)->List();
  REQUIRE(all.ok());
  REQUIRE(all->size() == 1);
  CHECK((*all)[0].id == "bbbb");
  std::filesystem::remove(path);
}

TEST_CASE("coordinator log refuses files that are not its own", "[store]") {
  const std::string garbage = TempPath("garbage.log");
  {
    FILE* f = std::fopen(garbage.c_str(), "w");
    REQUIRE(f != nullptr);
    std::fputs("this is not a database, not at all, but long enough to look like a header", f);
    std::fclose(f);
  }
  auto g = CoordinatorLog::Open(garbage);
  REQUIRE_FALSE(g.ok());
  CHECK(g.status().code() == absl::StatusCode::kDataLoss);
  CHECK_THAT(std::string(g.status().message()), Catch::Contains(garbage));
  std::filesystem::remove(garbage);

  const std::string other = TempPath("other.db");
  std::filesystem::remove(other);
  sqlite3* db = nullptr;
  REQUIRE(sqlite3_open(other.c_str(), &db) == SQLITE_OK);
  REQUIRE(sqlite3_exec(db, "CREATE TABLE meta (key TEXT, value TEXT)", nullptr, nullptr, nullptr) ==
          SQLITE_OK);
  sqlite3_close(db);
  auto o = CoordinatorLog::Open(other);
  REQUIRE_FALSE(o.ok());
  CHECK_THAT(std::string(o.status().message()), Catch::Contains("not a qgraph coordinator log"));
  std::filesystem::remove(other);

  const std::string newer = TempPath("newer.log");
  std::filesystem::remove(newer);
  REQUIRE(CoordinatorLog::Open(newer).ok());
  REQUIRE(sqlite3_open(newer.c_str(), &db) == SQLITE_OK);
  REQUIRE(sqlite3_exec(db, "UPDATE meta SET value = '99' WHERE key = 'schema_version'", nullptr,
                       nullptr, nullptr) == SQLITE_OK);
  sqlite3_close(db);
  auto n = CoordinatorLog::Open(newer);
  REQUIRE_FALSE(n.ok());
  CHECK_THAT(std::string(n.status().message()), Catch::Contains("schema version 99"));
  std::filesystem::remove(newer);
}

}  // namespace
}  // namespace qg
