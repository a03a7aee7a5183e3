#include "common/json_writer.h"

#include <cassert>
#include <cctype>
#include <cmath>
#include <cstring>

#include "fmt/format.h"
#include "qg/value.h"

namespace qg {
namespace {

constexpr char kHex[] = "0123456789abcdef";
constexpr std::string_view kReplacement = "\xEF\xBF\xBD";  // U+FFFD

// Length of the valid UTF-8 sequence starting at s[0] (s non-empty), or 0
// when invalid; then *bad receives the length of the maximal invalid subpart
// (at least 1).
size_t Utf8Sequence(const unsigned char* s, size_t n, size_t* bad) {
  unsigned char c = s[0];
  if (c < 0x80) return 1;
  size_t len;
  unsigned char lo = 0x80, hi = 0xBF;  // bounds for the second byte
  if (c >= 0xC2 && c <= 0xDF) {
    len = 2;
  } else if (c >= 0xE0 && c <= 0xEF) {
    len = 3;
    if (c == 0xE0) lo = 0xA0;
    if (c == 0xED) hi = 0x9F;
  } else if (c >= 0xF0 && c <= 0xF4) {
    len = 4;
    if (c == 0xF0) lo = 0x90;
    if (c == 0xF4) hi = 0x8F;
  } else {
    *bad = 1;
    return 0;
  }
  for (size_t i = 1; i < len; ++i) {
    unsigned char l = i == 1 ? lo : 0x80, h = i == 1 ? hi : 0xBF;
    if (i >= n || s[i] < l || s[i] > h) {
      *bad = i;
      return 0;
    }
  }
  return len;
}

// Appends s (which holds no byte needing escape besides possible UTF-8
// problems) with invalid sequences replaced; escape_json also escapes.
template <bool kEscapeJson>
void AppendUtf8(std::string* out, std::string_view sv) {
  const auto* s = reinterpret_cast<const unsigned char*>(sv.data());
  size_t n = sv.size();
  size_t i = 0;
  size_t run = 0;  // start of the pending run of bytes copied verbatim
  while (i < n) {
    unsigned char c = s[i];
    if (c >= 0x20 && c < 0x80 && (!kEscapeJson || (c != '"' && c != '\\'))) {
      ++i;
      continue;
    }
    if (c >= 0x80) {
      size_t bad = 0;
      size_t len = Utf8Sequence(s + i, n - i, &bad);
      if (len != 0) {
        i += len;
        continue;
      }
      out->append(sv.data() + run, i - run);
      out->append(kReplacement);
      i += bad;
      run = i;
      continue;
    }
    // ASCII control, quote or backslash.
    if (!kEscapeJson) {
      ++i;
      continue;
    }
    out->append(sv.data() + run, i - run);
    switch (c) {
      case '"':
        out->append("\\\"");
        break;
      case '\\':
        out->append("\\\\");
        break;
      case '\b':
        out->append("\\b");
        break;
      case '\f':
        out->append("\\f");
        break;
      case '\n':
        out->append("\\n");
        break;
      case '\r':
        out->append("\\r");
        break;
      case '\t':
        out->append("\\t");
        break;
      default: {
        char buf[6] = {'\\', 'u', '0', '0', kHex[c >> 4], kHex[c & 15]};
        out->append(buf, 6);
      }
    }
    ++i;
    run = i;
  }
  out->append(sv.data() + run, n - run);
}

std::string_view TrimWs(std::string_view s) {
  auto ws = [](char c) { return c == ' ' || c == '\t' || c == '\n' || c == '\r'; };
  while (!s.empty() && ws(s.front())) s.remove_prefix(1);
  while (!s.empty() && ws(s.back())) s.remove_suffix(1);
  return s;
}

// ---- strict JSON checker --------------------------------------------------

class Checker {
 public:
  explicit Checker(std::string_view s) : s_(s) {}

  JsonCheck Run() {
    Ws();
    if (!Value(0)) return Fail();
    Ws();
    if (p_ != s_.size()) {
      path_.clear();
      msg_ = "unexpected text after the JSON value";
      return Fail();
    }
    return JsonCheck{};
  }

 private:
  static constexpr int kMaxDepth = 512;

  JsonCheck Fail() {
    JsonCheck c;
    c.ok = false;
    c.offset = p_;
    for (const std::string& t : path_) {
      c.pointer += '/';
      c.pointer += JsonPointerEscape(t);
    }
    c.message = msg_;
    return c;
  }
  bool Err(const char* m) {
    msg_ = m;
    return false;
  }
  void Ws() {
    while (p_ < s_.size() && (s_[p_] == ' ' || s_[p_] == '\t' || s_[p_] == '\n' || s_[p_] == '\r'))
      ++p_;
  }
  bool Lit(std::string_view w) {
    if (s_.substr(p_, w.size()) != w) return Err("invalid literal");
    p_ += w.size();
    return true;
  }
  static bool Digit(char c) { return c >= '0' && c <= '9'; }
  bool Number() {
    if (p_ < s_.size() && s_[p_] == '-') ++p_;
    if (p_ >= s_.size() || !Digit(s_[p_])) return Err("invalid number");
    if (s_[p_] == '0') {
      ++p_;
    } else {
      while (p_ < s_.size() && Digit(s_[p_])) ++p_;
    }
    if (p_ < s_.size() && s_[p_] == '.') {
      ++p_;
      if (p_ >= s_.size() || !Digit(s_[p_])) return Err("invalid number");
      while (p_ < s_.size() && Digit(s_[p_])) ++p_;
    }
    if (p_ < s_.size() && (s_[p_] == 'e' || s_[p_] == 'E')) {
      ++p_;
      if (p_ < s_.size() && (s_[p_] == '+' || s_[p_] == '-')) ++p_;
      if (p_ >= s_.size() || !Digit(s_[p_])) return Err("invalid number");
      while (p_ < s_.size() && Digit(s_[p_])) ++p_;
    }
    return true;
  }
  // Reads a string starting at '"'; `text` (optional) receives its raw body.
  bool Str(std::string* text) {
    ++p_;  // opening quote
    size_t start = p_;
    while (true) {
      if (p_ >= s_.size()) return Err("unterminated string");
      auto c = static_cast<unsigned char>(s_[p_]);
      if (c == '"') break;
      if (c < 0x20) return Err("control character in string");
      if (c == '\\') {
        ++p_;
        if (p_ >= s_.size()) return Err("unterminated string");
        char e = s_[p_];
        if (e == 'u') {
          for (int k = 1; k <= 4; ++k) {
            if (p_ + k >= s_.size() || !std::isxdigit(static_cast<unsigned char>(s_[p_ + k])))
              return Err("invalid \\u escape");
          }
          p_ += 5;
          continue;
        }
        if (!std::strchr("\"\\/bfnrt", e) || e == '\0') return Err("invalid escape");
        ++p_;
        continue;
      }
      if (c >= 0x80) {
        size_t bad = 0;
        size_t len = Utf8Sequence(reinterpret_cast<const unsigned char*>(s_.data()) + p_,
                                  s_.size() - p_, &bad);
        if (len == 0) return Err("invalid UTF-8 in string");
        p_ += len;
        continue;
      }
      ++p_;
    }
    if (text) text->assign(s_.substr(start, p_ - start));
    ++p_;  // closing quote
    return true;
  }
  bool Value(int depth) {
    if (p_ >= s_.size()) return Err("unexpected end of input");
    char c = s_[p_];
    switch (c) {
      case '{': {
        if (depth >= kMaxDepth) return Err("nesting too deep");
        ++p_;
        Ws();
        if (p_ < s_.size() && s_[p_] == '}') {
          ++p_;
          return true;
        }
        while (true) {
          Ws();
          if (p_ >= s_.size() || s_[p_] != '"') return Err("expected a string key");
          std::string key;
          if (!Str(&key)) return false;
          Ws();
          if (p_ >= s_.size() || s_[p_] != ':') return Err("expected ':'");
          ++p_;
          Ws();
          path_.push_back(std::move(key));
          if (!Value(depth + 1)) return false;
          path_.pop_back();
          Ws();
          if (p_ < s_.size() && s_[p_] == ',') {
            ++p_;
            continue;
          }
          if (p_ < s_.size() && s_[p_] == '}') {
            ++p_;
            return true;
          }
          return Err("expected ',' or '}'");
        }
      }
      case '[': {
        if (depth >= kMaxDepth) return Err("nesting too deep");
        ++p_;
        Ws();
        if (p_ < s_.size() && s_[p_] == ']') {
          ++p_;
          return true;
        }
        for (size_t i = 0;; ++i) {
          Ws();
          path_.push_back(std::to_string(i));
          if (!Value(depth + 1)) return false;
          path_.pop_back();
          Ws();
          if (p_ < s_.size() && s_[p_] == ',') {
            ++p_;
            continue;
          }
          if (p_ < s_.size() && s_[p_] == ']') {
            ++p_;
            return true;
          }
          return Err("expected ',' or ']'");
        }
      }
      case '"':
        return Str(nullptr);
      case 't':
        return Lit("true");
      case 'f':
        return Lit("false");
      case 'n':
        return Lit("null");
      default:
        if (c == '-' || Digit(c)) return Number();
        return Err("unexpected character");
    }
  }

  std::string_view s_;
  size_t p_ = 0;
  std::vector<std::string> path_;
  std::string msg_;
};

}  // namespace

// ---- JsonWriter -----------------------------------------------------------

JsonWriter::JsonWriter(Options options) : options_(options), out_(&own_) {}
JsonWriter::JsonWriter(std::string* out, Options options) : options_(options), out_(out) {}

void JsonWriter::Indent(size_t level) {
  out_->push_back('\n');
  out_->append(level * static_cast<size_t>(options_.indent), ' ');
}

void JsonWriter::BeforeValue() {
  if (stack_.empty()) {
    assert(!top_written_ && "one top-level value per document (use Newline)");
    top_written_ = true;
    return;
  }
  Frame& f = stack_.back();
  if (f.object) {
    assert(after_key_ && "Key() must precede a value inside an object");
    after_key_ = false;
    return;
  }
  if (f.count++ > 0) out_->push_back(',');
  if (options_.pretty) Indent(stack_.size());
}

JsonWriter& JsonWriter::BeginObject() {
  BeforeValue();
  out_->push_back('{');
  stack_.push_back({true, 0});
  return *this;
}

JsonWriter& JsonWriter::EndObject() {
  assert(!stack_.empty() && stack_.back().object && !after_key_);
  if (stack_.empty()) return *this;
  bool any = stack_.back().count > 0;
  stack_.pop_back();
  if (options_.pretty && any) Indent(stack_.size());
  out_->push_back('}');
  return *this;
}

JsonWriter& JsonWriter::BeginArray() {
  BeforeValue();
  out_->push_back('[');
  stack_.push_back({false, 0});
  return *this;
}

JsonWriter& JsonWriter::EndArray() {
  assert(!stack_.empty() && !stack_.back().object);
  if (stack_.empty()) return *this;
  bool any = stack_.back().count > 0;
  stack_.pop_back();
  if (options_.pretty && any) Indent(stack_.size());
  out_->push_back(']');
  return *this;
}

JsonWriter& JsonWriter::Key(std::string_view key) {
  assert(!stack_.empty() && stack_.back().object && !after_key_);
  Frame& f = stack_.back();
  if (f.count++ > 0) out_->push_back(',');
  if (options_.pretty) Indent(stack_.size());
  AppendJsonString(out_, key);
  out_->push_back(':');
  if (options_.pretty) out_->push_back(' ');
  after_key_ = true;
  return *this;
}

JsonWriter& JsonWriter::String(std::string_view s) {
  BeforeValue();
  AppendJsonString(out_, s);
  return *this;
}

JsonWriter& JsonWriter::Int(int64_t i) {
  BeforeValue();
  fmt::format_to(std::back_inserter(*out_), "{}", i);
  return *this;
}

JsonWriter& JsonWriter::Uint(uint64_t u) {
  BeforeValue();
  fmt::format_to(std::back_inserter(*out_), "{}", u);
  return *this;
}

JsonWriter& JsonWriter::Double(double d) {
  BeforeValue();
  if (!std::isfinite(d)) {
    out_->append("null");
  } else {
    AppendDouble(out_, d);
  }
  return *this;
}

JsonWriter& JsonWriter::Bool(bool b) {
  BeforeValue();
  out_->append(b ? "true" : "false");
  return *this;
}

JsonWriter& JsonWriter::Null() {
  BeforeValue();
  out_->append("null");
  return *this;
}

JsonWriter& JsonWriter::Raw(std::string_view json) {
  BeforeValue();
  out_->append(TrimWs(json));
  return *this;
}

JsonWriter& JsonWriter::Val(const Value& v) {
  switch (v.type()) {
    case ValueType::kNull:
      return Null();
    case ValueType::kBool:
      return Bool(v.as_bool());
    case ValueType::kInt64:
      return Int(v.as_int());
    case ValueType::kDouble:
      return Double(v.as_double());
    case ValueType::kDecimal:
    case ValueType::kString:
    case ValueType::kTimestamp:
      return String(v.as_text());
    case ValueType::kBytes:
      return String(Base64Encode(v.as_text()));
    case ValueType::kJson:
      if (IsValidJson(v.as_text())) return Raw(v.as_text());
      return String(v.as_text());
  }
  return Null();
}

JsonWriter& JsonWriter::Newline() {
  assert(stack_.empty());
  out_->push_back('\n');
  top_written_ = false;
  after_key_ = false;
  return *this;
}

std::string JsonWriter::Take() {
  std::string s = std::move(*out_);
  out_->clear();
  return s;
}

// ---- free helpers -----------------------------------------------------------

void AppendJsonString(std::string* out, std::string_view s) {
  out->push_back('"');
  AppendUtf8<true>(out, s);
  out->push_back('"');
}

std::string JsonQuote(std::string_view s) {
  std::string out;
  out.reserve(s.size() + 2);
  AppendJsonString(&out, s);
  return out;
}

void AppendDouble(std::string* out, double d) {
  size_t start = out->size();
  fmt::format_to(std::back_inserter(*out), "{}", d);
  if (!std::isfinite(d)) return;
  if (out->find_first_of(".eE", start) == std::string::npos) out->append(".0");
}

bool IsValidUtf8(std::string_view sv) {
  const auto* s = reinterpret_cast<const unsigned char*>(sv.data());
  size_t n = sv.size();
  for (size_t i = 0; i < n;) {
    if (s[i] < 0x80) {
      ++i;
      continue;
    }
    size_t bad = 0;
    size_t len = Utf8Sequence(s + i, n - i, &bad);
    if (len == 0) return false;
    i += len;
  }
  return true;
}

void AppendSanitizedUtf8(std::string* out, std::string_view s) { AppendUtf8<false>(out, s); }

std::string SanitizeUtf8(std::string_view s) {
  std::string out;
  out.reserve(s.size());
  AppendUtf8<false>(&out, s);
  return out;
}

JsonCheck CheckJson(std::string_view json) { return Checker(json).Run(); }
bool IsValidJson(std::string_view json) { return CheckJson(json).ok; }

std::string JsonPointerEscape(std::string_view token) {
  std::string out;
  out.reserve(token.size());
  for (char c : token) {
    if (c == '~') {
      out += "~0";
    } else if (c == '/') {
      out += "~1";
    } else {
      out += c;
    }
  }
  return out;
}

namespace {
constexpr char kB64[] = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
}

std::string Base64Encode(std::string_view data) {
  std::string out;
  out.reserve((data.size() + 2) / 3 * 4);
  const auto* s = reinterpret_cast<const unsigned char*>(data.data());
  size_t i = 0;
  for (; i + 3 <= data.size(); i += 3) {
    uint32_t v = (uint32_t{s[i]} << 16) | (uint32_t{s[i + 1]} << 8) | s[i + 2];
    out += kB64[v >> 18];
    out += kB64[(v >> 12) & 63];
    out += kB64[(v >> 6) & 63];
    out += kB64[v & 63];
  }
  size_t rest = data.size() - i;
  if (rest == 1) {
    uint32_t v = uint32_t{s[i]} << 16;
    out += kB64[v >> 18];
    out += kB64[(v >> 12) & 63];
    out += "==";
  } else if (rest == 2) {
    uint32_t v = (uint32_t{s[i]} << 16) | (uint32_t{s[i + 1]} << 8);
    out += kB64[v >> 18];
    out += kB64[(v >> 12) & 63];
    out += kB64[(v >> 6) & 63];
    out += '=';
  }
  return out;
}

bool Base64Decode(std::string_view text, std::string* out) {
  out->clear();
  while (!text.empty() && text.back() == '=') text.remove_suffix(1);
  if (text.size() % 4 == 1) return false;
  uint32_t acc = 0;
  int bits = 0;
  for (char c : text) {
    int v;
    if (c >= 'A' && c <= 'Z') {
      v = c - 'A';
    } else if (c >= 'a' && c <= 'z') {
      v = c - 'a' + 26;
    } else if (c >= '0' && c <= '9') {
      v = c - '0' + 52;
    } else if (c == '+') {
      v = 62;
    } else if (c == '/') {
      v = 63;
    } else {
      return false;
    }
    acc = (acc << 6) | static_cast<uint32_t>(v);
    bits += 6;
    if (bits >= 8) {
      bits -= 8;
      out->push_back(static_cast<char>((acc >> bits) & 0xFF));
    }
  }
  return true;
}

}  // namespace qg
