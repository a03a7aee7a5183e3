// libFuzzer target for the http provider's request templates: the input is
// a template (first line) and the values to bind (the following lines, used
// in turn for every placeholder, and as the batched key list). Any template
// parses or fails with kInvalidArgument; a parsed one renders or fails with
// kInvalidArgument; a rendered request keeps every value inside its slot:
// a path value never adds a '/' or forms a "." / ".." segment, a query value
// never adds a '&' or a '#', and a JSON body stays valid JSON. Never a
// crash, a hang or a sanitizer report.
#include <cstddef>
#include <cstdint>
#include <cstdlib>
#include <map>
#include <string>
#include <string_view>
#include <vector>

#include "common/json_writer.h"
#include "providers/http/http_template.h"

namespace {

void Check(bool ok) {
  if (!ok) std::abort();
}

size_t Count(std::string_view s, char c) {
  size_t n = 0;
  for (char x : s) n += x == c;
  return n;
}

constexpr std::string_view kBase = "http://h.example/base";
constexpr std::string_view kBaseUrl = "http://h.example/base?k=v";

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  const std::string_view in(reinterpret_cast<const char*>(data), size);
  const size_t nl = in.find('\n');
  const std::string_view text = in.substr(0, nl);
  std::vector<std::string> values;
  if (nl != std::string_view::npos) {
    std::string_view rest = in.substr(nl + 1);
    size_t start = 0;
    while (start <= rest.size()) {
      size_t e = rest.find('\n', start);
      if (e == std::string_view::npos) e = rest.size();
      values.emplace_back(rest.substr(start, e - start));
      start = e + 1;
    }
  }
  if (values.empty()) values.push_back("");

  auto t = qg::http::ParseTemplate(text);
  if (!t.ok()) {
    Check(t.status().code() == absl::StatusCode::kInvalidArgument);
    return 0;
  }
  std::map<std::string, qg::Value> bound;
  for (size_t i = 0; i < t->names.size(); ++i) {
    const std::string& v = values[i % values.size()];
    // Every third value an integer, to reach the number paths too.
    bound[t->names[i]] =
        i % 3 == 2 ? qg::Value::Int(static_cast<int64_t>(v.size()) - 3) : qg::Value::String(v);
  }
  std::vector<qg::Value> list;
  for (const std::string& v : values) list.push_back(qg::Value::String(v));
  qg::http::Bindings b{&bound, t->batch_param.empty() ? nullptr : &list};
  auto r = qg::http::Render(*t, kBaseUrl, b);
  if (!r.ok()) {
    Check(r.status().code() == absl::StatusCode::kInvalidArgument);
    return 0;
  }
  Check(r->method == t->method);
  Check(r->url.find('#') == std::string::npos);
  if (r->has_body) Check(qg::IsValidJson(r->body));

  // The path and query the template itself writes, values aside.
  std::string literal_path;
  bool path_has_dot = false;
  for (const qg::http::Piece& p : t->path) {
    if (!p.is_param) {
      literal_path += p.text;
      path_has_dot = path_has_dot || p.text.find('.') != std::string::npos;
    }
  }
  const bool absolute =
      literal_path.rfind("http://", 0) == 0 || literal_path.rfind("https://", 0) == 0;
  if (absolute) return 0;  // the allow-list judges absolute URLs
  Check(r->url.compare(0, kBase.size(), kBase) == 0);
  const size_t q = r->url.find('?');
  const std::string_view path =
      std::string_view(r->url).substr(kBase.size(), q == std::string::npos ? q : q - kBase.size());
  size_t want_slashes = Count(literal_path, '/');
  if (literal_path.empty() || literal_path[0] != '/') ++want_slashes;
  Check(Count(path, '/') == want_slashes);
  if (!path_has_dot) {
    size_t start = 0;
    while (start <= path.size()) {
      size_t e = path.find('/', start);
      if (e == std::string_view::npos) e = path.size();
      const std::string_view seg = path.substr(start, e - start);
      Check(seg != "." && seg != "..");
      start = e + 1;
    }
  }
  // The query: the base URL's pair, then one pair per template part.
  Check(q != std::string::npos);
  const std::string_view query = std::string_view(r->url).substr(q + 1);
  Check(Count(query, '&') + 1 == 1 + t->query.size());
  return 0;
}
