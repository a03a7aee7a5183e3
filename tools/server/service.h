// service.h — the HTTP endpoints of qgraph-server over a qg::Engine.
//
// Service installs its handlers on an httplib::Server: POST /query_graph,
// POST /explain, DELETE /queries/{id}, GET /queries, GET /health,
// GET /metrics. It owns the registry of running graphs (their cancel
// tokens), the concurrency limit and the Prometheus counters.
//
// Thread-safety: every member is thread-safe; handlers run on httplib's
// worker threads, BeginDrain/WaitIdle/CancelAll on the signal thread.
#ifndef QG_TOOLS_SERVER_SERVICE_H_
#define QG_TOOLS_SERVER_SERVICE_H_

#include <httplib.h>

#include <atomic>
#include <map>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "absl/base/thread_annotations.h"
#include "absl/status/status.h"
#include "absl/synchronization/mutex.h"
#include "absl/time/time.h"
#include "qg/cancel.h"
#include "qg/engine.h"
#include "server_config.h"

namespace qgraph_server {

class Service {
 public:
  Service(ServerConfig config, std::unique_ptr<qg::Engine> engine);
  ~Service();
  Service(const Service&) = delete;
  Service& operator=(const Service&) = delete;

  void Install(httplib::Server* server);

  // Shutdown: from now on new graphs get 503.
  void BeginDrain();
  // Waits until no graph is running (true) or until `deadline` (false).
  bool WaitIdle(absl::Time deadline);
  // Cancels every running graph.
  void CancelAll();
  int running() const;

  // One running graph (or explain), registered under its query id.
  struct Running {
    std::string id;
    std::string user;
    std::string endpoint;
    absl::Time started;
    std::shared_ptr<qg::CancelToken> cancel;
  };

  // Prometheus state.
  struct Metrics {
    absl::Mutex mu;
    std::map<std::string, uint64_t> graphs_by_outcome ABSL_GUARDED_BY(mu);
    std::vector<uint64_t> latency_buckets ABSL_GUARDED_BY(mu);  // cumulative at render
    double latency_sum ABSL_GUARDED_BY(mu) = 0;
    uint64_t latency_count ABSL_GUARDED_BY(mu) = 0;
    std::map<std::pair<std::string, int>, uint64_t> requests ABSL_GUARDED_BY(mu);
    std::atomic<uint64_t> rows_returned{0};
    std::atomic<uint64_t> bytes_returned{0};
  };

  // Internal: shared by handler helpers (public so the .cc's helpers can
  // reach them; not an API).
  struct Slot;
  std::optional<std::string> Authenticate(const httplib::Request& req) const;
  void RecordGraph(std::string_view outcome, absl::Duration elapsed);

 private:
  void HandleQueryGraph(const httplib::Request& req, httplib::Response& res);
  void HandleExplain(const httplib::Request& req, httplib::Response& res);
  void HandleCancel(const httplib::Request& req, httplib::Response& res);
  void HandleList(const httplib::Request& req, httplib::Response& res);
  void HandleHealth(const httplib::Request& req, httplib::Response& res);
  void HandleMetrics(const httplib::Request& req, httplib::Response& res);
  httplib::Server::HandlerResponse PreRouting(const httplib::Request& req, httplib::Response& res);
  void Log(const httplib::Request& req, const httplib::Response& res);

  // Takes a concurrency slot and registers the query; nullptr with `res`
  // filled (429, 409, 503) when that is refused.
  std::shared_ptr<Slot> Admit(const std::string& id, const std::string& user,
                              std::string_view endpoint, httplib::Response& res);
  void Release(const std::string& id);

  const ServerConfig config_;
  const std::unique_ptr<qg::Engine> engine_;
  const uint64_t id_prefix_;
  std::atomic<uint64_t> next_id_{1};
  std::atomic<bool> draining_{false};

  mutable absl::Mutex mu_;
  std::map<std::string, Running> running_ ABSL_GUARDED_BY(mu_);

  Metrics metrics_;
  friend struct Slot;
};

}  // namespace qgraph_server

#endif  // QG_TOOLS_SERVER_SERVICE_H_
