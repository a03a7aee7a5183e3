// Planning cost (docs/design.md §11), printed, never asserted:
//   1. a 1,000-node graph: parse, then validate + plan (Engine::Explain)
//   2. a 3-node SQLite graph executed end to end (ExecuteJson) beside the same
//      three statements through the sqlite3 C API on one open connection: the
//      difference is the engine's overhead per execution (every execution
//      parses, validates and plans: there is no plan cache yet)
//   3. a graph of 10 nodes x 3,000 placeholders (30,000 graph params): parse,
//      then validate + plan
// Figures are medians over --reps runs (default 20).
//
//   bench_plan [--reps N]
#include <sqlite3.h>
#include <unistd.h>

#include <algorithm>
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <filesystem>
#include <functional>
#include <string>
#include <vector>

#include "absl/strings/str_cat.h"
#include "qg/engine.h"

namespace {

double NowUs() {
  return std::chrono::duration<double, std::micro>(
             std::chrono::steady_clock::now().time_since_epoch())
      .count();
}

double Median(std::vector<double> v) {
  std::sort(v.begin(), v.end());
  return v.empty() ? 0 : v[v.size() / 2];
}

[[noreturn]] void Die(const std::string& what) {
  std::fprintf(stderr, "bench_plan: %s\n", what.c_str());
  std::exit(1);
}

void Exec(sqlite3* db, const char* sql) {
  char* err = nullptr;
  if (sqlite3_exec(db, sql, nullptr, nullptr, &err) != SQLITE_OK) {
    std::string e = err != nullptr ? err : "?";
    sqlite3_free(err);
    Die(e);
  }
}

// Node i selects :x<i> + 1; node i > 0 takes x<i> from node i-1's v.
std::string ChainGraph(int nodes) {
  std::string g = R"({"nodes": [)";
  for (int i = 0; i < nodes; ++i) {
    absl::StrAppend(&g, i > 0 ? ", " : "", R"({"node_id": "n)", i,
                    R"(", "database_id": "db", "query_string": "SELECT :x)", i,
                    R"( + 1 AS v", "input_parameters": ["x)", i, R"("], "output_fields": ["v"]})");
  }
  g += R"(], "edges": [)";
  for (int i = 1; i < nodes; ++i) {
    absl::StrAppend(&g, i > 1 ? ", " : "", R"({"source_node": "n)", i - 1,
                    R"(", "target_node": "n)", i, R"(", "input_mapping": {"n)", i - 1,
                    R"(.v": "n)", i, ".x", i, R"("}})");
  }
  g += R"(], "params": {"x0": 1}})";
  return g;
}

std::string WideGraph(int nodes, int per_node) {
  std::string g = R"({"nodes": [)";
  std::string params = R"("params": {)";
  for (int i = 0; i < nodes; ++i) {
    std::string q = "SELECT 1 AS v WHERE 1 IN (";
    std::string inputs;
    for (int k = 0; k < per_node; ++k) {
      const std::string name = absl::StrCat("p", i, "_", k);
      absl::StrAppend(&q, k > 0 ? ", :" : ":", name);
      absl::StrAppend(&inputs, k > 0 ? ", \"" : "\"", name, "\"");
      absl::StrAppend(&params, i > 0 || k > 0 ? ", \"" : "\"", name, "\": ", k % 7);
    }
    q.push_back(')');
    absl::StrAppend(&g, i > 0 ? ", " : "", R"({"node_id": "n)", i,
                    R"(", "database_id": "db", "query_string": ")", q,
                    R"(", "input_parameters": [)", inputs, R"(], "output_fields": ["v"]})");
  }
  absl::StrAppend(&g, R"(], "edges": [], )", params, "}}");
  return g;
}

// Median parse and validate+plan times (us) of `text`.
void TimePlanning(qg::Engine& engine, const std::string& label, const std::string& text,
                  int reps) {
  std::vector<double> parse_us, plan_us, validate_us;
  for (int r = 0; r < reps + 1; ++r) {  // the first run warms the cost cache
    const qg::ParseOptions po = engine.GraphParseOptions(nullptr);
    const double t0 = NowUs();
    auto graph = qg::ParseGraph(text, po);
    const double t1 = NowUs();
    if (!graph.ok()) Die(std::string(graph.status().message()));
    auto plan = engine.Explain(*graph);
    const double t2 = NowUs();
    if (!plan.ok()) Die(std::string(plan.status().message()));
    // Validation alone (Explain validates too): where planning's time goes.
    absl::Status valid = qg::ValidateGraph(*graph, po);
    const double t3 = NowUs();
    if (!valid.ok()) Die(std::string(valid.message()));
    if (r == 0) continue;
    parse_us.push_back(t1 - t0);
    plan_us.push_back(t2 - t1);
    validate_us.push_back(t3 - t2);
  }
  const double p = Median(parse_us), v = Median(plan_us);
  std::printf(
      "%-32s parse %8.3f ms  validate+plan %8.3f ms (validate alone %7.3f ms)  total %8.3f ms\n",
      label.c_str(), p / 1000, v / 1000, Median(validate_us) / 1000, (p + v) / 1000);
}

}  // namespace

int main(int argc, char** argv) {
  int reps = 20;
  for (int i = 1; i < argc; ++i) {
    if (std::strcmp(argv[i], "--reps") == 0 && i + 1 < argc) {
      reps = std::max(1, std::atoi(argv[++i]));
    } else {
      Die(absl::StrCat("unknown argument ", argv[i], "; usage: bench_plan [--reps N]"));
    }
  }
  std::string dir_tmpl = (std::filesystem::temp_directory_path() / "qg_bench_plan_XXXXXX").string();
  if (mkdtemp(dir_tmpl.data()) == nullptr) Die("mkdtemp failed");
  const std::string db_path = dir_tmpl + "/db.sqlite";
  sqlite3* db = nullptr;
  if (sqlite3_open(db_path.c_str(), &db) != SQLITE_OK) Die("cannot open " + db_path);
  Exec(db,
       "CREATE TABLE users(id INTEGER PRIMARY KEY, city TEXT);"
       "CREATE TABLE orders(order_id INTEGER PRIMARY KEY, user_id INTEGER, amount REAL);"
       "CREATE INDEX orders_user ON orders(user_id);"
       "INSERT INTO users VALUES (1, 'a'), (2, 'a'), (3, 'b');"
       "INSERT INTO orders VALUES (10, 1, 5.0), (11, 1, 7.5), (12, 2, 1.0), (13, 3, 2.0);");

  auto engine_or = qg::Engine::Create();
  if (!engine_or.ok()) Die(std::string(engine_or.status().message()));
  qg::Engine& engine = **engine_or;
  if (auto st = engine.LoadCatalogJson(absl::StrCat(
          R"({"sources": [{"name": "db", "provider": "sqlite", "connect": ")", db_path, R"("}]})"));
      !st.ok()) {
    Die(std::string(st.message()));
  }

  std::printf("bench_plan: medians of %d runs\n", reps);
  TimePlanning(engine, "1,000-node chain", ChainGraph(1000), reps);

  // 3-node graph: users in a city -> their orders, and their order count.
  const std::string three = R"({"nodes": [
    {"node_id": "u", "database_id": "db", "query_string": "SELECT id FROM users WHERE city = :city",
     "input_parameters": ["city"], "output_fields": ["id"]},
    {"node_id": "o", "database_id": "db",
     "query_string": "SELECT order_id, amount FROM orders WHERE user_id = :uid",
     "input_parameters": ["uid"], "output_fields": ["order_id", "amount"]},
    {"node_id": "c", "database_id": "db",
     "query_string": "SELECT user_id, count(*) AS n FROM orders WHERE user_id = :uid2 GROUP BY user_id",
     "input_parameters": ["uid2"], "output_fields": ["user_id", "n"]}],
   "edges": [
    {"source_node": "u", "target_node": "o", "input_mapping": {"u.id": "o.uid"}},
    {"source_node": "u", "target_node": "c", "input_mapping": {"u.id": "c.uid2"}}],
   "params": {"city": "a"}})";
  const int exec_reps = std::max(200, reps * 50);
  std::vector<double> engine_us, raw_us;
  for (int r = 0; r < exec_reps + 10; ++r) {
    const double t0 = NowUs();
    auto res = engine.ExecuteJson(three);
    const double t1 = NowUs();
    if (!res.ok()) Die(std::string(res.status().message()));
    if (res->nodes.size() != 3) Die("3-node graph: wrong node count");
    if (r >= 10) engine_us.push_back(t1 - t0);
  }
  // The same work by hand: the users query, then the two dependent
  // statements with all keys as one IN list (what the batched plan sends).
  sqlite3_stmt* su = nullptr;
  sqlite3_stmt* so = nullptr;
  sqlite3_stmt* sc = nullptr;
  if (sqlite3_prepare_v2(db, "SELECT id FROM users WHERE city = ?", -1, &su, nullptr) ||
      sqlite3_prepare_v2(db, "SELECT user_id, order_id, amount FROM orders WHERE user_id IN (?, ?)",
                         -1, &so, nullptr) ||
      sqlite3_prepare_v2(
          db, "SELECT user_id, count(*) FROM orders WHERE user_id IN (?, ?) GROUP BY user_id", -1,
          &sc, nullptr)) {
    Die(sqlite3_errmsg(db));
  }
  for (int r = 0; r < exec_reps + 10; ++r) {
    const double t0 = NowUs();
    sqlite3_bind_text(su, 1, "a", 1, SQLITE_STATIC);
    std::vector<int64_t> ids;
    while (sqlite3_step(su) == SQLITE_ROW) ids.push_back(sqlite3_column_int64(su, 0));
    sqlite3_reset(su);
    if (ids.size() != 2) Die("raw: wrong user count");
    int64_t rows = 0;
    for (sqlite3_stmt* s : {so, sc}) {
      for (int k = 0; k < 2; ++k) sqlite3_bind_int64(s, k + 1, ids[k]);
      while (sqlite3_step(s) == SQLITE_ROW) {
        rows += sqlite3_column_int64(s, 0) > 0 ? 1 : 0;
        (void)sqlite3_column_double(s, 1);
      }
      sqlite3_reset(s);
    }
    const double t1 = NowUs();
    if (rows != 5) Die("raw: wrong row count");
    if (r >= 10) raw_us.push_back(t1 - t0);
  }
  sqlite3_finalize(su);
  sqlite3_finalize(so);
  sqlite3_finalize(sc);
  const double e = Median(engine_us), w = Median(raw_us);
  std::printf(
      "%-32s qgraph %8.1f us  sqlite3 API %6.1f us  overhead "
      "%8.1f us per execution\n",
      "3-node SQLite graph, no cache", e, w, e - w);

  TimePlanning(engine, "10 nodes x 3,000 placeholders", WideGraph(10, 3000),
               std::max(1, reps / 4));

  sqlite3_close(db);
  std::error_code ec;
  std::filesystem::remove_all(dir_tmpl, ec);
  return 0;
}
