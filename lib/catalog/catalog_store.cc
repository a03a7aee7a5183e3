// The SQLite-backed catalog store of qg/catalog_store.h.
#include "qg/catalog_store.h"

#include <fcntl.h>
#include <sqlite3.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>
#include <optional>
#include <utility>
#include <vector>

#include "common/status_macros.h"
#include "fmt/format.h"
#include "store/sqlite_file.h"

namespace qg {

namespace {

constexpr const char* kSchema = R"sql(
CREATE TABLE meta (
  key TEXT PRIMARY KEY,
  value TEXT NOT NULL
);
CREATE TABLE sources (
  position INTEGER PRIMARY KEY,
  name TEXT NOT NULL UNIQUE,
  provider TEXT NOT NULL,
  connect TEXT NOT NULL,
  external_user TEXT NOT NULL,
  user_is_current INTEGER NOT NULL,
  password_kind TEXT NOT NULL,
  password TEXT NOT NULL,
  pool_min INTEGER NOT NULL,
  pool_max INTEGER NOT NULL,
  acquire_timeout_ns INTEGER NOT NULL,
  idle_timeout_ns INTEGER NOT NULL,
  max_lifetime_ns INTEGER NOT NULL,
  lifetime_jitter REAL NOT NULL,
  health_check TEXT NOT NULL,
  health_check_interval_ns INTEGER NOT NULL,
  connect_timeout_ns INTEGER NOT NULL,
  statement_timeout_ns INTEGER NOT NULL
);
CREATE TABLE source_options (
  source TEXT NOT NULL,
  key TEXT NOT NULL,
  value TEXT NOT NULL,
  PRIMARY KEY (source, key)
);
CREATE TABLE user_mappings (
  position INTEGER PRIMARY KEY,
  source TEXT NOT NULL,
  scope TEXT NOT NULL,
  local_user TEXT NOT NULL,
  external_user TEXT NOT NULL,
  user_is_current INTEGER NOT NULL,
  password_kind TEXT NOT NULL,
  password TEXT NOT NULL,
  UNIQUE (source, scope, local_user)
);
)sql";

constexpr const char* kSelectSources =
    "SELECT name, provider, connect, external_user, user_is_current, password_kind, password, "
    "pool_min, pool_max, acquire_timeout_ns, idle_timeout_ns, max_lifetime_ns, lifetime_jitter, "
    "health_check, health_check_interval_ns, connect_timeout_ns, statement_timeout_ns "
    "FROM sources ORDER BY position";
constexpr const char* kSelectOptions =
    "SELECT source, key, value FROM source_options ORDER BY source, key";
constexpr const char* kSelectMappings =
    "SELECT source, scope, local_user, external_user, user_is_current, password_kind, password "
    "FROM user_mappings ORDER BY position";

using Stmt = SqliteStmt;
std::string Text(sqlite3_stmt* s, int col) { return SqliteText(s, col); }
void Bind(sqlite3_stmt* s, int i, std::string_view v) { SqliteBindText(s, i, v); }
void Bind(sqlite3_stmt* s, int i, int64_t v) { sqlite3_bind_int64(s, i, v); }
void BindNs(sqlite3_stmt* s, int i, absl::Duration d) {
  sqlite3_bind_int64(s, i, absl::ToInt64Nanoseconds(d));
}

std::string_view SecretKindName(Secret::Kind k) {
  switch (k) {
    case Secret::Kind::kNone:
      return "none";
    case Secret::Kind::kLiteral:
      return "literal";
    case Secret::Kind::kEnv:
      return "env";
    case Secret::Kind::kFile:
      return "file";
  }
  return "none";
}

// What the store keeps of a secret: the literal itself, or the reference.
std::string SecretPayload(const Secret& s) {
  if (s.kind() == Secret::Kind::kLiteral) {
    absl::StatusOr<std::string> v = s.Resolve();  // a literal: no I/O, cannot fail
    return v.ok() ? *std::move(v) : std::string();
  }
  return s.reference();
}

std::optional<Secret> MakeSecret(std::string_view kind, std::string payload) {
  if (kind == "none") return Secret();
  if (kind == "literal") return Secret::Literal(std::move(payload));
  if (kind == "env") return Secret::Env(std::move(payload));
  if (kind == "file") return Secret::File(std::move(payload));
  return std::nullopt;
}

std::string_view ScopeName(UserMapping::Scope s) {
  switch (s) {
    case UserMapping::Scope::kUser:
      return "user";
    case UserMapping::Scope::kCurrentUser:
      return "current_user";
    case UserMapping::Scope::kAll:
      return "all";
  }
  return "all";
}

}  // namespace

// Helpers that need the file name for their errors.
class StoreOps {
 public:
  StoreOps(sqlite3* db, const std::string& path) : db_(db), path_(path) {}

  absl::Status Error(absl::StatusCode code, std::string_view what) const {
    return absl::Status(code, fmt::format("catalog file {}: {}", path_, what));
  }
  absl::Status SqliteError(std::string_view what) const {
    const int rc = sqlite3_errcode(db_);
    const std::string msg = sqlite3_errmsg(db_);
    if (rc == SQLITE_NOTADB) {
      return Error(absl::StatusCode::kDataLoss,
                   "not an SQLite database (corrupt, or another kind of file)");
    }
    if (rc == SQLITE_CORRUPT) {
      return Error(absl::StatusCode::kDataLoss, fmt::format("corrupt: {}", msg));
    }
    if (rc == SQLITE_BUSY || rc == SQLITE_LOCKED) {
      return Error(absl::StatusCode::kUnavailable,
                   fmt::format("{}: locked by another process ({})", what, msg));
    }
    return Error(absl::StatusCode::kInternal, fmt::format("{}: {}", what, msg));
  }

  absl::Status Exec(const char* sql, std::string_view what) const {
    if (sqlite3_exec(db_, sql, nullptr, nullptr, nullptr) != SQLITE_OK) return SqliteError(what);
    return absl::OkStatus();
  }

  absl::Status Prepare(const char* sql, Stmt* stmt, std::string_view what) const {
    if (sqlite3_prepare_v2(db_, sql, -1, stmt->out(), nullptr) != SQLITE_OK) {
      return SqliteError(what);
    }
    return absl::OkStatus();
  }

  // Steps an INSERT/UPDATE to completion.
  absl::Status Run(Stmt& stmt, std::string_view what) const {
    if (sqlite3_step(stmt.get()) != SQLITE_DONE) return SqliteError(what);
    sqlite3_reset(stmt.get());
    sqlite3_clear_bindings(stmt.get());
    return absl::OkStatus();
  }

  // Refuses a file that is not a catalog of our schema version.
  absl::Status Validate() const {
    {
      Stmt check;
      QG_RETURN_IF_ERROR(Prepare("PRAGMA quick_check", &check, "integrity check"));
      const int rc = sqlite3_step(check.get());
      if (rc != SQLITE_ROW) return SqliteError("integrity check");
      const std::string result = Text(check.get(), 0);
      if (result != "ok") {
        return Error(absl::StatusCode::kDataLoss, fmt::format("corrupt: {}", result));
      }
    }
    Stmt meta;
    if (sqlite3_prepare_v2(db_, "SELECT value FROM meta WHERE key = 'schema_version'", -1,
                           meta.out(), nullptr) != SQLITE_OK) {
      if (sqlite3_errcode(db_) == SQLITE_ERROR) {
        return Error(absl::StatusCode::kFailedPrecondition,
                     "an SQLite database but not a qgraph catalog (no meta table)");
      }
      return SqliteError("reading the schema version");
    }
    const int rc = sqlite3_step(meta.get());
    if (rc == SQLITE_DONE) {
      return Error(absl::StatusCode::kDataLoss, "no schema_version in the meta table");
    }
    if (rc != SQLITE_ROW) return SqliteError("reading the schema version");
    const std::string version = Text(meta.get(), 0);
    if (version != std::to_string(CatalogStore::kSchemaVersion)) {
      return Error(absl::StatusCode::kFailedPrecondition,
                   fmt::format("schema version {}; this qgraph reads version {} only", version,
                               CatalogStore::kSchemaVersion));
    }
    for (const char* sql : {kSelectSources, kSelectOptions, kSelectMappings}) {
      Stmt probe;
      if (sqlite3_prepare_v2(db_, sql, -1, probe.out(), nullptr) != SQLITE_OK) {
        return Error(absl::StatusCode::kDataLoss,
                     fmt::format("schema damaged: {}", sqlite3_errmsg(db_)));
      }
    }
    return absl::OkStatus();
  }

  absl::StatusOr<Catalog> Read() const {
    Catalog catalog;
    auto bad_row = [&](std::string_view table, std::string_view why) {
      return Error(absl::StatusCode::kDataLoss, fmt::format("invalid row in {}: {}", table, why));
    };
    std::vector<SourceConfig> sources;
    {
      Stmt s;
      QG_RETURN_IF_ERROR(Prepare(kSelectSources, &s, "reading sources"));
      int rc;
      while ((rc = sqlite3_step(s.get())) == SQLITE_ROW) {
        sqlite3_stmt* r = s.get();
        SourceConfig c;
        c.name = Text(r, 0);
        c.provider = Text(r, 1);
        c.connect = Text(r, 2);
        c.user = Text(r, 3);
        c.user_is_current = sqlite3_column_int64(r, 4) != 0;
        std::optional<Secret> pw = MakeSecret(Text(r, 5), Text(r, 6));
        if (!pw) return bad_row("sources", fmt::format("source {}: unknown password kind", c.name));
        c.password = *std::move(pw);
        PoolOptions& p = c.pool;
        p.pool_min = static_cast<int>(sqlite3_column_int64(r, 7));
        p.pool_max = static_cast<int>(sqlite3_column_int64(r, 8));
        p.acquire_timeout = absl::Nanoseconds(sqlite3_column_int64(r, 9));
        p.idle_timeout = absl::Nanoseconds(sqlite3_column_int64(r, 10));
        p.max_lifetime = absl::Nanoseconds(sqlite3_column_int64(r, 11));
        p.lifetime_jitter = sqlite3_column_double(r, 12);
        p.health_check = Text(r, 13);
        p.health_check_interval = absl::Nanoseconds(sqlite3_column_int64(r, 14));
        p.connect_timeout = absl::Nanoseconds(sqlite3_column_int64(r, 15));
        p.statement_timeout = absl::Nanoseconds(sqlite3_column_int64(r, 16));
        if (p.pool_max < 1 || p.pool_min < 0 || p.pool_min > p.pool_max ||
            !(p.lifetime_jitter >= 0 && p.lifetime_jitter <= 1)) {
          return bad_row("sources", fmt::format("source {}: invalid pool options", c.name));
        }
        sources.push_back(std::move(c));
      }
      if (rc != SQLITE_DONE) return SqliteError("reading sources");
    }
    {
      Stmt s;
      QG_RETURN_IF_ERROR(Prepare(kSelectOptions, &s, "reading source options"));
      int rc;
      while ((rc = sqlite3_step(s.get())) == SQLITE_ROW) {
        const std::string source = Text(s.get(), 0);
        SourceConfig* target = nullptr;
        for (SourceConfig& c : sources) {
          if (c.name == source) target = &c;
        }
        if (target == nullptr) {
          return bad_row("source_options", fmt::format("unknown source {}", source));
        }
        target->provider_options[Text(s.get(), 1)] = Text(s.get(), 2);
      }
      if (rc != SQLITE_DONE) return SqliteError("reading source options");
    }
    for (SourceConfig& c : sources) {
      absl::Status st = catalog.AddSource(std::move(c));
      if (!st.ok()) {
        return bad_row("sources", std::string_view(st.message().data(), st.message().size()));
      }
    }
    {
      Stmt s;
      QG_RETURN_IF_ERROR(Prepare(kSelectMappings, &s, "reading user mappings"));
      int rc;
      while ((rc = sqlite3_step(s.get())) == SQLITE_ROW) {
        sqlite3_stmt* r = s.get();
        UserMapping m;
        m.source = Text(r, 0);
        const std::string scope = Text(r, 1);
        if (scope == "user") {
          m.scope = UserMapping::Scope::kUser;
        } else if (scope == "current_user") {
          m.scope = UserMapping::Scope::kCurrentUser;
        } else if (scope == "all") {
          m.scope = UserMapping::Scope::kAll;
        } else {
          return bad_row("user_mappings", fmt::format("unknown scope on source {}", m.source));
        }
        m.local_user = Text(r, 2);
        m.user = Text(r, 3);
        m.user_is_current = sqlite3_column_int64(r, 4) != 0;
        std::optional<Secret> pw = MakeSecret(Text(r, 5), Text(r, 6));
        if (!pw) {
          return bad_row("user_mappings",
                         fmt::format("unknown password kind on source {}", m.source));
        }
        m.password = *std::move(pw);
        absl::Status st = catalog.SetMapping(std::move(m));
        if (!st.ok()) {
          return bad_row("user_mappings",
                         std::string_view(st.message().data(), st.message().size()));
        }
      }
      if (rc != SQLITE_DONE) return SqliteError("reading user mappings");
    }
    return catalog;
  }

  absl::Status Write(const Catalog& catalog) const {
    QG_RETURN_IF_ERROR(
        Exec("DELETE FROM source_options; DELETE FROM user_mappings; DELETE FROM sources;",
             "clearing the old catalog"));
    Stmt src, opt, map;
    QG_RETURN_IF_ERROR(Prepare(
        "INSERT INTO sources (position, name, provider, connect, external_user, "
        "user_is_current, password_kind, password, pool_min, pool_max, acquire_timeout_ns, "
        "idle_timeout_ns, max_lifetime_ns, lifetime_jitter, health_check, "
        "health_check_interval_ns, connect_timeout_ns, statement_timeout_ns) "
        "VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11, ?12, ?13, ?14, ?15, ?16, ?17, ?18)",
        &src, "writing sources"));
    QG_RETURN_IF_ERROR(
        Prepare("INSERT INTO source_options (source, key, value) VALUES (?1, ?2, ?3)", &opt,
                "writing source options"));
    QG_RETURN_IF_ERROR(
        Prepare("INSERT INTO user_mappings (position, source, scope, local_user, external_user, "
                "user_is_current, password_kind, password) VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8)",
                &map, "writing user mappings"));
    int64_t pos = 0;
    for (const SourceConfig& c : catalog.sources()) {
      sqlite3_stmt* s = src.get();
      Bind(s, 1, pos++);
      Bind(s, 2, c.name);
      Bind(s, 3, c.provider);
      Bind(s, 4, c.connect);
      Bind(s, 5, c.user);
      Bind(s, 6, int64_t{c.user_is_current ? 1 : 0});
      Bind(s, 7, SecretKindName(c.password.kind()));
      Bind(s, 8, SecretPayload(c.password));
      Bind(s, 9, int64_t{c.pool.pool_min});
      Bind(s, 10, int64_t{c.pool.pool_max});
      BindNs(s, 11, c.pool.acquire_timeout);
      BindNs(s, 12, c.pool.idle_timeout);
      BindNs(s, 13, c.pool.max_lifetime);
      sqlite3_bind_double(s, 14, c.pool.lifetime_jitter);
      Bind(s, 15, c.pool.health_check);
      BindNs(s, 16, c.pool.health_check_interval);
      BindNs(s, 17, c.pool.connect_timeout);
      BindNs(s, 18, c.pool.statement_timeout);
      QG_RETURN_IF_ERROR(Run(src, "writing sources"));
      for (const auto& [k, v] : c.provider_options) {
        Bind(opt.get(), 1, c.name);
        Bind(opt.get(), 2, k);
        Bind(opt.get(), 3, v);
        QG_RETURN_IF_ERROR(Run(opt, "writing source options"));
      }
    }
    pos = 0;
    for (const UserMapping& m : catalog.mappings()) {
      sqlite3_stmt* s = map.get();
      Bind(s, 1, pos++);
      Bind(s, 2, m.source);
      Bind(s, 3, ScopeName(m.scope));
      Bind(s, 4, m.local_user);
      Bind(s, 5, m.user);
      Bind(s, 6, int64_t{m.user_is_current ? 1 : 0});
      Bind(s, 7, SecretKindName(m.password.kind()));
      Bind(s, 8, SecretPayload(m.password));
      QG_RETURN_IF_ERROR(Run(map, "writing user mappings"));
    }
    return absl::OkStatus();
  }

 private:
  sqlite3* db_;
  const std::string& path_;
};

absl::StatusOr<std::unique_ptr<CatalogStore>> CatalogStore::Open(std::string_view path_view) {
  std::string path(path_view);
  QG_ASSIGN_OR_RETURN(sqlite3 * db, OpenPrivateSqliteFile(path, "catalog file"));
  std::unique_ptr<CatalogStore> store(new CatalogStore(path, db));
  StoreOps ops(db, store->path_);

  // A new (or empty) file gets the schema; anything else must be ours.
  int64_t page_count = 0;
  {
    Stmt pages;
    QG_RETURN_IF_ERROR(ops.Prepare("PRAGMA page_count", &pages, "reading the file"));
    if (sqlite3_step(pages.get()) != SQLITE_ROW) return ops.SqliteError("reading the file");
    page_count = sqlite3_column_int64(pages.get(), 0);
  }
  if (page_count == 0) {
    QG_RETURN_IF_ERROR(ops.Exec("BEGIN IMMEDIATE", "creating the catalog"));
    absl::Status st = ops.Exec(kSchema, "creating the catalog");
    if (st.ok()) {
      const std::string meta = fmt::format(
          "INSERT INTO meta (key, value) VALUES ('schema_version', '{}'), "
          "('application', 'qgraph catalog')",
          kSchemaVersion);
      st = ops.Exec(meta.c_str(), "creating the catalog");
    }
    if (st.ok()) st = ops.Exec("COMMIT", "creating the catalog");
    if (!st.ok()) {
      sqlite3_exec(db, "ROLLBACK", nullptr, nullptr, nullptr);
      return st;
    }
  } else {
    QG_RETURN_IF_ERROR(ops.Validate());
  }
  return store;
}

CatalogStore::~CatalogStore() { sqlite3_close(db_); }

absl::StatusOr<Catalog> CatalogStore::Load() {
  std::lock_guard<std::mutex> lock(mu_);
  StoreOps ops(db_, path_);
  QG_RETURN_IF_ERROR(ops.Exec("BEGIN", "reading the catalog"));
  absl::StatusOr<Catalog> c = ops.Read();
  sqlite3_exec(db_, c.ok() ? "COMMIT" : "ROLLBACK", nullptr, nullptr, nullptr);
  return c;
}

absl::Status CatalogStore::Save(const Catalog& catalog) {
  std::lock_guard<std::mutex> lock(mu_);
  StoreOps ops(db_, path_);
  QG_RETURN_IF_ERROR(ops.Exec("BEGIN IMMEDIATE", "saving the catalog"));
  absl::Status st = ops.Write(catalog);
  if (st.ok()) st = ops.Exec("COMMIT", "saving the catalog");
  if (!st.ok()) sqlite3_exec(db_, "ROLLBACK", nullptr, nullptr, nullptr);
  return st;
}

absl::StatusOr<Catalog> CatalogStore::Update(const std::function<absl::Status(Catalog*)>& change) {
  std::lock_guard<std::mutex> lock(mu_);
  StoreOps ops(db_, path_);
  QG_RETURN_IF_ERROR(ops.Exec("BEGIN IMMEDIATE", "updating the catalog"));
  absl::StatusOr<Catalog> c = ops.Read();
  absl::Status st = c.status();
  if (st.ok()) st = change(&*c);
  if (st.ok()) st = ops.Write(*c);
  if (st.ok()) st = ops.Exec("COMMIT", "updating the catalog");
  if (!st.ok()) {
    sqlite3_exec(db_, "ROLLBACK", nullptr, nullptr, nullptr);
    return st;
  }
  return c;
}

}  // namespace qg
