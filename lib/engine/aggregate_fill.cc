// Empty-group rows of batched dependent aggregates (engine/aggregate_fill.h).
#include "engine/aggregate_fill.h"

namespace qg {

absl::Status FillEmptyGroups(
    const Statement& stmt, const std::vector<uint32_t>& row_binding, size_t begin, size_t end,
    const std::function<absl::Status(std::vector<Value>& row, uint32_t binding)>& emit) {
  if (!stmt.key_grouped || stmt.empty_row.empty() || end <= begin) return absl::OkStatus();
  std::vector<bool> seen(end - begin, false);
  for (uint32_t b : row_binding) {
    if (b >= begin && b < end) seen[b - begin] = true;
  }
  for (size_t k = 0; k < seen.size(); ++k) {
    if (seen[k]) continue;
    std::vector<Value> row = stmt.empty_row;
    absl::Status s = emit(row, static_cast<uint32_t>(begin + k));
    if (!s.ok()) return s;
  }
  return absl::OkStatus();
}

}  // namespace qg
