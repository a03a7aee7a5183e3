// qg/placeholders.h — finding `:name` placeholders in query text and
// rewriting them to a driver's native placeholders (docs/design.md §4).
//
// The tokenizer knows single-quoted strings (with '' escapes, and E'..'
// backslash escapes), double-quoted and backquoted identifiers, [bracketed]
// identifiers, -- and /* */ comments (nested for PostgreSQL), $tag$ dollar
// quoting, and PostgreSQL's `::` casts, so `x::int`, `':p'`, `"a:b"` and
// `-- :p` are never placeholders. A placeholder is `:` followed by a letter or
// `_`, then letters, digits or `_`, not preceded by another `:`.
//
// Values are never spliced into text: rewriting produces native placeholders
// and the list of argument names in native order. Batched rewriting turns a
// `col = :p` comparison into `col IN (?, ?, ...)` or `col = ANY($n)` and
// appends the key column(s) to the end of the select list (`SELECT *, col AS
// __qg_k0` is valid in SQLite, PostgreSQL and MySQL, where a leading `col, *`
// is not), so rows can be linked back to the binding that produced them.
//
// Thread-safety: pure functions.
//
//   auto parsed = qg::ParseSql("SELECT * FROM t WHERE a = :a AND b::text = :b");
//   qg::NativeSql n = qg::RewritePlaceholders(*parsed, qg::PlaceholderStyle::kDollar);
//   // n.text == "SELECT * FROM t WHERE a = $1 AND b::text = $2", n.arg_names == {"a","b"}
#ifndef QG_PLACEHOLDERS_H_
#define QG_PLACEHOLDERS_H_

#include <cstddef>
#include <string>
#include <string_view>
#include <vector>

#include "absl/status/statusor.h"
#include "qg/export.h"

namespace qg {

enum class PlaceholderStyle {
  kQuestion,  // ?            (SQLite, MySQL/MariaDB)
  kDollar,    // $1, $2, ...  (PostgreSQL)
};

struct Placeholder {
  std::string name;  // without the colon
  size_t begin = 0;  // byte offset of ':' in the text
  size_t end = 0;    // one past the last byte of the name
};

struct QG_EXPORT ParsedSql {
  std::string text;
  std::vector<Placeholder> placeholders;  // in text order; a name may repeat

  // Distinct names in order of first appearance.
  std::vector<std::string> Names() const;
};

// Tokenizes `sql`. Fails (kInvalidArgument, with the byte offset) on an
// unterminated string, quoted identifier, comment or dollar quote.
QG_EXPORT absl::StatusOr<ParsedSql> ParseSql(std::string_view sql);

struct NativeSql {
  std::string text;
  // One entry per native placeholder, in native order: the :name it stands
  // for. With kQuestion a name used twice appears twice; with kDollar each
  // distinct name gets one number and appears once.
  std::vector<std::string> arg_names;
};

QG_EXPORT NativeSql RewritePlaceholders(const ParsedSql& sql, PlaceholderStyle style);

// How a batched statement receives its keys.
enum class BatchForm {
  kInList,    // col IN (?, ?, ...), one placeholder per key (per key tuple item)
  kAnyArray,  // col = ANY($n), one array argument per key parameter (PostgreSQL)
  // Fetch once (docs/design.md §5): no keys are sent; each `col = :p` becomes
  // `col IS NOT NULL` so the statement returns the whole relation with its
  // key columns, and the engine joins it with the bindings locally.
  kFetchAll,
};

// One native argument of a batched statement.
struct BatchArg {
  enum class Kind {
    kParam,     // an ordinary (non-key) parameter: `name`
    kKeyItem,   // key parameter `name`, the item-th binding of the chunk
    kKeyArray,  // key parameter `name`, all bindings of the chunk as one array
  };
  Kind kind = Kind::kParam;
  std::string name;
  size_t item = 0;
};

struct BatchedSql {
  std::string text;
  std::vector<BatchArg> args;  // in native placeholder order
  // The LAST `key_columns` result columns carry the key parameters' values
  // (in key_params order, named __qg_k0, __qg_k1, ...) and are not part of
  // the node's output...
  size_t key_columns = 0;
  // ...unless the select list already holds the one key column as it is
  // (`SELECT id, user_id FROM orders WHERE user_id = :uid`): then nothing is
  // added and `key_position` is its 0-based index; else -1.
  int key_position = -1;
};

// Rewrites `sql` to answer `items` bindings of `key_params` in one statement.
// Safe only for a single SELECT in which each key parameter appears exactly
// once, as `<column> = :p` (or `:p = <column>`) at parenthesis depth 0 inside
// WHERE, with no OR at depth 0 of the WHERE clause, and no GROUP BY, HAVING,
// LIMIT, OFFSET, FETCH, UNION/INTERSECT/EXCEPT at depth 0 and no window
// (OVER) or aggregate call in the select list at any depth outside a
// subquery (`coalesce(sum(x), 0)` would sum over the whole batch). Anything else returns kFailedPrecondition with the reason,
// and the planner falls back to per-binding execution.
// Several key parameters use row values: (a, b) IN (VALUES (?, ?), (?, ?));
// kAnyArray with several key parameters is refused (kFailedPrecondition):
// callers use kInList then.
QG_EXPORT absl::StatusOr<BatchedSql> RewriteBatched(const ParsedSql& sql,
                                                    const std::vector<std::string>& key_params,
                                                    size_t items, PlaceholderStyle style,
                                                    BatchForm form);

// Rewrites `INSERT … VALUES (<tuple>)` to insert `items` rows in one
// statement: the tuple is repeated, each copy with its own native
// placeholders (key parameters as kKeyItem of that row, other parameters as
// kParam, repeated per row). key_columns is 0: the statement returns no rows.
// Refused (kFailedPrecondition): anything but one INSERT with one VALUES
// tuple holding every placeholder and nothing after it (RETURNING, ON
// CONFLICT / ON DUPLICATE KEY run once per binding).
QG_EXPORT absl::StatusOr<BatchedSql> RewriteInsertBatched(
    const ParsedSql& sql, const std::vector<std::string>& key_params, size_t items,
    PlaceholderStyle style);

}  // namespace qg

#endif  // QG_PLACEHOLDERS_H_
