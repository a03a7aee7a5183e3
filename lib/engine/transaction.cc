#include "engine/transaction.h"

#include <algorithm>
#include <random>
#include <utility>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "fmt/format.h"

namespace qg {
namespace {

std::string_view ModeName(TransactionMode m) { return TransactionModeName(m); }

std::string Who(const SourceHandle& s) {
  return s.external_user.empty() ? absl::StrCat("\"", s.name, "\"")
                                 : absl::StrCat("\"", s.name, "\" (user ", s.external_user, ")");
}

// A lease on a participant's pinned connection; a node with on_error=continue
// runs under a savepoint.
class TxLease : public ConnectionLease {
 public:
  TxLease(TxParticipant* p, std::string savepoint) : p_(p), savepoint_(std::move(savepoint)) {}
  Connection& conn() override { return *p_->conn; }
  void MarkBroken() override {
    p_->conn.MarkBroken();
    Fail("the connection broke");
  }
  void Done(const absl::Status& outcome) override {
    if (savepoint_.empty()) {
      if (!outcome.ok()) Fail(std::string(outcome.message()));
      return;
    }
    absl::Status st = outcome.ok() ? p_->conn->ReleaseSavepoint(savepoint_)
                                   : p_->conn->RollbackToSavepoint(savepoint_);
    if (!st.ok()) Fail(std::string(st.message()));
  }

 private:
  void Fail(std::string why) {
    if (!p_->failed.exchange(true)) p_->failure = std::move(why);
  }
  TxParticipant* p_;
  std::string savepoint_;
};

}  // namespace

std::string NewTransactionId() {
  static thread_local std::mt19937_64 rng(std::random_device{}() ^
                                          static_cast<uint64_t>(absl::ToUnixNanos(absl::Now())));
  return fmt::format("{:016x}", rng());
}

absl::StatusOr<std::vector<std::shared_ptr<SourceHandle>>> TransactionParticipants(
    const PlannedGraph& planned, TransactionMode mode, bool have_coordinator_log) {
  std::vector<std::shared_ptr<SourceHandle>> out;
  if (mode == TransactionMode::kAutonomous) return out;
  const std::string mode_name(ModeName(mode));
  for (const auto& pn : planned.nodes) {
    if (!pn->is_write) continue;
    const SourceHandle& s = *pn->source;
    if (!s.caps.transactions) {
      return absl::InvalidArgumentError(
          absl::StrCat(pn->error_prefix, "transaction \"", mode_name,
                       "\" cannot include a write to provider \"", std::string(s.provider->name()),
                       "\": it has no transactions (run the graph as \"autonomous\")"));
    }
    bool seen = false;
    for (const auto& p : out) seen = seen || p->pool_key == s.pool_key;
    if (!seen) out.push_back(pn->source);
  }
  for (const auto& pn : planned.nodes) {
    if (pn->node->on_error != OnError::kContinue) continue;
    for (const auto& p : out) {
      if (p->pool_key == pn->source->pool_key && !p->caps.savepoints) {
        return absl::InvalidArgumentError(
            absl::StrCat(pn->error_prefix, "on_error \"continue\" in transaction \"", mode_name,
                         "\" needs savepoints, which provider \"", std::string(p->provider->name()),
                         "\" lacks"));
      }
    }
  }
  // Commit order: by (source, user); in 2pc the last resource at the end.
  const bool two_phase = mode == TransactionMode::kTwoPhase;
  std::sort(out.begin(), out.end(), [two_phase](const auto& a, const auto& b) {
    if (two_phase && a->caps.two_phase != b->caps.two_phase) return a->caps.two_phase;
    return a->pool_key < b->pool_key;
  });
  if (mode == TransactionMode::kTwoPhase && !out.empty()) {
    if (!have_coordinator_log) {
      return absl::FailedPreconditionError(
          "transaction \"2pc\" needs a coordinator log (EngineOptions::coordinator_log, "
          "qg_engine_options.coordinator_log, qgraph --tx-log FILE)");
    }
    std::vector<std::string> cannot;
    for (const auto& p : out) {
      if (!p->caps.two_phase) cannot.push_back(Who(*p));
    }
    if (cannot.size() > 1) {
      return absl::InvalidArgumentError(absl::StrCat(
          "transaction \"2pc\": sources ", absl::StrJoin(cannot, ", "),
          " cannot prepare; at most one such source may take part (as the last resource)"));
    }
  }
  for (const auto& p : out) {
    const int max = p->pool != nullptr ? p->pool->options().pool_max : p->config.pool.pool_max;
    if (max < 1) {
      return absl::ResourceExhaustedError(
          absl::StrCat("transaction \"", mode_name, "\": source ", Who(*p),
                       " needs one connection for the whole graph but its pool_max is ", max));
    }
  }
  return out;
}

TransactionBroker::TransactionBroker(TransactionMode mode,
                                     std::vector<std::shared_ptr<SourceHandle>> participants,
                                     std::string prefix, std::string tx_id)
    : mode_(mode), prefix_(std::move(prefix)), tx_id_(std::move(tx_id)) {
  int n = 0;
  for (auto& s : participants) {
    auto p = std::make_unique<TxParticipant>();
    p->last_resource = mode_ == TransactionMode::kTwoPhase && !s->caps.two_phase;
    if (mode_ == TransactionMode::kTwoPhase && !p->last_resource) {
      p->gid = absl::StrCat(prefix_, ".", tx_id_, ".", n++);
    }
    p->source = std::move(s);
    participants_.push_back(std::move(p));
  }
  states_.assign(participants_.size(), ParticipantState::kRolledBack);
  errors_.assign(participants_.size(), "");
}

TransactionBroker::~TransactionBroker() {
  // Back to the pools in reverse order; Reset rolls back whatever is open
  // (and a MariaDB session holding a prepared branch detaches from it).
  for (auto it = participants_.rbegin(); it != participants_.rend(); ++it) {
    if ((*it)->conn) (*it)->conn.Release();
  }
}

absl::Status TransactionBroker::Open(CancelToken* cancel) {
  for (auto& p : participants_) {
    if (p->source->pool == nullptr) return absl::InternalError("participant has no pool");
    absl::StatusOr<PooledConnection> c = p->source->pool->Acquire(cancel);
    if (!c.ok()) {
      return absl::Status(c.status().code(),
                          absl::StrCat("transaction \"", std::string(ModeName(mode_)),
                                       "\": source ", Who(*p->source), ": ", c.status().message()));
    }
    p->conn = std::move(*c);
    TxOptions o;
    o.xa_gid = p->gid;
    absl::Status st = p->conn->Begin(o);
    if (!st.ok()) {
      if (p->conn->broken()) p->conn.MarkBroken();
      return absl::Status(
          st.code(), absl::StrCat("transaction \"", std::string(ModeName(mode_)),
                                  "\": begin on source ", Who(*p->source), ": ", st.message()));
    }
    p->began = true;
  }
  return absl::OkStatus();
}

TxParticipant* TransactionBroker::Find(const SourceHandle& source) {
  for (auto& p : participants_) {
    if (p->source->pool_key == source.pool_key) return p.get();
  }
  return nullptr;
}

absl::StatusOr<std::unique_ptr<ConnectionLease>> TransactionBroker::Acquire(const PlannedNode& node,
                                                                            CancelToken* cancel) {
  TxParticipant* p = Find(*node.source);
  if (p == nullptr) return pools_.Acquire(node, cancel);
  if (!p->began || !p->conn) return absl::InternalError("transaction participant is not open");
  if (p->failed.load()) {
    return absl::AbortedError(absl::StrCat("the transaction on source ", Who(*p->source),
                                           " already failed: ", p->failure));
  }
  std::string savepoint;
  if (node.node->on_error == OnError::kContinue) {
    savepoint = absl::StrCat("qg_node_", node.index);
    absl::Status st = p->conn->Savepoint(savepoint);
    if (!st.ok()) return st;
  }
  return std::unique_ptr<ConnectionLease>(std::make_unique<TxLease>(p, std::move(savepoint)));
}

int TransactionBroker::MaxConcurrent(const SourceHandle& source) {
  if (Find(source) != nullptr) return 1;
  return pools_.MaxConcurrent(source);
}

void TransactionBroker::Report(TransactionReport* report) const {
  report->mode = std::string(ModeName(mode_));
  report->id = mode_ == TransactionMode::kTwoPhase ? tx_id_ : "";
  report->participants.clear();
  for (size_t i = 0; i < participants_.size(); ++i) {
    const TxParticipant& p = *participants_[i];
    ParticipantOutcome o;
    o.source = p.source->name;
    o.user = p.source->external_user;
    o.gid = p.gid;
    o.last_resource = p.last_resource;
    o.state = states_[i];
    o.error = errors_[i];
    report->participants.push_back(std::move(o));
  }
}

void TransactionBroker::RollbackRest(TransactionReport* report) {
  for (size_t i = 0; i < participants_.size(); ++i) {
    TxParticipant& p = *participants_[i];
    if (states_[i] == ParticipantState::kCommitted || states_[i] == ParticipantState::kFailed ||
        !p.began || !p.conn) {
      continue;
    }
    absl::Status st = p.prepared ? p.conn->RollbackPrepared(p.gid) : p.conn->Rollback();
    if (st.ok()) {
      p.prepared = false;
    } else {
      // The connection is closed, not reused: the server ends a plain
      // transaction with its session; a prepared branch is left to
      // Engine::Recover() (no commit decision: roll back).
      errors_[i] = std::string(st.message());
      p.rollback_failed = true;
      p.left_prepared = p.prepared;
      p.conn.MarkBroken();
    }
    states_[i] = ParticipantState::kRolledBack;
    p.began = false;
  }
  Report(report);
}

void TransactionBroker::Rollback(TransactionReport* report) { RollbackRest(report); }

std::string TransactionBroker::RollbackOutcome() const {
  std::vector<std::string> ok, failed;
  for (size_t i = 0; i < participants_.size(); ++i) {
    const TxParticipant& p = *participants_[i];
    if (!p.rollback_failed) {
      if (states_[i] == ParticipantState::kRolledBack) ok.push_back(Who(*p.source));
      continue;
    }
    failed.push_back(absl::StrCat(
        "rollback failed on source ", Who(*p.source), ": ", errors_[i],
        p.left_prepared ? " (its prepared branch stays on the server until Engine::Recover() "
                          "rolls it back)"
                        : " (its connection is closed, which ends the transaction on the server)"));
  }
  if (failed.empty()) return "rolled back on every source";
  std::string out;
  if (!ok.empty()) absl::StrAppend(&out, "rolled back on ", absl::StrJoin(ok, ", "), "; ");
  absl::StrAppend(&out, absl::StrJoin(failed, "; "));
  return out;
}

absl::Status TransactionBroker::Commit(CoordinatorLog* log, const std::string& local_user,
                                       const TransactionHook& hook, TransactionReport* report) {
  for (size_t i = 0; i < participants_.size(); ++i) {
    TxParticipant& p = *participants_[i];
    if (p.failed.load()) {
      RollbackRest(report);
      return absl::AbortedError(absl::StrCat("transaction \"", std::string(ModeName(mode_)), "\" ",
                                             RollbackOutcome(), ": source ", Who(*p.source),
                                             " failed: ", p.failure));
    }
  }
  if (mode_ == TransactionMode::kTwoPhase) return CommitTwoPhase(log, local_user, hook, report);
  return CommitCommon(report);
}

absl::Status TransactionBroker::CommitCommon(TransactionReport* report) {
  std::vector<std::string> committed;
  for (size_t i = 0; i < participants_.size(); ++i) {
    TxParticipant& p = *participants_[i];
    absl::Status st = p.conn->Commit();
    if (st.ok()) {
      states_[i] = ParticipantState::kCommitted;
      p.began = false;
      committed.push_back(Who(*p.source));
      continue;
    }
    states_[i] = ParticipantState::kFailed;
    errors_[i] = std::string(st.message());
    p.began = false;
    // A session lost during COMMIT may have committed before its answer was
    // lost: nobody can say "rolled back" for it.
    const bool unknown = p.conn->broken();
    if (unknown) p.conn.MarkBroken();
    (void)p.conn->Rollback();  // whatever the driver left open
    RollbackRest(report);
    std::vector<std::string> not_committed;
    for (size_t k = unknown ? i + 1 : i; k < participants_.size(); ++k) {
      not_committed.push_back(Who(*participants_[k]->source));
    }
    // Sources after the failed one whose rollback failed too.
    const std::string outcome = RollbackOutcome();
    const std::string failures =
        outcome.find("rollback failed") == std::string::npos ? "" : "; " + outcome;
    if (unknown) {
      errors_[i] += " (the connection was lost during COMMIT: its outcome is unknown)";
      Report(report);
      return absl::DataLossError(absl::StrCat(
          "transaction \"common\": commit failed on source ", Who(*p.source), ": ", st.message(),
          "; COMMIT OUTCOME UNKNOWN on ", Who(*p.source),
          " (the connection was lost during COMMIT)",
          committed.empty() ? "" : absl::StrCat("; committed on ", absl::StrJoin(committed, ", ")),
          not_committed.empty()
              ? ""
              : absl::StrCat("; not committed on ", absl::StrJoin(not_committed, ", ")),
          failures));
    }
    if (committed.empty()) {
      return absl::AbortedError(absl::StrCat("transaction \"common\": commit failed on source ",
                                             Who(*p.source), ": ", st.message(),
                                             "; nothing was committed (not committed on ",
                                             absl::StrJoin(not_committed, ", "), ")", failures));
    }
    return absl::DataLossError(absl::StrCat(
        "transaction \"common\": commit failed on source ", Who(*p.source), ": ", st.message(),
        "; PARTIALLY COMMITTED: committed on ", absl::StrJoin(committed, ", "),
        "; not committed on ", absl::StrJoin(not_committed, ", "), failures));
  }
  Report(report);
  return absl::OkStatus();
}

absl::Status TransactionBroker::CommitTwoPhase(CoordinatorLog* log, const std::string& local_user,
                                               const TransactionHook& hook,
                                               TransactionReport* report) {
  auto at = [&hook](std::string_view point) {
    if (hook) hook(point);
  };
  LoggedTransaction rec;
  rec.id = tx_id_;
  for (const auto& p : participants_) {
    rec.participants.push_back(
        LoggedParticipant{p->source->name, local_user, p->gid, p->last_resource});
  }
  if (absl::Status st = log->Begin(rec); !st.ok()) {
    RollbackRest(report);
    return absl::Status(st.code(), absl::StrCat("transaction \"2pc\" rolled back: ", st.message()));
  }
  bool logged = true;
  auto forget = [&] {
    if (logged && log->Forget(tx_id_).ok()) logged = false;
  };

  // Phase 1: prepare every two-phase participant.
  for (size_t i = 0; i < participants_.size(); ++i) {
    TxParticipant& p = *participants_[i];
    if (p.last_resource) continue;
    absl::Status st = p.conn->PrepareTransaction(p.gid);
    if (!st.ok()) {
      states_[i] = ParticipantState::kFailed;
      errors_[i] = std::string(st.message());
      p.began = false;
      if (p.conn->broken()) p.conn.MarkBroken();
      RollbackRest(report);
      forget();  // no decision: Recover() rolls back anything left prepared
      return absl::AbortedError(absl::StrCat("transaction \"2pc\": prepare failed on source ",
                                             Who(*p.source), ": ", st.message(), "; ",
                                             RollbackOutcome()));
    }
    p.prepared = true;
  }
  at("after_prepare");

  // The last resource commits once everything else is prepared.
  for (size_t i = 0; i < participants_.size(); ++i) {
    TxParticipant& p = *participants_[i];
    if (!p.last_resource) continue;
    absl::Status st = p.conn->Commit();
    if (!st.ok()) {
      states_[i] = ParticipantState::kFailed;
      errors_[i] = std::string(st.message());
      p.began = false;
      (void)p.conn->Rollback();
      RollbackRest(report);
      forget();
      return absl::AbortedError(absl::StrCat("transaction \"2pc\": commit of the last resource ",
                                             Who(*p.source), " failed: ", st.message(), "; ",
                                             RollbackOutcome()));
    }
    states_[i] = ParticipantState::kCommitted;
    p.began = false;
  }

  // The decision, durable before any COMMIT PREPARED.
  if (absl::Status st = log->DecideCommit(tx_id_); !st.ok()) {
    bool lr_committed = false;
    for (size_t i = 0; i < participants_.size(); ++i) {
      lr_committed = lr_committed || (participants_[i]->last_resource &&
                                      states_[i] == ParticipantState::kCommitted);
    }
    RollbackRest(report);
    return absl::Status(lr_committed ? absl::StatusCode::kDataLoss : absl::StatusCode::kAborted,
                        absl::StrCat("transaction \"2pc\": the commit decision could not be "
                                     "logged: ",
                                     st.message(),
                                     lr_committed ? "; PARTIALLY COMMITTED: the last resource "
                                                    "committed; the others: "
                                                  : "; ",
                                     RollbackOutcome()));
  }
  at("after_decision");

  // Phase 2.
  bool pending = false;
  int done = 0;
  for (size_t i = 0; i < participants_.size(); ++i) {
    TxParticipant& p = *participants_[i];
    if (p.last_resource) continue;
    if (done == 1) at("between_commits");
    absl::Status st = p.conn->CommitPrepared(p.gid);
    if (!st.ok()) {
      // The pinned session may be gone (killed backend): any session of the
      // source can commit a prepared branch.
      p.conn.MarkBroken();
      p.conn.Release();
      absl::StatusOr<PooledConnection> fresh = p.source->pool->Acquire();
      if (fresh.ok()) {
        p.conn = std::move(*fresh);
        st = p.conn->CommitPrepared(p.gid);
      } else {
        st = fresh.status();
      }
    }
    ++done;
    if (st.ok()) {
      states_[i] = ParticipantState::kCommitted;
      p.prepared = false;
      p.began = false;
    } else {
      states_[i] = ParticipantState::kCommitPending;
      errors_[i] = absl::StrCat(st.message(), " (committed by Engine::Recover() once reachable)");
      p.began = false;  // stays prepared on the server; the log has the decision
      p.prepared = false;
      pending = true;
    }
  }
  if (!pending) forget();
  Report(report);
  return absl::OkStatus();
}

}  // namespace qg
