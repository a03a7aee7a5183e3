// Test helper: graphs run continuously against one source from several
// threads while the test ALTERs and then DROPs that source (issue 4, "Live
// changes"). Shared by the SQLite case (tests/unit/engine) and the
// PostgreSQL one (tests/integration).
//
// Every graph is classified by the phase it STARTED in:
//  - before the DROP statement was issued: it must succeed (ALTERs and a
//    DROP that come while it runs let it finish);
//  - while the DROP statement ran: success or kNotFound naming the source;
//  - after the DROP returned: kNotFound whose message names the source.
// Anything else is recorded in `unexpected` with its phase and status.
//
//   GraphLoad load(engine, "s", graph_json, /*threads=*/4);
//   load.WaitForGraphs(20);
//   ... ALTER statements ...
//   load.BeginDrop(); engine.ExecuteStatements("DROP ..."); load.EndDrop();
//   GraphLoad::Report r = load.Stop(/*after_drop_per_thread=*/3);  // or StopAndCheck
#ifndef QG_TESTS_UNIT_ENGINE_CATALOG_LOAD_UTIL_H_
#define QG_TESTS_UNIT_ENGINE_CATALOG_LOAD_UTIL_H_

#include <atomic>
#include <catch2/catch.hpp>
#include <chrono>
#include <mutex>
#include <string>
#include <thread>
#include <vector>

#include "qg/engine.h"

namespace qg::testing_load {

// A two-node QGDL graph on `source`: node "keys" runs `keys_sql` (one
// column k) and node "vals" runs `vals_sql` (columns k, v, n) once per k,
// through :k. The second node takes its connection after the first is done,
// so a concurrent ALTER/DROP can land between the two.
inline std::string DependentGraph(const std::string& source, const std::string& keys_sql,
                                  const std::string& vals_sql) {
  return R"({"nodes": [
    {"node_id": "keys", "database_id": ")" +
         source + R"(", "query_string": ")" + keys_sql + R"(", "output_fields": ["k"]},
    {"node_id": "vals", "database_id": ")" +
         source + R"(", "query_string": ")" + vals_sql + R"(",
     "input_parameters": ["k"], "output_fields": ["k", "v", "n"]}],
  "edges": [{"source_node": "keys", "target_node": "vals", "input_mapping": {"keys.k": "vals.k"}}]})";
}

class GraphLoad {
 public:
  struct Report {
    int ok = 0;                    // started before the DROP, succeeded
    int raced_drop = 0;            // started while the DROP ran (ok or not-found)
    int not_found_after_drop = 0;  // started after the DROP, kNotFound naming the source
    std::vector<std::string> unexpected;
  };

  GraphLoad(Engine& engine, std::string source, std::string graph_json, int threads,
            ExecuteOptions options = {})
      : engine_(engine),
        source_(std::move(source)),
        graph_(std::move(graph_json)),
        options_(std::move(options)) {
    for (int i = 0; i < threads; ++i) threads_.emplace_back([this] { Loop(); });
  }
  GraphLoad(const GraphLoad&) = delete;
  GraphLoad& operator=(const GraphLoad&) = delete;
  ~GraphLoad() { Join(); }

  // Waits until at least `n` graphs have completed (false after 60 s).
  bool WaitForGraphs(int n) {
    const auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(60);
    while (done_.load() < n) {
      if (std::chrono::steady_clock::now() > deadline) return false;
      std::this_thread::sleep_for(std::chrono::milliseconds(2));
    }
    return true;
  }
  int completed() const { return done_.load(); }

  void BeginDrop() { phase_.store(kDropping); }
  void EndDrop() { phase_.store(kDropped); }

  // Stops (see below) and CHECKs the report: nothing unexpected, at least
  // `min_ok` graphs succeeded before the DROP, and every thread saw the
  // not-found of the dropped source `after_drop_per_thread` times.
  void StopAndCheck(int min_ok, int after_drop_per_thread) {
    const int threads = static_cast<int>(threads_.size());
    const Report report = Stop(after_drop_per_thread);
    for (const std::string& u : report.unexpected) UNSCOPED_INFO(u);
    CHECK(report.unexpected.empty());
    CHECK(report.ok >= min_ok);
    CHECK(report.not_found_after_drop >= threads * after_drop_per_thread);
  }

  // Lets every thread run `after_drop_per_thread` more graphs (all started
  // after the DROP), then stops and joins them.
  Report Stop(int after_drop_per_thread) {
    after_drop_target_.store(after_drop_per_thread);
    stop_.store(true);
    Join();
    std::lock_guard<std::mutex> lock(mu_);
    return report_;
  }

 private:
  enum Phase { kRunning = 0, kDropping = 1, kDropped = 2 };

  void Join() {
    stop_.store(true);
    for (std::thread& t : threads_) {
      if (t.joinable()) t.join();
    }
  }

  static std::string PhaseName(int phase) {
    return phase == kRunning ? "before DROP" : phase == kDropping ? "during DROP" : "after DROP";
  }

  // The graph's overall status: the call's, else the first failed node's.
  static absl::Status StatusOf(const absl::StatusOr<GraphResult>& r) {
    if (!r.ok()) return r.status();
    for (const NodeResult& n : r->nodes) {
      if (n.status != NodeStatus::kOk) {
        return n.error.ok() ? absl::InternalError("node " + n.node_id + " not ok") : n.error;
      }
    }
    return absl::OkStatus();
  }

  void Loop() {
    int after_drop = 0;
    while (true) {
      if (stop_.load() && (phase_.load() != kDropped || after_drop >= after_drop_target_.load())) {
        return;
      }
      // A call the DROP overlapped (the phase moved while it ran) counts as
      // racing it, whatever the phase was when the thread looked before.
      int phase = phase_.load();
      const absl::Status st = StatusOf(engine_.ExecuteJson(graph_, options_));
      if (phase == kRunning && phase_.load() != kRunning) phase = kDropping;
      const bool not_found =
          st.code() == absl::StatusCode::kNotFound &&
          std::string(st.message()).find("\"" + source_ + "\"") != std::string::npos;
      std::lock_guard<std::mutex> lock(mu_);
      if (phase == kRunning && st.ok()) {
        ++report_.ok;
      } else if (phase == kDropping && (st.ok() || not_found)) {
        ++report_.raced_drop;
      } else if (phase == kDropped && not_found) {
        ++report_.not_found_after_drop;
      } else {
        report_.unexpected.push_back(PhaseName(phase) + ": " +
                                     (st.ok() ? std::string("succeeded") : st.ToString()));
      }
      if (phase == kDropped) ++after_drop;
      done_.fetch_add(1);
    }
  }

  Engine& engine_;
  const std::string source_;
  const std::string graph_;
  const ExecuteOptions options_;
  std::atomic<int> phase_{kRunning};
  std::atomic<bool> stop_{false};
  std::atomic<int> after_drop_target_{0};
  std::atomic<int> done_{0};
  std::mutex mu_;
  Report report_;
  std::vector<std::thread> threads_;
};

}  // namespace qg::testing_load

#endif  // QG_TESTS_UNIT_ENGINE_CATALOG_LOAD_UTIL_H_
