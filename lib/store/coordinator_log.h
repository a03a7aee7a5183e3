// Internal: the two-phase-commit coordinator log (docs/design.md §10) — a SQLite
// file (mode 0600, synchronous=FULL) recording, per 2pc graph, the
// participants before the first PREPARE and the commit decision before the
// first COMMIT PREPARED. Engine::Recover() reads it back after a crash.
//
// A record without a commit decision means "roll back": the graph failed or
// the coordinator died before deciding. Records are removed once every
// participant is resolved.
//
// Thread-safety: all methods may be called from many threads; several
// processes may share the file (SQLite locking, 5 s busy timeout).
#ifndef QG_LIB_STORE_COORDINATOR_LOG_H_
#define QG_LIB_STORE_COORDINATOR_LOG_H_

#include <sqlite3.h>

#include <memory>
#include <string>
#include <string_view>
#include <vector>

#include "absl/base/thread_annotations.h"
#include "absl/status/statusor.h"
#include "absl/synchronization/mutex.h"

namespace qg {

struct LoggedParticipant {
  std::string source;
  std::string local_user;  // the caller's user: selects the same user mapping again
  std::string gid;         // "" for the last resource (it cannot prepare)
  bool last_resource = false;
};

struct LoggedTransaction {
  std::string id;
  bool commit = false;  // the decision; false: none yet (= roll back)
  std::vector<LoggedParticipant> participants;
};

class CoordinatorLog {
 public:
  // Creates the file and its schema on first use; refuses a file that is not
  // a coordinator log of a known version.
  static absl::StatusOr<std::unique_ptr<CoordinatorLog>> Open(const std::string& path);
  ~CoordinatorLog();
  CoordinatorLog(const CoordinatorLog&) = delete;
  CoordinatorLog& operator=(const CoordinatorLog&) = delete;

  // Records the participants (decision: none). Durable when it returns.
  absl::Status Begin(const LoggedTransaction& tx);
  // Records the commit decision. Durable when it returns.
  absl::Status DecideCommit(std::string_view id);
  // Removes a resolved transaction.
  absl::Status Forget(std::string_view id);
  // Every record, oldest first.
  absl::StatusOr<std::vector<LoggedTransaction>> List();

  const std::string& path() const { return path_; }

 private:
  CoordinatorLog(std::string path, sqlite3* db) : path_(std::move(path)), db_(db) {}
  absl::Status Exec(const char* sql, std::string_view what) ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_);
  absl::Status Error(std::string_view what) const ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_);

  const std::string path_;
  absl::Mutex mu_;
  sqlite3* db_ ABSL_GUARDED_BY(mu_);
};

}  // namespace qg

#endif  // QG_LIB_STORE_COORDINATOR_LOG_H_
