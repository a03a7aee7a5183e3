#include "qg/value.h"

#include <cassert>
#include <charconv>
#include <cmath>
#include <limits>
#include <string>
#include <utility>

#include "absl/container/flat_hash_set.h"
#include "absl/hash/hash.h"
#include "common/json_writer.h"
#include "fmt/format.h"
#include "simdjson.h"

namespace qg {

std::string_view ValueTypeName(ValueType t) {
  switch (t) {
    case ValueType::kNull:
      return "null";
    case ValueType::kBool:
      return "bool";
    case ValueType::kInt64:
      return "int64";
    case ValueType::kDouble:
      return "double";
    case ValueType::kDecimal:
      return "decimal";
    case ValueType::kString:
      return "string";
    case ValueType::kBytes:
      return "bytes";
    case ValueType::kTimestamp:
      return "timestamp";
    case ValueType::kJson:
      return "json";
  }
  return "unknown";
}

Value Value::Bool(bool b) {
  Value v;
  v.type_ = ValueType::kBool;
  v.u_.b = b;
  return v;
}

Value Value::Int(int64_t i) {
  Value v;
  v.type_ = ValueType::kInt64;
  v.u_.i = i;
  return v;
}

Value Value::Double(double d) {
  Value v;
  v.type_ = ValueType::kDouble;
  v.u_.d = d;
  return v;
}

Value Value::Decimal(std::string digits) {
  Value v;
  v.type_ = ValueType::kDecimal;
  v.s_ = std::move(digits);
  return v;
}
Value Value::String(std::string s) {
  Value v;
  v.type_ = ValueType::kString;
  v.s_ = std::move(s);
  return v;
}
Value Value::Bytes(std::string b) {
  Value v;
  v.type_ = ValueType::kBytes;
  v.s_ = std::move(b);
  return v;
}
Value Value::Timestamp(std::string iso) {
  Value v;
  v.type_ = ValueType::kTimestamp;
  v.s_ = std::move(iso);
  return v;
}
Value Value::Json(std::string json) {
  Value v;
  v.type_ = ValueType::kJson;
  v.s_ = std::move(json);
  return v;
}

bool Value::is_text() const {
  switch (type_) {
    case ValueType::kDecimal:
    case ValueType::kString:
    case ValueType::kBytes:
    case ValueType::kTimestamp:
    case ValueType::kJson:
      return true;
    default:
      return false;
  }
}

bool Value::as_bool() const {
  assert(type_ == ValueType::kBool);
  return type_ == ValueType::kBool ? u_.b : false;
}

int64_t Value::as_int() const {
  assert(type_ == ValueType::kInt64);
  return type_ == ValueType::kInt64 ? u_.i : 0;
}

double Value::as_double() const {
  assert(type_ == ValueType::kDouble);
  return type_ == ValueType::kDouble ? u_.d : 0.0;
}

const std::string& Value::as_text() const {
  assert(is_text());
  // s_ is empty for non-text types, so a mismatch yields "".
  return s_;
}

bool Value::operator==(const Value& other) const {
  if (type_ != other.type_) return false;
  switch (type_) {
    case ValueType::kNull:
      return true;
    case ValueType::kBool:
      return u_.b == other.u_.b;
    case ValueType::kInt64:
      return u_.i == other.u_.i;
    case ValueType::kDouble:
      return u_.d == other.u_.d;
    default:
      return s_ == other.s_;
  }
}

std::string Value::DebugString() const {
  switch (type_) {
    case ValueType::kNull:
      return "NULL";
    case ValueType::kBool:
    case ValueType::kInt64:
    case ValueType::kDouble:
    case ValueType::kDecimal:
    case ValueType::kJson:
      return ToText();
    case ValueType::kString:
    case ValueType::kTimestamp: {
      std::string out = "'";
      for (char c : s_) {
        out += c;
        if (c == '\'') out += '\'';
      }
      out += '\'';
      return out;
    }
    case ValueType::kBytes: {
      static constexpr char kHex[] = "0123456789abcdef";
      std::string out = "x'";
      for (unsigned char c : s_) {
        out += kHex[c >> 4];
        out += kHex[c & 15];
      }
      out += '\'';
      return out;
    }
  }
  return "?";
}

std::string Value::ToText() const {
  switch (type_) {
    case ValueType::kNull:
      return "";
    case ValueType::kBool:
      return u_.b ? "true" : "false";
    case ValueType::kInt64:
      return std::to_string(u_.i);
    case ValueType::kDouble: {
      std::string out;
      AppendDouble(&out, u_.d);
      return out;
    }
    default:
      return s_;
  }
}

// ---- key semantics ----------------------------------------------------------
//
// Every numeric value (int64, double, parseable decimal) maps to one canonical
// form of its exact value: an int64 when it is an integer that fits, else a
// normalised decimal text ("-12.5", "18446744073709551615"; no leading zeros,
// no trailing fractional zeros, no exponent). Equality of keys is equality of
// canonical forms, so it is an equivalence relation and hashes agree.
// Non-finite doubles canonicalise to "nan", "inf", "-inf" (NaN equals NaN as
// a key, unlike operator==), as do the decimal spellings "NaN", "Infinity".

namespace {

enum class KeyClass : uint8_t {
  kNull,
  kBool,
  kNumber,
  kDecimalText,  // a decimal that does not parse as a number: compared as text
  kText,         // string, bytes, timestamp
  kJson,
};

KeyClass ClassOf(ValueType t) {
  switch (t) {
    case ValueType::kNull:
      return KeyClass::kNull;
    case ValueType::kBool:
      return KeyClass::kBool;
    case ValueType::kInt64:
    case ValueType::kDouble:
    case ValueType::kDecimal:
      return KeyClass::kNumber;
    case ValueType::kString:
    case ValueType::kBytes:
    case ValueType::kTimestamp:
      return KeyClass::kText;
    case ValueType::kJson:
      return KeyClass::kJson;
  }
  return KeyClass::kNull;
}

struct NumKey {
  bool is_int = false;
  int64_t i = 0;
  std::string text;  // when !is_int
};

bool EqualsIgnoreCase(std::string_view a, std::string_view b) {
  if (a.size() != b.size()) return false;
  for (size_t i = 0; i < a.size(); ++i) {
    if (std::tolower(static_cast<unsigned char>(a[i])) !=
        std::tolower(static_cast<unsigned char>(b[i])))
      return false;
  }
  return true;
}

// Parses decimal text exactly. Returns false for text that is not a number.
bool CanonicalDecimal(std::string_view s, NumKey* out) {
  bool neg = false;
  std::string_view body = s;
  if (!body.empty() && (body[0] == '+' || body[0] == '-')) {
    neg = body[0] == '-';
    body.remove_prefix(1);
  }
  if (EqualsIgnoreCase(body, "nan")) {
    out->is_int = false;
    out->text = "nan";
    return true;
  }
  if (EqualsIgnoreCase(body, "inf") || EqualsIgnoreCase(body, "infinity")) {
    out->is_int = false;
    out->text = neg ? "-inf" : "inf";
    return true;
  }
  std::string digits;
  digits.reserve(body.size());
  int64_t point = -1;  // digits before the decimal point
  size_t i = 0;
  for (; i < body.size(); ++i) {
    char c = body[i];
    if (c >= '0' && c <= '9') {
      digits += c;
    } else if (c == '.' && point < 0) {
      point = static_cast<int64_t>(digits.size());
    } else {
      break;
    }
  }
  if (digits.empty()) return false;
  if (point < 0) point = static_cast<int64_t>(digits.size());
  if (i < body.size()) {
    if (body[i] != 'e' && body[i] != 'E') return false;
    ++i;
    bool eneg = false;
    if (i < body.size() && (body[i] == '+' || body[i] == '-')) {
      eneg = body[i] == '-';
      ++i;
    }
    if (i >= body.size()) return false;
    int64_t e = 0;
    for (; i < body.size(); ++i) {
      char c = body[i];
      if (c < '0' || c > '9') return false;
      e = e * 10 + (c - '0');
      if (e > 100000) return false;  // absurd exponent: compare as text
    }
    point += eneg ? -e : e;
  }
  // Strip leading zeros (they shift nothing relative to the point).
  size_t lead = digits.find_first_not_of('0');
  if (lead == std::string::npos) {  // zero
    out->is_int = true;
    out->i = 0;
    return true;
  }
  digits.erase(0, lead);
  point -= static_cast<int64_t>(lead);
  size_t trail = digits.find_last_not_of('0');
  digits.erase(trail + 1);
  const auto len = static_cast<int64_t>(digits.size());
  if (point >= len) {  // an integer
    digits.append(static_cast<size_t>(point - len), '0');
    if (digits.size() <= 19) {
      uint64_t mag = 0;
      std::from_chars(digits.data(), digits.data() + digits.size(), mag);
      constexpr uint64_t kMax = static_cast<uint64_t>(std::numeric_limits<int64_t>::max());
      if (!neg && mag <= kMax) {
        out->is_int = true;
        out->i = static_cast<int64_t>(mag);
        return true;
      }
      if (neg && mag <= kMax + 1) {
        out->is_int = true;
        out->i = mag == kMax + 1 ? std::numeric_limits<int64_t>::min() : -static_cast<int64_t>(mag);
        return true;
      }
    }
    out->is_int = false;
    if (neg) digits.insert(digits.begin(), '-');
    out->text = std::move(digits);
    return true;
  }
  std::string text = neg ? "-" : "";
  if (point <= 0) {
    text += "0.";
    text.append(static_cast<size_t>(-point), '0');
    text += digits;
  } else {
    text.append(digits, 0, static_cast<size_t>(point));
    text += '.';
    text.append(digits, static_cast<size_t>(point));
  }
  out->is_int = false;
  out->text = std::move(text);
  return true;
}

void CanonicalDouble(double d, NumKey* out) {
  if (std::isnan(d)) {
    out->is_int = false;
    out->text = "nan";
    return;
  }
  if (std::isinf(d)) {
    out->is_int = false;
    out->text = d < 0 ? "-inf" : "inf";
    return;
  }
  if (d == std::trunc(d)) {
    // [-2^63, 2^63) converts exactly.
    if (d >= -9223372036854775808.0 && d < 9223372036854775808.0) {
      out->is_int = true;
      out->i = static_cast<int64_t>(d);
      return;
    }
    out->is_int = false;
    out->text = fmt::format("{:.0f}", d);  // exact digits
    return;
  }
  // d = m * 2^e2 with m odd: exactly -e2 fractional decimal digits.
  int e = 0;
  double f = std::frexp(std::fabs(d), &e);
  auto m = static_cast<uint64_t>(std::ldexp(f, 53));
  int e2 = e - 53;
  while (m != 0 && (m & 1) == 0) {
    m >>= 1;
    ++e2;
  }
  int prec = e2 < 0 ? -e2 : 0;
  std::string text = fmt::format("{:.{}f}", d, prec);
  if (text.find('.') != std::string::npos) {
    size_t t = text.find_last_not_of('0');
    text.erase(text[t] == '.' ? t : t + 1);
  }
  out->is_int = false;
  out->text = std::move(text);
}

// Canonical numeric key; false for a decimal that is not a number.
bool NumericKey(const Value& v, NumKey* out) {
  switch (v.type()) {
    case ValueType::kInt64:
      out->is_int = true;
      out->i = v.as_int();
      return true;
    case ValueType::kDouble:
      CanonicalDouble(v.as_double(), out);
      return true;
    case ValueType::kDecimal:
      return CanonicalDecimal(v.as_text(), out);
    default:
      return false;
  }
}

constexpr size_t kNullHash = 0x9e3779b97f4a7c15ULL;

}  // namespace

size_t ValueKeyHash::operator()(const Value& v) const {
  KeyClass c = ClassOf(v.type());
  switch (c) {
    case KeyClass::kNull:
      return kNullHash;
    case KeyClass::kBool:
      return absl::Hash<std::pair<int, bool>>{}({1, v.as_bool()});
    case KeyClass::kNumber: {
      NumKey k;
      if (!NumericKey(v, &k)) {
        return absl::Hash<std::pair<int, std::string_view>>{}({3, v.as_text()});
      }
      if (k.is_int) return absl::Hash<std::pair<int, int64_t>>{}({2, k.i});
      return absl::Hash<std::pair<int, std::string_view>>{}({4, k.text});
    }
    case KeyClass::kDecimalText:  // not produced by ClassOf
    case KeyClass::kText:
      return absl::Hash<std::pair<int, std::string_view>>{}({5, v.as_text()});
    case KeyClass::kJson:
      return absl::Hash<std::pair<int, std::string_view>>{}({6, v.as_text()});
  }
  return 0;
}

bool ValueKeyEqual::operator()(const Value& a, const Value& b) const {
  if (a.is_null() || b.is_null()) return false;
  // Fast paths.
  if (a.type() == ValueType::kInt64 && b.type() == ValueType::kInt64) {
    return a.as_int() == b.as_int();
  }
  KeyClass ca = ClassOf(a.type()), cb = ClassOf(b.type());
  if (ca != cb) return false;
  switch (ca) {
    case KeyClass::kBool:
      return a.as_bool() == b.as_bool();
    case KeyClass::kText:
    case KeyClass::kJson:
      return a.as_text() == b.as_text();
    case KeyClass::kNumber: {
      if (a.type() == ValueType::kDecimal && b.type() == ValueType::kDecimal &&
          a.as_text() == b.as_text()) {
        return true;
      }
      NumKey ka, kb;
      bool na = NumericKey(a, &ka), nb = NumericKey(b, &kb);
      if (!na || !nb) return false;  // unparseable decimals: only equal as same text (above)
      if (ka.is_int != kb.is_int) return false;
      return ka.is_int ? ka.i == kb.i : ka.text == kb.text;
    }
    default:
      return false;
  }
}

size_t ValueRowKeyHash::operator()(const std::vector<Value>& v) const {
  size_t h = v.size();
  ValueKeyHash one;
  for (const Value& x : v) h = absl::HashOf(h, one(x));
  return h;
}

bool ValueRowKeyEqual::operator()(const std::vector<Value>& a, const std::vector<Value>& b) const {
  if (a.size() != b.size()) return false;
  ValueKeyEqual eq;
  for (size_t i = 0; i < a.size(); ++i) {
    if (!eq(a[i], b[i])) return false;
  }
  return true;
}

// ---- ParseParamsJson ---------------------------------------------------------

namespace {

absl::Status ParamsError(std::string_view pointer, std::string_view msg) {
  if (pointer.empty()) return absl::InvalidArgumentError(fmt::format("params: {}", msg));
  return absl::InvalidArgumentError(fmt::format("params at {}: {}", pointer, msg));
}

bool IsJsonInteger(std::string_view t) {
  if (!t.empty() && t[0] == '-') t.remove_prefix(1);
  if (t.empty()) return false;
  for (char c : t) {
    if (c < '0' || c > '9') return false;
  }
  return true;
}

}  // namespace

absl::StatusOr<ParamList> ParseParamsJson(std::string_view json) {
  // Full strict validation first (simdjson's On-Demand API checks only what
  // it visits), then extraction.
  JsonCheck check = CheckJson(json);
  if (!check.ok) {
    return ParamsError(check.pointer,
                       fmt::format("invalid JSON at byte {}: {}", check.offset, check.message));
  }
  simdjson::padded_string padded(json);
  simdjson::ondemand::parser parser;
  simdjson::ondemand::document doc;
  if (auto err = parser.iterate(padded).get(doc); err) {
    return ParamsError("", fmt::format("invalid JSON: {}", simdjson::error_message(err)));
  }
  simdjson::ondemand::json_type root_type;
  if (auto err = doc.type().get(root_type); err) {
    return ParamsError("", fmt::format("invalid JSON: {}", simdjson::error_message(err)));
  }
  if (root_type != simdjson::ondemand::json_type::object) {
    return ParamsError("", "expected a JSON object of parameter values");
  }
  simdjson::ondemand::object obj;
  if (auto err = doc.get_object().get(obj); err) {
    return ParamsError("", simdjson::error_message(err));
  }
  ParamList out;
  absl::flat_hash_set<std::string> seen;
  for (auto field_result : obj) {
    simdjson::ondemand::field field;
    if (auto err = std::move(field_result).get(field); err) {
      return ParamsError("", simdjson::error_message(err));
    }
    std::string_view key_view;
    if (auto err = field.unescaped_key().get(key_view); err) {
      return ParamsError("", simdjson::error_message(err));
    }
    std::string key(key_view);
    std::string pointer(1, '/');
    pointer += JsonPointerEscape(key);
    if (!seen.insert(key).second) return ParamsError(pointer, "duplicate parameter");
    simdjson::ondemand::value val = field.value();
    simdjson::ondemand::json_type t;
    if (auto err = val.type().get(t); err) {
      return ParamsError(pointer, simdjson::error_message(err));
    }
    Value v;
    switch (t) {
      case simdjson::ondemand::json_type::null:
        v = Value::Null();
        break;
      case simdjson::ondemand::json_type::boolean: {
        bool b = false;
        if (auto err = val.get_bool().get(b); err) {
          return ParamsError(pointer, simdjson::error_message(err));
        }
        v = Value::Bool(b);
        break;
      }
      case simdjson::ondemand::json_type::string: {
        std::string_view s;
        if (auto err = val.get_string().get(s); err) {
          return ParamsError(pointer, simdjson::error_message(err));
        }
        v = Value::String(std::string(s));
        break;
      }
      case simdjson::ondemand::json_type::number: {
        std::string_view raw = val.raw_json_token();
        while (!raw.empty() && (raw.back() == ' ' || raw.back() == '\t' || raw.back() == '\n' ||
                                raw.back() == '\r'))
          raw.remove_suffix(1);
        if (IsJsonInteger(raw)) {
          int64_t i = 0;
          auto [ptr, ec] = std::from_chars(raw.data(), raw.data() + raw.size(), i);
          if (ec == std::errc() && ptr == raw.data() + raw.size()) {
            v = Value::Int(i);
          } else {
            v = Value::Decimal(std::string(raw));  // beyond int64: exact digits
          }
        } else {
          double d = 0;
          if (auto err = val.get_double().get(d); err) {
            return ParamsError(pointer, fmt::format("number {} is out of range", raw));
          }
          v = Value::Double(d);
        }
        break;
      }
      case simdjson::ondemand::json_type::array: {
        simdjson::ondemand::array arr;
        std::string_view raw;
        if (auto err = val.get_array().get(arr); err) {
          return ParamsError(pointer, simdjson::error_message(err));
        }
        if (auto err = arr.raw_json().get(raw); err) {
          return ParamsError(pointer, simdjson::error_message(err));
        }
        v = Value::Json(std::string(raw));
        break;
      }
      case simdjson::ondemand::json_type::object: {
        simdjson::ondemand::object o;
        std::string_view raw;
        if (auto err = val.get_object().get(o); err) {
          return ParamsError(pointer, simdjson::error_message(err));
        }
        if (auto err = o.raw_json().get(raw); err) {
          return ParamsError(pointer, simdjson::error_message(err));
        }
        v = Value::Json(std::string(raw));
        break;
      }
    }
    out.emplace_back(std::move(key), std::move(v));
  }
  return out;
}

}  // namespace qg
