#include "qg/result.h"

namespace qg {

std::string_view NodeStatusName(NodeStatus s) {
  switch (s) {
    case NodeStatus::kOk:
      return "ok";
    case NodeStatus::kSkipped:
      return "skipped";
    case NodeStatus::kFailed:
      return "failed";
    case NodeStatus::kCancelled:
      return "cancelled";
  }
  return "unknown";
}

int NodeResult::FindColumn(std::string_view name) const {
  for (size_t i = 0; i < columns.size(); ++i) {
    if (columns[i].name == name) return static_cast<int>(i);
  }
  return -1;
}

const NodeResult* GraphResult::FindNode(std::string_view node_id) const {
  for (const NodeResult& n : nodes) {
    if (n.node_id == node_id) return &n;
  }
  return nullptr;
}

}  // namespace qg
