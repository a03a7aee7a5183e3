// bench_soak: many threads run mixed graphs on one engine for a long time and
// the program checks that nothing creeps:
//
//   bench_soak [--seconds N] [--threads T] [--sample S] [--servers DIR]
//
//   --seconds  how long to run (default 600)
//   --threads  client threads on the one engine (default 6)
//   --sample   seconds between samples (default 2)
//   --servers  the test servers' directory (postgres.env, mariadb.env);
//              default $QG_TEST_SERVERS_DIR, else BUILD/test-servers, else
//              servers started for the run in BUILD/bench-servers
//
// The mix (each thread picks at random): the seed graph (users -> orders)
// on SQLite, on PostgreSQL, on MariaDB and across all three; writes to
// PostgreSQL and MariaDB in "common" and in "2pc" transactions; slow graphs
// cancelled from another thread; slow graphs that time out. Every sample
// reads the sessions of our load on the servers (PostgreSQL pg_stat_activity
// by application_name, MariaDB's process list by user) and this process's
// RSS (/proc/self/status VmRSS).
//
// Bounds (exit status 1 when one is broken):
//   - sessions on each server never above the sum of pool_max of our sources
//     there (MariaDB: the pooled sessions; the short sessions that send KILL
//     QUERY for a cancel are counted apart, at most one per statement of the
//     cancelled source);
//   - RSS after the warm-up (the first fifth of the run, at least 5 s) never
//     more than 5% above its value at the end of the warm-up;
//   - no unexpected error: seed graphs and writes succeed with the right row
//     counts, cancelled graphs succeed or fail kCancelled, slow graphs fail
//     kDeadlineExceeded; after the run every pool is back (nothing in use),
//     nothing of ours is prepared on either server and Recover() is clean.
// Prints a table per graph kind and the samples' summary.
#include <unistd.h>

#include <algorithm>
#include <atomic>
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <map>
#include <mutex>
#include <random>
#include <string>
#include <thread>
#include <vector>

#include "bench_common.h"
#include "qg/engine.h"

namespace {

using Clock = std::chrono::steady_clock;
using qg_bench::Env;

constexpr int kPgPoolMax = 4;  // per source
constexpr int kMyPoolMax = 4;
constexpr int kLitePoolMax = 4;
constexpr int kUsers = 500;
constexpr int kOrders = 4000;

struct Args {
  int seconds = 600;
  int threads = 6;
  int sample = 2;
  std::string servers;
};

bool ParseArgs(int argc, char** argv, Args* a) {
  for (int i = 1; i < argc; ++i) {
    std::string k = argv[i];
    auto value = [&](int* out) {
      if (i + 1 >= argc) return false;
      *out = std::atoi(argv[++i]);
      return *out > 0;
    };
    if (k == "--seconds") {
      if (!value(&a->seconds)) return false;
    } else if (k == "--threads") {
      if (!value(&a->threads)) return false;
    } else if (k == "--sample") {
      if (!value(&a->sample)) return false;
    } else if (k == "--servers" && i + 1 < argc) {
      a->servers = argv[++i];
    } else {
      return false;
    }
  }
  return true;
}

int64_t RssKb() {
  std::ifstream in("/proc/self/status");
  std::string line;
  while (std::getline(in, line)) {
    if (line.rfind("VmRSS:", 0) == 0) return std::atoll(line.c_str() + 6);
  }
  return -1;
}

// Runs a graph that must succeed; returns the status of the first failure.
absl::StatusOr<qg::GraphResult> Run(qg::Engine& e, const std::string& graph,
                                    const qg::ExecuteOptions& o = {}) {
  return e.ExecuteJson(graph, o);
}

bool Must(qg::Engine& e, const std::string& graph, const char* what) {
  auto r = e.ExecuteJson(graph);
  if (!r.ok()) {
    std::fprintf(stderr, "bench_soak: setup %s: %s\n", what, r.status().ToString().c_str());
    return false;
  }
  return true;
}

std::string Write(const std::string& db, const std::string& sql) {
  return R"({"nodes": [{"node_id": "w", "database_id": ")" + db +
         R"(", "mode": "write", "query_string": ")" + sql + R"("}]})";
}

int64_t FirstInt(const absl::StatusOr<qg::GraphResult>& r) {
  if (!r.ok() || r->nodes.empty() || r->nodes[0].num_rows == 0) return -1;
  return r->nodes[0].columns[0].values[0].as_int();
}

std::string Seed(const std::string& users_db, const std::string& orders_db,
                 const std::string& city) {
  return R"({"params": {"city": ")" + city + R"("}, "nodes": [
    {"node_id": "user_data", "database_id": ")" +
         users_db + R"(",
     "query_string": "SELECT id, name, city FROM soak_users WHERE city = :city",
     "input_parameters": ["city"], "output_fields": ["id", "name", "city"]},
    {"node_id": "order_data", "database_id": ")" +
         orders_db + R"(",
     "query_string": "SELECT order_id, user_id, amount FROM soak_orders WHERE user_id = :user_id",
     "input_parameters": ["user_id"], "output_fields": ["order_id", "user_id", "amount"]}],
  "edges": [{"source_node": "user_data", "target_node": "order_data",
             "input_mapping": {"user_data.id": "order_data.user_id"}}]})";
}

std::string TxWrite(const std::string& mode, int64_t id) {
  const std::string k = std::to_string(id);
  return R"({"transaction": ")" + mode + R"(", "params": {"id": )" + k + R"J(}, "nodes": [
    {"node_id": "w_pg", "database_id": "pg", "mode": "write",
     "query_string": "INSERT INTO soak_w (id, v) VALUES (:id, 'x')", "input_parameters": ["id"]},
    {"node_id": "w_my", "database_id": "my", "mode": "write",
     "query_string": "INSERT INTO soak_w (id, v) VALUES (:id, 'x')", "input_parameters": ["id"]}],
  "edges": [{"source_node": "w_pg", "target_node": "w_my"}]})J";
}

struct KindStats {
  int64_t runs = 0, ok = 0, expected_errors = 0, unexpected = 0;
  double total_ms = 0, max_ms = 0;
  std::string first_unexpected;
};

}  // namespace

int main(int argc, char** argv) {
  Args args;
  if (!ParseArgs(argc, argv, &args)) {
    std::fprintf(stderr,
                 "usage: bench_soak [--seconds N] [--threads T] [--sample S] [--servers DIR]\n");
    return 2;
  }
  if (!args.servers.empty()) setenv("QG_TEST_SERVERS_DIR", args.servers.c_str(), 1);
  qg_bench::ServerHandle pg_server("postgres", "QG_TEST_PG_PORT");
  qg_bench::ServerHandle my_server("mariadb", "QG_TEST_MYSQL_PORT");
  if (!pg_server.Attach("") || !my_server.Attach("")) return 1;
  const std::string pg_port = Env("QG_TEST_PG_PORT"), my_port = Env("QG_TEST_MYSQL_PORT");
  if (pg_port.empty() || my_port.empty()) {
    std::fprintf(stderr, "bench_soak: no QG_TEST_PG_PORT / QG_TEST_MYSQL_PORT\n");
    return 1;
  }

  char tmpl[] = "/tmp/qg_soak_XXXXXX";
  if (mkdtemp(tmpl) == nullptr) return 1;
  const std::string dir = tmpl;

  auto pg_src = [&](const std::string& name, int pool_max, const std::string& app) {
    return R"({"name": ")" + name +
           R"(", "provider": "postgres", "connect": "host=127.0.0.1 port=)" + pg_port +
           R"( dbname=qgtest", "user": "qg", "password": {"env": "QG_TEST_PG_PASSWORD"},
             "options": {"pool_max": )" +
           std::to_string(pool_max) + R"(, "acquire_timeout": "30s", "application_name": ")" + app +
           R"("}})";
  };
  auto my_src = [&](const std::string& name, int pool_max) {
    return R"({"name": ")" + name + R"(", "provider": "mysql", "connect": "host=127.0.0.1 port=)" +
           my_port +
           R"( dbname=qgtest", "user": "qg", "password": {"env": "QG_TEST_MYSQL_PASSWORD"},
             "options": {"pool_max": )" +
           std::to_string(pool_max) + R"(, "acquire_timeout": "30s"}})";
  };
  auto lite_src = [&](const std::string& name, const std::string& file) {
    return R"({"name": ")" + name + R"(", "provider": "sqlite", "connect": ")" + dir + "/" + file +
           R"(", "options": {"create": true, "pool_max": )" + std::to_string(kLitePoolMax) +
           R"(, "acquire_timeout": "30s"}})";
  };

  qg::EngineOptions eo;
  eo.coordinator_log = dir + "/tx.log";
  eo.transaction_prefix = "qgsoak";
  auto engine_or = qg::Engine::Create(eo);
  if (!engine_or.ok()) return 1;
  qg::Engine& engine = **engine_or;
  // PostgreSQL: pg (seed reads, writes), pg_slow (cancels, timeouts);
  // MariaDB: my, my_slow; SQLite: lite_users, lite_orders.
  const int pg_bound = 2 * kPgPoolMax, my_bound = 2 * kMyPoolMax;
  absl::Status st = engine.LoadCatalogJson(
      R"({"sources": [)" + pg_src("pg", kPgPoolMax, "qg_soak") + "," +
      pg_src("pg_slow", kPgPoolMax, "qg_soak") + "," + my_src("my", kMyPoolMax) + "," +
      my_src("my_slow", kMyPoolMax) + "," + lite_src("lite_users", "users.sqlite") + "," +
      lite_src("lite_orders", "orders.sqlite") + "]}");
  if (!st.ok()) {
    std::fprintf(stderr, "bench_soak: catalog: %s\n", st.ToString().c_str());
    return 1;
  }
  // The sampler's own engine: one session per server, not counted.
  auto mon_or = qg::Engine::Create();
  if (!mon_or.ok()) return 1;
  qg::Engine& mon = **mon_or;
  st = mon.LoadCatalogJson(R"({"sources": [)" + pg_src("pg", 1, "qg_soak_monitor") + "," +
                           my_src("my", 1) + "]}");
  if (!st.ok()) return 1;

  // Data: the same users/orders on the three sources, built by the servers.
  const std::string users_pg =
      "INSERT INTO soak_users SELECT n, 'user ' || n, (ARRAY['Paris','Berlin','Lyon','Tokyo',"
      "'Oslo'])[1 + n % 5] FROM generate_series(1, " +
      std::to_string(kUsers) + ") n";
  const std::string orders_pg =
      "INSERT INTO soak_orders SELECT n, 1 + (n * 7919) % " + std::to_string(kUsers + 100) +
      ", (n % 1000) / 7.0 FROM generate_series(1, " + std::to_string(kOrders) + ") n";
  // MariaDB caps recursive CTEs (max_recursive_iterations): 1..N from digits.
  const std::string seq = [](int n) {
    const std::string d =
        "(SELECT 0 d UNION ALL SELECT 1 UNION ALL SELECT 2 UNION ALL SELECT 3 UNION ALL SELECT 4 "
        "UNION ALL SELECT 5 UNION ALL SELECT 6 UNION ALL SELECT 7 UNION ALL SELECT 8 UNION ALL "
        "SELECT 9)";
    return "(SELECT 1 + a.d + 10 * b.d + 100 * c.d + 1000 * e.d AS n FROM " + d + " a, " + d +
           " b, " + d + " c, " + d +
           " e WHERE 1 + a.d + 10 * b.d + 100 * c.d + 1000 * e.d <= " + std::to_string(n) + ") s";
  }(kOrders);
  const std::string users_my =
      "INSERT INTO soak_users SELECT n, CONCAT('user ', n), ELT(1 + n % 5, 'Paris', 'Berlin', "
      "'Lyon', 'Tokyo', 'Oslo') FROM " +
      seq + " WHERE n <= " + std::to_string(kUsers);
  const std::string orders_my = "INSERT INTO soak_orders SELECT n, 1 + (n * 7919) % " +
                                std::to_string(kUsers + 100) + ", (n % 1000) / 7.0 FROM " + seq;
  const std::string users_lite =
      "INSERT INTO soak_users WITH RECURSIVE seq(n) AS (SELECT 1 UNION ALL SELECT n + 1 FROM seq "
      "WHERE n < " +
      std::to_string(kUsers) +
      ") SELECT n, 'user ' || n, CASE n % 5 WHEN 0 THEN 'Paris' WHEN 1 THEN 'Berlin' WHEN 2 THEN "
      "'Lyon' WHEN 3 THEN 'Tokyo' ELSE 'Oslo' END FROM seq";
  const std::string orders_lite =
      "INSERT INTO soak_orders WITH RECURSIVE seq(n) AS (SELECT 1 UNION ALL SELECT n + 1 FROM seq "
      "WHERE n < " +
      std::to_string(kOrders) + ") SELECT n, 1 + (n * 7919) % " + std::to_string(kUsers + 100) +
      ", (n % 1000) / 7 FROM seq";
  bool ok = true;
  for (const char* db : {"pg", "my"}) {
    ok = ok && Must(engine, Write(db, "DROP TABLE IF EXISTS soak_users"), "drop");
    ok = ok && Must(engine, Write(db, "DROP TABLE IF EXISTS soak_orders"), "drop");
    ok = ok && Must(engine, Write(db, "DROP TABLE IF EXISTS soak_w"), "drop");
    ok = ok && Must(engine,
                    Write(db,
                          "CREATE TABLE soak_users (id int PRIMARY KEY, name varchar(40) NOT NULL, "
                          "city varchar(20) NOT NULL)"),
                    "create");
    ok = ok && Must(engine,
                    Write(db,
                          "CREATE TABLE soak_orders (order_id int PRIMARY KEY, user_id int NOT "
                          "NULL, amount numeric(12,2) NOT NULL)"),
                    "create");
    ok = ok &&
         Must(engine, Write(db, "CREATE INDEX soak_orders_user ON soak_orders (user_id)"), "index");
    ok = ok && Must(engine,
                    Write(db, "CREATE TABLE soak_w (id bigint PRIMARY KEY, v varchar(8) NOT NULL)"),
                    "create");
  }
  ok = ok && Must(engine, Write("pg", users_pg), "users") &&
       Must(engine, Write("pg", orders_pg), "orders") &&
       Must(engine, Write("my", users_my), "users") &&
       Must(engine, Write("my", orders_my), "orders");
  ok = ok &&
       Must(engine,
            Write("lite_users",
                  "CREATE TABLE soak_users (id INTEGER PRIMARY KEY, name TEXT, city "
                  "TEXT)"),
            "create") &&
       Must(engine, Write("lite_users", users_lite), "users") &&
       Must(engine,
            Write("lite_orders",
                  "CREATE TABLE soak_orders (order_id INTEGER PRIMARY KEY, user_id "
                  "INTEGER, amount NUMERIC)"),
            "create") &&
       Must(engine, Write("lite_orders", "CREATE INDEX soak_orders_user ON soak_orders (user_id)"),
            "index") &&
       Must(engine, Write("lite_orders", orders_lite), "orders");
  if (!ok) return 1;

  // The right answers, from one database each.
  const std::string expected_users_graph = R"({"nodes": [{"node_id": "n", "database_id": "pg",
    "query_string": "SELECT count(*) AS n FROM soak_users WHERE city = 'Paris'",
    "output_fields": ["n"]}]})";
  const std::string expected_orders_graph = R"({"nodes": [{"node_id": "n", "database_id": "pg",
    "query_string": "SELECT count(*) AS n FROM soak_orders o JOIN soak_users u ON u.id = o.user_id WHERE u.city = 'Paris'",
    "output_fields": ["n"]}]})";
  const int64_t want_users = FirstInt(Run(engine, expected_users_graph));
  const int64_t want_orders = FirstInt(Run(engine, expected_orders_graph));
  if (want_users <= 0 || want_orders <= 0) {
    std::fprintf(stderr, "bench_soak: cannot compute the expected counts\n");
    return 1;
  }

  enum Kind { kSeedLite, kSeedPg, kSeedMy, kSeedMixed, kCommon, kTwoPc, kCancel, kTimeout, kKinds };
  const char* kNames[kKinds] = {"seed sqlite",  "seed postgres", "seed mariadb", "seed mixed",
                                "write common", "write 2pc",     "cancel",       "timeout"};
  const std::string seeds[4] = {Seed("lite_users", "lite_orders", "Paris"),
                                Seed("pg", "pg", "Paris"), Seed("my", "my", "Paris"),
                                Seed("lite_users", "my", "Paris")};
  const std::string slow_pg = R"({"nodes": [{"node_id": "slow", "database_id": "pg_slow",
    "query_string": "SELECT pg_sleep(0.3) IS NULL AS x", "output_fields": ["x"]}]})";
  const std::string slow_my = R"({"nodes": [{"node_id": "slow", "database_id": "my_slow",
    "query_string": "SELECT SLEEP(0.3) AS x", "output_fields": ["x"]}]})";
  const std::string timeout_pg = R"({"timeout_ms": 50, "nodes": [{"node_id": "slow",
    "database_id": "pg_slow", "query_string": "SELECT pg_sleep(2) IS NULL AS x", "output_fields": ["x"]}]})";
  const std::string timeout_my = R"({"timeout_ms": 50, "nodes": [{"node_id": "slow",
    "database_id": "my_slow", "query_string": "SELECT SLEEP(2) AS x", "output_fields": ["x"]}]})";

  std::mutex mu;
  std::vector<KindStats> stats(kKinds);
  std::atomic<bool> stop{false};
  std::atomic<int64_t> next_id{1};
  auto record = [&](Kind k, double ms, int outcome, const std::string& why) {
    std::lock_guard<std::mutex> lock(mu);
    KindStats& s = stats[k];
    ++s.runs;
    s.total_ms += ms;
    s.max_ms = std::max(s.max_ms, ms);
    if (outcome == 0) ++s.ok;
    if (outcome == 1) ++s.expected_errors;
    if (outcome == 2) {
      ++s.unexpected;
      if (s.first_unexpected.empty()) s.first_unexpected = why;
    }
  };

  auto client = [&](unsigned seed) {
    std::mt19937 rng(seed);
    while (!stop.load()) {
      const Kind k = static_cast<Kind>(rng() % kKinds);
      const auto t0 = Clock::now();
      int outcome = 0;
      std::string why;
      auto expect_ok = [&](const absl::StatusOr<qg::GraphResult>& r) {
        if (!r.ok()) {
          outcome = 2;
          why = r.status().ToString();
        }
      };
      switch (k) {
        case kSeedLite:
        case kSeedPg:
        case kSeedMy:
        case kSeedMixed: {
          auto r = engine.ExecuteJson(seeds[k - kSeedLite]);
          expect_ok(r);
          if (r.ok()) {
            const qg::NodeResult* u = r->FindNode("user_data");
            const qg::NodeResult* o = r->FindNode("order_data");
            if (u == nullptr || o == nullptr || static_cast<int64_t>(u->num_rows) != want_users ||
                static_cast<int64_t>(o->num_rows) != want_orders) {
              outcome = 2;
              why = "wrong row counts";
            }
          }
          break;
        }
        case kCommon:
        case kTwoPc: {
          auto r = engine.ExecuteJson(TxWrite(k == kCommon ? "common" : "2pc", next_id++));
          expect_ok(r);
          break;
        }
        case kCancel: {
          qg::ExecuteOptions o;
          o.cancel = std::make_shared<qg::CancelToken>();
          const int after_ms = 20 + static_cast<int>(rng() % 100);
          std::thread canceller([&o, after_ms] {
            std::this_thread::sleep_for(std::chrono::milliseconds(after_ms));
            o.cancel->Cancel();
          });
          auto r = engine.ExecuteJson(rng() % 2 ? slow_pg : slow_my, o);
          canceller.join();
          if (!r.ok()) {
            outcome = r.status().code() == absl::StatusCode::kCancelled ? 1 : 2;
            why = r.status().ToString();
          }
          break;
        }
        case kTimeout: {
          auto r = engine.ExecuteJson(rng() % 2 ? timeout_pg : timeout_my);
          outcome = !r.ok() && r.status().code() == absl::StatusCode::kDeadlineExceeded ? 1 : 2;
          why = r.ok() ? "no timeout" : r.status().ToString();
          break;
        }
        default:
          break;
      }
      record(k, std::chrono::duration<double, std::milli>(Clock::now() - t0).count(), outcome, why);
    }
  };

  const std::string pg_count_graph = R"({"nodes": [{"node_id": "n", "database_id": "pg",
    "query_string": "SELECT count(*) AS n FROM pg_stat_activity WHERE application_name = 'qg_soak'",
    "output_fields": ["n"]}]})";
  // MariaDB: the pools' sessions (database qgtest) and, apart, the short
  // sessions the provider opens to send KILL QUERY when a statement is
  // cancelled (no database; at most one per statement being cancelled).
  const std::string my_count_graph = R"J({"nodes": [{"node_id": "n", "database_id": "my",
    "query_string": "SELECT count(*) AS n FROM information_schema.PROCESSLIST WHERE USER = 'qg' AND DB = 'qgtest' AND ID <> CONNECTION_ID()",
    "output_fields": ["n"]}]})J";
  const std::string my_killers_graph = R"J({"nodes": [{"node_id": "n", "database_id": "my",
    "query_string": "SELECT count(*) AS n FROM information_schema.PROCESSLIST WHERE USER = 'qg' AND DB IS NULL AND ID <> CONNECTION_ID()",
    "output_fields": ["n"]}]})J";
  // The monitor's MariaDB session is user qg too: its sessions are pool_max 1.
  const int warmup = std::max(5, args.seconds / 5);
  int64_t max_pg = 0, max_my = 0, max_killers = 0, rss_warm = 0, rss_max_after = 0,
          rss_start = RssKb(), rss_end = 0;
  int samples = 0, monitor_errors = 0;

  std::printf("bench_soak: %d s, %d threads, sample every %d s, warm-up %d s\n", args.seconds,
              args.threads, args.sample, warmup);
  std::fflush(stdout);
  std::vector<std::thread> clients;
  for (int t = 0; t < args.threads; ++t) clients.emplace_back(client, 1000u + t);
  const auto start = Clock::now();
  while (true) {
    std::this_thread::sleep_for(std::chrono::seconds(args.sample));
    const double el = std::chrono::duration<double>(Clock::now() - start).count();
    const int64_t pg = FirstInt(mon.ExecuteJson(pg_count_graph));
    const int64_t my = FirstInt(mon.ExecuteJson(my_count_graph));
    const int64_t killers = FirstInt(mon.ExecuteJson(my_killers_graph));
    if (pg < 0 || my < 0 || killers < 0) ++monitor_errors;
    max_killers = std::max(max_killers, killers);
    max_pg = std::max(max_pg, pg);
    max_my = std::max(max_my, my);
    const int64_t rss = RssKb();
    ++samples;
    if (el <= warmup) {
      rss_warm = rss;
    } else {
      rss_max_after = std::max(rss_max_after, rss);
    }
    if (samples % 15 == 1) {
      std::printf(
          "  t=%4.0fs  pg sessions %2lld  mariadb sessions %2lld (+%lld killing)  rss %lld KiB\n",
          el, static_cast<long long>(pg), static_cast<long long>(my),
          static_cast<long long>(killers), static_cast<long long>(rss));
      std::fflush(stdout);
    }
    if (el >= args.seconds) break;
  }
  stop = true;
  for (auto& t : clients) t.join();
  rss_end = RssKb();

  // Afterwards: pools back, nothing prepared, Recover() clean.
  int in_use = 0;
  for (const auto& [key, ps] : engine.PoolStatistics()) in_use += ps.in_use;
  auto rec = engine.Recover();
  const bool recover_clean =
      rec.ok() && rec->unresolved.empty() && rec->committed == 0 && rec->rolled_back == 0;
  const int64_t pg_prepared = FirstInt(mon.ExecuteJson(
      R"({"nodes": [{"node_id": "n", "database_id": "pg", "query_string": "SELECT count(*) AS n FROM pg_prepared_xacts WHERE gid LIKE 'qgsoak.%'", "output_fields": ["n"]}]})"));
  // MariaDB's prepared branches are listed by XA RECOVER, which Recover()
  // runs: a branch of ours left there would make it roll something back.

  std::printf("\n%-14s %8s %8s %10s %10s %9s %9s\n", "graph", "runs", "ok", "expected",
              "unexpected", "mean ms", "max ms");
  int64_t unexpected = 0, total = 0;
  for (int k = 0; k < kKinds; ++k) {
    const KindStats& s = stats[k];
    unexpected += s.unexpected;
    total += s.runs;
    std::printf("%-14s %8lld %8lld %10lld %10lld %9.1f %9.1f\n", kNames[k],
                static_cast<long long>(s.runs), static_cast<long long>(s.ok),
                static_cast<long long>(s.expected_errors), static_cast<long long>(s.unexpected),
                s.runs ? s.total_ms / s.runs : 0.0, s.max_ms);
  }
  const double growth =
      rss_warm > 0 ? 100.0 * static_cast<double>(rss_max_after - rss_warm) / rss_warm : 0.0;
  std::printf("%-14s %8lld\n\n", "total", static_cast<long long>(total));
  std::printf(
      "samples %d; postgres sessions max %lld (bound %d); mariadb sessions max %lld (bound %d)\n",
      samples, static_cast<long long>(max_pg), pg_bound, static_cast<long long>(max_my), my_bound);
  std::printf(
      "mariadb KILL QUERY sessions (cancels) max %lld (bound %d: one per statement of my_slow)\n",
      static_cast<long long>(max_killers), kMyPoolMax);
  std::printf(
      "rss KiB: start %lld, end of warm-up %lld, max after %lld (%+.2f%%, bound 5%%), end %lld\n",
      static_cast<long long>(rss_start), static_cast<long long>(rss_warm),
      static_cast<long long>(rss_max_after), growth, static_cast<long long>(rss_end));
  std::printf(
      "after the run: connections in use %d, prepared on postgres %lld, "
      "Recover() %s, monitor errors %d\n",
      in_use, static_cast<long long>(pg_prepared),
      recover_clean ? "clean" : (rec.ok() ? "resolved something" : "failed"), monitor_errors);
  for (int k = 0; k < kKinds; ++k) {
    if (!stats[k].first_unexpected.empty()) {
      std::printf("first unexpected %s: %s\n", kNames[k], stats[k].first_unexpected.c_str());
    }
  }

  std::vector<std::string> broken;
  if (unexpected > 0) broken.push_back("unexpected errors");
  if (max_pg > pg_bound) broken.push_back("postgres sessions above pool_max");
  // The monitor's own MariaDB session is excluded by CONNECTION_ID(); only
  // the load's two pools count.
  if (max_my > my_bound) broken.push_back("mariadb sessions above pool_max");
  if (max_killers > kMyPoolMax)
    broken.push_back("mariadb KILL QUERY sessions above my_slow's pool_max");
  if (rss_warm <= 0 || growth >= 5.0) broken.push_back("rss growth after warm-up");
  if (in_use != 0) broken.push_back("connections still in use");
  if (pg_prepared != 0 || !recover_clean) broken.push_back("2pc leftovers");
  if (monitor_errors > 0 || samples == 0) broken.push_back("monitor failed");
  std::error_code ec;
  std::filesystem::remove_all(dir, ec);
  pg_server.Stop();
  my_server.Stop();
  if (!broken.empty()) {
    std::printf("bench_soak: FAILED:");
    for (const auto& b : broken) std::printf(" [%s]", b.c_str());
    std::printf("\n");
    return 1;
  }
  std::printf("bench_soak: every bound held\n");
  return 0;
}
