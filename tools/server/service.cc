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
#include "qg/plan.h"
#include "qg/result.h"
#include "qg/value.h"

namespace qgraph_server {
namespace {

constexpr double kLatencyBounds[] = {0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25,
                                     0.5,   1,      2.5,   5,    10,    30,   60};
constexpr size_t kNumBounds = sizeof(kLatencyBounds) / sizeof(kLatencyBounds[0]);
constexpr int kStatusCancelled = 499;  // nginx's "client closed request"

std::string JsonString(std::string_view s) { return qg::JsonQuote(s); }

std::string RunningKey(std::string_view user, std::string_view id) {
  std::string key(user);
  key += '\0';
  key += id;
  return key;
}

// At most 200 bytes of client input in a message or the log.
std::string Clip(std::string_view s) {
  return std::string(s.substr(0, 200)) + (s.size() > 200 ? "..." : "");
}

void SetContent(HttpResponse& res, std::string body, std::string type) {
  res.body = std::move(body);
  res.content_type = std::move(type);
}

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

// HTTP status for an engine status (docs/design.md §15 codes -> issue 6 mapping).
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

void SendError(HttpResponse& res, const ErrorInfo& e) {
  const std::string id = res.header("X-Query-Id");
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
  SetContent(res, body, "application/json");
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
  // A worker's parser keeps its buffers (about 3-4 x the largest document it
  // parsed): reuse one for ordinary bodies, parse big ones with a parser of
  // their own, freed with the request.
  constexpr size_t kReusedParserBytes = 1 << 20;
  thread_local simdjson::dom::parser reused(kReusedParserBytes);
  std::optional<simdjson::dom::parser> own;
  simdjson::dom::parser* parser = &reused;
  if (body.size() > kReusedParserBytes) parser = &own.emplace(body.size());
  simdjson::dom::element root;
  if (auto err = parser->parse(body).get(root); err != simdjson::SUCCESS) {
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

// The rows the answer carries: the nodes' rows, or for the joined shape the
// joined rows (counted without writing them).
int64_t ResultRows(const qg::GraphResult& r, qg::Shape shape) {
  if (shape == qg::Shape::kJoined) {
    qg::OutputOptions o;
    o.shape = shape;
    o.format = qg::Format::kNdjson;
    int64_t lines = 0;
    absl::Status s = qg::WriteResult(r, o, [&](std::string_view chunk) -> absl::Status {
      lines += std::count(chunk.begin(), chunk.end(), '\n');
      return absl::OkStatus();
    });
    if (s.ok()) return lines;
  }
  int64_t rows = 0;
  for (const qg::NodeResult& n : r.nodes) rows += static_cast<int64_t>(n.num_rows);
  return rows;
}

}  // namespace

// A concurrency slot and the query's registration; released when the last
// holder (the handler, or the response's content provider) lets go.
struct Service::Slot {
  Service* service;
  std::string id;  // the registry key: user and query id
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

std::string Service::NewQueryId() {
  return fmt::format("{:010x}-{}", id_prefix_, next_id_.fetch_add(1));
}

HttpResponse Service::Handle(HttpRequest& req) {
  HttpResponse res;
  if (req.query_id.empty()) req.query_id = NewQueryId();
  res.set_header("X-Query-Id", req.query_id);
  const std::string& m = req.method;
  if (req.path == "/query_graph" && m == "POST") {
    HandleQueryGraph(req, res);
  } else if (req.path == "/explain" && m == "POST") {
    HandleExplain(req, res);
  } else if (req.path.rfind("/queries/", 0) == 0 && req.path.size() > 9 &&
             req.path.find('/', 9) == std::string::npos && m == "DELETE") {
    HandleCancel(req, res);
  } else if (req.path == "/queries" && m == "GET") {
    HandleList(req, res);
  } else if (req.path == "/health" && m == "GET") {
    HandleHealth(req, res);
  } else if (req.path == "/metrics" && m == "GET") {
    HandleMetrics(req, res);
  } else {
    SendError(res, MakeError(404, absl::StatusCode::kNotFound,
                             fmt::format("no endpoint {} {}", Clip(req.method), Clip(req.path))));
  }
  return res;
}

HttpResponse Service::Error(const HttpRequest& head, int status, std::string message) {
  HttpResponse res;
  res.set_header("X-Query-Id", head.query_id.empty() ? NewQueryId() : head.query_id);
  absl::StatusCode code = absl::StatusCode::kInvalidArgument;
  if (status == 413 || status == 431 || status == 503) code = absl::StatusCode::kResourceExhausted;
  if (status == 503) code = absl::StatusCode::kUnavailable;
  if (status == 408) code = absl::StatusCode::kDeadlineExceeded;
  if (status == 413 && head.path == "/query_graph") {
    RecordGraph("body_too_large", absl::ZeroDuration());
  }
  SendError(res, MakeError(status, code, std::move(message)));
  res.close = true;
  return res;
}

std::optional<std::string> Service::Authenticate(const HttpRequest& req) const {
  if (config_.tokens.empty()) return std::string();
  const std::string header = req.header("Authorization");
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

bool Service::AllowedHost(std::string_view host) const {
  // Strip the port: "name:port", "[v6]:port".
  if (!host.empty() && host.front() == '[') {
    size_t close = host.find(']');
    if (close == std::string_view::npos) return false;
    host = host.substr(1, close - 1);
  } else if (size_t colon = host.rfind(':');
             colon != std::string_view::npos && host.find(':') == colon) {
    host = host.substr(0, colon);
  }
  std::string h(host);
  std::transform(h.begin(), h.end(), h.begin(), [](unsigned char c) { return std::tolower(c); });
  if (h == "localhost" || h == "::1" || h == config_.address) return true;
  // 127.0.0.0/8
  unsigned a = 0, b = 0, c = 0, d = 0;
  char tail = 0;
  if (std::sscanf(h.c_str(), "%u.%u.%u.%u%c", &a, &b, &c, &d, &tail) == 4 && a == 127 && b < 256 &&
      c < 256 && d < 256) {
    return true;
  }
  return false;
}

std::optional<HttpResponse> Service::CheckHead(HttpRequest& req) {
  std::string id = req.header("X-Query-Id");
  const bool bad_id = !id.empty() && !ValidQueryId(id);
  req.query_id = id.empty() || bad_id ? NewQueryId() : id;
  auto refuse = [&](int status, absl::StatusCode code, std::string message) {
    HttpResponse res;
    res.set_header("X-Query-Id", req.query_id);
    res.close = true;  // the body, if any, is not read
    SendError(res, MakeError(status, code, std::move(message)));
    return res;
  };
  if (!Authenticate(req)) {
    HttpResponse res = refuse(401, absl::StatusCode::kUnauthenticated,
                              req.has_header("Authorization")
                                  ? "invalid bearer token"
                                  : "missing \"Authorization: Bearer <token>\" header");
    res.set_header("WWW-Authenticate", "Bearer realm=\"qgraph\"");
    if (req.path == "/query_graph") RecordGraph("unauthenticated", absl::ZeroDuration());
    return res;
  }
  if (bad_id) {
    return refuse(400, absl::StatusCode::kInvalidArgument,
                  "X-Query-Id must be 1-64 characters of [A-Za-z0-9._-]");
  }
  if (config_.tokens.empty()) {
    // Without authentication a web page could drive this server through the
    // browser (CSRF) or through a hostname it rebinds to 127.0.0.1: only
    // loopback (or the configured address) may be named as Host and Origin.
    if (req.has_header("Host") && !AllowedHost(req.header("Host"))) {
      return refuse(403, absl::StatusCode::kPermissionDenied,
                    fmt::format("Host {} is not this server (authentication is off: only "
                                "loopback names and the listen address are served)",
                                JsonString(Clip(req.header("Host")))));
    }
    if (req.has_header("Origin")) {
      const std::string origin = req.header("Origin");
      constexpr std::string_view kHttp = "http://", kHttps = "https://";
      std::string_view rest = origin;
      bool ok = false;
      if (rest.rfind(kHttp, 0) == 0 || rest.rfind(kHttps, 0) == 0) {
        rest.remove_prefix(rest.rfind(kHttp, 0) == 0 ? kHttp.size() : kHttps.size());
        ok = rest.find('/') == std::string_view::npos && AllowedHost(rest);
      }
      if (!ok) {
        return refuse(403, absl::StatusCode::kPermissionDenied,
                      fmt::format("cross-origin request from {} refused (authentication is off)",
                                  JsonString(Clip(origin))));
      }
    }
  }
  if (req.method == "POST") {
    std::string type = req.header("Content-Type");
    type = type.substr(0, type.find(';'));
    while (!type.empty() && type.back() == ' ') type.pop_back();
    std::transform(type.begin(), type.end(), type.begin(),
                   [](unsigned char c) { return std::tolower(c); });
    if (type != "application/json") {
      return refuse(415, absl::StatusCode::kInvalidArgument,
                    "the body must be sent as \"Content-Type: application/json\"");
    }
  }
  return std::nullopt;
}

void Service::Logged(const HttpRequest& req, const HttpResponse& res, absl::Duration elapsed) {
  std::string endpoint = req.path;
  if (endpoint.rfind("/queries/", 0) == 0) endpoint = "/queries/{id}";
  if (endpoint != "/query_graph" && endpoint != "/explain" && endpoint != "/queries" &&
      endpoint != "/queries/{id}" && endpoint != "/health" && endpoint != "/metrics") {
    endpoint = "other";
  }
  std::string method = req.method;
  if (method != "GET" && method != "POST" && method != "DELETE") method = "other";
  {
    absl::MutexLock lock(&metrics_.mu);
    ++metrics_.requests[{method + " " + endpoint, res.status}];
  }
  if (!config_.access_log) return;
  // Never the headers (Authorization) or the body.
  const double ms = absl::ToDoubleMilliseconds(elapsed);
  const std::string line =
      fmt::format("qgraph-server: {} {} {} query_id={} {:.1f}ms\n", Clip(req.method),
                  Clip(req.path), res.status, res.header("X-Query-Id"), ms);
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
                                              std::string_view endpoint, HttpResponse& res) {
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
  // Ids are per user: another user's id is not visible (no 409 that would
  // confirm it exists).
  const std::string key = RunningKey(user, id);
  if (running_.contains(key)) {
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
  slot->id = key;
  slot->cancel = r.cancel;
  running_.emplace(key, std::move(r));
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

void Service::HandleQueryGraph(const HttpRequest& req, HttpResponse& res) {
  const absl::Time start = absl::Now();
  const std::string id = res.header("X-Query-Id");
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
  if (auto f = AcceptedFormat(req.header("Accept"))) out.format = *f;
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

  // The engine already stopped at max_result_rows / max_result_bytes while
  // producing; the writer stops as the serialised bytes pass
  // max_result_bytes. Until the first 64 KiB went out the client gets a
  // plain 413; after that the stream ends with the error as its last line
  // and no terminating chunk.
  out.max_bytes = config_.limits.max_result_bytes;
  struct Stream {
    std::shared_ptr<Slot> slot;
    qg::GraphResult result;
    qg::OutputOptions out;
    absl::Time start;
    Service* service;
    absl::Status status;
    std::string outcome = "ok";
    std::string query_id;
  };
  auto stream = std::make_shared<Stream>();
  stream->slot = std::move(slot);
  stream->result = *std::move(result);
  stream->out = out;
  stream->start = start;
  stream->service = this;
  stream->query_id = id;
  const int64_t rows = ResultRows(stream->result, out.shape);
  res.set_header("X-Result-Rows", std::to_string(rows));
  res.status = 200;
  res.content_type = std::string(ContentType(out.format));
  res.stream = [stream, rows](ChunkSink& sink) {
    uint64_t sent = 0;
    absl::Status s =
        qg::WriteResult(stream->result, stream->out, [&](std::string_view chunk) -> absl::Status {
          if (stream->slot->cancel->cancelled()) return stream->slot->cancel->status();
          if (chunk.empty()) return absl::OkStatus();
          if (!sink.Write(chunk)) return absl::UnavailableError("the client went away");
          sent += chunk.size();
          return absl::OkStatus();
        });
    stream->service->metrics_.bytes_returned.fetch_add(sent);
    stream->status = s;
    if (!s.ok()) {
      stream->outcome =
          s.code() == absl::StatusCode::kResourceExhausted
              ? "result_too_large"
              : (s.code() == absl::StatusCode::kUnavailable ? "stream_aborted"
                                                            : LowerCodeName(s.code()));
      return false;
    }
    stream->service->metrics_.rows_returned.fetch_add(static_cast<uint64_t>(rows));
    return true;
  };
  res.stream_error = [stream] {
    HttpResponse err;
    err.set_header("X-Query-Id", stream->query_id);
    ErrorInfo e = FromStatus(stream->status);
    if (stream->status.code() == absl::StatusCode::kResourceExhausted) {
      e.http = 413;
      e.message = fmt::format("{} (the server's max_result_bytes); ask for fewer rows",
                              std::string(stream->status.message()));
    }
    if (stream->slot && stream->slot->cancel->cancelled() &&
        stream->status.code() == absl::StatusCode::kCancelled) {
      e.http = kStatusCancelled;
    }
    SendError(err, e);
    return err;
  };
  res.done = [stream](bool success) {
    stream->service->RecordGraph(success ? "ok" : stream->outcome, absl::Now() - stream->start);
    // Free the result and the slot now, not when the response is dropped.
    stream->result = qg::GraphResult();
    stream->slot.reset();
  };
}

void Service::HandleExplain(const HttpRequest& req, HttpResponse& res) {
  const std::string id = res.header("X-Query-Id");
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
  const std::string accept = req.header("Accept");
  if (accept.find("text/vnd.graphviz") != std::string::npos) {
    format_name = "dot";
  } else if (accept.find("application/json") != std::string::npos) {
    format_name = "json";
  }
  if (req.has_param("format")) format_name = Clip(req.param("format"));
  if (gr.explain_format) format_name = *gr.explain_format;
  auto format = qg::ParseExplainFormat(format_name);
  if (!format.ok()) {
    return SendError(res, MakeError(400, absl::StatusCode::kInvalidArgument,
                                    "format must be text, json or dot"));
  }
  const std::string analyze = req.param("analyze");
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
    opts.estimate_costs = true;  // estimates beside the actuals
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
  SetContent(res, text, type);
}

void Service::HandleCancel(const HttpRequest& req, HttpResponse& res) {
  const std::string target = req.path.substr(std::string_view("/queries/").size());
  const std::string user = Authenticate(req).value_or("");
  res.set_header("X-Query-Id", ValidQueryId(target) ? target : req.query_id);
  std::shared_ptr<qg::CancelToken> token;
  {
    absl::MutexLock lock(&mu_);
    // A user cancels only its own graphs (the registry is keyed by user).
    auto it = running_.find(RunningKey(user, target));
    if (it != running_.end()) {
      token = it->second.cancel;
    }
  }
  if (token == nullptr) {
    return SendError(res, MakeError(404, absl::StatusCode::kNotFound,
                                    fmt::format("no running query {}", JsonString(Clip(target)))));
  }
  token->Cancel(absl::CancelledError(fmt::format("query {} cancelled by the client", target)));
  res.status = 202;
  SetContent(res,
             fmt::format("{{\"query_id\": {}, \"status\": \"cancelling\"}}\n", JsonString(target)),
             "application/json");
}

void Service::HandleList(const HttpRequest& req, HttpResponse& res) {
  const std::string user = Authenticate(req).value_or("");
  const absl::Time now = absl::Now();
  std::string body = "{\"queries\": [";
  {
    absl::MutexLock lock(&mu_);
    bool first = true;
    for (const auto& [key, r] : running_) {
      if (!config_.tokens.empty() && r.user != user) continue;
      const std::string& id = r.id;
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
  SetContent(res, body, "application/json");
}

void Service::HandleHealth(const HttpRequest& req, HttpResponse& res) {
  const std::string user = Authenticate(req).value_or("");
  const qg::Catalog catalog = engine_->catalog();
  bool all_ok = !draining_.load();
  std::string sources;
  for (const qg::SourceConfig& src : catalog.sources()) {
    std::string entry =
        fmt::format("{}: {{\"provider\": {}", JsonString(src.name), JsonString(src.provider));
    // Every provider kind: a pooled connection and the provider's Ping (its
    // health_check option; a REST source's HEAD or health_check request).
    qg::ExecuteOptions opts;
    opts.user = user;
    opts.timeout = config_.limits.health_timeout;
    const absl::Time t0 = absl::Now();
    const absl::Status st = engine_->CheckSource(src.name, opts);
    const double ms = absl::ToDoubleMilliseconds(absl::Now() - t0);
    if (st.ok()) {
      entry += fmt::format(", \"status\": \"ok\", \"latency_ms\": {:.2f}", ms);
    } else {
      all_ok = false;
      entry += fmt::format(", \"status\": \"unavailable\", \"code\": {}, \"error\": {}",
                           JsonString(CodeName(st.code())), JsonString(std::string(st.message())));
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
  SetContent(res,
             fmt::format("{{\"status\": {}, \"running\": {}, \"sources\": {{{}}}, "
                         "\"pools\": {{{}}}}}\n",
                         all_ok ? "\"ok\"" : (draining_.load() ? "\"draining\"" : "\"degraded\""),
                         running(), sources, pools),
             "application/json");
}

void Service::HandleMetrics(const HttpRequest&, HttpResponse& res) {
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
  SetContent(res, m, "text/plain; version=0.0.4; charset=utf-8");
}

}  // namespace qgraph_server
