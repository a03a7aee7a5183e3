// libFuzzer target: qgraph-server's request handling. The input is the raw
// bytes a client sends; ServeBytes parses them under the server's limits
// (framing checks included), lets the service refuse the head, and answers
// the request through the real Service over a real engine whose catalog has
// one SQLite source in memory. No network.
#include <cstddef>
#include <cstdint>
#include <memory>
#include <string_view>

#include "http_server.h"
#include "qg/engine.h"
#include "server_config.h"
#include "service.h"

namespace {

qgraph_server::Service* MakeService() {
  qgraph_server::ServerConfig config;
  config.access_log = false;
  config.limits.max_body_bytes = 64 << 10;
  config.limits.max_execution_time = absl::Milliseconds(200);
  config.limits.max_result_bytes = 1 << 20;
  config.limits.health_timeout = absl::Milliseconds(200);
  config.catalog_json =
      R"({"sources": [{"name": "db", "provider": "sqlite", "connect": ":memory:"}]})";
  qg::EngineOptions options;
  options.workers = 2;
  options.max_result_rows = 10000;
  auto engine = qg::Engine::Create(options);
  if (!engine.ok() || !(*engine)->LoadCatalogJson(config.catalog_json).ok()) std::abort();
  return new qgraph_server::Service(config, *std::move(engine));
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  static qgraph_server::Service* service = MakeService();
  static const qgraph_server::HttpLimits limits = [] {
    qgraph_server::HttpLimits l;
    l.max_body_bytes = 64 << 10;
    return l;
  }();
  qgraph_server::ServeBytes(std::string_view(reinterpret_cast<const char*>(data), size), limits,
                            service);
  return 0;
}
