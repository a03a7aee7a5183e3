// Internal: the http provider's request templates (see http_provider.h for
// the grammar) — parsing, and rendering with bound values. Pure functions;
// no I/O, no libcurl.
#ifndef QG_LIB_PROVIDERS_HTTP_HTTP_TEMPLATE_H_
#define QG_LIB_PROVIDERS_HTTP_HTTP_TEMPLATE_H_

#include <cstddef>
#include <map>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "absl/status/statusor.h"
#include "qg/value.h"

namespace qg::http {

// A run of template text: literal bytes, or a :name placeholder.
struct Piece {
  bool is_param = false;
  std::string text;  // literal text, or the parameter name
};

// One `key=value` pair of the query string; the value may hold placeholders.
struct QueryPart {
  std::string key;  // literal, as written
  std::vector<Piece> value;
  bool has_equals = true;
};

// Where a batched key goes (see the `batch=` directive).
enum class BatchSlot { kNone, kQuery, kBody };

struct RequestTemplate {
  std::string method = "GET";
  std::vector<Piece> path;  // "/users/:id" or an absolute "https://host/..."
  std::vector<QueryPart> query;
  std::optional<std::vector<Piece>> body;  // a JSON template

  // Directives (empty / 0 / nullopt: the source's option applies).
  std::optional<std::string> rows_at;
  std::optional<std::string> next_at;
  std::vector<std::pair<std::string, std::string>> fields;  // (column, "/pointer" or key)
  bool paginate = true;     // paginate=none turns every pagination style off
  std::string batch_param;  // the placeholder that may carry a list
  std::string batch_key;    // response field holding the key
  size_t max_batch = 0;
  std::string batch_sep = ",";
  BatchSlot batch_slot = BatchSlot::kNone;

  // Distinct placeholder names in order of first appearance.
  std::vector<std::string> names;
};

// Parses `text`. Errors (kInvalidArgument) give the byte offset.
absl::StatusOr<RequestTemplate> ParseTemplate(std::string_view text);

// Percent-encodes everything but RFC 3986 unreserved characters.
std::string PercentEncode(std::string_view s);

// The text a value takes in a URL: integers in decimal, integral doubles as
// integers, other doubles in shortest form, bools "true"/"false", text types
// verbatim. Null, bytes and JSON cannot go into a URL: kInvalidArgument
// naming `param` and what was expected.
absl::StatusOr<std::string> UrlText(const Value& v, std::string_view param);

// A value as JSON text for a body: numbers, bools, null, strings (escaped),
// decimals as JSON numbers when they are valid JSON numbers (else strings),
// bytes as base64 strings, JSON values verbatim (validated).
absl::StatusOr<std::string> JsonText(const Value& v, std::string_view param);

// Bound values by parameter name. `list`, when set, is the batched key's
// values for this request: rendered comma-joined (tmpl.batch_sep) in the
// query or as a JSON array in the body.
struct Bindings {
  const std::map<std::string, Value>* values = nullptr;
  const std::vector<Value>* list = nullptr;
};

struct RenderedRequest {
  std::string method;
  std::string url;   // absolute
  std::string body;  // empty: none
  bool has_body = false;
};

// Renders against `base_url` (the source's connect string): a path template
// starting with "/" is appended to the base URL's path; an absolute one is
// used as is. A null value in the query string omits that key=value pair.
// Path values are percent-encoded as segment text (every byte but the RFC
// 3986 unreserved ones, so '/', '?', '#' and '%' too), and a segment a value
// makes "." or ".." is sent as %2E / %2E%2E: no value leaves its segment.
// Query values are encoded as query components the same way.
absl::StatusOr<RenderedRequest> Render(const RequestTemplate& tmpl, std::string_view base_url,
                                       const Bindings& bindings);

}  // namespace qg::http

#endif  // QG_LIB_PROVIDERS_HTTP_HTTP_TEMPLATE_H_
