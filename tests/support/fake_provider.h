// tests/support/fake_provider.h — an in-memory Provider for unit tests of
// the pool and the engine (our twin of LevelDB's memenv).
//
// Tables are added with AddTable(); a node's query_string is written in a
// tiny language (not SQL): whitespace-separated tokens, first any number of
// directives starting with '@', then one body.
//
// Directives:
//   @sleep=MS            each execution sleeps MS milliseconds; Cancel() wakes
//                        it early and it fails with kCancelled.
//   @fail=CODE           every execution fails with CODE and the message
//                        "fake failure". CODE: unavailable | aborted | invalid
//                        | internal | deadline | exhausted.
//   @fail_when=P:V       execution fails (kInternal, "fake failure") only when
//                        parameter P's value ToText() equals V. P is a
//                        parameter of the query (listed by Placeholders() even
//                        when the body does not mention :P). In a batched
//                        execution a key parameter P fails the whole
//                        execution when any item's value matches.
//   @broken              a failure (@fail / @fail_when) also marks the
//                        connection broken (Connection::broken() turns true).
//   @throw_oom           each execution throws std::bad_alloc (a driver or
//                        sink that ran out of memory).
// Bodies:
//   table NAME                           all rows of NAME
//   table NAME where C = :p [and D = :q ...]
//                                        rows where each column equals its
//                                        parameter (qg::ValueKeyEqual: 1 ==
//                                        1.0 == decimal "1"; null matches
//                                        nothing)
//   echo :a :b ...                       one row; columns a, b, ... carrying
//                                        the argument values
//   range N                              column "i", rows 0 .. N-1 (int64)
//   write                                no rows; rows_affected = 1
// Example: "@sleep=50 @fail_when=id:3 table users where id = :id".
//
// Compile: a plain request gives a Statement whose args are kParam, one per
// distinct parameter in order of first appearance (Placeholders() order);
// stmt.text is the query string. A batched request (key_params, batch_items,
// BatchForm::kInList) is accepted only for `table T where ...` bodies whose
// where clause names every key parameter; its args are kParam for the other
// parameters, then kKeyItem for item 0 (each key parameter in key_params
// order), item 1, ... It returns, like the SQL rewrite `SELECT *, col AS
// __qg_k0 ... WHERE col IN (...)`, each matching row once with the key
// column values appended LAST (columns __qg_k0, __qg_k1, ...; key_columns =
// key_params.size()). Anything else: kFailedPrecondition "fake: cannot
// batch ...". Parse errors: kInvalidArgument "fake: ...". An unknown table
// or column fails at execution (kNotFound / kInvalidArgument).
//
// Capabilities: kQuestion, max_placeholders 1000, batch_in_list, writes,
// transactions, savepoints, cancel; no cost estimates; two-phase commit only
// after SetTwoPhase(true) (otherwise the 2PC calls fail kUnimplemented).
//
// Two-phase commit (docs/design.md, testing): one FakeProvider is one
// server. PrepareTransaction(gid) ends the connection's open transaction in
// the prepared state; the provider keeps the set of prepared gids (prepared())
// across connections, so any connection — and an engine created after a
// "crash" — can CommitPrepared / RollbackPrepared / ListPrepared(prefix) it.
// tx_log() records "prepare GID", "commit prepared GID", "rollback prepared
// GID", "list prepared PREFIX" ("... failed" when the call failed). Injection
// per call kind: FailTwoPhase(call, n) makes the next n calls fail
// (kUnavailable, no effect); CrashAt(call, after_effect) makes the next call
// throw FakeProvider::Crash — the coordinator dies there — with or without
// its effect applied (recorded as "crash at <what>"). Every TxEvent carries a
// process-wide sequence number, so the events of several fakes (and a test's
// own marks, stamped with NextSequence()) merge into one order.
//
// Transactions only record the calls: tx_log() holds "begin", "commit",
// "rollback", "savepoint NAME", "rollback to savepoint NAME", "release
// savepoint NAME", and "reset rollback" when a connection is Reset() with a
// transaction still open. FailCommit(true) makes Commit() fail (kAborted),
// FailRollback(true) Rollback() (kUnavailable; logged as "rollback failed").
//
// Thread-safety: every member of FakeProvider is thread-safe; connections
// follow the Connection contract (one thread at a time, Cancel() from any).
// Connections share the provider's state by shared_ptr, so they may outlive
// the provider.
#ifndef QG_TESTS_SUPPORT_FAKE_PROVIDER_H_
#define QG_TESTS_SUPPORT_FAKE_PROVIDER_H_

#include <cstdint>
#include <memory>
#include <string>
#include <string_view>
#include <vector>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "qg/provider.h"
#include "qg/value.h"

namespace qg::testing {

class FakeProvider : public Provider {
 public:
  // One execution, as the fake saw it.
  struct ExecRecord {
    std::string text;      // Statement::text
    size_t args = 0;       // number of bound args
    int64_t start_ns = 0;  // std::chrono::steady_clock, since its epoch
    int64_t end_ns = 0;
    int64_t connection_id = 0;
    absl::Status status;  // how it ended
  };
  struct TxEvent {
    int64_t connection_id = 0;
    std::string what;  // as in tx_log()
    int64_t seq = 0;   // process-wide order (NextSequence())
  };
  enum class TwoPhaseCall { kPrepare, kCommitPrepared, kRollbackPrepared, kListPrepared };
  // Thrown at an injected crash point (CrashAt): the coordinator "dies".
  struct Crash {
    std::string where;
  };

  explicit FakeProvider(std::string name = "fake");
  ~FakeProvider() override;

  // Adds or replaces a table. Rows shorter than `columns` are padded with
  // nulls, longer ones truncated.
  void AddTable(std::string name, std::vector<std::string> columns,
                std::vector<std::vector<Value>> rows);
  // The table's current rows (nothing when absent).
  std::vector<std::vector<Value>> TableRows(std::string_view name) const;

  // Knobs.
  void FailNextConnects(int n);   // the next n Connect() calls fail (kUnavailable)
  void SetPingFails(bool fails);  // Ping() fails (kUnavailable) and marks broken
  void SetConnectDelay(int ms);   // Connect() sleeps this long first
  void FailCommit(bool fails);    // Commit() fails (kAborted)
  void FailRollback(bool fails);  // Rollback() fails (kUnavailable, "fake: rollback failed")
  void SetOptionKeys(std::vector<std::string> keys);
  void SetTwoPhase(bool on);                           // capabilities().two_phase
  void FailTwoPhase(TwoPhaseCall call, int n);         // the next n such calls fail
  void CrashAt(TwoPhaseCall call, bool after_effect);  // the next such call throws Crash
  static int64_t NextSequence();                       // stamps a test's own marks

  // Instrumentation.
  int64_t connects() const;              // successful Connect() calls
  int64_t connect_attempts() const;      // including failed ones
  int64_t live_connections() const;      // open now
  int64_t max_live_connections() const;  // peak of live_connections()
  int64_t resets() const;
  int64_t pings() const;
  int64_t cancels() const;     // Connection::Cancel() calls
  int64_t executions() const;  // Execute() calls
  int64_t max_concurrent_executions() const;
  std::vector<std::string> tx_log() const;
  std::vector<TxEvent> tx_events() const;
  std::vector<ExecRecord> exec_log() const;
  std::vector<std::string> prepared() const;  // gids prepared now, sorted
  // The last ConnectRequest seen (password included: tests check that the
  // catalog's secret reached the driver).
  ConnectRequest last_connect() const;

  // Provider.
  std::string_view name() const override { return name_; }
  Capabilities capabilities() const override;
  std::vector<std::string> option_keys() const override;
  absl::StatusOr<std::unique_ptr<Connection>> Connect(const ConnectRequest& request) override;
  absl::StatusOr<std::vector<std::string>> Placeholders(
      std::string_view query_string) const override;
  absl::StatusOr<Statement> Compile(const CompileRequest& request) const override;

  struct State;  // shared with connections (fake_provider.cc)

 private:
  const std::string name_;
  std::shared_ptr<State> state_;
};

}  // namespace qg::testing

#endif  // QG_TESTS_SUPPORT_FAKE_PROVIDER_H_
