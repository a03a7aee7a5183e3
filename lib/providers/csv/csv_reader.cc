#include "providers/csv/csv_reader.h"

#include <cctype>
#include <cerrno>
#include <cmath>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <optional>
#include <sstream>
#include <utility>

#include "absl/container/flat_hash_set.h"
#include "common/json_writer.h"
#include "common/status_macros.h"
#include "common/strings.h"
#include "fmt/format.h"

namespace qg::csv {
namespace {

// Lower: common/strings.h. Trim: a trimmed copy.
std::string Trim(std::string_view s) { return std::string(TrimSpace(s)); }

absl::StatusOr<ColumnKind> KindOf(std::string_view name) {
  const std::string n = Lower(name);
  if (n == "int" || n == "integer" || n == "bigint") return ColumnKind::kInt;
  if (n == "double" || n == "real" || n == "float") return ColumnKind::kDouble;
  if (n == "text" || n == "string") return ColumnKind::kText;
  if (n == "decimal" || n == "numeric") return ColumnKind::kDecimal;
  if (n == "bool" || n == "boolean") return ColumnKind::kBool;
  if (n == "timestamp" || n == "date" || n == "datetime") return ColumnKind::kTimestamp;
  if (n == "json") return ColumnKind::kJson;
  return absl::InvalidArgumentError(fmt::format(
      "unknown column type '{}' (known: int, double, text, decimal, bool, timestamp, json)", name));
}

absl::StatusOr<char> OneChar(const std::string& key, const std::string& value) {
  if (value == "\\t" || Lower(value) == "tab") return '\t';
  const std::string& v = value;
  if (v.size() != 1 || v[0] == '\n' || v[0] == '\r') {
    return absl::InvalidArgumentError(
        fmt::format("csv option {}='{}' must be one character (or \\t)", key, value));
  }
  return v[0];
}

// One field as read: nullopt = NULL.
using Field = std::optional<std::string>;

struct Record {
  int line = 0;
  std::vector<Field> fields;
};

bool ParseInt(const std::string& s, int64_t* out) {
  if (s.empty()) return false;
  size_t i = (s[0] == '-' || s[0] == '+') ? 1 : 0;
  if (i >= s.size()) return false;
  // A leading zero (zip codes, ids like 007) keeps the text.
  if (s[i] == '0' && s.size() > i + 1) return false;
  for (size_t k = i; k < s.size(); ++k) {
    if (!std::isdigit(static_cast<unsigned char>(s[k]))) return false;
  }
  errno = 0;
  char* end = nullptr;
  long long v = std::strtoll(s.c_str(), &end, 10);
  if (errno != 0 || *end != '\0') return false;
  *out = v;
  return true;
}

bool IsDecimalText(const std::string& s) {
  size_t i = 0;
  if (i < s.size() && (s[i] == '+' || s[i] == '-')) ++i;
  size_t digits = 0;
  while (i < s.size() && std::isdigit(static_cast<unsigned char>(s[i]))) ++i, ++digits;
  if (i < s.size() && s[i] == '.') {
    ++i;
    while (i < s.size() && std::isdigit(static_cast<unsigned char>(s[i]))) ++i, ++digits;
  }
  if (digits > 0 && i < s.size() && (s[i] == 'e' || s[i] == 'E')) {
    ++i;
    if (i < s.size() && (s[i] == '+' || s[i] == '-')) ++i;
    size_t e = 0;
    while (i < s.size() && std::isdigit(static_cast<unsigned char>(s[i]))) ++i, ++e;
    if (e == 0) return false;
  }
  return digits > 0 && i == s.size();
}

// `strict` (inference): "007" / "01.5" keep their text (codes, not numbers).
bool ParseDouble(const std::string& s, double* out, bool strict = true) {
  if (!IsDecimalText(s)) return false;
  const size_t i = (s[0] == '-' || s[0] == '+') ? 1 : 0;
  if (strict && s.size() > i + 1 && s[i] == '0' &&
      std::isdigit(static_cast<unsigned char>(s[i + 1]))) {
    return false;
  }
  errno = 0;
  char* end = nullptr;
  double d = std::strtod(s.c_str(), &end);
  if (*end != '\0' || !std::isfinite(d)) return false;
  *out = d;
  return true;
}

absl::StatusOr<std::vector<Record>> Split(std::string_view text, const std::string& file,
                                          const CsvOptions& o) {
  std::vector<Record> records;
  size_t i = 0;
  int line = 1;
  if (text.substr(0, 3) == "\xEF\xBB\xBF") i = 3;  // UTF-8 BOM
  const size_t n = text.size();
  while (i < n) {
    Record rec;
    rec.line = line;
    // A blank line is no record.
    if (text[i] == '\n' || text[i] == '\r') {
      if (text[i] == '\r' && i + 1 < n && text[i + 1] == '\n') ++i;
      ++i;
      ++line;
      continue;
    }
    for (;;) {  // fields of one record
      std::string value;
      bool quoted = false;
      if (i < n && text[i] == o.quote) {
        quoted = true;
        const int open_line = line;
        ++i;
        for (;;) {
          if (i >= n) {
            return absl::InvalidArgumentError(
                fmt::format("{}:{}: unterminated quoted field (opened on line {})", file, open_line,
                            open_line));
          }
          const char c = text[i];
          if (c == o.quote) {
            if (i + 1 < n && text[i + 1] == o.quote) {
              value.push_back(o.quote);
              i += 2;
              continue;
            }
            ++i;
            break;
          }
          if (c == '\n') ++line;
          if (c == '\r' && !(i + 1 < n && text[i + 1] == '\n')) ++line;
          value.push_back(c);
          ++i;
        }
        if (i < n && text[i] != o.delimiter && text[i] != '\n' && text[i] != '\r') {
          return absl::InvalidArgumentError(
              fmt::format("{}:{}: unexpected character after a closing quote (field {})", file,
                          line, rec.fields.size() + 1));
        }
      } else {
        while (i < n && text[i] != o.delimiter && text[i] != '\n' && text[i] != '\r') {
          value.push_back(text[i]);
          ++i;
        }
      }
      if (!IsValidUtf8(value)) {
        return absl::InvalidArgumentError(
            fmt::format("{}:{}: field {} is not valid UTF-8 (only utf-8 is supported)", file, line,
                        rec.fields.size() + 1));
      }
      if (!quoted && value == o.null_string) {
        rec.fields.push_back(std::nullopt);
      } else {
        rec.fields.push_back(std::move(value));
      }
      if (i < n && text[i] == o.delimiter) {
        ++i;
        continue;
      }
      // End of record.
      if (i < n && text[i] == '\r') ++i;
      if (i < n && text[i] == '\n') ++i;
      ++line;
      break;
    }
    records.push_back(std::move(rec));
  }
  return records;
}

}  // namespace

absl::StatusOr<CsvOptions> ParseCsvOptions(const std::map<std::string, std::string>& options) {
  CsvOptions o;
  for (const auto& [key, value] : options) {
    if (key == "delimiter") {
      QG_ASSIGN_OR_RETURN(o.delimiter, OneChar(key, value));
    } else if (key == "quote") {
      QG_ASSIGN_OR_RETURN(o.quote, OneChar(key, value));
    } else if (key == "header") {
      const std::string v = Lower(value);
      if (v == "true" || v == "1" || v == "yes") {
        o.header = true;
      } else if (v == "false" || v == "0" || v == "no") {
        o.header = false;
      } else {
        return absl::InvalidArgumentError(
            fmt::format("csv option header='{}' is not true or false", value));
      }
    } else if (key == "encoding") {
      const std::string v = Lower(value);
      if (v != "utf-8" && v != "utf8") {
        return absl::InvalidArgumentError(fmt::format(
            "csv option encoding='{}': only utf-8 is supported (convert the file first)", value));
      }
    } else if (key == "null_string") {
      o.null_string = value;
    } else if (key == "types") {
      size_t start = 0;
      while (start <= value.size()) {
        size_t semi = value.find(';', start);
        if (semi == std::string::npos) semi = value.size();
        std::string item = Trim(std::string_view(value).substr(start, semi - start));
        start = semi + 1;
        if (item.empty()) continue;
        const size_t eq = item.find('=');
        const size_t dot = item.find('.');
        if (eq == std::string::npos || dot == std::string::npos || dot > eq || dot == 0 ||
            dot + 1 == eq) {
          return absl::InvalidArgumentError(fmt::format(
              "csv option types: '{}' is not table.column=type (e.g. users.id=int)", item));
        }
        auto kind = KindOf(Trim(std::string_view(item).substr(eq + 1)));
        if (!kind.ok()) return Annotate(kind.status(), "csv option types: ");
        o.types[Lower(Trim(std::string_view(item).substr(0, eq)))] = *kind;
      }
    } else {
      return absl::InvalidArgumentError(fmt::format("unknown csv option '{}'", key));
    }
  }
  if (o.delimiter == o.quote) {
    return absl::InvalidArgumentError("csv options delimiter and quote must differ");
  }
  return o;
}

std::string_view SqlType(ColumnKind kind) {
  switch (kind) {
    case ColumnKind::kInt:
    case ColumnKind::kBool:
      return "INTEGER";
    case ColumnKind::kDouble:
      return "REAL";
    case ColumnKind::kDecimal:
      return "DECIMAL TEXT";
    case ColumnKind::kTimestamp:
      return "TIMESTAMP TEXT";
    case ColumnKind::kJson:
      return "JSON";
    case ColumnKind::kText:
      break;
  }
  return "TEXT";
}

absl::StatusOr<CsvTable> ParseCsv(std::string_view text, const std::string& path,
                                  const std::string& name, const CsvOptions& o) {
  const std::string file = std::filesystem::path(path).filename().string();
  QG_ASSIGN_OR_RETURN(std::vector<Record> records, Split(text, file, o));
  CsvTable t;
  t.name = name;
  t.path = path;
  size_t first = 0;
  if (o.header) {
    if (records.empty()) {
      return absl::InvalidArgumentError(fmt::format("{}:1: empty file (no header row)", file));
    }
    absl::flat_hash_set<std::string> seen;
    for (size_t c = 0; c < records[0].fields.size(); ++c) {
      std::string col = records[0].fields[c].value_or("");
      if (col.empty()) col = fmt::format("column{}", c + 1);
      if (!seen.insert(Lower(col)).second) {
        return absl::InvalidArgumentError(
            fmt::format("{}:{}: duplicate column name '{}'", file, records[0].line,
                        col.size() > 60 ? col.substr(0, 60) + "..." : col));
      }
      t.columns.push_back(std::move(col));
    }
    first = 1;
  } else {
    if (records.empty()) {
      return absl::InvalidArgumentError(fmt::format(
          "{}: empty file (header=false needs at least one row to know the columns)", file));
    }
    for (size_t c = 0; c < records[0].fields.size(); ++c) {
      t.columns.push_back(fmt::format("c{}", c + 1));
    }
  }
  const size_t ncols = t.columns.size();
  for (size_t r = first; r < records.size(); ++r) {
    if (records[r].fields.size() != ncols) {
      return absl::InvalidArgumentError(fmt::format(
          "{}:{}: {} fields, expected {}", file, records[r].line, records[r].fields.size(), ncols));
    }
  }
  // Column kinds: declared, else inferred (int, then double, else text).
  t.kinds.assign(ncols, ColumnKind::kText);
  for (size_t c = 0; c < ncols; ++c) {
    auto it = o.types.find(Lower(name) + "." + Lower(t.columns[c]));
    if (it != o.types.end()) {
      t.kinds[c] = it->second;
      continue;
    }
    bool all_int = true, all_num = true, any = false;
    for (size_t r = first; r < records.size() && (all_int || all_num); ++r) {
      const Field& f = records[r].fields[c];
      if (!f.has_value()) continue;
      any = true;
      int64_t iv;
      double dv;
      if (all_int && !ParseInt(*f, &iv)) all_int = false;
      if (all_num && !all_int && !ParseDouble(*f, &dv)) all_num = false;
    }
    t.kinds[c] = !any      ? ColumnKind::kText
                 : all_int ? ColumnKind::kInt
                 : all_num ? ColumnKind::kDouble
                           : ColumnKind::kText;
  }
  t.rows.reserve(records.size() - first);
  for (size_t r = first; r < records.size(); ++r) {
    std::vector<Value> row;
    row.reserve(ncols);
    for (size_t c = 0; c < ncols; ++c) {
      Field& f = records[r].fields[c];
      if (!f.has_value()) {
        row.push_back(Value::Null());
        continue;
      }
      std::string& s = *f;
      auto bad = [&](std::string_view want) {
        return absl::InvalidArgumentError(
            fmt::format("{}:{}: column '{}': '{}' is not {}", file, records[r].line, t.columns[c],
                        s.size() > 60 ? s.substr(0, 60) + "..." : s, want));
      };
      switch (t.kinds[c]) {
        case ColumnKind::kInt: {
          int64_t v;
          if (!ParseInt(Trim(s), &v)) {
            // "007" in a declared int column is still 7.
            std::string d = Trim(s);
            errno = 0;
            char* end = nullptr;
            long long x = d.empty() ? 0 : std::strtoll(d.c_str(), &end, 10);
            if (d.empty() || *end != '\0' || errno != 0) return bad("an integer");
            v = x;
          }
          row.push_back(Value::Int(v));
          break;
        }
        case ColumnKind::kDouble: {
          double v;
          if (!ParseDouble(Trim(s), &v, /*strict=*/false)) return bad("a number");
          row.push_back(Value::Double(v));
          break;
        }
        case ColumnKind::kDecimal: {
          std::string d = Trim(s);
          if (!IsDecimalText(d) || d.find_first_of("eE") != std::string::npos) {
            return bad("a decimal");
          }
          row.push_back(Value::Decimal(std::move(d)));
          break;
        }
        case ColumnKind::kBool: {
          const std::string v = Lower(Trim(s));
          if (v == "true" || v == "t" || v == "1" || v == "yes" || v == "y") {
            row.push_back(Value::Int(1));
          } else if (v == "false" || v == "f" || v == "0" || v == "no" || v == "n") {
            row.push_back(Value::Int(0));
          } else {
            return bad("a bool");
          }
          break;
        }
        case ColumnKind::kTimestamp:
          row.push_back(Value::Timestamp(std::move(s)));
          break;
        case ColumnKind::kJson:
          if (!IsValidJson(s)) return bad("JSON");
          row.push_back(Value::Json(std::move(s)));
          break;
        case ColumnKind::kText:
          row.push_back(Value::String(std::move(s)));
          break;
      }
    }
    t.rows.push_back(std::move(row));
  }
  return t;
}

absl::StatusOr<CsvTable> ReadCsv(const std::string& path, const std::string& name,
                                 const CsvOptions& options) {
  std::ifstream in(path, std::ios::binary);
  if (!in) {
    return absl::NotFoundError(fmt::format("cannot open CSV file '{}'", path));
  }
  std::ostringstream ss;
  ss << in.rdbuf();
  if (in.bad()) return absl::UnavailableError(fmt::format("cannot read CSV file '{}'", path));
  return ParseCsv(ss.str(), path, name, options);
}

}  // namespace qg::csv
