// Cost estimates from the server's own planner (docs/design.md §11): EXPLAIN
// FORMAT=JSON of the statement, with the representative arguments bound.
//
// MariaDB's format: {"query_block": {"table": {"table_name", "access_type",
// "key", "rows", "filtered"}}} or, for joins, "nested_loop": [{"table": ...},
// ...] (also inside filesort/temporary_table wrappers and subqueries). MySQL
// 8 says "rows_examined_per_scan" and "rows_produced_per_join" instead. Every
// "table" object is collected, in order, and read as a nested loop.
//
// The constants are estimated milliseconds on an idle loopback server with
// the data in the buffer pool; chosen from InnoDB's published speeds (a
// B-tree probe in microseconds, millions of rows scanned per second), not
// measured here.
#include <string>
#include <string_view>
#include <vector>

#include "absl/strings/str_cat.h"
#include "common/status_macros.h"
#include "providers/mysql/mysql_connection.h"
#include "simdjson.h"

namespace qg::mysql {
namespace {

constexpr double kStartupMs = 0.12;     // one round trip of a prepared statement
constexpr double kScanRowMs = 0.0004;   // one row visited by a scan
constexpr double kProbeRowMs = 0.004;   // one row reached through an index
constexpr double kResultRowMs = 0.002;  // one result row sent and turned into Values

struct TableAccess {
  std::string access_type;
  double rows = -1;       // rows examined per scan/lookup
  double filtered = 100;  // percent kept by the attached condition
  double produced = -1;   // MySQL: rows_produced_per_join
};

double Number(simdjson::dom::element e) {
  double d = 0;
  if (e.get(d) == simdjson::SUCCESS) return d;
  int64_t i = 0;
  if (e.get(i) == simdjson::SUCCESS) return static_cast<double>(i);
  uint64_t u = 0;
  if (e.get(u) == simdjson::SUCCESS) return static_cast<double>(u);
  std::string_view s;  // MySQL 8 writes some figures as strings
  if (e.get(s) == simdjson::SUCCESS) {
    try {
      return std::stod(std::string(s));
    } catch (...) {
      return -1;
    }
  }
  return -1;
}

void Walk(simdjson::dom::element e, std::vector<TableAccess>* tables, std::string* message) {
  simdjson::dom::object obj;
  simdjson::dom::array arr;
  if (e.get(arr) == simdjson::SUCCESS) {
    for (simdjson::dom::element child : arr) Walk(child, tables, message);
    return;
  }
  if (e.get(obj) != simdjson::SUCCESS) return;
  for (auto field : obj) {
    std::string_view key = field.key;
    simdjson::dom::object t;
    if (key == "table" && field.value.get(t) == simdjson::SUCCESS) {
      TableAccess a;
      std::string_view access;
      if (t["access_type"].get(access) == simdjson::SUCCESS) a.access_type = std::string(access);
      simdjson::dom::element v;
      if (t["rows"].get(v) == simdjson::SUCCESS) a.rows = Number(v);
      if (a.rows < 0 && t["rows_examined_per_scan"].get(v) == simdjson::SUCCESS) {
        a.rows = Number(v);
      }
      if (t["filtered"].get(v) == simdjson::SUCCESS) {
        double f = Number(v);
        if (f >= 0) a.filtered = f;
      }
      if (t["rows_produced_per_join"].get(v) == simdjson::SUCCESS) a.produced = Number(v);
      if (!a.access_type.empty()) tables->push_back(a);
    } else if (key == "message" && message->empty()) {
      std::string_view m;
      if (field.value.get(m) == simdjson::SUCCESS) *message = std::string(m);
    }
    Walk(field.value, tables, message);
  }
}

bool IsIndexAccess(const std::string& a) {
  return a == "ref" || a == "eq_ref" || a == "range" || a == "const" || a == "system" ||
         a == "ref_or_null" || a == "index_merge" || a == "unique_subquery" ||
         a == "index_subquery" || a == "fulltext";
}

class Collect final : public RowSink {
 public:
  std::string first;
  bool have = false;
  absl::Status OnColumns(const std::vector<ColumnInfo>&) override { return absl::OkStatus(); }
  absl::Status OnRow(std::vector<Value>& row) override {
    if (!have && !row.empty() && row[0].is_text()) {
      first = row[0].as_text();
      have = true;
    }
    return absl::OkStatus();
  }
};

}  // namespace

absl::StatusOr<CostEstimate> MysqlConnection::EstimateCost(const Statement& stmt,
                                                           const std::vector<BoundArg>& args) {
  Statement explain;
  explain.text = "EXPLAIN FORMAT=JSON " + stmt.text;
  explain.args = stmt.args;
  std::vector<BoundArg> bound(stmt.args.size());
  for (size_t i = 0; i < bound.size() && i < args.size(); ++i) {
    if (!args[i].is_array) bound[i].value = args[i].value;
  }
  Collect rows;
  QG_RETURN_IF_ERROR(Execute(explain, bound, &rows, nullptr));
  if (!rows.have) {
    return absl::InternalError(
        absl::StrCat("mysql source '", endpoint_.source, "': EXPLAIN returned no plan"));
  }
  simdjson::dom::parser parser;
  simdjson::dom::element doc;
  if (parser.parse(rows.first).get(doc) != simdjson::SUCCESS) {
    return absl::InternalError(
        absl::StrCat("mysql source '", endpoint_.source, "': unreadable EXPLAIN output"));
  }
  std::vector<TableAccess> tables;
  std::string message;
  Walk(doc, &tables, &message);

  CostEstimate est;
  est.origin = "mysql EXPLAIN";
  if (tables.empty()) {
    // "No tables used" (a constant query) or a plan decided without tables
    // ("Impossible WHERE" with null representative arguments): unknown.
    est.rows = message.find("No tables") != std::string::npos ? 1 : -1;
    est.startup_cost = kStartupMs;
    est.per_row_cost = kResultRowMs;
    return est;
  }
  double outer = 1, cost = kStartupMs;
  bool all_index = true;
  for (const TableAccess& t : tables) {
    const double rows = t.rows < 0 ? 1000 : t.rows;
    const bool index = IsIndexAccess(t.access_type);
    all_index = all_index && index;
    cost += outer * rows * (index ? kProbeRowMs : kScanRowMs);
    outer = t.produced >= 0 ? t.produced : outer * rows * t.filtered / 100.0;
  }
  est.rows = outer;
  est.uses_index = all_index;
  est.startup_cost = cost;
  est.per_row_cost = kResultRowMs;
  return est;
}

}  // namespace qg::mysql
