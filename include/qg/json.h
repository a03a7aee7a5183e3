// qg/json.h — quoting text as a JSON string, for hosts and tools that write
// JSON around qgraph's own output (error bodies, listings).
//
// Escapes per RFC 8259 (", \, control characters as \uXXXX) and replaces
// invalid UTF-8 with U+FFFD, so the result is always valid JSON.
// Thread-safety: pure function.
#ifndef QG_JSON_H_
#define QG_JSON_H_

#include <string>
#include <string_view>

#include "qg/export.h"

namespace qg {

// `s` as a quoted, escaped JSON string: JsonQuote("a\"b") == "\"a\\\"b\"".
QG_EXPORT std::string JsonQuote(std::string_view s);

}  // namespace qg

#endif  // QG_JSON_H_
