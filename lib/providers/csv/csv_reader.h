// Internal: reading one CSV file into a typed table for the csv provider
// (see csv_provider.h for the rules). Pure: reads the file, no SQLite.
#ifndef QG_LIB_PROVIDERS_CSV_CSV_READER_H_
#define QG_LIB_PROVIDERS_CSV_CSV_READER_H_

#include <map>
#include <string>
#include <string_view>
#include <vector>

#include "absl/status/statusor.h"
#include "qg/value.h"

namespace qg::csv {

// A column's type, declared (types option) or inferred.
enum class ColumnKind { kInt, kDouble, kText, kDecimal, kBool, kTimestamp, kJson };

struct CsvOptions {
  char delimiter = ',';
  char quote = '"';
  bool header = true;
  std::string null_string;  // an unquoted field equal to it is NULL
  // "table.column" (lower case) -> declared kind.
  std::map<std::string, ColumnKind> types;
};

// Parses the provider's options (delimiter, quote, header, encoding,
// null_string, types).
absl::StatusOr<CsvOptions> ParseCsvOptions(const std::map<std::string, std::string>& options);

struct CsvTable {
  std::string name;  // file name without .csv
  std::string path;
  std::vector<std::string> columns;
  std::vector<ColumnKind> kinds;
  std::vector<std::vector<Value>> rows;
};

// The SQLite column type that keeps a kind's values as the sqlite provider
// reads them back (e.g. "DECIMAL TEXT": text affinity, read as decimal).
std::string_view SqlType(ColumnKind kind);

// Reads and types `path` (a table named `name`). Errors (kInvalidArgument)
// name the file and line: "users.csv:7: 4 fields, expected 3".
absl::StatusOr<CsvTable> ReadCsv(const std::string& path, const std::string& name,
                                 const CsvOptions& options);
// The same on text already in memory (`path` only names it in errors).
absl::StatusOr<CsvTable> ParseCsv(std::string_view text, const std::string& path,
                                  const std::string& name, const CsvOptions& options);

}  // namespace qg::csv

#endif  // QG_LIB_PROVIDERS_CSV_CSV_READER_H_
