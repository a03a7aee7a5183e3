// JSON of the transaction and recovery reports (qg/transaction.h).
#include "common/json_writer.h"
#include "qg/transaction.h"

namespace qg {

std::string_view ParticipantStateName(ParticipantState s) {
  switch (s) {
    case ParticipantState::kCommitted:
      return "committed";
    case ParticipantState::kRolledBack:
      return "rolled_back";
    case ParticipantState::kCommitPending:
      return "commit_pending";
    case ParticipantState::kFailed:
      return "failed";
  }
  return "rolled_back";
}

std::string TransactionReportJson(const TransactionReport& report) {
  JsonWriter w;
  w.BeginObject().Key("mode").String(report.mode.empty() ? "autonomous" : report.mode);
  if (!report.id.empty()) w.Key("id").String(report.id);
  w.Key("participants").BeginArray();
  for (const ParticipantOutcome& p : report.participants) {
    w.BeginObject().Key("source").String(p.source).Key("user").String(p.user);
    if (!p.gid.empty()) w.Key("gid").String(p.gid);
    if (p.last_resource) w.Key("last_resource").Bool(true);
    w.Key("state").String(ParticipantStateName(p.state));
    if (!p.error.empty()) w.Key("error").String(p.error);
    w.EndObject();
  }
  w.EndArray().EndObject();
  return w.Take();
}

std::string RecoveryReportJson(const RecoveryReport& report) {
  JsonWriter w;
  w.BeginObject()
      .Key("committed")
      .Int(report.committed)
      .Key("rolled_back")
      .Int(report.rolled_back)
      .Key("resolved_log")
      .Int(report.resolved_log)
      .Key("unresolved")
      .BeginArray();
  for (const std::string& u : report.unresolved) w.String(u);
  w.EndArray().EndObject();
  return w.Take();
}

}  // namespace qg
