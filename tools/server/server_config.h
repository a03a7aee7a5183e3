// server_config.h — qgraph-server's configuration: the JSON config file and
// the command-line options that override it (qgraph-server --help lists
// both).
//
// Tokens are secrets: they are read here, compared in constant time by the
// service and never printed (Describe() shows only where each comes from).
#ifndef QG_TOOLS_SERVER_SERVER_CONFIG_H_
#define QG_TOOLS_SERVER_SERVER_CONFIG_H_

#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

#include "absl/status/statusor.h"
#include "absl/time/time.h"

namespace qgraph_server {

// One bearer token and the local user it maps to (ExecuteOptions.user).
struct TokenEntry {
  std::string token;  // resolved value; never logged
  std::string user;
  std::string origin;  // "literal", "env:NAME" or "file:PATH" (safe to print)
};

struct Limits {
  uint64_t max_body_bytes = 1 << 20;                      // request body; 413 before parsing
  int64_t max_nodes = 100;                                // nodes per graph; 413
  absl::Duration max_execution_time = absl::Seconds(60);  // 504 past it
  uint64_t max_result_bytes = uint64_t{256} << 20;        // serialised result; 413
  int64_t max_result_rows = 50000000;                     // rows a graph holds; 413
  int64_t max_header_bytes = 16 << 10;                    // request line + headers; 431
  int max_header_fields = 100;                            // 431 past it
  int max_connections = 2048;                             // open connections in total
  int max_connections_per_client = 64;                    // per client address
  int max_concurrent_graphs = 32;                         // running graphs; 429 past it
  absl::Duration read_timeout = absl::Seconds(10);        // a whole request, headers+body
  absl::Duration write_timeout = absl::Seconds(30);
  absl::Duration keep_alive_timeout = absl::Seconds(5);
  absl::Duration drain_timeout = absl::Seconds(30);  // SIGTERM: wait, then cancel
  absl::Duration health_timeout = absl::Seconds(5);  // per source, GET /health
};

struct ServerConfig {
  std::string address = "127.0.0.1";
  int port = 8080;                 // 0: pick a free port
  int threads = 0;                 // HTTP worker threads; 0 = max_concurrent_graphs + 8
  int engine_workers = 0;          // qg::EngineOptions::workers
  std::vector<TokenEntry> tokens;  // empty: authentication off
  Limits limits;
  std::string catalog_json;    // the catalog document (docs/design.md §8)
  std::string catalog_origin;  // "inline" or its path, for messages
  // Two-phase commit (qg::EngineOptions::coordinator_log): the SQLite file
  // recording commit decisions; "" = "2pc" graphs that write are refused.
  std::string coordinator_log;
  std::string transaction_prefix = "qg";  // global transaction ids start "<prefix>."
  bool access_log = true;
};

// Reads a JSON config file into `config` (keys absent keep their values).
// Errors name the file and the key.
absl::Status LoadConfigFile(const std::string& path, ServerConfig* config);

// Applies the command line over `config`. Sets *help / *version when asked.
// Errors are usage errors.
absl::Status ApplyCommandLine(int argc, char** argv, ServerConfig* config, bool* help,
                              bool* version);

// Reads a whole file.
absl::StatusOr<std::string> ReadFile(const std::string& path);

// The --help text.
std::string HelpText();

}  // namespace qgraph_server

#endif  // QG_TOOLS_SERVER_SERVER_CONFIG_H_
