// Internal: one SQLite session (see sqlite_provider.h).
#ifndef QG_LIB_PROVIDERS_SQLITE_SQLITE_CONNECTION_H_
#define QG_LIB_PROVIDERS_SQLITE_SQLITE_CONNECTION_H_

#include <sqlite3.h>

#include <atomic>
#include <cstdint>
#include <list>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "absl/container/flat_hash_map.h"
#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/time/time.h"
#include "qg/provider.h"

namespace qg::sqlite {

struct ConnectOptions {
  absl::Duration busy_timeout = absl::Seconds(5);
  std::string journal_mode;  // "" = SQLite's default
  bool read_only = false;
  bool create = false;
  std::optional<bool> foreign_keys;
  // Page cache per connection in KiB and memory-mapped I/O in bytes. SQLite's
  // defaults (2 MiB cache, no mmap) make every pooled connection re-read the
  // same B-tree pages with pread; a dependent lookup probes an index once per
  // binding, so a warm cache is most of its cost.
  int64_t cache_kib = 65536;
  int64_t mmap_bytes = int64_t{256} << 20;
  // Escape hatches, closed by default: ATTACH/DETACH (and VACUUM, which
  // attaches) and PRAGMAs that change state, for write nodes only.
  bool allow_attach = false;
  bool allow_pragma = false;
};

// Parses the provider's options (see sqlite_provider.h).
absl::StatusOr<ConnectOptions> ParseOptions(const std::map<std::string, std::string>& options);

class SqliteConnection : public Connection {
 public:
  static constexpr size_t kStatementCacheSize = 128;
  // The progress handler runs every this many VM steps to notice a cancel
  // that raced the statement's start, and the statement timeout.
  static constexpr int kProgressSteps = 1000;

  static absl::StatusOr<std::unique_ptr<SqliteConnection>> Open(const ConnectRequest& request);
  ~SqliteConnection() override;
  SqliteConnection(const SqliteConnection&) = delete;
  SqliteConnection& operator=(const SqliteConnection&) = delete;

  absl::Status Execute(const Statement& stmt, const std::vector<BoundArg>& args, RowSink* sink,
                       ExecStats* stats) override;
  void Cancel() override;
  absl::Status Ping(std::string_view query) override;
  absl::Status Reset() override;
  bool broken() const override { return broken_.load(std::memory_order_acquire); }

  absl::Status Begin(const TxOptions& options) override;
  absl::Status Commit() override;
  absl::Status Rollback() override;
  absl::Status Savepoint(std::string_view name) override;
  absl::Status RollbackToSavepoint(std::string_view name) override;
  absl::Status ReleaseSavepoint(std::string_view name) override;

  // Cost estimation through EXPLAIN QUERY PLAN (sqlite_cost.cc).
  absl::StatusOr<CostEstimate> EstimateCost(const Statement& stmt,
                                            const std::vector<BoundArg>& args) override;

  // Number of statements in the prepared-statement cache (for tests).
  size_t cached_statements() const { return lru_.size(); }

 private:
  // What the statement being prepared or run may do, enforced by the
  // authorizer (see Authorize in sqlite_connection.cc).
  enum class Access {
    kRead,      // a read node: no change of data, schema, pragma or session
    kWrite,     // a write node: data and schema, no escape hatch unless allowed
    kInternal,  // the provider's own statements (transactions, reset)
  };
  // Sets the access for a scope and restores the previous one.
  class AccessScope {
   public:
    AccessScope(SqliteConnection* c, Access a) : c_(c), saved_(c->access_) { c_->access_ = a; }
    ~AccessScope() { c_->access_ = saved_; }
    AccessScope(const AccessScope&) = delete;
    AccessScope& operator=(const AccessScope&) = delete;

   private:
    SqliteConnection* c_;
    Access saved_;
  };

  SqliteConnection(sqlite3* db, std::string source, absl::Duration statement_timeout,
                   const ConnectOptions& options);

  static int Authorizer(void* self, int action, const char* a1, const char* a2, const char* db,
                        const char* trigger);
  int Authorize(int action, const char* a1, const char* a2);
  // Prepares (or finds in the cache) `text` for `access`.
  absl::StatusOr<sqlite3_stmt*> PrepareAs(const std::string& text, Access access);
  // kUnavailable once broken, kCancelled after Cancel() until Reset().
  absl::Status CheckUsable() const;
  // Runs one of the provider's own statements (no rows).
  absl::Status RunInternal(const std::string& text);
  // Drops what a user left on the session: attachments, TEMP objects.
  absl::Status CleanSession();

  struct Cached {
    std::string text;
    sqlite3_stmt* stmt;
  };

  static int ProgressHandler(void* self);
  absl::Status RunSimple(const std::string& text);
  // Maps the connection's last error (`rc` from a call) to a status.
  absl::Status Error(int rc, std::string_view what, std::string_view sql = {});
  absl::Status Bind(sqlite3_stmt* s, int index, const Value& v);

  // Helpers for the cost estimator: one-off statements, not cached.
  absl::StatusOr<std::optional<std::string>> QueryText(const std::string& sql,
                                                       const std::vector<std::string>& binds);
  double TableRows(const std::string& table);
  bool IsTable(const std::string& name);
  std::string ResolveTable(const std::string& name, std::string_view sql_text);
  double RowsPerLookup(const std::string& table, const std::string& index, int eq_terms,
                       bool* used_stats);

  sqlite3* const db_;
  const std::string source_;
  const absl::Duration statement_timeout_;
  std::atomic<bool> cancelled_{false};
  std::atomic<bool> broken_{false};
  // Per execution, read by the progress handler on the executing thread.
  absl::Time deadline_ = absl::InfiniteFuture();
  bool timed_out_ = false;

  const bool allow_attach_;
  const bool allow_pragma_;
  Access access_ = Access::kRead;
  bool in_prepare_ = false;  // inside our sqlite3_prepare of a user's text
  std::string denied_;       // why the authorizer last said no
  // A user statement ran as a write since the last Reset (it may have left
  // TEMP objects or attachments for Reset to drop).
  bool dirty_ = false;
  // A PRAGMA allowed by allow_pragma changed the session: Reset cannot know
  // how to undo it, so the connection is closed instead of pooled.
  bool tainted_ = false;

  std::list<Cached> lru_;  // front: most recently used, keyed access tag + text
  std::string key_;        // PrepareAs's lookup key, reused
  absl::flat_hash_map<std::string, std::list<Cached>::iterator> cache_;
  absl::flat_hash_map<std::string, double> table_rows_;  // estimator cache
};

}  // namespace qg::sqlite

#endif  // QG_LIB_PROVIDERS_SQLITE_SQLITE_CONNECTION_H_
