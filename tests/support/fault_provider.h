// tests/support/fault_provider.h — fault injection over every driver call.
//
// FaultProvider wraps a real Provider (the built-in sqlite, postgres or mysql)
// and is registered on an engine under the real provider's name, so the
// engine, the pools and the transactions run unchanged over real drivers
// while one FaultPlan, shared by every wrapped provider of a test, counts the
// driver calls and fails the N-th:
//
//   connect           Provider::Connect
//   execute           Connection::Execute (prepare + execute + first reply)
//   fetch             a result's rows, one call per kRowsPerFetch rows (rows
//                     0, 64, 128, ...): the wrapped RowSink returns the error,
//                     so the real provider must stop mid-result
//   begin, commit, prepare (PREPARE TRANSACTION / XA PREPARE),
//   commit_prepared   the Connection members of the same names
//
// A fault is transient (only the N-th call fails; the session stays usable)
// or persistent (the N-th call's source is down: that call and every later
// call on the same source fail — Reset, Rollback, Ping, ListPrepared too —
// and its connections report broken() until Disarm()). It strikes before the
// driver call (nothing reaches the server) or, with Where::kAfter, after it
// (the server did the work and the answer was lost; the session breaks).
// Rollback, savepoints, RollbackPrepared, ListPrepared, Reset and Ping are
// not counted: they are how the engine cleans up, and fail only while their
// source is down.
//
// Why a decorator: the providers stay exactly as shipped (no test hooks in
// them), every driver is faulted the same way, and the engine sees a
// Provider like any host's own.
//
// Thread-safety: FaultPlan is thread-safe; FaultConnection follows the
// Connection contract (one thread at a time, Cancel() from any).
#ifndef QG_TESTS_SUPPORT_FAULT_PROVIDER_H_
#define QG_TESTS_SUPPORT_FAULT_PROVIDER_H_

#include <atomic>
#include <cstdint>
#include <map>
#include <memory>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/strings/str_cat.h"
#include "absl/synchronization/mutex.h"
#include "qg/provider.h"

namespace qg::testing {

enum class FaultCall { kConnect, kExecute, kFetch, kBegin, kCommit, kPrepare, kCommitPrepared };

inline const char* FaultCallName(FaultCall c) {
  switch (c) {
    case FaultCall::kConnect:
      return "connect";
    case FaultCall::kExecute:
      return "execute";
    case FaultCall::kFetch:
      return "fetch";
    case FaultCall::kBegin:
      return "begin";
    case FaultCall::kCommit:
      return "commit";
    case FaultCall::kPrepare:
      return "prepare";
    case FaultCall::kCommitPrepared:
      return "commit_prepared";
  }
  return "?";
}

class FaultPlan {
 public:
  enum class Where { kBefore, kAfter };
  static constexpr int64_t kRowsPerFetch = 64;

  // From now on the n-th counted call (n >= 1) fails; the counter restarts.
  void Arm(int64_t n, bool persistent, Where where = Where::kBefore) {
    absl::MutexLock lock(&mu_);
    calls_ = 0;
    fail_at_ = n;
    persistent_ = persistent;
    where_ = where;
    fired_ = false;
    down_.clear();
  }
  // No more faults; a down source is back.
  void Disarm() {
    absl::MutexLock lock(&mu_);
    fail_at_ = 0;
    down_.clear();
    down_flag_.store(false);
  }

  bool fired() const {
    absl::MutexLock lock(&mu_);
    return fired_;
  }
  FaultCall fired_call() const {
    absl::MutexLock lock(&mu_);
    return fired_call_;
  }
  std::string fired_source() const {
    absl::MutexLock lock(&mu_);
    return fired_source_;
  }
  int64_t calls() const {
    absl::MutexLock lock(&mu_);
    return calls_;
  }
  Where where() const {
    absl::MutexLock lock(&mu_);
    return where_;
  }

  // A counted call of `source`: the injected error when this call fails.
  // `*after` is set when the call must run first and then report the error.
  absl::Status OnCall(FaultCall call, const std::string& source, bool* after = nullptr) {
    absl::MutexLock lock(&mu_);
    if (after != nullptr) *after = false;
    if (!down_.empty() && down_ == source) return DownError(call);
    ++calls_;
    if (fail_at_ == 0 || calls_ != fail_at_) return absl::OkStatus();
    fired_ = true;
    fired_call_ = call;
    fired_source_ = source;
    if (persistent_) {
      down_ = source;
      down_flag_.store(true);
    }
    if (after != nullptr) *after = where_ == Where::kAfter;
    // The source's name is left out on purpose: the engine must name it.
    return absl::UnavailableError(
        absl::StrCat("injected fault: ", FaultCallName(call), " (driver call ", calls_, ")"));
  }
  // An uncounted call of `source`: fails only while the source is down.
  absl::Status Check(std::string_view what, const std::string& source) const {
    if (!down_flag_.load()) return absl::OkStatus();
    absl::MutexLock lock(&mu_);
    if (down_.empty() || down_ != source) return absl::OkStatus();
    return absl::UnavailableError(
        absl::StrCat("injected fault: source down (", std::string(what), ")"));
  }
  bool IsDown(const std::string& source) const {
    if (!down_flag_.load()) return false;
    absl::MutexLock lock(&mu_);
    return !down_.empty() && down_ == source;
  }

 private:
  absl::Status DownError(FaultCall call) const {
    return absl::UnavailableError(
        absl::StrCat("injected fault: source down (", FaultCallName(call), ")"));
  }

  mutable absl::Mutex mu_;
  int64_t calls_ ABSL_GUARDED_BY(mu_) = 0;
  int64_t fail_at_ ABSL_GUARDED_BY(mu_) = 0;
  bool persistent_ ABSL_GUARDED_BY(mu_) = false;
  Where where_ ABSL_GUARDED_BY(mu_) = Where::kBefore;
  bool fired_ ABSL_GUARDED_BY(mu_) = false;
  FaultCall fired_call_ ABSL_GUARDED_BY(mu_) = FaultCall::kConnect;
  std::string fired_source_ ABSL_GUARDED_BY(mu_);
  std::string down_ ABSL_GUARDED_BY(mu_);
  std::atomic<bool> down_flag_{false};
};

// Passes rows on; every kRowsPerFetch-th row (from the first) is a counted
// fetch call.
class FaultSink final : public RowSink {
 public:
  FaultSink(RowSink* inner, FaultPlan* plan, const std::string* source, bool* broke)
      : inner_(inner), plan_(plan), source_(source), broke_(broke) {}
  absl::Status OnColumns(const std::vector<ColumnInfo>& columns) override {
    return inner_->OnColumns(columns);
  }
  void ExpectRows(size_t rows) override { inner_->ExpectRows(rows); }
  absl::Status OnRow(std::vector<Value>& row) override {
    if (rows_++ % FaultPlan::kRowsPerFetch == 0) {
      bool after = false;
      absl::Status st = plan_->OnCall(FaultCall::kFetch, *source_, &after);
      if (!st.ok()) {
        if (after) {
          (void)inner_->OnRow(row);
          *broke_ = true;
        }
        return st;
      }
    } else if (absl::Status st = plan_->Check("fetch", *source_); !st.ok()) {
      return st;
    }
    return inner_->OnRow(row);
  }

 private:
  RowSink* inner_;
  FaultPlan* plan_;
  const std::string* source_;
  bool* broke_;
  int64_t rows_ = 0;
};

class FaultConnection final : public Connection {
 public:
  FaultConnection(std::unique_ptr<Connection> inner, std::shared_ptr<FaultPlan> plan,
                  std::string source)
      : inner_(std::move(inner)), plan_(std::move(plan)), source_(std::move(source)) {}

  absl::Status Execute(const Statement& stmt, const std::vector<BoundArg>& args, RowSink* sink,
                       ExecStats* stats) override {
    return Counted(FaultCall::kExecute, [&] {
      if (sink == nullptr) return inner_->Execute(stmt, args, nullptr, stats);
      FaultSink fs(sink, plan_.get(), &source_, &broke_);
      return inner_->Execute(stmt, args, &fs, stats);
    });
  }
  void Cancel() override { inner_->Cancel(); }
  absl::Status Ping(std::string_view query) override {
    return Uncounted("ping", [&] { return inner_->Ping(query); });
  }
  absl::Status Reset() override {
    return Uncounted("reset", [&] { return inner_->Reset(); });
  }
  bool broken() const override { return broke_ || inner_->broken() || plan_->IsDown(source_); }

  absl::Status Begin(const TxOptions& options) override {
    return Counted(FaultCall::kBegin, [&] { return inner_->Begin(options); });
  }
  absl::Status Commit() override {
    return Counted(FaultCall::kCommit, [&] { return inner_->Commit(); });
  }
  absl::Status Rollback() override {
    return Uncounted("rollback", [&] { return inner_->Rollback(); });
  }
  absl::Status Savepoint(std::string_view name) override {
    return Uncounted("savepoint", [&] { return inner_->Savepoint(name); });
  }
  absl::Status RollbackToSavepoint(std::string_view name) override {
    return Uncounted("rollback to savepoint", [&] { return inner_->RollbackToSavepoint(name); });
  }
  absl::Status ReleaseSavepoint(std::string_view name) override {
    return Uncounted("release savepoint", [&] { return inner_->ReleaseSavepoint(name); });
  }
  absl::Status PrepareTransaction(std::string_view gid) override {
    return Counted(FaultCall::kPrepare, [&] { return inner_->PrepareTransaction(gid); });
  }
  absl::Status CommitPrepared(std::string_view gid) override {
    return Counted(FaultCall::kCommitPrepared, [&] { return inner_->CommitPrepared(gid); });
  }
  absl::Status RollbackPrepared(std::string_view gid) override {
    return Uncounted("rollback prepared", [&] { return inner_->RollbackPrepared(gid); });
  }
  absl::StatusOr<std::vector<std::string>> ListPrepared(std::string_view prefix) override {
    if (absl::Status st = plan_->Check("list prepared", source_); !st.ok()) return st;
    return inner_->ListPrepared(prefix);
  }
  absl::StatusOr<CostEstimate> EstimateCost(const Statement& stmt,
                                            const std::vector<BoundArg>& args) override {
    if (absl::Status st = plan_->Check("estimate", source_); !st.ok()) return st;
    return inner_->EstimateCost(stmt, args);
  }
  std::string session_id() const override { return inner_->session_id(); }

 private:
  template <typename F>
  absl::Status Counted(FaultCall call, F&& f) {
    bool after = false;
    absl::Status st = plan_->OnCall(call, source_, &after);
    if (st.ok()) return f();
    if (after) {
      (void)f();
      broke_ = true;  // the answer was lost with the connection
    }
    return st;
  }
  template <typename F>
  absl::Status Uncounted(std::string_view what, F&& f) {
    if (absl::Status st = plan_->Check(what, source_); !st.ok()) return st;
    return f();
  }

  std::unique_ptr<Connection> inner_;
  std::shared_ptr<FaultPlan> plan_;
  const std::string source_;
  bool broke_ = false;
};

class FaultProvider final : public Provider {
 public:
  FaultProvider(std::shared_ptr<Provider> inner, std::shared_ptr<FaultPlan> plan)
      : inner_(std::move(inner)), plan_(std::move(plan)) {}

  std::string_view name() const override { return inner_->name(); }
  Capabilities capabilities() const override { return inner_->capabilities(); }
  std::vector<std::string> option_keys() const override { return inner_->option_keys(); }

  absl::StatusOr<std::unique_ptr<Connection>> Connect(const ConnectRequest& request) override {
    bool after = false;
    absl::Status st = plan_->OnCall(FaultCall::kConnect, request.source_name, &after);
    if (!st.ok()) {
      if (after) (void)inner_->Connect(request);  // opened, then lost: closed at once
      return st;
    }
    absl::StatusOr<std::unique_ptr<Connection>> conn = inner_->Connect(request);
    if (!conn.ok()) return conn.status();
    return std::unique_ptr<Connection>(
        std::make_unique<FaultConnection>(std::move(*conn), plan_, request.source_name));
  }

  absl::StatusOr<std::vector<std::string>> Placeholders(
      std::string_view query_string) const override {
    return inner_->Placeholders(query_string);
  }
  absl::StatusOr<Statement> Compile(const CompileRequest& request) const override {
    return inner_->Compile(request);
  }

 private:
  std::shared_ptr<Provider> inner_;
  std::shared_ptr<FaultPlan> plan_;
};

}  // namespace qg::testing

#endif  // QG_TESTS_SUPPORT_FAULT_PROVIDER_H_
