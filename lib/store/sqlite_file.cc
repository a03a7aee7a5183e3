#include "store/sqlite_file.h"

#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>

#include "fmt/format.h"

namespace qg {

std::string SqliteText(sqlite3_stmt* s, int col) {
  const unsigned char* p = sqlite3_column_text(s, col);
  return p == nullptr ? std::string()
                      : std::string(reinterpret_cast<const char*>(p),
                                    static_cast<size_t>(sqlite3_column_bytes(s, col)));
}

void SqliteBindText(sqlite3_stmt* s, int i, std::string_view v) {
  sqlite3_bind_text(s, i, v.data(), static_cast<int>(v.size()), SQLITE_TRANSIENT);
}

namespace {

// Makes an existing file (the database, or a side file SQLite left beside
// it) readable by its owner only, before anything secret is written to it.
// A file this process cannot chmod (another owner) is refused.
absl::Status MakePrivate(const std::string& file, std::string_view what, bool must_exist) {
  const int fd = ::open(file.c_str(), O_RDONLY | O_CLOEXEC | (must_exist ? 0 : O_NOFOLLOW));
  if (fd < 0) {
    const int err = errno;
    if (!must_exist && err == ENOENT) return absl::OkStatus();
    return absl::FailedPreconditionError(
        fmt::format("{} {}: cannot open to check its mode: {}", what, file, std::strerror(err)));
  }
  struct stat st {};
  absl::Status result;
  if (::fstat(fd, &st) != 0) {
    result = absl::FailedPreconditionError(
        fmt::format("{} {}: cannot stat: {}", what, file, std::strerror(errno)));
  } else if (!S_ISREG(st.st_mode)) {
    result = absl::FailedPreconditionError(fmt::format("{} {}: not a regular file", what, file));
  } else if ((st.st_mode & 077) != 0 && ::fchmod(fd, 0600) != 0) {
    const int err = errno;
    result = absl::PermissionDeniedError(fmt::format(
        "{} {}: mode {:o} lets other users read it and it cannot be made 0600 ({}); refused "
        "(it may hold passwords)",
        what, file, st.st_mode & 0777, std::strerror(err)));
  }
  ::close(fd);
  return result;
}

}  // namespace

absl::StatusOr<sqlite3*> OpenPrivateSqliteFile(const std::string& path, std::string_view what) {
  if (path.empty()) return absl::InvalidArgumentError(fmt::format("{}: empty path", what));
  // Create the file ourselves so its mode is 0600 whatever the umask;
  // SQLite would create it with 0644 & ~umask.
  int fd = ::open(path.c_str(), O_RDWR | O_CREAT | O_EXCL | O_CLOEXEC, 0600);
  if (fd >= 0) {
    const bool chmod_ok = ::fchmod(fd, 0600) == 0;
    const int err = errno;
    ::close(fd);
    if (!chmod_ok) {
      ::unlink(path.c_str());
      return absl::PermissionDeniedError(
          fmt::format("{} {}: cannot set mode 0600: {}", what, path, std::strerror(err)));
    }
  } else if (errno != EEXIST) {
    const int err = errno;
    return absl::Status(
        err == EACCES ? absl::StatusCode::kPermissionDenied : absl::StatusCode::kFailedPrecondition,
        fmt::format("{} {}: cannot create: {}", what, path, std::strerror(err)));
  } else {
    // An existing file (an older version's, a copy, a restore) may be
    // readable by others: 0600 before SQLite opens it, its journal and WAL
    // too (SQLite gives new side files the database file's mode).
    if (absl::Status st = MakePrivate(path, what, /*must_exist=*/true); !st.ok()) return st;
    for (const char* suffix : {"-journal", "-wal", "-shm"}) {
      if (absl::Status st = MakePrivate(path + suffix, what, /*must_exist=*/false); !st.ok()) {
        return st;
      }
    }
  }
  sqlite3* db = nullptr;
  const int rc =
      sqlite3_open_v2(path.c_str(), &db, SQLITE_OPEN_READWRITE | SQLITE_OPEN_FULLMUTEX, nullptr);
  if (rc != SQLITE_OK) {
    const std::string msg = db != nullptr ? sqlite3_errmsg(db) : sqlite3_errstr(rc);
    sqlite3_close(db);
    return absl::FailedPreconditionError(fmt::format("{} {}: cannot open: {}", what, path, msg));
  }
  sqlite3_busy_timeout(db, 5000);
  sqlite3_extended_result_codes(db, 0);
  char* err = nullptr;
  const int prc = sqlite3_exec(db, "PRAGMA synchronous = FULL", nullptr, nullptr, &err);
  if (prc != SQLITE_OK) {
    const std::string msg = err != nullptr ? err : "unknown error";
    sqlite3_free(err);
    sqlite3_close(db);
    if (prc == SQLITE_NOTADB || prc == SQLITE_CORRUPT) {
      return absl::DataLossError(fmt::format(
          "{} {}: not an SQLite database (corrupt, or another kind of file)", what, path));
    }
    return absl::FailedPreconditionError(
        fmt::format("{} {}: setting synchronous=FULL: {}", what, path, msg));
  }
  return db;
}

absl::StatusOr<bool> SqliteFileIsEmpty(sqlite3* db, std::string_view what,
                                       const std::string& path) {
  sqlite3_stmt* s = nullptr;
  int rc = sqlite3_prepare_v2(db, "PRAGMA page_count", -1, &s, nullptr);
  if (rc == SQLITE_OK) rc = sqlite3_step(s);
  if (rc != SQLITE_ROW) {
    const std::string msg = sqlite3_errmsg(db);
    sqlite3_finalize(s);
    return absl::DataLossError(
        fmt::format("{} {}: not a readable SQLite file: {}", what, path, msg));
  }
  const bool empty = sqlite3_column_int64(s, 0) == 0;
  sqlite3_finalize(s);
  return empty;
}

}  // namespace qg
