#include "engine/explain_strategy.h"

#include <cmath>
#include <cstdio>

#include "absl/strings/str_cat.h"
#include "common/json_writer.h"

namespace qg {
namespace {

std::string Ms(double ms) {
  if (!std::isfinite(ms) || ms < 0) return "";
  char buf[32];
  std::snprintf(buf, sizeof(buf), "%.3f", ms);
  return buf;
}

std::string Keys(double k) {
  if (!std::isfinite(k) || k < 0) return "";
  char buf[32];
  std::snprintf(buf, sizeof(buf), "%.0f", k);
  return buf;
}

}  // namespace

std::string AlternativesText(const NodePlan& np) {
  if (np.alternatives.empty()) return "";
  const std::string keys = Keys(np.expected_keys);
  std::string out =
      absl::StrCat("  alternatives: (expected keys ", keys.empty() ? "unknown" : keys, ")\n");
  for (const Alternative& a : np.alternatives) {
    const std::string ms = Ms(a.est_ms);
    absl::StrAppend(&out, "    ", std::string(ExecKindName(a.kind)), ": ",
                    !a.possible  ? "not possible"
                    : ms.empty() ? "no estimate"
                                 : absl::StrCat("est ", ms, " ms"),
                    a.kind == np.kind ? " [chosen]" : "",
                    a.note.empty() ? "" : absl::StrCat(" — ", a.note), "\n");
  }
  return out;
}

std::string AlternativesJson(const NodePlan& np) {
  if (np.alternatives.empty()) return "";
  const std::string keys = Keys(np.expected_keys);
  std::string out =
      absl::StrCat(",\"expected_keys\":", keys.empty() ? "null" : keys, ",\"alternatives\":[");
  bool first = true;
  for (const Alternative& a : np.alternatives) {
    const std::string ms = Ms(a.est_ms);
    absl::StrAppend(
        &out, first ? "" : ",", "{\"strategy\":", JsonQuote(ExecKindName(a.kind)),
        ",\"possible\":", a.possible ? "true" : "false", ",\"est_ms\":", ms.empty() ? "null" : ms,
        ",\"chosen\":", a.kind == np.kind ? "true" : "false", ",\"note\":", JsonQuote(a.note), "}");
    first = false;
  }
  out += "]";
  return out;
}

std::string ReplanText(const NodeResult& r) {
  if (r.stats.replan_reason.empty()) return "";
  return absl::StrCat("  replanned:   ", r.stats.planned_strategy, " -> ", r.stats.strategy, ": ",
                      r.stats.replan_reason, "\n");
}

std::string ReplanJson(const NodeResult& r) {
  std::string out = absl::StrCat(",\"strategy\":", JsonQuote(r.stats.strategy),
                                 ",\"planned_strategy\":", JsonQuote(r.stats.planned_strategy));
  if (!r.stats.replan_reason.empty()) {
    absl::StrAppend(&out, ",\"replan_reason\":", JsonQuote(r.stats.replan_reason));
  }
  return out;
}

}  // namespace qg
