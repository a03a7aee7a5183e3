// Internal: PostgreSQL <-> qg::Value conversions used by the postgres
// provider. Pure functions (no libpq), so they are unit-testable.
//
// Results arrive in PostgreSQL's text format; FieldToValue maps them by the
// column's type OID onto qg::Value without loss (numeric stays its exact
// digits, bytea is unescaped with zero bytes kept, arrays become JSON).
// Arguments leave as text parameters (bytea in binary); a batched key array
// becomes one array literal such as {1,2,NULL} or {"a","b\"c"}.
#ifndef QG_LIB_PROVIDERS_POSTGRES_PG_TYPES_H_
#define QG_LIB_PROVIDERS_POSTGRES_PG_TYPES_H_

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "absl/status/statusor.h"
#include "qg/value.h"

namespace qg::pg {

// Built-in type OIDs (pg_type.dat).
enum : uint32_t {
  kOidBool = 16,
  kOidBytea = 17,
  kOidChar = 18,
  kOidName = 19,
  kOidInt8 = 20,
  kOidInt2 = 21,
  kOidInt4 = 23,
  kOidText = 25,
  kOidOid = 26,
  kOidJson = 114,
  kOidXml = 142,
  kOidFloat4 = 700,
  kOidFloat8 = 701,
  kOidUnknown = 705,
  kOidBpchar = 1042,
  kOidVarchar = 1043,
  kOidDate = 1082,
  kOidTime = 1083,
  kOidTimestamp = 1114,
  kOidTimestamptz = 1184,
  kOidInterval = 1186,
  kOidTimetz = 1266,
  kOidNumeric = 1700,
  kOidUuid = 2950,
  kOidJsonb = 3802,
};

// What a column's OID means to us.
struct TypeInfo {
  ValueType type = ValueType::kString;  // the Value type of a scalar (arrays: kJson)
  std::string native_type;              // "int4", "numeric", "text[]", ...
  bool is_array = false;
  uint32_t elem_oid = 0;  // arrays: the element type
  char delimiter = ',';   // arrays: element delimiter (';' for box)
};

// Built-in types only; nullopt for an OID this table does not know (the
// connection then asks pg_type).
std::optional<TypeInfo> BuiltinType(uint32_t oid);

// The Value type scalar elements of `elem_oid` map to (kString if unknown).
ValueType ScalarTypeOf(uint32_t oid);

// Converts one non-null field in text format.
absl::StatusOr<Value> FieldToValue(const TypeInfo& info, std::string_view text);

// Decodes bytea text output (hex "\x0001ff" or the old escape format).
absl::StatusOr<std::string> DecodeBytea(std::string_view text);

// PostgreSQL array text ("{1,NULL,{2,3}}", "[0:1]={a,b}") to a JSON array;
// elements of numeric/bool/json element types are emitted unquoted.
absl::StatusOr<std::string> ArrayToJson(std::string_view text, uint32_t elem_oid, char delimiter);

// The text form of a scalar parameter; kInvalidArgument for text holding a
// NUL byte (PostgreSQL text cannot store it). Not for null or bytes values.
absl::StatusOr<std::string> ParamText(const Value& v);

// The array literal for a batched key parameter: {1,2,NULL}, {"a","b\"c"}.
absl::StatusOr<std::string> ArrayLiteral(const std::vector<Value>& values);

// Escapes a value for a libpq conninfo string: 'it''s' style quoting with
// backslashes, always quoted.
std::string ConninfoQuote(std::string_view value);

// Escapes one word of the libpq `options` parameter (spaces and backslashes).
std::string OptionsEscape(std::string_view value);

// The shortest text that reads back as the same double (NaN, Infinity, -Infinity).
std::string DoubleText(double d);

}  // namespace qg::pg

#endif  // QG_LIB_PROVIDERS_POSTGRES_PG_TYPES_H_
