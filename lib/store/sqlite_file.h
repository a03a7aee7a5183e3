// Internal: opening the engine's own SQLite files (the persisted catalog, the
// two-phase-commit coordinator log): created with mode 0600 whatever the
// umask (they may hold secrets or transaction ids), synchronous=FULL so a
// committed change survives a crash or power loss, a busy timeout so two
// processes sharing a file wait instead of failing.
#ifndef QG_LIB_STORE_SQLITE_FILE_H_
#define QG_LIB_STORE_SQLITE_FILE_H_

#include <sqlite3.h>

#include <string>
#include <string_view>

#include "absl/status/statusor.h"

namespace qg {

// A prepared statement, finalized on destruction.
class SqliteStmt {
 public:
  SqliteStmt() = default;
  ~SqliteStmt() { sqlite3_finalize(stmt_); }
  SqliteStmt(const SqliteStmt&) = delete;
  SqliteStmt& operator=(const SqliteStmt&) = delete;
  sqlite3_stmt** out() { return &stmt_; }
  sqlite3_stmt* get() const { return stmt_; }

 private:
  sqlite3_stmt* stmt_ = nullptr;
};

// Column `col` of the current row as text ("" for NULL).
std::string SqliteText(sqlite3_stmt* s, int col);
// Binds text (copied).
void SqliteBindText(sqlite3_stmt* s, int i, std::string_view v);

// `what` names the file in errors ("catalog file", "coordinator log"). An
// existing file, and the -journal, -wal and -shm files beside it, are made
// 0600 first; one that cannot be (another owner) is refused.
// The caller owns the handle (sqlite3_close).
absl::StatusOr<sqlite3*> OpenPrivateSqliteFile(const std::string& path, std::string_view what);

// True when the file has no pages yet (just created, or empty).
absl::StatusOr<bool> SqliteFileIsEmpty(sqlite3* db, std::string_view what, const std::string& path);

}  // namespace qg

#endif  // QG_LIB_STORE_SQLITE_FILE_H_
