// bench_server_load — N concurrent HTTP clients against qgraph-server.
//
//   bench_server_load [--clients 32] [--requests 4000] [--server PATH] [--url URL]
//
// Starts qgraph-server (next to this program unless --server or --url is
// given) on a free loopback port with the SQLite example catalog, then runs
// `clients` threads, each with its own keep-alive libcurl handle, posting
// the seed graph ({"graph": seed.json, "params": {"city": "Paris"}}) until
// `requests` requests are done in total. Meanwhile a sampler reads /metrics
// every 5 ms and records, per pool, the most connections open at once
// (in_use + idle) against pool_max. Prints throughput, p50/p99 latency,
// errors and the pool figures; exits 1 when there were errors or a pool
// went over pool_max. It never asserts on time.
#include <curl/curl.h>
#include <signal.h>
#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <atomic>
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <fstream>
#include <map>
#include <mutex>
#include <regex>
#include <sstream>
#include <string>
#include <thread>
#include <vector>

#ifndef QG_SOURCE_DIR
#define QG_SOURCE_DIR "."
#endif

namespace {

using Clock = std::chrono::steady_clock;

size_t Collect(char* data, size_t size, size_t n, void* out) {
  static_cast<std::string*>(out)->append(data, size * n);
  return size * n;
}

std::string ReadFile(const std::string& path) {
  std::ifstream f(path, std::ios::binary);
  std::stringstream ss;
  ss << f.rdbuf();
  return ss.str();
}

struct PoolPeak {
  double max_open = 0;  // in_use + idle
  double max_in_use = 0;
  double max_waiting = 0;
  double pool_max = 0;
};

// Starts the server; returns its pid and sets *url, or -1.
pid_t StartServer(const std::string& binary, int clients, std::string* url) {
  char config_path[] = "/tmp/bench-server-XXXXXX";
  int fd = mkstemp(config_path);
  if (fd < 0) return -1;
  const std::string config = std::string("{\"port\": 0, \"access_log\": false, \"catalog\": \"") +
                             QG_SOURCE_DIR +
                             "/examples/catalog.json\", \"limits\": {\"max_concurrent_graphs\": " +
                             std::to_string(std::max(clients, 1)) + "}}";
  if (write(fd, config.data(), config.size()) != static_cast<ssize_t>(config.size())) return -1;
  close(fd);
  int pipefd[2];
  if (pipe(pipefd) != 0) return -1;
  pid_t pid = fork();
  if (pid == 0) {
    dup2(pipefd[1], STDOUT_FILENO);
    close(pipefd[0]);
    close(pipefd[1]);
    if (chdir(QG_SOURCE_DIR) != 0) _exit(127);  // the catalog's paths are relative
    execl(binary.c_str(), binary.c_str(), "--config", config_path, static_cast<char*>(nullptr));
    _exit(127);
  }
  close(pipefd[1]);
  std::string line;
  char c;
  while (read(pipefd[0], &c, 1) == 1 && c != '\n') line += c;
  close(pipefd[0]);
  unlink(config_path);
  std::smatch m;
  if (!std::regex_search(line, m, std::regex(R"(listening on (\S+))"))) {
    std::fprintf(stderr, "bench_server_load: the server did not start (%s)\n", line.c_str());
    kill(pid, SIGKILL);
    waitpid(pid, nullptr, 0);
    return -1;
  }
  *url = "http://" + m[1].str();
  return pid;
}

}  // namespace

int main(int argc, char** argv) {
  int clients = 32;
  int requests = 4000;
  std::string server;
  std::string url;
  for (int i = 1; i + 1 < argc; i += 2) {
    std::string a = argv[i];
    if (a == "--clients") {
      clients = std::max(1, std::atoi(argv[i + 1]));
    } else if (a == "--requests") {
      requests = std::max(1, std::atoi(argv[i + 1]));
    } else if (a == "--server") {
      server = argv[i + 1];
    } else if (a == "--url") {
      url = argv[i + 1];
    } else {
      std::fprintf(stderr,
                   "usage: bench_server_load [--clients N] [--requests N] [--server PATH] "
                   "[--url URL]\n");
      return 2;
    }
  }
  if (std::system("bash " QG_SOURCE_DIR "/scripts/make-example-data.sh >/dev/null") != 0) {
    std::fprintf(stderr, "bench_server_load: cannot build the example data\n");
    return 1;
  }
  if (server.empty()) {
    std::string self = argv[0];
    size_t slash = self.rfind('/');
    server =
        (slash == std::string::npos ? std::string(".") : self.substr(0, slash)) + "/qgraph-server";
  }
  pid_t pid = -1;
  if (url.empty()) {
    pid = StartServer(server, clients, &url);
    if (pid < 0) return 1;
  }
  curl_global_init(CURL_GLOBAL_DEFAULT);
  const std::string body = "{\"graph\": " + ReadFile(QG_SOURCE_DIR "/examples/graphs/seed.json") +
                           ", \"params\": {\"city\": \"Paris\"}}";

  // Sampler: pool figures from /metrics.
  std::atomic<bool> done{false};
  std::map<std::string, PoolPeak> peaks;
  int samples = 0;
  std::thread sampler([&] {
    CURL* h = curl_easy_init();
    const std::string metrics_url = url + "/metrics";
    const std::regex line_re(
        R"re(^qgraph_pool_(in_use|idle|waiting|max)\{pool="([^"]*)"\} (\S+))re");
    while (!done.load()) {
      std::string text;
      curl_easy_setopt(h, CURLOPT_URL, metrics_url.c_str());
      curl_easy_setopt(h, CURLOPT_WRITEFUNCTION, Collect);
      curl_easy_setopt(h, CURLOPT_WRITEDATA, &text);
      if (curl_easy_perform(h) == CURLE_OK) {
        std::map<std::string, std::map<std::string, double>> now;
        std::istringstream in(text);
        std::string l;
        std::smatch m;
        while (std::getline(in, l)) {
          if (std::regex_search(l, m, line_re)) now[m[2].str()][m[1].str()] = std::stod(m[3].str());
        }
        for (auto& [pool, v] : now) {
          PoolPeak& p = peaks[pool];
          p.max_open = std::max(p.max_open, v["in_use"] + v["idle"]);
          p.max_in_use = std::max(p.max_in_use, v["in_use"]);
          p.max_waiting = std::max(p.max_waiting, v["waiting"]);
          p.pool_max = v["max"];
        }
        ++samples;
      }
      std::this_thread::sleep_for(std::chrono::milliseconds(5));
    }
    curl_easy_cleanup(h);
  });

  std::atomic<int> next{0};
  std::atomic<int> errors{0};
  std::mutex mu;
  std::vector<double> latencies;
  std::map<std::string, int> error_kinds;
  const std::string query_url = url + "/query_graph";
  auto client = [&] {
    CURL* h = curl_easy_init();
    struct curl_slist* headers = curl_slist_append(nullptr, "Content-Type: application/json");
    headers = curl_slist_append(headers, "Expect:");
    std::vector<double> mine;
    while (next.fetch_add(1) < requests) {
      std::string out;
      curl_easy_setopt(h, CURLOPT_URL, query_url.c_str());
      curl_easy_setopt(h, CURLOPT_HTTPHEADER, headers);
      curl_easy_setopt(h, CURLOPT_POSTFIELDS, body.c_str());
      curl_easy_setopt(h, CURLOPT_POSTFIELDSIZE, static_cast<long>(body.size()));
      curl_easy_setopt(h, CURLOPT_WRITEFUNCTION, Collect);
      curl_easy_setopt(h, CURLOPT_WRITEDATA, &out);
      curl_easy_setopt(h, CURLOPT_TIMEOUT, 60L);
      const auto t0 = Clock::now();
      CURLcode rc = curl_easy_perform(h);
      const double ms = std::chrono::duration<double, std::milli>(Clock::now() - t0).count();
      long status = 0;
      curl_easy_getinfo(h, CURLINFO_RESPONSE_CODE, &status);
      if (rc != CURLE_OK || status != 200 || out.find("\"order_data\"") == std::string::npos) {
        errors.fetch_add(1);
        std::lock_guard<std::mutex> lock(mu);
        ++error_kinds[rc != CURLE_OK ? curl_easy_strerror(rc)
                                     : "HTTP " + std::to_string(status) + " " + out.substr(0, 160)];
      } else {
        mine.push_back(ms);
      }
    }
    curl_slist_free_all(headers);
    curl_easy_cleanup(h);
    std::lock_guard<std::mutex> lock(mu);
    latencies.insert(latencies.end(), mine.begin(), mine.end());
  };
  const auto start = Clock::now();
  std::vector<std::thread> threads;
  for (int i = 0; i < clients; ++i) threads.emplace_back(client);
  for (auto& t : threads) t.join();
  const double seconds = std::chrono::duration<double>(Clock::now() - start).count();
  done.store(true);
  sampler.join();

  std::sort(latencies.begin(), latencies.end());
  auto pct = [&](double p) {
    if (latencies.empty()) return 0.0;
    size_t i = std::min(latencies.size() - 1, static_cast<size_t>(p * latencies.size()));
    return latencies[i];
  };
  std::printf("bench_server_load: %d clients, %d requests of the seed graph against %s\n", clients,
              requests, url.c_str());
  std::printf("  throughput  %.0f requests/s (%.2f s)\n", requests / seconds, seconds);
  std::printf("  latency     p50 %.2f ms, p99 %.2f ms, max %.2f ms\n", pct(0.50), pct(0.99),
              latencies.empty() ? 0.0 : latencies.back());
  std::printf("  errors      %d\n", errors.load());
  for (const auto& [kind, n] : error_kinds) std::printf("    %d x %s\n", n, kind.c_str());
  bool over = false;
  std::printf("  pools       (%d /metrics samples)\n", samples);
  for (const auto& [pool, p] : peaks) {
    over = over || p.max_open > p.pool_max;
    std::printf("    %-22s max open %.0f (in use %.0f), max waiting %.0f, pool_max %.0f%s\n",
                pool.c_str(), p.max_open, p.max_in_use, p.max_waiting, p.pool_max,
                p.max_open > p.pool_max ? "  OVER pool_max" : "");
  }
  int server_status = 0;
  if (pid > 0) {
    kill(pid, SIGTERM);
    waitpid(pid, &server_status, 0);
    std::printf("  server      exit status %d after SIGTERM\n",
                WIFEXITED(server_status) ? WEXITSTATUS(server_status) : -1);
  }
  curl_global_cleanup();
  return errors.load() == 0 && !over ? 0 : 1;
}
