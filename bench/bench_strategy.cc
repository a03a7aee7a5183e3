// bench_strategy: the strategies of a dependent read side by side on
// SQLite (docs/design.md §11). An inner table of 1M rows (items, key =
// id % 500000, an index on key) is joined with (a) 450k keys — most of the
// table, where fetching it once should win — and (b) 200 keys, where
// lookups should win. Every forced strategy is timed (best of 3), then
// auto (its plan from the sources' estimates, asked by Explain first),
// with ratios to the best forced one. Usage: bench_strategy [dir]
#include <sqlite3.h>

#include <algorithm>
#include <chrono>
#include <cstdio>
#include <string>
#include <vector>

#include "qg/engine.h"
#include "qg/plan.h"

namespace {

void Exec(const std::string& path, const std::string& sql) {
  sqlite3* db = nullptr;
  sqlite3_open(path.c_str(), &db);
  char* err = nullptr;
  if (sqlite3_exec(db, sql.c_str(), nullptr, nullptr, &err) != SQLITE_OK) {
    std::fprintf(stderr, "sqlite: %s\n", err != nullptr ? err : "?");
    std::exit(1);
  }
  sqlite3_close(db);
}

std::string Graph(const std::string& strategy, int keys) {
  return R"({"nodes": [
    {"node_id": "keys", "database_id": "a",
     "query_string": "SELECT k FROM keys WHERE k < )" +
         std::to_string(keys) + R"(", "output_fields": ["k"]},
    {"node_id": "items", "database_id": "b",
     "query_string": "SELECT id, v FROM items WHERE key = :p", "input_parameters": ["p"],
     "output_fields": ["id", "v"])" +
         (strategy.empty() ? "" : R"(, "strategy": ")" + strategy + "\"") + R"(}],
    "edges": [{"source_node": "keys", "target_node": "items",
               "input_mapping": {"keys.k": "items.p"}}]})";
}

double RunMs(qg::Engine& engine, const std::string& graph, std::string* strategy, size_t* rows) {
  double best = 1e18;
  for (int rep = 0; rep < 3; ++rep) {
    const auto t0 = std::chrono::steady_clock::now();
    auto r = engine.ExecuteJson(graph);
    const double ms =
        std::chrono::duration<double, std::milli>(std::chrono::steady_clock::now() - t0).count();
    if (!r.ok()) {
      std::fprintf(stderr, "run failed: %s\n", std::string(r.status().message()).c_str());
      std::exit(1);
    }
    const qg::NodeResult* items = r->FindNode("items");
    *strategy = items->stats.strategy;
    *rows = items->num_rows;
    best = std::min(best, ms);
  }
  return best;
}

}  // namespace

int main(int argc, char** argv) {
  const std::string dir = argc > 1 ? argv[1] : "/tmp";
  const std::string a = dir + "/bench_strategy_a.sqlite";
  const std::string b = dir + "/bench_strategy_b.sqlite";
  std::remove(a.c_str());
  std::remove(b.c_str());
  Exec(a,
       "CREATE TABLE keys (k INTEGER PRIMARY KEY);"
       "WITH RECURSIVE s(i) AS (SELECT 0 UNION ALL SELECT i + 1 FROM s WHERE i < 499999) "
       "INSERT INTO keys SELECT i FROM s; ANALYZE;");
  Exec(b,
       "CREATE TABLE items (id INTEGER PRIMARY KEY, key INTEGER, v INTEGER);"
       "WITH RECURSIVE s(i) AS (SELECT 0 UNION ALL SELECT i + 1 FROM s WHERE i < 999999) "
       "INSERT INTO items SELECT i, i % 500000, i * 7 FROM s;"
       "CREATE INDEX items_key ON items(key); ANALYZE;");
  qg::EngineOptions options;
  options.estimate_costs_on_execute = true;
  auto engine = qg::Engine::Create(options);
  if (!engine.ok()) return 1;
  auto st = (*engine)->LoadCatalogJson(R"({"sources": [
      {"name": "a", "provider": "sqlite", "connect": ")" +
                                       a + R"("},
      {"name": "b", "provider": "sqlite", "connect": ")" +
                                       b + R"("}]})");
  if (!st.ok()) {
    std::fprintf(stderr, "%s\n", std::string(st.message()).c_str());
    return 1;
  }
  for (int keys : {450000, 200}) {
    std::printf("case: %d keys over 1000000 inner rows (sqlite)\n", keys);
    double best = 1e18;
    for (const char* s : {"batched", "per_binding", "fetch_once"}) {
      std::string used;
      size_t rows = 0;
      const double ms = RunMs(**engine, Graph(s, keys), &used, &rows);
      best = std::min(best, ms);
      std::printf("  forced %-12s %10.1f ms  rows %zu\n", s, ms, rows);
    }
    std::string used;
    size_t rows = 0;
    const double ms = RunMs(**engine, Graph("", keys), &used, &rows);
    std::printf("  auto (picked %s) %8.1f ms  rows %zu  auto/best forced %.2fx\n", used.c_str(), ms,
                rows, ms / best);
  }
  return 0;
}
