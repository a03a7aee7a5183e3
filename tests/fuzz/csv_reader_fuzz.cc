// libFuzzer target for the CSV reader (lib/providers/csv/csv_reader): any
// bytes read as a table or fail with kInvalidArgument naming the file —
// never a crash, a hang or a sanitizer report. A table is rectangular: every
// row has one value per column, and int, double and bool columns hold only such values.
// The first input byte picks the options (delimiter, quote, header,
// null_string); the rest is the file.
#include <cstddef>
#include <cstdint>
#include <cstdlib>
#include <string>
#include <string_view>

#include "providers/csv/csv_reader.h"

namespace {

void Check(bool ok) {
  if (!ok) std::abort();
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  if (size == 0) return 0;
  const uint8_t config = data[0];
  const std::string_view text(reinterpret_cast<const char*>(data + 1), size - 1);
  qg::csv::CsvOptions options;
  static constexpr char kDelimiters[] = {',', ';', '\t', '|'};
  options.delimiter = kDelimiters[config & 3];
  options.quote = (config & 4) != 0 ? '\'' : '"';
  options.header = (config & 8) == 0;
  if ((config & 16) != 0) options.null_string = "NULL";
  if ((config & 32) != 0) {
    options.types["t.a"] = qg::csv::ColumnKind::kInt;
    options.types["t.b"] = qg::csv::ColumnKind::kTimestamp;
  }
  auto table = qg::csv::ParseCsv(text, "t.csv", "t", options);
  if (!table.ok()) {
    Check(table.status().code() == absl::StatusCode::kInvalidArgument);
    Check(std::string(table.status().message()).find("t.csv") != std::string::npos);
    return 0;
  }
  Check(table->name == "t");
  Check(table->kinds.size() == table->columns.size());
  for (const auto& row : table->rows) {
    Check(row.size() == table->columns.size());
    for (size_t c = 0; c < row.size(); ++c) {
      const qg::Value& v = row[c];
      if (v.is_null()) continue;
      switch (table->kinds[c]) {
        case qg::csv::ColumnKind::kInt:
          Check(v.type() == qg::ValueType::kInt64);
          break;
        case qg::csv::ColumnKind::kDouble:
          Check(v.type() == qg::ValueType::kDouble);
          break;
        case qg::csv::ColumnKind::kBool:  // read as 0/1
          Check(v.type() == qg::ValueType::kInt64 && (v.as_int() == 0 || v.as_int() == 1));
          break;
        default:
          break;
      }
    }
  }
  return 0;
}
