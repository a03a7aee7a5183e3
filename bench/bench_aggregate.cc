// A dependent aggregate (users of a city -> count(*), sum(amount) of each
// user's orders) on SQLite, 100k users / 1M orders: the aggregate grouped by
// key in one statement per batch (strategy "batched") against one statement
// per user ("per_binding"), at one city (2% of users) and at every user.
// Both must return the same rows (checked; a mismatch aborts). Medians and
// the ratio are printed; nothing is asserted about time (docs/design.md §11).
//
//   bench_aggregate [DIR] [--reps=N]
// The data file is built once under DIR (default: <build>/bench-data).
#include <sqlite3.h>

#include <algorithm>
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <filesystem>
#include <string>
#include <vector>

#include "qg/engine.h"
#include "qg/result.h"

namespace {

[[noreturn]] void Die(const std::string& msg) {
  std::fprintf(stderr, "bench_aggregate: %s\n", msg.c_str());
  std::exit(1);
}

void Exec(sqlite3* db, const char* sql) {
  char* err = nullptr;
  if (sqlite3_exec(db, sql, nullptr, nullptr, &err) != SQLITE_OK) {
    std::string msg = err != nullptr ? err : "?";
    sqlite3_free(err);
    Die(msg);
  }
}

void BuildData(const std::string& path) {
  if (std::filesystem::exists(path)) return;
  const std::string tmp = path + ".tmp";
  std::filesystem::remove(tmp);
  sqlite3* db = nullptr;
  if (sqlite3_open(tmp.c_str(), &db) != SQLITE_OK) Die("cannot create " + tmp);
  Exec(db,
       "PRAGMA journal_mode=OFF; PRAGMA synchronous=OFF; BEGIN;"
       "CREATE TABLE users (id INTEGER PRIMARY KEY, city TEXT NOT NULL);"
       "CREATE TABLE orders (order_id INTEGER PRIMARY KEY, user_id INTEGER NOT NULL, "
       "amount INTEGER NOT NULL);"
       "WITH RECURSIVE n(i) AS (SELECT 1 UNION ALL SELECT i + 1 FROM n WHERE i < 100000) "
       "INSERT INTO users SELECT i, 'city' || (i % 50) FROM n;"
       "WITH RECURSIVE n(i) AS (SELECT 1 UNION ALL SELECT i + 1 FROM n WHERE i < 1000000) "
       "INSERT INTO orders SELECT i, 1 + (i * 7919) % 100000, i % 997 FROM n "
       "WHERE i % 13 <> 0;"  // some users have fewer orders; keys spread over the table
       "CREATE INDEX users_city ON users (city); CREATE INDEX orders_user ON orders (user_id);"
       "COMMIT;");
  sqlite3_close(db);
  std::filesystem::rename(tmp, path);
}

std::string Graph(bool one_city, const std::string& strategy) {
  return std::string(R"({"nodes": [
    {"node_id": "u", "database_id": "agg", "query_string": "SELECT id FROM users)") +
         (one_city ? " WHERE city = :city" : "") + R"(", "input_parameters": [)" +
         (one_city ? R"("city")" : "") + R"(], "output_fields": ["id"]},
    {"node_id": "totals", "database_id": "agg",
     "query_string": "SELECT count(*) AS n, sum(amount) AS total FROM orders WHERE user_id = :uid",
     "input_parameters": ["uid"], "strategy": ")" +
         strategy + R"("}],
  "edges": [{"source_node": "u", "target_node": "totals", "input_mapping": {"u.id": "totals.uid"}}]})";
}

// Median milliseconds of `reps` runs (after a warm-up) and the rows' checksum.
double TimeGraph(qg::Engine& engine, const std::string& graph, int reps, double* checksum,
                 size_t* rows) {
  qg::ExecuteOptions opts;
  opts.params = {{"city", qg::Value::String("city7")}};
  std::vector<double> ms;
  for (int r = 0; r <= reps; ++r) {
    const auto t0 = std::chrono::steady_clock::now();
    auto res = engine.ExecuteJson(graph, opts);
    const auto t1 = std::chrono::steady_clock::now();
    if (!res.ok()) Die(std::string(res.status().message()));
    const qg::NodeResult* n = res->FindNode("totals");
    double sum = 0;
    for (size_t i = 0; i < n->num_rows; ++i) {
      for (const qg::Column& c : n->columns) {
        const qg::Value& v = c.values[i];
        if (!v.is_null()) sum += static_cast<double>(v.as_int());
      }
    }
    *checksum = sum;
    *rows = n->num_rows;
    if (r > 0) ms.push_back(std::chrono::duration<double, std::milli>(t1 - t0).count());
  }
  std::sort(ms.begin(), ms.end());
  return ms[ms.size() / 2];
}

}  // namespace

int main(int argc, char** argv) {
  std::string dir = std::string(QG_BINARY_DIR) + "/bench-data";
  int reps = 3;
  for (int i = 1; i < argc; ++i) {
    std::string a = argv[i];
    if (a.rfind("--reps=", 0) == 0) {
      reps = std::max(1, std::atoi(a.c_str() + 7));
    } else {
      dir = a;
    }
  }
  std::filesystem::create_directories(dir);
  const std::string path = dir + "/aggregate.sqlite";
  BuildData(path);
  auto engine = qg::Engine::Create();
  if (!engine.ok()) Die(std::string(engine.status().message()));
  auto st = (*engine)->LoadCatalogJson(R"({"sources": [{"name": "agg", "provider": "sqlite",
      "connect": ")" + path + R"("}]})");
  if (!st.ok()) Die(std::string(st.message()));
  std::printf("dependent aggregate on SQLite (100k users, ~920k orders), median of %d\n", reps);
  std::printf("%-12s %10s %16s %16s %8s\n", "users", "rows", "per_binding ms", "grouped ms",
              "ratio");
  for (bool one_city : {true, false}) {
    double sum_g = 0, sum_p = 0;
    size_t rows_g = 0, rows_p = 0;
    const double grouped = TimeGraph(**engine, Graph(one_city, "batched"), reps, &sum_g, &rows_g);
    const double per = TimeGraph(**engine, Graph(one_city, "per_binding"), reps, &sum_p, &rows_p);
    if (rows_g != rows_p || sum_g != sum_p) Die("grouped and per-binding results differ");
    std::printf("%-12s %10zu %16.1f %16.1f %7.1fx\n", one_city ? "one city" : "all", rows_g, per,
                grouped, per / grouped);
  }
  return 0;
}
