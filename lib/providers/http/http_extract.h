// Internal: the http provider's reading of responses — rows out of a JSON
// page (rows_at, fields=, batched keys), the next-page link (next_at or a
// Link header), and the column types of what was gathered. Pure functions;
// no I/O, no libcurl.
#ifndef QG_LIB_PROVIDERS_HTTP_HTTP_EXTRACT_H_
#define QG_LIB_PROVIDERS_HTTP_HTTP_EXTRACT_H_

#include <cstddef>
#include <functional>
#include <optional>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "absl/container/flat_hash_map.h"
#include "absl/status/status.h"
#include "qg/provider.h"
#include "qg/value.h"
#include "simdjson.h"

namespace qg::http {

// Rows gathered from every page (and every batch chunk) of one execution.
struct Collected {
  std::vector<std::string> columns;
  absl::flat_hash_map<std::string, size_t> index;
  bool fixed = false;  // columns from fields=
  std::vector<std::vector<std::pair<size_t, Value>>> rows;
  std::vector<size_t> keys;  // batched: the position in the chunk of each row's key

  size_t Column(const std::string& name);
};

// How to read a page.
struct ExtractSpec {
  std::string rows_at;  // JSON pointer of the rows ("" = the document)
  std::string next_at;  // JSON pointer of the next link ("" = none)
  std::vector<std::pair<std::string, std::string>> fields;  // (column, "/ptr" or key)
  bool paginate = true;
  // Batched: the response field (name or /pointer) holding each row's key,
  // and the requested keys (KeyText -> position in the chunk).
  bool batched = false;
  std::string key_field;
  const absl::flat_hash_map<std::string, size_t>* key_index = nullptr;
};

// What one page gave.
struct PageResult {
  size_t items = 0;  // rows found on the page
  std::string next;  // the next-page link as written (relative or absolute); "" = none
};

// Reads one page `body` into `col`. `from` ("GET <url>", secrets already
// redacted) names the response in errors; `excerpt` renders the body for
// them. `link_header` is the response's Link header ("" if none). Errors are
// kInvalidArgument.
absl::Status ExtractPage(simdjson::dom::parser& parser, const ExtractSpec& spec,
                         std::string_view body, std::string_view link_header, std::string_view from,
                         const std::function<std::string(std::string_view)>& excerpt,
                         Collected* col, PageResult* page);

// The next link of a Link header value, or "".
std::string LinkNext(std::string_view header);

// Text form of a key as it is sent in the URL / body (nullopt: cannot be a key).
std::optional<std::string> KeyText(const Value& v);

// The columns of everything gathered: a column's type is its values' common
// type (kNull when they differ or are all null).
std::vector<ColumnInfo> CollectedColumns(const Collected& col);

}  // namespace qg::http

#endif  // QG_LIB_PROVIDERS_HTTP_HTTP_EXTRACT_H_
