// libFuzzer target for the http provider's response reading: the input is
// five lines — rows_at, next_at, fields= (as in a template), the batch key
// field (empty: not batched), a Link header — then the response body. A page
// is read into rows or refused with kInvalidArgument; rows stay consistent
// with their columns; a next link is what the body or the header wrote. The
// same body goes through the secret redactor that renders error excerpts: a
// cut excerpt is a prefix of the whole redaction. Never a crash, a hang or a
// sanitizer report.
#include <cstddef>
#include <cstdint>
#include <cstdlib>
#include <string>
#include <string_view>
#include <vector>

#include "providers/http/http_extract.h"
#include "providers/http/http_redact.h"

namespace {

void Check(bool ok) {
  if (!ok) std::abort();
}

std::string_view Line(std::string_view* in) {
  const size_t nl = in->find('\n');
  std::string_view line = in->substr(0, nl);
  in->remove_prefix(nl == std::string_view::npos ? in->size() : nl + 1);
  return line;
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  std::string_view in(reinterpret_cast<const char*>(data), size);
  qg::http::ExtractSpec spec;
  spec.rows_at = std::string(Line(&in));
  spec.next_at = std::string(Line(&in));
  const std::string_view fields = Line(&in);
  spec.key_field = std::string(Line(&in));
  const std::string_view link = Line(&in);
  const std::string_view body = in;

  size_t start = 0;
  while (start <= fields.size() && !fields.empty()) {
    size_t comma = fields.find(',', start);
    if (comma == std::string_view::npos) comma = fields.size();
    std::string f(fields.substr(start, comma - start));
    start = comma + 1;
    if (f.empty()) continue;
    const size_t eq = f.find('=');
    if (eq == std::string::npos) {
      spec.fields.emplace_back(f, f);
    } else {
      spec.fields.emplace_back(f.substr(0, eq), f.substr(eq + 1));
    }
  }
  absl::flat_hash_map<std::string, size_t> keys = {{"1", 0}, {"2", 1}, {"a", 2}, {"true", 3}};
  spec.batched = !spec.key_field.empty();
  spec.key_index = &keys;

  qg::http::Collected col;
  if (!spec.fields.empty()) {
    col.fixed = true;
    for (const auto& f : spec.fields) col.Column(f.first);
  }
  const size_t fixed_columns = col.columns.size();
  simdjson::dom::parser parser;
  auto excerpt = [](std::string_view b) { return std::string(b.substr(0, 200)); };
  // Two pages into one collection, as pagination does.
  for (int page_no = 0; page_no < 2; ++page_no) {
    const size_t before = col.rows.size();
    qg::http::PageResult page;
    absl::Status st =
        qg::http::ExtractPage(parser, spec, body, link, "GET http://h/x", excerpt, &col, &page);
    if (!st.ok()) {
      Check(st.code() == absl::StatusCode::kInvalidArgument);
      break;
    }
    Check(col.rows.size() == before + page.items);
    if (spec.batched) Check(col.keys.size() == col.rows.size());
    for (size_t k : col.keys) Check(k < keys.size());
    if (!page.next.empty()) Check(!spec.next_at.empty() || !link.empty());
  }
  if (col.fixed) Check(col.columns.size() == fixed_columns);
  for (const auto& row : col.rows) {
    for (const auto& [c, v] : row) Check(c < col.columns.size());
  }
  const std::vector<qg::ColumnInfo> infos = qg::http::CollectedColumns(col);
  Check(infos.size() == col.columns.size());
  const std::string next = qg::http::LinkNext(link);
  Check(next.empty() || link.find(next) != std::string_view::npos);

  // The redactor over the same bytes, with the rows_at and next_at lines as
  // the secrets.
  qg::http::SecretRedactor redactor;
  redactor.Add(spec.rows_at);
  redactor.Add(spec.next_at);
  const std::string whole = redactor.Redact(body);
  bool truncated = false;
  const std::string cut = redactor.RedactPrefix(body, 200, &truncated);
  Check(whole.compare(0, cut.size(), cut) == 0);
  Check(truncated == (cut.size() < whole.size()));
  // Raw text left in place never spells a secret (unless the secret has a
  // '*' that the replacement can supply).
  for (const std::string& s : {spec.rows_at, spec.next_at}) {
    if (!s.empty() && s.find('*') == std::string::npos) Check(whole.find(s) == std::string::npos);
  }
  return 0;
}
