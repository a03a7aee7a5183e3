// The fake in-memory provider (see fake_provider.h for its language).
#include "support/fake_provider.h"

#include <algorithm>
#include <atomic>
#include <chrono>
#include <map>
#include <new>
#include <set>
#include <thread>
#include <utility>

#include "absl/base/thread_annotations.h"
#include "absl/strings/ascii.h"
#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/synchronization/mutex.h"
#include "absl/time/time.h"
#include "common/strings.h"
#include "fmt/format.h"

namespace qg::testing {

namespace {}  // namespace

namespace {

struct Table {
  std::vector<std::string> columns;
  std::vector<std::vector<Value>> rows;
};

enum class Body { kTable, kEcho, kRange, kWrite };

struct FakeQuery {
  int sleep_ms = 0;
  bool fail = false;
  absl::StatusCode fail_code = absl::StatusCode::kInternal;
  bool fail_when = false;
  std::string fail_param;
  std::string fail_value;
  bool broken = false;
  bool throw_oom = false;
  Body body = Body::kWrite;
  std::string table;
  std::vector<std::pair<std::string, std::string>> where;  // column, parameter
  std::vector<std::string> echo;                           // parameters
  int64_t range = 0;
  std::vector<std::string> params;  // distinct, in order of first appearance
};

struct Compiled {
  FakeQuery query;
  std::vector<std::string> key_params;  // batched: the key parameters
  size_t items = 0;                     // batched: items per execution
};

int64_t SteadyNanos() {
  return std::chrono::duration_cast<std::chrono::nanoseconds>(
             std::chrono::steady_clock::now().time_since_epoch())
      .count();
}

bool IsIdent(std::string_view s) {
  if (s.empty() || !(absl::ascii_isalpha(s[0]) || s[0] == '_')) return false;
  return std::all_of(s.begin(), s.end(), [](char c) { return absl::ascii_isalnum(c) || c == '_'; });
}

absl::StatusOr<std::string> ParamToken(std::string_view tok) {
  if (tok.size() < 2 || tok[0] != ':' || !IsIdent(tok.substr(1))) {
    return absl::InvalidArgumentError(Cat("fake: expected a :parameter, got '", tok, "'"));
  }
  return std::string(tok.substr(1));
}

void AddParam(FakeQuery& q, const std::string& name) {
  if (std::find(q.params.begin(), q.params.end(), name) == q.params.end()) {
    q.params.push_back(name);
  }
}

absl::StatusOr<absl::StatusCode> FailCode(std::string_view name) {
  if (name == "unavailable") return absl::StatusCode::kUnavailable;
  if (name == "aborted") return absl::StatusCode::kAborted;
  if (name == "invalid") return absl::StatusCode::kInvalidArgument;
  if (name == "internal") return absl::StatusCode::kInternal;
  if (name == "deadline") return absl::StatusCode::kDeadlineExceeded;
  if (name == "exhausted") return absl::StatusCode::kResourceExhausted;
  return absl::InvalidArgumentError(Cat("fake: unknown failure code '", name, "'"));
}

absl::StatusOr<FakeQuery> ParseFake(std::string_view text) {
  std::vector<std::string_view> toks;
  for (size_t b = 0; b < text.size();) {
    if (absl::ascii_isspace(static_cast<unsigned char>(text[b]))) {
      ++b;
      continue;
    }
    size_t e = b;
    while (e < text.size() && !absl::ascii_isspace(static_cast<unsigned char>(text[e]))) ++e;
    toks.push_back(text.substr(b, e - b));
    b = e;
  }
  FakeQuery q;
  size_t i = 0;
  for (; i < toks.size() && std::string_view(toks[i]).starts_with("@"); ++i) {
    std::string_view d = toks[i];
    if (d == "@broken") {
      q.broken = true;
    } else if (d == "@throw_oom") {
      q.throw_oom = true;
    } else if (std::string_view(d).starts_with("@sleep=")) {
      if (!absl::SimpleAtoi(Av(d.substr(7)), &q.sleep_ms) || q.sleep_ms < 0) {
        return absl::InvalidArgumentError(Cat("fake: bad directive '", d, "'"));
      }
    } else if (std::string_view(d).starts_with("@fail=")) {
      auto code = FailCode(d.substr(6));
      if (!code.ok()) return code.status();
      q.fail = true;
      q.fail_code = *code;
    } else if (std::string_view(d).starts_with("@fail_when=")) {
      std::string_view arg = d.substr(11);
      size_t colon = arg.find(':');
      if (colon == std::string_view::npos || !IsIdent(arg.substr(0, colon))) {
        return absl::InvalidArgumentError(
            Cat("fake: bad directive '", d, "' (want @fail_when=PARAM:VALUE)"));
      }
      q.fail_when = true;
      q.fail_param = std::string(arg.substr(0, colon));
      q.fail_value = std::string(arg.substr(colon + 1));
    } else {
      return absl::InvalidArgumentError(Cat("fake: unknown directive '", d, "'"));
    }
  }
  if (i == toks.size()) return absl::InvalidArgumentError("fake: empty query");
  std::string_view verb = toks[i++];
  auto rest = [&] { return toks.size() - i; };
  if (verb == "table") {
    q.body = Body::kTable;
    if (rest() < 1 || !IsIdent(toks[i])) {
      return absl::InvalidArgumentError("fake: 'table' needs a table name");
    }
    q.table = std::string(toks[i++]);
    if (rest() > 0) {
      if (toks[i] != "where") {
        return absl::InvalidArgumentError(Cat("fake: expected 'where', got '", toks[i], "'"));
      }
      ++i;
      while (true) {
        if (rest() < 3 || !IsIdent(toks[i]) || toks[i + 1] != "=") {
          return absl::InvalidArgumentError("fake: expected 'COLUMN = :param' after where/and");
        }
        auto p = ParamToken(toks[i + 2]);
        if (!p.ok()) return p.status();
        q.where.emplace_back(std::string(toks[i]), *p);
        AddParam(q, *p);
        i += 3;
        if (rest() == 0) break;
        if (toks[i] != "and") {
          return absl::InvalidArgumentError(Cat("fake: expected 'and', got '", toks[i], "'"));
        }
        ++i;
      }
    }
  } else if (verb == "echo") {
    q.body = Body::kEcho;
    for (; i < toks.size(); ++i) {
      auto p = ParamToken(toks[i]);
      if (!p.ok()) return p.status();
      q.echo.push_back(*p);
      AddParam(q, *p);
    }
  } else if (verb == "range") {
    q.body = Body::kRange;
    if (rest() != 1 || !absl::SimpleAtoi(Av(toks[i]), &q.range) || q.range < 0) {
      return absl::InvalidArgumentError("fake: 'range' needs one count >= 0");
    }
    ++i;
  } else if (verb == "write") {
    q.body = Body::kWrite;
  } else {
    return absl::InvalidArgumentError(Cat("fake: unknown query '", verb, "'"));
  }
  if (i != toks.size()) {
    return absl::InvalidArgumentError(Cat("fake: unexpected '", toks[i], "'"));
  }
  if (q.fail_when) AddParam(q, q.fail_param);
  return q;
}

}  // namespace

// ---- shared state --------------------------------------------------------

struct FakeProvider::State {
  mutable absl::Mutex mu;
  std::map<std::string, std::shared_ptr<const Table>, std::less<>> tables ABSL_GUARDED_BY(mu);
  int fail_connects ABSL_GUARDED_BY(mu) = 0;
  bool ping_fails ABSL_GUARDED_BY(mu) = false;
  int connect_delay_ms ABSL_GUARDED_BY(mu) = 0;
  bool fail_commit ABSL_GUARDED_BY(mu) = false;
  bool fail_rollback ABSL_GUARDED_BY(mu) = false;
  std::vector<std::string> option_keys ABSL_GUARDED_BY(mu);
  int64_t connects ABSL_GUARDED_BY(mu) = 0;
  int64_t attempts ABSL_GUARDED_BY(mu) = 0;
  int64_t live ABSL_GUARDED_BY(mu) = 0;
  int64_t max_live ABSL_GUARDED_BY(mu) = 0;
  int64_t resets ABSL_GUARDED_BY(mu) = 0;
  int64_t pings ABSL_GUARDED_BY(mu) = 0;
  int64_t cancels ABSL_GUARDED_BY(mu) = 0;
  int64_t executions ABSL_GUARDED_BY(mu) = 0;
  int64_t running ABSL_GUARDED_BY(mu) = 0;
  int64_t max_running ABSL_GUARDED_BY(mu) = 0;
  int64_t next_id ABSL_GUARDED_BY(mu) = 1;
  std::vector<TxEvent> tx ABSL_GUARDED_BY(mu);
  std::vector<ExecRecord> execs ABSL_GUARDED_BY(mu);
  ConnectRequest last ABSL_GUARDED_BY(mu);
  // Two-phase commit: the server's prepared branches and injected faults.
  struct Fault {
    int fail = 0;
    bool crash = false;
    bool crash_after_effect = false;
  };
  bool two_phase ABSL_GUARDED_BY(mu) = false;
  std::set<std::string> prepared ABSL_GUARDED_BY(mu);
  Fault faults[4] ABSL_GUARDED_BY(mu);

  void Tx(int64_t id, std::string what) {
    absl::MutexLock lock(&mu);
    tx.push_back(TxEvent{id, std::move(what), FakeProvider::NextSequence()});
  }

  struct TwoPhaseOutcome {
    absl::Status status;
    bool applied = false;  // the call's effect took place
    bool crash = false;    // throw Crash after recording
    std::vector<std::string> listed;
  };
  // One 2PC call on connection `id` against `arg` (a gid, or a prefix).
  TwoPhaseOutcome TwoPhase(int64_t id, FakeProvider::TwoPhaseCall call, std::string_view arg) {
    static constexpr const char* kWhat[] = {"prepare", "commit prepared", "rollback prepared",
                                            "list prepared"};
    const std::string what = Cat(kWhat[static_cast<int>(call)], " ", arg);
    TwoPhaseOutcome out;
    absl::MutexLock lock(&mu);
    Fault& f = faults[static_cast<int>(call)];
    if (!two_phase) {
      out.status = absl::UnimplementedError("fake: two-phase commit is off (SetTwoPhase)");
    } else if (f.fail > 0) {
      --f.fail;
      out.status = absl::UnavailableError(Cat("fake: ", what, " failed (injected)"));
    } else if (f.crash) {
      f.crash = false;
      out.crash = true;
      if (f.crash_after_effect) out.status = Apply(call, arg, &out);
    } else {
      out.status = Apply(call, arg, &out);
    }
    if (out.crash) {
      tx.push_back(TxEvent{id, Cat("crash at ", what, out.applied ? " (applied)" : ""),
                           FakeProvider::NextSequence()});
    } else {
      tx.push_back(
          TxEvent{id, out.status.ok() ? what : what + " failed", FakeProvider::NextSequence()});
    }
    return out;
  }

 private:
  absl::Status Apply(FakeProvider::TwoPhaseCall call, std::string_view arg, TwoPhaseOutcome* out)
      ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu) {
    const std::string gid(arg);
    switch (call) {
      case FakeProvider::TwoPhaseCall::kPrepare:
        if (!prepared.insert(gid).second) {
          return absl::AlreadyExistsError(Cat("fake: ", gid, " is already prepared"));
        }
        break;
      case FakeProvider::TwoPhaseCall::kCommitPrepared:
      case FakeProvider::TwoPhaseCall::kRollbackPrepared:
        if (prepared.erase(gid) == 0) {
          return absl::NotFoundError(Cat("fake: no prepared transaction ", gid));
        }
        break;
      case FakeProvider::TwoPhaseCall::kListPrepared:
        for (const std::string& g : prepared) {
          if (g.compare(0, arg.size(), arg) == 0) out->listed.push_back(g);
        }
        break;
    }
    out->applied = true;
    return absl::OkStatus();
  }
};

// ---- connection ----------------------------------------------------------

namespace {

class FakeConnection : public Connection {
 public:
  FakeConnection(std::shared_ptr<FakeProvider::State> st, int64_t id)
      : st_(std::move(st)), id_(id) {}
  ~FakeConnection() override {
    absl::MutexLock lock(&st_->mu);
    --st_->live;
  }

  absl::Status Execute(const Statement& stmt, const std::vector<BoundArg>& args, RowSink* sink,
                       ExecStats* stats) override {
    FakeProvider::ExecRecord rec;
    rec.text = stmt.text;
    rec.args = args.size();
    rec.connection_id = id_;
    {
      absl::MutexLock lock(&st_->mu);
      ++st_->executions;
      st_->max_running = std::max(st_->max_running, ++st_->running);
    }
    rec.start_ns = SteadyNanos();
    absl::Status status = Run(stmt, args, sink, stats);
    rec.end_ns = SteadyNanos();
    rec.status = status;
    absl::MutexLock lock(&st_->mu);
    --st_->running;
    st_->execs.push_back(std::move(rec));
    return status;
  }

  void Cancel() override {
    {
      absl::MutexLock lock(&cancel_mu_);
      cancelled_ = true;
    }
    absl::MutexLock lock(&st_->mu);
    ++st_->cancels;
  }

  absl::Status Ping(std::string_view query) override {
    bool fails;
    {
      absl::MutexLock lock(&st_->mu);
      ++st_->pings;
      fails = st_->ping_fails;
    }
    if (fails) {
      broken_ = true;
      return absl::UnavailableError("fake: ping failed");
    }
    return absl::OkStatus();
  }

  absl::Status Reset() override {
    {
      absl::MutexLock lock(&cancel_mu_);
      cancelled_ = false;
    }
    {
      absl::MutexLock lock(&st_->mu);
      ++st_->resets;
    }
    if (in_tx_) {
      in_tx_ = false;
      st_->Tx(id_, "reset rollback");
    }
    return absl::OkStatus();
  }

  bool broken() const override { return broken_.load(); }

  absl::Status Begin(const TxOptions&) override {
    if (in_tx_) return absl::FailedPreconditionError("fake: transaction already open");
    in_tx_ = true;
    st_->Tx(id_, "begin");
    return absl::OkStatus();
  }
  absl::Status Commit() override {
    bool fails;
    {
      absl::MutexLock lock(&st_->mu);
      fails = st_->fail_commit;
    }
    in_tx_ = false;
    st_->Tx(id_, fails ? "commit failed" : "commit");
    if (fails) return absl::AbortedError("fake: commit failed");
    return absl::OkStatus();
  }
  absl::Status Rollback() override {
    bool fails;
    {
      absl::MutexLock lock(&st_->mu);
      fails = st_->fail_rollback;
    }
    in_tx_ = false;
    st_->Tx(id_, fails ? "rollback failed" : "rollback");
    if (fails) return absl::UnavailableError("fake: rollback failed");
    return absl::OkStatus();
  }
  absl::Status Savepoint(std::string_view name) override {
    st_->Tx(id_, Cat("savepoint ", name));
    return absl::OkStatus();
  }
  absl::Status RollbackToSavepoint(std::string_view name) override {
    st_->Tx(id_, Cat("rollback to savepoint ", name));
    return absl::OkStatus();
  }
  absl::Status ReleaseSavepoint(std::string_view name) override {
    st_->Tx(id_, Cat("release savepoint ", name));
    return absl::OkStatus();
  }

  absl::Status PrepareTransaction(std::string_view gid) override {
    if (!in_tx_) {
      absl::MutexLock lock(&st_->mu);
      if (!st_->two_phase) return absl::UnimplementedError("fake: two-phase commit is off");
      return absl::FailedPreconditionError("fake: no transaction to prepare");
    }
    auto r = st_->TwoPhase(id_, FakeProvider::TwoPhaseCall::kPrepare, gid);
    if (r.applied) in_tx_ = false;  // the session's transaction is now the prepared branch
    if (r.crash) throw FakeProvider::Crash{Cat("prepare ", gid)};
    return r.status;
  }
  absl::Status CommitPrepared(std::string_view gid) override {
    return Finish(FakeProvider::TwoPhaseCall::kCommitPrepared, gid);
  }
  absl::Status RollbackPrepared(std::string_view gid) override {
    return Finish(FakeProvider::TwoPhaseCall::kRollbackPrepared, gid);
  }
  absl::StatusOr<std::vector<std::string>> ListPrepared(std::string_view prefix) override {
    auto r = st_->TwoPhase(id_, FakeProvider::TwoPhaseCall::kListPrepared, prefix);
    if (r.crash) throw FakeProvider::Crash{Cat("list prepared ", prefix)};
    if (!r.status.ok()) return r.status;
    return r.listed;
  }

  std::string session_id() const override { return Cat(id_); }

 private:
  absl::Status Finish(FakeProvider::TwoPhaseCall call, std::string_view gid) {
    auto r = st_->TwoPhase(id_, call, gid);
    if (r.crash) throw FakeProvider::Crash{std::string(gid)};
    return r.status;
  }

  bool IsCancelled() {
    absl::MutexLock lock(&cancel_mu_);
    return cancelled_;
  }

  absl::Status Run(const Statement& stmt, const std::vector<BoundArg>& args, RowSink* sink,
                   ExecStats* stats) {
    if (stats != nullptr) {
      stats->round_trips += 1;
      stats->rows_affected = -1;
    }
    std::shared_ptr<const Compiled> compiled = std::static_pointer_cast<const Compiled>(stmt.data);
    if (compiled == nullptr) {
      // Not compiled by us (a hand-made Statement): parse its text as plain.
      auto q = ParseFake(stmt.text);
      if (!q.ok()) return q.status();
      auto c = std::make_shared<Compiled>();
      c->query = std::move(*q);
      compiled = std::move(c);
    }
    const FakeQuery& q = compiled->query;
    if (args.size() != stmt.args.size()) {
      return absl::InvalidArgumentError(
          Cat("fake: statement takes ", stmt.args.size(), " arguments, got ", args.size()));
    }
    std::map<std::string, const Value*, std::less<>> params;
    std::vector<std::vector<const Value*>> items(compiled->items);
    for (size_t i = 0; i < args.size(); ++i) {
      const BatchArg& a = stmt.args[i];
      if (a.kind == BatchArg::Kind::kParam) {
        params[a.name] = &args[i].value;
      } else if (a.kind == BatchArg::Kind::kKeyItem && a.item < items.size()) {
        auto& item = items[a.item];
        const auto& keys = compiled->key_params;
        size_t k = std::find(keys.begin(), keys.end(), a.name) - keys.begin();
        if (k == keys.size()) return absl::InvalidArgumentError("fake: unknown key argument");
        item.resize(keys.size(), nullptr);
        item[k] = &args[i].value;
      } else {
        return absl::InvalidArgumentError("fake: unsupported argument kind");
      }
    }

    if (IsCancelled()) return absl::CancelledError("fake: cancelled");
    if (q.sleep_ms > 0) {
      absl::MutexLock lock(&cancel_mu_);
      cancel_mu_.AwaitWithTimeout(absl::Condition(&cancelled_), absl::Milliseconds(q.sleep_ms));
      if (cancelled_) return absl::CancelledError("fake: cancelled");
    }

    if (q.throw_oom) throw std::bad_alloc();
    absl::Status failure;
    if (q.fail) failure = absl::Status(q.fail_code, "fake failure");
    if (failure.ok() && q.fail_when) {
      auto it = params.find(q.fail_param);
      bool hit = it != params.end() && it->second->ToText() == q.fail_value;
      const auto& keys = compiled->key_params;
      size_t k = std::find(keys.begin(), keys.end(), q.fail_param) - keys.begin();
      for (const auto& item : items) {
        if (k < item.size() && item[k] != nullptr && item[k]->ToText() == q.fail_value) hit = true;
      }
      if (hit) failure = absl::InternalError("fake failure");
    }
    if (!failure.ok()) {
      if (q.broken) broken_ = true;
      return failure;
    }

    auto param = [&](const std::string& name) -> absl::StatusOr<const Value*> {
      auto it = params.find(name);
      if (it == params.end()) {
        return absl::InvalidArgumentError(Cat("fake: parameter :", name, " not bound"));
      }
      return it->second;
    };

    std::vector<ColumnInfo> columns;
    switch (q.body) {
      case Body::kWrite: {
        if (stats != nullptr) stats->rows_affected = 1;
        if (sink != nullptr) return sink->OnColumns(columns);
        return absl::OkStatus();
      }
      case Body::kRange: {
        columns.push_back(ColumnInfo{"i", ValueType::kInt64, "int64"});
        if (sink == nullptr) return absl::OkStatus();
        if (absl::Status s = sink->OnColumns(columns); !s.ok()) return s;
        for (int64_t i = 0; i < q.range; ++i) {
          if (IsCancelled()) return absl::CancelledError("fake: cancelled");
          std::vector<Value> row{Value::Int(i)};
          if (absl::Status s = sink->OnRow(row); !s.ok()) return s;
        }
        return absl::OkStatus();
      }
      case Body::kEcho: {
        std::vector<Value> row;
        for (const std::string& p : q.echo) {
          auto v = param(p);
          if (!v.ok()) return v.status();
          columns.push_back(ColumnInfo{p, (*v)->type(), ""});
          row.push_back(**v);
        }
        if (sink == nullptr) return absl::OkStatus();
        if (absl::Status s = sink->OnColumns(columns); !s.ok()) return s;
        return sink->OnRow(row);
      }
      case Body::kTable:
        break;
    }

    std::shared_ptr<const Table> table;
    {
      absl::MutexLock lock(&st_->mu);
      auto it = st_->tables.find(q.table);
      if (it != st_->tables.end()) table = it->second;
    }
    if (table == nullptr) return absl::NotFoundError(Cat("fake: no table ", q.table));
    auto column_index = [&](const std::string& c) -> absl::StatusOr<size_t> {
      auto it = std::find(table->columns.begin(), table->columns.end(), c);
      if (it == table->columns.end()) {
        return absl::InvalidArgumentError(Cat("fake: table ", q.table, " has no column ", c));
      }
      return static_cast<size_t>(it - table->columns.begin());
    };

    // Plain conditions (non-key parameters) and key columns.
    std::vector<std::pair<size_t, const Value*>> conds;
    std::vector<size_t> key_cols(compiled->key_params.size());
    for (const auto& [col, p] : q.where) {
      auto ci = column_index(col);
      if (!ci.ok()) return ci.status();
      const auto& keys = compiled->key_params;
      auto k = std::find(keys.begin(), keys.end(), p);
      if (k != keys.end()) {
        key_cols[k - keys.begin()] = *ci;
        continue;
      }
      auto v = param(p);
      if (!v.ok()) return v.status();
      conds.emplace_back(*ci, *v);
    }
    for (const auto& item : items) {
      if (item.size() != key_cols.size() ||
          std::find(item.begin(), item.end(), nullptr) != item.end()) {
        return absl::InvalidArgumentError("fake: incomplete batch item");
      }
    }

    for (const std::string& c : table->columns)
      columns.push_back(ColumnInfo{c, ValueType::kNull, ""});
    for (size_t k = 0; k < key_cols.size(); ++k) {
      columns.push_back(ColumnInfo{Cat("__qg_k", k), ValueType::kNull, ""});
    }
    if (sink == nullptr) return absl::OkStatus();
    if (absl::Status s = sink->OnColumns(columns); !s.ok()) return s;
    ValueKeyEqual eq;
    for (const std::vector<Value>& r : table->rows) {
      if (IsCancelled()) return absl::CancelledError("fake: cancelled");
      bool match = std::all_of(conds.begin(), conds.end(),
                               [&](const auto& c) { return eq(r[c.first], *c.second); });
      if (match && !key_cols.empty()) {
        match = std::any_of(items.begin(), items.end(), [&](const auto& item) {
          for (size_t k = 0; k < key_cols.size(); ++k) {
            if (!eq(r[key_cols[k]], *item[k])) return false;
          }
          return true;
        });
      }
      if (!match) continue;
      std::vector<Value> row = r;
      for (size_t k : key_cols) row.push_back(r[k]);
      if (absl::Status s = sink->OnRow(row); !s.ok()) return s;
    }
    return absl::OkStatus();
  }

  std::shared_ptr<FakeProvider::State> st_;
  const int64_t id_;
  std::atomic<bool> broken_{false};
  bool in_tx_ = false;  // used by the owning thread only
  absl::Mutex cancel_mu_;
  bool cancelled_ ABSL_GUARDED_BY(cancel_mu_) = false;
};

}  // namespace

// ---- provider ------------------------------------------------------------

FakeProvider::FakeProvider(std::string name)
    : name_(std::move(name)), state_(std::make_shared<State>()) {}

FakeProvider::~FakeProvider() = default;

void FakeProvider::AddTable(std::string name, std::vector<std::string> columns,
                            std::vector<std::vector<Value>> rows) {
  for (auto& r : rows) r.resize(columns.size());
  auto t = std::make_shared<Table>(Table{std::move(columns), std::move(rows)});
  absl::MutexLock lock(&state_->mu);
  state_->tables[std::move(name)] = std::move(t);
}

std::vector<std::vector<Value>> FakeProvider::TableRows(std::string_view name) const {
  absl::MutexLock lock(&state_->mu);
  auto it = state_->tables.find(name);
  if (it == state_->tables.end()) return {};
  return it->second->rows;
}

void FakeProvider::FailNextConnects(int n) {
  absl::MutexLock lock(&state_->mu);
  state_->fail_connects = n;
}
void FakeProvider::SetPingFails(bool fails) {
  absl::MutexLock lock(&state_->mu);
  state_->ping_fails = fails;
}
void FakeProvider::SetConnectDelay(int ms) {
  absl::MutexLock lock(&state_->mu);
  state_->connect_delay_ms = ms;
}
void FakeProvider::FailCommit(bool fails) {
  absl::MutexLock lock(&state_->mu);
  state_->fail_commit = fails;
}
void FakeProvider::FailRollback(bool fails) {
  absl::MutexLock lock(&state_->mu);
  state_->fail_rollback = fails;
}
void FakeProvider::SetTwoPhase(bool on) {
  absl::MutexLock lock(&state_->mu);
  state_->two_phase = on;
}
void FakeProvider::FailTwoPhase(TwoPhaseCall call, int n) {
  absl::MutexLock lock(&state_->mu);
  state_->faults[static_cast<int>(call)].fail = n;
}
void FakeProvider::CrashAt(TwoPhaseCall call, bool after_effect) {
  absl::MutexLock lock(&state_->mu);
  state_->faults[static_cast<int>(call)].crash = true;
  state_->faults[static_cast<int>(call)].crash_after_effect = after_effect;
}
int64_t FakeProvider::NextSequence() {
  static std::atomic<int64_t> seq{0};
  return ++seq;
}
std::vector<std::string> FakeProvider::prepared() const {
  absl::MutexLock lock(&state_->mu);
  return {state_->prepared.begin(), state_->prepared.end()};
}
void FakeProvider::SetOptionKeys(std::vector<std::string> keys) {
  absl::MutexLock lock(&state_->mu);
  state_->option_keys = std::move(keys);
}

#define QG_FAKE_GETTER(fn, field)      \
  int64_t FakeProvider::fn() const {   \
    absl::MutexLock lock(&state_->mu); \
    return state_->field;              \
  }
QG_FAKE_GETTER(connects, connects)
QG_FAKE_GETTER(connect_attempts, attempts)
QG_FAKE_GETTER(live_connections, live)
QG_FAKE_GETTER(max_live_connections, max_live)
QG_FAKE_GETTER(resets, resets)
QG_FAKE_GETTER(pings, pings)
QG_FAKE_GETTER(cancels, cancels)
QG_FAKE_GETTER(executions, executions)
QG_FAKE_GETTER(max_concurrent_executions, max_running)
#undef QG_FAKE_GETTER

std::vector<std::string> FakeProvider::tx_log() const {
  absl::MutexLock lock(&state_->mu);
  std::vector<std::string> out;
  for (const TxEvent& e : state_->tx) out.push_back(e.what);
  return out;
}
std::vector<FakeProvider::TxEvent> FakeProvider::tx_events() const {
  absl::MutexLock lock(&state_->mu);
  return state_->tx;
}
std::vector<FakeProvider::ExecRecord> FakeProvider::exec_log() const {
  absl::MutexLock lock(&state_->mu);
  return state_->execs;
}
ConnectRequest FakeProvider::last_connect() const {
  absl::MutexLock lock(&state_->mu);
  return state_->last;
}

Capabilities FakeProvider::capabilities() const {
  Capabilities c;
  c.placeholder_style = PlaceholderStyle::kQuestion;
  c.max_placeholders = 1000;
  c.batch_in_list = true;
  c.writes = true;
  c.transactions = true;
  c.savepoints = true;
  {
    absl::MutexLock lock(&state_->mu);
    c.two_phase = state_->two_phase;
  }
  c.cancel = true;
  c.cost_estimates = false;
  return c;
}

std::vector<std::string> FakeProvider::option_keys() const {
  absl::MutexLock lock(&state_->mu);
  return state_->option_keys;
}

absl::StatusOr<std::unique_ptr<Connection>> FakeProvider::Connect(const ConnectRequest& request) {
  int delay;
  {
    absl::MutexLock lock(&state_->mu);
    ++state_->attempts;
    state_->last = request;
    delay = state_->connect_delay_ms;
  }
  if (delay > 0) std::this_thread::sleep_for(std::chrono::milliseconds(delay));
  absl::MutexLock lock(&state_->mu);
  if (state_->fail_connects > 0) {
    --state_->fail_connects;
    return absl::UnavailableError("fake: connect failed");
  }
  ++state_->connects;
  state_->max_live = std::max(state_->max_live, ++state_->live);
  return std::unique_ptr<Connection>(new FakeConnection(state_, state_->next_id++));
}

absl::StatusOr<std::vector<std::string>> FakeProvider::Placeholders(
    std::string_view query_string) const {
  auto q = ParseFake(query_string);
  if (!q.ok()) return q.status();
  return q->params;
}

absl::StatusOr<Statement> FakeProvider::Compile(const CompileRequest& request) const {
  auto q = ParseFake(request.query_string);
  if (!q.ok()) return q.status();
  auto compiled = std::make_shared<Compiled>();
  Statement stmt;
  stmt.text = std::string(request.query_string);
  stmt.is_write = q->body == Body::kWrite;
  if (request.key_params.empty() || request.batch_items == 0) {
    for (const std::string& p : q->params) {
      stmt.args.push_back(BatchArg{BatchArg::Kind::kParam, p, 0});
    }
  } else {
    if (q->body != Body::kTable) {
      return absl::FailedPreconditionError("fake: cannot batch (only 'table T where ...')");
    }
    if (request.form != BatchForm::kInList) {
      return absl::FailedPreconditionError("fake: cannot batch (only the IN-list form)");
    }
    for (const std::string& k : request.key_params) {
      const bool in_where = std::any_of(q->where.begin(), q->where.end(),
                                        [&](const auto& w) { return w.second == k; });
      const auto uses = std::count_if(q->where.begin(), q->where.end(),
                                      [&](const auto& w) { return w.second == k; });
      if (!in_where || uses != 1) {
        return absl::FailedPreconditionError(
            Cat("fake: cannot batch (key parameter :", k, " is not one 'COLUMN = :", k, "')"));
      }
    }
    for (const std::string& p : q->params) {
      if (std::find(request.key_params.begin(), request.key_params.end(), p) ==
          request.key_params.end()) {
        stmt.args.push_back(BatchArg{BatchArg::Kind::kParam, p, 0});
      }
    }
    for (size_t item = 0; item < request.batch_items; ++item) {
      for (const std::string& k : request.key_params) {
        stmt.args.push_back(BatchArg{BatchArg::Kind::kKeyItem, k, item});
      }
    }
    stmt.key_columns = request.key_params.size();
    stmt.batch_items = request.batch_items;
    compiled->key_params = request.key_params;
    compiled->items = request.batch_items;
  }
  if (stmt.args.size() > capabilities().max_placeholders) {
    return absl::FailedPreconditionError(
        Cat("fake: ", stmt.args.size(), " placeholders exceed the limit of 1000"));
  }
  compiled->query = std::move(*q);
  stmt.data = std::move(compiled);
  return stmt;
}

}  // namespace qg::testing
