// The built-in REST/JSON provider (http_provider.h).
#include "providers/http/http_provider.h"

#include <curl/curl.h>

#include <map>
#include <memory>
#include <mutex>
#include <string>
#include <utility>

#include "absl/synchronization/mutex.h"
#include "common/status_macros.h"
#include "fmt/format.h"
#include "providers/http/http_connection.h"
#include "providers/http/http_template.h"

namespace qg {
namespace {

// The planner needs a placeholder budget to plan IN-list batches; the real
// per-request limit is max_batch, applied by chunking inside Execute.
constexpr size_t kMaxPlaceholders = 65535;

class HttpProvider : public Provider {
 public:
  HttpProvider() {
    static std::once_flag once;
    std::call_once(once, [] { curl_global_init(CURL_GLOBAL_DEFAULT); });
  }

  std::string_view name() const override { return "http"; }

  Capabilities capabilities() const override {
    Capabilities c;
    c.placeholder_style = PlaceholderStyle::kQuestion;
    c.max_placeholders = kMaxPlaceholders;
    // Only templates with a batch= directive accept batched compiles; the
    // others answer kFailedPrecondition and run per binding.
    c.batch_in_list = true;
    c.writes = true;
    c.cancel = true;
    c.cost_estimates = true;
    return c;
  }

  std::vector<std::string> option_keys() const override { return http::OptionKeys(); }

  absl::StatusOr<std::unique_ptr<Connection>> Connect(const ConnectRequest& request) override {
    auto options = http::ParseOptions(request.options, request.connect);
    std::shared_ptr<http::RateLimiter> limiter;
    if (options.ok() && options->rate_limit > 0) {
      limiter = Limiter(fmt::format("{}\n{}\n{}\n{}", request.source_name, request.connect,
                                    options->rate_limit, options->burst),
                        options->rate_limit, options->burst);
    }
    auto conn = http::HttpConnection::Open(request, std::move(limiter));
    if (!conn.ok()) return conn.status();
    return std::unique_ptr<Connection>(std::move(*conn));
  }

  absl::StatusOr<std::vector<std::string>> Placeholders(
      std::string_view query_string) const override {
    auto t = http::ParseTemplate(query_string);
    if (!t.ok()) return t.status();
    return t->names;
  }

  absl::StatusOr<Statement> Compile(const CompileRequest& request) const override {
    auto parsed = http::ParseTemplate(request.query_string);
    if (!parsed.ok()) return parsed.status();
    auto compiled = std::make_shared<http::CompiledRequest>();
    compiled->tmpl = std::move(*parsed);
    const http::RequestTemplate& t = compiled->tmpl;
    const auto& declared = request.input_parameters;
    auto is_declared = [&](const std::string& n) {
      return std::find(declared.begin(), declared.end(), n) != declared.end();
    };
    for (const std::string& n : t.names) {
      if (!is_declared(n)) {
        return absl::InvalidArgumentError(fmt::format(
            "placeholder :{} is not a declared input parameter (declared: {})", n,
            declared.empty() ? std::string("none") : fmt::format("{}", fmt::join(declared, ", "))));
      }
    }
    Statement stmt;
    stmt.is_write = request.mode == NodeMode::kWrite;
    std::string text(request.query_string);
    while (!text.empty() && std::isspace(static_cast<unsigned char>(text.back()))) text.pop_back();
    if (request.key_params.empty()) {
      for (const std::string& n : t.names) {
        stmt.args.push_back(BatchArg{BatchArg::Kind::kParam, n, 0});
      }
      stmt.text = std::move(text);
      stmt.data = compiled;
      return stmt;
    }
    if (t.batch_param.empty()) {
      return absl::FailedPreconditionError(
          "cannot batch: the request template has no batch=<param> directive (the API must "
          "accept a list)");
    }
    if (request.key_params.size() != 1 || request.key_params[0] != t.batch_param) {
      return absl::FailedPreconditionError(
          fmt::format("cannot batch: the template batches :{} only, the node is keyed by {}",
                      t.batch_param, fmt::join(request.key_params, ", ")));
    }
    if (request.form != BatchForm::kInList) {
      return absl::FailedPreconditionError("cannot batch: http takes IN-list batches only");
    }
    if (request.batch_items == 0) {
      return absl::InvalidArgumentError("batched compile needs batch_items > 0");
    }
    if (stmt.is_write) return absl::FailedPreconditionError("cannot batch: a write node");
    for (const std::string& n : t.names) {
      if (n != t.batch_param) stmt.args.push_back(BatchArg{BatchArg::Kind::kParam, n, 0});
    }
    for (size_t i = 0; i < request.batch_items; ++i) {
      stmt.args.push_back(BatchArg{BatchArg::Kind::kKeyItem, t.batch_param, i});
    }
    compiled->batched = true;
    stmt.key_columns = 1;
    stmt.batch_items = request.batch_items;
    stmt.text =
        fmt::format("{} -- {} keys of :{} per batch", text, request.batch_items, t.batch_param);
    stmt.data = compiled;
    return stmt;
  }

 private:
  std::shared_ptr<http::RateLimiter> Limiter(const std::string& key, double rate, double burst) {
    absl::MutexLock lock(&mu_);
    for (auto it = limiters_.begin(); it != limiters_.end();) {
      it = it->second.expired() ? limiters_.erase(it) : std::next(it);
    }
    if (auto existing = limiters_[key].lock()) return existing;
    auto l = std::make_shared<http::RateLimiter>(rate, burst);
    limiters_[key] = l;
    return l;
  }

  absl::Mutex mu_;
  std::map<std::string, std::weak_ptr<http::RateLimiter>> limiters_ ABSL_GUARDED_BY(mu_);
};

}  // namespace

std::shared_ptr<Provider> NewHttpProvider() { return std::make_shared<HttpProvider>(); }

}  // namespace qg
