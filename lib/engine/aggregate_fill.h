// Internal: the rows a batched dependent aggregate owes the bindings that
// had no group (sql/aggregate_batch.h, docs/design.md §11).
#ifndef QG_LIB_ENGINE_AGGREGATE_FILL_H_
#define QG_LIB_ENGINE_AGGREGATE_FILL_H_

#include <cstddef>
#include <cstdint>
#include <functional>
#include <vector>

#include "absl/status/status.h"
#include "qg/provider.h"
#include "qg/value.h"

namespace qg {

// After one execution of a key-grouped statement answering bindings
// [begin, end): `row_binding` holds the binding of each row it returned.
// Every binding of the range with no row gets stmt.empty_row through `emit`
// (a copy per binding), in binding order — what one execution per binding
// would have returned for it (count 0, other aggregates NULL). Nothing for a
// statement that is not key-grouped or whose empty_row is empty (GROUP BY).
absl::Status FillEmptyGroups(
    const Statement& stmt, const std::vector<uint32_t>& row_binding, size_t begin, size_t end,
    const std::function<absl::Status(std::vector<Value>& row, uint32_t binding)>& emit);

}  // namespace qg

#endif  // QG_LIB_ENGINE_AGGREGATE_FILL_H_
