#include "engine_checks.h"

#include <algorithm>
#include <atomic>
#include <catch2/catch.hpp>
#include <fstream>
#include <map>
#include <mutex>
#include <random>
#include <sstream>
#include <thread>

namespace qg::testing {

using std::chrono::steady_clock;

double Since(steady_clock::time_point t0) {
  return std::chrono::duration<double>(steady_clock::now() - t0).count();
}

std::string ReadFile(const std::string& path) {
  std::ifstream in(path);
  INFO(path);
  REQUIRE(in.good());
  std::stringstream ss;
  ss << in.rdbuf();
  return ss.str();
}

std::unique_ptr<Engine> EngineWithCatalog(const std::string& catalog) {
  auto e = Engine::Create();
  REQUIRE(e.ok());
  absl::Status s = (*e)->LoadCatalogJson(catalog);
  INFO(s.ToString());
  REQUIRE(s.ok());
  return std::move(*e);
}

std::unique_ptr<Engine> EngineWithSources(const std::vector<std::string>& sources) {
  std::string json = R"({"sources": [)";
  for (size_t i = 0; i < sources.size(); ++i) json += (i ? "," : "") + sources[i];
  json += "]}";
  return EngineWithCatalog(json);
}

int InUse(const Engine& e) {
  int n = 0;
  for (const auto& [key, st] : e.PoolStatistics()) n += st.in_use;
  return n;
}

int Idle(const Engine& e) {
  int n = 0;
  for (const auto& [key, st] : e.PoolStatistics()) n += st.idle;
  return n;
}

PoolStats PoolOf(const Engine& e, const std::string& source) {
  for (const auto& [key, st] : e.PoolStatistics()) {
    if (key.rfind(source + "/", 0) == 0 || key == source) return st;
  }
  return {};
}

std::string OneNodeGraph(const std::string& source, const std::string& sql,
                         const std::string& extra) {
  return R"({"nodes": [{"node_id": "n", "database_id": ")" + source + R"(", "query_string": ")" +
         sql + R"(", "input_parameters": [], "output_fields": ["x"]}], "edges": [])" + extra + "}";
}

std::string TextKey(const std::vector<Value>& row) {
  std::string k;
  for (const Value& v : row) k += v.ToText() + "|";
  return k;
}

std::string DebugKey(const std::vector<Value>& row) {
  std::string k;
  for (const Value& v : row) k += v.DebugString() + "|";
  return k;
}

std::vector<std::string> JoinedKeys(const GraphResult& r, const std::string& parent,
                                    const std::string& parent_field, const std::string& child,
                                    const std::string& child_field, RowKey key) {
  const NodeResult* p = r.FindNode(parent);
  const NodeResult* c = r.FindNode(child);
  REQUIRE(p != nullptr);
  REQUIRE(c != nullptr);
  const int pcol = p->FindColumn(parent_field);
  const int ccol = c->FindColumn(child_field);
  REQUIRE(pcol >= 0);
  REQUIRE(ccol >= 0);
  std::vector<std::string> out;
  for (size_t ci = 0; ci < c->num_rows; ++ci) {
    const Value& k = c->columns[ccol].values[ci];
    int matches = 0;
    for (size_t pi = 0; pi < p->num_rows; ++pi) {
      if (!ValueKeyEqual()(p->columns[pcol].values[pi], k)) continue;
      std::vector<Value> row;
      for (const Column& col : p->columns) row.push_back(col.values[pi]);
      for (const Column& col : c->columns) row.push_back(col.values[ci]);
      out.push_back(key(row));
      ++matches;
    }
    CHECK(matches == 1);
  }
  std::sort(out.begin(), out.end());
  return out;
}

std::vector<std::string> SortedKeys(const CollectedRows& rows, RowKey key) {
  std::vector<std::string> out;
  for (const auto& row : rows.rows) out.push_back(key(row));
  std::sort(out.begin(), out.end());
  return out;
}

void CheckSeedGraphAgainstNative(
    Engine& engine, const std::string& graph, RowKey key,
    const std::function<absl::StatusOr<CollectedRows>(const std::string& city)>& native_join,
    const std::function<void(const GraphResult&, const NodeResult&)>& more) {
  for (const std::string city : {"Paris", "Tokyo", "Nowhere"}) {
    ExecuteOptions opts;
    opts.params = {{"city", Value::String(city)}};
    auto r = engine.ExecuteJson(graph, opts);
    INFO(city << ": " << r.status().ToString());
    REQUIRE(r.ok());
    const NodeResult* orders = r->FindNode("order_data");
    REQUIRE(orders != nullptr);
    const std::vector<std::string> got =
        JoinedKeys(*r, "user_data", "id", "order_data", "user_id", key);
    auto want_rows = native_join(city);
    REQUIRE(want_rows.ok());
    const std::vector<std::string> want = SortedKeys(*want_rows, key);
    CHECK(got.size() == want.size());
    CHECK(got == want);
    if (city == "Nowhere") {
      CHECK(orders->status == NodeStatus::kSkipped);
    } else {
      CHECK(want.size() > 1000);
      more(*r, *orders);
    }
  }
  CHECK(InUse(engine) == 0);
}

void CheckKilledSessionFailsGraph(Engine& engine, const KilledSessionCase& c) {
  absl::StatusOr<GraphResult> result = absl::UnknownError("not run");
  std::atomic<bool> done{false};
  ExecuteOptions opts;
  opts.cancel = std::make_shared<CancelToken>();
  std::thread runner([&] {
    result = engine.ExecuteJson(c.graph, opts);
    done = true;
  });
  struct StopRunner {  // a failed REQUIRE must not leave the graph running
    std::thread& t;
    CancelToken& token;
    ~StopRunner() {
      if (t.joinable()) {
        token.Cancel();
        t.join();
      }
    }
  } stop{runner, *opts.cancel};
  REQUIRE(PollFor(c.both_running, 10000));
  auto t0 = steady_clock::now();
  c.kill_victim();
  CHECK(PollFor([&] { return done.load(); }, 2000));
  runner.join();
  CHECK(Since(t0) < 2.0);
  REQUIRE_FALSE(result.ok());
  CHECK(result.status().code() == absl::StatusCode::kUnavailable);
  const std::string msg(result.status().message());
  INFO(msg);
  CHECK(msg.find("victim") != std::string::npos);
  CHECK(msg.find(c.victim_source) != std::string::npos);
  // The sibling's statement is stopped server-side too.
  CHECK(PollFor(c.sibling_stopped, 1000));
  CHECK(InUse(engine) == 0);
  // The next graph succeeds.
  auto next = engine.ExecuteJson(OneNodeGraph(c.victim_source, "SELECT 1 AS x"));
  INFO(next.status().ToString());
  CHECK(next.ok());
  CHECK(InUse(engine) == 0);
}

void CheckServerStopAndRestart(Engine& engine, const std::string& graph, const std::string& source,
                               const std::function<void()>& stop,
                               const std::function<void()>& start) {
  REQUIRE(engine.ExecuteJson(graph).ok());
  stop();
  for (int i = 0; i < 3; ++i) {
    auto t0 = steady_clock::now();
    auto down = engine.ExecuteJson(graph);
    REQUIRE_FALSE(down.ok());
    INFO(down.status().ToString());
    CHECK(down.status().code() == absl::StatusCode::kUnavailable);
    CHECK(std::string(down.status().message()).find(source) != std::string::npos);
    CHECK(Since(t0) < 10.0);
  }
  CHECK(InUse(engine) == 0);
  start();
  auto back = steady_clock::now();
  bool ok = PollFor([&] { return engine.ExecuteJson(graph).ok(); }, 2000);
  CHECK(ok);
  CHECK(Since(back) < 2.0);
  CHECK(InUse(engine) == 0);
}

void CheckPoolExhaustion(Engine& engine, const std::string& graph, const std::string& source) {
  constexpr int kThreads = 8;
  std::vector<absl::Status> results(kThreads);
  std::vector<std::thread> threads;
  for (int i = 0; i < kThreads; ++i) {
    threads.emplace_back([&, i] { results[i] = engine.ExecuteJson(graph).status(); });
  }
  for (auto& t : threads) t.join();
  int ok = 0, exhausted = 0;
  for (const absl::Status& s : results) {
    INFO(s.ToString());
    if (s.ok()) {
      ++ok;
      continue;
    }
    CHECK(s.code() == absl::StatusCode::kResourceExhausted);
    CHECK(std::string(s.message()).find(source) != std::string::npos);
    ++exhausted;
  }
  CHECK(ok >= 2);
  CHECK(exhausted >= 1);
  CHECK(ok + exhausted == kThreads);
  CHECK(InUse(engine) == 0);
  PoolStats st = PoolOf(engine, source);
  CHECK(st.max == 2);
  CHECK(st.timeouts >= 1);
}

void CheckIdleSessionsClosed(Engine& engine, const std::string& graph,
                             const std::function<bool()>& sessions_gone) {
  for (int round = 0; round < 4; ++round) {
    auto r = engine.ExecuteJson(graph);
    INFO("round " << round << ": " << r.status().ToString());
    CHECK(r.ok());
    // Let the server close the pooled sessions.
    REQUIRE(PollFor(sessions_gone, 5000));
  }
  CHECK(InUse(engine) == 0);
}

void RunGraphsWithInjectedFailures(Engine& engine, const InjectedFailureGraphs& g) {
  std::atomic<int> n_ok{0}, n_fail{0}, bad{0};
  std::mutex notes_mu;
  std::map<std::string, int> notes;  // unexpected outcomes (Catch2 is not thread-safe)
  auto Note = [&](std::string what) {
    std::lock_guard<std::mutex> l(notes_mu);
    ++notes[what.substr(0, 200)];
  };
  auto worker = [&](unsigned seed) {
    std::mt19937 rng(seed);
    for (int i = 0; i < 250; ++i) {
      int kind = static_cast<int>(rng() % 10);
      ExecuteOptions opts;
      opts.params = {{"city", Value::String(kind % 2 ? "Oslo" : "Lyon")}};
      absl::StatusOr<GraphResult> r = absl::UnknownError("");
      if (kind <= 4) {
        r = engine.ExecuteJson(g.ok_graph, opts);
        if (!r.ok()) {
          ++bad;
          Note("ok graph failed: " + r.status().ToString());
        }
      } else if (kind <= 6) {
        r = engine.ExecuteJson(g.error_graph, opts);
        if (r.ok() || r.status().code() != absl::StatusCode::kInvalidArgument) {
          ++bad;
          Note("error graph: " + r.status().ToString());
        }
      } else if (kind == 7) {
        r = engine.ExecuteJson(g.slow_graph, opts);
        if (r.ok() || r.status().code() != absl::StatusCode::kDeadlineExceeded) {
          ++bad;
          Note("slow graph: " + r.status().ToString());
        }
      } else {
        opts.cancel = std::make_shared<CancelToken>();
        auto token = opts.cancel;
        std::thread canceller([token, delay = rng() % 20] {
          std::this_thread::sleep_for(std::chrono::milliseconds(delay));
          token->Cancel();
        });
        r = engine.ExecuteJson(g.cancel_graph, opts);
        canceller.join();
        if (!r.ok() && r.status().code() != absl::StatusCode::kCancelled) {
          ++bad;
          Note("cancelled graph: " + r.status().ToString());
        }
      }
      (r.ok() ? n_ok : n_fail)++;
    }
  };
  std::vector<std::thread> threads;
  for (unsigned t = 0; t < 4; ++t) threads.emplace_back(worker, g.seed + t);
  for (auto& t : threads) t.join();
  CHECK(n_ok + n_fail == 1000);
  CHECK(n_fail > 100);
  for (const auto& [what, count] : notes) UNSCOPED_INFO(count << " x " << what);
  CHECK(bad == 0);
  CHECK(InUse(engine) == 0);
}

}  // namespace qg::testing
