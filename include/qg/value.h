// qg/value.h — the typed value that travels between nodes and out of results.
//
// A Value is one cell: null, bool, int64, double, or one of the text-carried
// types (exact decimal, string, bytes, timestamp, JSON). Text-carried types
// keep the source's exact representation so nothing is lost on the way
// through (a numeric(38,10) stays its digits; a timestamptz keeps its offset).
//
// Thread-safety: a Value is a plain value type; distinct objects may be used
// from distinct threads, a shared const Value may be read concurrently.
//
//   qg::Value v = qg::Value::Int(42);
//   if (v.type() == qg::ValueType::kInt64) use(v.as_int());
#ifndef QG_VALUE_H_
#define QG_VALUE_H_

#include <cstddef>
#include <cstdint>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "absl/status/statusor.h"
#include "qg/export.h"

namespace qg {

enum class ValueType : uint8_t {
  kNull = 0,
  kBool,
  kInt64,
  kDouble,
  kDecimal,    // exact decimal as text, e.g. "12.5000000000", "-3", "18446744073709551615"
  kString,     // UTF-8 text
  kBytes,      // arbitrary bytes (may hold NUL)
  kTimestamp,  // ISO-8601 text: "2024-05-01", "2024-05-01 10:00:00", "2024-05-01T10:00:00+02:00"
  kJson,       // JSON text, emitted verbatim into JSON outputs
};

// "null", "bool", "int64", "double", "decimal", "string", "bytes", "timestamp", "json".
QG_EXPORT std::string_view ValueTypeName(ValueType t);

class QG_EXPORT Value {
 public:
  Value() = default;  // null

  static Value Null() { return Value(); }
  static Value Bool(bool b);
  static Value Int(int64_t i);
  static Value Double(double d);
  static Value Decimal(std::string digits);
  static Value String(std::string s);
  static Value Bytes(std::string b);
  static Value Timestamp(std::string iso);
  static Value Json(std::string json);

  ValueType type() const { return type_; }
  bool is_null() const { return type_ == ValueType::kNull; }
  // True for decimal, string, bytes, timestamp and json: as_text() is valid.
  bool is_text() const;

  // Accessors; calling one that does not match type() is a programming error
  // (checked with assert in debug builds) and returns a zero value.
  bool as_bool() const;
  int64_t as_int() const;
  double as_double() const;
  const std::string& as_text() const;

  // Exact equality: same type and same payload (doubles compare bitwise-equal
  // values; NaN != NaN).
  bool operator==(const Value& other) const;
  bool operator!=(const Value& other) const { return !(*this == other); }

  // Human-readable form for messages and text output ("NULL", "42", "'abc'").
  // Never used to build SQL.
  std::string DebugString() const;

  // Plain text form used by CSV output and by `--param k=v` round trips:
  // null -> "", bool -> "true"/"false", numbers in shortest exact form,
  // text types verbatim (bytes verbatim, callers encode if they need to).
  std::string ToText() const;

 private:
  ValueType type_ = ValueType::kNull;
  union {
    bool b;
    int64_t i;
    double d;
  } u_{};
  std::string s_;
};

// Join/binding key semantics. Bindings are linked to result rows by the
// value of the mapped column, and sources differ in how they return the same
// number (SQLite INTEGER vs REAL, PostgreSQL numeric as text, MySQL unsigned
// as decimal). KeyEqual treats int64, integral doubles and integral decimals
// with the same numeric value as equal, and text-carried values of the same
// type by their text. Null is never equal to anything (nulls do not bind).
//
// Precisely: numbers (int64, double, decimal) compare by exact value, so
// double 1.5 == decimal "1.50" == decimal "15e-1", int64 7 == double 7.0 ==
// decimal "7.000", but double 0.1 != decimal "0.1" (the double is not
// exactly 0.1) and decimal "18446744073709551615" equals no int64. NaN
// equals NaN and decimal "NaN" as a key; infinities equal "Infinity". A
// decimal that is not a number compares by its text. Bool compares with
// bool only. string, bytes and timestamp form one class compared by text
// (sources disagree on TEXT vs BLOB vs timestamp for the same key); json
// compares with json by text. The engine never puts nulls in keys: a null
// key would never find itself in a hash table.
struct QG_EXPORT ValueKeyHash {
  size_t operator()(const Value& v) const;
};
struct QG_EXPORT ValueKeyEqual {
  bool operator()(const Value& a, const Value& b) const;
};

// A composite key (several mapped parameters bound together).
struct QG_EXPORT ValueRowKeyHash {
  size_t operator()(const std::vector<Value>& v) const;
};
struct QG_EXPORT ValueRowKeyEqual {
  bool operator()(const std::vector<Value>& a, const std::vector<Value>& b) const;
};

// Named parameter values, in the order given.
using ParamList = std::vector<std::pair<std::string, Value>>;

// Parses a JSON object of parameter values ({"city": "Paris", "n": 3}).
// Strings become kString, integers kInt64 (integers beyond int64 kDecimal
// with their exact digits), other numbers kDouble, booleans kBool, null
// kNull, arrays/objects kJson (their text). Errors (kInvalidArgument) name
// the JSON pointer: "params at /n: duplicate parameter".
QG_EXPORT absl::StatusOr<ParamList> ParseParamsJson(std::string_view json);

}  // namespace qg

#endif  // QG_VALUE_H_
