// Shared pieces of the server benchmarks (bench_postgres, bench_mariadb):
// the data sizes, the test server they attach to or start, timing with
// medians and spread, the seed graph, the result table, and the command
// line both take:
//
//   bench_X [ENV_FILE] [--only=WORD[,WORD...]] [--selectivity=city|all] [--reps=N]
//
//   ENV_FILE       a server's env file (written by scripts/start-*.sh)
//   --only         run only the methods whose name contains one of the words
//                  (e.g. --only=qgraph to profile qgraph alone); ratios to a
//                  method that did not run are not printed
//   --selectivity  one of the two cases only
//   --reps         timed repetitions per method (default 7 for one city, 3
//                  for all users; the slow baselines run once)
//
// Header-only: each bench is one executable.
#ifndef QG_BENCH_BENCH_COMMON_H_
#define QG_BENCH_BENCH_COMMON_H_

#include <algorithm>
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <fstream>
#include <functional>
#include <string>
#include <vector>

namespace qg_bench {

constexpr int kUsers = 100000;
constexpr int kOrders = 1000000;
constexpr int kCities = 50;  // one city = 2% of users
inline const std::string kCity = "city7";

inline std::string Env(const char* name) {
  const char* v = std::getenv(name);
  return v != nullptr ? v : "";
}

// Reads NAME=VALUE lines ('#' comments, optional single quotes) into the
// environment, never overriding a variable already set.
inline bool LoadEnvFile(const std::string& path) {
  std::ifstream in(path);
  if (!in) return false;
  std::string line;
  while (std::getline(in, line)) {
    size_t eq = line.find('=');
    if (eq == std::string::npos || line[0] == '#') continue;
    std::string value = line.substr(eq + 1);
    if (value.size() >= 2 && value.front() == '\'' && value.back() == '\'') {
      value = value.substr(1, value.size() - 2);
    }
    setenv(line.substr(0, eq).c_str(), value.c_str(), 0);
  }
  return true;
}

struct Options {
  std::string env_file;
  std::vector<std::string> only;  // empty: every method
  bool run_city = true;
  bool run_all = true;
  int reps = 0;  // 0: the defaults

  bool Wants(const std::string& method) const {
    if (only.empty()) return true;
    for (const std::string& w : only) {
      if (method.find(w) != std::string::npos) return true;
    }
    return false;
  }
  int Reps(bool one_city) const { return reps > 0 ? reps : (one_city ? 7 : 3); }
};

// Parses the command line above; prints usage and returns false on an error.
inline bool ParseOptions(const char* prog, int argc, char** argv, Options* o) {
  for (int i = 1; i < argc; ++i) {
    std::string a = argv[i];
    if (a.rfind("--only=", 0) == 0) {
      std::string list = a.substr(7);
      size_t start = 0;
      while (start <= list.size()) {
        size_t comma = list.find(',', start);
        if (comma == std::string::npos) comma = list.size();
        if (comma > start) o->only.push_back(list.substr(start, comma - start));
        start = comma + 1;
      }
    } else if (a == "--selectivity=city") {
      o->run_all = false;
    } else if (a == "--selectivity=all") {
      o->run_city = false;
    } else if (a.rfind("--reps=", 0) == 0 && std::atoi(a.c_str() + 7) > 0) {
      o->reps = std::atoi(a.c_str() + 7);
    } else if (!a.empty() && a[0] != '-' && o->env_file.empty()) {
      o->env_file = a;
    } else {
      std::fprintf(stderr,
                   "usage: %s [ENV_FILE] [--only=WORD[,WORD...]] [--selectivity=city|all] "
                   "[--reps=N]\n",
                   prog);
      return false;
    }
  }
  return true;
}

// The test server a bench uses: ENV_FILE, else variables already set (when
// `port_var` is), else $QG_TEST_SERVERS_DIR (default BUILD/test-servers)/
// KIND.env; when there is none, scripts/start-KIND.sh in BUILD/bench-servers,
// stopped again by Stop().
class ServerHandle {
 public:
  ServerHandle(std::string kind, std::string port_var)
      : kind_(std::move(kind)), port_var_(std::move(port_var)) {}
  ServerHandle(const ServerHandle&) = delete;
  ServerHandle& operator=(const ServerHandle&) = delete;

  bool Attach(const std::string& env_file) {
    if (!env_file.empty()) {
      if (LoadEnvFile(env_file)) return true;
      std::fprintf(stderr, "bench_%s: cannot read %s\n", kind_.c_str(), env_file.c_str());
      return false;
    }
    if (!Env(port_var_.c_str()).empty()) return true;
    const std::string servers_env = Env("QG_TEST_SERVERS_DIR");
    dir_ = servers_env.empty() ? std::string(QG_BINARY_DIR) + "/test-servers" : servers_env;
    if (LoadEnvFile(dir_ + "/" + kind_ + ".env")) return true;
    dir_ = std::string(QG_BINARY_DIR) + "/bench-servers";
    const std::string cmd = Script("start");
    if (std::system(cmd.c_str()) != 0 || !LoadEnvFile(dir_ + "/" + kind_ + ".env")) {
      std::fprintf(stderr, "bench_%s: could not start the server (%s)\n", kind_.c_str(),
                   cmd.c_str());
      return false;
    }
    started_ = true;
    return true;
  }

  // Stops a server Attach() started; false when that fails.
  bool Stop() {
    if (!started_) return true;
    started_ = false;
    return std::system(Script("stop").c_str()) == 0;
  }

 private:
  std::string Script(const char* verb) const {
    return std::string("bash ") + QG_SOURCE_DIR + "/scripts/" + verb + "-" + kind_ + ".sh '" +
           dir_ + "'";
  }
  std::string kind_, port_var_, dir_;
  bool started_ = false;
};

// One method's times.
struct Timing {
  double median = 0, min = 0, max = 0;
  int runs = 0;
  size_t rows = 0;
};

// Runs `fn` `reps` times (after one untimed warm-up when `warm`); `fn`
// returns the row count.
inline Timing Time(int reps, bool warm, const std::function<size_t()>& fn) {
  using Clock = std::chrono::steady_clock;
  Timing t;
  if (warm) t.rows = fn();
  std::vector<double> secs;
  for (int i = 0; i < reps; ++i) {
    auto t0 = Clock::now();
    t.rows = fn();
    secs.push_back(std::chrono::duration<double>(Clock::now() - t0).count());
  }
  std::sort(secs.begin(), secs.end());
  t.runs = reps;
  t.median = secs[secs.size() / 2];
  t.min = secs.front();
  t.max = secs.back();
  return t;
}

// The lines of one selectivity, printed as a table with ratios to the first
// line (the native join) when it ran.
class Report {
 public:
  Report(const Options& options, bool one_city) : options_(options), one_city_(one_city) {}

  // Times `fn` as method `name` unless --only leaves it out. `slow`: one
  // run, no warm-up (the naive loop, the all-users fdw join).
  void Run(const std::string& name, bool slow, const std::function<size_t()>& fn) {
    if (!options_.Wants(name)) return;
    lines_.push_back({name, slow ? Time(1, false, fn) : Time(options_.Reps(one_city_), true, fn)});
  }

  // The median of the first line whose name contains `word`; 0 if none ran.
  double Median(const std::string& word) const {
    for (const Line& l : lines_) {
      if (l.name.find(word) != std::string::npos) return l.t.median;
    }
    return 0;
  }

  static void PrintHeader() {
    std::printf("%-12s %-42s %10s %10s %19s %10s\n", "selectivity", "method", "rows", "median s",
                "min..max s (runs)", "vs native");
  }

  void Print() const {
    const double native = Median("native");
    for (const Line& l : lines_) {
      char spread[64];
      std::snprintf(spread, sizeof(spread), "%.3f..%.3f (%d)", l.t.min, l.t.max, l.t.runs);
      std::printf("%-12s %-42s %10zu %10.4f %19s", one_city_ ? "1 city (2%)" : "all users",
                  l.name.c_str(), l.t.rows, l.t.median, spread);
      if (native > 0) {
        std::printf(" %9.2fx\n", l.t.median / native);
      } else {
        std::printf(" %10s\n", "-");
      }
    }
  }

  // "qgraph/native 0.60": a ratio of two methods' medians, when both ran.
  // The smallest median among the lines whose name contains `word` (a peer
  // measured in several configurations is compared at its best); 0 if none.
  double BestMedian(const std::string& word) const {
    double best = 0;
    for (const Line& l : lines_) {
      if (l.name.find(word) != std::string::npos && (best == 0 || l.t.median < best)) {
        best = l.t.median;
      }
    }
    return best;
  }

  // "label a/b": a's median over the best median of b's lines.
  std::string Ratio(const std::string& label, const std::string& a, const std::string& b) const {
    const double x = Median(a), y = BestMedian(b);
    if (x <= 0 || y <= 0) return "";
    char buf[96];
    std::snprintf(buf, sizeof(buf), "  %s %.2f", label.c_str(), x / y);
    return buf;
  }

 private:
  struct Line {
    std::string name;
    Timing t;
  };
  const Options& options_;
  bool one_city_;
  std::vector<Line> lines_;
};

// The seed graph on bench_users / bench_orders; `strategy` ("" = the
// planner's choice) goes on the orders node.
inline std::string SeedGraph(bool one_city, const std::string& strategy = "") {
  std::string users = one_city ? "SELECT id, name, city FROM bench_users WHERE city = :city"
                               : "SELECT id, name, city FROM bench_users";
  std::string inputs = one_city ? R"(["city"])" : "[]";
  std::string strat = strategy.empty() ? "" : R"(, "strategy": ")" + strategy + R"(")";
  return R"({"nodes": [
    {"node_id": "user_data", "database_id": "db_users", "query_string": ")" +
         users + R"(", "input_parameters": )" + inputs +
         R"(, "output_fields": ["id", "name", "city"]},
    {"node_id": "order_data", "database_id": "db_orders",
     "query_string": "SELECT order_id, user_id, amount FROM bench_orders WHERE user_id = :user_id",
     "input_parameters": ["user_id"], "output_fields": ["order_id", "user_id", "amount"])" +
         strat + R"(}],
   "edges": [{"source_node": "user_data", "target_node": "order_data",
              "input_mapping": {"user_data.id": "order_data.user_id"}}]})";
}

}  // namespace qg_bench

#endif  // QG_BENCH_BENCH_COMMON_H_
