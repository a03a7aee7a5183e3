#include "server_config.h"

#include <fmt/format.h>
#include <simdjson.h>

#include <cerrno>
#include <charconv>
#include <cstdio>
#include <cstring>
#include <functional>
#include <map>

#include "absl/status/status.h"
#include "qg/catalog.h"
#include "qg/duration.h"

namespace qgraph_server {
namespace {

absl::Status ConfigError(std::string_view where, std::string_view message) {
  return absl::InvalidArgumentError(fmt::format("{}: {}", where, message));
}

absl::StatusOr<std::string> GetString(simdjson::dom::element e, std::string_view where) {
  std::string_view s;
  if (e.get_string().get(s) != simdjson::SUCCESS) return ConfigError(where, "expected a string");
  return std::string(s);
}

absl::StatusOr<int64_t> GetInt(simdjson::dom::element e, std::string_view where, int64_t min) {
  int64_t v = 0;
  if (e.get_int64().get(v) != simdjson::SUCCESS) return ConfigError(where, "expected an integer");
  if (v < min) return ConfigError(where, fmt::format("must be >= {}", min));
  return v;
}

absl::StatusOr<bool> GetBool(simdjson::dom::element e, std::string_view where) {
  bool v = false;
  if (e.get_bool().get(v) != simdjson::SUCCESS) return ConfigError(where, "expected true or false");
  return v;
}

// "5s", "250ms", or a number of seconds.
absl::StatusOr<absl::Duration> GetDuration(simdjson::dom::element e, std::string_view where) {
  double seconds = 0;
  if (e.is_number() && e.get_double().get(seconds) == simdjson::SUCCESS) {
    if (seconds < 0) return ConfigError(where, "must not be negative");
    return absl::Seconds(seconds);
  }
  std::string_view s;
  if (e.get_string().get(s) != simdjson::SUCCESS) {
    return ConfigError(where, "expected a duration (\"5s\", \"250ms\") or seconds");
  }
  auto d = qg::ParseDuration(s);
  if (!d.ok()) return ConfigError(where, std::string(d.status().message()));
  if (*d < absl::ZeroDuration()) return ConfigError(where, "must not be negative");
  return *d;
}

// A token: "literal", {"env": NAME} or {"file": PATH} (as catalog passwords).
absl::Status GetToken(simdjson::dom::element e, std::string_view where, TokenEntry* out) {
  qg::Secret secret;
  std::string_view s;
  if (e.get_string().get(s) == simdjson::SUCCESS) {
    secret = qg::Secret::Literal(std::string(s));
  } else {
    simdjson::dom::object obj;
    if (e.get_object().get(obj) != simdjson::SUCCESS || obj.size() != 1) {
      return ConfigError(where, "expected \"token\", {\"env\": NAME} or {\"file\": PATH}");
    }
    for (auto [key, value] : obj) {
      std::string_view ref;
      if (value.get_string().get(ref) != simdjson::SUCCESS) {
        return ConfigError(where, "expected {\"env\": NAME} or {\"file\": PATH}");
      }
      if (key == "env") {
        secret = qg::Secret::Env(std::string(ref));
      } else if (key == "file") {
        secret = qg::Secret::File(std::string(ref));
      } else {
        return ConfigError(where, fmt::format("unknown key \"{}\"", key));
      }
    }
  }
  auto value = secret.Resolve();
  if (!value.ok()) return ConfigError(where, std::string(value.status().message()));
  std::string token = *std::move(value);
  while (!token.empty() && (token.back() == '\n' || token.back() == '\r')) token.pop_back();
  if (token.empty()) return ConfigError(where, "the token is empty");
  out->token = std::move(token);
  out->origin = secret.Describe();
  return absl::OkStatus();
}

absl::Status ParseLimits(simdjson::dom::element e, Limits* limits) {
  simdjson::dom::object obj;
  if (e.get_object().get(obj) != simdjson::SUCCESS)
    return ConfigError("limits", "expected an object");
  for (auto [key_view, value] : obj) {
    const std::string key(key_view);
    const std::string where = "limits." + key;
    if (key == "max_body_bytes") {
      auto v = GetInt(value, where, 1);
      if (!v.ok()) return v.status();
      limits->max_body_bytes = static_cast<uint64_t>(*v);
    } else if (key == "max_nodes") {
      auto v = GetInt(value, where, 1);
      if (!v.ok()) return v.status();
      limits->max_nodes = *v;
    } else if (key == "max_result_bytes") {
      auto v = GetInt(value, where, 0);
      if (!v.ok()) return v.status();
      limits->max_result_bytes = static_cast<uint64_t>(*v);
    } else if (key == "max_concurrent_graphs") {
      auto v = GetInt(value, where, 1);
      if (!v.ok()) return v.status();
      limits->max_concurrent_graphs = static_cast<int>(*v);
    } else if (key == "max_result_rows") {
      auto v = GetInt(value, where, 0);
      if (!v.ok()) return v.status();
      limits->max_result_rows = *v;
    } else if (key == "max_header_bytes") {
      auto v = GetInt(value, where, 1024);
      if (!v.ok()) return v.status();
      limits->max_header_bytes = std::min<int64_t>(*v, 1 << 24);
    } else if (key == "max_header_fields" || key == "max_connections" ||
               key == "max_connections_per_client") {
      auto v = GetInt(value, where, 1);
      if (!v.ok()) return v.status();
      int* field = key == "max_header_fields" ? &limits->max_header_fields
                   : key == "max_connections" ? &limits->max_connections
                                              : &limits->max_connections_per_client;
      *field = static_cast<int>(std::min<int64_t>(*v, 1000000));
    } else {
      absl::Duration* d = nullptr;
      if (key == "max_execution_time") d = &limits->max_execution_time;
      if (key == "read_timeout") d = &limits->read_timeout;
      if (key == "write_timeout") d = &limits->write_timeout;
      if (key == "keep_alive_timeout") d = &limits->keep_alive_timeout;
      if (key == "drain_timeout") d = &limits->drain_timeout;
      if (key == "health_timeout") d = &limits->health_timeout;
      if (d == nullptr) return ConfigError(where, "unknown key");
      auto v = GetDuration(value, where);
      if (!v.ok()) return v.status();
      *d = *v;
    }
  }
  return absl::OkStatus();
}

absl::StatusOr<absl::Duration> ParseDurationFlag(std::string_view flag, std::string_view text) {
  auto d = qg::ParseDuration(text);
  if (!d.ok() || *d < absl::ZeroDuration()) {
    return absl::InvalidArgumentError(
        fmt::format("{} expects a duration such as 30s or 250ms, got \"{}\"", flag, text));
  }
  return *d;
}

absl::StatusOr<int64_t> ParseIntFlag(std::string_view flag, std::string_view text, int64_t min) {
  int64_t v = 0;
  auto [end, ec] = std::from_chars(text.data(), text.data() + text.size(), v);
  if (ec != std::errc() || end != text.data() + text.size() || v < min) {
    return absl::InvalidArgumentError(
        fmt::format("{} expects an integer >= {}, got \"{}\"", flag, min, text));
  }
  return v;
}

}  // namespace

absl::StatusOr<std::string> ReadFile(const std::string& path) {
  std::FILE* f = std::fopen(path.c_str(), "rb");
  if (f == nullptr) {
    int err = errno;
    std::string msg = fmt::format("cannot open {}: {}", path, std::strerror(err));
    return err == ENOENT ? absl::NotFoundError(msg) : absl::PermissionDeniedError(msg);
  }
  std::string text;
  char buf[1 << 16];
  size_t n;
  while ((n = std::fread(buf, 1, sizeof buf, f)) > 0) text.append(buf, n);
  bool failed = std::ferror(f) != 0;
  std::fclose(f);
  if (failed) return absl::DataLossError(fmt::format("cannot read {}", path));
  return text;
}

absl::Status LoadConfigFile(const std::string& path, ServerConfig* config) {
  auto text = ReadFile(path);
  if (!text.ok()) return text.status();
  simdjson::dom::parser parser;
  simdjson::dom::element root;
  if (auto err = parser.parse(*text).get(root); err != simdjson::SUCCESS) {
    return absl::InvalidArgumentError(
        fmt::format("{}: not valid JSON: {}", path, simdjson::error_message(err)));
  }
  simdjson::dom::object obj;
  if (root.get_object().get(obj) != simdjson::SUCCESS) {
    return absl::InvalidArgumentError(fmt::format("{}: expected a JSON object", path));
  }
  auto in_file = [&path](absl::Status s) {
    return s.ok() ? s
                  : absl::Status(s.code(), fmt::format("{}: {}", path, std::string(s.message())));
  };
  for (auto [key_view, value] : obj) {
    const std::string key(key_view);
    absl::Status s;
    if (key == "address") {
      auto v = GetString(value, key);
      if (v.ok()) config->address = *v;
      s = v.status();
    } else if (key == "port") {
      auto v = GetInt(value, key, 0);
      if (v.ok() && *v > 65535) v = ConfigError(key, "must be <= 65535");
      if (v.ok()) config->port = static_cast<int>(*v);
      s = v.status();
    } else if (key == "threads" || key == "engine_workers") {
      auto v = GetInt(value, key, 0);
      if (v.ok())
        (key == "threads" ? config->threads : config->engine_workers) = static_cast<int>(*v);
      s = v.status();
    } else if (key == "coordinator_log" || key == "transaction_prefix") {
      auto v = GetString(value, key);
      if (v.ok() && v->empty()) v = ConfigError(key, "must not be empty");
      if (v.ok())
        (key == "coordinator_log" ? config->coordinator_log : config->transaction_prefix) = *v;
      s = v.status();
    } else if (key == "access_log") {
      auto v = GetBool(value, key);
      if (v.ok()) config->access_log = *v;
      s = v.status();
    } else if (key == "limits") {
      s = ParseLimits(value, &config->limits);
    } else if (key == "tokens") {
      simdjson::dom::array arr;
      if (value.get_array().get(arr) != simdjson::SUCCESS) {
        s = ConfigError(key, "expected an array of {\"token\", \"user\"}");
      } else {
        config->tokens.clear();
        size_t i = 0;
        for (simdjson::dom::element t : arr) {
          const std::string where = fmt::format("tokens[{}]", i++);
          simdjson::dom::object tobj;
          if (t.get_object().get(tobj) != simdjson::SUCCESS) {
            s = ConfigError(where, "expected {\"token\", \"user\"}");
            break;
          }
          TokenEntry entry;
          bool has_token = false;
          for (auto [tk, tv] : tobj) {
            if (tk == "token") {
              s = GetToken(tv, where + ".token", &entry);
              has_token = true;
            } else if (tk == "user") {
              auto u = GetString(tv, where + ".user");
              if (u.ok()) entry.user = *u;
              s = u.status();
            } else {
              s = ConfigError(where, fmt::format("unknown key \"{}\"", tk));
            }
            if (!s.ok()) break;
          }
          if (s.ok() && (!has_token || entry.user.empty())) {
            s = ConfigError(where, "needs both \"token\" and a non-empty \"user\"");
          }
          if (!s.ok()) break;
          config->tokens.push_back(std::move(entry));
        }
      }
    } else if (key == "catalog") {
      std::string_view catalog_path;
      if (value.get_string().get(catalog_path) == simdjson::SUCCESS) {
        auto catalog = ReadFile(std::string(catalog_path));
        if (catalog.ok()) {
          config->catalog_json = *std::move(catalog);
          config->catalog_origin = std::string(catalog_path);
        }
        s = catalog.status();
      } else if (value.is_object()) {
        config->catalog_json = simdjson::minify(value);
        config->catalog_origin = "inline catalog";
      } else {
        s = ConfigError(key, "expected the catalog object or the path of a catalog file");
      }
    } else {
      s = ConfigError(key, "unknown key");
    }
    if (!s.ok()) return in_file(s);
  }
  return absl::OkStatus();
}

absl::Status ApplyCommandLine(int argc, char** argv, ServerConfig* config, bool* help,
                              bool* version) {
  std::vector<std::string> args(argv + 1, argv + argc);
  // Pass 1: --config, so the other options override the file.
  for (size_t i = 0; i < args.size(); ++i) {
    std::string a = args[i];
    std::string value;
    bool has_value = false;
    if (size_t eq = a.find('='); a.rfind("--", 0) == 0 && eq != std::string::npos) {
      value = a.substr(eq + 1);
      a = a.substr(0, eq);
      has_value = true;
    }
    if (a == "--config") {
      if (!has_value) {
        if (i + 1 >= args.size()) return absl::InvalidArgumentError("--config needs a FILE");
        value = args[++i];
      }
      absl::Status s = LoadConfigFile(value, config);
      if (!s.ok()) return s;
    }
  }
  using Setter = std::function<absl::Status(std::string_view flag, std::string_view value)>;
  auto duration = [](absl::Duration* d) -> Setter {
    return [d](std::string_view flag, std::string_view v) {
      auto parsed = ParseDurationFlag(flag, v);
      if (!parsed.ok()) return parsed.status();
      *d = *parsed;
      return absl::OkStatus();
    };
  };
  auto integer = [](auto* target, int64_t min, int64_t max) -> Setter {
    return [target, min, max](std::string_view flag, std::string_view v) {
      auto parsed = ParseIntFlag(flag, v, min);
      if (!parsed.ok()) return parsed.status();
      if (*parsed > max) {
        return absl::InvalidArgumentError(fmt::format("{} must be <= {}", flag, max));
      }
      *target = static_cast<std::remove_pointer_t<decltype(target)>>(*parsed);
      return absl::OkStatus();
    };
  };
  Limits& l = config->limits;
  const int64_t kBig = int64_t{1} << 62;
  std::map<std::string, Setter, std::less<>> setters = {
      {"--config", [](std::string_view, std::string_view) { return absl::OkStatus(); }},
      {"--address",
       [config](std::string_view, std::string_view v) {
         config->address = std::string(v);
         return absl::OkStatus();
       }},
      {"--port", integer(&config->port, 0, 65535)},
      {"--threads", integer(&config->threads, 0, 4096)},
      {"--engine-workers", integer(&config->engine_workers, 0, 4096)},
      {"--catalog",
       [config](std::string_view flag, std::string_view v) {
         auto text = ReadFile(std::string(v));
         if (!text.ok()) {
           return absl::InvalidArgumentError(
               fmt::format("{}: {}", flag, std::string(text.status().message())));
         }
         config->catalog_json = *std::move(text);
         config->catalog_origin = std::string(v);
         return absl::OkStatus();
       }},
      {"--coordinator-log",
       [config](std::string_view flag, std::string_view v) {
         if (v.empty()) return absl::InvalidArgumentError(fmt::format("{} needs a FILE", flag));
         config->coordinator_log = std::string(v);
         return absl::OkStatus();
       }},
      {"--transaction-prefix",
       [config](std::string_view flag, std::string_view v) {
         if (v.empty()) return absl::InvalidArgumentError(fmt::format("{} needs a value", flag));
         config->transaction_prefix = std::string(v);
         return absl::OkStatus();
       }},
      {"--max-body-bytes", integer(&l.max_body_bytes, 1, kBig)},
      {"--max-nodes", integer(&l.max_nodes, 1, kBig)},
      {"--max-execution-time", duration(&l.max_execution_time)},
      {"--max-result-bytes", integer(&l.max_result_bytes, 0, kBig)},
      {"--max-concurrent-graphs", integer(&l.max_concurrent_graphs, 1, 100000)},
      {"--max-result-rows", integer(&l.max_result_rows, 0, kBig)},
      {"--max-header-bytes", integer(&l.max_header_bytes, 1024, 1 << 24)},
      {"--max-header-fields", integer(&l.max_header_fields, 1, 100000)},
      {"--max-connections", integer(&l.max_connections, 1, 1000000)},
      {"--max-connections-per-client", integer(&l.max_connections_per_client, 1, 1000000)},
      {"--read-timeout", duration(&l.read_timeout)},
      {"--write-timeout", duration(&l.write_timeout)},
      {"--keep-alive-timeout", duration(&l.keep_alive_timeout)},
      {"--drain-timeout", duration(&l.drain_timeout)},
      {"--health-timeout", duration(&l.health_timeout)},
  };
  for (size_t i = 0; i < args.size(); ++i) {
    std::string a = args[i];
    if (a == "-h" || a == "--help") {
      *help = true;
      continue;
    }
    if (a == "--version") {
      *version = true;
      continue;
    }
    if (a == "--quiet") {
      config->access_log = false;
      continue;
    }
    std::string value;
    bool has_value = false;
    if (size_t eq = a.find('='); a.rfind("--", 0) == 0 && eq != std::string::npos) {
      value = a.substr(eq + 1);
      a = a.substr(0, eq);
      has_value = true;
    }
    auto it = setters.find(a);
    if (it == setters.end()) {
      return absl::InvalidArgumentError(a.rfind("-", 0) == 0 ? "unknown option " + a
                                                             : "unexpected argument \"" + a + "\"");
    }
    if (!has_value) {
      if (i + 1 >= args.size()) return absl::InvalidArgumentError(a + " needs a value");
      value = args[++i];
    }
    absl::Status s = it->second(a, value);
    if (!s.ok()) return s;
  }
  return absl::OkStatus();
}

std::string HelpText() {
  return R"(qgraph-server — the qgraph HTTP service: federated query graphs (QGDL) over HTTP

Usage: qgraph-server [--config FILE] [options]

Endpoints:
  POST   /query_graph   run a graph. Body: the QGDL object itself, or
                        {"graph": {...}, "params": {...}, "output": {"shape", "format"}}.
                        Format: "output.format" in the body, else the Accept header
                        (application/json, application/x-ndjson, text/csv), else the
                        graph's own "output", else json. The answer is streamed with
                        chunked encoding as it is serialised (the engine itself returns
                        the complete result first).
  POST   /explain       the plan without running it; same body, plus "format"
                        (text | json | dot; or ?format=, or Accept text/vnd.graphviz);
                        ?analyze=true also runs the graph and shows actuals.
  DELETE /queries/ID    cancel a running graph (202), 404 when no such graph is running.
  GET    /queries       the running graphs: id, user, elapsed.
  GET    /health        per-source health (a one-node "SELECT 1" graph per SQL source)
                        and pool figures; 200 when all are healthy, else 503.
  GET    /metrics       Prometheus text: graphs by outcome, latency histogram, rows and
                        bytes returned, per-pool in_use/idle/waiting/max/created/broken.
  Every response carries a header X-Query-Id. A client may choose the id of its
  request by sending X-Query-Id ([A-Za-z0-9._-], 1-64 characters) so it can cancel it.
  Errors are JSON: {"error": {"code", "message", "node", "source", "query_id"}} with
  400 bad graph or malformed request, 401 missing/bad token, 403 foreign Host/Origin
  (authentication off), 404 unknown source or query, 409 transaction conflict, 411 body
  without length, 413 body/graph/result too large, 415 body not "Content-Type:
  application/json" or compressed, 429 too many running graphs, 431 headers too large,
  499 cancelled, 503 source unavailable or shutting down, 504 execution time limit.
  A refused request's connection is closed (its body is never read).
  409 with code "ABORTED" is a transaction conflict (a serialization failure or
  deadlock on a source): in "common" and "2pc" graphs nothing was committed, retry the
  whole graph ("autonomous" graphs keep what finished before: retry if idempotent).
  409 "ALREADY_EXISTS" is a duplicate key or a running X-Query-Id: a retry as is fails
  again. 500 "DATA_LOSS" means a commit was partial; the message names the sources
  that committed and those that did not.

Transactions: a graph's "transaction" is "autonomous" (default), "common" (one
transaction per written source, all rolled back on any failure) or "2pc" (as
common, plus PREPARE and a durable commit decision in the coordinator log; one
source that cannot prepare, such as SQLite, may take part as the last resource).
A "2pc" graph that writes needs --coordinator-log; without it, 400
FAILED_PRECONDITION naming the coordinator log, and nothing runs. At startup,
with a coordinator log, the server resolves what a crash left prepared (commits
branches with a logged commit decision, rolls back the rest of its prefix) and
prints what it did to stderr.

Options (each overrides the config file; durations: 250ms, 30s, 2m):
  --config FILE                 JSON config file (keys below)
  --address ADDR                listen address (default 127.0.0.1)
  --port N                      listen port (default 8080); 0 picks a free port. Once
                                listening, prints "listening on ADDR:PORT" to stdout
  --catalog FILE                the catalog of data sources (JSON, docs/design.md §8);
                                relative "connect" paths are relative to the working dir
  --threads N                   HTTP worker threads (default max-concurrent-graphs + 8)
  --engine-workers N            engine executor threads (default 4 x cores)
  --max-body-bytes N            request body limit, 413 before parsing (default 1048576)
  --max-nodes N                 nodes per graph, 413 past it (default 100)
  --max-execution-time D        a graph is cancelled at this limit, 504 (default 60s);
                                a graph's "timeout_ms" may only lower it
  --max-result-bytes N          result limit, 413; 0 = unlimited (default 268435456).
                                The engine stops producing past it; the writer stops
                                as serialised bytes pass it (a plain 413 within the
                                first 64 KiB, else the stream ends with the error line)
  --max-result-rows N           rows a graph's result may hold, 413; 0 = unlimited
                                (default 50000000)
  --max-concurrent-graphs N     graphs running at once, 429 past it (default 32)
  --read-timeout D              whole-request deadline: request line, headers and body
                                must arrive within it, else the connection is closed
                                (default 10s)
  --max-header-bytes N          request line + headers, 431 past it (default 16384)
  --max-header-fields N         header fields per request, 431 past it (default 100)
  --max-connections N           open connections in total (default 2048)
  --max-connections-per-client N  open connections per client address; past it a
                                new connection gets 503 and is closed (default 64)
  --write-timeout D             drop clients that stall reading (default 30s)
  --keep-alive-timeout D        idle keep-alive connections close after (default 5s)
  --drain-timeout D             on SIGTERM/SIGINT: stop accepting, let running graphs
                                finish for this long, then cancel them; exit 0 (default 30s)
  --health-timeout D            per-source limit of GET /health (default 5s)
  --coordinator-log FILE        two-phase commit: the SQLite file recording commit
                                decisions (created, mode 0600); needed by "2pc"
                                graphs that write. Relative to the working dir.
                                Keep it on durable storage; never share it between
                                servers (default: none, "2pc" writes refused)
  --transaction-prefix P        2pc global transaction ids start "P." (1-16 of
                                [A-Za-z0-9_-]; default qg); servers sharing a source
                                need distinct prefixes: startup recovery rolls back
                                prepared branches of its own prefix only
  --quiet                       no access log on stderr
  --version                     print the version
  -h, --help                    this help

Config file (JSON; every key optional):
  {"address": "127.0.0.1", "port": 8080, "threads": 0, "engine_workers": 0,
   "access_log": true, "coordinator_log": "path/to/tx.log", "transaction_prefix": "qg",
   "tokens": [{"token": "literal" | {"env": "NAME"} | {"file": "PATH"}, "user": "alice"}],
   "limits": {"max_body_bytes": 1048576, "max_nodes": 100, "max_execution_time": "60s",
              "max_result_bytes": 268435456, "max_result_rows": 50000000,
              "max_concurrent_graphs": 32, "max_header_bytes": 16384,
              "max_header_fields": 100, "max_connections": 2048,
              "max_connections_per_client": 64, "read_timeout": "10s", "write_timeout": "30s", "keep_alive_timeout": "5s",
              "drain_timeout": "30s", "health_timeout": "5s"},
   "catalog": {"sources": [...], "user_mappings": [...]} | "path/to/catalog.json"}

Authentication: each request must carry "Authorization: Bearer TOKEN" with a token
from "tokens"; the token's user is the local user that picks the catalog's user
mappings. Missing or bad token: 401 and nothing runs. Tokens are never logged.
When the config has no tokens, authentication is OFF: every request is accepted
and runs as the empty local user (the sources' own AS USER) — keep the server on
loopback then. Without authentication, a request whose Host is not a loopback name or
address (or the listen address), or whose Origin is not such a host, gets 403: a
web page cannot reach the server through the browser (CSRF, DNS rebinding).

Exit status: 0 after a clean shutdown (SIGTERM/SIGINT); 1 on a startup error (a
catalog the engine refuses, the port in use); 2 on a usage error (unknown option,
bad value, unreadable or invalid config or catalog file).
)";
}

}  // namespace qgraph_server
