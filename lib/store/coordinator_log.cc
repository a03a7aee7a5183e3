#include "store/coordinator_log.h"

#include <utility>

#include "absl/time/clock.h"
#include "common/status_macros.h"
#include "fmt/format.h"
#include "store/sqlite_file.h"

namespace qg {
namespace {

constexpr int kSchemaVersion = 1;
constexpr const char* kWhat = "coordinator log";

constexpr const char* kSchema = R"sql(
CREATE TABLE meta (
  key TEXT PRIMARY KEY,
  value TEXT NOT NULL
);
CREATE TABLE transactions (
  id TEXT PRIMARY KEY,
  decision TEXT NOT NULL CHECK (decision IN ('none', 'commit')),
  created_unix_ms INTEGER NOT NULL
);
CREATE TABLE participants (
  tx_id TEXT NOT NULL,
  position INTEGER NOT NULL,
  source TEXT NOT NULL,
  local_user TEXT NOT NULL,
  gid TEXT NOT NULL,
  last_resource INTEGER NOT NULL,
  PRIMARY KEY (tx_id, position)
);
)sql";

using Stmt = SqliteStmt;
void BindText(sqlite3_stmt* s, int i, std::string_view v) { SqliteBindText(s, i, v); }
std::string Text(sqlite3_stmt* s, int col) { return SqliteText(s, col); }

}  // namespace

absl::StatusOr<std::unique_ptr<CoordinatorLog>> CoordinatorLog::Open(const std::string& path) {
  QG_ASSIGN_OR_RETURN(sqlite3 * db, OpenPrivateSqliteFile(path, kWhat));
  std::unique_ptr<CoordinatorLog> log(new CoordinatorLog(path, db));
  absl::MutexLock lock(&log->mu_);
  QG_ASSIGN_OR_RETURN(bool empty, SqliteFileIsEmpty(db, kWhat, path));
  if (empty) {
    QG_RETURN_IF_ERROR(log->Exec("BEGIN IMMEDIATE", "creating the log"));
    absl::Status st = log->Exec(kSchema, "creating the log");
    if (st.ok()) {
      const std::string meta = fmt::format(
          "INSERT INTO meta (key, value) VALUES ('schema_version', '{}'), "
          "('application', 'qgraph coordinator log')",
          kSchemaVersion);
      st = log->Exec(meta.c_str(), "creating the log");
    }
    if (st.ok()) st = log->Exec("COMMIT", "creating the log");
    if (!st.ok()) {
      sqlite3_exec(db, "ROLLBACK", nullptr, nullptr, nullptr);
      return st;
    }
    return log;
  }
  Stmt s;
  if (sqlite3_prepare_v2(db, "SELECT value FROM meta WHERE key = 'application'", -1, s.out(),
                         nullptr) != SQLITE_OK ||
      sqlite3_step(s.get()) != SQLITE_ROW || Text(s.get(), 0) != "qgraph coordinator log") {
    return absl::FailedPreconditionError(
        fmt::format("{} {}: not a qgraph coordinator log", kWhat, path));
  }
  Stmt v;
  if (sqlite3_prepare_v2(db, "SELECT value FROM meta WHERE key = 'schema_version'", -1, v.out(),
                         nullptr) != SQLITE_OK ||
      sqlite3_step(v.get()) != SQLITE_ROW) {
    return absl::FailedPreconditionError(fmt::format("{} {}: no schema version", kWhat, path));
  }
  const std::string version = Text(v.get(), 0);
  if (version != std::to_string(kSchemaVersion)) {
    return absl::FailedPreconditionError(
        fmt::format("{} {}: schema version {} is not supported (this build reads version {})",
                    kWhat, path, version, kSchemaVersion));
  }
  return log;
}

CoordinatorLog::~CoordinatorLog() {
  absl::MutexLock lock(&mu_);
  sqlite3_close(db_);
}

absl::Status CoordinatorLog::Error(std::string_view what) const {
  return absl::UnavailableError(
      fmt::format("{} {}: {}: {}", kWhat, path_, what, sqlite3_errmsg(db_)));
}

absl::Status CoordinatorLog::Exec(const char* sql, std::string_view what) {
  if (sqlite3_exec(db_, sql, nullptr, nullptr, nullptr) != SQLITE_OK) return Error(what);
  return absl::OkStatus();
}

absl::Status CoordinatorLog::Begin(const LoggedTransaction& tx) {
  absl::MutexLock lock(&mu_);
  QG_RETURN_IF_ERROR(Exec("BEGIN IMMEDIATE", "recording the participants"));
  auto fail = [&](std::string_view what) {
    absl::Status st = Error(what);
    sqlite3_exec(db_, "ROLLBACK", nullptr, nullptr, nullptr);
    return st;
  };
  {
    Stmt s;
    if (sqlite3_prepare_v2(db_,
                           "INSERT INTO transactions (id, decision, created_unix_ms) "
                           "VALUES (?, 'none', ?)",
                           -1, s.out(), nullptr) != SQLITE_OK) {
      return fail("recording the transaction");
    }
    BindText(s.get(), 1, tx.id);
    sqlite3_bind_int64(s.get(), 2, absl::ToUnixMillis(absl::Now()));
    if (sqlite3_step(s.get()) != SQLITE_DONE) return fail("recording the transaction");
  }
  for (size_t i = 0; i < tx.participants.size(); ++i) {
    const LoggedParticipant& p = tx.participants[i];
    Stmt s;
    if (sqlite3_prepare_v2(db_,
                           "INSERT INTO participants (tx_id, position, source, local_user, gid, "
                           "last_resource) VALUES (?, ?, ?, ?, ?, ?)",
                           -1, s.out(), nullptr) != SQLITE_OK) {
      return fail("recording a participant");
    }
    BindText(s.get(), 1, tx.id);
    sqlite3_bind_int64(s.get(), 2, static_cast<int64_t>(i));
    BindText(s.get(), 3, p.source);
    BindText(s.get(), 4, p.local_user);
    BindText(s.get(), 5, p.gid);
    sqlite3_bind_int(s.get(), 6, p.last_resource ? 1 : 0);
    if (sqlite3_step(s.get()) != SQLITE_DONE) return fail("recording a participant");
  }
  absl::Status st = Exec("COMMIT", "recording the participants");
  if (!st.ok()) sqlite3_exec(db_, "ROLLBACK", nullptr, nullptr, nullptr);
  return st;
}

absl::Status CoordinatorLog::DecideCommit(std::string_view id) {
  absl::MutexLock lock(&mu_);
  Stmt s;
  if (sqlite3_prepare_v2(db_, "UPDATE transactions SET decision = 'commit' WHERE id = ?", -1,
                         s.out(), nullptr) != SQLITE_OK) {
    return Error("recording the commit decision");
  }
  BindText(s.get(), 1, id);
  if (sqlite3_step(s.get()) != SQLITE_DONE) return Error("recording the commit decision");
  if (sqlite3_changes(db_) != 1) {
    return absl::InternalError(
        fmt::format("{} {}: transaction {} is not in the log", kWhat, path_, id));
  }
  return absl::OkStatus();
}

absl::Status CoordinatorLog::Forget(std::string_view id) {
  absl::MutexLock lock(&mu_);
  QG_RETURN_IF_ERROR(Exec("BEGIN IMMEDIATE", "removing a resolved transaction"));
  for (const char* sql :
       {"DELETE FROM participants WHERE tx_id = ?", "DELETE FROM transactions WHERE id = ?"}) {
    Stmt s;
    if (sqlite3_prepare_v2(db_, sql, -1, s.out(), nullptr) != SQLITE_OK) {
      absl::Status st = Error("removing a resolved transaction");
      sqlite3_exec(db_, "ROLLBACK", nullptr, nullptr, nullptr);
      return st;
    }
    BindText(s.get(), 1, id);
    if (sqlite3_step(s.get()) != SQLITE_DONE) {
      absl::Status st = Error("removing a resolved transaction");
      sqlite3_exec(db_, "ROLLBACK", nullptr, nullptr, nullptr);
      return st;
    }
  }
  return Exec("COMMIT", "removing a resolved transaction");
}

absl::StatusOr<std::vector<LoggedTransaction>> CoordinatorLog::List() {
  absl::MutexLock lock(&mu_);
  std::vector<LoggedTransaction> out;
  Stmt s;
  if (sqlite3_prepare_v2(db_,
                         "SELECT t.id, t.decision, p.source, p.local_user, p.gid, p.last_resource "
                         "FROM transactions t LEFT JOIN participants p ON p.tx_id = t.id "
                         "ORDER BY t.created_unix_ms, t.id, p.position",
                         -1, s.out(), nullptr) != SQLITE_OK) {
    return Error("reading");
  }
  int rc;
  while ((rc = sqlite3_step(s.get())) == SQLITE_ROW) {
    std::string id = Text(s.get(), 0);
    if (out.empty() || out.back().id != id) {
      LoggedTransaction tx;
      tx.id = id;
      tx.commit = Text(s.get(), 1) == "commit";
      out.push_back(std::move(tx));
    }
    if (sqlite3_column_type(s.get(), 2) == SQLITE_NULL) continue;
    LoggedParticipant p;
    p.source = Text(s.get(), 2);
    p.local_user = Text(s.get(), 3);
    p.gid = Text(s.get(), 4);
    p.last_resource = sqlite3_column_int(s.get(), 5) != 0;
    out.back().participants.push_back(std::move(p));
  }
  if (rc != SQLITE_DONE) return Error("reading");
  return out;
}

}  // namespace qg
