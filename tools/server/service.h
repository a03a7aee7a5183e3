// service.h — the HTTP endpoints of qgraph-server over a qg::Engine.
//
// Service is the HttpHandler of qgraph-server's HttpServer: POST
// /query_graph, POST /explain, DELETE /queries/{id}, GET /queries,
// GET /health, GET /metrics. It owns the registry of running graphs (their
// cancel tokens, keyed by user and query id), the concurrency limit and the
// Prometheus counters. CheckHead refuses a request before its body is read:
// authentication, the query id, Content-Type: application/json on POST, and
// with authentication off the Host and Origin (loopback only).
//
// Thread-safety: every member is thread-safe; CheckHead runs on the I/O
// thread, Handle on workers, BeginDrain/WaitIdle/CancelAll on the signal
// thread.
#ifndef QG_TOOLS_SERVER_SERVICE_H_
#define QG_TOOLS_SERVER_SERVICE_H_

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
#include "http_server.h"
#include "qg/cancel.h"
#include "qg/engine.h"
#include "server_config.h"

namespace qgraph_server {

class Service : public HttpHandler {
 public:
  Service(ServerConfig config, std::unique_ptr<qg::Engine> engine);
  ~Service();
  Service(const Service&) = delete;
  Service& operator=(const Service&) = delete;

  // HttpHandler.
  std::optional<HttpResponse> CheckHead(HttpRequest& head) override;
  HttpResponse Handle(HttpRequest& request) override;
  HttpResponse Error(const HttpRequest& head, int status, std::string message) override;
  void Logged(const HttpRequest& request, const HttpResponse& response,
              absl::Duration elapsed) override;

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
  std::optional<std::string> Authenticate(const HttpRequest& req) const;
  void RecordGraph(std::string_view outcome, absl::Duration elapsed);

 private:
  void HandleQueryGraph(const HttpRequest& req, HttpResponse& res);
  void HandleExplain(const HttpRequest& req, HttpResponse& res);
  void HandleCancel(const HttpRequest& req, HttpResponse& res);
  void HandleList(const HttpRequest& req, HttpResponse& res);
  void HandleHealth(const HttpRequest& req, HttpResponse& res);
  void HandleMetrics(const HttpRequest& req, HttpResponse& res);
  // Loopback names and addresses, or the configured listen address.
  bool AllowedHost(std::string_view host) const;
  std::string NewQueryId();

  // Takes a concurrency slot and registers the query; nullptr with `res`
  // filled (429, 409, 503) when that is refused.
  std::shared_ptr<Slot> Admit(const std::string& id, const std::string& user,
                              std::string_view endpoint, HttpResponse& res);
  void Release(const std::string& key);

  const ServerConfig config_;
  const std::unique_ptr<qg::Engine> engine_;
  const uint64_t id_prefix_;
  std::atomic<uint64_t> next_id_{1};
  std::atomic<bool> draining_{false};

  mutable absl::Mutex mu_;
  std::map<std::string, Running> running_ ABSL_GUARDED_BY(mu_);  // by RunningKey

  Metrics metrics_;
  friend struct Slot;
};

}  // namespace qgraph_server

#endif  // QG_TOOLS_SERVER_SERVICE_H_
