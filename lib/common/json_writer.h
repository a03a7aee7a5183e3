// Internal: a small streaming JSON writer and the string helpers shared by
// every JSON producer in qgraph (result output, EXPLAIN, the C ABI, the CLI).
//
// JsonWriter appends RFC 8259 JSON to a std::string buffer and tracks the
// nesting itself, so callers only say what comes next (BeginObject, Key,
// Int, ...) and commas, colons and indentation follow. The buffer may be
// drained by the caller at any time (e.g. handed to a sink and erased once it
// is large enough): the writer keeps its state apart from the bytes.
//
// Strings are escaped per RFC 8259; invalid UTF-8 is replaced by U+FFFD and
// never emitted raw, so the output is always valid UTF-8.
//
// Thread-safety: a JsonWriter is used by one thread at a time.
//
//   qg::JsonWriter w;
//   w.BeginObject().Key("id").Int(1).Key("name").String("Ann").EndObject();
//   std::string json = w.Take();  // {"id":1,"name":"Ann"}
#ifndef QG_LIB_COMMON_JSON_WRITER_H_
#define QG_LIB_COMMON_JSON_WRITER_H_

#include <cstddef>
#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

#include "qg/json.h"

namespace qg {

class Value;

struct JsonWriterOptions {
  bool pretty = false;  // newlines and indentation
  int indent = 2;       // spaces per level when pretty
};

class JsonWriter {
 public:
  using Options = JsonWriterOptions;

  // Writes into its own buffer.
  JsonWriter() : JsonWriter(Options{}) {}
  explicit JsonWriter(Options options);
  // Appends to `*out` (borrowed; must outlive the writer).
  explicit JsonWriter(std::string* out, Options options = {});

  JsonWriter(const JsonWriter&) = delete;
  JsonWriter& operator=(const JsonWriter&) = delete;

  JsonWriter& BeginObject();
  JsonWriter& EndObject();
  JsonWriter& BeginArray();
  JsonWriter& EndArray();
  // Inside an object, before each value.
  JsonWriter& Key(std::string_view key);

  JsonWriter& String(std::string_view s);
  JsonWriter& Int(int64_t i);
  JsonWriter& Uint(uint64_t u);
  // Shortest round-trip form, always with a '.' or exponent (1.0, not 1) so
  // readers keep the type; NaN and infinities become null (JSON has none).
  JsonWriter& Double(double d);
  JsonWriter& Bool(bool b);
  JsonWriter& Null();
  // A value given as JSON text, emitted verbatim (surrounding whitespace
  // trimmed). The caller vouches that it is valid JSON (see IsValidJson).
  JsonWriter& Raw(std::string_view json);
  // A qg::Value as JSON: int64 -> number, double -> Double(), bool, null,
  // decimal -> string with the exact digits, string -> string, bytes ->
  // base64 string, timestamp -> string, json -> raw when valid JSON, else a
  // string.
  JsonWriter& Val(const Value& v);

  // Ends a top-level value with '\n' (NDJSON); the next value starts a new
  // document. Only valid at depth 0.
  JsonWriter& Newline();

  // Nesting depth (0 at top level).
  size_t depth() const { return stack_.size(); }

  std::string& buffer() { return *out_; }
  const std::string& buffer() const { return *out_; }
  // Moves the buffered text out and clears the buffer.
  std::string Take();

 private:
  struct Frame {
    bool object;
    size_t count;  // values (arrays) or keys (objects) so far
  };
  void BeforeValue();
  void Indent(size_t level);

  Options options_;
  std::string own_;
  std::string* out_;
  std::vector<Frame> stack_;
  bool after_key_ = false;
  bool top_written_ = false;
};

// Appends `s` as a quoted, escaped JSON string (invalid UTF-8 -> U+FFFD).
void AppendJsonString(std::string* out, std::string_view s);
// JsonQuote(s) (the same escaping, as a new string) is public: qg/json.h.

// Appends the shortest round-trip text of `d` (fmt "{}"), with ".0" added
// to integral values ("1.0", "1e+23" stays); "nan", "inf", "-inf" for
// non-finite values (callers writing JSON must map those to null).
void AppendDouble(std::string* out, double d);

// UTF-8 helpers. Replacement follows Unicode's "maximal subpart" practice:
// one U+FFFD per maximal invalid subsequence.
bool IsValidUtf8(std::string_view s);
std::string SanitizeUtf8(std::string_view s);
void AppendSanitizedUtf8(std::string* out, std::string_view s);

// Strict RFC 8259 check of one JSON text (surrounding whitespace allowed),
// including UTF-8 validity of strings. Unlike simdjson's DOM it accepts
// integers of any length (valid JSON). Nesting deeper than 512 is refused.
struct JsonCheck {
  bool ok = true;
  size_t offset = 0;    // byte offset of the problem
  std::string pointer;  // JSON pointer of the value being read, "" for the root
  std::string message;
};
JsonCheck CheckJson(std::string_view json);
bool IsValidJson(std::string_view json);

// Escapes one reference token for a JSON pointer ("~" -> "~0", "/" -> "~1").
std::string JsonPointerEscape(std::string_view token);

// RFC 4648 base64 with padding.
std::string Base64Encode(std::string_view data);
// Accepts padded or unpadded input; whitespace is not allowed. Returns false
// on any invalid character or length.
bool Base64Decode(std::string_view text, std::string* out);

}  // namespace qg

#endif  // QG_LIB_COMMON_JSON_WRITER_H_
