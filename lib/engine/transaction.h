// Internal: the `common` and `2pc` transaction modes (qg/transaction.h,
// docs/design.md §10) as a ConnectionBroker.
//
// Participants are the sources a graph writes (one per (source, external
// user) pool). Open() takes one connection from each participant's pool, in
// a fixed order (so two graphs cannot hold each other's last connection), and
// begins its transaction (with its XA id in 2pc). Every node on a participant
// source — reads too, so they see the graph's writes — runs on that pinned
// connection, one task at a time (MaxConcurrent = 1); a node with
// on_error=continue runs under a savepoint that its failure rolls back to.
// Other sources lend connections from their pools as in autonomous mode.
//
// After RunGraph the engine calls Rollback() or Commit() exactly once; the
// destructor returns every pinned connection to its pool (whose Reset rolls
// back anything still open).
//
// Thread-safety: Acquire/MaxConcurrent are called from executor tasks; one
// participant is used by one task at a time. Open/Commit/Rollback run on the
// calling thread before/after the graph.
#ifndef QG_LIB_ENGINE_TRANSACTION_H_
#define QG_LIB_ENGINE_TRANSACTION_H_

#include <atomic>
#include <memory>
#include <string>
#include <vector>

#include "absl/status/status.h"
#include "engine/executor.h"
#include "engine/planner.h"
#include "qg/graph.h"
#include "qg/transaction.h"
#include "store/coordinator_log.h"

namespace qg {

struct TxParticipant {
  std::shared_ptr<SourceHandle> source;
  std::string gid;             // 2pc two-phase participants
  bool last_resource = false;  // 2pc: the one participant that cannot prepare
  PooledConnection conn;
  bool began = false;
  bool prepared = false;
  std::atomic<bool> failed{false};  // broken, or a statement failed outside a savepoint
  std::string failure;
  bool rollback_failed = false;  // its rollback failed (see RollbackOutcome)
  bool left_prepared = false;    // ...of a prepared branch, left to Engine::Recover()
};

// Which sources of a planned graph take part, checked before any connection
// is taken: writes only on sources with transactions, savepoints for
// on_error=continue nodes on participants, in 2pc at most one participant
// that cannot prepare. Sorted in commit order.
absl::StatusOr<std::vector<std::shared_ptr<SourceHandle>>> TransactionParticipants(
    const PlannedGraph& planned, TransactionMode mode, bool have_coordinator_log);

class TransactionBroker : public ConnectionBroker {
 public:
  // `tx_id` and `prefix` make the 2pc global ids: "<prefix>.<tx_id>.<n>".
  TransactionBroker(TransactionMode mode, std::vector<std::shared_ptr<SourceHandle>> participants,
                    std::string prefix, std::string tx_id);
  ~TransactionBroker() override;

  absl::Status Open(CancelToken* cancel);

  absl::StatusOr<std::unique_ptr<ConnectionLease>> Acquire(const PlannedNode& node,
                                                           CancelToken* cancel) override;
  int MaxConcurrent(const SourceHandle& source) override;

  // The graph failed: every participant rolls back. Fills `report`.
  void Rollback(TransactionReport* report);

  // The graph succeeded: common commits in order; 2pc logs, prepares, commits
  // the last resource, logs the decision, commits the prepared ones.
  // `local_user` is recorded in the log for recovery. Fills `report`.
  absl::Status Commit(CoordinatorLog* log, const std::string& local_user,
                      const TransactionHook& hook, TransactionReport* report);

  const std::string& id() const { return tx_id_; }

  // After Rollback (or a failed Commit): "rolled back on every source" when
  // every participant's rollback succeeded, else which sources rolled back,
  // which did not (with the driver's reason) and what becomes of them.
  std::string RollbackOutcome() const;

 private:
  TxParticipant* Find(const SourceHandle& source);
  absl::Status CommitCommon(TransactionReport* report);
  absl::Status CommitTwoPhase(CoordinatorLog* log, const std::string& local_user,
                              const TransactionHook& hook, TransactionReport* report);
  // Undoes everything not committed yet (prepared branches included).
  void RollbackRest(TransactionReport* report);
  void Report(TransactionReport* report) const;

  const TransactionMode mode_;
  const std::string prefix_;
  const std::string tx_id_;
  std::vector<std::unique_ptr<TxParticipant>> participants_;  // commit order
  std::vector<ParticipantState> states_;
  std::vector<std::string> errors_;
  PoolBroker pools_;
};

// A fresh random transaction id (16 hex digits).
std::string NewTransactionId();

}  // namespace qg

#endif  // QG_LIB_ENGINE_TRANSACTION_H_
