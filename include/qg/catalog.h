// qg/catalog.h — data sources and user mappings (docs/design.md §8, Firebird RFC §1–3).
//
// A Catalog holds the declared data sources (provider + connection string +
// credentials + options) and the user mappings that pick, for a caller's
// local user, the external user a source is reached as: the explicit mapping
// for that user, else the ALL mapping, else the source's own AS USER.
//
// Secrets: a password is a Secret (literal, environment variable or file)
// resolved only when a connection is made. Nothing here ever prints a
// secret's value: ToJson() and every error show only where it comes from.
//
// Thread-safety: a Catalog is a plain value; the engine guards its own copy.
#ifndef QG_CATALOG_H_
#define QG_CATALOG_H_

#include <map>
#include <optional>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/time/time.h"
#include "qg/duration.h"
#include "qg/export.h"
#include "qg/pool.h"

namespace qg {

class QG_EXPORT Secret {
 public:
  enum class Kind { kNone, kLiteral, kEnv, kFile };
  Secret() = default;
  static Secret Literal(std::string value);
  static Secret Env(std::string name);
  static Secret File(std::string path);

  Kind kind() const { return kind_; }
  // The env var name or file path (empty for literals: never exposed).
  const std::string& reference() const;
  // Reads the secret now. Errors name the env var or file, never a value.
  absl::StatusOr<std::string> Resolve() const;
  // "none", "literal", "env:NAME", "file:PATH" — safe to print.
  std::string Describe() const;
  bool operator==(const Secret& o) const { return kind_ == o.kind_ && ref_ == o.ref_; }

 private:
  Kind kind_ = Kind::kNone;
  std::string ref_;  // literal value, env name or path
};

struct SourceConfig {
  std::string name;
  std::string provider;
  std::string connect;           // without credentials
  std::string user;              // AS USER; "" = provider default
  bool user_is_current = false;  // AS CURRENT_USER: the caller's local user name
  Secret password;
  PoolOptions pool;  // pool_* and timeout options
  // Options the engine does not know, passed to the provider (validated
  // against Provider::option_keys() when the source is added to an engine).
  std::map<std::string, std::string> provider_options;
};

struct UserMapping {
  enum class Scope { kUser, kCurrentUser, kAll };
  std::string source;
  Scope scope = Scope::kAll;
  std::string local_user;  // for kUser
  std::string user;        // external user
  bool user_is_current = false;
  Secret password;
};

// The external login chosen for one (source, local user).
struct Login {
  std::string user;
  Secret password;
  // Pools are keyed by (source, external user): "db_orders/ro_alice";
  // "db_orders/default" for the provider's default login. '%' and '/' in
  // either name are percent-encoded, so distinct logins never share a key.
  std::string pool_key;
};

class QG_EXPORT Catalog {
 public:
  // Both refuse a connection string carrying a password
  // (CheckConnectCredentials; the error names the source).
  absl::Status AddSource(SourceConfig source);      // kAlreadyExists if present
  absl::Status ReplaceSource(SourceConfig source);  // kNotFound if absent
  absl::Status DropSource(std::string_view name);   // also drops its mappings
  const SourceConfig* FindSource(std::string_view name) const;
  std::vector<std::string> SourceNames() const;
  const std::vector<SourceConfig>& sources() const { return sources_; }

  // Adds or replaces the mapping with the same (source, scope, local_user).
  absl::Status SetMapping(UserMapping mapping);
  absl::Status DropMapping(std::string_view source, UserMapping::Scope scope,
                           std::string_view local_user);
  const std::vector<UserMapping>& mappings() const { return mappings_; }

  // The login for `local_user` on `source`.
  Login ResolveLogin(const SourceConfig& source, std::string_view local_user) const;

  // The JSON config of docs/design.md §8. Errors carry the JSON pointer.
  static absl::StatusOr<Catalog> FromJson(std::string_view json);
  // The same JSON back; literal passwords are written as "***".
  std::string ToJson() const;

  bool operator==(const Catalog& o) const;

 private:
  std::vector<SourceConfig> sources_;
  std::vector<UserMapping> mappings_;
};

// Credentials never live in a connection string (docs/design.md §8): OK when
// `connect` carries none, else kInvalidArgument saying what was found, never
// the value. Refused: a password key (password, passwd, pwd, sslpassword;
// any case) at the start of a key=value item — libpq/mysql "k=v k=v",
// "k=v;k=v" or a URI's "?k=v&k=v"; a URI whose user info has a password
// ("postgresql://u:secret@host"); an http(s) URL with any user info
// ("https://token@host"). The catalog checks every source it takes
// (AddSource, ReplaceSource); FromJson's error gives the JSON pointer of
// "connect" and the statements' the line:column of the CONNECT string.
QG_EXPORT absl::Status CheckConnectCredentials(std::string_view connect);

// Applies one option (from JSON "options" or the RFC's OPTIONS 'k=v;…') to a
// source: engine keys (pool_min, pool_max, acquire_timeout, idle_timeout,
// max_lifetime, health_check, health_check_interval, connect_timeout,
// statement_timeout) go to `pool`; others to provider_options.
QG_EXPORT absl::Status ApplySourceOption(std::string_view key, std::string_view value,
                                         SourceConfig* source);

// Applies several options as one set: pool_max first (so "pool_min=10;
// pool_max=20" is accepted whatever the order), then the rest in order.
// Stops at the first error, which names its key.
QG_EXPORT absl::Status ApplySourceOptions(
    const std::vector<std::pair<std::string, std::string>>& options, SourceConfig* source);

}  // namespace qg

#endif  // QG_CATALOG_H_
