// The catalog of qg/catalog.h: sources, user mappings, secrets, options and
// the JSON config of docs/design.md §8.
#include "qg/catalog.h"

#include <algorithm>
#include <cerrno>
#include <cmath>
#include <cstdlib>
#include <cstring>
#include <fstream>
#include <iterator>
#include <set>
#include <sstream>
#include <tuple>

#include "absl/strings/ascii.h"
#include "absl/strings/match.h"
#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/string_view.h"
#include "common/json_writer.h"
#include "common/status_macros.h"
#include "common/strings.h"
#include "fmt/format.h"
#include "simdjson.h"

namespace qg {

namespace {}  // namespace

namespace {

constexpr std::string_view kCurrentUser = "CURRENT_USER";
constexpr std::string_view kAll = "ALL";

const std::string& EmptyString() {
  static const std::string* empty = new std::string();
  return *empty;
}

}  // namespace

// ---- Secret --------------------------------------------------------------

Secret Secret::Literal(std::string value) {
  Secret s;
  s.kind_ = Kind::kLiteral;
  s.ref_ = std::move(value);
  return s;
}

Secret Secret::Env(std::string name) {
  Secret s;
  s.kind_ = Kind::kEnv;
  s.ref_ = std::move(name);
  return s;
}

Secret Secret::File(std::string path) {
  Secret s;
  s.kind_ = Kind::kFile;
  s.ref_ = std::move(path);
  return s;
}

const std::string& Secret::reference() const {
  return (kind_ == Kind::kEnv || kind_ == Kind::kFile) ? ref_ : EmptyString();
}

absl::StatusOr<std::string> Secret::Resolve() const {
  switch (kind_) {
    case Kind::kNone:
      return std::string();
    case Kind::kLiteral:
      return ref_;
    case Kind::kEnv: {
      const char* v = std::getenv(ref_.c_str());
      if (v == nullptr) {
        return absl::FailedPreconditionError(Cat("environment variable ", ref_, " is not set"));
      }
      return std::string(v);
    }
    case Kind::kFile: {
      std::ifstream in(ref_, std::ios::binary);
      if (!in) {
        return absl::FailedPreconditionError(
            Cat("cannot read password file ", ref_, ": ", std::strerror(errno)));
      }
      std::string data((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
      if (in.bad()) {
        return absl::FailedPreconditionError(Cat("cannot read password file ", ref_));
      }
      if (std::string_view(data).ends_with("\n")) data.pop_back();
      if (std::string_view(data).ends_with("\r")) data.pop_back();
      return data;
    }
  }
  return absl::InternalError("secret of unknown kind");
}

std::string Secret::Describe() const {
  switch (kind_) {
    case Kind::kNone:
      return "none";
    case Kind::kLiteral:
      return "literal";
    case Kind::kEnv:
      return Cat("env:", ref_);
    case Kind::kFile:
      return Cat("file:", ref_);
  }
  return "none";
}

// ---- options ---------------------------------------------------------------

namespace {

// The engine's keys, with the "pool_" prefixed spellings of the RFC's
// OPTIONS string ('pool_idle_timeout=60s') accepted as aliases.
std::string_view CanonicalKey(std::string_view key) {
  static constexpr std::string_view kKeys[] = {
      "pool_min",        "pool_max",         "acquire_timeout", "idle_timeout",
      "max_lifetime",    "lifetime_jitter",  "health_check",    "health_check_interval",
      "connect_timeout", "statement_timeout"};
  for (std::string_view k : kKeys) {
    if (key == k) return k;
  }
  if (std::string_view(key).starts_with("pool_")) {
    std::string_view rest = key.substr(5);
    for (std::string_view k : kKeys) {
      if (rest == k && !std::string_view(k).starts_with("pool_")) return k;
    }
  }
  return {};
}

std::string FormatDurationExact(absl::Duration d) {
  const int64_t ns = absl::ToInt64Nanoseconds(d);
  if (ns % 1000000000 == 0) return Cat(ns / 1000000000, "s");
  if (ns % 1000000 == 0) return Cat(ns / 1000000, "ms");
  if (ns % 1000 == 0) return Cat(ns / 1000, "us");
  return Cat(ns, "ns");
}

bool SamePool(const PoolOptions& a, const PoolOptions& b) {
  return a.pool_min == b.pool_min && a.pool_max == b.pool_max &&
         a.acquire_timeout == b.acquire_timeout && a.idle_timeout == b.idle_timeout &&
         a.max_lifetime == b.max_lifetime && a.lifetime_jitter == b.lifetime_jitter &&
         a.health_check == b.health_check && a.health_check_interval == b.health_check_interval &&
         a.connect_timeout == b.connect_timeout && a.statement_timeout == b.statement_timeout;
}

}  // namespace

absl::Status ApplySourceOption(std::string_view key, std::string_view value, SourceConfig* source) {
  const std::string_view k = CanonicalKey(key);
  const std::string_view v = TrimSpace(value);
  PoolOptions& pool = source->pool;
  auto bad = [&](std::string_view want) {
    return absl::InvalidArgumentError(
        Cat("option ", Clip(key), ": ", want, " (got '", Clip(value), "')"));
  };
  auto duration = [&](absl::Duration* out) -> absl::Status {
    absl::StatusOr<absl::Duration> d = ParseDuration(v);
    if (!d.ok()) {
      return absl::Status(d.status().code(),
                          Cat("option ", Clip(key), ": ", std::string(d.status().message())));
    }
    *out = *d;
    return absl::OkStatus();
  };
  if (k == "pool_min" || k == "pool_max") {
    int n = 0;
    if (!absl::SimpleAtoi(Av(v), &n)) return bad("must be an integer");
    if (k == "pool_min") {
      if (n < 0) return bad("must be >= 0");
      if (n > pool.pool_max) {
        return bad(Cat("must be <= pool_max (", pool.pool_max, ")"));
      }
      pool.pool_min = n;
    } else {
      if (n < 1) return bad("must be >= 1");
      if (n < pool.pool_min) {
        return bad(Cat("must be >= pool_min (", pool.pool_min, ")"));
      }
      pool.pool_max = n;
    }
    return absl::OkStatus();
  }
  if (k == "lifetime_jitter") {
    double j = 0;
    if (!absl::SimpleAtod(Av(v), &j) || !(j >= 0.0 && j <= 1.0)) {
      return bad("must be a number from 0 to 1");
    }
    pool.lifetime_jitter = j;
    return absl::OkStatus();
  }
  if (k == "health_check") {
    pool.health_check = std::string(value);
    return absl::OkStatus();
  }
  if (k == "acquire_timeout") return duration(&pool.acquire_timeout);
  if (k == "idle_timeout") return duration(&pool.idle_timeout);
  if (k == "max_lifetime") return duration(&pool.max_lifetime);
  if (k == "health_check_interval") return duration(&pool.health_check_interval);
  if (k == "connect_timeout") return duration(&pool.connect_timeout);
  if (k == "statement_timeout") return duration(&pool.statement_timeout);
  if (key.empty()) return absl::InvalidArgumentError("option with an empty name");
  source->provider_options[std::string(key)] = std::string(value);
  return absl::OkStatus();
}

absl::Status ApplySourceOptions(const std::vector<std::pair<std::string, std::string>>& options,
                                SourceConfig* source) {
  for (const auto& [k, v] : options) {
    if (CanonicalKey(k) == "pool_max") QG_RETURN_IF_ERROR(ApplySourceOption(k, v, source));
  }
  for (const auto& [k, v] : options) {
    if (CanonicalKey(k) != "pool_max") QG_RETURN_IF_ERROR(ApplySourceOption(k, v, source));
  }
  return absl::OkStatus();
}

// ---- credentials in connection strings -----------------------------------

absl::Status CheckConnectCredentials(std::string_view connect) {
  static constexpr std::string_view kPasswordKeys[] = {"password", "passwd", "pwd", "sslpassword"};
  std::string lower(connect);
  for (char& c : lower) c = absl::ascii_tolower(static_cast<unsigned char>(c));
  auto refused = [](std::string_view what) {
    return absl::InvalidArgumentError(
        Cat("the connection string carries ", what,
            "; credentials never go in a connection string: give the password separately "
            "(PASSWORD '…' | ENV '…' | FILE '…', or \"password\" in JSON)"));
  };
  // 1. A password key starting a key=value item (whitespace, ';', '?' or
  //    '&' before it), spaces allowed before the '='.
  auto item_start = [&](size_t i) {
    if (i == 0) return true;
    const char b = lower[i - 1];
    return absl::ascii_isspace(static_cast<unsigned char>(b)) || b == ';' || b == '?' || b == '&';
  };
  for (size_t i = 0; i < lower.size(); ++i) {
    if (!item_start(i)) continue;
    for (std::string_view key : kPasswordKeys) {
      if (std::string_view(lower).substr(i, key.size()) != key) continue;
      size_t j = i + key.size();
      while (j < lower.size() && (lower[j] == ' ' || lower[j] == '\t')) ++j;
      if (j < lower.size() && lower[j] == '=') return refused(Cat("a \"", key, "=\" item"));
    }
  }
  // 2. URI user info: "scheme://user:password@host", and for http(s) any
  //    user info (a token alone is a credential).
  const size_t sep = lower.find("://");
  if (sep != std::string::npos && sep > 0) {
    const std::string_view scheme = std::string_view(lower).substr(0, sep);
    const bool is_scheme = std::all_of(scheme.begin(), scheme.end(), [](char c) {
      return absl::ascii_isalnum(static_cast<unsigned char>(c)) || c == '+' || c == '-' || c == '.';
    });
    if (is_scheme) {
      const size_t host = sep + 3;
      size_t end = lower.find_first_of("/?#", host);
      if (end == std::string::npos) end = lower.size();
      const std::string_view authority = std::string_view(lower).substr(host, end - host);
      const size_t at = authority.rfind('@');
      if (at != std::string_view::npos) {
        const std::string_view userinfo = authority.substr(0, at);
        if (userinfo.find(':') != std::string_view::npos) {
          return refused("a password in the URI's user info (user:password@)");
        }
        if (scheme == "http" || scheme == "https" || scheme == "ws" || scheme == "wss") {
          return refused("user info in the URL (…@host)");
        }
      }
    }
  }
  return absl::OkStatus();
}

// ---- Catalog -------------------------------------------------------------

absl::Status Catalog::AddSource(SourceConfig source) {
  if (source.name.empty()) return absl::InvalidArgumentError("data source without a name");
  if (source.provider.empty()) {
    return absl::InvalidArgumentError(Cat("data source ", Clip(source.name), ": no provider"));
  }
  if (FindSource(source.name) != nullptr) {
    return absl::AlreadyExistsError(Cat("data source ", Clip(source.name), " already exists"));
  }
  if (absl::Status st = CheckConnectCredentials(source.connect); !st.ok()) {
    return absl::InvalidArgumentError(
        Cat("data source ", Clip(source.name), ": ", std::string(st.message())));
  }
  sources_.push_back(std::move(source));
  return absl::OkStatus();
}

absl::Status Catalog::ReplaceSource(SourceConfig source) {
  if (source.provider.empty()) {
    return absl::InvalidArgumentError(Cat("data source ", Clip(source.name), ": no provider"));
  }
  if (absl::Status st = CheckConnectCredentials(source.connect); !st.ok()) {
    return absl::InvalidArgumentError(
        Cat("data source ", Clip(source.name), ": ", std::string(st.message())));
  }
  for (SourceConfig& s : sources_) {
    if (s.name == source.name) {
      s = std::move(source);
      return absl::OkStatus();
    }
  }
  return absl::NotFoundError(Cat("unknown data source ", Clip(source.name)));
}

absl::Status Catalog::DropSource(std::string_view name) {
  auto it = std::find_if(sources_.begin(), sources_.end(),
                         [&](const SourceConfig& s) { return s.name == name; });
  if (it == sources_.end()) return absl::NotFoundError(Cat("unknown data source ", Clip(name)));
  sources_.erase(it);
  mappings_.erase(std::remove_if(mappings_.begin(), mappings_.end(),
                                 [&](const UserMapping& m) { return m.source == name; }),
                  mappings_.end());
  return absl::OkStatus();
}

const SourceConfig* Catalog::FindSource(std::string_view name) const {
  for (const SourceConfig& s : sources_) {
    if (s.name == name) return &s;
  }
  return nullptr;
}

std::vector<std::string> Catalog::SourceNames() const {
  std::vector<std::string> names;
  names.reserve(sources_.size());
  for (const SourceConfig& s : sources_) names.push_back(s.name);
  return names;
}

namespace {

bool SameKey(const UserMapping& m, std::string_view source, UserMapping::Scope scope,
             std::string_view local_user) {
  return m.source == source && m.scope == scope &&
         (scope != UserMapping::Scope::kUser || m.local_user == local_user);
}

std::string ScopeText(const UserMapping& m) {
  switch (m.scope) {
    case UserMapping::Scope::kUser:
      return m.local_user;
    case UserMapping::Scope::kCurrentUser:
      return std::string(kCurrentUser);
    case UserMapping::Scope::kAll:
      return std::string(kAll);
  }
  return {};
}

}  // namespace

absl::Status Catalog::SetMapping(UserMapping mapping) {
  if (FindSource(mapping.source) == nullptr) {
    return absl::NotFoundError(Cat("unknown data source ", Clip(mapping.source)));
  }
  if (mapping.scope == UserMapping::Scope::kUser && mapping.local_user.empty()) {
    return absl::InvalidArgumentError("user mapping without a local user");
  }
  if (mapping.scope != UserMapping::Scope::kUser) mapping.local_user.clear();
  for (UserMapping& m : mappings_) {
    if (SameKey(m, mapping.source, mapping.scope, mapping.local_user)) {
      m = std::move(mapping);
      return absl::OkStatus();
    }
  }
  mappings_.push_back(std::move(mapping));
  return absl::OkStatus();
}

absl::Status Catalog::DropMapping(std::string_view source, UserMapping::Scope scope,
                                  std::string_view local_user) {
  auto it = std::find_if(mappings_.begin(), mappings_.end(), [&](const UserMapping& m) {
    return SameKey(m, source, scope, local_user);
  });
  if (it == mappings_.end()) {
    UserMapping probe;
    probe.scope = scope;
    probe.local_user = std::string(local_user);
    return absl::NotFoundError(
        Cat("no user mapping for ", Clip(ScopeText(probe)), " on data source ", Clip(source)));
  }
  mappings_.erase(it);
  return absl::OkStatus();
}

namespace {

// "source/user", unambiguous whatever the names hold (quoted identifiers may
// contain '/'): '%' and '/' are percent-encoded, the provider's default login
// is "default", and an external user really named "default" is "%64efault".
std::string PoolKeyPart(std::string_view s) {
  std::string out;
  for (char c : s) {
    if (c == '%') {
      out += "%25";
    } else if (c == '/') {
      out += "%2F";
    } else {
      out += c;
    }
  }
  return out;
}

std::string PoolKey(std::string_view source, std::string_view user) {
  std::string u = user.empty()        ? std::string("default")
                  : user == "default" ? std::string("%64efault")
                                      : PoolKeyPart(user);
  return Cat(PoolKeyPart(source), "/", u);
}

}  // namespace

Login Catalog::ResolveLogin(const SourceConfig& source, std::string_view local_user) const {
  const UserMapping* exact = nullptr;
  const UserMapping* current = nullptr;
  const UserMapping* all = nullptr;
  for (const UserMapping& m : mappings_) {
    if (m.source != source.name) continue;
    switch (m.scope) {
      case UserMapping::Scope::kUser:
        if (!local_user.empty() && m.local_user == local_user) exact = &m;
        break;
      case UserMapping::Scope::kCurrentUser:
        if (!local_user.empty()) current = &m;
        break;
      case UserMapping::Scope::kAll:
        all = &m;
        break;
    }
  }
  Login login;
  const UserMapping* m = exact != nullptr ? exact : current != nullptr ? current : all;
  if (m != nullptr) {
    login.user = m->user_is_current ? std::string(local_user) : m->user;
    // FOR CURRENT_USER: each local user reaches the source as the external
    // user of the same name (unless the mapping names one).
    if (m == current && login.user.empty()) login.user = std::string(local_user);
    login.password = m->password;
  } else {
    login.user = source.user_is_current ? std::string(local_user) : source.user;
    login.password = source.password;
  }
  login.pool_key = PoolKey(source.name, login.user);
  return login;
}

bool Catalog::operator==(const Catalog& o) const {
  auto same_source = [](const SourceConfig& a, const SourceConfig& b) {
    return a.name == b.name && a.provider == b.provider && a.connect == b.connect &&
           a.user == b.user && a.user_is_current == b.user_is_current && a.password == b.password &&
           SamePool(a.pool, b.pool) && a.provider_options == b.provider_options;
  };
  auto same_mapping = [](const UserMapping& a, const UserMapping& b) {
    return a.source == b.source && a.scope == b.scope && a.local_user == b.local_user &&
           a.user == b.user && a.user_is_current == b.user_is_current && a.password == b.password;
  };
  return std::equal(sources_.begin(), sources_.end(), o.sources_.begin(), o.sources_.end(),
                    same_source) &&
         std::equal(mappings_.begin(), mappings_.end(), o.mappings_.begin(), o.mappings_.end(),
                    same_mapping);
}

// ---- JSON ----------------------------------------------------------------

namespace {

using simdjson::dom::element;
using simdjson::dom::element_type;

std::string PointerAppend(std::string_view base, std::string_view token) {
  return Cat(base, "/", JsonPointerEscape(Clip(token)));
}
std::string PointerAppend(std::string_view base, size_t index) { return Cat(base, "/", index); }

absl::Status JsonError(std::string_view pointer, std::string_view message) {
  return absl::InvalidArgumentError(
      Cat("catalog: ", pointer.empty() ? "/" : pointer, ": ", message));
}

// The fields of one JSON object, checked against the keys it may have.
class Fields {
 public:
  static absl::StatusOr<Fields> Of(element e, std::string pointer,
                                   std::initializer_list<std::string_view> allowed) {
    simdjson::dom::object obj;
    if (e.get_object().get(obj) != simdjson::SUCCESS) {
      return JsonError(pointer, "must be an object");
    }
    Fields f;
    f.pointer_ = std::move(pointer);
    for (auto field : obj) {
      const std::string key(field.key);
      const std::string p = PointerAppend(f.pointer_, key);
      if (std::find(allowed.begin(), allowed.end(), key) == allowed.end()) {
        return JsonError(p, "unknown key");
      }
      if (f.values_.count(key) != 0) return JsonError(p, "duplicate key");
      f.values_.emplace(key, field.value);
    }
    return f;
  }

  const std::string& pointer() const { return pointer_; }
  std::string At(std::string_view key) const { return PointerAppend(pointer_, key); }
  bool Has(std::string_view key) const { return values_.count(std::string(key)) != 0; }
  element Get(std::string_view key) const { return values_.at(std::string(key)); }

  // A string field; absent: `fallback`, or an error when required.
  absl::StatusOr<std::string> String(std::string_view key, bool required) const {
    if (!Has(key)) {
      if (required) return JsonError(pointer_, Cat("missing \"", key, "\""));
      return std::string();
    }
    std::string_view v;
    if (Get(key).get_string().get(v) != simdjson::SUCCESS) {
      return JsonError(At(key), "must be a string");
    }
    if (required && v.empty()) return JsonError(At(key), "must not be empty");
    return std::string(v);
  }

 private:
  std::string pointer_;
  std::map<std::string, element> values_;
};

absl::StatusOr<Secret> ParseSecret(element e, const std::string& pointer) {
  std::string_view s;
  if (e.get_string().get(s) == simdjson::SUCCESS) return Secret::Literal(std::string(s));
  if (e.type() != element_type::OBJECT) {
    return JsonError(pointer, "must be a string or {\"env\": NAME} or {\"file\": PATH}");
  }
  QG_ASSIGN_OR_RETURN(Fields f, Fields::Of(e, pointer, {"env", "file"}));
  const bool env = f.Has("env");
  if (env == f.Has("file")) {
    return JsonError(pointer, "must have exactly one of \"env\" and \"file\"");
  }
  QG_ASSIGN_OR_RETURN(std::string ref, f.String(env ? "env" : "file", /*required=*/true));
  return env ? Secret::Env(std::move(ref)) : Secret::File(std::move(ref));
}

// An option's value as text: strings as they are, numbers in their
// shortest exact form, booleans as true/false.
absl::StatusOr<std::string> OptionText(element e, const std::string& pointer) {
  switch (e.type()) {
    case element_type::STRING:
      return std::string(e.get_string().value_unsafe());
    case element_type::INT64:
      return Cat(e.get_int64().value_unsafe());
    case element_type::UINT64:
      return Cat(e.get_uint64().value_unsafe());
    case element_type::DOUBLE:
      return fmt::format("{}", e.get_double().value_unsafe());
    case element_type::BOOL:
      return std::string(e.get_bool().value_unsafe() ? "true" : "false");
    default:
      return JsonError(pointer, "must be a string or a number");
  }
}

absl::StatusOr<SourceConfig> ParseSource(element e, const std::string& pointer) {
  QG_ASSIGN_OR_RETURN(
      Fields f,
      Fields::Of(e, pointer, {"name", "provider", "connect", "user", "password", "options"}));
  SourceConfig s;
  QG_ASSIGN_OR_RETURN(s.name, f.String("name", /*required=*/true));
  QG_ASSIGN_OR_RETURN(s.provider, f.String("provider", /*required=*/true));
  QG_ASSIGN_OR_RETURN(s.connect, f.String("connect", /*required=*/false));
  if (absl::Status st = CheckConnectCredentials(s.connect); !st.ok()) {
    return JsonError(f.At("connect"),
                     Cat("data source \"", Clip(s.name), "\": ", std::string(st.message())));
  }
  QG_ASSIGN_OR_RETURN(s.user, f.String("user", /*required=*/false));
  if (s.user == kCurrentUser) {
    s.user.clear();
    s.user_is_current = true;
  }
  if (f.Has("password")) {
    QG_ASSIGN_OR_RETURN(s.password, ParseSecret(f.Get("password"), f.At("password")));
  }
  if (f.Has("options")) {
    simdjson::dom::object opts;
    if (f.Get("options").get_object().get(opts) != simdjson::SUCCESS) {
      return JsonError(f.At("options"), "must be an object");
    }
    std::vector<std::tuple<std::string, std::string, std::string>> items;  // key, value, pointer
    std::set<std::string> seen;
    for (auto field : opts) {
      std::string key(field.key);
      std::string p = PointerAppend(f.At("options"), key);
      if (!seen.insert(key).second) return JsonError(p, "duplicate key");
      QG_ASSIGN_OR_RETURN(std::string value, OptionText(field.value, p));
      items.emplace_back(std::move(key), std::move(value), std::move(p));
    }
    // pool_max first, so pool_min may be given in any order (see
    // ApplySourceOptions).
    std::stable_partition(items.begin(), items.end(), [](const auto& it) {
      return CanonicalKey(std::get<0>(it)) == "pool_max";
    });
    for (const auto& [key, value, p] : items) {
      absl::Status st = ApplySourceOption(key, value, &s);
      if (!st.ok()) return JsonError(p, std::string(st.message()));
    }
  }
  return s;
}

absl::StatusOr<UserMapping> ParseMapping(element e, const std::string& pointer) {
  QG_ASSIGN_OR_RETURN(Fields f, Fields::Of(e, pointer, {"source", "for", "user", "password"}));
  UserMapping m;
  QG_ASSIGN_OR_RETURN(m.source, f.String("source", /*required=*/true));
  QG_ASSIGN_OR_RETURN(std::string scope, f.String("for", /*required=*/true));
  if (scope == kCurrentUser) {
    m.scope = UserMapping::Scope::kCurrentUser;
  } else if (scope == kAll) {
    m.scope = UserMapping::Scope::kAll;
  } else {
    m.scope = UserMapping::Scope::kUser;
    m.local_user = std::move(scope);
  }
  QG_ASSIGN_OR_RETURN(m.user, f.String("user", /*required=*/false));
  if (m.user == kCurrentUser) {
    m.user.clear();
    m.user_is_current = true;
  }
  if (f.Has("password")) {
    QG_ASSIGN_OR_RETURN(m.password, ParseSecret(f.Get("password"), f.At("password")));
  }
  return m;
}

// `, "key": ` then the caller appends the value.
void AppendKey(std::string& out, std::string_view key, bool first = false) {
  if (!first) out += ", ";
  AppendJsonString(&out, key);
  out += ": ";
}

void AppendSecret(std::string& out, const Secret& s) {
  switch (s.kind()) {
    case Secret::Kind::kNone:
      out += "null";
      break;
    case Secret::Kind::kLiteral:
      AppendJsonString(&out, "***");  // never the value
      break;
    case Secret::Kind::kEnv:
      out += "{\"env\": ";
      AppendJsonString(&out, s.reference());
      out += "}";
      break;
    case Secret::Kind::kFile:
      out += "{\"file\": ";
      AppendJsonString(&out, s.reference());
      out += "}";
      break;
  }
}

void AppendOptions(std::string& out, const SourceConfig& s) {
  const PoolOptions d;
  const PoolOptions& p = s.pool;
  std::string body;
  auto key = [&](std::string_view k) { AppendKey(body, k, body.empty()); };
  if (p.pool_min != d.pool_min) key("pool_min"), body += Cat(p.pool_min);
  if (p.pool_max != d.pool_max) key("pool_max"), body += Cat(p.pool_max);
  auto dur = [&](std::string_view k, absl::Duration v, absl::Duration dv) {
    if (v != dv) key(k), AppendJsonString(&body, FormatDurationExact(v));
  };
  dur("acquire_timeout", p.acquire_timeout, d.acquire_timeout);
  dur("idle_timeout", p.idle_timeout, d.idle_timeout);
  dur("max_lifetime", p.max_lifetime, d.max_lifetime);
  if (p.lifetime_jitter != d.lifetime_jitter) {
    key("lifetime_jitter"), body += fmt::format("{}", p.lifetime_jitter);
  }
  if (p.health_check != d.health_check)
    key("health_check"), AppendJsonString(&body, p.health_check);
  dur("health_check_interval", p.health_check_interval, d.health_check_interval);
  dur("connect_timeout", p.connect_timeout, d.connect_timeout);
  dur("statement_timeout", p.statement_timeout, d.statement_timeout);
  for (const auto& [k, v] : s.provider_options) key(k), AppendJsonString(&body, v);
  if (body.empty()) return;
  AppendKey(out, "options");
  out += "{" + body + "}";
}

}  // namespace

absl::StatusOr<Catalog> Catalog::FromJson(std::string_view json) {
  if (json.starts_with("\xEF\xBB\xBF")) {
    return JsonError("",
                     "the document starts with a UTF-8 byte-order mark (EF BB BF); save it "
                     "without one");
  }
  simdjson::dom::parser parser;
  simdjson::padded_string padded(json);
  element root;
  if (auto err = parser.parse(padded).get(root); err != simdjson::SUCCESS) {
    return absl::InvalidArgumentError(Cat("catalog: invalid JSON: ", simdjson::error_message(err)));
  }
  QG_ASSIGN_OR_RETURN(Fields top, Fields::Of(root, "", {"sources", "user_mappings"}));
  Catalog catalog;
  auto array = [&](std::string_view key) -> absl::StatusOr<simdjson::dom::array> {
    simdjson::dom::array a;
    if (top.Get(key).get_array().get(a) != simdjson::SUCCESS) {
      return JsonError(top.At(key), "must be an array");
    }
    return a;
  };
  if (top.Has("sources")) {
    QG_ASSIGN_OR_RETURN(simdjson::dom::array sources, array("sources"));
    size_t i = 0;
    for (element e : sources) {
      const std::string p = PointerAppend("/sources", i++);
      QG_ASSIGN_OR_RETURN(SourceConfig s, ParseSource(e, p));
      if (catalog.FindSource(s.name) != nullptr) {
        return JsonError(PointerAppend(p, "name"), Cat("duplicate source '", Clip(s.name), "'"));
      }
      QG_RETURN_IF_ERROR(catalog.AddSource(std::move(s)));
    }
  }
  if (top.Has("user_mappings")) {
    QG_ASSIGN_OR_RETURN(simdjson::dom::array mappings, array("user_mappings"));
    size_t i = 0;
    for (element e : mappings) {
      const std::string p = PointerAppend("/user_mappings", i++);
      QG_ASSIGN_OR_RETURN(UserMapping m, ParseMapping(e, p));
      if (catalog.FindSource(m.source) == nullptr) {
        return JsonError(PointerAppend(p, "source"), Cat("unknown source '", Clip(m.source), "'"));
      }
      for (const UserMapping& o : catalog.mappings_) {
        if (SameKey(o, m.source, m.scope, m.local_user)) {
          return JsonError(
              p, Cat("duplicate mapping for ", Clip(ScopeText(m)), " on ", Clip(m.source)));
        }
      }
      QG_RETURN_IF_ERROR(catalog.SetMapping(std::move(m)));
    }
  }
  return catalog;
}

std::string Catalog::ToJson() const {
  std::string out = "{\n  \"sources\": [";
  for (size_t i = 0; i < sources_.size(); ++i) {
    const SourceConfig& s = sources_[i];
    out += i == 0 ? "\n    {" : ",\n    {";
    AppendKey(out, "name", true);
    AppendJsonString(&out, s.name);
    AppendKey(out, "provider");
    AppendJsonString(&out, s.provider);
    AppendKey(out, "connect");
    AppendJsonString(&out, s.connect);
    if (s.user_is_current || !s.user.empty()) {
      AppendKey(out, "user");
      AppendJsonString(&out, s.user_is_current ? kCurrentUser : std::string_view(s.user));
    }
    if (s.password.kind() != Secret::Kind::kNone) {
      AppendKey(out, "password");
      AppendSecret(out, s.password);
    }
    AppendOptions(out, s);
    out += "}";
  }
  out += sources_.empty() ? "],\n" : "\n  ],\n";
  out += "  \"user_mappings\": [";
  for (size_t i = 0; i < mappings_.size(); ++i) {
    const UserMapping& m = mappings_[i];
    out += i == 0 ? "\n    {" : ",\n    {";
    AppendKey(out, "source", true);
    AppendJsonString(&out, m.source);
    AppendKey(out, "for");
    AppendJsonString(&out, ScopeText(m));
    if (m.user_is_current || !m.user.empty()) {
      AppendKey(out, "user");
      AppendJsonString(&out, m.user_is_current ? kCurrentUser : std::string_view(m.user));
    }
    if (m.password.kind() != Secret::Kind::kNone) {
      AppendKey(out, "password");
      AppendSecret(out, m.password);
    }
    out += "}";
  }
  out += mappings_.empty() ? "]\n}\n" : "\n  ]\n}\n";
  return out;
}

}  // namespace qg
