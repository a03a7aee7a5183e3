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
                                            const std::vector<BoundArg>& args);

  // Number of statements in the prepared-statement cache (for tests).
  size_t cached_statements() const { return lru_.size(); }

 private:
  SqliteConnection(sqlite3* db, std::string source, absl::Duration statement_timeout);

  struct Cached {
    std::string text;
    sqlite3_stmt* stmt;
  };

  static int ProgressHandler(void* self);
  absl::StatusOr<sqlite3_stmt*> Prepare(const std::string& text);
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

  std::list<Cached> lru_;  // front: most recently used
  absl::flat_hash_map<std::string, std::list<Cached>::iterator> cache_;
  absl::flat_hash_map<std::string, double> table_rows_;  // estimator cache
};

}  // namespace qg::sqlite

#endif  // QG_LIB_PROVIDERS_SQLITE_SQLITE_CONNECTION_H_
