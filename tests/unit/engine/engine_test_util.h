// Helpers shared by the engine tests: an engine over the fake provider,
// temp dirs and SQLite files built with the sqlite3 C API, and row
// multisets for comparing results.
#ifndef QG_TESTS_UNIT_ENGINE_ENGINE_TEST_UTIL_H_
#define QG_TESTS_UNIT_ENGINE_ENGINE_TEST_UTIL_H_

#include <sqlite3.h>
#include <stdlib.h>
#include <unistd.h>

#include <algorithm>
#include <catch2/catch.hpp>
#include <chrono>
#include <cstdint>
#include <filesystem>
#include <memory>
#include <string>
#include <thread>
#include <vector>

#include "qg/engine.h"
#include "support/fake_provider.h"

namespace qg::enginetest {

struct FakeEnv {
  std::shared_ptr<qg::testing::FakeProvider> fake;
  std::unique_ptr<Engine> engine;
};

// An engine (built-ins registered) with the fake provider and two sources
// on it, "db" and "db2".
inline FakeEnv MakeFakeEngine(int pool_max = 8, EngineOptions options = {}) {
  FakeEnv env;
  env.fake = std::make_shared<qg::testing::FakeProvider>("fake");
  options.register_builtin_providers = true;
  auto engine = Engine::Create(options);
  REQUIRE(engine.ok());
  env.engine = std::move(*engine);
  REQUIRE(env.engine->RegisterProvider(env.fake).ok());
  for (const char* name : {"db", "db2"}) {
    SourceConfig s;
    s.name = name;
    s.provider = "fake";
    s.pool.pool_max = pool_max;
    s.pool.acquire_timeout = absl::Seconds(30);
    REQUIRE(env.engine->AddSource(s).ok());
  }
  return env;
}

inline int TotalInUse(const Engine& engine) {
  int n = 0;
  for (const auto& [key, stats] : engine.PoolStatistics()) n += stats.in_use;
  return n;
}

// Connections the engine's pools closed as broken, over all pools.
inline uint64_t TotalBroken(const Engine& engine) {
  uint64_t n = 0;
  for (const auto& [key, stats] : engine.PoolStatistics()) n += stats.broken;
  return n;
}

// "NULL" for null, else the value's text.
inline std::string Canon(const Value& v) { return v.is_null() ? "NULL" : v.ToText(); }

// The node's rows as "a|b|c" strings, sorted (a multiset).
inline std::vector<std::string> RowSet(const NodeResult& r) {
  std::vector<std::string> rows;
  for (size_t i = 0; i < r.num_rows; ++i) {
    std::string s;
    for (size_t c = 0; c < r.columns.size(); ++c) {
      if (c > 0) s += "|";
      s += Canon(r.columns[c].values[i]);
    }
    rows.push_back(s);
  }
  std::sort(rows.begin(), rows.end());
  return rows;
}

class TempDir {
 public:
  TempDir() {
    std::string tmpl = (std::filesystem::temp_directory_path() / "qg_engine_XXXXXX").string();
    REQUIRE(mkdtemp(tmpl.data()) != nullptr);
    path_ = tmpl;
  }
  ~TempDir() {
    std::error_code ec;
    std::filesystem::remove_all(path_, ec);
  }
  std::string File(const std::string& name) const { return path_ + "/" + name; }

 private:
  std::string path_;
};

// Runs SQL on a database file (created when absent).
inline void SqlExec(const std::string& path, const std::string& sql) {
  sqlite3* db = nullptr;
  REQUIRE(sqlite3_open(path.c_str(), &db) == SQLITE_OK);
  char* err = nullptr;
  const int rc = sqlite3_exec(db, sql.c_str(), nullptr, nullptr, &err);
  std::string msg = err != nullptr ? err : "";
  sqlite3_free(err);
  sqlite3_close(db);
  INFO(msg);
  REQUIRE(rc == SQLITE_OK);
}

// Rows of a query as sorted "a|b|c" strings, canonical like Canon().
// `setup` (e.g. an ATTACH) runs first on the same connection.
inline std::vector<std::string> SqlRows(const std::string& path, const std::string& sql,
                                        const std::string& setup = "") {
  sqlite3* db = nullptr;
  REQUIRE(sqlite3_open(path.c_str(), &db) == SQLITE_OK);
  if (!setup.empty())
    REQUIRE(sqlite3_exec(db, setup.c_str(), nullptr, nullptr, nullptr) == SQLITE_OK);
  sqlite3_stmt* stmt = nullptr;
  const int prc = sqlite3_prepare_v2(db, sql.c_str(), -1, &stmt, nullptr);
  INFO(sqlite3_errmsg(db));
  REQUIRE(prc == SQLITE_OK);
  std::vector<std::string> rows;
  while (sqlite3_step(stmt) == SQLITE_ROW) {
    std::string s;
    for (int c = 0; c < sqlite3_column_count(stmt); ++c) {
      if (c > 0) s += "|";
      switch (sqlite3_column_type(stmt, c)) {
        case SQLITE_NULL:
          s += "NULL";
          break;
        case SQLITE_INTEGER:
          s += std::to_string(sqlite3_column_int64(stmt, c));
          break;
        default:
          s += reinterpret_cast<const char*>(sqlite3_column_text(stmt, c));
      }
    }
    rows.push_back(s);
  }
  sqlite3_finalize(stmt);
  sqlite3_close(db);
  std::sort(rows.begin(), rows.end());
  return rows;
}

// Waits (up to a generous bound, only to avoid a hang) until `pred` holds.
template <typename Pred>
bool WaitFor(Pred pred) {
  const auto until = std::chrono::steady_clock::now() + std::chrono::seconds(30);
  while (!pred()) {
    if (std::chrono::steady_clock::now() > until) return false;
    std::this_thread::sleep_for(std::chrono::milliseconds(2));
  }
  return true;
}

}  // namespace qg::enginetest

#endif  // QG_TESTS_UNIT_ENGINE_ENGINE_TEST_UTIL_H_
