// Internal: one http session (see http_provider.h): a CURL easy handle in
// its own multi handle (so Cancel() can wake the transfer at once), the
// source's parsed options and its shared rate limiter.
#ifndef QG_LIB_PROVIDERS_HTTP_HTTP_CONNECTION_H_
#define QG_LIB_PROVIDERS_HTTP_HTTP_CONNECTION_H_

#include <curl/curl.h>

#include <atomic>
#include <cstdint>
#include <map>
#include <memory>
#include <string>
#include <string_view>
#include <vector>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/synchronization/mutex.h"
#include "absl/time/time.h"
#include "providers/http/http_redact.h"
#include "providers/http/http_template.h"
#include "qg/provider.h"

namespace qg::http {

enum class AuthKind { kNone, kBearer, kBasic, kHeader, kQuery };

// An origin (scheme, host, port) as libcurl's URL parser gives it; hosts in
// lower case, ports always explicit (the scheme's default filled in).
struct Origin {
  std::string scheme, host;
  long port = 0;
  bool operator==(const Origin& o) const {
    return scheme == o.scheme && host == o.host && port == o.port;
  }
};

// One allow_hosts entry: an origin ("https://api.example.com:8443"),
// optionally with a path prefix ("https://h/v1"); a bare "host" or
// "host:port" takes the base URL's scheme and, without a port, that scheme's
// default port. The host may be "*" (any) or "*.example.com" (subdomains).
struct AllowEntry {
  std::string text;  // as configured, for messages
  std::string scheme;
  std::string host;  // "" with any_host; ".example.com" with subdomains
  bool any_host = false;
  bool subdomains = false;
  long port = 0;
  std::string path_prefix;  // "" or "/v1" (no trailing '/')
};

// Parses one allow_hosts entry against the base URL's origin.
absl::StatusOr<AllowEntry> ParseAllowEntry(std::string_view entry, const Origin& base);

// Whether `url` (its origin and path) is inside `entry`.
bool Allows(const AllowEntry& entry, std::string_view url);

// The origin of an absolute http(s) URL.
absl::StatusOr<Origin> OriginOf(std::string_view url);

struct HttpOptions {
  std::vector<std::string> headers;
  AuthKind auth = AuthKind::kNone;
  std::string auth_name;                // header or query parameter name
  std::vector<AllowEntry> allow_hosts;  // default: the base URL's origin
  absl::Duration timeout = absl::Seconds(30);
  double rate_limit = 0;
  double burst = 1;
  int retries = 3;
  absl::Duration retry_max_wait = absl::Seconds(10);
  int max_pages = 100;
  std::string next_at;
  std::string page_param;
  int64_t page_start = 1;
  std::string offset_param;
  std::string limit_param;
  int64_t page_size = 0;
  std::string rows_at;
  std::string batch_key_field = "id";
  size_t max_batch = 0;  // 0: unset (100, or the query's max_batch=)
  int64_t max_response_bytes = int64_t{64} << 20;
  std::string user_agent = "qgraph";
};

// The option keys of http_provider.h.
const std::vector<std::string>& OptionKeys();
// Parses options; `base_url` gives the default allow-list.
absl::StatusOr<HttpOptions> ParseOptions(const std::map<std::string, std::string>& options,
                                         std::string_view base_url);

// A token bucket shared by every connection of one source.
class RateLimiter {
 public:
  RateLimiter(double rate, double burst);
  // Seconds to wait before a request may go (0: go now; the token is taken).
  double TryAcquire();

 private:
  absl::Mutex mu_;
  const double rate_;
  const double burst_;
  double tokens_ ABSL_GUARDED_BY(mu_);
  absl::Time last_ ABSL_GUARDED_BY(mu_);
};

// What Compile leaves in Statement::data.
struct CompiledRequest {
  RequestTemplate tmpl;
  bool batched = false;
};

struct Response {
  long status = 0;
  std::string url;  // the URL that answered (after redirects)
  std::string body;
  std::map<std::string, std::string> headers;  // lower-case names; repeats joined with ", "
};

class HttpConnection : public Connection {
 public:
  static absl::StatusOr<std::unique_ptr<HttpConnection>> Open(const ConnectRequest& request,
                                                              std::shared_ptr<RateLimiter> limiter);
  ~HttpConnection() override;
  HttpConnection(const HttpConnection&) = delete;
  HttpConnection& operator=(const HttpConnection&) = delete;

  absl::Status Execute(const Statement& stmt, const std::vector<BoundArg>& args, RowSink* sink,
                       ExecStats* stats) override;
  void Cancel() override;
  absl::Status Ping(std::string_view query) override;
  absl::Status Reset() override;
  bool broken() const override { return broken_.load(std::memory_order_acquire); }

  // Mean request latency seen so far (for the cost estimate); 0 if none.
  double mean_latency_ms() const;

  // No network round trip: the mean latency this session has seen (or a
  // default); no row estimate (the engine's calibration learns rows).
  absl::StatusOr<CostEstimate> EstimateCost(const Statement& stmt,
                                            const std::vector<BoundArg>& args) override;

  // The URL as errors show it: no user info, credential-like query values
  // replaced by "***", no secret of the source in any form.
  std::string Redact(std::string_view url) const;

 private:
  HttpConnection(const ConnectRequest& request, HttpOptions options,
                 std::shared_ptr<RateLimiter> limiter);

  // One request with rate limiting, redirects (allow-list checked) and
  // retries on 429/503.
  absl::StatusOr<Response> Send(std::string method, std::string url, const std::string& body,
                                bool has_body, ExecStats* stats);
  absl::Status PerformOnce(const std::string& method, const std::string& url,
                           const std::string& body, bool has_body, Response* out);
  absl::Status ExecuteImpl(const Statement& stmt, const std::vector<BoundArg>& args, RowSink* sink,
                           ExecStats* stats);
  absl::Status PingImpl(std::string_view query);
  absl::Status CheckHost(std::string_view url) const;
  // Whether `url` is on the configured origin (the only one given credentials).
  bool SameOrigin(std::string_view url) const;
  // Up to 200 bytes of a response body for an error, secrets redacted.
  std::string Excerpt(std::string_view body) const;
  // Sleeps up to `d`, returning kCancelled as soon as Cancel() is called.
  absl::Status Wait(absl::Duration d);
  absl::Status CancelledStatus() const;
  std::string Where() const;

  CURL* easy_ = nullptr;
  CURLM* multi_ = nullptr;
  const std::string source_;
  const std::string base_url_;
  const std::string user_;
  const std::string password_;  // secret: never in messages
  const HttpOptions options_;
  Origin origin_;            // the base URL's
  SecretRedactor redactor_;  // every secret this source holds
  const absl::Duration connect_timeout_;
  const absl::Duration request_timeout_;
  std::shared_ptr<RateLimiter> limiter_;
  std::atomic<bool> cancelled_{false};
  std::atomic<bool> broken_{false};
  std::atomic<int64_t> requests_{0};
  std::atomic<int64_t> latency_us_{0};
  // Response being received (set per transfer).
  Response* current_ = nullptr;
  bool too_large_ = false;
  char errbuf_[CURL_ERROR_SIZE] = {0};
};

}  // namespace qg::http

#endif  // QG_LIB_PROVIDERS_HTTP_HTTP_CONNECTION_H_
