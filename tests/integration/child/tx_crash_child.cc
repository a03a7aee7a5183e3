// The crash child of the two-phase-commit integration tests (pg_tx_test.cc):
// opens an engine on a persisted catalog (sources "pg" and "my", written by
// the parent) and a coordinator log, runs one 2pc graph that inserts the row
// (id, 'crash') into table tx_crash on both sources, and kills itself with
// SIGKILL at the named injection point of the commit (EngineOptions::
// transaction_hook). Passwords come from the environment the parent passes
// on (the catalog refers to QG_TEST_PG_PASSWORD / QG_TEST_MYSQL_PASSWORD).
//
//   tx_crash_child POINT CATALOG_FILE LOG_FILE PREFIX ID
//
// POINT: after_prepare | after_decision | between_commits, or "none" to run
// the graph to its end. Exit status: 0 the graph committed, 1 it failed,
// 2 the engine could not open, 64 usage; killed by SIGKILL at POINT.
#include <signal.h>

#include <cstdio>
#include <cstdlib>
#include <string>
#include <string_view>

#include "qg/engine.h"

int main(int argc, char* argv[]) {
  if (argc != 6) {
    std::fprintf(stderr, "usage: %s POINT CATALOG_FILE LOG_FILE PREFIX ID\n", argv[0]);
    return 64;
  }
  const std::string point = argv[1];
  const long id = std::strtol(argv[5], nullptr, 10);

  qg::EngineOptions options;
  options.catalog_path = argv[2];
  options.coordinator_log = argv[3];
  options.transaction_prefix = argv[4];
  options.recover_on_open = false;  // the parent recovers, after the crash
  options.transaction_hook = [point](std::string_view at) {
    if (at == point) {
      std::fflush(nullptr);
      raise(SIGKILL);
    }
  };
  auto engine = qg::Engine::Create(std::move(options));
  if (!engine.ok()) {
    std::fprintf(stderr, "tx_crash_child: %s\n", engine.status().ToString().c_str());
    return 2;
  }
  const std::string graph = R"J({"transaction": "2pc",
    "params": {"id": )J" + std::to_string(id) +
                            R"J(, "v": "crash"},
    "nodes": [
      {"node_id": "wp", "database_id": "pg", "mode": "write",
       "query_string": "INSERT INTO tx_crash (id, v) VALUES (:id, :v)",
       "input_parameters": ["id", "v"]},
      {"node_id": "wm", "database_id": "my", "mode": "write",
       "query_string": "INSERT INTO tx_crash (id, v) VALUES (:id, :v)",
       "input_parameters": ["id", "v"]}],
    "edges": [{"source_node": "wp", "target_node": "wm"}]})J";
  auto result = (*engine)->ExecuteJson(graph);
  if (!result.ok()) {
    std::fprintf(stderr, "tx_crash_child: graph failed: %s\n", result.status().ToString().c_str());
    return 1;
  }
  std::fprintf(stdout, "tx_crash_child: committed\n");
  return 0;
}
