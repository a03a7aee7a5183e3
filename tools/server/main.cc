// qgraph-server — the /query_graph HTTP service (docs/design.md §14): a thin main
// over the public library API (include/qg/) and its own HTTP layer
// (http_server.h, Boost.Beast on Asio).
//
//   qgraph-server --config server.json
//   qgraph-server --catalog examples/catalog.json --port 0   # prints "listening on ..."
//   qgraph-server --config server.json --coordinator-log /var/lib/qgraph/tx.log  # 2pc
//
// Shutdown: SIGTERM or SIGINT stops accepting connections, closes idle and
// half-sent ones, lets running requests finish for --drain-timeout, cancels
// the rest, closes what is left (slow readers too) and exits 0.
#include <pthread.h>
#include <sys/resource.h>

#include <atomic>
#include <csignal>
#include <cstdio>
#include <memory>
#include <string>
#include <thread>

#include "absl/status/status.h"
#include "absl/time/clock.h"
#include "absl/time/time.h"
#include "qg/engine.h"
#include "server_config.h"
#include "service.h"

#ifndef QG_VERSION_STRING
#define QG_VERSION_STRING "unknown"
#endif

namespace qgraph_server {
namespace {

int StartupError(const absl::Status& s) {
  std::fprintf(stderr, "qgraph-server: %s: %s\n", absl::StatusCodeToString(s.code()).c_str(),
               std::string(s.message()).c_str());
  return 1;
}

// Resolves what a crash left of this server's two-phase commits (prepared
// branches) and says what it did. Unreachable sources stay in the log; the
// server starts anyway (graphs on the other sources can run).
void RecoverAtStartup(qg::Engine& engine, const std::string& log) {
  auto report = engine.Recover();
  if (!report.ok()) {
    std::fprintf(stderr, "qgraph-server: warning: recovery from coordinator log %s failed: %s\n",
                 log.c_str(), std::string(report.status().message()).c_str());
    return;
  }
  if (report->committed + report->rolled_back + report->resolved_log > 0 ||
      !report->unresolved.empty()) {
    std::fprintf(stderr,
                 "qgraph-server: recovery (%s): %d prepared branch(es) committed, %d rolled "
                 "back, %d log record(s) resolved\n",
                 log.c_str(), report->committed, report->rolled_back, report->resolved_log);
  }
  for (const std::string& u : report->unresolved) {
    std::fprintf(stderr, "qgraph-server: warning: recovery: unresolved: %s\n", u.c_str());
  }
}

int Main(int argc, char** argv) {
  ServerConfig config;
  bool help = false;
  bool version = false;
  absl::Status parsed = ApplyCommandLine(argc, argv, &config, &help, &version);
  if (help) {
    std::fputs(HelpText().c_str(), stdout);
    return 0;
  }
  if (version) {
    std::printf("qgraph-server %s\n", QG_VERSION_STRING);
    return 0;
  }
  if (!parsed.ok()) {
    std::fprintf(stderr, "qgraph-server: usage: %s\nTry 'qgraph-server --help'.\n",
                 std::string(parsed.message()).c_str());
    return 2;
  }

  // Signals are taken by one thread with sigwait: block them before any
  // thread (engine, HTTP workers) exists so every thread inherits the mask.
  sigset_t signals;
  sigemptyset(&signals);
  sigaddset(&signals, SIGTERM);
  sigaddset(&signals, SIGINT);
  pthread_sigmask(SIG_BLOCK, &signals, nullptr);
  std::signal(SIGPIPE, SIG_IGN);

  qg::EngineOptions engine_options;
  engine_options.workers = config.engine_workers;
  engine_options.limits.max_nodes =
      std::max<int64_t>(engine_options.limits.max_nodes, config.limits.max_nodes);
  engine_options.limits.max_document_bytes = std::max<int64_t>(
      engine_options.limits.max_document_bytes, static_cast<int64_t>(config.limits.max_body_bytes));
  // The engine stops producing past the server's result limits.
  engine_options.max_result_rows = config.limits.max_result_rows;
  if (config.limits.max_result_bytes > 0) {
    engine_options.max_result_bytes =
        static_cast<int64_t>(std::min<uint64_t>(config.limits.max_result_bytes, uint64_t{1} << 62));
  }
  engine_options.coordinator_log = config.coordinator_log;
  engine_options.transaction_prefix = config.transaction_prefix;
  // Recovery needs the catalog's sources: it runs below, once they are loaded.
  engine_options.recover_on_open = false;
  auto engine = qg::Engine::Create(engine_options);
  if (!engine.ok()) return StartupError(engine.status());  // names the log's path
  if (!config.catalog_json.empty()) {
    absl::Status s = (*engine)->LoadCatalogJson(config.catalog_json);
    if (!s.ok()) {
      return StartupError(
          absl::Status(s.code(), config.catalog_origin + ": " + std::string(s.message())));
    }
    if (!config.coordinator_log.empty()) RecoverAtStartup(**engine, config.coordinator_log);
  } else {
    std::fprintf(stderr,
                 "qgraph-server: warning: no catalog (--catalog or \"catalog\"); "
                 "every graph will name an unknown source\n");
  }
  if (config.tokens.empty()) {
    std::fprintf(stderr, "qgraph-server: authentication is off (the config has no \"tokens\")\n");
  }

  const int threads = config.threads > 0 ? config.threads : config.limits.max_concurrent_graphs + 8;
  auto service = std::make_unique<Service>(config, *std::move(engine));
  // Room for max_connections descriptors besides the pools'.
  rlimit nofile{};
  if (getrlimit(RLIMIT_NOFILE, &nofile) == 0 && nofile.rlim_cur < nofile.rlim_max) {
    nofile.rlim_cur = nofile.rlim_max;
    setrlimit(RLIMIT_NOFILE, &nofile);
  }
  HttpLimits http_limits;
  http_limits.max_header_bytes = static_cast<size_t>(config.limits.max_header_bytes);
  http_limits.max_header_fields = config.limits.max_header_fields;
  http_limits.max_body_bytes = config.limits.max_body_bytes;
  http_limits.request_timeout = config.limits.read_timeout;
  http_limits.keep_alive_timeout = config.limits.keep_alive_timeout;
  http_limits.write_timeout = config.limits.write_timeout;
  http_limits.max_connections = config.limits.max_connections;
  http_limits.max_connections_per_client = config.limits.max_connections_per_client;
  http_limits.workers = threads;
  HttpServer server(http_limits, service.get());
  auto port = server.Listen(config.address, config.port);
  if (!port.ok()) return StartupError(port.status());
  std::printf("listening on %s:%d\n", config.address.c_str(), *port);
  std::fflush(stdout);

  std::atomic<bool> shutting_down{false};
  std::atomic<bool> listen_done{false};
  std::thread signal_thread([&] {
    int sig = 0;
    sigwait(&signals, &sig);
    if (listen_done.load()) return;  // woken by main to exit
    shutting_down.store(true);
    std::fprintf(stderr, "qgraph-server: %s: draining (up to %s)\n",
                 sig == SIGTERM ? "SIGTERM" : "SIGINT",
                 absl::FormatDuration(config.limits.drain_timeout).c_str());
    service->BeginDrain();
    server.BeginDrain();  // no new connections; idle and half-sent ones closed
    if (!server.WaitIdle(absl::Now() + config.limits.drain_timeout)) {
      std::fprintf(stderr, "qgraph-server: drain deadline passed; cancelling %d graph(s)\n",
                   service->running());
      service->CancelAll();
      // The cancelled requests answer 499; a client that does not read its
      // answer is cut off by Stop().
      server.WaitIdle(absl::Now() + absl::Seconds(1));
    }
    server.Stop();
  });

  // Returns once Stop() closed every connection.
  server.Run();
  listen_done.store(true);
  if (!shutting_down.load()) pthread_kill(signal_thread.native_handle(), SIGTERM);
  signal_thread.join();
  service.reset();  // waits for the engine's graphs
  if (!shutting_down.load()) return StartupError(absl::UnavailableError("the server stopped"));
  std::fprintf(stderr, "qgraph-server: stopped\n");
  return 0;
}

}  // namespace
}  // namespace qgraph_server

int main(int argc, char** argv) { return qgraph_server::Main(argc, argv); }
