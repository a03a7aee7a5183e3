// Integration-test helpers: where the test servers are and how to reach them.
//
// main.cc loads ${QG_TEST_SERVERS_DIR}/*.env (written by scripts/start-*.sh)
// into the environment before any test runs. The accessors below FAIL the
// running test (never skip) when a server's settings are missing.
#ifndef QG_TESTS_INTEGRATION_SERVERS_H_
#define QG_TESTS_INTEGRATION_SERVERS_H_

#include <string>

namespace qg::testing {

// Loads KEY=VALUE lines (values optionally in single quotes) from `path`
// into the environment (not overriding variables already set). Returns false
// when the file cannot be read.
bool LoadEnvFile(const std::string& path);
// Loads every *.env file in `dir`; returns how many were loaded.
int LoadEnvDir(const std::string& dir);

// The value of an environment variable the test needs: fails the test (with
// how to start the servers) when it is missing.
std::string RequireEnv(const char* name);

// The directory the servers live in (QG_TEST_SERVERS_DIR).
std::string ServersDir();

struct PgServer {
  std::string connect;   // QG_TEST_PG_CONNECT: "host=127.0.0.1 port=N dbname=qgtest"
  std::string user;      // qg
  std::string password;  // qgpass
  std::string port;
  std::string superuser_socket;  // unix socket dir; superuser "postgres", no password
  // A connection string for database `db` (same server, no credentials).
  std::string ConnectFor(const std::string& db) const;
  // A superuser conninfo (unix socket, user postgres) for database `db`.
  std::string SuperuserConninfo(const std::string& db = "qgtest") const;
};
// Fails the test when PostgreSQL's env is missing.
PgServer RequirePg();

// Runs a shell command; returns its exit status (-1 on failure to run).
int RunCommand(const std::string& command);

// Stops / starts the test PostgreSQL server (scripts/stop-postgres.sh and
// start-postgres.sh on ServersDir(); same port and data). For fault tests.
void StopPostgres();
void StartPostgres();

}  // namespace qg::testing

#endif  // QG_TESTS_INTEGRATION_SERVERS_H_
