// bench_http: a dependent REST lookup (keys from a CSV file feeding
// GET /users?ids=...) run batched — many keys per request — beside the same
// lookup with one request per binding (in parallel over the pool), against an
// in-process cpp-httplib server on loopback. Prints requests and times, and
// their ratios. Never asserts on time.
//
//   bench_http [keys=2000] [max_batch=100] [pool=8]
#include <httplib.h>
#include <stdlib.h>

#include <atomic>
#include <chrono>
#include <cstdio>
#include <filesystem>
#include <fstream>
#include <string>
#include <thread>

#include "providers/csv/csv_provider.h"
#include "providers/http/http_provider.h"
#include "qg/engine.h"

namespace {

std::atomic<int64_t> g_requests{0};

std::string UserJson(long id) {
  return "{\"id\":" + std::to_string(id) + ",\"name\":\"user" + std::to_string(id) +
         "\",\"score\":" + std::to_string(id % 97) + "}";
}

}  // namespace

int main(int argc, char** argv) {
  const int keys = argc > 1 ? std::atoi(argv[1]) : 2000;
  const int max_batch = argc > 2 ? std::atoi(argv[2]) : 100;
  const int pool = argc > 3 ? std::atoi(argv[3]) : 8;

  httplib::Server server;
  server.Get("/users", [](const httplib::Request& req, httplib::Response& res) {
    g_requests.fetch_add(1);
    std::string body = "[";
    const std::string ids = req.get_param_value("ids");
    size_t start = 0;
    bool first = true;
    while (start < ids.size()) {
      size_t comma = ids.find(',', start);
      if (comma == std::string::npos) comma = ids.size();
      const long id = std::atol(ids.substr(start, comma - start).c_str());
      start = comma + 1;
      if (!first) body += ',';
      body += UserJson(id);
      first = false;
    }
    body += "]";
    res.set_content(body, "application/json");
  });
  server.Get(R"(/users/(\d+))", [](const httplib::Request& req, httplib::Response& res) {
    g_requests.fetch_add(1);
    res.set_content(UserJson(std::atol(req.matches[1].str().c_str())), "application/json");
  });
  const int port = server.bind_to_any_port("127.0.0.1");
  if (port <= 0) {
    std::fprintf(stderr, "bench_http: cannot bind a loopback port\n");
    return 1;
  }
  std::thread serve([&] { server.listen_after_bind(); });

  namespace fs = std::filesystem;
  std::string dir = (fs::temp_directory_path() / "qg_bench_http_XXXXXX").string();
  if (mkdtemp(dir.data()) == nullptr) return 1;
  {
    std::ofstream f(dir + "/keys.csv");
    f << "user_id\n";
    for (int i = 1; i <= keys; ++i) f << i << "\n";
  }

  auto engine = qg::Engine::Create();
  if (!engine.ok()) return 1;
  for (auto p : {qg::NewHttpProvider(), qg::NewCsvProvider()}) (void)(*engine)->RegisterProvider(p);
  const std::string catalog =
      R"({"sources": [{"name": "api", "provider": "http", "connect": "http://127.0.0.1:)" +
      std::to_string(port) + R"(", "options": {"pool_max": )" + std::to_string(pool) +
      R"(, "max_batch": )" + std::to_string(max_batch) + R"(}},
       {"name": "files", "provider": "csv", "connect": ")" +
      dir + R"("}]})";
  if (auto st = (*engine)->LoadCatalogJson(catalog); !st.ok()) {
    std::fprintf(stderr, "bench_http: %s\n", st.ToString().c_str());
    return 1;
  }
  auto graph = [](const std::string& query, const std::string& strategy) {
    return R"({"nodes": [
      {"node_id": "keys", "database_id": "files", "query_string": "SELECT user_id FROM keys",
       "input_parameters": [], "output_fields": ["user_id"]},
      {"node_id": "users", "database_id": "api", "query_string": ")" +
           query + R"(", "strategy": ")" + strategy + R"(",
       "input_parameters": ["id"], "output_fields": ["id", "name", "score"]}],
      "edges": [{"source_node": "keys", "target_node": "users",
                 "input_mapping": {"keys.user_id": "users.id"}}]})";
  };
  struct Run {
    double ms = 0;
    int64_t requests = 0;
    size_t rows = 0;
  };
  auto run = [&](const std::string& g) -> Run {
    Run best;
    for (int rep = 0; rep < 3; ++rep) {
      g_requests = 0;
      const auto t0 = std::chrono::steady_clock::now();
      auto r = (*engine)->ExecuteJson(g);
      const double ms =
          std::chrono::duration<double, std::milli>(std::chrono::steady_clock::now() - t0).count();
      if (!r.ok()) {
        std::fprintf(stderr, "bench_http: %s\n", r.status().ToString().c_str());
        std::exit(1);
      }
      if (rep == 0 || ms < best.ms) {
        best.ms = ms;
        best.requests = g_requests.load();
        best.rows = r->FindNode("users")->num_rows;
      }
    }
    return best;
  };
  const Run batched = run(graph("GET /users?ids=:id batch=id", "batched"));
  const Run per_list = run(graph("GET /users?ids=:id batch=id", "per_binding"));
  const Run per_path = run(graph("GET /users/:id", "auto"));

  std::printf("bench_http: %d keys, max_batch=%d, pool_max=%d (best of 3)\n", keys, max_batch,
              pool);
  std::printf("  %-34s %8s %10s %8s\n", "strategy", "requests", "ms", "rows");
  std::printf("  %-34s %8lld %10.1f %8zu\n", "batched (ids=a,b,c)",
              static_cast<long long>(batched.requests), batched.ms, batched.rows);
  std::printf("  %-34s %8lld %10.1f %8zu\n", "per_binding (ids=a)",
              static_cast<long long>(per_list.requests), per_list.ms, per_list.rows);
  std::printf("  %-34s %8lld %10.1f %8zu\n", "per_binding (/users/:id, auto)",
              static_cast<long long>(per_path.requests), per_path.ms, per_path.rows);
  std::printf("  ratio per_binding/batched: requests %.1fx, time %.1fx\n",
              static_cast<double>(per_list.requests) / std::max<int64_t>(1, batched.requests),
              per_list.ms / std::max(0.001, batched.ms));
  server.stop();
  serve.join();
  std::error_code ec;
  fs::remove_all(dir, ec);
  return 0;
}
