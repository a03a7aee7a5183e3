// Internal: one session to a MySQL or MariaDB server (MariaDB Connector/C).
//
// Thread contract (qg/provider.h): one thread at a time uses a connection,
// except Cancel(), which any thread may call at any time. Cancel never
// touches the working thread's MYSQL handle: it opens a side connection with
// the same credentials and sends `KILL QUERY <thread id>`, repeating (a few
// times, bounded) while the statement it aimed at is still running, because
// a KILL that lands between statements is forgotten by the server.
//
// Statements are server-side prepared statements (mysql_stmt_*), cached per
// connection by text (the most recent kMaxPrepared). Arguments are bound
// with their MYSQL_TYPE_*; rows are streamed (unbuffered) into the sink,
// with column buffers sized from the metadata and long values fetched whole
// with mysql_stmt_fetch_column, so nothing is truncated.
//
// Idle sessions closed by the server (wait_timeout, KILL) are noticed before
// a statement is sent (the socket is readable while idle) and, outside a
// transaction, replaced by a new session transparently: nothing of ours ran
// on the dead one. Inside a transaction that is kUnavailable + broken().
#ifndef QG_LIB_PROVIDERS_MYSQL_MYSQL_CONNECTION_H_
#define QG_LIB_PROVIDERS_MYSQL_MYSQL_CONNECTION_H_

#include <mysql.h>

#include <atomic>
#include <cstdint>
#include <list>
#include <memory>
#include <string>
#include <string_view>
#include <vector>

#include "absl/base/thread_annotations.h"
#include "absl/container/flat_hash_map.h"
#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/synchronization/mutex.h"
#include "absl/time/time.h"
#include "qg/cost.h"
#include "qg/provider.h"

namespace qg::mysql {

// Everything needed to (re)open a session; the password stays in memory for
// reconnects and cancel side connections and is never printed.
struct Endpoint {
  std::string source;  // the catalog's source name, for messages
  std::string host = "127.0.0.1";
  unsigned int port = 3306;
  std::string dbname;
  std::string unix_socket;
  std::string charset = "utf8mb4";
  std::string ssl_mode;  // "" = the driver's default
  std::string user;
  std::string password;
  absl::Duration connect_timeout = absl::Seconds(10);
  absl::Duration read_timeout = absl::ZeroDuration();   // zero: none
  absl::Duration write_timeout = absl::ZeroDuration();  // zero: none
  absl::Duration statement_timeout = absl::ZeroDuration();
};

// Parses a ConnectRequest (connection string + options) into an Endpoint.
absl::StatusOr<Endpoint> ParseEndpoint(const ConnectRequest& request);

// Maps a server/client error number onto a status code; sets *breaks when
// the session is gone. Exposed for tests.
absl::StatusCode CodeForError(unsigned int err, bool* breaks);

// One side session per source and login through which KILL QUERY is sent
// for every connection of that source, one at a time: cancelling N
// statements at once takes one extra server session, not N (a session per
// cancel kept the server above the pool's size while many graphs were
// cancelled). Open only while some Cancel() uses it (Use), reopened once if
// the server closed it.
class KillLine {
 public:
  explicit KillLine(Endpoint endpoint) : endpoint_(std::move(endpoint)) {}
  ~KillLine();
  KillLine(const KillLine&) = delete;
  KillLine& operator=(const KillLine&) = delete;

  // The line shared by every connection with the same server and login.
  static std::shared_ptr<KillLine> For(const Endpoint& endpoint);

  // Held by a Cancel() for as long as it may send KILL QUERY; the last one
  // to leave closes the side session.
  class Use {
   public:
    explicit Use(KillLine* line);
    ~Use();
    Use(const Use&) = delete;
    Use& operator=(const Use&) = delete;

   private:
    KillLine* line_;
  };

  void KillQuery(unsigned long thread_id);

 private:
  bool Open() ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_);
  void Close() ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_);

  const Endpoint endpoint_;
  absl::Mutex mu_;
  MYSQL* mysql_ ABSL_GUARDED_BY(mu_) = nullptr;
  int users_ ABSL_GUARDED_BY(mu_) = 0;
};

class MysqlConnection final : public Connection {
 public:
  static constexpr size_t kMaxPrepared = 128;
  // A KILL QUERY is repeated at most this many times, waiting this long for
  // the statement to end after each.
  static constexpr int kKillAttempts = 5;
  static constexpr absl::Duration kKillWait = absl::Milliseconds(200);
  // Reset after XA PREPARE waits at most this long for the server to let go
  // of the preparing session.
  static constexpr absl::Duration kDetachWait = absl::Seconds(2);

  static absl::StatusOr<std::unique_ptr<MysqlConnection>> Open(Endpoint endpoint);
  ~MysqlConnection() override;
  MysqlConnection(const MysqlConnection&) = delete;
  MysqlConnection& operator=(const MysqlConnection&) = delete;

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

  // Begins a two-phase-capable transaction: XA START `gid`. MySQL cannot
  // turn a started transaction into an XA one, so the global id must be
  // known at Begin (Begin() calls this when TxOptions carries an xa_gid).
  absl::Status BeginXa(std::string_view gid, const TxOptions& options);

  std::string session_id() const override;

  // EXPLAIN FORMAT=JSON of `stmt` with `args` (mysql_cost.cc).
  absl::StatusOr<CostEstimate> EstimateCost(const Statement& stmt,
                                            const std::vector<BoundArg>& args) override;

  bool is_mariadb() const { return is_mariadb_; }
  size_t cached_statements() const { return lru_.size(); }

 private:
  enum class XaState { kNone, kActive, kPrepared };
  struct Cached {
    std::string text;
    MYSQL_STMT* stmt;
  };

  explicit MysqlConnection(Endpoint endpoint);

  // Opens (or reopens) the session on mysql_; configures it.
  absl::Status Connect();
  void CloseSession();
  // Before sending a statement: replaces a session the server closed while
  // it sat idle (outside a transaction), else fails.
  absl::Status EnsureAlive();
  absl::StatusOr<MYSQL_STMT*> Prepare(const std::string& text);
  // Runs utility SQL over the text protocol (no values: only identifiers we
  // quote and ids we hex-encode), discarding any rows.
  absl::Status Simple(std::string_view what, const std::string& sql, bool check_cancel = true);
  // Runs text-protocol SQL returning rows of raw bytes.
  absl::StatusOr<std::vector<std::vector<std::string>>> QueryRows(std::string_view what,
                                                                  const std::string& sql);
  absl::Status ConnError(std::string_view what, std::string_view sql = {});
  absl::Status StmtError(MYSQL_STMT* s, std::string_view what, std::string_view sql);
  absl::Status MakeError(unsigned int err, const char* sqlstate, const char* msg,
                         std::string_view what, std::string_view sql);
  absl::Status CancelledStatus() const;
  bool InTransaction();
  const Endpoint endpoint_;
  const std::shared_ptr<KillLine> kill_line_;
  MYSQL* mysql_ = nullptr;
  bool is_mariadb_ = true;
  std::atomic<unsigned long> thread_id_{0};
  std::atomic<bool> broken_{false};

  absl::Mutex mu_;
  bool cancelled_ ABSL_GUARDED_BY(mu_) = false;
  bool in_flight_ ABSL_GUARDED_BY(mu_) = false;
  uint64_t exec_seq_ ABSL_GUARDED_BY(mu_) = 0;
  // Cancel() calls still sending KILL QUERY. Reset() waits for them, so a
  // KILL aimed at a cancelled statement never lands on the next one (it would
  // end a later SLEEP() early with no error).
  int killers_ ABSL_GUARDED_BY(mu_) = 0;

  // Session settings made at connect and after each reset: read-only by
  // default, the statement timeout.
  absl::Status SetupSession();
  const char* ReadOnlyVariable() const;
  // A read inside a transaction (which MariaDB cannot make read-only) must
  // start as a query; see the .cc.
  absl::Status CheckReadText(std::string_view text) const;

  bool session_read_only_ = true;  // the session's default access mode, as we set it
  bool dirty_ = false;             // something ran since the last reset

  bool in_tx_ = false;  // Begin() ran and no Commit/Rollback yet
  XaState xa_ = XaState::kNone;
  std::string xa_gid_;

  std::list<Cached> lru_;  // front: most recently used
  absl::flat_hash_map<std::string, std::list<Cached>::iterator> cache_;
};

// Refuses a statement that would begin, end or split the engine's
// transaction (BEGIN, START, COMMIT, ROLLBACK, SAVEPOINT, RELEASE, XA, LOCK,
// UNLOCK): MariaDB prepares them through the binary protocol.
absl::Status CheckNoTransactionControl(std::string_view sql);

// `bytes` as a hex string literal X'..' (for XA ids: never spliced raw).
std::string HexLiteral(std::string_view bytes);

}  // namespace qg::mysql

#endif  // QG_LIB_PROVIDERS_MYSQL_MYSQL_CONNECTION_H_
