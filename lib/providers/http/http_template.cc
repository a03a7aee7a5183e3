#include "providers/http/http_template.h"

#include <cctype>
#include <cmath>
#include <utility>

#include "common/json_writer.h"
#include "common/status_macros.h"
#include "common/strings.h"
#include "fmt/format.h"

namespace qg::http {
namespace {

bool IsNameStart(char c) { return std::isalpha(static_cast<unsigned char>(c)) || c == '_'; }
bool IsNameChar(char c) { return std::isalnum(static_cast<unsigned char>(c)) || c == '_'; }
bool IsSpace(char c) { return c == ' ' || c == '\t' || c == '\n' || c == '\r'; }

void AddName(RequestTemplate* t, const std::string& name) {
  for (const std::string& n : t->names) {
    if (n == name) return;
  }
  t->names.push_back(name);
}

void AppendLiteral(std::vector<Piece>* out, std::string_view s) {
  if (s.empty()) return;
  if (!out->empty() && !out->back().is_param) {
    out->back().text.append(s);
  } else {
    out->push_back(Piece{false, std::string(s)});
  }
}

// Splits URL text into literal runs and :name placeholders ("::" is a
// literal colon).
std::vector<Piece> SplitUrlPieces(std::string_view s, RequestTemplate* t) {
  std::vector<Piece> out;
  size_t i = 0;
  while (i < s.size()) {
    if (s[i] == ':' && i + 1 < s.size() && s[i + 1] == ':') {
      AppendLiteral(&out, ":");
      i += 2;
      continue;
    }
    if (s[i] == ':' && i + 1 < s.size() && IsNameStart(s[i + 1])) {
      size_t j = i + 1;
      while (j < s.size() && IsNameChar(s[j])) ++j;
      std::string name(s.substr(i + 1, j - i - 1));
      AddName(t, name);
      out.push_back(Piece{true, name});
      i = j;
      continue;
    }
    AppendLiteral(&out, s.substr(i, 1));
    ++i;
  }
  return out;
}

// Placeholders of a JSON body template: outside strings only.
absl::StatusOr<std::vector<Piece>> SplitBodyPieces(std::string_view s, size_t offset,
                                                   RequestTemplate* t) {
  std::vector<Piece> out;
  size_t i = 0;
  while (i < s.size()) {
    const char c = s[i];
    if (c == '"') {
      size_t j = i + 1;
      while (j < s.size() && s[j] != '"') j += s[j] == '\\' ? 2 : 1;
      if (j >= s.size()) {
        return absl::InvalidArgumentError(
            fmt::format("unterminated string in the JSON body at byte {}", offset + i));
      }
      AppendLiteral(&out, s.substr(i, j + 1 - i));
      i = j + 1;
      continue;
    }
    if (c == ':' && i + 1 < s.size() && IsNameStart(s[i + 1])) {
      size_t j = i + 1;
      while (j < s.size() && IsNameChar(s[j])) ++j;
      std::string name(s.substr(i + 1, j - i - 1));
      AddName(t, name);
      out.push_back(Piece{true, name});
      i = j;
      continue;
    }
    AppendLiteral(&out, s.substr(i, 1));
    ++i;
  }
  return out;
}

absl::Status ParseDirective(std::string_view tok, size_t at, RequestTemplate* t) {
  const size_t eq = tok.find('=');
  if (eq == std::string_view::npos || eq == 0) {
    return absl::InvalidArgumentError(fmt::format(
        "unexpected '{}' at byte {}: expected a directive name=value or a JSON body", tok, at));
  }
  const std::string_view key = tok.substr(0, eq);
  const std::string value(tok.substr(eq + 1));
  if (key == "rows_at") {
    t->rows_at = value;
  } else if (key == "next_at") {
    t->next_at = value;
  } else if (key == "fields") {
    size_t start = 0;
    while (start <= value.size()) {
      size_t comma = value.find(',', start);
      if (comma == std::string::npos) comma = value.size();
      std::string f = value.substr(start, comma - start);
      start = comma + 1;
      if (f.empty()) continue;
      const size_t feq = f.find('=');
      if (feq == std::string::npos) {
        t->fields.emplace_back(f, f);
      } else {
        t->fields.emplace_back(f.substr(0, feq), f.substr(feq + 1));
      }
      if (t->fields.back().first.empty()) {
        return absl::InvalidArgumentError(
            fmt::format("empty field name in fields= at byte {}", at));
      }
    }
  } else if (key == "paginate") {
    if (value == "none") {
      t->paginate = false;
    } else if (value == "auto") {
      t->paginate = true;
    } else {
      return absl::InvalidArgumentError(
          fmt::format("paginate='{}' at byte {}: expected none or auto", value, at));
    }
  } else if (key == "batch") {
    t->batch_param = value;
  } else if (key == "batch_key") {
    t->batch_key = value;
  } else if (key == "batch_sep") {
    if (value.empty()) return absl::InvalidArgumentError("batch_sep= must not be empty");
    t->batch_sep = value;
  } else if (key == "max_batch") {
    size_t n = 0;
    for (char c : value) {
      if (!std::isdigit(static_cast<unsigned char>(c)) || n > 100000000) {
        n = 0;
        break;
      }
      n = n * 10 + static_cast<size_t>(c - '0');
    }
    if (n == 0) {
      return absl::InvalidArgumentError(
          fmt::format("max_batch='{}' at byte {}: expected a positive integer", value, at));
    }
    t->max_batch = n;
  } else {
    return absl::InvalidArgumentError(fmt::format(
        "unknown directive '{}' at byte {} (known: rows_at, next_at, fields, paginate, batch, "
        "batch_key, batch_sep, max_batch)",
        key, at));
  }
  return absl::OkStatus();
}

int CountParam(const std::vector<Piece>& pieces, const std::string& name) {
  int n = 0;
  for (const Piece& p : pieces) n += p.is_param && p.text == name;
  return n;
}

std::string IntegralText(double d) {
  if (std::isfinite(d) && d == std::floor(d) && std::fabs(d) < 9007199254740992.0) {
    return fmt::format("{}", static_cast<int64_t>(d));
  }
  return Value::Double(d).ToText();
}

const Value* Find(const Bindings& b, const std::string& name) {
  if (b.values == nullptr) return nullptr;
  auto it = b.values->find(name);
  return it == b.values->end() ? nullptr : &it->second;
}

absl::Status Missing(const std::string& name) {
  return absl::InvalidArgumentError(fmt::format("parameter :{} has no value", name));
}

}  // namespace

absl::StatusOr<RequestTemplate> ParseTemplate(std::string_view text) {
  RequestTemplate t;
  size_t i = 0;
  auto skip_space = [&] {
    while (i < text.size() && IsSpace(text[i])) ++i;
  };
  auto token = [&] {
    const size_t b = i;
    while (i < text.size() && !IsSpace(text[i])) ++i;
    return text.substr(b, i - b);
  };
  skip_space();
  std::string_view first = token();
  std::string_view target;
  size_t target_at = 0;
  if (!first.empty() && first[0] != '/' && first.find("://") == std::string_view::npos &&
      first[0] != '?') {
    std::string m;
    for (char c : first)
      m.push_back(static_cast<char>(std::toupper(static_cast<unsigned char>(c))));
    static const char* const kMethods[] = {"GET", "POST", "PUT", "PATCH", "DELETE", "HEAD"};
    bool known = false;
    for (const char* k : kMethods) known = known || m == k;
    if (!known) {
      return absl::InvalidArgumentError(fmt::format(
          "request template must start with a method (GET, POST, PUT, PATCH, DELETE, HEAD) or a "
          "path; got '{}'",
          first));
    }
    t.method = m;
    skip_space();
    target_at = i;
    target = token();
  } else {
    target = first;
  }
  if (target.empty()) {
    return absl::InvalidArgumentError("request template has no path (e.g. GET /users/:id)");
  }
  if (target[0] != '/' && target[0] != '?' && target.rfind("http://", 0) != 0 &&
      target.rfind("https://", 0) != 0) {
    return absl::InvalidArgumentError(fmt::format(
        "request path '{}' at byte {} must start with '/', '?' or http(s)://", target, target_at));
  }
  if (target.find('#') != std::string_view::npos) {
    return absl::InvalidArgumentError("request path must not contain a fragment ('#')");
  }
  const size_t q = target.find('?');
  t.path = SplitUrlPieces(target.substr(0, q), &t);
  if (q != std::string_view::npos) {
    std::string_view qs = target.substr(q + 1);
    size_t start = 0;
    while (start <= qs.size()) {
      size_t amp = qs.find('&', start);
      if (amp == std::string_view::npos) amp = qs.size();
      std::string_view part = qs.substr(start, amp - start);
      start = amp + 1;
      if (part.empty()) continue;
      QueryPart qp;
      const size_t eq = part.find('=');
      std::string_view key = part.substr(0, eq);
      if (key.find(':') != std::string_view::npos) {
        return absl::InvalidArgumentError(
            fmt::format("placeholders are not allowed in query keys ('{}')", key));
      }
      qp.key = std::string(key);
      qp.has_equals = eq != std::string_view::npos;
      if (qp.has_equals) qp.value = SplitUrlPieces(part.substr(eq + 1), &t);
      t.query.push_back(std::move(qp));
    }
  }
  for (;;) {
    skip_space();
    if (i >= text.size()) break;
    if (text[i] == '{' || text[i] == '[') {
      size_t end = text.size();
      while (end > i && IsSpace(text[end - 1])) --end;
      QG_ASSIGN_OR_RETURN(auto body, SplitBodyPieces(text.substr(i, end - i), i, &t));
      // The template must be JSON once its placeholders hold values.
      std::string probe;
      for (const Piece& p : body) probe += p.is_param ? "null" : p.text;
      JsonCheck check = CheckJson(probe);
      if (!check.ok) {
        return absl::InvalidArgumentError(
            fmt::format("the JSON body template is not valid JSON: {} (near byte {} of the body)",
                        check.message, check.offset));
      }
      t.body = std::move(body);
      break;
    }
    const size_t at = i;
    QG_RETURN_IF_ERROR(ParseDirective(token(), at, &t));
  }
  if (t.method == "GET" || t.method == "HEAD" || t.method == "DELETE") {
    if (t.body.has_value() && t.method != "DELETE") {
      return absl::InvalidArgumentError(fmt::format("{} requests take no body", t.method));
    }
  }
  if (!t.batch_param.empty()) {
    const std::string& b = t.batch_param;
    int in_path = CountParam(t.path, b);
    int in_query = 0;
    bool whole_value = false;
    for (const QueryPart& qp : t.query) {
      const int n = CountParam(qp.value, b);
      in_query += n;
      if (n == 1 && qp.value.size() == 1) whole_value = true;
    }
    int in_body = t.body.has_value() ? CountParam(*t.body, b) : 0;
    if (in_path + in_query + in_body != 1) {
      return absl::InvalidArgumentError(fmt::format(
          "batch={}: the placeholder :{} must appear exactly once, as a whole query value "
          "(?ids=:{}) or a JSON body value",
          b, b, b));
    }
    if (in_path == 1 || (in_query == 1 && !whole_value)) {
      return absl::InvalidArgumentError(fmt::format(
          "batch={}: :{} must be a whole query value (?ids=:{}) or a JSON body value, not part "
          "of the path or of a longer value",
          b, b, b));
    }
    t.batch_slot = in_query == 1 ? BatchSlot::kQuery : BatchSlot::kBody;
  }
  return t;
}

std::string PercentEncode(std::string_view s) {
  static const char kHex[] = "0123456789ABCDEF";
  std::string out;
  out.reserve(s.size());
  for (unsigned char c : s) {
    if (std::isalnum(c) || c == '-' || c == '.' || c == '_' || c == '~') {
      out.push_back(static_cast<char>(c));
    } else {
      out.push_back('%');
      out.push_back(kHex[c >> 4]);
      out.push_back(kHex[c & 15]);
    }
  }
  return out;
}

absl::StatusOr<std::string> UrlText(const Value& v, std::string_view param) {
  switch (v.type()) {
    case ValueType::kNull:
      return absl::InvalidArgumentError(
          fmt::format("parameter :{} is null and cannot be put in a URL path", param));
    case ValueType::kBool:
      return std::string(v.as_bool() ? "true" : "false");
    case ValueType::kInt64:
      return std::to_string(v.as_int());
    case ValueType::kDouble:
      if (!std::isfinite(v.as_double())) {
        return absl::InvalidArgumentError(
            fmt::format("parameter :{} is a non-finite double and cannot be put in a URL", param));
      }
      return IntegralText(v.as_double());
    case ValueType::kBytes:
    case ValueType::kJson:
      return absl::InvalidArgumentError(fmt::format(
          "parameter :{} is a {} value and cannot be put in a URL (expected a number, string, "
          "bool, decimal or timestamp)",
          param, ValueTypeName(v.type())));
    default:
      return v.as_text();
  }
}

absl::StatusOr<std::string> JsonText(const Value& v, std::string_view param) {
  switch (v.type()) {
    case ValueType::kNull:
      return std::string("null");
    case ValueType::kBool:
      return std::string(v.as_bool() ? "true" : "false");
    case ValueType::kInt64:
      return std::to_string(v.as_int());
    case ValueType::kDouble: {
      if (!std::isfinite(v.as_double())) return std::string("null");
      std::string out;
      AppendDouble(&out, v.as_double());
      return out;
    }
    case ValueType::kDecimal:
      return IsJsonNumber(v.as_text()) ? v.as_text() : JsonQuote(v.as_text());
    case ValueType::kBytes:
      return JsonQuote(Base64Encode(v.as_text()));
    case ValueType::kJson:
      if (!IsValidJson(v.as_text())) {
        return absl::InvalidArgumentError(
            fmt::format("parameter :{} holds invalid JSON text", param));
      }
      return v.as_text();
    default:
      return JsonQuote(v.as_text());
  }
}

absl::StatusOr<RenderedRequest> Render(const RequestTemplate& tmpl, std::string_view base_url,
                                       const Bindings& bindings) {
  RenderedRequest out;
  out.method = tmpl.method;
  // Values are encoded as segment text ('/', '?', '#' and '%' included), so
  // none can end its segment; a segment a value made "." or ".." is sent as
  // %2E / %2E%2E so that no one resolves it as a dot segment.
  std::string path;
  size_t seg_start = 0;
  bool seg_has_value = false;
  auto end_segment = [&] {
    const std::string_view seg = std::string_view(path).substr(seg_start);
    if (seg_has_value && (seg == "." || seg == "..")) {
      const size_t dots = seg.size();
      path.resize(seg_start);
      for (size_t k = 0; k < dots; ++k) path += "%2E";
    }
  };
  for (const Piece& p : tmpl.path) {
    if (!p.is_param) {
      for (char c : p.text) {
        if (c == '/') {
          end_segment();
          path.push_back(c);
          seg_start = path.size();
          seg_has_value = false;
        } else {
          path.push_back(c);
        }
      }
      continue;
    }
    const Value* v = Find(bindings, p.text);
    if (v == nullptr) return Missing(p.text);
    QG_ASSIGN_OR_RETURN(std::string s, UrlText(*v, p.text));
    path += PercentEncode(s);
    seg_has_value = true;
  }
  end_segment();
  std::string query;
  auto add = [&query](std::string_view part) {
    if (!query.empty()) query.push_back('&');
    query.append(part);
  };
  // The base URL's own query (e.g. an API key) comes first.
  std::string_view base = base_url;
  const size_t bq = base.find('?');
  std::string_view base_query;
  if (bq != std::string_view::npos) {
    base_query = base.substr(bq + 1);
    base = base.substr(0, bq);
  }
  const bool absolute = path.rfind("http://", 0) == 0 || path.rfind("https://", 0) == 0;
  // The base query (it may hold an API key) never goes to an absolute URL.
  if (!base_query.empty() && !absolute) add(base_query);
  for (const QueryPart& qp : tmpl.query) {
    if (!qp.has_equals) {
      add(qp.key);
      continue;
    }
    std::string value;
    bool omit = false;
    for (const Piece& p : qp.value) {
      if (!p.is_param) {
        value += p.text;
        continue;
      }
      if (bindings.list != nullptr && p.text == tmpl.batch_param &&
          tmpl.batch_slot == BatchSlot::kQuery) {
        std::string joined;
        for (size_t k = 0; k < bindings.list->size(); ++k) {
          QG_ASSIGN_OR_RETURN(std::string s, UrlText((*bindings.list)[k], p.text));
          if (k > 0) joined += PercentEncode(tmpl.batch_sep);
          joined += PercentEncode(s);
        }
        value += joined;
        continue;
      }
      const Value* v = Find(bindings, p.text);
      if (v == nullptr) return Missing(p.text);
      if (v->is_null()) {
        omit = true;
        break;
      }
      QG_ASSIGN_OR_RETURN(std::string s, UrlText(*v, p.text));
      value += PercentEncode(s);
    }
    if (!omit) add(qp.key + "=" + value);
  }
  if (absolute) {
    out.url = path;
  } else {
    std::string b(base);
    while (!b.empty() && b.back() == '/') b.pop_back();
    if (!path.empty() && path[0] != '/') path.insert(path.begin(), '/');
    out.url = b + path;
    if (path.empty()) out.url += "/";
  }
  if (!query.empty()) out.url += (out.url.find('?') == std::string::npos ? "?" : "&") + query;
  if (tmpl.body.has_value()) {
    out.has_body = true;
    for (const Piece& p : *tmpl.body) {
      if (!p.is_param) {
        out.body += p.text;
        continue;
      }
      if (bindings.list != nullptr && p.text == tmpl.batch_param &&
          tmpl.batch_slot == BatchSlot::kBody) {
        out.body += '[';
        for (size_t k = 0; k < bindings.list->size(); ++k) {
          if (k > 0) out.body += ',';
          QG_ASSIGN_OR_RETURN(std::string s, JsonText((*bindings.list)[k], p.text));
          out.body += s;
        }
        out.body += ']';
        continue;
      }
      const Value* v = Find(bindings, p.text);
      if (v == nullptr) return Missing(p.text);
      QG_ASSIGN_OR_RETURN(std::string s, JsonText(*v, p.text));
      out.body += s;
    }
  }
  return out;
}

}  // namespace qg::http
