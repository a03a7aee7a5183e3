// The seed's graph (users in a city -> their orders) on two SQLite files,
// timed beside baselines measured in the same run on the same data
// (docs/design.md §16):
//   native join   both files ATTACHed in one SQLite connection, one JOIN: the floor
//   naive loop    the seed pseudocode's one-query-per-user loop through the
//                 sqlite3 C API (one prepared statement, re-bound per user)
//   qgraph        the engine with the dependent node forced to "batched" and
//                 to "per_binding"
// at two selectivities: one city (~2% of users) and every user (all orders).
// Every variant materialises the same rows; row counts are checked and a
// mismatch aborts the run. Figures are medians and ratios to the native join;
// nothing is asserted about time.
//
//   bench_sqlite_seed [--data DIR] [--users N] [--orders N] [--cities N] [--reps N]
// The data files are built once under DIR (default: <build>/bench-data) and
// reused while their contents match the requested sizes.
#include <sqlite3.h>
#include <unistd.h>

#include <algorithm>
#include <chrono>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <filesystem>
#include <functional>
#include <memory>
#include <string>
#include <vector>

#include "qg/engine.h"
#include "qg/result.h"

namespace {

struct Config {
  std::string data_dir;
  int64_t users = 100000;
  int64_t orders = 1000000;
  int64_t cities = 50;
  int reps = 5;
};

[[noreturn]] void Die(const std::string& msg) {
  std::fprintf(stderr, "bench_sqlite_seed: %s\n", msg.c_str());
  std::exit(1);
}

void Check(sqlite3* db, int rc, const char* what) {
  if (rc != SQLITE_OK && rc != SQLITE_DONE && rc != SQLITE_ROW) {
    Die(std::string(what) + ": " + (db != nullptr ? sqlite3_errmsg(db) : sqlite3_errstr(rc)));
  }
}

void Exec(sqlite3* db, const std::string& sql) {
  char* err = nullptr;
  if (sqlite3_exec(db, sql.c_str(), nullptr, nullptr, &err) != SQLITE_OK) {
    std::string msg = err != nullptr ? err : "?";
    sqlite3_free(err);
    Die(sql.substr(0, 60) + ": " + msg);
  }
}

sqlite3* Open(const std::string& path, int flags = SQLITE_OPEN_READONLY) {
  sqlite3* db = nullptr;
  int rc = sqlite3_open_v2(path.c_str(), &db, flags, nullptr);
  if (rc != SQLITE_OK) Die("open " + path + ": " + (db ? sqlite3_errmsg(db) : sqlite3_errstr(rc)));
  return db;
}

// The baselines get the same page cache and mmap as qgraph's sqlite provider
// uses by default (64 MiB, 256 MiB), so the comparison is engine to engine.
void Tune(sqlite3* db, const std::string& schema) {
  const std::string p = schema.empty() ? "" : schema + ".";
  Exec(db, "PRAGMA " + p + "cache_size = -65536; PRAGMA " + p + "mmap_size = 268435456");
}

// splitmix64: deterministic data without <random>'s implementation-defined
// distributions.
uint64_t Next(uint64_t& s) {
  uint64_t z = (s += 0x9e3779b97f4a7c15ULL);
  z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ULL;
  z = (z ^ (z >> 27)) * 0x94d049bb133111ebULL;
  return z ^ (z >> 31);
}

// Builds `path` with `fill` unless a file there already has a bench_meta row
// equal to `signature`. Written to a temporary file and renamed.
void BuildOnce(const std::string& path, const std::string& signature,
               const std::function<void(sqlite3*)>& fill) {
  if (std::filesystem::exists(path)) {
    sqlite3* db = Open(path);
    sqlite3_stmt* st = nullptr;
    bool same = false;
    if (sqlite3_prepare_v2(db, "SELECT signature FROM bench_meta", -1, &st, nullptr) == SQLITE_OK &&
        sqlite3_step(st) == SQLITE_ROW) {
      same = signature == reinterpret_cast<const char*>(sqlite3_column_text(st, 0));
    }
    sqlite3_finalize(st);
    sqlite3_close(db);
    if (same) return;
  }
  std::string tmp = path + ".tmp." + std::to_string(getpid());
  std::filesystem::remove(tmp);
  std::fprintf(stderr, "building %s ...\n", path.c_str());
  sqlite3* db = Open(tmp, SQLITE_OPEN_READWRITE | SQLITE_OPEN_CREATE);
  Exec(db, "PRAGMA journal_mode = OFF; PRAGMA synchronous = OFF; BEGIN");
  fill(db);
  Exec(db, "CREATE TABLE bench_meta (signature TEXT NOT NULL)");
  sqlite3_stmt* st = nullptr;
  Check(db, sqlite3_prepare_v2(db, "INSERT INTO bench_meta VALUES (?)", -1, &st, nullptr), "meta");
  sqlite3_bind_text(st, 1, signature.c_str(), -1, SQLITE_TRANSIENT);
  Check(db, sqlite3_step(st), "meta");
  sqlite3_finalize(st);
  Exec(db, "COMMIT; ANALYZE");
  Check(db, sqlite3_close(db), "close");
  std::filesystem::rename(tmp, path);
}

void BuildData(const Config& c, std::string* users_path, std::string* orders_path) {
  std::filesystem::create_directories(c.data_dir);
  *users_path =
      c.data_dir + "/users_" + std::to_string(c.users) + "_" + std::to_string(c.cities) + ".sqlite";
  *orders_path = c.data_dir + "/orders_" + std::to_string(c.orders) + "_" +
                 std::to_string(c.users) + ".sqlite";
  std::string usig = "v1 users=" + std::to_string(c.users) + " cities=" + std::to_string(c.cities);
  BuildOnce(*users_path, usig, [&](sqlite3* db) {
    Exec(db, "CREATE TABLE users (id INTEGER PRIMARY KEY, name TEXT NOT NULL, city TEXT NOT NULL)");
    sqlite3_stmt* st = nullptr;
    Check(db, sqlite3_prepare_v2(db, "INSERT INTO users VALUES (?, ?, ?)", -1, &st, nullptr),
          "users");
    for (int64_t id = 1; id <= c.users; ++id) {
      std::string name = "user" + std::to_string(id);
      std::string city = "city" + std::to_string(id % c.cities);
      sqlite3_bind_int64(st, 1, id);
      sqlite3_bind_text(st, 2, name.c_str(), -1, SQLITE_TRANSIENT);
      sqlite3_bind_text(st, 3, city.c_str(), -1, SQLITE_TRANSIENT);
      Check(db, sqlite3_step(st), "insert user");
      sqlite3_reset(st);
    }
    sqlite3_finalize(st);
    Exec(db, "CREATE INDEX users_city ON users (city)");
  });
  std::string osig = "v1 orders=" + std::to_string(c.orders) + " users=" + std::to_string(c.users);
  BuildOnce(*orders_path, osig, [&](sqlite3* db) {
    Exec(db,
         "CREATE TABLE orders (order_id INTEGER PRIMARY KEY, user_id INTEGER NOT NULL, "
         "amount DECIMAL TEXT(10,2) NOT NULL)");
    sqlite3_stmt* st = nullptr;
    Check(db, sqlite3_prepare_v2(db, "INSERT INTO orders VALUES (?, ?, ?)", -1, &st, nullptr),
          "orders");
    uint64_t seed = 42;
    char amount[32];
    for (int64_t id = 1; id <= c.orders; ++id) {
      int64_t user = static_cast<int64_t>(Next(seed) % static_cast<uint64_t>(c.users)) + 1;
      uint64_t cents = Next(seed) % 100000;
      std::snprintf(amount, sizeof amount, "%llu.%02llu",
                    static_cast<unsigned long long>(cents / 100),
                    static_cast<unsigned long long>(cents % 100));
      sqlite3_bind_int64(st, 1, id);
      sqlite3_bind_int64(st, 2, user);
      sqlite3_bind_text(st, 3, amount, -1, SQLITE_TRANSIENT);
      Check(db, sqlite3_step(st), "insert order");
      sqlite3_reset(st);
    }
    sqlite3_finalize(st);
    Exec(db, "CREATE INDEX orders_user_id ON orders (user_id)");
  });
}

// A materialised joined row, as the baselines keep it (qgraph keeps its own
// columnar Values).
struct Row {
  int64_t id;
  std::string name;
  std::string city;
  int64_t order_id;
  int64_t user_id;
  std::string amount;
};

std::string Text(sqlite3_stmt* st, int col) {
  const unsigned char* t = sqlite3_column_text(st, col);
  return t != nullptr ? std::string(reinterpret_cast<const char*>(t),
                                    static_cast<size_t>(sqlite3_column_bytes(st, col)))
                      : std::string();
}

class NativeJoin {
 public:
  NativeJoin(const std::string& users, const std::string& orders) {
    db_ = Open(users);
    sqlite3_stmt* st = nullptr;
    Check(db_, sqlite3_prepare_v2(db_, "ATTACH ? AS o", -1, &st, nullptr), "attach");
    sqlite3_bind_text(st, 1, orders.c_str(), -1, SQLITE_TRANSIENT);
    Check(db_, sqlite3_step(st), "attach");
    sqlite3_finalize(st);
    Tune(db_, "main");
    Tune(db_, "o");
  }
  ~NativeJoin() { sqlite3_close(db_); }

  size_t Run(const std::string* city) {
    std::string sql =
        "SELECT u.id, u.name, u.city, o.order_id, o.user_id, o.amount "
        "FROM users u JOIN o.orders o ON o.user_id = u.id";
    if (city != nullptr) sql += " WHERE u.city = ?";
    sqlite3_stmt* st = nullptr;
    Check(db_, sqlite3_prepare_v2(db_, sql.c_str(), -1, &st, nullptr), "native join");
    if (city != nullptr) sqlite3_bind_text(st, 1, city->c_str(), -1, SQLITE_TRANSIENT);
    std::vector<Row> rows;
    int rc;
    while ((rc = sqlite3_step(st)) == SQLITE_ROW) {
      rows.push_back({sqlite3_column_int64(st, 0), Text(st, 1), Text(st, 2),
                      sqlite3_column_int64(st, 3), sqlite3_column_int64(st, 4), Text(st, 5)});
    }
    Check(db_, rc, "native join");
    sqlite3_finalize(st);
    return rows.size();
  }

 private:
  sqlite3* db_ = nullptr;
};

class NaiveLoop {
 public:
  NaiveLoop(const std::string& users, const std::string& orders) {
    users_ = Open(users);
    orders_ = Open(orders);
    Tune(users_, "");
    Tune(orders_, "");
  }
  ~NaiveLoop() {
    sqlite3_close(users_);
    sqlite3_close(orders_);
  }

  size_t Run(const std::string* city) {
    std::string sql = "SELECT id, name, city FROM users";
    if (city != nullptr) sql += " WHERE city = ?";
    sqlite3_stmt* us = nullptr;
    Check(users_, sqlite3_prepare_v2(users_, sql.c_str(), -1, &us, nullptr), "naive users");
    if (city != nullptr) sqlite3_bind_text(us, 1, city->c_str(), -1, SQLITE_TRANSIENT);
    sqlite3_stmt* os = nullptr;
    Check(orders_,
          sqlite3_prepare_v2(orders_,
                             "SELECT order_id, user_id, amount FROM orders WHERE user_id = ?", -1,
                             &os, nullptr),
          "naive orders");
    std::vector<Row> rows;
    int rc;
    while ((rc = sqlite3_step(us)) == SQLITE_ROW) {
      int64_t id = sqlite3_column_int64(us, 0);
      std::string name = Text(us, 1), ucity = Text(us, 2);
      sqlite3_bind_int64(os, 1, id);
      int orc;
      while ((orc = sqlite3_step(os)) == SQLITE_ROW) {
        rows.push_back({id, name, ucity, sqlite3_column_int64(os, 0), sqlite3_column_int64(os, 1),
                        Text(os, 2)});
      }
      Check(orders_, orc, "naive orders");
      sqlite3_reset(os);
    }
    Check(users_, rc, "naive users");
    sqlite3_finalize(us);
    sqlite3_finalize(os);
    return rows.size();
  }

 private:
  sqlite3* users_ = nullptr;
  sqlite3* orders_ = nullptr;
};

std::string SeedGraph(bool one_city, const char* strategy) {
  std::string users_query = one_city ? "SELECT id, name, city FROM users WHERE city = :city"
                                     : "SELECT id, name, city FROM users";
  std::string users_params = one_city ? "[\"city\"]" : "[]";
  return std::string(R"({"nodes": [
    {"node_id": "user_data", "database_id": "db_users", "query_string": ")") +
         users_query + R"(", "input_parameters": )" + users_params +
         R"(, "output_fields": ["id", "name", "city"]},
    {"node_id": "order_data", "database_id": "db_orders",
     "query_string": "SELECT order_id, user_id, amount FROM orders WHERE user_id = :user_id",
     "input_parameters": ["user_id"], "output_fields": ["order_id", "user_id", "amount"],
     "strategy": ")" +
         strategy +
         R"("}],
   "edges": [{"source_node": "user_data", "target_node": "order_data",
              "input_mapping": {"user_data.id": "order_data.user_id"}}]})";
}

class QgraphRun {
 public:
  QgraphRun(const std::string& users, const std::string& orders) {
    auto engine = qg::Engine::Create();
    if (!engine.ok()) Die(engine.status().ToString());
    engine_ = *std::move(engine);
    for (auto [name, path] : {std::pair{"db_users", users}, std::pair{"db_orders", orders}}) {
      qg::SourceConfig s;
      s.name = name;
      s.provider = "sqlite";
      s.connect = path;
      absl::Status st = engine_->AddSource(s);
      if (!st.ok()) Die(st.ToString());
    }
  }

  size_t Run(const std::string* city, const char* strategy, std::string* stats = nullptr) {
    qg::ExecuteOptions opts;
    if (city != nullptr) opts.params = {{"city", qg::Value::String(*city)}};
    auto r = engine_->ExecuteJson(SeedGraph(city != nullptr, strategy), opts);
    if (!r.ok()) Die(std::string("qgraph ") + strategy + ": " + r.status().ToString());
    const qg::NodeResult* orders = r->FindNode("order_data");
    if (orders == nullptr ||
        (orders->status != qg::NodeStatus::kOk && orders->status != qg::NodeStatus::kSkipped)) {
      Die("order_data did not run");
    }
    if (stats != nullptr) {
      *stats = orders->stats.strategy + ", " + std::to_string(orders->stats.round_trips) +
               " round trips, " + std::to_string(orders->stats.parallelism) + " connections";
    }
    return orders->num_rows;
  }

 private:
  std::unique_ptr<qg::Engine> engine_;
};

double MedianMs(int reps, const std::function<size_t()>& fn, size_t* rows) {
  *rows = fn();  // warm-up (connections, page cache, statement caches)
  std::vector<double> ms;
  for (int i = 0; i < reps; ++i) {
    auto t0 = std::chrono::steady_clock::now();
    size_t n = fn();
    auto t1 = std::chrono::steady_clock::now();
    if (n != *rows) Die("row count changed between repetitions");
    ms.push_back(std::chrono::duration<double, std::milli>(t1 - t0).count());
  }
  std::sort(ms.begin(), ms.end());
  return ms[ms.size() / 2];
}

std::string DefaultDataDir() {
  std::error_code ec;
  auto exe = std::filesystem::read_symlink("/proc/self/exe", ec);
  if (ec) return "bench-data";
  return (exe.parent_path().parent_path() / "bench-data").string();
}

}  // namespace

int main(int argc, char** argv) {
  Config c;
  c.data_dir = DefaultDataDir();
  for (int i = 1; i < argc; ++i) {
    std::string a = argv[i];
    auto value = [&]() -> std::string {
      if (i + 1 >= argc) Die("option " + a + " needs a value");
      return argv[++i];
    };
    if (a == "--data")
      c.data_dir = value();
    else if (a == "--users")
      c.users = std::atoll(value().c_str());
    else if (a == "--orders")
      c.orders = std::atoll(value().c_str());
    else if (a == "--cities")
      c.cities = std::atoll(value().c_str());
    else if (a == "--reps")
      c.reps = std::atoi(value().c_str());
    else
      Die("usage: bench_sqlite_seed [--data DIR] [--users N] [--orders N] [--cities N] [--reps N]");
  }
  if (c.users <= 0 || c.orders <= 0 || c.cities <= 0 || c.reps <= 0) Die("sizes must be > 0");

  std::string users_path, orders_path;
  BuildData(c, &users_path, &orders_path);

  NativeJoin native(users_path, orders_path);
  NaiveLoop naive(users_path, orders_path);
  QgraphRun qgraph(users_path, orders_path);

  std::printf("bench_sqlite_seed: the seed graph (users in a city -> their orders) on SQLite\n");
  std::printf("  users %lld in %lld cities, orders %lld (random users, index on orders(user_id))\n",
              static_cast<long long>(c.users), static_cast<long long>(c.cities),
              static_cast<long long>(c.orders));
  std::printf("  median of %d runs after one warm-up; ratio = time / native join time\n\n", c.reps);
  std::printf("%-22s %-32s %10s %12s %10s\n", "selectivity", "variant", "rows", "median ms",
              "x native");

  std::string city = "city" + std::to_string(7 % c.cities);
  struct Case {
    const char* label;
    const std::string* city;
  };
  std::vector<double> batched_ratios;
  for (Case k : {Case{"one city (~2%)", &city}, Case{"all users", nullptr}}) {
    struct Variant {
      std::string name;
      std::function<size_t()> fn;
    };
    std::string batched_stats, per_binding_stats;
    std::vector<Variant> variants = {
        {"native join (ATTACH, 1 query)", [&] { return native.Run(k.city); }},
        {"qgraph batched", [&] { return qgraph.Run(k.city, "batched", &batched_stats); }},
        {"qgraph per_binding",
         [&] { return qgraph.Run(k.city, "per_binding", &per_binding_stats); }},
        {"naive loop (1 query/user)", [&] { return naive.Run(k.city); }},
    };
    double native_ms = 0;
    size_t expected_rows = 0;
    for (size_t i = 0; i < variants.size(); ++i) {
      size_t rows = 0;
      double ms = MedianMs(c.reps, variants[i].fn, &rows);
      if (i == 0) {
        native_ms = ms;
        expected_rows = rows;
      } else if (rows != expected_rows) {
        Die(variants[i].name + " returned " + std::to_string(rows) + " rows, the native join " +
            std::to_string(expected_rows));
      }
      double ratio = ms / native_ms;
      if (i == 1) batched_ratios.push_back(ratio);
      std::printf("%-22s %-32s %10zu %12.1f %9.2fx\n", i == 0 ? k.label : "",
                  variants[i].name.c_str(), rows, ms, ratio);
      std::fflush(stdout);
    }
    std::printf("%-22s   (qgraph batched: %s; per_binding: %s)\n", "", batched_stats.c_str(),
                per_binding_stats.c_str());
  }
  std::printf(
      "\ntarget: qgraph batched within 1.5x of the native join: one city %.2fx (%s), "
      "all users %.2fx (%s)\n",
      batched_ratios[0], batched_ratios[0] <= 1.5 ? "met" : "not met", batched_ratios[1],
      batched_ratios[1] <= 1.5 ? "met" : "not met");
  return 0;
}
