#include "providers/http/http_connection.h"

#include <algorithm>
#include <cctype>
#include <chrono>
#include <cmath>
#include <thread>
#include <utility>

#include "absl/container/flat_hash_map.h"
#include "common/json_writer.h"
#include "common/status_macros.h"
#include "common/strings.h"
#include "fmt/format.h"
#include "providers/http/http_extract.h"
#include "qg/duration.h"
#include "simdjson.h"

namespace qg::http {
namespace {

constexpr int kMaxRedirects = 5;

// Lower: common/strings.h. Trim: a trimmed copy.
std::string Trim(std::string_view s) { return std::string(TrimSpace(s)); }

std::vector<std::string> Split(std::string_view s, char sep) {
  std::vector<std::string> out;
  size_t start = 0;
  while (start <= s.size()) {
    size_t p = s.find(sep, start);
    if (p == std::string_view::npos) p = s.size();
    std::string t = Trim(s.substr(start, p - start));
    if (!t.empty()) out.push_back(std::move(t));
    start = p + 1;
  }
  return out;
}

// Parts of a URL through libcurl's parser (which also removes dot segments
// and normalizes numeric IPv4 hosts).
struct UrlParts {
  std::string scheme, host, path, user, password, query;
  long port = 0;  // the scheme's default when the URL has none
};

absl::StatusOr<UrlParts> ParseUrl(std::string_view url) {
  CURLU* h = curl_url();
  if (h == nullptr) return absl::ResourceExhaustedError("out of memory");
  UrlParts parts;
  std::string u(url);
  CURLUcode rc = curl_url_set(h, CURLUPART_URL, u.c_str(), 0);
  if (rc == CURLUE_OK) {
    auto get = [h](CURLUPart what, unsigned flags) {
      char* v = nullptr;
      std::string out;
      if (curl_url_get(h, what, &v, flags) == CURLUE_OK && v != nullptr) out = v;
      curl_free(v);
      return out;
    };
    parts.scheme = Lower(get(CURLUPART_SCHEME, 0));
    parts.host = Lower(get(CURLUPART_HOST, 0));
    parts.path = get(CURLUPART_PATH, 0);
    parts.user = get(CURLUPART_USER, CURLU_URLDECODE);
    parts.password = get(CURLUPART_PASSWORD, CURLU_URLDECODE);
    parts.query = get(CURLUPART_QUERY, 0);
    const std::string port = get(CURLUPART_PORT, CURLU_DEFAULT_PORT);
    parts.port = port.empty() ? 0 : std::strtol(port.c_str(), nullptr, 10);
  }
  curl_url_cleanup(h);
  if (rc != CURLUE_OK) return absl::InvalidArgumentError(curl_url_strerror(rc));
  return parts;
}

int HexDigit(char c) {
  if (c >= '0' && c <= '9') return c - '0';
  if (c >= 'a' && c <= 'f') return c - 'a' + 10;
  if (c >= 'A' && c <= 'F') return c - 'A' + 10;
  return -1;
}

std::string PercentDecode(std::string_view s, bool plus_is_space) {
  std::string out;
  for (size_t i = 0; i < s.size(); ++i) {
    if (s[i] == '%' && i + 2 < s.size() && HexDigit(s[i + 1]) >= 0 && HexDigit(s[i + 2]) >= 0) {
      out.push_back(static_cast<char>(HexDigit(s[i + 1]) * 16 + HexDigit(s[i + 2])));
      i += 2;
    } else if (plus_is_space && s[i] == '+') {
      out.push_back(' ');
    } else {
      out.push_back(s[i]);
    }
  }
  return out;
}

// RFC 3986 remove_dot_segments, on an absolute path.
std::string RemoveDotSegments(std::string_view path) {
  std::vector<std::string_view> out;
  size_t start = 0;
  const bool trailing = !path.empty() && path.back() == '/';
  while (start <= path.size()) {
    size_t slash = path.find('/', start);
    if (slash == std::string_view::npos) slash = path.size();
    std::string_view seg = path.substr(start, slash - start);
    start = slash + 1;
    if (seg.empty() || seg == ".") continue;
    if (seg == "..") {
      if (!out.empty()) out.pop_back();
      continue;
    }
    out.push_back(seg);
  }
  std::string r;
  for (std::string_view seg : out) {
    r.push_back('/');
    r.append(seg);
  }
  if (r.empty() || trailing) r.push_back('/');
  return r;
}

bool UnderPrefix(std::string_view path, std::string_view prefix) {
  if (prefix.empty()) return true;
  if (path.substr(0, prefix.size()) != prefix) return false;
  return path.size() == prefix.size() || path[prefix.size()] == '/';
}

// Resolves `ref` (absolute or relative) against `base`.
absl::StatusOr<std::string> ResolveUrl(const std::string& base, const std::string& ref) {
  CURLU* h = curl_url();
  if (h == nullptr) return absl::ResourceExhaustedError("out of memory");
  std::string out;
  CURLUcode rc = curl_url_set(h, CURLUPART_URL, base.c_str(), 0);
  if (rc == CURLUE_OK) rc = curl_url_set(h, CURLUPART_URL, ref.c_str(), 0);
  if (rc == CURLUE_OK) {
    char* full = nullptr;
    rc = curl_url_get(h, CURLUPART_URL, &full, 0);
    if (rc == CURLUE_OK) out = full;
    curl_free(full);
  }
  curl_url_cleanup(h);
  if (rc != CURLUE_OK) return absl::InvalidArgumentError(curl_url_strerror(rc));
  return out;
}

// Sets (or replaces) one query parameter.
std::string WithQueryParam(const std::string& url, const std::string& key,
                           const std::string& value) {
  size_t q = url.find('?');
  std::string base = url.substr(0, q);
  std::vector<std::string> parts;
  if (q != std::string::npos) {
    for (std::string& p : Split(url.substr(q + 1), '&')) {
      std::string k = p.substr(0, p.find('='));
      if (k != key) parts.push_back(std::move(p));
    }
  }
  parts.push_back(key + "=" + PercentEncode(value));
  std::string out = base + "?";
  for (size_t i = 0; i < parts.size(); ++i) out += (i ? "&" : "") + parts[i];
  return out;
}

bool SensitiveKey(std::string_view key) {
  std::string k = Lower(key);
  static const char* const kWords[] = {"token", "key",  "secret", "password",   "passwd",
                                       "pwd",   "auth", "sig",    "credential", "session"};
  for (const char* w : kWords) {
    if (k.find(w) != std::string::npos) return true;
  }
  return false;
}

// A header whose value is a credential.
bool SensitiveHeader(std::string_view name) {
  const std::string n = Lower(name);
  return SensitiveKey(n) || n == "cookie" || n.find("proxy-") == 0;
}

// The name of a "Name: value" header line.
std::string HeaderName(std::string_view line) { return Trim(line.substr(0, line.find(':'))); }

absl::StatusCode CodeForHttp(long status) {
  switch (status) {
    case 400:
    case 405:
    case 409:
    case 410:
    case 413:
    case 414:
    case 415:
    case 422:
      return absl::StatusCode::kInvalidArgument;
    case 401:
    case 403:
      return absl::StatusCode::kPermissionDenied;
    case 404:
      return absl::StatusCode::kNotFound;
    case 408:
    case 504:
      return absl::StatusCode::kDeadlineExceeded;
    case 429:
      return absl::StatusCode::kResourceExhausted;
    default:
      return status >= 500 ? absl::StatusCode::kUnavailable : absl::StatusCode::kFailedPrecondition;
  }
}

// Retry-After as a duration, if present and parseable.
std::optional<absl::Duration> RetryAfter(const Response& r) {
  auto it = r.headers.find("retry-after");
  if (it == r.headers.end()) return std::nullopt;
  std::string v = Trim(it->second);
  if (!v.empty() && std::all_of(v.begin(), v.end(), [](char c) { return std::isdigit(c); })) {
    return absl::Seconds(std::stoll(v.substr(0, 9)));
  }
  time_t t = curl_getdate(v.c_str(), nullptr);
  if (t < 0) return std::nullopt;
  absl::Duration d = absl::FromUnixSeconds(t) - absl::Now();
  return std::max(d, absl::ZeroDuration());
}

}  // namespace

// ---- origins and the allow-list -------------------------------------------

absl::StatusOr<Origin> OriginOf(std::string_view url) {
  QG_ASSIGN_OR_RETURN(UrlParts parts, ParseUrl(url));
  if ((parts.scheme != "http" && parts.scheme != "https") || parts.host.empty()) {
    return absl::InvalidArgumentError("not an http(s) URL with a host");
  }
  return Origin{parts.scheme, parts.host, parts.port};
}

absl::StatusOr<AllowEntry> ParseAllowEntry(std::string_view entry, const Origin& base) {
  AllowEntry e;
  e.text = std::string(entry);
  auto bad = [&](std::string_view why) {
    return absl::InvalidArgumentError(fmt::format(
        "allow_hosts entry '{}' {} (expected scheme://host[:port][/path], host or host:port)",
        entry, why));
  };
  std::string_view rest = entry;
  const size_t sep = rest.find("://");
  if (sep != std::string_view::npos) {
    e.scheme = Lower(rest.substr(0, sep));
    rest.remove_prefix(sep + 3);
  } else {
    e.scheme = base.scheme;
  }
  if (e.scheme != "http" && e.scheme != "https") return bad("has a scheme other than http(s)");
  const size_t slash = rest.find('/');
  std::string_view authority = rest.substr(0, slash);
  if (slash != std::string_view::npos) {
    std::string prefix(rest.substr(slash));
    if (prefix.find_first_of("?#") != std::string::npos) return bad("has a query or fragment");
    while (!prefix.empty() && prefix.back() == '/') prefix.pop_back();
    e.path_prefix = RemoveDotSegments(prefix.empty() ? "/" : prefix);
    if (e.path_prefix == "/") e.path_prefix.clear();
    while (!e.path_prefix.empty() && e.path_prefix.back() == '/') e.path_prefix.pop_back();
  }
  std::string_view host = authority;
  std::string_view port;
  const size_t close = authority.rfind(']');
  const size_t colon = authority.rfind(':');
  if (colon != std::string_view::npos && (close == std::string_view::npos || colon > close)) {
    host = authority.substr(0, colon);
    port = authority.substr(colon + 1);
    if (port.empty() || port.size() > 5 ||
        !std::all_of(port.begin(), port.end(), [](char c) { return std::isdigit(c) != 0; })) {
      return bad("has an invalid port");
    }
  }
  if (host.empty()) return bad("has no host");
  if (host.find('@') != std::string_view::npos) return bad("has user info");
  e.port = port.empty() ? (e.scheme == "https" ? 443 : 80)
                        : std::strtol(std::string(port).c_str(), nullptr, 10);
  if (e.port < 1 || e.port > 65535) return bad("has an invalid port");
  if (host == "*") {
    e.any_host = true;
    return e;
  }
  std::string probe_host(host);
  if (host.size() > 2 && host[0] == '*' && host[1] == '.') {
    e.subdomains = true;
    probe_host = std::string(host.substr(2));
  }
  // The host as libcurl will see it in request URLs.
  auto parsed = ParseUrl(fmt::format("{}://{}:{}/", e.scheme, probe_host, e.port));
  if (!parsed.ok() || parsed->host.empty()) return bad("has an invalid host");
  e.host = e.subdomains ? "." + parsed->host : parsed->host;
  return e;
}

bool Allows(const AllowEntry& e, std::string_view url) {
  auto parts = ParseUrl(url);
  if (!parts.ok() || parts->scheme != e.scheme || parts->port != e.port) return false;
  if (e.subdomains) {
    const std::string& h = parts->host;
    if (h.size() <= e.host.size() ||
        h.compare(h.size() - e.host.size(), e.host.size(), e.host) != 0) {
      return false;
    }
  } else if (!e.any_host && parts->host != e.host) {
    return false;
  }
  if (e.path_prefix.empty()) return true;
  // The path as sent, and as a server that decodes %2F and %2E (and takes
  // a backslash for '/') before resolving dot segments would read it: both must
  // stay under the prefix.
  std::string decoded = PercentDecode(parts->path, false);
  std::replace(decoded.begin(), decoded.end(), '\\', '/');
  return UnderPrefix(parts->path, e.path_prefix) &&
         UnderPrefix(RemoveDotSegments(decoded), e.path_prefix);
}

// ---- options ------------------------------------------------------------

const std::vector<std::string>& OptionKeys() {
  static const std::vector<std::string> kKeys = {"headers",
                                                 "auth",
                                                 "allow_hosts",
                                                 "timeout",
                                                 "rate_limit",
                                                 "burst",
                                                 "retries",
                                                 "retry_max_wait",
                                                 "max_pages",
                                                 "next_at",
                                                 "page_param",
                                                 "page_start",
                                                 "offset_param",
                                                 "limit_param",
                                                 "page_size",
                                                 "rows_at",
                                                 "batch_key_field",
                                                 "max_batch",
                                                 "max_response_bytes",
                                                 "user_agent"};
  return kKeys;
}

absl::StatusOr<HttpOptions> ParseOptions(const std::map<std::string, std::string>& options,
                                         std::string_view base_url) {
  HttpOptions o;
  auto bad = [](const std::string& key, const std::string& value, std::string_view want) {
    return absl::InvalidArgumentError(
        fmt::format("http option {}='{}' is not {}", key, value, want));
  };
  auto int_of = [&](const std::string& key, const std::string& value, int64_t min,
                    int64_t max) -> absl::StatusOr<int64_t> {
    char* end = nullptr;
    errno = 0;
    long long v = std::strtoll(value.c_str(), &end, 10);
    if (value.empty() || *end != '\0' || errno != 0 || v < min || v > max) {
      return bad(key, value, fmt::format("an integer in [{}, {}]", min, max));
    }
    return static_cast<int64_t>(v);
  };
  auto duration_of = [&](const std::string& key,
                         const std::string& value) -> absl::StatusOr<absl::Duration> {
    auto d = ParseDuration(value);
    if (!d.ok() || *d < absl::ZeroDuration())
      return bad(key, value, "a duration (\"5s\", \"250ms\")");
    return *d;
  };
  const absl::StatusOr<Origin> base = OriginOf(base_url);
  auto base_error = [&] {
    return absl::InvalidArgumentError(fmt::format("the base URL is not a valid http(s) URL: {}",
                                                  std::string(base.status().message())));
  };
  for (const auto& [key, value] : options) {
    if (key == "headers") {
      for (std::string& h : Split(value, '|')) {
        if (h.find(':') == std::string::npos || h.find_first_of("\r\n") != std::string::npos) {
          return bad(key, "...", "a list of 'Name: value' separated by '|'");
        }
        o.headers.push_back(std::move(h));
      }
    } else if (key == "auth") {
      std::string v = Lower(value);
      if (v == "none" || v.empty()) {
        o.auth = AuthKind::kNone;
      } else if (v == "bearer") {
        o.auth = AuthKind::kBearer;
      } else if (v == "basic") {
        o.auth = AuthKind::kBasic;
      } else if (v.rfind("header:", 0) == 0 && v.size() > 7) {
        o.auth = AuthKind::kHeader;
        o.auth_name = value.substr(7);
      } else if (v.rfind("query:", 0) == 0 && v.size() > 6) {
        o.auth = AuthKind::kQuery;
        o.auth_name = value.substr(6);
      } else {
        return bad(key, value, "none, bearer, basic, header:<Name> or query:<name>");
      }
    } else if (key == "allow_hosts") {
      if (!base.ok()) return base_error();
      o.allow_hosts.clear();
      for (const std::string& h : Split(value, ',')) {
        QG_ASSIGN_OR_RETURN(AllowEntry entry, ParseAllowEntry(h, *base));
        o.allow_hosts.push_back(std::move(entry));
      }
    } else if (key == "timeout") {
      QG_ASSIGN_OR_RETURN(o.timeout, duration_of(key, value));
    } else if (key == "retry_max_wait") {
      QG_ASSIGN_OR_RETURN(o.retry_max_wait, duration_of(key, value));
    } else if (key == "rate_limit" || key == "burst") {
      char* end = nullptr;
      double v = std::strtod(value.c_str(), &end);
      if (value.empty() || *end != '\0' || !std::isfinite(v) || v < 0 ||
          (key == "burst" && v < 1)) {
        return bad(key, value, key == "burst" ? "a number >= 1" : "a number >= 0 (requests/s)");
      }
      (key == "rate_limit" ? o.rate_limit : o.burst) = v;
    } else if (key == "retries") {
      QG_ASSIGN_OR_RETURN(int64_t v, int_of(key, value, 0, 20));
      o.retries = static_cast<int>(v);
    } else if (key == "max_pages") {
      QG_ASSIGN_OR_RETURN(int64_t v, int_of(key, value, 1, 1000000));
      o.max_pages = static_cast<int>(v);
    } else if (key == "page_start") {
      QG_ASSIGN_OR_RETURN(o.page_start, int_of(key, value, 0, INT32_MAX));
    } else if (key == "page_size") {
      QG_ASSIGN_OR_RETURN(o.page_size, int_of(key, value, 1, INT32_MAX));
    } else if (key == "max_batch") {
      QG_ASSIGN_OR_RETURN(int64_t v, int_of(key, value, 1, 100000));
      o.max_batch = static_cast<size_t>(v);
    } else if (key == "max_response_bytes") {
      QG_ASSIGN_OR_RETURN(o.max_response_bytes, int_of(key, value, 1, int64_t{1} << 40));
    } else if (key == "next_at") {
      o.next_at = value;
    } else if (key == "page_param") {
      o.page_param = value;
    } else if (key == "offset_param") {
      o.offset_param = value;
    } else if (key == "limit_param") {
      o.limit_param = value;
    } else if (key == "rows_at") {
      o.rows_at = value;
    } else if (key == "batch_key_field") {
      o.batch_key_field = value;
    } else if (key == "user_agent") {
      o.user_agent = value;
    } else {
      return absl::InvalidArgumentError(fmt::format("unknown http option '{}'", key));
    }
  }
  if (!o.page_param.empty() && !o.offset_param.empty()) {
    return absl::InvalidArgumentError(
        "http options page_param and offset_param exclude each other");
  }
  if (o.allow_hosts.empty()) {
    if (!base.ok()) return base_error();
    AllowEntry e;
    e.scheme = base->scheme;
    e.host = base->host;
    e.port = base->port;
    e.text = fmt::format("{}://{}:{}", e.scheme, e.host, e.port);
    o.allow_hosts.push_back(std::move(e));
  }
  return o;
}

// ---- rate limiter -------------------------------------------------------

RateLimiter::RateLimiter(double rate, double burst)
    : rate_(rate), burst_(burst), tokens_(burst), last_(absl::Now()) {}

double RateLimiter::TryAcquire() {
  if (rate_ <= 0) return 0;
  absl::MutexLock lock(&mu_);
  const absl::Time now = absl::Now();
  tokens_ = std::min(burst_, tokens_ + absl::ToDoubleSeconds(now - last_) * rate_);
  last_ = now;
  if (tokens_ >= 1) {
    tokens_ -= 1;
    return 0;
  }
  return (1 - tokens_) / rate_;
}

// ---- connection ---------------------------------------------------------

HttpConnection::HttpConnection(const ConnectRequest& request, HttpOptions options,
                               std::shared_ptr<RateLimiter> limiter)
    : source_(request.source_name),
      base_url_(request.connect),
      user_(request.user),
      password_(request.password),
      options_(std::move(options)),
      connect_timeout_(request.connect_timeout),
      request_timeout_(request.statement_timeout > absl::ZeroDuration()
                           ? std::min(request.statement_timeout, options_.timeout)
                           : options_.timeout),
      limiter_(std::move(limiter)) {
  if (auto o = OriginOf(base_url_); o.ok()) origin_ = *o;
  // Every secret the source holds, in the forms it is sent.
  redactor_.Add(password_);
  if (options_.auth == AuthKind::kBasic) redactor_.Add(user_ + ":" + password_);
  if (auto parts = ParseUrl(base_url_); parts.ok()) {
    redactor_.Add(parts->password);
    if (!parts->password.empty()) redactor_.Add(parts->user + ":" + parts->password);
    for (const std::string& kv : Split(parts->query, '&')) {
      const size_t eq = kv.find('=');
      if (eq == std::string::npos) continue;
      const std::string key = PercentDecode(kv.substr(0, eq), true);
      if (SensitiveKey(key) || (options_.auth == AuthKind::kQuery && key == options_.auth_name)) {
        redactor_.Add(kv.substr(eq + 1));
        redactor_.Add(PercentDecode(kv.substr(eq + 1), true));
      }
    }
  }
  for (const std::string& h : options_.headers) {
    if (!SensitiveHeader(HeaderName(h))) continue;
    const std::string value = Trim(std::string_view(h).substr(h.find(':') + 1));
    redactor_.Add(value);
    // "Bearer xyz", "Basic xyz": the credential after the scheme too.
    const size_t space = value.find(' ');
    if (space != std::string::npos) redactor_.Add(Trim(std::string_view(value).substr(space)));
  }
}

HttpConnection::~HttpConnection() {
  if (multi_ != nullptr) curl_multi_cleanup(multi_);
  if (easy_ != nullptr) curl_easy_cleanup(easy_);
}

absl::StatusOr<std::unique_ptr<HttpConnection>> HttpConnection::Open(
    const ConnectRequest& request, std::shared_ptr<RateLimiter> limiter) {
  const std::string where = fmt::format("http source '{}': ", request.source_name);
  auto parts = ParseUrl(request.connect);
  if (!parts.ok() || (parts->scheme != "http" && parts->scheme != "https") || parts->host.empty()) {
    return absl::InvalidArgumentError(
        where + "the connection string must be an http:// or https:// base URL");
  }
  auto options = ParseOptions(request.options, request.connect);
  if (!options.ok()) return Annotate(options.status(), where);
  if ((options->auth == AuthKind::kBasic || options->auth == AuthKind::kBearer ||
       options->auth == AuthKind::kHeader || options->auth == AuthKind::kQuery) &&
      request.password.empty()) {
    return absl::InvalidArgumentError(where + "auth needs a password (the secret) in the catalog");
  }
  std::unique_ptr<HttpConnection> c(new HttpConnection(request, std::move(*options), limiter));
  c->easy_ = curl_easy_init();
  c->multi_ = curl_multi_init();
  if (c->easy_ == nullptr || c->multi_ == nullptr) {
    return absl::ResourceExhaustedError(where + "cannot create a libcurl handle");
  }
  return c;
}

std::string HttpConnection::Where() const { return fmt::format("http source '{}': ", source_); }

absl::Status HttpConnection::CancelledStatus() const {
  return absl::CancelledError(Where() + "request cancelled");
}

std::string HttpConnection::Excerpt(std::string_view body) const {
  constexpr size_t kMax = 200;
  bool truncated = false;
  std::string s = SanitizeUtf8(redactor_.RedactPrefix(body, kMax, &truncated));
  for (char& c : s) {
    if (c == '\n' || c == '\r' || c == '\t') c = ' ';
  }
  if (truncated) s += "...";
  return s;
}

bool HttpConnection::SameOrigin(std::string_view url) const {
  auto o = OriginOf(url);
  return o.ok() && *o == origin_;
}

std::string HttpConnection::Redact(std::string_view url) const {
  std::string u(url);
  // User info.
  size_t scheme = u.find("://");
  if (scheme != std::string::npos) {
    size_t host_start = scheme + 3;
    size_t slash = u.find_first_of("/?", host_start);
    size_t at = u.rfind('@', slash == std::string::npos ? u.size() : slash);
    if (at != std::string::npos && at >= host_start) u.erase(host_start, at + 1 - host_start);
  }
  size_t q = u.find('?');
  if (q == std::string::npos) return redactor_.Redact(u);
  std::string out = u.substr(0, q + 1);
  std::vector<std::string> parts = Split(u.substr(q + 1), '&');
  for (size_t i = 0; i < parts.size(); ++i) {
    std::string key = parts[i].substr(0, parts[i].find('='));
    bool secret =
        SensitiveKey(key) || (options_.auth == AuthKind::kQuery && key == options_.auth_name);
    if (!password_.empty() && parts[i].find(PercentEncode(password_)) != std::string::npos) {
      secret = true;
    }
    out += (i ? "&" : "") +
           (secret && parts[i].find('=') != std::string::npos ? key + "=***" : parts[i]);
  }
  return redactor_.Redact(out);
}

absl::Status HttpConnection::CheckHost(std::string_view url) const {
  auto parts = ParseUrl(url);
  if (!parts.ok()) {
    return absl::InvalidArgumentError(fmt::format("{}invalid URL {}: {}", Where(), Redact(url),
                                                  std::string(parts.status().message())));
  }
  if (parts->scheme != "http" && parts->scheme != "https") {
    return absl::PermissionDeniedError(
        fmt::format("{}scheme '{}' refused (only http and https)", Where(), parts->scheme));
  }
  for (const AllowEntry& e : options_.allow_hosts) {
    if (Allows(e, url)) return absl::OkStatus();
  }
  std::vector<std::string> entries;
  for (const AllowEntry& e : options_.allow_hosts) entries.push_back(e.text);
  return absl::PermissionDeniedError(
      fmt::format("{}{}://{}:{} is not in allow_hosts ({}); refused {}", Where(), parts->scheme,
                  parts->host, parts->port, fmt::join(entries, ", "), Redact(url)));
}

absl::Status HttpConnection::Wait(absl::Duration d) {
  const absl::Time until = absl::Now() + d;
  while (!cancelled_.load(std::memory_order_acquire)) {
    const absl::Duration left = until - absl::Now();
    if (left <= absl::ZeroDuration()) return absl::OkStatus();
    std::this_thread::sleep_for(std::chrono::microseconds(
        absl::ToInt64Microseconds(std::min(left, absl::Milliseconds(10)))));
  }
  return CancelledStatus();
}

namespace {

size_t WriteCb(char* ptr, size_t size, size_t n, void* user);
size_t HeaderCb(char* ptr, size_t size, size_t n, void* user);
int XferCb(void* user, curl_off_t, curl_off_t, curl_off_t, curl_off_t);

struct TransferCtx {
  Response* resp;
  int64_t max_bytes;
  bool too_large = false;
  std::atomic<bool>* cancelled;
};

size_t WriteCb(char* ptr, size_t size, size_t n, void* user) {
  auto* t = static_cast<TransferCtx*>(user);
  const size_t bytes = size * n;
  if (static_cast<int64_t>(t->resp->body.size() + bytes) > t->max_bytes) {
    t->too_large = true;
    return 0;  // aborts the transfer
  }
  t->resp->body.append(ptr, bytes);
  return bytes;
}

size_t HeaderCb(char* ptr, size_t size, size_t n, void* user) {
  auto* t = static_cast<TransferCtx*>(user);
  const size_t bytes = size * n;
  std::string_view line(ptr, bytes);
  if (line.rfind("HTTP/", 0) == 0) {
    t->resp->headers.clear();  // a new response (after 100 Continue)
    return bytes;
  }
  const size_t colon = line.find(':');
  if (colon == std::string_view::npos) return bytes;
  std::string name = Lower(Trim(line.substr(0, colon)));
  std::string value = Trim(line.substr(colon + 1));
  auto [it, inserted] = t->resp->headers.try_emplace(name, value);
  if (!inserted) it->second += ", " + value;
  return bytes;
}

int XferCb(void* user, curl_off_t, curl_off_t, curl_off_t, curl_off_t) {
  auto* t = static_cast<TransferCtx*>(user);
  return t->cancelled->load(std::memory_order_acquire) ? 1 : 0;
}

}  // namespace

absl::Status HttpConnection::PerformOnce(const std::string& method, const std::string& url,
                                         const std::string& body, bool has_body, Response* out) {
  *out = Response{};
  out->url = url;
  CURL* e = easy_;
  curl_easy_reset(e);  // keeps live connections and caches
  TransferCtx ctx{out, options_.max_response_bytes, false, &cancelled_};
  errbuf_[0] = '\0';
  curl_easy_setopt(e, CURLOPT_URL, url.c_str());
  curl_easy_setopt(e, CURLOPT_PROTOCOLS_STR, "http,https");
  curl_easy_setopt(e, CURLOPT_REDIR_PROTOCOLS_STR, "http,https");
  curl_easy_setopt(e, CURLOPT_UNRESTRICTED_AUTH, 0L);
  curl_easy_setopt(e, CURLOPT_NOSIGNAL, 1L);
  curl_easy_setopt(e, CURLOPT_FOLLOWLOCATION, 0L);  // redirects are checked by hand
  curl_easy_setopt(e, CURLOPT_ERRORBUFFER, errbuf_);
  curl_easy_setopt(e, CURLOPT_WRITEFUNCTION, &WriteCb);
  curl_easy_setopt(e, CURLOPT_WRITEDATA, &ctx);
  curl_easy_setopt(e, CURLOPT_HEADERFUNCTION, &HeaderCb);
  curl_easy_setopt(e, CURLOPT_HEADERDATA, &ctx);
  curl_easy_setopt(e, CURLOPT_XFERINFOFUNCTION, &XferCb);
  curl_easy_setopt(e, CURLOPT_XFERINFODATA, &ctx);
  curl_easy_setopt(e, CURLOPT_NOPROGRESS, 0L);
  curl_easy_setopt(e, CURLOPT_ACCEPT_ENCODING, "");
  curl_easy_setopt(e, CURLOPT_USERAGENT, options_.user_agent.c_str());
  curl_easy_setopt(
      e, CURLOPT_TIMEOUT_MS,
      static_cast<long>(std::max<int64_t>(1, absl::ToInt64Milliseconds(request_timeout_))));
  curl_easy_setopt(
      e, CURLOPT_CONNECTTIMEOUT_MS,
      static_cast<long>(std::max<int64_t>(1, absl::ToInt64Milliseconds(connect_timeout_))));
  if (method == "HEAD") {
    curl_easy_setopt(e, CURLOPT_NOBODY, 1L);
  } else if (method != "GET") {
    curl_easy_setopt(e, CURLOPT_CUSTOMREQUEST, method.c_str());
  }
  if (has_body) {
    curl_easy_setopt(e, CURLOPT_POSTFIELDSIZE_LARGE, static_cast<curl_off_t>(body.size()));
    curl_easy_setopt(e, CURLOPT_POSTFIELDS, body.data());
  }
  struct curl_slist* headers = nullptr;
  headers = curl_slist_append(headers, "Accept: application/json");
  if (has_body) headers = curl_slist_append(headers, "Content-Type: application/json");
  headers = curl_slist_append(headers, "Expect:");
  // Credentials (the auth option, credential headers, the base URL's user
  // info) go to the configured origin only.
  const bool credentials = SameOrigin(url);
  for (const std::string& h : options_.headers) {
    if (credentials || !SensitiveHeader(HeaderName(h))) {
      headers = curl_slist_append(headers, h.c_str());
    }
  }
  std::string auth_header;
  if (options_.auth == AuthKind::kBearer) {
    auth_header = "Authorization: Bearer " + password_;
  } else if (options_.auth == AuthKind::kHeader) {
    auth_header = options_.auth_name + ": " + password_;
  }
  if (!auth_header.empty() && credentials) {
    headers = curl_slist_append(headers, auth_header.c_str());
  }
  if (options_.auth == AuthKind::kBasic && credentials) {
    curl_easy_setopt(e, CURLOPT_HTTPAUTH, CURLAUTH_BASIC);
    curl_easy_setopt(e, CURLOPT_USERNAME, user_.c_str());
    curl_easy_setopt(e, CURLOPT_PASSWORD, password_.c_str());
  }
  curl_easy_setopt(e, CURLOPT_HTTPHEADER, headers);

  const absl::Time start = absl::Now();
  CURLcode result = CURLE_OK;
  curl_multi_add_handle(multi_, e);
  for (;;) {
    int running = 0;
    CURLMcode mc = curl_multi_perform(multi_, &running);
    if (mc != CURLM_OK) {
      result = CURLE_FAILED_INIT;
      break;
    }
    if (running == 0) {
      int left = 0;
      while (CURLMsg* msg = curl_multi_info_read(multi_, &left)) {
        if (msg->msg == CURLMSG_DONE) result = msg->data.result;
      }
      break;
    }
    if (cancelled_.load(std::memory_order_acquire)) {
      result = CURLE_ABORTED_BY_CALLBACK;
      break;
    }
    curl_multi_poll(multi_, nullptr, 0, 100, nullptr);
  }
  curl_multi_remove_handle(multi_, e);
  curl_easy_setopt(e, CURLOPT_HTTPHEADER, nullptr);
  curl_slist_free_all(headers);
  curl_easy_getinfo(e, CURLINFO_RESPONSE_CODE, &out->status);
  requests_.fetch_add(1);
  latency_us_.fetch_add(absl::ToInt64Microseconds(absl::Now() - start));

  if (result == CURLE_OK) return absl::OkStatus();
  const std::string shown = fmt::format("{} {}", method, Redact(url));
  if (result == CURLE_ABORTED_BY_CALLBACK || cancelled_.load(std::memory_order_acquire)) {
    return CancelledStatus();
  }
  if (ctx.too_large) {
    return absl::ResourceExhaustedError(
        fmt::format("{}response larger than max_response_bytes ({}): {}", Where(),
                    options_.max_response_bytes, shown));
  }
  const std::string detail = errbuf_[0] != '\0' ? errbuf_ : curl_easy_strerror(result);
  if (result == CURLE_OPERATION_TIMEDOUT) {
    return absl::DeadlineExceededError(fmt::format("{}request timed out after {} ms: {}", Where(),
                                                   absl::ToInt64Milliseconds(request_timeout_),
                                                   shown));
  }
  return absl::UnavailableError(fmt::format("{}{} failed: {}", Where(), shown, detail));
}

absl::StatusOr<Response> HttpConnection::Send(std::string method, std::string url,
                                              const std::string& body, bool has_body,
                                              ExecStats* stats) {
  for (int attempt = 0;; ++attempt) {
    std::string cur_method = method;
    std::string cur_url = url;
    bool cur_has_body = has_body;
    Response resp;
    for (int hop = 0;; ++hop) {
      QG_RETURN_IF_ERROR(CheckHost(cur_url));
      // The query credential goes to the configured origin only.
      if (options_.auth == AuthKind::kQuery && SameOrigin(cur_url)) {
        cur_url = WithQueryParam(cur_url, options_.auth_name, password_);
      }
      for (;;) {  // the source's rate limit
        if (cancelled_.load(std::memory_order_acquire)) return CancelledStatus();
        const double wait = limiter_ != nullptr ? limiter_->TryAcquire() : 0;
        if (wait <= 0) break;
        QG_RETURN_IF_ERROR(Wait(absl::Seconds(wait)));
      }
      if (cancelled_.load(std::memory_order_acquire)) return CancelledStatus();
      QG_RETURN_IF_ERROR(PerformOnce(cur_method, cur_url, body, cur_has_body, &resp));
      if (stats != nullptr) ++stats->round_trips;
      const bool redirect = resp.status == 301 || resp.status == 302 || resp.status == 303 ||
                            resp.status == 307 || resp.status == 308;
      auto loc = resp.headers.find("location");
      if (!redirect || loc == resp.headers.end()) break;
      if (hop >= kMaxRedirects) {
        return absl::UnavailableError(fmt::format("{}more than {} redirects from {} {}", Where(),
                                                  kMaxRedirects, method, Redact(url)));
      }
      QG_ASSIGN_OR_RETURN(cur_url, ResolveUrl(cur_url, loc->second));
      if (resp.status == 303 ||
          ((resp.status == 301 || resp.status == 302) && cur_method == "POST")) {
        cur_method = "GET";
        cur_has_body = false;
      }
    }
    const bool retryable = resp.status == 429 || resp.status == 503;
    if (retryable && attempt < options_.retries) {
      absl::Duration wait = absl::Milliseconds(100) * (1 << std::min(attempt, 10));
      if (auto ra = RetryAfter(resp)) wait = *ra;
      QG_RETURN_IF_ERROR(Wait(std::min(wait, options_.retry_max_wait)));
      continue;
    }
    if (resp.status >= 400 || resp.status < 200) {
      return absl::Status(
          CodeForHttp(resp.status),
          fmt::format("{}HTTP {} from {} {}{}{}", Where(), resp.status, cur_method, Redact(cur_url),
                      retryable ? fmt::format(" (after {} retries)", attempt) : std::string(),
                      resp.body.empty() ? std::string() : ": " + Excerpt(resp.body)));
    }
    if (resp.status >= 300) {
      return absl::UnavailableError(fmt::format("{}HTTP {} without a Location from {} {}", Where(),
                                                resp.status, cur_method, Redact(cur_url)));
    }
    resp.url = cur_url;
    return resp;
  }
}

absl::Status HttpConnection::Execute(const Statement& stmt, const std::vector<BoundArg>& args,
                                     RowSink* sink, ExecStats* stats) {
  return redactor_.Redact(ExecuteImpl(stmt, args, sink, stats));
}

absl::Status HttpConnection::ExecuteImpl(const Statement& stmt, const std::vector<BoundArg>& args,
                                         RowSink* sink, ExecStats* stats) {
  if (cancelled_.load(std::memory_order_acquire)) return CancelledStatus();
  auto compiled = std::static_pointer_cast<const CompiledRequest>(stmt.data);
  if (compiled == nullptr) {
    return absl::InvalidArgumentError(Where() +
                                      "the statement was not compiled by the http provider");
  }
  if (args.size() != stmt.args.size()) {
    return absl::InvalidArgumentError(fmt::format("{}statement has {} arguments, {} given", Where(),
                                                  stmt.args.size(), args.size()));
  }
  const RequestTemplate& t = compiled->tmpl;
  std::map<std::string, Value> values;
  std::vector<Value> keys;
  for (size_t i = 0; i < args.size(); ++i) {
    if (args[i].is_array) {
      return absl::InvalidArgumentError(
          fmt::format("{}argument :{} is an array; the http provider takes IN-list batches",
                      Where(), stmt.args[i].name));
    }
    if (stmt.args[i].kind == BatchArg::Kind::kKeyItem) {
      keys.push_back(args[i].value);
    } else {
      values[stmt.args[i].name] = args[i].value;
    }
  }
  const std::string rows_at = t.rows_at.value_or(options_.rows_at);
  const std::string next_at = t.next_at.value_or(options_.next_at);
  const std::string key_field = t.batch_key.empty() ? options_.batch_key_field : t.batch_key;
  // The smaller of the query's max_batch= and the source's max_batch, else
  // whichever is set, else 100.
  size_t max_batch = t.max_batch > 0 && options_.max_batch > 0
                         ? std::min(t.max_batch, options_.max_batch)
                     : t.max_batch > 0        ? t.max_batch
                     : options_.max_batch > 0 ? options_.max_batch
                                              : 100;

  Collected col;
  if (!t.fields.empty()) {
    col.fixed = true;
    for (const auto& f : t.fields) col.Column(f.first);
  }
  simdjson::dom::parser parser;
  std::vector<Value> key_values;  // batched: each row's key
  ExtractSpec spec;
  spec.rows_at = rows_at;
  spec.next_at = next_at;
  spec.fields = t.fields;
  spec.paginate = t.paginate;
  spec.batched = compiled->batched;
  spec.key_field = key_field;

  // Requests to make: one, or one per chunk of keys.
  std::vector<std::vector<Value>> chunks;
  if (compiled->batched) {
    for (size_t k = 0; k < keys.size(); k += max_batch) {
      chunks.emplace_back(keys.begin() + k, keys.begin() + std::min(keys.size(), k + max_batch));
    }
  } else {
    chunks.emplace_back();
  }
  for (const std::vector<Value>& chunk : chunks) {
    absl::flat_hash_map<std::string, size_t> key_index;  // key text -> position in chunk
    for (size_t k = 0; k < chunk.size(); ++k) {
      auto text = KeyText(chunk[k]);
      if (!text.has_value()) {
        return absl::InvalidArgumentError(
            fmt::format("{}parameter :{}: a {} value cannot be sent as a batched key", Where(),
                        t.batch_param, ValueTypeName(chunk[k].type())));
      }
      key_index.emplace(*text, k);
    }
    spec.key_index = &key_index;
    Bindings b{&values, compiled->batched ? &chunk : nullptr};
    auto rendered = Render(t, base_url_, b);
    if (!rendered.ok()) return Annotate(rendered.status(), Where());
    std::string method = rendered->method;
    std::string url = rendered->url;
    std::string body = rendered->body;
    bool has_body = rendered->has_body;
    int64_t page = options_.page_start;
    int64_t offset = 0;
    const bool by_page = t.paginate && !options_.page_param.empty();
    const bool by_offset = t.paginate && !options_.offset_param.empty();
    auto page_url = [&](const std::string& u) {
      std::string out = u;
      if (by_page) out = WithQueryParam(out, options_.page_param, std::to_string(page));
      if (by_offset) out = WithQueryParam(out, options_.offset_param, std::to_string(offset));
      if ((by_page || by_offset) && !options_.limit_param.empty() && options_.page_size > 0) {
        out = WithQueryParam(out, options_.limit_param, std::to_string(options_.page_size));
      }
      return out;
    };
    const std::string first_url = url;
    url = page_url(url);
    for (int pages = 1;; ++pages) {
      if (pages > options_.max_pages) {
        return absl::ResourceExhaustedError(
            fmt::format("{}more than max_pages={} pages from {} {} (raise max_pages)", Where(),
                        options_.max_pages, t.method, Redact(first_url)));
      }
      QG_ASSIGN_OR_RETURN(Response resp, Send(method, url, body, has_body, stats));
      if (method == "HEAD" || (resp.body.empty() && (resp.status == 204 || stmt.is_write))) break;
      auto link = resp.headers.find("link");
      PageResult page_result;
      QG_RETURN_IF_ERROR(Annotate(
          ExtractPage(
              parser, spec, resp.body, link != resp.headers.end() ? link->second : std::string(),
              fmt::format("{} {}", method, Redact(resp.url)),
              [this](std::string_view b) { return Excerpt(b); }, &col, &page_result),
          Where()));
      const size_t items = page_result.items;
      for (size_t r = key_values.size(); r < col.keys.size(); ++r) {
        key_values.push_back(chunk[col.keys[r]]);
      }
      const std::string& next = page_result.next;
      if (!next.empty()) {
        QG_ASSIGN_OR_RETURN(url, ResolveUrl(resp.url, next));
        method = "GET";
        has_body = false;
        body.clear();
        continue;
      }
      if (by_page || by_offset) {
        const bool short_page = items == 0 || (options_.page_size > 0 &&
                                               static_cast<int64_t>(items) < options_.page_size);
        if (short_page) break;
        ++page;
        offset += static_cast<int64_t>(items);
        url = page_url(first_url);
        continue;
      }
      break;
    }
  }

  if (sink == nullptr) return absl::OkStatus();
  const size_t ncols = col.columns.size();
  std::vector<ColumnInfo> infos = CollectedColumns(col);
  if (compiled->batched) infos.push_back(ColumnInfo{"__qg_k0", ValueType::kNull, "key"});
  QG_RETURN_IF_ERROR(sink->OnColumns(infos));
  std::vector<Value> out;
  for (size_t r = 0; r < col.rows.size(); ++r) {
    out.assign(infos.size(), Value());
    for (auto& [c, v] : col.rows[r]) out[c] = std::move(v);
    if (compiled->batched) out[ncols] = key_values[r];
    QG_RETURN_IF_ERROR(sink->OnRow(out));
  }
  return absl::OkStatus();
}

void HttpConnection::Cancel() {
  cancelled_.store(true, std::memory_order_release);
  if (multi_ != nullptr) curl_multi_wakeup(multi_);
}

absl::Status HttpConnection::Ping(std::string_view query) {
  return redactor_.Redact(PingImpl(query));
}

absl::Status HttpConnection::PingImpl(std::string_view query) {
  if (cancelled_.load(std::memory_order_acquire)) return CancelledStatus();
  std::string url = base_url_;
  std::string method = "HEAD";
  if (!query.empty()) {
    QG_ASSIGN_OR_RETURN(url, ResolveUrl(base_url_, std::string(query)));
    method = "GET";
  }
  auto resp = Send(method, url, "", false, nullptr);
  if (!resp.ok()) {
    // Without a health_check path, any answer short of a server error means
    // the source is up.
    if (query.empty() && resp.status().code() != absl::StatusCode::kUnavailable &&
        resp.status().code() != absl::StatusCode::kDeadlineExceeded &&
        resp.status().code() != absl::StatusCode::kCancelled &&
        resp.status().code() != absl::StatusCode::kPermissionDenied) {
      return absl::OkStatus();
    }
    return resp.status();
  }
  return absl::OkStatus();
}

absl::Status HttpConnection::Reset() {
  cancelled_.store(false, std::memory_order_release);
  if (broken()) return absl::UnavailableError(Where() + "connection is broken");
  return absl::OkStatus();
}

double HttpConnection::mean_latency_ms() const {
  const int64_t n = requests_.load();
  return n == 0 ? 0 : static_cast<double>(latency_us_.load()) / 1000.0 / static_cast<double>(n);
}

absl::StatusOr<CostEstimate> HttpConnection::EstimateCost(const Statement& /*stmt*/,
                                                          const std::vector<BoundArg>& /*args*/) {
  CostEstimate e;
  const double seen = mean_latency_ms();
  e.startup_cost = seen > 0 ? seen : 20.0;
  e.per_row_cost = 0.001;
  e.origin = seen > 0 ? "http measured latency" : "http default";
  return e;
}

}  // namespace qg::http
