// Internal: one session to a PostgreSQL server (libpqxx 6.4 over libpq).
//
// Thread contract (qg/provider.h): one thread at a time uses a connection,
// except Cancel(), which any thread may call at any time. Cancel uses a
// PGcancel object copied at connect time, so it never touches the PGconn the
// working thread is using. A cancel request that reaches the server between
// two round trips of one Execute (e.g. after PREPARE, before EXECUTE) would
// be ignored, so Cancel() repeats it every 50 ms (up to 2 s, from a detached
// thread) while that Execute is still in flight; a read that completes after
// Cancel() still reports kCancelled.
//
// Access mode: the session starts with default_transaction_read_only=on,
// so reads outside a transaction are read-only, enforced by the server;
// writes switch the session default off (checked with no round trip: the
// server reports the setting), transactions begin READ WRITE, and a read
// inside one runs under SAVEPOINT qg_ro + SET TRANSACTION READ ONLY.
//
// Reset (return to the pool) restores a clean session in one request; see
// kResetSql in the .cc for what it undoes and when it falls back to DISCARD
// ALL (then the statement cache is dropped too).
//
// Statements are prepared once per connection (names qg_1, qg_2, ...; the
// cache keeps the most recent kMaxPrepared texts). Arguments are bound as
// text parameters, bytea as binary, batched keys as one array literal
// ({1,2,3}) for `col = ANY($n)`. Statements run on libpq directly (libpqxx
// 6.4 has no single-row mode): prepared once, executed, and their rows
// converted and handed to the sink as they arrive, never held whole.
#ifndef QG_LIB_PROVIDERS_POSTGRES_POSTGRES_CONNECTION_H_
#define QG_LIB_PROVIDERS_POSTGRES_POSTGRES_CONNECTION_H_

#include <atomic>
#include <cstdint>
#include <deque>
#include <memory>
#include <string>
#include <string_view>
#include <vector>

#include "absl/base/thread_annotations.h"
#include "absl/container/flat_hash_map.h"
#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/synchronization/mutex.h"
#include "providers/postgres/pg_types.h"
#include "qg/cost.h"
#include "qg/provider.h"

struct pg_result;  // libpq's PGresult

namespace qg::pg {

class OwnedConn;  // the libpqxx connection (defined in the .cc)

struct PgHandles;    // libpq handles captured at connect time
struct CancelState;  // what Cancel() needs, shared with its retry thread

class PostgresConnection final : public Connection {
 public:
  // Opens a session. Errors never contain the password.
  static absl::StatusOr<std::unique_ptr<PostgresConnection>> Open(const ConnectRequest& request);
  ~PostgresConnection() override;

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
  absl::Status PrepareTransaction(std::string_view gid) override;
  absl::Status CommitPrepared(std::string_view gid) override;
  absl::Status RollbackPrepared(std::string_view gid) override;
  absl::StatusOr<std::vector<std::string>> ListPrepared(std::string_view prefix) override;

  std::string session_id() const override { return session_id_; }

  // EXPLAIN (FORMAT JSON) of `stmt`: with the given arguments when all are
  // non-null (a custom plan), else the generic plan.
  absl::StatusOr<CostEstimate> EstimateCost(const Statement& stmt,
                                            const std::vector<BoundArg>& args) override;

  static constexpr size_t kMaxPrepared = 128;

  // Sessions replaced because the server had closed them while idle.
  int reconnects() const { return reconnects_; }

 private:
  explicit PostgresConnection(std::string source);

  // Runs `fn` (which may throw pqxx exceptions) as one request to the
  // server, honouring the cancel flag; maps exceptions to a status.
  template <typename Fn>
  absl::Status Run(std::string_view what, Fn&& fn);
  absl::Status MapException(std::string_view what);
  // A server or driver error as a status (SQLSTATE kept in the message);
  // `lost` marks the connection broken.
  absl::Status MapError(std::string_view what, const std::string& state, const std::string& raw,
                        bool lost);
  // The error of a failed libpq result (or of the connection when null).
  absl::Status RawError(std::string_view what, const pg_result* r);
  // Runs a statement without parameters or rows on libpq directly.
  absl::Status RawCommand(std::string_view what, const std::string& sql);
  // Reads the results of the statement just sent: rows to `sink` as they
  // arrive; after an error (the server's or the sink's) the rest is drained
  // so the session stays usable.
  absl::Status ReadResults(RowSink* sink, ExecStats* stats, bool is_write);
  // Runs one utility statement (BEGIN, COMMIT, ...).
  absl::StatusOr<std::string> Simple(std::string_view what, const std::string& sql);
  // The transaction state from libpq (no round trip).
  bool InTransaction() const;
  bool TransactionFailed() const;
  // `text` as a quoted SQL string literal (for utility statements that take
  // no parameters, like PREPARE TRANSACTION).
  std::string Literal(std::string_view text) const;
  absl::StatusOr<TypeInfo> LookupType(uint32_t oid, void* tx);
  // Before a statement: if the server closed this session while it sat idle
  // (idle_session_timeout, a restart, pg_terminate_backend), the socket is
  // readable; with no transaction open nothing is lost, so reconnect in
  // place. Otherwise (or if reconnecting fails) the connection is broken.
  absl::Status EnsureLive();

  std::string source_;
  ConnectRequest request_;  // for reconnecting an idle session; holds the password
  int reconnects_ = 0;
  std::unique_ptr<OwnedConn> conn_;
  std::shared_ptr<PgHandles> handles_;
  std::shared_ptr<CancelState> cstate_;
  std::string session_id_;

  std::atomic<bool> cancelled_{false};
  std::atomic<bool> broken_{false};

  // Inside a transaction, before a statement: a read gets a fresh read-only
  // subtransaction, a write ends one (see the .cc). Outside, the session
  // default_transaction_read_only is switched to what the statement needs.
  absl::Status SetAccessMode(bool write, bool in_tx, int64_t* round_trips);
  // "RELEASE SAVEPOINT qg_ro; " when a read left its subtransaction open.
  std::string EndReadOnly();
  static constexpr char kReadOnlySavepoint[] = "qg_ro";

  bool dirty_ = false;         // something ran since the last Reset
  bool ro_savepoint_ = false;  // a read's read-only subtransaction is open
  uint64_t next_statement_ = 1;
  absl::flat_hash_map<std::string, std::string> prepared_;  // text -> name
  std::deque<std::string> prepared_order_;                  // texts, oldest first
  absl::flat_hash_map<uint32_t, TypeInfo> types_;           // non-builtin OIDs
};

// Maps an error of the server or driver onto a status. `sqlstate` may be
// empty. Exposed for tests.
absl::StatusCode CodeForSqlState(std::string_view sqlstate, std::string_view message,
                                 bool cancel_requested);

}  // namespace qg::pg

#endif  // QG_LIB_PROVIDERS_POSTGRES_POSTGRES_CONNECTION_H_
