// qg/transaction.h — what a graph's transaction did on each source, and what
// recovery resolved (docs/design.md §10).
//
// Modes (Graph::transaction, or ExecuteOptions::transaction):
//   autonomous  every statement commits on its own (the default);
//   common      one transaction per written source (its "participant"),
//               holding one pinned connection for the whole graph; after every
//               node succeeded the participants commit one by one in a fixed
//               order (source name, then external user). Any failure before
//               that rolls every participant back. A failure during the
//               commit phase is reported naming the sources that committed
//               and those that did not.
//   2pc         as common, plus PREPARE on every participant, the decision
//               written to the coordinator log (EngineOptions::coordinator_log)
//               before the first COMMIT PREPARED, and Engine::Recover() to
//               resolve what a crash left prepared. One participant that cannot
//               prepare (SQLite) is admitted as the last resource: committed
//               after all others prepared, before the decision is logged.
// Sources a graph only reads are read outside the transaction. A source
// without transactions (http, csv) cannot be written in common/2pc.
//
// Thread-safety: plain values.
#ifndef QG_TRANSACTION_H_
#define QG_TRANSACTION_H_

#include <functional>
#include <string>
#include <string_view>
#include <vector>

#include "qg/export.h"

namespace qg {

enum class ParticipantState {
  kCommitted,
  kRolledBack,
  // Prepared and the decision is commit, but COMMIT PREPARED failed (source
  // down): recorded in the coordinator log, committed by Engine::Recover().
  kCommitPending,
  kFailed,  // its commit failed; its own transaction was rolled back
};
QG_EXPORT std::string_view ParticipantStateName(ParticipantState s);

struct ParticipantOutcome {
  std::string source;
  std::string user;  // the external user the connection ran as
  std::string gid;   // 2pc: the global transaction id; "" otherwise
  bool last_resource = false;
  ParticipantState state = ParticipantState::kRolledBack;
  std::string error;  // why, for kFailed / kCommitPending
};

struct TransactionReport {
  std::string mode;                              // "common" | "2pc" ("" for autonomous: no report)
  std::string id;                                // 2pc: the graph's transaction id inside every gid
  std::vector<ParticipantOutcome> participants;  // in commit order
};

// What Engine::Recover() did. A transaction whose source was unreachable
// stays in the log for the next Recover().
struct RecoveryReport {
  int committed = 0;                    // prepared branches committed (decision: commit)
  int rolled_back = 0;                  // prepared branches rolled back (no commit decision)
  int resolved_log = 0;                 // coordinator log records finished and removed
  std::vector<std::string> unresolved;  // "source: reason", sources still unreachable
};

// JSON of the reports: {"mode", "id", "participants": [{"source", "user",
// "gid", "last_resource", "state", "error"}]} and {"committed",
// "rolled_back", "resolved_log", "unresolved": [...]}.
QG_EXPORT std::string TransactionReportJson(const TransactionReport& report);
QG_EXPORT std::string RecoveryReportJson(const RecoveryReport& report);

// Test hook: called at the named points of the two-phase commit
// ("after_prepare": every participant prepared, no decision logged yet;
// "after_decision": the commit decision is durable, nothing committed;
// "between_commits": after the first COMMIT PREPARED, before the next).
using TransactionHook = std::function<void(std::string_view point)>;

}  // namespace qg

#endif  // QG_TRANSACTION_H_
