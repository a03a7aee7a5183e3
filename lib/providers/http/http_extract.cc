#include "providers/http/http_extract.h"

#include "absl/status/statusor.h"
#include "common/strings.h"
#include "fmt/format.h"
#include "providers/http/http_template.h"

namespace qg::http {
namespace {

Value ToValue(simdjson::dom::element e) {
  using simdjson::dom::element_type;
  switch (e.type()) {
    case element_type::INT64:
      return Value::Int(e.get_int64().value_unsafe());
    case element_type::UINT64:
      return Value::Decimal(std::to_string(e.get_uint64().value_unsafe()));
    case element_type::DOUBLE:
      return Value::Double(e.get_double().value_unsafe());
    case element_type::STRING:
      return Value::String(std::string(e.get_string().value_unsafe()));
    case element_type::BOOL:
      return Value::Bool(e.get_bool().value_unsafe());
    case element_type::NULL_VALUE:
      return Value::Null();
    default:
      return Value::Json(simdjson::minify(e));
  }
}

absl::StatusOr<simdjson::dom::element> AtPointer(simdjson::dom::element root,
                                                 const std::string& ptr, bool* found) {
  *found = true;
  if (ptr.empty()) return root;
  simdjson::dom::element out;
  auto err = root.at_pointer(ptr).get(out);
  if (err == simdjson::NO_SUCH_FIELD || err == simdjson::INDEX_OUT_OF_BOUNDS) {
    *found = false;
    return out;
  }
  if (err != simdjson::SUCCESS) {
    return absl::InvalidArgumentError(
        fmt::format("JSON pointer '{}': {}", ptr, simdjson::error_message(err)));
  }
  return out;
}

// A member by name (objects only) or by JSON pointer ("/a/0").
bool Member(simdjson::dom::element item, const std::string& spec, simdjson::dom::element* out) {
  if (!spec.empty() && spec[0] == '/') return item.at_pointer(spec).get(*out) == simdjson::SUCCESS;
  return item.is_object() && item[spec].get(*out) == simdjson::SUCCESS;
}

}  // namespace

size_t Collected::Column(const std::string& name) {
  auto [it, inserted] = index.try_emplace(name, columns.size());
  if (inserted) columns.push_back(name);
  return it->second;
}

std::string LinkNext(std::string_view header) {
  size_t pos = 0;
  while (pos < header.size()) {
    size_t lt = header.find('<', pos);
    if (lt == std::string_view::npos) break;
    size_t gt = header.find('>', lt);
    if (gt == std::string_view::npos) break;
    std::string url(header.substr(lt + 1, gt - lt - 1));
    size_t next_lt = header.find('<', gt);
    std::string params = Lower(header.substr(
        gt + 1, next_lt == std::string_view::npos ? std::string_view::npos : next_lt - gt - 1));
    size_t rel = params.find("rel=");
    if (rel != std::string::npos) {
      std::string v = params.substr(rel + 4);
      if (!v.empty() && v[0] == '"') v = v.substr(1, v.find('"', 1) - 1);
      v = v.substr(0, v.find_first_of(";,"));
      size_t start = 0;
      while (start <= v.size()) {
        size_t sp = v.find(' ', start);
        if (sp == std::string::npos) sp = v.size();
        if (TrimSpace(std::string_view(v).substr(start, sp - start)) == "next") return url;
        start = sp + 1;
      }
    }
    pos = gt + 1;
  }
  return "";
}

std::optional<std::string> KeyText(const Value& v) {
  if (v.is_null() || v.type() == ValueType::kJson || v.type() == ValueType::kBytes) {
    return std::nullopt;
  }
  auto s = UrlText(v, "");
  if (!s.ok()) return std::nullopt;
  return *s;
}

absl::Status ExtractPage(simdjson::dom::parser& parser, const ExtractSpec& spec,
                         std::string_view body, std::string_view link_header, std::string_view from,
                         const std::function<std::string(std::string_view)>& excerpt,
                         Collected* col, PageResult* page) {
  *page = PageResult{};
  simdjson::dom::element root;
  auto err = parser.parse(body.data(), body.size()).get(root);
  if (err != simdjson::SUCCESS) {
    return absl::InvalidArgumentError(fmt::format("response from {} is not valid JSON ({}): {}",
                                                  from, simdjson::error_message(err),
                                                  excerpt(body)));
  }
  bool found = false;
  auto at = AtPointer(root, spec.rows_at, &found);
  if (!at.ok()) return at.status();
  if (!found) {
    return absl::InvalidArgumentError(
        fmt::format("rows_at '{}' is not in the response from {}", spec.rows_at, from));
  }
  std::vector<simdjson::dom::element> items;
  if (at->is_array()) {
    simdjson::dom::array arr = at->get_array().value_unsafe();
    for (simdjson::dom::element e : arr) items.push_back(e);
  } else if (!at->is_null()) {
    items.push_back(*at);
  }
  for (simdjson::dom::element item : items) {
    std::vector<std::pair<size_t, Value>> row;
    if (col->fixed) {
      for (size_t f = 0; f < spec.fields.size(); ++f) {
        simdjson::dom::element v;
        if (Member(item, spec.fields[f].second, &v)) row.emplace_back(f, ToValue(v));
      }
    } else if (item.is_object()) {
      simdjson::dom::object obj = item.get_object().value_unsafe();
      for (auto kv : obj) row.emplace_back(col->Column(std::string(kv.key)), ToValue(kv.value));
    } else {
      row.emplace_back(col->Column("value"), ToValue(item));
    }
    if (spec.batched) {
      simdjson::dom::element kv;
      if (!Member(item, spec.key_field, &kv)) {
        return absl::InvalidArgumentError(fmt::format(
            "a row of the batched response from {} has no key field '{}' (set batch_key= or the "
            "batch_key_field option)",
            from, spec.key_field));
      }
      auto text = KeyText(ToValue(kv));
      const bool known = text.has_value() && spec.key_index != nullptr &&
                         spec.key_index->find(*text) != spec.key_index->end();
      if (!known) {
        return absl::InvalidArgumentError(fmt::format(
            "a row of the batched response from {} has {} '{}', which was not requested", from,
            spec.key_field, excerpt(simdjson::minify(kv))));
      }
      col->keys.push_back(spec.key_index->find(*text)->second);
    }
    col->rows.push_back(std::move(row));
  }
  page->items = items.size();
  if (!spec.paginate) return absl::OkStatus();
  if (!spec.next_at.empty()) {
    bool nfound = false;
    auto n = AtPointer(root, spec.next_at, &nfound);
    if (n.ok() && nfound && n->is_string())
      page->next = std::string(n->get_string().value_unsafe());
  }
  if (page->next.empty() && !link_header.empty()) page->next = LinkNext(link_header);
  return absl::OkStatus();
}

std::vector<ColumnInfo> CollectedColumns(const Collected& col) {
  const size_t ncols = col.columns.size();
  std::vector<ColumnInfo> infos(ncols);
  std::vector<bool> mixed(ncols, false);
  for (size_t c = 0; c < ncols; ++c) {
    infos[c].name = col.columns[c];
    infos[c].native_type = "json";
  }
  for (const auto& row : col.rows) {
    for (const auto& [c, v] : row) {
      if (c >= ncols || v.is_null() || mixed[c]) continue;
      if (infos[c].type == ValueType::kNull) {
        infos[c].type = v.type();
      } else if (infos[c].type != v.type()) {
        mixed[c] = true;
        infos[c].type = ValueType::kNull;
      }
    }
  }
  return infos;
}

}  // namespace qg::http
