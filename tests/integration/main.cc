// The integration tests' main: loads the test servers' env files (written by
// scripts/test-servers.sh start, which ctest runs as the qg_servers fixture)
// into the environment, then runs Catch2. Tests that need a server and find
// no settings fail; nothing is skipped.
#define CATCH_CONFIG_RUNNER
#include <signal.h>

#include <catch2/catch.hpp>
#include <cstdio>

#include "servers.h"

int main(int argc, char* argv[]) {
  // A server dying under a test must fail the test, not kill the runner.
  signal(SIGPIPE, SIG_IGN);
  qg::testing::LoadEnvDir(qg::testing::ServersDir());
  return Catch::Session().run(argc, argv);
}
