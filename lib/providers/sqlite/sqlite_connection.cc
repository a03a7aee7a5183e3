#include "providers/sqlite/sqlite_connection.h"

#include <algorithm>
#include <cctype>
#include <filesystem>
#include <system_error>
#include <utility>

#include "absl/strings/ascii.h"
#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "common/status_macros.h"
#include "common/strings.h"
#include "qg/duration.h"
#include "sql/sql_lexer.h"

namespace qg::sqlite {
namespace {

using sql::Av;

std::string_view PrimaryCodeName(int rc) {
  switch (rc & 0xff) {
    case SQLITE_OK:
      return "SQLITE_OK";
    case SQLITE_ERROR:
      return "SQLITE_ERROR";
    case SQLITE_INTERNAL:
      return "SQLITE_INTERNAL";
    case SQLITE_PERM:
      return "SQLITE_PERM";
    case SQLITE_ABORT:
      return "SQLITE_ABORT";
    case SQLITE_BUSY:
      return "SQLITE_BUSY";
    case SQLITE_LOCKED:
      return "SQLITE_LOCKED";
    case SQLITE_NOMEM:
      return "SQLITE_NOMEM";
    case SQLITE_READONLY:
      return "SQLITE_READONLY";
    case SQLITE_INTERRUPT:
      return "SQLITE_INTERRUPT";
    case SQLITE_IOERR:
      return "SQLITE_IOERR";
    case SQLITE_CORRUPT:
      return "SQLITE_CORRUPT";
    case SQLITE_NOTFOUND:
      return "SQLITE_NOTFOUND";
    case SQLITE_FULL:
      return "SQLITE_FULL";
    case SQLITE_CANTOPEN:
      return "SQLITE_CANTOPEN";
    case SQLITE_PROTOCOL:
      return "SQLITE_PROTOCOL";
    case SQLITE_SCHEMA:
      return "SQLITE_SCHEMA";
    case SQLITE_TOOBIG:
      return "SQLITE_TOOBIG";
    case SQLITE_CONSTRAINT:
      return "SQLITE_CONSTRAINT";
    case SQLITE_MISMATCH:
      return "SQLITE_MISMATCH";
    case SQLITE_MISUSE:
      return "SQLITE_MISUSE";
    case SQLITE_NOLFS:
      return "SQLITE_NOLFS";
    case SQLITE_AUTH:
      return "SQLITE_AUTH";
    case SQLITE_RANGE:
      return "SQLITE_RANGE";
    case SQLITE_NOTADB:
      return "SQLITE_NOTADB";
    default:
      return "SQLITE_UNKNOWN";
  }
}

std::string CodeName(int extended) {
  std::string_view suffix;
  switch (extended) {
    case SQLITE_CONSTRAINT_UNIQUE:
      suffix = "_UNIQUE";
      break;
    case SQLITE_CONSTRAINT_PRIMARYKEY:
      suffix = "_PRIMARYKEY";
      break;
    case SQLITE_CONSTRAINT_FOREIGNKEY:
      suffix = "_FOREIGNKEY";
      break;
    case SQLITE_CONSTRAINT_NOTNULL:
      suffix = "_NOTNULL";
      break;
    case SQLITE_CONSTRAINT_CHECK:
      suffix = "_CHECK";
      break;
    case SQLITE_BUSY_SNAPSHOT:
      suffix = "_SNAPSHOT";
      break;
    case SQLITE_BUSY_RECOVERY:
      suffix = "_RECOVERY";
      break;
    case SQLITE_LOCKED_SHAREDCACHE:
      suffix = "_SHAREDCACHE";
      break;
    case SQLITE_READONLY_DBMOVED:
      suffix = "_DBMOVED";
      break;
    case SQLITE_CANTOPEN_ISDIR:
      suffix = "_ISDIR";
      break;
    case SQLITE_IOERR_READ:
      suffix = "_READ";
      break;
    case SQLITE_IOERR_WRITE:
      suffix = "_WRITE";
      break;
    case SQLITE_IOERR_SHORT_READ:
      suffix = "_SHORT_READ";
      break;
    case SQLITE_ERROR_MISSING_COLLSEQ:
      suffix = "_MISSING_COLLSEQ";
      break;
    default:
      break;
  }
  std::string name = absl::StrCat(Av(PrimaryCodeName(extended)), Av(suffix));
  if (suffix.empty() && extended != (extended & 0xff)) {
    absl::StrAppend(&name, " (extended ", extended, ")");
  }
  return name;
}

absl::StatusCode CodeFor(int rc) {
  switch (rc & 0xff) {
    case SQLITE_INTERRUPT:
      return absl::StatusCode::kCancelled;
    case SQLITE_BUSY:
    case SQLITE_LOCKED:
    case SQLITE_CORRUPT:
    case SQLITE_NOTADB:
    case SQLITE_IOERR:
    case SQLITE_CANTOPEN:
    case SQLITE_PROTOCOL:
      return absl::StatusCode::kUnavailable;
    case SQLITE_CONSTRAINT:
      return (rc == SQLITE_CONSTRAINT_UNIQUE || rc == SQLITE_CONSTRAINT_PRIMARYKEY)
                 ? absl::StatusCode::kAlreadyExists
                 : absl::StatusCode::kFailedPrecondition;
    case SQLITE_READONLY:
      return absl::StatusCode::kFailedPrecondition;
    case SQLITE_PERM:
    case SQLITE_AUTH:
      return absl::StatusCode::kPermissionDenied;
    case SQLITE_NOMEM:
    case SQLITE_FULL:
      return absl::StatusCode::kResourceExhausted;
    case SQLITE_ERROR:
    case SQLITE_MISMATCH:
    case SQLITE_RANGE:
    case SQLITE_TOOBIG:
    case SQLITE_SCHEMA:
      return absl::StatusCode::kInvalidArgument;
    default:
      return absl::StatusCode::kInternal;
  }
}

bool BreaksConnection(int rc) {
  switch (rc & 0xff) {
    case SQLITE_CORRUPT:
    case SQLITE_NOTADB:
    case SQLITE_IOERR:
    case SQLITE_CANTOPEN:
      return true;
    default:
      return false;
  }
}

std::string Shorten(std::string_view sql) {
  constexpr size_t kMax = 400;
  if (sql.size() <= kMax) return std::string(sql);
  return absl::StrCat(Av(sql.substr(0, kMax)), "... (", sql.size(), " bytes)");
}

// How TEXT cells of a column are refined by its declared type.
enum class TextKind { kString, kDecimal, kTimestamp, kJson };

TextKind TextKindFor(const char* decltype_or_null) {
  if (decltype_or_null == nullptr) return TextKind::kString;
  std::string t = absl::AsciiStrToUpper(decltype_or_null);
  if (t.rfind("DECIMAL", 0) == 0 || t.rfind("NUMERIC", 0) == 0) return TextKind::kDecimal;
  if (t.find("DATE") != std::string::npos || t.find("TIME") != std::string::npos) {
    return TextKind::kTimestamp;
  }
  if (t == "JSON" || t == "JSONB") return TextKind::kJson;
  return TextKind::kString;
}

// [+-]digits[.digits] or [+-].digits: text that is an exact decimal.
bool LooksDecimal(std::string_view s) {
  size_t i = 0;
  if (i < s.size() && (s[i] == '+' || s[i] == '-')) ++i;
  size_t digits = 0;
  while (i < s.size() && std::isdigit(static_cast<unsigned char>(s[i]))) ++i, ++digits;
  if (i < s.size() && s[i] == '.') {
    ++i;
    while (i < s.size() && std::isdigit(static_cast<unsigned char>(s[i]))) ++i, ++digits;
  }
  return digits > 0 && i == s.size();
}

// Resets and clears a statement however Execute leaves.
class StmtGuard {
 public:
  explicit StmtGuard(sqlite3_stmt* s) : s_(s) {}
  ~StmtGuard() {
    sqlite3_reset(s_);
    sqlite3_clear_bindings(s_);
  }
  StmtGuard(const StmtGuard&) = delete;
  StmtGuard& operator=(const StmtGuard&) = delete;

 private:
  sqlite3_stmt* s_;
};

absl::StatusOr<bool> ParseBool(const std::string& key, const std::string& value) {
  std::string v = absl::AsciiStrToLower(value);
  if (v == "true" || v == "1" || v == "yes" || v == "on") return true;
  if (v == "false" || v == "0" || v == "no" || v == "off") return false;
  return absl::InvalidArgumentError(
      absl::StrCat("sqlite option ", key, "='", value, "' is not true or false"));
}

// The file a connection string names, or "" for in-memory databases.
std::string FilePathOf(const std::string& connect) {
  if (connect == ":memory:" || connect.empty()) return "";
  if (connect.rfind("file:", 0) != 0) return connect;
  std::string rest = connect.substr(5);
  size_t q = rest.find('?');
  std::string query = q == std::string::npos ? "" : rest.substr(q + 1);
  rest = rest.substr(0, q);
  if (query.find("mode=memory") != std::string::npos || rest == ":memory:") return "";
  if (rest.rfind("//", 0) == 0) {  // file://host/path
    size_t slash = rest.find('/', 2);
    rest = slash == std::string::npos ? "" : rest.substr(slash);
  }
  return rest;
}

// PRAGMAs that only read, allowed to every node. The first group reads
// whatever its argument (a table or index name, a row limit); the second only
// without an argument ("PRAGMA user_version" reads, "= 5" would set).
// "PRAGMA journal_mode" reads too, but SQLite does not call it a read-only
// statement, so a read node reads it as SELECT * FROM pragma_journal_mode.
bool IsReadOnlyPragma(const char* name, const char* arg) {
  static const char* const kWithArg[] = {
      "foreign_key_check", "foreign_key_list", "index_info", "index_list", "index_xinfo",
      "integrity_check",   "quick_check",      "table_info", "table_list", "table_xinfo"};
  static const char* const kNoArg[] = {
      "application_id",     "collation_list",     "compile_options", "data_version",
      "database_list",      "defer_foreign_keys", "encoding",        "foreign_keys",
      "freelist_count",     "function_list",      "journal_mode",    "module_list",
      "page_count",         "page_size",          "pragma_list",     "query_only",
      "recursive_triggers", "schema_version",     "user_version"};
  if (name == nullptr) return false;
  for (const char* p : kWithArg) {
    if (sqlite3_stricmp(name, p) == 0) return true;
  }
  if (arg != nullptr) return false;
  for (const char* p : kNoArg) {
    if (sqlite3_stricmp(name, p) == 0) return true;
  }
  return false;
}

bool IsSchemaTable(const char* name) {
  return name != nullptr && (sqlite3_stricmp(name, "sqlite_master") == 0 ||
                             sqlite3_stricmp(name, "sqlite_temp_master") == 0);
}

std::string_view WriteVerb(int action) {
  switch (action) {
    case SQLITE_INSERT:
      return "INSERT into";
    case SQLITE_UPDATE:
      return "UPDATE of";
    case SQLITE_DELETE:
      return "DELETE from";
    case SQLITE_CREATE_INDEX:
    case SQLITE_CREATE_TEMP_INDEX:
      return "CREATE INDEX";
    case SQLITE_CREATE_TABLE:
    case SQLITE_CREATE_TEMP_TABLE:
      return "CREATE TABLE";
    case SQLITE_CREATE_TRIGGER:
    case SQLITE_CREATE_TEMP_TRIGGER:
      return "CREATE TRIGGER";
    case SQLITE_CREATE_VIEW:
    case SQLITE_CREATE_TEMP_VIEW:
      return "CREATE VIEW";
    case SQLITE_CREATE_VTABLE:
      return "CREATE VIRTUAL TABLE";
    case SQLITE_DROP_INDEX:
    case SQLITE_DROP_TEMP_INDEX:
      return "DROP INDEX";
    case SQLITE_DROP_TABLE:
    case SQLITE_DROP_TEMP_TABLE:
    case SQLITE_DROP_VTABLE:
      return "DROP TABLE";
    case SQLITE_DROP_TRIGGER:
    case SQLITE_DROP_TEMP_TRIGGER:
      return "DROP TRIGGER";
    case SQLITE_DROP_VIEW:
    case SQLITE_DROP_TEMP_VIEW:
      return "DROP VIEW";
    case SQLITE_ALTER_TABLE:
      return "ALTER TABLE";
    case SQLITE_REINDEX:
      return "REINDEX";
    case SQLITE_ANALYZE:
      return "ANALYZE";
    default:
      return "a change";
  }
}

}  // namespace

absl::StatusOr<ConnectOptions> ParseOptions(const std::map<std::string, std::string>& options) {
  ConnectOptions out;
  for (const auto& [key, value] : options) {
    if (key == "busy_timeout") {
      // A bare integer is milliseconds here (SQLite's own unit for it).
      int64_t ms = 0;
      if (absl::SimpleAtoi(value, &ms) && ms >= 0) {
        out.busy_timeout = absl::Milliseconds(ms);
      } else if (absl::StatusOr<absl::Duration> d = ParseDuration(value); d.ok()) {
        out.busy_timeout = *d;
      } else {
        return absl::InvalidArgumentError(absl::StrCat("sqlite option busy_timeout='", value,
                                                       "' is not a duration (\"5s\", \"250ms\")"));
      }
    } else if (key == "journal_mode") {
      std::string mode = absl::AsciiStrToLower(value);
      static const char* const kModes[] = {"delete", "truncate", "persist", "memory", "wal", "off"};
      if (std::find(std::begin(kModes), std::end(kModes), mode) == std::end(kModes)) {
        return absl::InvalidArgumentError(
            absl::StrCat("sqlite option journal_mode='", value,
                         "' is not one of delete, truncate, persist, memory, wal, off"));
      }
      out.journal_mode = mode;
    } else if (key == "read_only") {
      auto b = ParseBool(key, value);
      if (!b.ok()) return b.status();
      out.read_only = *b;
    } else if (key == "create") {
      auto b = ParseBool(key, value);
      if (!b.ok()) return b.status();
      out.create = *b;
    } else if (key == "foreign_keys") {
      auto b = ParseBool(key, value);
      if (!b.ok()) return b.status();
      out.foreign_keys = *b;
    } else if (key == "allow_attach" || key == "allow_pragma") {
      auto b = ParseBool(key, value);
      if (!b.ok()) return b.status();
      (key == "allow_attach" ? out.allow_attach : out.allow_pragma) = *b;
    } else if (key == "cache_size" || key == "mmap_size") {
      int64_t n = 0;
      if (!absl::SimpleAtoi(value, &n) || n < 0) {
        return absl::InvalidArgumentError(
            absl::StrCat("sqlite option ", key, "='", value, "' is not a non-negative integer"));
      }
      (key == "cache_size" ? out.cache_kib : out.mmap_bytes) = n;
    } else {
      return absl::InvalidArgumentError(absl::StrCat(
          "unknown sqlite option '", key,
          "' (known: busy_timeout, journal_mode, read_only, create, foreign_keys, cache_size, "
          "mmap_size, allow_attach, allow_pragma)"));
    }
  }
  return out;
}

SqliteConnection::SqliteConnection(sqlite3* db, std::string source,
                                   absl::Duration statement_timeout, const ConnectOptions& options)
    : db_(db),
      source_(std::move(source)),
      statement_timeout_(statement_timeout),
      allow_attach_(options.allow_attach),
      allow_pragma_(options.allow_pragma) {}

SqliteConnection::~SqliteConnection() {
  for (Cached& c : lru_) sqlite3_finalize(c.stmt);
  sqlite3_close_v2(db_);
}

absl::StatusOr<std::unique_ptr<SqliteConnection>> SqliteConnection::Open(
    const ConnectRequest& request) {
  const std::string where = absl::StrCat("sqlite source '", request.source_name, "': ");
  auto options = ParseOptions(request.options);
  if (!options.ok())
    return absl::InvalidArgumentError(where + std::string(options.status().message()));
  if (request.connect.empty()) {
    return absl::InvalidArgumentError(
        where + "empty connection string (expected a file path, ':memory:' or a file: URI)");
  }
  int flags = SQLITE_OPEN_NOMUTEX | SQLITE_OPEN_URI;
  if (options->read_only) {
    flags |= SQLITE_OPEN_READONLY;
  } else {
    flags |= SQLITE_OPEN_READWRITE;
    if (options->create) flags |= SQLITE_OPEN_CREATE;
  }
  const std::string path = FilePathOf(request.connect);
  sqlite3* db = nullptr;
  int rc = sqlite3_open_v2(request.connect.c_str(), &db, flags, nullptr);
  if (rc != SQLITE_OK) {
    std::string msg = db != nullptr ? sqlite3_errmsg(db) : sqlite3_errstr(rc);
    int extended = db != nullptr ? sqlite3_extended_errcode(db) : rc;
    sqlite3_close_v2(db);
    std::error_code ec;
    if ((rc & 0xff) == SQLITE_CANTOPEN && !path.empty() && !std::filesystem::exists(path, ec)) {
      return absl::NotFoundError(
          absl::StrCat(where, "database file '", path, "' does not exist",
                       options->create ? "" : " (set option create=true to create it)"));
    }
    return absl::UnavailableError(absl::StrCat(where, "cannot open '", request.connect, "': ", msg,
                                               " [", CodeName(extended), "]"));
  }
  sqlite3_extended_result_codes(db, 1);
  sqlite3_busy_timeout(db, static_cast<int>(std::min<int64_t>(
                               absl::ToInt64Milliseconds(options->busy_timeout), INT32_MAX)));
  std::unique_ptr<SqliteConnection> conn(
      new SqliteConnection(db, request.source_name, request.statement_timeout, *options));
  sqlite3_progress_handler(db, kProgressSteps, &SqliteConnection::ProgressHandler, conn.get());
  // Reading the schema version fails here, not at the first query, when the
  // file is not a database.
  std::vector<std::string> setup = {"PRAGMA schema_version",
                                    "PRAGMA cache_size = -" + std::to_string(options->cache_kib),
                                    "PRAGMA mmap_size = " + std::to_string(options->mmap_bytes)};
  if (options->foreign_keys) {
    setup.push_back(*options->foreign_keys ? "PRAGMA foreign_keys = ON"
                                           : "PRAGMA foreign_keys = OFF");
  }
  // journal_mode is checked against a fixed list in ParseOptions.
  if (!options->journal_mode.empty()) {
    setup.push_back("PRAGMA journal_mode = " + options->journal_mode);
  }
  for (const std::string& sql : setup) {
    sqlite3_stmt* s = nullptr;
    rc = sqlite3_prepare_v2(db, sql.c_str(), -1, &s, nullptr);
    if (rc == SQLITE_OK) {
      do {
        rc = sqlite3_step(s);
      } while (rc == SQLITE_ROW);
    }
    sqlite3_finalize(s);
    if (rc != SQLITE_DONE && rc != SQLITE_OK) {
      return absl::Status(
          CodeFor(rc),
          absl::StrCat(where, "cannot open '", request.connect, "': ", sqlite3_errmsg(db), " [",
                       CodeName(sqlite3_extended_errcode(db)), "] in ", sql));
    }
  }
  // From here on every statement passes the authorizer. No extension may be
  // loaded, the schema may not be edited by hand (defensive), and without
  // allow_attach no database may be attached even by SQLite itself (VACUUM).
  sqlite3_db_config(db, SQLITE_DBCONFIG_ENABLE_LOAD_EXTENSION, 0, nullptr);
  sqlite3_db_config(db, SQLITE_DBCONFIG_DEFENSIVE, 1, nullptr);
  if (!options->allow_attach) sqlite3_limit(db, SQLITE_LIMIT_ATTACHED, 0);
  sqlite3_set_authorizer(db, &SqliteConnection::Authorizer, conn.get());
  return conn;
}

int SqliteConnection::Authorizer(void* self, int action, const char* a1, const char* a2,
                                 const char* /*db*/, const char* /*trigger*/) {
  return static_cast<SqliteConnection*>(self)->Authorize(action, a1, a2);
}

// Runs while SQLite compiles a statement: at our prepare, at an automatic
// re-prepare after a schema change, and when SQLite prepares statements of
// its own while one runs (VACUUM, table-valued pragmas). Cached statements
// are not authorized again, so the check costs nothing per execution.
int SqliteConnection::Authorize(int action, const char* a1, const char* a2) {
  if (access_ == Access::kInternal) return SQLITE_OK;
  const bool write = access_ == Access::kWrite;
  const char* const node = write ? "a write node" : "a read node";
  auto deny = [&](std::string why) {
    denied_ = std::move(why);
    return SQLITE_DENY;
  };
  switch (action) {
    case SQLITE_SELECT:
    case SQLITE_READ:
    case SQLITE_RECURSIVE:
      return SQLITE_OK;
    case SQLITE_FUNCTION:
      if (a2 != nullptr && sqlite3_stricmp(a2, "load_extension") == 0) {
        return deny("load_extension() is refused");
      }
      return SQLITE_OK;
    case SQLITE_PRAGMA:
      if (IsReadOnlyPragma(a1, a2)) return SQLITE_OK;
      if (write && allow_pragma_) {
        tainted_ = true;
        return SQLITE_OK;
      }
      return deny(absl::StrCat(node, " may not run PRAGMA ", a1 != nullptr ? a1 : "",
                               write ? " (a PRAGMA that changes state needs the source option "
                                       "allow_pragma=true)"
                                     : " (only PRAGMAs that read are allowed)"));
    case SQLITE_ATTACH:
    case SQLITE_DETACH:
      if (write && allow_attach_) return SQLITE_OK;
      return deny(absl::StrCat(node, " may not ", action == SQLITE_ATTACH ? "ATTACH" : "DETACH",
                               " a database (nor VACUUM, which attaches one)",
                               write ? "; the source option allow_attach=true allows it" : ""));
    case SQLITE_TRANSACTION:
    case SQLITE_SAVEPOINT:
      // SQLite's own statements (VACUUM's) may; a query may not: the graph's
      // transaction mode owns the transaction.
      if (!in_prepare_) return SQLITE_OK;
      return deny(absl::StrCat(node,
                               " may not control transactions (BEGIN, COMMIT, ROLLBACK, "
                               "SAVEPOINT, RELEASE): the graph's \"transaction\" mode does"));
    case SQLITE_UPDATE:
      // Compiling a table-valued function (pragma_table_info) codes an
      // update of the schema table that never runs; a statement that really
      // writes it is refused by the read-only check after prepare (and by
      // defensive mode).
      if (!write && IsSchemaTable(a1)) return SQLITE_OK;
      break;
    default:
      break;
  }
  if (write) return SQLITE_OK;
  const bool named = a1 != nullptr && action != SQLITE_REINDEX && !IsSchemaTable(a1);
  return deny(
      absl::StrCat("a read node may not change anything: ",
                   IsSchemaTable(a1) ? "a change of the schema" : std::string(WriteVerb(action)),
                   named ? " " : "", named ? a1 : "", " is refused (use \"mode\": \"write\")"));
}

int SqliteConnection::ProgressHandler(void* self) {
  auto* c = static_cast<SqliteConnection*>(self);
  if (c->cancelled_.load(std::memory_order_acquire)) return 1;
  if (c->deadline_ != absl::InfiniteFuture() && absl::Now() >= c->deadline_) {
    c->timed_out_ = true;
    return 1;
  }
  return 0;
}

absl::Status SqliteConnection::Error(int rc, std::string_view what, std::string_view sql) {
  int extended = sqlite3_extended_errcode(db_);
  if ((extended & 0xff) != (rc & 0xff)) extended = rc;
  if ((rc & 0xff) == SQLITE_INTERRUPT) {
    if (timed_out_) {
      return absl::DeadlineExceededError(
          absl::StrCat("sqlite source '", source_, "': statement timeout (",
                       absl::FormatDuration(statement_timeout_), ") exceeded"));
    }
    return absl::CancelledError(
        absl::StrCat("sqlite source '", source_, "': ", Av(what), " cancelled"));
  }
  // The authorizer's refusal: SQLITE_AUTH, or SQLITE_ERROR for a function.
  if (!denied_.empty() && ((rc & 0xff) == SQLITE_AUTH || (rc & 0xff) == SQLITE_ERROR)) {
    std::string msg = absl::StrCat("sqlite source '", source_, "': ", denied_);
    denied_.clear();
    if (!sql.empty()) absl::StrAppend(&msg, ", in: ", Shorten(sql));
    return absl::PermissionDeniedError(msg);
  }
  if (BreaksConnection(rc)) broken_.store(true, std::memory_order_release);
  std::string msg =
      absl::StrCat("sqlite source '", source_, "': ", Av(what), ": ", sqlite3_errmsg(db_), " [",
                   CodeName(extended), ": ", sqlite3_errstr(extended), "]");
  if (!sql.empty()) absl::StrAppend(&msg, " in: ", Shorten(sql));
  return absl::Status(CodeFor(extended), msg);
}

absl::StatusOr<sqlite3_stmt*> SqliteConnection::PrepareAs(const std::string& text, Access access) {
  // One cache entry per access: a text prepared for a write node was
  // authorized as a write, and must not serve a read node.
  const char tag = access == Access::kRead ? 'r' : access == Access::kWrite ? 'w' : 'i';
  key_.assign(1, tag);  // reused: no allocation per execution
  key_ += text;
  if (auto it = cache_.find(key_); it != cache_.end()) {
    lru_.splice(lru_.begin(), lru_, it->second);
    return it->second->stmt;
  }
  AccessScope scope(this, access);
  sqlite3_stmt* s = nullptr;
  const char* tail = nullptr;
  denied_.clear();
  in_prepare_ = true;
  int rc = sqlite3_prepare_v3(db_, text.data(), static_cast<int>(text.size()),
                              SQLITE_PREPARE_PERSISTENT, &s, &tail);
  in_prepare_ = false;
  if (rc != SQLITE_OK) {
    sqlite3_finalize(s);
    return Error(rc, "prepare", text);
  }
  if (s == nullptr) {
    return absl::InvalidArgumentError(
        absl::StrCat("sqlite source '", source_, "': empty statement: '", Shorten(text), "'"));
  }
  // Only whitespace and comments may follow the statement.
  if (tail != nullptr && tail < text.data() + text.size()) {
    sqlite3_stmt* rest = nullptr;
    in_prepare_ = true;
    rc = sqlite3_prepare_v2(db_, tail, static_cast<int>(text.data() + text.size() - tail), &rest,
                            nullptr);
    in_prepare_ = false;
    denied_.clear();
    bool more = rc != SQLITE_OK || rest != nullptr;
    sqlite3_finalize(rest);
    if (more) {
      sqlite3_finalize(s);
      return absl::InvalidArgumentError(
          absl::StrCat("sqlite source '", source_,
                       "': only one statement may be executed at a time; text "
                       "follows the first statement at byte ",
                       tail - text.data(), " in: ", Shorten(text)));
    }
  }
  // A read node's statement must not write, whatever the authorizer saw
  // (VACUUM has no authorizer action of its own).
  if (access == Access::kRead && !sqlite3_stmt_readonly(s)) {
    sqlite3_finalize(s);
    return absl::PermissionDeniedError(
        absl::StrCat("sqlite source '", source_,
                     "': a read node may not change anything: the statement writes (use \"mode\": "
                     "\"write\"), in: ",
                     Shorten(text)));
  }
  lru_.push_front(Cached{key_, s});
  cache_[lru_.front().text] = lru_.begin();
  while (lru_.size() > kStatementCacheSize) {
    cache_.erase(lru_.back().text);
    sqlite3_finalize(lru_.back().stmt);
    lru_.pop_back();
  }
  return s;
}

absl::Status SqliteConnection::Bind(sqlite3_stmt* s, int index, const Value& v) {
  int rc = SQLITE_OK;
  switch (v.type()) {
    case ValueType::kNull:
      rc = sqlite3_bind_null(s, index);
      break;
    case ValueType::kBool:
      rc = sqlite3_bind_int64(s, index, v.as_bool() ? 1 : 0);
      break;
    case ValueType::kInt64:
      rc = sqlite3_bind_int64(s, index, v.as_int());
      break;
    case ValueType::kDouble:
      rc = sqlite3_bind_double(s, index, v.as_double());
      break;
    case ValueType::kBytes:
      rc = sqlite3_bind_blob64(s, index, v.as_text().data(), v.as_text().size(), SQLITE_TRANSIENT);
      break;
    case ValueType::kDecimal:
    case ValueType::kString:
    case ValueType::kTimestamp:
    case ValueType::kJson:
      rc = sqlite3_bind_text64(s, index, v.as_text().data(), v.as_text().size(), SQLITE_TRANSIENT,
                               SQLITE_UTF8);
      break;
  }
  if (rc != SQLITE_OK) return Error(rc, absl::StrCat("binding argument ", index));
  return absl::OkStatus();
}

absl::Status SqliteConnection::CheckUsable() const {
  if (broken()) {
    return absl::UnavailableError(
        absl::StrCat("sqlite source '", source_, "': connection is broken"));
  }
  if (cancelled_.load(std::memory_order_acquire)) {
    return absl::CancelledError(
        absl::StrCat("sqlite source '", source_, "': connection was cancelled"));
  }
  return absl::OkStatus();
}

absl::Status SqliteConnection::Execute(const Statement& stmt, const std::vector<BoundArg>& args,
                                       RowSink* sink, ExecStats* stats) {
  QG_RETURN_IF_ERROR(CheckUsable());
  if (args.size() != stmt.args.size()) {
    return absl::InvalidArgumentError(absl::StrCat("sqlite source '", source_, "': statement has ",
                                                   stmt.args.size(), " arguments, ", args.size(),
                                                   " given"));
  }
  const Access access = stmt.is_write ? Access::kWrite : Access::kRead;
  // The access holds while the statement runs too: SQLite re-prepares it
  // after a schema change, and prepares statements of its own (VACUUM,
  // table-valued pragmas), through the authorizer.
  AccessScope scope(this, access);
  if (stmt.is_write) dirty_ = true;
  auto prepared = PrepareAs(stmt.text, access);
  if (!prepared.ok()) return prepared.status();
  sqlite3_stmt* s = *prepared;
  StmtGuard guard(s);
  if (!stmt.is_write && !sqlite3_stmt_readonly(s)) {
    return absl::PermissionDeniedError(
        absl::StrCat("sqlite source '", source_,
                     "': a read node may not change anything: the statement writes (use "
                     "\"mode\": \"write\"), in: ",
                     Shorten(stmt.text)));
  }
  const int nparams = sqlite3_bind_parameter_count(s);
  if (static_cast<size_t>(nparams) != args.size()) {
    return absl::InvalidArgumentError(absl::StrCat(
        "sqlite source '", source_, "': the statement has ", nparams, " placeholders but ",
        args.size(), " arguments were given, in: ", Shorten(stmt.text)));
  }
  for (size_t i = 0; i < args.size(); ++i) {
    if (args[i].is_array) {
      return absl::InvalidArgumentError(absl::StrCat(
          "sqlite source '", source_, "': argument ", i + 1,
          (i < stmt.args.size() ? " (:" + stmt.args[i].name + ")" : std::string()),
          " is an array; SQLite has no array parameters (use the IN-list batch form)"));
    }
    if (auto st = Bind(s, static_cast<int>(i + 1), args[i].value); !st.ok()) return st;
  }

  const int ncols = sqlite3_column_count(s);
  std::vector<TextKind> text_kinds(ncols);
  if (sink != nullptr) {
    std::vector<ColumnInfo> columns(ncols);
    for (int c = 0; c < ncols; ++c) {
      const char* name = sqlite3_column_name(s, c);
      const char* decl = sqlite3_column_decltype(s, c);
      columns[c].name = name != nullptr ? name : "";
      columns[c].native_type = decl != nullptr ? decl : "";
      text_kinds[c] = TextKindFor(decl);
    }
    if (auto st = sink->OnColumns(columns); !st.ok()) return st;
  }

  timed_out_ = false;
  deadline_ = statement_timeout_ > absl::ZeroDuration() ? absl::Now() + statement_timeout_
                                                        : absl::InfiniteFuture();
  const int64_t total_before = sqlite3_total_changes64(db_);
  if (stats != nullptr) ++stats->round_trips;
  std::vector<Value> row;
  int rc;
  while ((rc = sqlite3_step(s)) == SQLITE_ROW) {
    if (sink == nullptr) continue;
    row.clear();
    row.reserve(ncols);
    for (int c = 0; c < ncols; ++c) {
      switch (sqlite3_column_type(s, c)) {
        case SQLITE_INTEGER:
          row.push_back(Value::Int(sqlite3_column_int64(s, c)));
          break;
        case SQLITE_FLOAT:
          row.push_back(Value::Double(sqlite3_column_double(s, c)));
          break;
        case SQLITE_BLOB: {
          const void* p = sqlite3_column_blob(s, c);
          const int n = sqlite3_column_bytes(s, c);
          row.push_back(Value::Bytes(p != nullptr ? std::string(static_cast<const char*>(p), n)
                                                  : std::string()));
          break;
        }
        case SQLITE_TEXT: {
          const unsigned char* p = sqlite3_column_text(s, c);
          const int n = sqlite3_column_bytes(s, c);
          std::string text =
              p != nullptr ? std::string(reinterpret_cast<const char*>(p), n) : std::string();
          switch (text_kinds[c]) {
            case TextKind::kDecimal:
              row.push_back(LooksDecimal(text) ? Value::Decimal(std::move(text))
                                               : Value::String(std::move(text)));
              break;
            case TextKind::kTimestamp:
              row.push_back(Value::Timestamp(std::move(text)));
              break;
            case TextKind::kJson:
              row.push_back(Value::Json(std::move(text)));
              break;
            case TextKind::kString:
              row.push_back(Value::String(std::move(text)));
              break;
          }
          break;
        }
        default:
          row.push_back(Value::Null());
          break;
      }
    }
    if (auto st = sink->OnRow(row); !st.ok()) {
      deadline_ = absl::InfiniteFuture();
      return st;
    }
  }
  deadline_ = absl::InfiniteFuture();
  if (rc != SQLITE_DONE) return Error(rc, "execute", stmt.text);
  if (stats != nullptr && !sqlite3_stmt_readonly(s)) {
    stats->rows_affected =
        sqlite3_total_changes64(db_) != total_before ? sqlite3_changes64(db_) : 0;
  }
  return absl::OkStatus();
}

void SqliteConnection::Cancel() {
  cancelled_.store(true, std::memory_order_release);
  sqlite3_interrupt(db_);
}

// A read: the health_check query is no way around the rules.
absl::Status SqliteConnection::RunSimple(const std::string& text) {
  Statement stmt;
  stmt.text = text;
  return Execute(stmt, {}, nullptr, nullptr);
}

absl::Status SqliteConnection::RunInternal(const std::string& text) {
  QG_RETURN_IF_ERROR(CheckUsable());
  AccessScope scope(this, Access::kInternal);
  auto prepared = PrepareAs(text, Access::kInternal);
  if (!prepared.ok()) return prepared.status();
  StmtGuard guard(*prepared);
  int rc;
  while ((rc = sqlite3_step(*prepared)) == SQLITE_ROW) {
  }
  if (rc != SQLITE_DONE) return Error(rc, "execute", text);
  return absl::OkStatus();
}

absl::Status SqliteConnection::Ping(std::string_view query) {
  return RunSimple(query.empty() ? std::string("SELECT 1") : std::string(query));
}

absl::Status SqliteConnection::CleanSession() {
  AccessScope scope(this, Access::kInternal);
  auto names = [&](const char* sql) -> absl::StatusOr<std::vector<std::string>> {
    sqlite3_stmt* s = nullptr;
    int rc = sqlite3_prepare_v2(db_, sql, -1, &s, nullptr);
    std::vector<std::string> out;
    while (rc == SQLITE_OK && (rc = sqlite3_step(s)) == SQLITE_ROW) {
      const unsigned char* p = sqlite3_column_text(s, 0);
      out.emplace_back(p != nullptr ? reinterpret_cast<const char*>(p) : "");
    }
    sqlite3_finalize(s);
    if (rc != SQLITE_DONE) return Error(rc, "reset", sql);
    return out;
  };
  auto run = [&](const std::string& sql) -> absl::Status {
    char* err = nullptr;
    int rc = sqlite3_exec(db_, sql.c_str(), nullptr, nullptr, &err);
    sqlite3_free(err);
    return rc == SQLITE_OK ? absl::OkStatus() : Error(rc, "reset", sql);
  };
  auto attached = names("SELECT name FROM pragma_database_list WHERE name NOT IN ('main', 'temp')");
  if (!attached.ok()) return attached.status();
  for (const std::string& name : *attached) {
    if (auto st = run("DETACH " + QuoteIdent(name)); !st.ok()) return st;
  }
  // Triggers and views first: a TEMP trigger may sit on a main table.
  for (const char* type : {"trigger", "view", "table"}) {
    auto objects = names(absl::StrCat("SELECT name FROM temp.sqlite_schema WHERE type = '", type,
                                      "' AND name NOT LIKE 'sqlite\\_%' ESCAPE '\\'")
                             .c_str());
    if (!objects.ok()) return objects.status();
    for (const std::string& name : *objects) {
      if (auto st = run(absl::StrCat("DROP ", absl::AsciiStrToUpper(type), " IF EXISTS temp.",
                                     QuoteIdent(name)));
          !st.ok()) {
        return st;
      }
    }
  }
  return absl::OkStatus();
}

absl::Status SqliteConnection::Reset() {
  AccessScope scope(this, Access::kInternal);
  cancelled_.store(false, std::memory_order_release);
  timed_out_ = false;
  deadline_ = absl::InfiniteFuture();
  for (Cached& c : lru_) sqlite3_reset(c.stmt);
  if (broken()) {
    return absl::UnavailableError(
        absl::StrCat("sqlite source '", source_, "': connection is broken"));
  }
  if (sqlite3_get_autocommit(db_) == 0) {
    char* err = nullptr;
    int rc = sqlite3_exec(db_, "ROLLBACK", nullptr, nullptr, &err);
    sqlite3_free(err);
    if (rc != SQLITE_OK) {
      absl::Status st = Error(rc, "reset (rollback of the open transaction)");
      broken_.store(true, std::memory_order_release);
      return st;
    }
  }
  if (tainted_) {
    broken_.store(true, std::memory_order_release);
    return absl::FailedPreconditionError(absl::StrCat(
        "sqlite source '", source_,
        "': a PRAGMA (allowed by allow_pragma) changed the session; the connection is closed"));
  }
  if (dirty_) {
    // Whatever a write node left on the session (TEMP tables, views and
    // triggers; attachments under allow_attach) must not reach the next
    // user of the connection. Read nodes cannot leave anything.
    if (absl::Status st = CleanSession(); !st.ok()) {
      broken_.store(true, std::memory_order_release);
      return st;
    }
    dirty_ = false;
  }
  return absl::OkStatus();
}

absl::Status SqliteConnection::Begin(const TxOptions& options) {
  return RunInternal(options.isolation == IsolationLevel::kSerializable ? "BEGIN IMMEDIATE"
                                                                        : "BEGIN");
}
absl::Status SqliteConnection::Commit() { return RunInternal("COMMIT"); }
absl::Status SqliteConnection::Rollback() { return RunInternal("ROLLBACK"); }

absl::Status SqliteConnection::Savepoint(std::string_view name) {
  if (name.empty()) return absl::InvalidArgumentError("empty savepoint name");
  return RunInternal("SAVEPOINT " + QuoteIdent(name));
}
absl::Status SqliteConnection::RollbackToSavepoint(std::string_view name) {
  if (name.empty()) return absl::InvalidArgumentError("empty savepoint name");
  return RunInternal("ROLLBACK TO SAVEPOINT " + QuoteIdent(name));
}
absl::Status SqliteConnection::ReleaseSavepoint(std::string_view name) {
  if (name.empty()) return absl::InvalidArgumentError("empty savepoint name");
  return RunInternal("RELEASE SAVEPOINT " + QuoteIdent(name));
}

}  // namespace qg::sqlite
