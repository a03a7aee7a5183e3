// qg/provider.h — the interface every data source kind implements.
//
// A Provider is one kind of source (sqlite, postgres, mysql, http, csv, or a
// host's own). A data source in the catalog is a provider plus a connection
// string and options. The engine talks to providers only through this header:
// providers know nothing of the planner or of each other.
//
// Roles:
//   Provider    stateless factory and compiler; shared by every source of its
//               kind on one engine. Thread-safe: all const members and
//               Connect() may be called from any thread at once.
//   Connection  one session to a source, used by one thread at a time (the
//               pool hands it out exclusively), except Cancel(), which any
//               thread may call at any time.
//   Statement   a compiled query: native text plus how to build its arguments.
//
// Capabilities are declared, never faked (like SQLite's xBestIndex
// negotiation): the planner reads them and plans around what is missing.
// Transaction and 2PC members default to kUnimplemented.
//
// Errors follow docs/design.md §15: kUnavailable (source down/connection broken —
// retry), kAborted (serialization failure/deadlock — retry the graph),
// kDeadlineExceeded, kCancelled, kInvalidArgument (bad query), kNotFound, ...
// No exception may leave a provider.
//
// Example (a minimal custom provider): see examples/custom_provider.cc.
#ifndef QG_PROVIDER_H_
#define QG_PROVIDER_H_

#include <cstddef>
#include <cstdint>
#include <map>
#include <memory>
#include <string>
#include <string_view>
#include <vector>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/time/time.h"
#include "qg/cost.h"
#include "qg/export.h"
#include "qg/graph.h"
#include "qg/placeholders.h"
#include "qg/value.h"

namespace qg {

struct ColumnInfo {
  std::string name;
  ValueType type = ValueType::kNull;  // kNull: not known up front (dynamic typing)
  std::string native_type;            // e.g. "numeric(38,10)", "BIGINT UNSIGNED"
};

// Receives a statement's rows as they are fetched.
class QG_EXPORT RowSink {
 public:
  virtual ~RowSink() = default;
  // Called exactly once per execution, before any row (also when empty).
  virtual absl::Status OnColumns(const std::vector<ColumnInfo>& columns) = 0;
  // One row, columns in OnColumns order. The sink may move values out. An
  // error (e.g. a result limit) makes the provider stop the statement and
  // return that error.
  virtual absl::Status OnRow(std::vector<Value>& row) = 0;
  // Optional, between OnColumns and the first row: how many rows follow,
  // when the provider knows it up front (a result fetched whole), so the
  // sink can size its storage once instead of growing it row by row.
  virtual void ExpectRows(size_t rows) { (void)rows; }
};

// One native argument of one execution.
struct BoundArg {
  Value value;               // when !is_array
  std::vector<Value> array;  // when is_array (BatchArg::Kind::kKeyArray)
  bool is_array = false;
};

// A compiled query. Built by Provider::Compile, executed by Connection.
struct Statement {
  std::string text;            // native text (SQL with native placeholders, or the provider's own)
  std::vector<BatchArg> args;  // what each native argument is, in native order
  size_t key_columns = 0;      // batched: result columns carrying the keys (trailing, unless:)
  // Batched with one key: the select-list column (0-based) that already is
  // the key column; no key column trails then. -1: the keys trail.
  int key_position = -1;
  size_t batch_items = 0;  // 0: one binding per execution; else bindings per execution
  // Batched dependent aggregate (docs/design.md §11): the statement groups by
  // its key columns, so a binding with no rows gets no row back; it gets
  // `empty_row` (one value per visible column: count 0, other aggregates
  // NULL) when that is non-empty, else nothing (a GROUP BY query).
  bool key_grouped = false;
  std::vector<Value> empty_row;
  bool is_write = false;
  // Provider-private compiled form (e.g. a parsed request template).
  std::shared_ptr<const void> data;
};

struct CompileRequest {
  std::string_view query_string;
  std::vector<std::string> input_parameters;  // the node's declared parameters
  NodeMode mode = NodeMode::kRead;
  // Batched compile: the key parameters bound per item, and how many items
  // one execution answers. Empty/0: a plain statement.
  std::vector<std::string> key_params;
  size_t batch_items = 0;
  BatchForm form = BatchForm::kInList;
};

struct ExecStats {
  int64_t rows_affected = -1;  // writes: rows changed; -1 when not applicable
  int64_t round_trips = 0;     // requests sent to the source
};

enum class IsolationLevel { kDefault, kReadCommitted, kRepeatableRead, kSerializable };
struct TxOptions {
  IsolationLevel isolation = IsolationLevel::kDefault;
  bool read_only = false;
  // Non-empty: this transaction may later be prepared for two-phase commit
  // under this global id. MySQL/MariaDB must know at XA START (a started
  // plain transaction cannot become XA); PostgreSQL ignores it until
  // PrepareTransaction.
  std::string xa_gid;
};

class QG_EXPORT Connection {
 public:
  virtual ~Connection() = default;

  // Runs `stmt` with `args` (one per stmt.args entry), streaming rows into
  // `sink` (null for statements whose rows are not wanted). Fails with
  // kCancelled after Cancel(), until Reset().
  virtual absl::Status Execute(const Statement& stmt, const std::vector<BoundArg>& args,
                               RowSink* sink, ExecStats* stats) = 0;

  // Thread-safe, callable from any thread at any time: stops the running
  // Execute as soon as the driver allows (sqlite3_interrupt, PQcancel, KILL
  // QUERY) and makes any Execute that starts later fail, until Reset().
  virtual void Cancel() = 0;

  // Health check. `query` is the source's health_check option ("" = the
  // provider's cheapest round trip).
  virtual absl::Status Ping(std::string_view query) = 0;

  // Called when the connection returns to its pool: clear the cancel state,
  // roll back any open transaction, drop per-session state. An error marks
  // the connection broken.
  virtual absl::Status Reset() = 0;

  // True once the connection is known unusable (server gone, protocol error).
  virtual bool broken() const = 0;

  // Transactions (capabilities().transactions / savepoints / two_phase).
  virtual absl::Status Begin(const TxOptions& options);
  virtual absl::Status Commit();
  virtual absl::Status Rollback();
  virtual absl::Status Savepoint(std::string_view name);
  virtual absl::Status RollbackToSavepoint(std::string_view name);
  virtual absl::Status ReleaseSavepoint(std::string_view name);
  // Two-phase commit: after Begin + work, PrepareTransaction(gid) ends the
  // transaction on this session in the prepared state; CommitPrepared /
  // RollbackPrepared may then run on any session of the same source.
  virtual absl::Status PrepareTransaction(std::string_view gid);
  virtual absl::Status CommitPrepared(std::string_view gid);
  virtual absl::Status RollbackPrepared(std::string_view gid);
  // Global ids of prepared (in-doubt) transactions starting with `prefix`.
  virtual absl::StatusOr<std::vector<std::string>> ListPrepared(std::string_view prefix);

  // Cost seam: what one execution of `stmt` with `args` (representative
  // values; key arrays may hold only nulls) is expected to cost on this
  // session, asked by the planner before it decides (qg/cost.h). Default:
  // kUnimplemented (the engine then uses history or defaults).
  virtual absl::StatusOr<CostEstimate> EstimateCost(const Statement& stmt,
                                                    const std::vector<BoundArg>& args);

  // The server's id for this session (PostgreSQL backend pid, MySQL
  // connection id), for diagnostics and tests; "" when there is none.
  virtual std::string session_id() const { return {}; }
};

struct Capabilities {
  PlaceholderStyle placeholder_style = PlaceholderStyle::kQuestion;
  size_t max_placeholders = 0;   // per statement; 0: no bound placeholders at all
  bool batch_in_list = false;    // supports BatchForm::kInList
  bool batch_any_array = false;  // supports BatchForm::kAnyArray
  size_t max_batch_items = 0;    // provider-native batch limit (0 = bounded by placeholders)
  // True when one execution takes a large key set in one pass over the
  // table (PostgreSQL's = ANY): the engine then cuts a large key set into
  // one piece per parallel connection rather than into many batch_size
  // pieces. False for sources whose cost is per key or per request (HTTP).
  bool large_batches = false;
  bool writes = false;
  // False when the source takes one writer at a time (SQLite's database
  // lock): write nodes then run on one connection instead of contending.
  bool parallel_writes = true;
  bool transactions = false;
  bool savepoints = false;
  bool two_phase = false;
  bool cancel = false;
  bool cost_estimates = false;
  // Pushdown for heterogeneous SQL (docs/design.md §13).
  bool pushdown_filters = false;
  bool pushdown_projection = false;
  bool pushdown_limit = false;
  bool pushdown_join = false;
};

// Everything a provider needs to open one session. The password is resolved
// from the catalog only for this call; providers must never log it or put it
// in an error message or a connection string they expose.
struct ConnectRequest {
  std::string source_name;
  std::string connect;   // the source's connection string, without credentials
  std::string user;      // external user ("" = provider default)
  std::string password;  // secret
  absl::Duration connect_timeout = absl::Seconds(10);
  absl::Duration statement_timeout = absl::ZeroDuration();  // zero: none
  // Provider-specific options from the catalog (keys the engine does not know).
  std::map<std::string, std::string> options;
};

class QG_EXPORT Provider {
 public:
  virtual ~Provider() = default;

  // The name sources use in "provider": "sqlite", "postgres", ...
  virtual std::string_view name() const = 0;
  virtual Capabilities capabilities() const = 0;

  // Option keys (besides the engine's pool/timeout options) this provider
  // accepts; an unknown key in a source's options is an error.
  virtual std::vector<std::string> option_keys() const { return {}; }

  virtual absl::StatusOr<std::unique_ptr<Connection>> Connect(const ConnectRequest& request) = 0;

  // The :name placeholders of a query (for validation). Default: the SQL
  // tokenizer of qg/placeholders.h.
  virtual absl::StatusOr<std::vector<std::string>> Placeholders(
      std::string_view query_string) const;

  // Compiles a node's query. For a batched request the provider either
  // returns a statement answering request.batch_items bindings at once or
  // kFailedPrecondition (with the reason), and the planner falls back to
  // one execution per binding.
  virtual absl::StatusOr<Statement> Compile(const CompileRequest& request) const = 0;
};

// Compiles SQL for providers whose language is SQL: tokenizes, rewrites
// placeholders to `style`, and for batched requests applies RewriteBatched.
QG_EXPORT absl::StatusOr<Statement> CompileSql(const CompileRequest& request,
                                               PlaceholderStyle style);

}  // namespace qg

#endif  // QG_PROVIDER_H_
