#include "service.h"

#include <fmt/format.h>
#include <simdjson.h>
#include <unistd.h>

#include <algorithm>
#include <cstdio>
#include <random>
#include <utility>

#include "absl/status/statusor.h"
#include "qg/catalog.h"
#include "qg/graph.h"
#include "qg/json.h"
#include "qg/output.h"
#include "qg/planner.h"
#include "qg/result.h"
#include "qg/value.h"

namespace qgraph_server {
namespace {

constexpr double kLatencyBounds[] = {0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25,
                                     0.5,   1,      2.5,   5,    10,    30,   60};
constexpr size_t kNumBounds = sizeof(kLatencyBounds) / sizeof(kLatencyBounds[0]);
constexpr int kStatusCancelled = 499;  // nginx's "client closed request"

// The request's start, for the access log (pre-routing, the handler and the
// logger of one request run on the same worker thread).
thread_local absl::Time t_request_start;

std::string JsonString(std::string_view s) { return qg::JsonQuote(s); }

std::string PromLabel(std::string_view s) {
  std::string out;
  for (char c : s) {
    if (c == '\\' || c == '"') out += '\\';
    if (c == '\n') {
      out += "\\n";
      continue;
    }
    out += c;
  }
  return out;
}

std::string CodeName(absl::StatusCode code) { return absl::StatusCodeToString(code); }

std::string LowerCodeName(absl::StatusCode code) {
  std::string s = CodeName(code);
  std::transform(s.begin(), s.end(), s.begin(), [](unsigned char c) { return std::tolower(c); });
  return s;
}

// HTTP status for an engine status (DESIGN.md §15 codes -> issue 6 mapping).
int HttpStatusFor(const absl::Status& s) {
  switch (s.code()) {
    case absl::StatusCode::kOk:
      return 200;
    case absl::StatusCode::kInvalidArgument:
    case absl::StatusCode::kFailedPrecondition:
    case absl::StatusCode::kOutOfRange:
      return 400;
    case absl::StatusCode::kUnauthenticated:
      return 401;
    case absl::StatusCode::kPermissionDenied:
      return 403;
    case absl::StatusCode::kNotFound:
      return 404;
    case absl::StatusCode::kAlreadyExists:
    case absl::StatusCode::kAborted:
      return 409;
    case absl::StatusCode::kResourceExhausted:
      // A pool that could not hand out a connection in time is the source
      // being unavailable (retry), not the request being too large.
      if (s.message().find("no connection within") != absl::string_view::npos) return 503;
      return 413;
    case absl::StatusCode::kCancelled:
      return kStatusCancelled;
    case absl::StatusCode::kDeadlineExceeded:
      return 504;
    case absl::StatusCode::kUnavailable:
      return 503;
    case absl::StatusCode::kUnimplemented:
      return 501;
    default:
      return 500;
  }
}

// Finds 'node "x" (source "y"): ' in an engine message.
void NodeAndSource(std::string_view message, std::string* node, std::string* source) {
  constexpr std::string_view kNode = "node \"";
  constexpr std::string_view kSource = "\" (source \"";
  size_t at = message.find(kNode);
  while (at != std::string_view::npos) {
    size_t name_begin = at + kNode.size();
    size_t mid = message.find(kSource, name_begin);
    size_t quote = message.find('"', name_begin);
    if (mid != std::string_view::npos && quote == mid) {
      size_t src_begin = mid + kSource.size();
      size_t src_end = message.find("\")", src_begin);
      if (src_end != std::string_view::npos) {
        *node = std::string(message.substr(name_begin, mid - name_begin));
        *source = std::string(message.substr(src_begin, src_end - src_begin));
        return;
      }
    }
    at = message.find(kNode, at + 1);
  }
}

struct ErrorInfo {
  int http = 500;
  std::string code;  // status code name
  std::string message;
  std::string node;
  std::string source;
  std::vector<qg::GraphIssue> issues;
};

ErrorInfo FromStatus(const absl::Status& s) {
  ErrorInfo e;
  e.http = HttpStatusFor(s);
  e.code = CodeName(s.code());
  e.message = std::string(s.message());
  NodeAndSource(e.message, &e.node, &e.source);
  return e;
}

ErrorInfo MakeError(int http, absl::StatusCode code, std::string message) {
  ErrorInfo e;
  e.http = http;
  e.code = CodeName(code);
  e.message = std::move(message);
  return e;
}

void SendError(httplib::Response& res, const ErrorInfo& e) {
  const std::string id = res.get_header_value("X-Query-Id");
  std::string body =
      "{\"error\": {\"code\": " + JsonString(e.code) + ", \"message\": " + JsonString(e.message);
  body += ", \"node\": " + (e.node.empty() ? std::string("null") : JsonString(e.node));
  body += ", \"source\": " + (e.source.empty() ? std::string("null") : JsonString(e.source));
  body += ", \"query_id\": " + JsonString(id);
  if (!e.issues.empty()) {
    body += ", \"issues\": [";
    for (size_t i = 0; i < e.issues.size(); ++i) {
      if (i > 0) body += ", ";
      body += "{\"pointer\": " + JsonString(e.issues[i].pointer) +
              ", \"message\": " + JsonString(e.issues[i].message) + "}";
    }
    body += "]";
  }
  body += "}}\n";
  res.status = e.http;
  res.set_content(body, "application/json");
}

bool ValidQueryId(std::string_view id) {
  if (id.empty() || id.size() > 64) return false;
  return std::all_of(id.begin(), id.end(), [](unsigned char c) {
    return std::isalnum(c) || c == '.' || c == '_' || c == '-';
  });
}

bool ConstantTimeEqual(std::string_view a, std::string_view b) {
  if (a.size() != b.size()) return false;
  unsigned char diff = 0;
  for (size_t i = 0; i < a.size(); ++i) diff |= static_cast<unsigned char>(a[i] ^ b[i]);
  return diff == 0;
}

// The body of /query_graph and /explain.
struct GraphRequest {
  std::string qgdl;
  qg::ParamList params;
  std::optional<qg::Shape> shape;
  std::optional<qg::Format> format;
  std::optional<bool> pretty;
  std::optional<std::string> explain_format;
  int64_t nodes = 0;
};

absl::Status BadRequest(std::string message) {
  return absl::InvalidArgumentError(std::move(message));
}

absl::StatusOr<GraphRequest> ParseGraphRequest(const std::string& body, bool explain) {
  thread_local simdjson::dom::parser parser;
  simdjson::dom::element root;
  if (auto err = parser.parse(body).get(root); err != simdjson::SUCCESS) {
    return BadRequest(fmt::format("the body is not valid JSON: {}", simdjson::error_message(err)));
  }
  simdjson::dom::object obj;
  if (root.get_object().get(obj) != simdjson::SUCCESS) {
    return BadRequest("the body must be a JSON object: a QGDL graph or {\"graph\": ...}");
  }
  GraphRequest req;
  simdjson::dom::element graph = root;
  simdjson::dom::element g;
  if (obj["graph"].get(g) == simdjson::SUCCESS) {
    for (auto [key, value] : obj) {
      if (key == "graph") continue;
      if (key == "params") {
        if (!value.is_object()) return BadRequest("/params: expected an object");
        auto params = qg::ParseParamsJson(simdjson::minify(value));
        if (!params.ok()) return BadRequest("/params: " + std::string(params.status().message()));
        req.params = *std::move(params);
      } else if (key == "output") {
        simdjson::dom::object out;
        if (value.get_object().get(out) != simdjson::SUCCESS) {
          return BadRequest("/output: expected an object");
        }
        for (auto [ok, ov] : out) {
          std::string_view s;
          if (ok == "pretty") {
            bool b = false;
            if (ov.get_bool().get(b) != simdjson::SUCCESS) {
              return BadRequest("/output/pretty: expected true or false");
            }
            req.pretty = b;
            continue;
          }
          if (ov.get_string().get(s) != simdjson::SUCCESS) {
            return BadRequest(fmt::format("/output/{}: expected a string", ok));
          }
          if (ok == "shape") {
            auto shape = qg::ParseShape(s);
            if (!shape.ok()) return BadRequest("/output/shape: must be nodes, joined or nested");
            req.shape = *shape;
          } else if (ok == "format") {
            auto format = qg::ParseFormat(s);
            if (!format.ok()) return BadRequest("/output/format: must be json, ndjson or csv");
            req.format = *format;
          } else {
            return BadRequest(fmt::format("/output/{}: unknown key", ok));
          }
        }
      } else if (key == "format" && explain) {
        std::string_view s;
        if (value.get_string().get(s) != simdjson::SUCCESS || !qg::ParseExplainFormat(s).ok()) {
          return BadRequest("/format: must be text, json or dot");
        }
        req.explain_format = std::string(s);
      } else {
        return BadRequest(fmt::format(
            "/{}: unknown key (a wrapped request has \"graph\", \"params\", \"output\"{})", key,
            explain ? ", \"format\"" : ""));
      }
    }
    if (!g.is_object()) return BadRequest("/graph: expected the QGDL object");
    graph = g;
    req.qgdl = simdjson::minify(g);
  } else {
    req.qgdl = body;
  }
  simdjson::dom::array nodes;
  if (graph["nodes"].get_array().get(nodes) == simdjson::SUCCESS) {
    req.nodes = static_cast<int64_t>(nodes.size());
  }
  return req;
}

// The format the Accept header asks for, when it names one we write.
std::optional<qg::Format> AcceptedFormat(const std::string& accept) {
  struct Known {
    std::string_view type;
    qg::Format format;
  };
  static constexpr Known kKnown[] = {{"application/x-ndjson", qg::Format::kNdjson},
                                     {"application/ndjson", qg::Format::kNdjson},
                                     {"text/csv", qg::Format::kCsv},
                                     {"application/json", qg::Format::kJson}};
  size_t best = std::string::npos;
  std::optional<qg::Format> out;
  for (const Known& k : kKnown) {
    size_t at = accept.find(k.type);
    if (at != std::string::npos && at < best) {
      best = at;
      out = k.format;
    }
  }
  return out;
}

std::string_view ContentType(qg::Format f) {
  switch (f) {
    case qg::Format::kNdjson:
      return "application/x-ndjson";
    case qg::Format::kCsv:
      return "text/csv; charset=utf-8";
    default:
      return "application/json";
  }
}

int64_t ResultRows(const qg::GraphResult& r) {
  int64_t rows = 0;
  for (const qg::NodeResult& n : r.nodes) rows += static_cast<int64_t>(n.num_rows);
  return rows;
}

}  // namespace

// A concurrency slot and the query's registration; released when the last
// holder (the handler, or the response's content provider) lets go.
struct Service::Slot {
  Service* service;
  std::string id;
  std::shared_ptr<qg::CancelToken> cancel;
  ~Slot() { service->Release(id); }
};

Service::Service(ServerConfig config, std::unique_ptr<qg::Engine> engine)
    : config_(std::move(config)), engine_(std::move(engine)), id_prefix_([] {
        std::random_device rd;
        return (static_cast<uint64_t>(rd()) << 32 | rd()) & 0xffffffffffULL;
      }()) {
  absl::MutexLock lock(&metrics_.mu);
  metrics_.latency_buckets.assign(kNumBounds + 1, 0);
}

Service::~Service() = default;

void Service::Install(httplib::Server* server) {
  server->set_pre_routing_handler(
      [this](const httplib::Request& req, httplib::Response& res) { return PreRouting(req, res); });
  server->Post("/query_graph", [this](const httplib::Request& req, httplib::Response& res) {
    HandleQueryGraph(req, res);
  });
  server->Post("/explain", [this](const httplib::Request& req, httplib::Response& res) {
    HandleExplain(req, res);
  });
  server->Delete(R"(/queries/([^/]+))", [this](const httplib::Request& req,
                                               httplib::Response& res) { HandleCancel(req, res); });
  server->Get("/queries", [this](const httplib::Request& req, httplib::Response& res) {
    HandleList(req, res);
  });
  server->Get("/health", [this](const httplib::Request& req, httplib::Response& res) {
    HandleHealth(req, res);
  });
  server->Get("/metrics", [this](const httplib::Request& req, httplib::Response& res) {
    HandleMetrics(req, res);
  });
  // Errors httplib produces itself (413 body too large, 404 no route, 400
  // malformed request) get the same JSON body and a query id.
  server->set_error_handler(httplib::Server::HandlerWithResponse(
      [this](const httplib::Request& req,
             httplib::Response& res) -> httplib::Server::HandlerResponse {
        if (!res.has_header("X-Query-Id")) {
          res.set_header("X-Query-Id",
                         fmt::format("{:010x}-{}", id_prefix_, next_id_.fetch_add(1)));
        }
        if (!res.body.empty()) return httplib::Server::HandlerResponse::Unhandled;
        if (res.status == 413) {
          SendError(res, MakeError(413, absl::StatusCode::kResourceExhausted,
                                   fmt::format("request body exceeds max_body_bytes={}",
                                               config_.limits.max_body_bytes)));
          if (req.path == "/query_graph") RecordGraph("body_too_large", absl::ZeroDuration());
        } else if (res.status == 404) {
          SendError(res, MakeError(404, absl::StatusCode::kNotFound,
                                   fmt::format("no endpoint {} {}", req.method, req.path)));
        } else {
          SendError(res, MakeError(res.status, absl::StatusCode::kInvalidArgument,
                                   fmt::format("HTTP error {}", res.status)));
        }
        return httplib::Server::HandlerResponse::Handled;
      }));
  server->set_exception_handler(
      [](const httplib::Request&, httplib::Response& res, std::exception_ptr) {
        SendError(res, MakeError(500, absl::StatusCode::kInternal, "internal error"));
      });
  server->set_logger(
      [this](const httplib::Request& req, const httplib::Response& res) { Log(req, res); });
}

std::optional<std::string> Service::Authenticate(const httplib::Request& req) const {
  if (config_.tokens.empty()) return std::string();
  const std::string header = req.get_header_value("Authorization");
  constexpr std::string_view kBearer = "Bearer ";
  if (header.size() <= kBearer.size() ||
      !std::equal(kBearer.begin(), kBearer.end(), header.begin(),
                  [](char a, char b) { return std::tolower(a) == std::tolower(b); })) {
    return std::nullopt;
  }
  std::string_view token = std::string_view(header).substr(kBearer.size());
  while (!token.empty() && token.front() == ' ') token.remove_prefix(1);
  std::optional<std::string> user;
  for (const TokenEntry& t : config_.tokens) {  // no early exit: constant time
    if (ConstantTimeEqual(token, t.token) && !user) user = t.user;
  }
  return user;
}

httplib::Server::HandlerResponse Service::PreRouting(const httplib::Request& req,
                                                     httplib::Response& res) {
  t_request_start = absl::Now();
  std::string id = req.get_header_value("X-Query-Id");
  bool bad_id = false;
  if (id.empty()) {
    id = fmt::format("{:010x}-{}", id_prefix_, next_id_.fetch_add(1));
  } else if (!ValidQueryId(id)) {
    bad_id = true;
    id = fmt::format("{:010x}-{}", id_prefix_, next_id_.fetch_add(1));
  }
  // DELETE /queries/{id} answers with the id it cancels.
  res.set_header("X-Query-Id", id);
  if (!Authenticate(req)) {
    res.set_header("WWW-Authenticate", "Bearer realm=\"qgraph\"");
    res.set_header("Connection", "close");  // the body, if any, is not read
    SendError(res, MakeError(401, absl::StatusCode::kUnauthenticated,
                             req.has_header("Authorization")
                                 ? "invalid bearer token"
                                 : "missing \"Authorization: Bearer <token>\" header"));
    if (req.path == "/query_graph") RecordGraph("unauthenticated", absl::ZeroDuration());
    return httplib::Server::HandlerResponse::Handled;
  }
  if (bad_id) {
    res.set_header("Connection", "close");
    SendError(res, MakeError(400, absl::StatusCode::kInvalidArgument,
                             "X-Query-Id must be 1-64 characters of [A-Za-z0-9._-]"));
    return httplib::Server::HandlerResponse::Handled;
  }
  return httplib::Server::HandlerResponse::Unhandled;
}

void Service::Log(const httplib::Request& req, const httplib::Response& res) {
  std::string endpoint = req.path;
  if (endpoint.rfind("/queries/", 0) == 0) endpoint = "/queries/{id}";
  if (endpoint != "/query_graph" && endpoint != "/explain" && endpoint != "/queries" &&
      endpoint != "/queries/{id}" && endpoint != "/health" && endpoint != "/metrics") {
    endpoint = "other";
  }
  {
    absl::MutexLock lock(&metrics_.mu);
    ++metrics_.requests[{req.method + " " + endpoint, res.status}];
  }
  if (!config_.access_log) return;
  // Never the headers (Authorization) or the body.
  const double ms = absl::ToDoubleMilliseconds(absl::Now() - t_request_start);
  const std::string line = fmt::format("qgraph-server: {} {} {} query_id={} {:.1f}ms\n", req.method,
                                       req.path.size() > 200 ? req.path.substr(0, 200) : req.path,
                                       res.status, res.get_header_value("X-Query-Id"), ms);
  std::fwrite(line.data(), 1, line.size(), stderr);
}

void Service::RecordGraph(std::string_view outcome, absl::Duration elapsed) {
  const double s = absl::ToDoubleSeconds(elapsed);
  absl::MutexLock lock(&metrics_.mu);
  ++metrics_.graphs_by_outcome[std::string(outcome)];
  size_t i = 0;
  while (i < kNumBounds && s > kLatencyBounds[i]) ++i;
  ++metrics_.latency_buckets[i];
  metrics_.latency_sum += s;
  ++metrics_.latency_count;
}

std::shared_ptr<Service::Slot> Service::Admit(const std::string& id, const std::string& user,
                                              std::string_view endpoint, httplib::Response& res) {
  absl::MutexLock lock(&mu_);
  if (draining_.load()) {
    res.set_header("Connection", "close");
    SendError(res, MakeError(503, absl::StatusCode::kUnavailable, "the server is shutting down"));
    return nullptr;
  }
  if (static_cast<int>(running_.size()) >= config_.limits.max_concurrent_graphs) {
    res.set_header("Retry-After", "1");
    SendError(res, MakeError(429, absl::StatusCode::kResourceExhausted,
                             fmt::format("too many running graphs (max_concurrent_graphs={})",
                                         config_.limits.max_concurrent_graphs)));
    return nullptr;
  }
  if (running_.contains(id)) {
    SendError(res, MakeError(409, absl::StatusCode::kAlreadyExists,
                             fmt::format("a query with id \"{}\" is already running", id)));
    return nullptr;
  }
  Running r;
  r.id = id;
  r.user = user;
  r.endpoint = std::string(endpoint);
  r.started = absl::Now();
  r.cancel = std::make_shared<qg::CancelToken>();
  auto slot = std::make_shared<Slot>();
  slot->service = this;
  slot->id = id;
  slot->cancel = r.cancel;
  running_.emplace(id, std::move(r));
  return slot;
}

void Service::Release(const std::string& id) {
  absl::MutexLock lock(&mu_);
  running_.erase(id);
}

void Service::BeginDrain() {
  absl::MutexLock lock(&mu_);
  draining_.store(true);
}

bool Service::WaitIdle(absl::Time deadline) {
  absl::MutexLock lock(&mu_);
  auto empty = [this]() ABSL_SHARED_LOCKS_REQUIRED(mu_) { return running_.empty(); };
  return mu_.AwaitWithDeadline(absl::Condition(&empty), deadline);
}

void Service::CancelAll() {
  std::vector<std::shared_ptr<qg::CancelToken>> tokens;
  {
    absl::MutexLock lock(&mu_);
    for (auto& [id, r] : running_) tokens.push_back(r.cancel);
  }
  for (auto& t : tokens) t->Cancel(absl::CancelledError("cancelled: the server is shutting down"));
}

int Service::running() const {
  absl::MutexLock lock(&mu_);
  return static_cast<int>(running_.size());
}

void Service::HandleQueryGraph(const httplib::Request& req, httplib::Response& res) {
  const absl::Time start = absl::Now();
  const std::string id = res.get_header_value("X-Query-Id");
  const std::string user = Authenticate(req).value_or("");
  auto fail = [&](const ErrorInfo& e, std::string_view outcome) {
    SendError(res, e);
    RecordGraph(outcome, absl::Now() - start);
  };

  auto parsed = ParseGraphRequest(req.body, /*explain=*/false);
  if (!parsed.ok()) return fail(FromStatus(parsed.status()), "invalid_argument");
  GraphRequest& gr = *parsed;
  if (gr.nodes > config_.limits.max_nodes) {
    return fail(MakeError(413, absl::StatusCode::kResourceExhausted,
                          fmt::format("the graph has {} nodes; max_nodes={}", gr.nodes,
                                      config_.limits.max_nodes)),
                "graph_too_large");
  }
  std::shared_ptr<Slot> slot = Admit(id, user, "/query_graph", res);
  if (slot == nullptr) {
    RecordGraph(res.status == 429 ? "rejected" : LowerCodeName(absl::StatusCode::kUnavailable),
                absl::Now() - start);
    return;
  }

  std::vector<qg::GraphIssue> issues;
  auto graph = qg::ParseGraph(gr.qgdl, engine_->GraphParseOptions(&gr.params), &issues);
  if (!graph.ok()) {
    ErrorInfo e = FromStatus(graph.status());
    for (const qg::GraphIssue& issue : issues) {
      constexpr std::string_view kUnknown = "unknown database_id \"";
      if (issue.message.rfind(kUnknown, 0) == 0) {
        e.http = 404;
        e.code = CodeName(absl::StatusCode::kNotFound);
        e.source = issue.message.substr(kUnknown.size());
        if (!e.source.empty() && e.source.back() == '"') e.source.pop_back();
        break;
      }
    }
    e.issues = std::move(issues);
    return fail(e, e.http == 404 ? "not_found" : "invalid_argument");
  }

  qg::OutputOptions out = graph->output.value_or(qg::OutputOptions{});
  if (auto f = AcceptedFormat(req.get_header_value("Accept"))) out.format = *f;
  if (gr.format) out.format = *gr.format;
  if (gr.shape) out.shape = *gr.shape;
  if (gr.pretty) out.pretty = *gr.pretty;
  if (out.shape == qg::Shape::kNested && out.format == qg::Format::kCsv) {
    return fail(MakeError(400, absl::StatusCode::kInvalidArgument,
                          "the nested shape cannot be written as CSV"),
                "invalid_argument");
  }

  qg::ExecuteOptions opts;
  opts.user = user;
  opts.params = std::move(gr.params);
  opts.cancel = slot->cancel;
  std::optional<absl::Duration> timeout;
  if (config_.limits.max_execution_time > absl::ZeroDuration()) {
    timeout = config_.limits.max_execution_time;
  }
  if (graph->timeout_ms) {
    absl::Duration own = absl::Milliseconds(*graph->timeout_ms);
    if (!timeout || own < *timeout) timeout = own;
  }
  opts.timeout = timeout;
  auto result = engine_->Execute(*graph, opts);
  if (!result.ok()) {
    ErrorInfo e = FromStatus(result.status());
    // A cancel through DELETE /queries/{id} or at shutdown.
    if (slot->cancel->cancelled() && result.status().code() == absl::StatusCode::kCancelled) {
      e.http = kStatusCancelled;
    }
    // The engine's message names its API; say what to set on this server.
    if (config_.coordinator_log.empty() &&
        result.status().code() == absl::StatusCode::kFailedPrecondition &&
        e.message.find("needs a coordinator log") != std::string::npos) {
      e.message +=
          "; this server has no coordinator log: set \"coordinator_log\" in its config "
          "(or --coordinator-log FILE)";
    }
    return fail(e, LowerCodeName(result.status().code()));
  }

  // The result-size limit is checked before the first byte goes out, by a
  // counting pass of the writer, so a response is never cut short silently.
  out.max_bytes = config_.limits.max_result_bytes;
  if (out.max_bytes > 0) {
    absl::Status counted = qg::WriteResult(
        *result, out, [](std::string_view) -> absl::Status { return absl::OkStatus(); });
    if (!counted.ok()) {
      ErrorInfo e = FromStatus(counted);
      if (counted.code() == absl::StatusCode::kResourceExhausted) {
        e.http = 413;
        e.message = fmt::format("{} (the server's max_result_bytes); ask for fewer rows",
                                std::string(counted.message()));
      }
      return fail(e, e.http == 413 ? "result_too_large" : LowerCodeName(counted.code()));
    }
  }

  struct Stream {
    std::shared_ptr<Slot> slot;
    qg::GraphResult result;
    qg::OutputOptions out;
    absl::Time start;
    Service* service;
    bool recorded = false;
  };
  auto stream = std::make_shared<Stream>();
  stream->slot = std::move(slot);
  stream->result = *std::move(result);
  stream->out = out;
  stream->start = start;
  stream->service = this;
  const int64_t rows = ResultRows(stream->result);
  res.set_header("X-Result-Rows", std::to_string(rows));
  res.status = 200;
  res.set_chunked_content_provider(
      std::string(ContentType(out.format)),
      [stream](size_t, httplib::DataSink& sink) {
        uint64_t sent = 0;
        absl::Status s = qg::WriteResult(
            stream->result, stream->out, [&](std::string_view chunk) -> absl::Status {
              if (stream->slot->cancel->cancelled()) return stream->slot->cancel->status();
              if (chunk.empty()) return absl::OkStatus();  // an empty chunk ends the stream
              if (!sink.write(chunk.data(), chunk.size())) {
                return absl::UnavailableError("the client went away");
              }
              sent += chunk.size();
              return absl::OkStatus();
            });
        stream->service->metrics_.bytes_returned.fetch_add(sent);
        if (!s.ok()) return false;  // closes the connection without the last chunk
        stream->service->metrics_.rows_returned.fetch_add(
            static_cast<uint64_t>(ResultRows(stream->result)));
        sink.done();
        return true;
      },
      [stream](bool success) {
        if (stream->recorded) return;
        stream->recorded = true;
        stream->service->RecordGraph(success ? "ok" : "stream_aborted",
                                     absl::Now() - stream->start);
        // Free the result and the slot now, not when httplib drops the
        // provider.
        stream->result = qg::GraphResult();
        stream->slot.reset();
      });
}

void Service::HandleExplain(const httplib::Request& req, httplib::Response& res) {
  const std::string id = res.get_header_value("X-Query-Id");
  const std::string user = Authenticate(req).value_or("");
  auto parsed = ParseGraphRequest(req.body, /*explain=*/true);
  if (!parsed.ok()) return SendError(res, FromStatus(parsed.status()));
  GraphRequest& gr = *parsed;
  if (gr.nodes > config_.limits.max_nodes) {
    return SendError(res, MakeError(413, absl::StatusCode::kResourceExhausted,
                                    fmt::format("the graph has {} nodes; max_nodes={}", gr.nodes,
                                                config_.limits.max_nodes)));
  }
  std::string format_name = "text";
  const std::string accept = req.get_header_value("Accept");
  if (accept.find("text/vnd.graphviz") != std::string::npos) {
    format_name = "dot";
  } else if (accept.find("application/json") != std::string::npos) {
    format_name = "json";
  }
  if (req.has_param("format")) format_name = req.get_param_value("format");
  if (gr.explain_format) format_name = *gr.explain_format;
  auto format = qg::ParseExplainFormat(format_name);
  if (!format.ok()) {
    return SendError(res, MakeError(400, absl::StatusCode::kInvalidArgument,
                                    "format must be text, json or dot"));
  }
  const std::string analyze = req.get_param_value("analyze");
  const bool do_analyze = analyze == "true" || analyze == "1";

  std::shared_ptr<Slot> slot = Admit(id, user, "/explain", res);
  if (slot == nullptr) return;
  std::vector<qg::GraphIssue> issues;
  auto graph = qg::ParseGraph(gr.qgdl, engine_->GraphParseOptions(&gr.params), &issues);
  if (!graph.ok()) {
    ErrorInfo e = FromStatus(graph.status());
    for (const qg::GraphIssue& issue : issues) {
      if (issue.message.rfind("unknown database_id", 0) == 0) {
        e.http = 404;
        e.code = CodeName(absl::StatusCode::kNotFound);
      }
    }
    e.issues = std::move(issues);
    return SendError(res, e);
  }
  qg::ExecuteOptions opts;
  opts.user = user;
  opts.params = std::move(gr.params);
  opts.cancel = slot->cancel;
  if (config_.limits.max_execution_time > absl::ZeroDuration()) {
    opts.timeout = config_.limits.max_execution_time;
  }
  std::string text;
  if (do_analyze) {
    auto result = engine_->Execute(*graph, opts);
    if (!result.ok()) return SendError(res, FromStatus(result.status()));
    text = qg::RenderPlan(result->plan, *format, &*result);
  } else {
    auto plan = engine_->Explain(*graph, opts);
    if (!plan.ok()) return SendError(res, FromStatus(plan.status()));
    text = qg::RenderPlan(*plan, *format);
  }
  if (text.empty() || text.back() != '\n') text += '\n';
  const char* type = *format == qg::ExplainFormat::kJson  ? "application/json"
                     : *format == qg::ExplainFormat::kDot ? "text/vnd.graphviz"
                                                          : "text/plain; charset=utf-8";
  res.status = 200;
  res.set_content(text, type);
}

void Service::HandleCancel(const httplib::Request& req, httplib::Response& res) {
  const std::string target = req.matches.size() > 1 ? std::string(req.matches[1]) : "";
  const std::string user = Authenticate(req).value_or("");
  res.headers.erase("X-Query-Id");
  res.set_header("X-Query-Id", target);
  std::shared_ptr<qg::CancelToken> token;
  {
    absl::MutexLock lock(&mu_);
    auto it = running_.find(target);
    // With authentication on, a user cancels only its own graphs.
    if (it != running_.end() && (config_.tokens.empty() || it->second.user == user)) {
      token = it->second.cancel;
    }
  }
  if (token == nullptr) {
    return SendError(res, MakeError(404, absl::StatusCode::kNotFound,
                                    fmt::format("no running query \"{}\"", target)));
  }
  token->Cancel(absl::CancelledError(fmt::format("query {} cancelled by the client", target)));
  res.status = 202;
  res.set_content(
      fmt::format("{{\"query_id\": {}, \"status\": \"cancelling\"}}\n", JsonString(target)),
      "application/json");
}

void Service::HandleList(const httplib::Request& req, httplib::Response& res) {
  const std::string user = Authenticate(req).value_or("");
  const absl::Time now = absl::Now();
  std::string body = "{\"queries\": [";
  {
    absl::MutexLock lock(&mu_);
    bool first = true;
    for (const auto& [id, r] : running_) {
      if (!config_.tokens.empty() && r.user != user) continue;
      if (!first) body += ", ";
      first = false;
      body += fmt::format(
          "{{\"query_id\": {}, \"endpoint\": {}, \"user\": {}, \"elapsed_ms\": {}, "
          "\"cancelled\": {}}}",
          JsonString(id), JsonString(r.endpoint), JsonString(r.user),
          absl::ToInt64Milliseconds(now - r.started), r.cancel->cancelled() ? "true" : "false");
    }
  }
  body += "]}\n";
  res.set_content(body, "application/json");
}

void Service::HandleHealth(const httplib::Request& req, httplib::Response& res) {
  const std::string user = Authenticate(req).value_or("");
  const qg::Catalog catalog = engine_->catalog();
  bool all_ok = !draining_.load();
  std::string sources;
  for (const qg::SourceConfig& src : catalog.sources()) {
    const bool sql =
        src.provider == "sqlite" || src.provider == "postgres" || src.provider == "mysql";
    std::string entry =
        fmt::format("{}: {{\"provider\": {}", JsonString(src.name), JsonString(src.provider));
    if (!sql) {
      entry += ", \"status\": \"unchecked\"";
    } else {
      // Acquire + round trip through the engine: a one-node graph.
      const std::string graph = fmt::format(
          "{{\"nodes\": [{{\"node_id\": \"health\", \"database_id\": {}, "
          "\"query_string\": \"SELECT 1 AS ok\", \"input_parameters\": [], "
          "\"output_fields\": [\"ok\"]}}], \"edges\": []}}",
          JsonString(src.name));
      qg::ExecuteOptions opts;
      opts.user = user;
      opts.timeout = config_.limits.health_timeout;
      const absl::Time t0 = absl::Now();
      auto r = engine_->ExecuteJson(graph, opts);
      const double ms = absl::ToDoubleMilliseconds(absl::Now() - t0);
      if (r.ok()) {
        entry += fmt::format(", \"status\": \"ok\", \"latency_ms\": {:.2f}", ms);
      } else {
        all_ok = false;
        entry += fmt::format(", \"status\": \"unavailable\", \"code\": {}, \"error\": {}",
                             JsonString(CodeName(r.status().code())),
                             JsonString(std::string(r.status().message())));
      }
    }
    entry += "}";
    if (!sources.empty()) sources += ", ";
    sources += entry;
  }
  std::string pools;
  for (const auto& [key, st] : engine_->PoolStatistics()) {
    if (!pools.empty()) pools += ", ";
    pools += fmt::format(
        "{}: {{\"in_use\": {}, \"idle\": {}, \"waiting\": {}, \"max\": {}, \"created\": {}, "
        "\"broken\": {}}}",
        JsonString(key), st.in_use, st.idle, st.waiting, st.max, st.created, st.broken);
  }
  res.status = all_ok ? 200 : 503;
  res.set_content(
      fmt::format("{{\"status\": {}, \"running\": {}, \"sources\": {{{}}}, "
                  "\"pools\": {{{}}}}}\n",
                  all_ok ? "\"ok\"" : (draining_.load() ? "\"draining\"" : "\"degraded\""),
                  running(), sources, pools),
      "application/json");
}

void Service::HandleMetrics(const httplib::Request&, httplib::Response& res) {
  std::string m;
  m.reserve(4096);
  {
    absl::MutexLock lock(&metrics_.mu);
    m += "# HELP qgraph_graphs_total Graphs received on /query_graph, by outcome.\n"
         "# TYPE qgraph_graphs_total counter\n";
    for (const auto& [outcome, n] : metrics_.graphs_by_outcome) {
      m += fmt::format("qgraph_graphs_total{{outcome=\"{}\"}} {}\n", PromLabel(outcome), n);
    }
    m += "# HELP qgraph_graph_duration_seconds Time from request to the last byte of the answer.\n"
         "# TYPE qgraph_graph_duration_seconds histogram\n";
    uint64_t cumulative = 0;
    for (size_t i = 0; i < kNumBounds; ++i) {
      cumulative += metrics_.latency_buckets[i];
      m += fmt::format("qgraph_graph_duration_seconds_bucket{{le=\"{}\"}} {}\n", kLatencyBounds[i],
                       cumulative);
    }
    cumulative += metrics_.latency_buckets[kNumBounds];
    m += fmt::format("qgraph_graph_duration_seconds_bucket{{le=\"+Inf\"}} {}\n", cumulative);
    m += fmt::format("qgraph_graph_duration_seconds_sum {}\n", metrics_.latency_sum);
    m += fmt::format("qgraph_graph_duration_seconds_count {}\n", metrics_.latency_count);
    m += "# HELP qgraph_http_requests_total HTTP requests answered, by endpoint and status.\n"
         "# TYPE qgraph_http_requests_total counter\n";
    for (const auto& [key, n] : metrics_.requests) {
      m += fmt::format("qgraph_http_requests_total{{endpoint=\"{}\",status=\"{}\"}} {}\n",
                       PromLabel(key.first), key.second, n);
    }
  }
  m += fmt::format(
      "# HELP qgraph_rows_returned_total Result rows sent to clients.\n"
      "# TYPE qgraph_rows_returned_total counter\n"
      "qgraph_rows_returned_total {}\n"
      "# HELP qgraph_bytes_returned_total Result bytes sent to clients.\n"
      "# TYPE qgraph_bytes_returned_total counter\n"
      "qgraph_bytes_returned_total {}\n"
      "# HELP qgraph_graphs_running Graphs running now.\n"
      "# TYPE qgraph_graphs_running gauge\n"
      "qgraph_graphs_running {}\n",
      metrics_.rows_returned.load(), metrics_.bytes_returned.load(), running());
  const auto pools = engine_->PoolStatistics();
  struct Gauge {
    const char* name;
    const char* type;
    const char* help;
    double (*get)(const qg::PoolStats&);
  };
  static constexpr Gauge kGauges[] = {
      {"qgraph_pool_in_use", "gauge", "Connections handed out.",
       [](const qg::PoolStats& s) { return double(s.in_use); }},
      {"qgraph_pool_idle", "gauge", "Open idle connections.",
       [](const qg::PoolStats& s) { return double(s.idle); }},
      {"qgraph_pool_waiting", "gauge", "Callers waiting for a connection.",
       [](const qg::PoolStats& s) { return double(s.waiting); }},
      {"qgraph_pool_max", "gauge", "pool_max.",
       [](const qg::PoolStats& s) { return double(s.max); }},
      {"qgraph_pool_created", "gauge", "Connections opened since start.",
       [](const qg::PoolStats& s) { return double(s.created); }},
      {"qgraph_pool_broken", "gauge", "Connections closed because broken since start.",
       [](const qg::PoolStats& s) { return double(s.broken); }},
      {"qgraph_pool_acquire_timeouts", "gauge", "acquire_timeout expirations since start.",
       [](const qg::PoolStats& s) { return double(s.timeouts); }},
      {"qgraph_pool_wait_seconds", "gauge", "Total time callers waited for a connection.",
       [](const qg::PoolStats& s) { return s.wait_seconds; }},
  };
  for (const Gauge& g : kGauges) {
    m += fmt::format("# HELP {} {}\n# TYPE {} {}\n", g.name, g.help, g.name, g.type);
    for (const auto& [key, st] : pools) {
      m += fmt::format("{}{{pool=\"{}\"}} {}\n", g.name, PromLabel(key), g.get(st));
    }
  }
  res.set_content(m, "text/plain; version=0.0.4; charset=utf-8");
}

}  // namespace qgraph_server
