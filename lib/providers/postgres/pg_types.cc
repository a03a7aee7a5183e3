#include "providers/postgres/pg_types.h"

#include <charconv>
#include <cmath>
#include <cstring>
#include <system_error>

#include "absl/strings/ascii.h"
#include "absl/strings/str_format.h"
#include "common/json_writer.h"
#include "common/strings.h"
#include "providers/postgres/pg_status.h"

namespace qg::pg {
namespace {

struct Builtin {
  uint32_t oid;
  ValueType type;
  const char* name;
  uint32_t elem;  // != 0: an array of elem
};

// Scalars first, then their array types (typarray in pg_type.dat).
constexpr Builtin kBuiltins[] = {
    {kOidBool, ValueType::kBool, "bool", 0},
    {kOidBytea, ValueType::kBytes, "bytea", 0},
    {kOidChar, ValueType::kString, "char", 0},
    {kOidName, ValueType::kString, "name", 0},
    {kOidInt8, ValueType::kInt64, "int8", 0},
    {kOidInt2, ValueType::kInt64, "int2", 0},
    {kOidInt4, ValueType::kInt64, "int4", 0},
    {kOidText, ValueType::kString, "text", 0},
    {kOidOid, ValueType::kInt64, "oid", 0},
    {kOidJson, ValueType::kJson, "json", 0},
    {kOidXml, ValueType::kString, "xml", 0},
    {kOidFloat4, ValueType::kDouble, "float4", 0},
    {kOidFloat8, ValueType::kDouble, "float8", 0},
    {kOidUnknown, ValueType::kString, "unknown", 0},
    {kOidBpchar, ValueType::kString, "bpchar", 0},
    {kOidVarchar, ValueType::kString, "varchar", 0},
    {kOidDate, ValueType::kTimestamp, "date", 0},
    {kOidTime, ValueType::kTimestamp, "time", 0},
    {kOidTimestamp, ValueType::kTimestamp, "timestamp", 0},
    {kOidTimestamptz, ValueType::kTimestamp, "timestamptz", 0},
    {kOidInterval, ValueType::kString, "interval", 0},
    {kOidTimetz, ValueType::kTimestamp, "timetz", 0},
    {kOidNumeric, ValueType::kDecimal, "numeric", 0},
    {kOidUuid, ValueType::kString, "uuid", 0},
    {kOidJsonb, ValueType::kJson, "jsonb", 0},
    // Arrays.
    {1000, ValueType::kJson, "bool[]", kOidBool},
    {1001, ValueType::kJson, "bytea[]", kOidBytea},
    {1002, ValueType::kJson, "char[]", kOidChar},
    {1003, ValueType::kJson, "name[]", kOidName},
    {1005, ValueType::kJson, "int2[]", kOidInt2},
    {1007, ValueType::kJson, "int4[]", kOidInt4},
    {1009, ValueType::kJson, "text[]", kOidText},
    {1028, ValueType::kJson, "oid[]", kOidOid},
    {1014, ValueType::kJson, "bpchar[]", kOidBpchar},
    {1015, ValueType::kJson, "varchar[]", kOidVarchar},
    {1016, ValueType::kJson, "int8[]", kOidInt8},
    {1021, ValueType::kJson, "float4[]", kOidFloat4},
    {1022, ValueType::kJson, "float8[]", kOidFloat8},
    {1182, ValueType::kJson, "date[]", kOidDate},
    {1183, ValueType::kJson, "time[]", kOidTime},
    {1115, ValueType::kJson, "timestamp[]", kOidTimestamp},
    {1185, ValueType::kJson, "timestamptz[]", kOidTimestamptz},
    {1187, ValueType::kJson, "interval[]", kOidInterval},
    {1270, ValueType::kJson, "timetz[]", kOidTimetz},
    {1231, ValueType::kJson, "numeric[]", kOidNumeric},
    {2951, ValueType::kJson, "uuid[]", kOidUuid},
    {199, ValueType::kJson, "json[]", kOidJson},
    {3807, ValueType::kJson, "jsonb[]", kOidJsonb},
};

const Builtin* FindBuiltin(uint32_t oid) {
  for (const Builtin& b : kBuiltins) {
    if (b.oid == oid) return &b;
  }
  return nullptr;
}

void AppendElementJson(std::string_view elem, ValueType type, std::string* out) {
  switch (type) {
    case ValueType::kInt64:
    case ValueType::kDouble:
    case ValueType::kDecimal:
      if (IsJsonNumber(elem)) {
        out->append(elem);
      } else {
        qg::AppendJsonString(out, elem);  // NaN, Infinity
      }
      return;
    case ValueType::kBool:
      out->append(elem == "t" || elem == "true" ? "true" : "false");
      return;
    case ValueType::kJson:
      out->append(elem);
      return;
    default:
      qg::AppendJsonString(out, elem);
  }
}

class ArrayParser {
 public:
  ArrayParser(std::string_view text, ValueType elem_type, char delim)
      : s_(text), type_(elem_type), delim_(delim) {}

  absl::StatusOr<std::string> Parse() {
    // Optional dimension decoration: [1:3][0:1]=
    if (!s_.empty() && s_[0] == '[') {
      size_t eq = s_.find('=');
      if (eq == std::string_view::npos) return Bad("dimension decoration without '='");
      pos_ = eq + 1;
    }
    SkipSpace();
    std::string out;
    if (!ParseArray(&out)) return Bad(error_);
    SkipSpace();
    if (pos_ != s_.size()) return Bad("trailing characters");
    return out;
  }

 private:
  absl::Status Bad(std::string_view why) const {
    return absl::InternalError(
        Cat("postgres: malformed array value (", why, " at offset ", pos_, ")"));
  }
  void SkipSpace() {
    while (pos_ < s_.size() && absl::ascii_isspace(static_cast<unsigned char>(s_[pos_]))) ++pos_;
  }
  bool Fail(const char* why) {
    error_ = why;
    return false;
  }

  bool ParseArray(std::string* out) {
    if (pos_ >= s_.size() || s_[pos_] != '{') return Fail("expected '{'");
    ++pos_;
    out->push_back('[');
    SkipSpace();
    if (pos_ < s_.size() && s_[pos_] == '}') {
      ++pos_;
      out->push_back(']');
      return true;
    }
    bool first = true;
    while (true) {
      SkipSpace();
      if (!first) out->push_back(',');
      first = false;
      if (pos_ >= s_.size()) return Fail("unterminated array");
      char c = s_[pos_];
      if (c == '{') {
        if (!ParseArray(out)) return false;
      } else if (c == '"') {
        ++pos_;
        std::string elem;
        while (true) {
          if (pos_ >= s_.size()) return Fail("unterminated quoted element");
          char d = s_[pos_++];
          if (d == '"') break;
          if (d == '\\') {
            if (pos_ >= s_.size()) return Fail("dangling backslash");
            d = s_[pos_++];
          }
          elem.push_back(d);
        }
        AppendElementJson(elem, type_, out);
      } else {
        std::string elem;
        bool escaped = false;
        while (pos_ < s_.size() && s_[pos_] != delim_ && s_[pos_] != '}') {
          char d = s_[pos_++];
          if (d == '\\') {
            if (pos_ >= s_.size()) return Fail("dangling backslash");
            d = s_[pos_++];
            escaped = true;
          }
          elem.push_back(d);
        }
        while (!elem.empty() && absl::ascii_isspace(static_cast<unsigned char>(elem.back()))) {
          elem.pop_back();
        }
        if (!escaped && EqualsIgnoreCase(elem, "NULL")) {
          out->append("null");
        } else {
          AppendElementJson(elem, type_, out);
        }
      }
      SkipSpace();
      if (pos_ >= s_.size()) return Fail("unterminated array");
      if (s_[pos_] == delim_) {
        ++pos_;
        continue;
      }
      if (s_[pos_] == '}') {
        ++pos_;
        out->push_back(']');
        return true;
      }
      return Fail("expected delimiter or '}'");
    }
  }

  std::string_view s_;
  ValueType type_;
  char delim_;
  size_t pos_ = 0;
  const char* error_ = "";
};

int HexDigit(char c) {
  if (c >= '0' && c <= '9') return c - '0';
  if (c >= 'a' && c <= 'f') return c - 'a' + 10;
  if (c >= 'A' && c <= 'F') return c - 'A' + 10;
  return -1;
}

absl::Status NulError() {
  return absl::InvalidArgumentError(
      "postgres: a text parameter contains a NUL byte, which PostgreSQL text cannot hold "
      "(pass binary data as bytes)");
}

}  // namespace

std::optional<TypeInfo> BuiltinType(uint32_t oid) {
  const Builtin* b = FindBuiltin(oid);
  if (b == nullptr) return std::nullopt;
  TypeInfo info;
  info.type = b->type;
  info.native_type = b->name;
  info.is_array = b->elem != 0;
  info.elem_oid = b->elem;
  return info;
}

ValueType ScalarTypeOf(uint32_t oid) {
  const Builtin* b = FindBuiltin(oid);
  if (b == nullptr || b->elem != 0) return ValueType::kString;
  return b->type;
}

std::string DoubleText(double d) {
  if (std::isnan(d)) return "NaN";
  if (std::isinf(d)) return d > 0 ? "Infinity" : "-Infinity";
  char buf[64];
  auto r = std::to_chars(buf, buf + sizeof(buf), d);
  return std::string(buf, r.ptr);
}

absl::StatusOr<std::string> DecodeBytea(std::string_view text) {
  std::string out;
  if (text.size() >= 2 && text[0] == '\\' && text[1] == 'x') {
    if ((text.size() - 2) % 2 != 0) return absl::InternalError("postgres: odd-length bytea hex");
    out.reserve((text.size() - 2) / 2);
    for (size_t i = 2; i + 1 < text.size(); i += 2) {
      int hi = HexDigit(text[i]), lo = HexDigit(text[i + 1]);
      if (hi < 0 || lo < 0) return absl::InternalError("postgres: bad bytea hex digit");
      out.push_back(static_cast<char>(hi * 16 + lo));
    }
    return out;
  }
  // Escape format: \\ is a backslash, \ooo an octal byte.
  for (size_t i = 0; i < text.size(); ++i) {
    if (text[i] != '\\') {
      out.push_back(text[i]);
    } else if (i + 1 < text.size() && text[i + 1] == '\\') {
      out.push_back('\\');
      ++i;
    } else if (i + 3 < text.size()) {
      int v = 0;
      for (int k = 1; k <= 3; ++k) {
        char c = text[i + k];
        if (c < '0' || c > '7') return absl::InternalError("postgres: bad bytea escape");
        v = v * 8 + (c - '0');
      }
      out.push_back(static_cast<char>(v));
      i += 3;
    } else {
      return absl::InternalError("postgres: truncated bytea escape");
    }
  }
  return out;
}

absl::StatusOr<std::string> ArrayToJson(std::string_view text, uint32_t elem_oid, char delimiter) {
  ArrayParser p(text, ScalarTypeOf(elem_oid), delimiter);
  return p.Parse();
}

absl::StatusOr<Value> FieldToValue(const TypeInfo& info, std::string_view text) {
  if (info.is_array) {
    auto json = ArrayToJson(text, info.elem_oid, info.delimiter);
    if (!json.ok()) return json.status();
    return Value::Json(std::move(*json));
  }
  switch (info.type) {
    case ValueType::kBool:
      return Value::Bool(text == "t" || text == "true");
    case ValueType::kInt64: {
      int64_t v = 0;
      auto r = std::from_chars(text.data(), text.data() + text.size(), v);
      if (r.ec != std::errc() || r.ptr != text.data() + text.size()) {
        // oid is unsigned 32-bit and always fits; anything else is a surprise.
        return Value::Decimal(std::string(text));
      }
      return Value::Int(v);
    }
    case ValueType::kDouble: {
      if (text == "NaN") return Value::Double(std::nan(""));
      if (text == "Infinity") return Value::Double(HUGE_VAL);
      if (text == "-Infinity") return Value::Double(-HUGE_VAL);
      double d = 0;
      auto r = std::from_chars(text.data(), text.data() + text.size(), d);
      if (r.ec != std::errc() || r.ptr != text.data() + text.size()) {
        return absl::InternalError(Cat("postgres: cannot read float value '", text, "'"));
      }
      return Value::Double(d);
    }
    case ValueType::kDecimal:
      return Value::Decimal(std::string(text));
    case ValueType::kBytes: {
      auto b = DecodeBytea(text);
      if (!b.ok()) return b.status();
      return Value::Bytes(std::move(*b));
    }
    case ValueType::kTimestamp:
      return Value::Timestamp(std::string(text));
    case ValueType::kJson:
      return Value::Json(std::string(text));
    default:
      return Value::String(std::string(text));
  }
}

absl::StatusOr<std::string> ParamText(const Value& v) {
  switch (v.type()) {
    case ValueType::kBool:
      return std::string(v.as_bool() ? "true" : "false");
    case ValueType::kInt64:
      return std::to_string(v.as_int());
    case ValueType::kDouble:
      return DoubleText(v.as_double());
    case ValueType::kNull:
    case ValueType::kBytes:
      return absl::InternalError("postgres: ParamText called for null or bytes");
    default:
      if (v.as_text().find('\0') != std::string::npos) return NulError();
      return v.as_text();
  }
}

absl::StatusOr<std::string> ArrayLiteral(const std::vector<Value>& values) {
  std::string out = "{";
  bool first = true;
  for (const Value& v : values) {
    if (!first) out.push_back(',');
    first = false;
    switch (v.type()) {
      case ValueType::kNull:
        out.append("NULL");
        break;
      case ValueType::kBool:
        out.append(v.as_bool() ? "t" : "f");
        break;
      case ValueType::kInt64:
        out.append(std::to_string(v.as_int()));
        break;
      case ValueType::kDouble:
        out.append(DoubleText(v.as_double()));
        break;
      case ValueType::kBytes: {
        // bytea hex input, as a quoted element: "\\x0001"
        static const char kHex[] = "0123456789abcdef";
        out.append("\"\\\\x");
        for (unsigned char c : v.as_text()) {
          out.push_back(kHex[c >> 4]);
          out.push_back(kHex[c & 15]);
        }
        out.push_back('"');
        break;
      }
      default: {
        const std::string& s = v.as_text();
        if (s.find('\0') != std::string::npos) return NulError();
        out.push_back('"');
        for (char c : s) {
          if (c == '"' || c == '\\') out.push_back('\\');
          out.push_back(c);
        }
        out.push_back('"');
      }
    }
  }
  out.push_back('}');
  return out;
}

std::string ConninfoQuote(std::string_view value) {
  std::string out = "'";
  for (char c : value) {
    if (c == '\'' || c == '\\') out.push_back('\\');
    out.push_back(c);
  }
  out.push_back('\'');
  return out;
}

std::string OptionsEscape(std::string_view value) {
  std::string out;
  for (char c : value) {
    if (c == ' ' || c == '\\' || c == '\t') out.push_back('\\');
    out.push_back(c);
  }
  return out;
}

}  // namespace qg::pg
