// The REST fixture server for tests: tests/unit/http/fixture_server.py (a
// python3 http.server script) on a free loopback port, started once per test
// binary on first use and stopped when the binary exits (the script also
// exits when its parent goes away). Header-only, so any test binary can use
// it (unit/http and the integration tests); needs QG_SOURCE_DIR and libcurl.
#ifndef QG_TESTS_SUPPORT_HTTP_FIXTURE_SERVER_H_
#define QG_TESTS_SUPPORT_HTTP_FIXTURE_SERVER_H_

#include <curl/curl.h>
#include <signal.h>
#include <sys/types.h>
#include <sys/wait.h>
#include <unistd.h>

#include <catch2/catch.hpp>
#include <cstdio>
#include <cstdlib>
#include <string>

namespace qg::test_support {

class HttpFixtureServer {
 public:
  static HttpFixtureServer& Get() {
    static HttpFixtureServer server;
    return server;
  }
  int port() const { return port_; }
  std::string base() const { return "http://127.0.0.1:" + std::to_string(port_); }

  // Requests the server saw for `path` ("" = all) since the last Reset().
  int Count(const std::string& path) {
    std::string body = Fetch(base() + "/_count?path=" + path);
    auto p = body.find(':');
    return p == std::string::npos ? -1 : std::atoi(body.c_str() + p + 1);
  }
  void Reset() { Fetch(base() + "/_reset"); }

  // The raw body of GET `path_and_query` ("/users?ids=1"), and its HTTP
  // status in *status when given (0 when the request failed). Counted by
  // the server like any other request.
  std::string GetBody(const std::string& path_and_query, long* status = nullptr) {
    return Fetch(base() + path_and_query, status);
  }

  ~HttpFixtureServer() {
    if (pid_ > 0) {
      kill(pid_, SIGTERM);
      int st = 0;
      waitpid(pid_, &st, 0);
    }
  }

 private:
  HttpFixtureServer() {
    int fds[2];
    REQUIRE(pipe(fds) == 0);
    pid_ = fork();
    REQUIRE(pid_ >= 0);
    if (pid_ == 0) {
      dup2(fds[1], 1);
      close(fds[0]);
      close(fds[1]);
      const std::string script = std::string(QG_SOURCE_DIR) + "/tests/unit/http/fixture_server.py";
      execlp("python3", "python3", script.c_str(), static_cast<char*>(nullptr));
      _exit(127);
    }
    close(fds[1]);
    FILE* f = fdopen(fds[0], "r");
    REQUIRE(f != nullptr);
    char line[64] = {0};
    const bool got = fgets(line, sizeof line, f) != nullptr;
    fclose(f);
    INFO("python3 " << QG_SOURCE_DIR
                    << "/tests/unit/http/fixture_server.py did not print its port");
    REQUIRE(got);
    REQUIRE(sscanf(line, "PORT %d", &port_) == 1);
  }

  static size_t Append(char* p, size_t s, size_t n, void* out) {
    static_cast<std::string*>(out)->append(p, s * n);
    return s * n;
  }
  static std::string Fetch(const std::string& url, long* status = nullptr) {
    std::string out;
    CURL* c = curl_easy_init();
    curl_easy_setopt(c, CURLOPT_URL, url.c_str());
    curl_easy_setopt(c, CURLOPT_WRITEFUNCTION, &Append);
    curl_easy_setopt(c, CURLOPT_WRITEDATA, &out);
    curl_easy_setopt(c, CURLOPT_TIMEOUT_MS, 10000L);
    long code = 0;
    if (curl_easy_perform(c) == CURLE_OK) curl_easy_getinfo(c, CURLINFO_RESPONSE_CODE, &code);
    curl_easy_cleanup(c);
    if (status != nullptr) *status = code;
    return out;
  }

  pid_t pid_ = -1;
  int port_ = 0;
};

}  // namespace qg::test_support

#endif  // QG_TESTS_SUPPORT_HTTP_FIXTURE_SERVER_H_
