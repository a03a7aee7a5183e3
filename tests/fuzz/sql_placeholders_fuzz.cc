// libFuzzer target for the SQL placeholder tokenizer and rewriters
// (qg/placeholders.h, CompileSql in qg/provider.h): any text tokenizes or
// fails with kInvalidArgument — never a crash, a hang or a sanitizer report —
// and no rewrite ever drops, duplicates or invents a placeholder:
//  - each placeholder's span is ":name" in the text, in order, disjoint;
//  - the rewritten text holds no :name placeholder any more and tokenizes;
//  - with `?` the rewrite adds exactly one `?` per native argument;
//  - plain rewriting: one argument per occurrence (`?`) or per distinct name
//    (`$n`, numbered 1..N in order of first use);
//  - batched (SELECT ... IN / = ANY, INSERT ... VALUES): every key item
//    0..items-1 of every key parameter appears as many times as the key
//    occurs, every other parameter keeps its occurrences (per row for
//    INSERT), and no argument names anything the query does not use.
// The first input byte picks style, form, items and which names are keys;
// the rest is the query.
#include <algorithm>
#include <cstddef>
#include <cstdint>
#include <cstdlib>
#include <map>
#include <set>
#include <string>
#include <string_view>
#include <vector>

#include "qg/placeholders.h"
#include "qg/provider.h"

namespace {

void Check(bool ok) {
  if (!ok) std::abort();
}

size_t Count(std::string_view s, char c) { return std::count(s.begin(), s.end(), c); }

bool IsNameChar(char c) {
  return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') || c == '_';
}

void CheckNoPlaceholdersLeft(const std::string& text) {
  auto again = qg::ParseSql(text);
  Check(again.ok());
  Check(again->placeholders.empty());
}

// The numbers of every `$n` in `text`.
std::multiset<int> DollarNumbers(std::string_view text) {
  std::multiset<int> out;
  for (size_t i = 0; i < text.size(); ++i) {
    if (text[i] != '$' || i + 1 >= text.size() || text[i + 1] < '1' || text[i + 1] > '9') continue;
    int n = 0;
    size_t j = i + 1;
    while (j < text.size() && text[j] >= '0' && text[j] <= '9' && n < 100000) {
      n = n * 10 + (text[j] - '0');
      ++j;
    }
    out.insert(n);
  }
  return out;
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  if (size == 0) return 0;
  const uint8_t config = data[0];
  const std::string_view sql(reinterpret_cast<const char*>(data + 1), size - 1);
  auto parsed = qg::ParseSql(sql);
  if (!parsed.ok()) {
    Check(parsed.status().code() == absl::StatusCode::kInvalidArgument);
    return 0;
  }
  Check(parsed->text == sql);
  std::map<std::string, size_t> occurrences;
  size_t last_end = 0;
  for (const qg::Placeholder& p : parsed->placeholders) {
    Check(p.begin >= last_end && p.begin < p.end && p.end <= sql.size());
    Check(sql[p.begin] == ':' && sql.substr(p.begin + 1, p.end - p.begin - 1) == p.name);
    Check(!p.name.empty() && (p.end == sql.size() || !IsNameChar(sql[p.end])));
    last_end = p.end;
    ++occurrences[p.name];
  }
  const std::vector<std::string> names = parsed->Names();
  Check(names.size() == occurrences.size());

  const qg::PlaceholderStyle style =
      (config & 1) != 0 ? qg::PlaceholderStyle::kDollar : qg::PlaceholderStyle::kQuestion;
  const qg::NativeSql native = qg::RewritePlaceholders(*parsed, style);
  CheckNoPlaceholdersLeft(native.text);
  if (style == qg::PlaceholderStyle::kQuestion) {
    Check(native.arg_names.size() == parsed->placeholders.size());
    for (size_t i = 0; i < native.arg_names.size(); ++i) {
      Check(native.arg_names[i] == parsed->placeholders[i].name);
    }
    Check(Count(native.text, '?') - Count(sql, '?') == native.arg_names.size());
  } else {
    Check(native.arg_names == names);
    // Each $k (1..N) appears once per occurrence of its name.
    std::multiset<int> added = DollarNumbers(native.text);
    for (int n : DollarNumbers(sql)) added.erase(added.find(n));
    Check(added.size() == parsed->placeholders.size());
    for (size_t k = 0; k < names.size(); ++k) {
      Check(added.count(static_cast<int>(k + 1)) == occurrences[names[k]]);
    }
  }

  // Batched forms. Keys: the names whose bit is set in config >> 4.
  if (names.empty()) return 0;
  std::vector<std::string> keys;
  for (size_t k = 0; k < names.size() && k < 4; ++k) {
    if ((config >> (4 + k)) & 1) keys.push_back(names[k]);
  }
  if (keys.empty()) keys.push_back(names[0]);
  const size_t items = 1 + ((config >> 1) & 3);
  const qg::BatchForm form = (config & 8) != 0 ? qg::BatchForm::kAnyArray : qg::BatchForm::kInList;
  const std::set<std::string> key_set(keys.begin(), keys.end());
  for (const bool insert : {false, true}) {
    auto batched = insert ? qg::RewriteInsertBatched(*parsed, keys, items, style)
                          : qg::RewriteBatched(*parsed, keys, items, style, form);
    if (!batched.ok()) {
      Check(batched.status().code() == absl::StatusCode::kFailedPrecondition);
      continue;
    }
    CheckNoPlaceholdersLeft(batched->text);
    const bool any_array = !insert && form == qg::BatchForm::kAnyArray;
    std::map<std::pair<std::string, size_t>, size_t> key_items;
    std::map<std::string, size_t> key_arrays, params;
    for (const qg::BatchArg& a : batched->args) {
      Check(occurrences.contains(a.name));
      switch (a.kind) {
        case qg::BatchArg::Kind::kParam:
          Check(!key_set.contains(a.name));
          ++params[a.name];
          break;
        case qg::BatchArg::Kind::kKeyItem:
          Check(key_set.contains(a.name) && a.item < items && !any_array);
          ++key_items[{a.name, a.item}];
          break;
        case qg::BatchArg::Kind::kKeyArray:
          Check(key_set.contains(a.name) && any_array);
          ++key_arrays[a.name];
          break;
      }
    }
    for (const std::string& key : keys) {
      if (any_array) {
        Check(key_arrays[key] == 1);
        continue;
      }
      for (size_t r = 0; r < items; ++r) Check(key_items[{key, r}] == occurrences[key]);
    }
    for (const auto& [name, n] : occurrences) {
      if (key_set.contains(name)) continue;
      if (style == qg::PlaceholderStyle::kQuestion) {
        Check(params[name] == n * (insert ? items : 1));
      } else {
        Check(params[name] >= 1);
      }
    }
    if (!insert) Check(batched->key_columns == keys.size() || batched->key_position >= 0);
    if (style == qg::PlaceholderStyle::kQuestion) {
      // The key columns copied into the select list, and the repeated
      // VALUES tuples, may hold a '?' of their own.
      Check(Count(batched->text, '?') >= (insert ? 0 : Count(sql, '?')) + batched->args.size());
    }
  }

  // CompileSql over the same text: declared = every name used.
  qg::CompileRequest request;
  request.query_string = sql;
  request.input_parameters = names;
  auto compiled = qg::CompileSql(request, style);
  if (compiled.ok()) Check(compiled->args.size() == native.arg_names.size());
  request.key_params = keys;
  request.batch_items = items;
  request.form = form;
  auto compiled_batched = qg::CompileSql(request, style);
  if (!compiled_batched.ok()) {
    const auto code = compiled_batched.status().code();
    Check(code == absl::StatusCode::kFailedPrecondition ||
          code == absl::StatusCode::kInvalidArgument);
  }
  return 0;
}
