// Internal: dependent aggregates batched as one grouped statement
// (docs/design.md §11, "Dependent aggregates").
//
// `SELECT count(*) AS n FROM orders WHERE user_id = :uid [GROUP BY ...]`
// answers a set of bindings as
// `SELECT count(*) AS n, user_id AS __qg_k0 FROM orders WHERE user_id IN (...)
//  GROUP BY user_id` (or `= ANY($1)`): one row per key that has rows. A key
// with no rows gets what per-binding execution gives it: for an ungrouped
// aggregate one row (count 0, everything else NULL: `empty_row`), for a
// GROUP BY query no rows (the engine fills, lib/engine/aggregate_fill.h).
#ifndef QG_LIB_SQL_AGGREGATE_BATCH_H_
#define QG_LIB_SQL_AGGREGATE_BATCH_H_

#include <cstddef>
#include <string>
#include <vector>

#include "absl/status/statusor.h"
#include "qg/placeholders.h"
#include "qg/value.h"

namespace qg::sql {

struct AggregateBatch {
  BatchedSql batched;  // key columns always trail (key_position -1)
  // Ungrouped aggregate: the row (one value per select-list item) a key with
  // no rows gets. GROUP BY query: empty (such a key gets no rows).
  std::vector<Value> empty_row;
};

// The rewrite above. Accepted only when every select-list item is
// count/sum/min/max/avg(<expression>) [AS alias] — or, with GROUP BY, a
// column of the GROUP BY list — there is no DISTINCT, HAVING, LIMIT, OFFSET,
// window, set operation or WITH, and the key parameters satisfy
// RewriteBatched's rules (`<column> = :p` conjuncts at the top level of
// WHERE). Anything else: kFailedPrecondition with the reason; a statement
// with no top-level aggregate and no GROUP BY says "not an aggregate query".
absl::StatusOr<AggregateBatch> RewriteAggregateBatched(const ParsedSql& sql,
                                                       const std::vector<std::string>& key_params,
                                                       size_t items, PlaceholderStyle style,
                                                       BatchForm form);

// RewriteBatched with top-level aggregates and GROUP BY allowed and the key
// columns added to GROUP BY (defined in placeholders.cc, which owns the
// batched rewriter). Callers check the select list first.
absl::StatusOr<BatchedSql> RewriteBatchedGrouped(const ParsedSql& sql,
                                                 const std::vector<std::string>& key_params,
                                                 size_t items, PlaceholderStyle style,
                                                 BatchForm form);

}  // namespace qg::sql

#endif  // QG_LIB_SQL_AGGREGATE_BATCH_H_
