#include "servers.h"

#include <dirent.h>

#include <catch2/catch.hpp>
#include <cstdlib>
#include <fstream>
#include <string>
#include <vector>

namespace qg::testing {

bool LoadEnvFile(const std::string& path) {
  std::ifstream in(path);
  if (!in) return false;
  std::string line;
  while (std::getline(in, line)) {
    if (line.empty() || line[0] == '#') continue;
    size_t eq = line.find('=');
    if (eq == std::string::npos || eq == 0) continue;
    std::string key = line.substr(0, eq);
    std::string value = line.substr(eq + 1);
    if (value.size() >= 2 && value.front() == '\'' && value.back() == '\'') {
      value = value.substr(1, value.size() - 2);
    } else if (value.size() >= 2 && value.front() == '"' && value.back() == '"') {
      value = value.substr(1, value.size() - 2);
    }
    setenv(key.c_str(), value.c_str(), /*overwrite=*/0);
  }
  return true;
}

int LoadEnvDir(const std::string& dir) {
  int n = 0;
  DIR* d = opendir(dir.c_str());
  if (d == nullptr) return 0;
  std::vector<std::string> files;
  while (dirent* e = readdir(d)) {
    std::string name = e->d_name;
    if (name.size() > 4 && name.compare(name.size() - 4, 4, ".env") == 0) files.push_back(name);
  }
  closedir(d);
  for (const std::string& f : files) n += LoadEnvFile(dir + "/" + f) ? 1 : 0;
  return n;
}

std::string ServersDir() {
  const char* d = std::getenv("QG_TEST_SERVERS_DIR");
  if (d != nullptr && *d != '\0') return d;
  return QG_TEST_SERVERS_DIR;
}

std::string RequireEnv(const char* name) {
  const char* v = std::getenv(name);
  if (v == nullptr || *v == '\0') {
    FAIL("environment variable " << name << " is not set: the test servers are not running. "
                                 << "Start them with: bash scripts/test-servers.sh start "
                                 << ServersDir() << " (ctest does this as a fixture)");
  }
  return v;
}

std::string PgServer::ConnectFor(const std::string& db) const {
  return "host=127.0.0.1 port=" + port + " dbname=" + db;
}

std::string PgServer::SuperuserConninfo(const std::string& db) const {
  return "host=" + superuser_socket + " port=" + port + " user=postgres dbname=" + db;
}

PgServer RequirePg() {
  PgServer s;
  s.connect = RequireEnv("QG_TEST_PG_CONNECT");
  s.user = RequireEnv("QG_TEST_PG_USER");
  s.password = RequireEnv("QG_TEST_PG_PASSWORD");
  s.port = RequireEnv("QG_TEST_PG_PORT");
  s.superuser_socket = RequireEnv("QG_TEST_PG_SUPERUSER_SOCKET");
  return s;
}

int RunCommand(const std::string& command) {
  int rc = std::system(command.c_str());
  if (rc == -1) return -1;
  return WIFEXITED(rc) ? WEXITSTATUS(rc) : -1;
}

void StopPostgres() {
  std::string cmd =
      std::string("bash ") + QG_SOURCE_DIR + "/scripts/stop-postgres.sh '" + ServersDir() + "'";
  REQUIRE(RunCommand(cmd) == 0);
}

void StartPostgres() {
  std::string cmd = std::string("bash ") + QG_SOURCE_DIR + "/scripts/start-postgres.sh '" +
                    ServersDir() + "' 2>/dev/null";
  REQUIRE(RunCommand(cmd) == 0);
}

}  // namespace qg::testing
