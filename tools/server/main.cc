// qgraph-server — the /query_graph HTTP service (DESIGN.md §14): a thin main
// over the public library API (include/qg/) and cpp-httplib.
//
//   qgraph-server --config server.json
//   qgraph-server --catalog examples/catalog.json --port 0   # prints "listening on ..."
//   qgraph-server --config server.json --coordinator-log /var/lib/qgraph/tx.log  # 2pc
//
// Shutdown: SIGTERM or SIGINT stops accepting connections, lets running
// graphs finish for --drain-timeout, cancels the rest and exits 0.
#include <pthread.h>
#include <sys/socket.h>

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
  httplib::Server server;
  server.new_task_queue = [threads] { return new httplib::ThreadPool(threads); };
  server.set_payload_max_length(config.limits.max_body_bytes);
  auto secs = [](absl::Duration d) {
    return std::make_pair(static_cast<time_t>(absl::ToInt64Seconds(d)),
                          static_cast<time_t>(absl::ToInt64Microseconds(d) % 1000000));
  };
  server.set_read_timeout(secs(config.limits.read_timeout).first,
                          secs(config.limits.read_timeout).second);
  server.set_write_timeout(secs(config.limits.write_timeout).first,
                           secs(config.limits.write_timeout).second);
  server.set_keep_alive_max_count(1000);
  server.set_keep_alive_timeout(
      std::max<time_t>(1, absl::ToInt64Seconds(config.limits.keep_alive_timeout)));
  // The listening socket, so shutdown can stop accepting while streams that
  // are being written go on (httplib's stop() would cut them short).
  std::atomic<int> listen_fd{-1};
  server.set_socket_options([&listen_fd](int sock) {
    httplib::default_socket_options(sock);
    listen_fd.store(sock);
  });
  service->Install(&server);

  int port = config.port;
  if (port == 0) {
    port = server.bind_to_any_port(config.address);
    if (port < 0) {
      return StartupError(absl::UnavailableError("cannot listen on " + config.address));
    }
  } else if (!server.bind_to_port(config.address, port)) {
    return StartupError(
        absl::UnavailableError("cannot listen on " + config.address + ":" + std::to_string(port)));
  }
  std::printf("listening on %s:%d\n", config.address.c_str(), port);
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
    int fd = listen_fd.load();
    if (fd >= 0) ::shutdown(fd, SHUT_RDWR);  // accept() fails: the listen loop ends
    if (!service->WaitIdle(absl::Now() + config.limits.drain_timeout)) {
      std::fprintf(stderr, "qgraph-server: drain deadline passed; cancelling %d graph(s)\n",
                   service->running());
      service->CancelAll();
      service->WaitIdle(absl::Now() + absl::Seconds(10));
    }
  });

  // Returns once the listening socket is shut and every worker finished.
  bool ok = server.listen_after_bind();
  listen_done.store(true);
  if (!shutting_down.load()) pthread_kill(signal_thread.native_handle(), SIGTERM);
  signal_thread.join();
  service.reset();  // waits for the engine's graphs
  if (!shutting_down.load()) {
    return StartupError(absl::UnavailableError(ok ? "the server stopped" : "listen failed"));
  }
  std::fprintf(stderr, "qgraph-server: stopped\n");
  return 0;
}

}  // namespace
}  // namespace qgraph_server

int main(int argc, char** argv) { return qgraph_server::Main(argc, argv); }
