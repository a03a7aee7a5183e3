// Cost estimates from SQLite's own planner (docs/design.md §11).
//
// EXPLAIN QUERY PLAN tells, for each loop of the plan, whether SQLite scans a
// table ("SCAN t") or probes an index ("SEARCH t USING INDEX i (a=?)").
// Rows come from sqlite_stat1 when ANALYZE has run, else from cheap probes
// (max(rowid)) cached per connection. The constants below are estimated
// milliseconds on an idle machine with the database in the page cache;
// they were chosen from SQLite's published speed (millions of rows per
// second per core for B-tree walks), not measured here.
#include <algorithm>
#include <optional>
#include <string>
#include <vector>

#include "absl/strings/ascii.h"
#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_split.h"
#include "providers/sqlite/sqlite_connection.h"
#include "sql/sql_lexer.h"

namespace qg::sqlite {
namespace {

constexpr double kStartupMs = 0.02;         // step setup of a cached statement
constexpr double kScanRowMs = 0.0002;       // visiting one row in a full scan (~5M rows/s)
constexpr double kLookupMs = 0.002;         // one B-tree descent (index probe)
constexpr double kResultRowMs = 0.001;      // one result row turned into Values
constexpr double kSortRowMs = 0.0005;       // one row through a temp B-tree (ORDER BY/DISTINCT)
constexpr double kUnknownTableRows = 1000;  // a CTE/subquery/view whose size we cannot probe
constexpr double kRowsPerEqLookup = 10;     // SQLite's own guess for an equality without stats

struct Loop {
  bool search = false;     // SEARCH (index probe) vs SCAN
  bool automatic = false;  // transient index built for this execution
  std::string name;        // table or alias as EXPLAIN shows it
  std::string index;       // index name ("" for rowid/none)
  bool rowid = false;      // INTEGER PRIMARY KEY lookup
  int eq_terms = 0;        // `col=?` terms in the index constraint
  bool range = false;      // a `<`/`>` term in the index constraint
  int parent = 0;
};

std::optional<Loop> ParseLoop(const std::string& detail, int parent) {
  Loop loop;
  loop.parent = parent;
  std::vector<std::string> words = absl::StrSplit(detail, ' ', absl::SkipEmpty());
  if (words.size() < 2) return std::nullopt;
  if (words[0] == "SEARCH") {
    loop.search = true;
  } else if (words[0] != "SCAN") {
    return std::nullopt;
  }
  if (words[1] == "CONSTANT" || (words.size() > 2 && words[2] == "CONSTANT")) return std::nullopt;
  if (absl::ascii_isdigit(static_cast<unsigned char>(words[1][0]))) return std::nullopt;
  loop.name = words[1];
  for (size_t i = 2; i < words.size(); ++i) {
    if (words[i] == "AUTOMATIC") loop.automatic = true;
    if (words[i] == "INDEX" && i + 1 < words.size() && words[i + 1][0] != '(') {
      loop.index = words[i + 1];
    }
    if (words[i] == "INTEGER" && i + 2 < words.size() && words[i + 1] == "PRIMARY") {
      loop.rowid = true;
    }
  }
  size_t open = detail.find('(');
  if (loop.search && open != std::string::npos) {
    std::string cons = detail.substr(open);
    for (size_t p = 0; (p = cons.find("=?", p)) != std::string::npos; ++p) ++loop.eq_terms;
    loop.range = cons.find('>') != std::string::npos || cons.find('<') != std::string::npos;
  }
  return loop;
}

}  // namespace

absl::StatusOr<std::optional<std::string>> SqliteConnection::QueryText(
    const std::string& sql, const std::vector<std::string>& binds) {
  sqlite3_stmt* s = nullptr;
  int rc = sqlite3_prepare_v2(db_, sql.c_str(), -1, &s, nullptr);
  if (rc != SQLITE_OK) {
    sqlite3_finalize(s);
    return Error(rc, "cost estimate", sql);
  }
  for (size_t i = 0; i < binds.size(); ++i) {
    sqlite3_bind_text(s, static_cast<int>(i + 1), binds[i].c_str(), -1, SQLITE_TRANSIENT);
  }
  std::optional<std::string> out;
  rc = sqlite3_step(s);
  if (rc == SQLITE_ROW && sqlite3_column_type(s, 0) != SQLITE_NULL) {
    out = reinterpret_cast<const char*>(sqlite3_column_text(s, 0));
  }
  sqlite3_finalize(s);
  if (rc != SQLITE_ROW && rc != SQLITE_DONE) return Error(rc, "cost estimate", sql);
  return out;
}

bool SqliteConnection::IsTable(const std::string& name) {
  auto r = QueryText("SELECT 1 FROM sqlite_schema WHERE type = 'table' AND name = ?1", {name});
  return r.ok() && r->has_value();
}

double SqliteConnection::TableRows(const std::string& table) {
  if (auto it = table_rows_.find(table); it != table_rows_.end()) return it->second;
  double rows = kUnknownTableRows;
  bool known = false;
  if (IsTable("sqlite_stat1")) {
    auto stat = QueryText("SELECT stat FROM sqlite_stat1 WHERE tbl = ?1 LIMIT 1", {table});
    double n = 0;
    if (stat.ok() && stat->has_value()) {
      std::vector<std::string> parts = absl::StrSplit(**stat, ' ', absl::SkipEmpty());
      known = !parts.empty() && absl::SimpleAtod(parts[0], &n);
    }
    if (known) {
      rows = n;
    }
  }
  if (!known && IsTable(table)) {
    std::string quoted = "\"";
    for (char c : table) quoted += c == '"' ? std::string("\"\"") : std::string(1, c);
    quoted += '"';
    auto max_rowid = QueryText("SELECT max(rowid) FROM " + quoted, {});
    double n = 0;
    if (max_rowid.ok()) {
      rows = max_rowid->has_value() && absl::SimpleAtod(**max_rowid, &n) ? n : 0;
    } else {  // WITHOUT ROWID: count, but never more than a bounded prefix
      auto count =
          QueryText("SELECT count(*) FROM (SELECT 1 FROM " + quoted + " LIMIT 100000)", {});
      if (count.ok() && count->has_value() && absl::SimpleAtod(**count, &n)) rows = n;
    }
  }
  table_rows_[table] = rows;
  return rows;
}

// EXPLAIN names a loop by its alias when the query gives one; find the table
// behind `alias` in the query text (`table [AS] alias`).
std::string SqliteConnection::ResolveTable(const std::string& name, std::string_view sql_text) {
  if (IsTable(name)) return name;
  auto tokens = sql::Lex(sql_text);
  if (!tokens.ok()) return name;
  std::vector<std::string> words;
  for (const sql::Token& t : *tokens) {
    if (!sql::IsSignificant(t)) continue;
    std::string w(sql_text.substr(t.begin, t.end - t.begin));
    if (t.kind == sql::TokenKind::kQuotedIdent && w.size() >= 2) w = w.substr(1, w.size() - 2);
    words.push_back(w);
  }
  for (size_t i = 1; i < words.size(); ++i) {
    if (words[i] != name) continue;
    size_t t = i - 1;
    if (sql::EqualsNoCase(words[t], "AS") && t > 0) --t;
    if (IsTable(words[t])) return words[t];
  }
  return name;
}

double SqliteConnection::RowsPerLookup(const std::string& table, const std::string& index,
                                       int eq_terms, bool* used_stats) {
  if (!index.empty() && eq_terms > 0 && IsTable("sqlite_stat1")) {
    auto stat =
        QueryText("SELECT stat FROM sqlite_stat1 WHERE tbl = ?1 AND idx = ?2", {table, index});
    if (stat.ok() && stat->has_value()) {
      std::vector<std::string> parts = absl::StrSplit(**stat, ' ', absl::SkipEmpty());
      double n = 0;
      size_t k = std::min<size_t>(eq_terms, parts.size() - 1);
      if (k >= 1 && absl::SimpleAtod(parts[k], &n)) {
        *used_stats = true;
        return n;
      }
    }
  }
  if (!index.empty()) {
    auto unique =
        QueryText("SELECT \"unique\" FROM pragma_index_list(?1) WHERE name = ?2", {table, index});
    auto columns = QueryText("SELECT count(*) FROM pragma_index_info(?1)", {index});
    if (unique.ok() && unique->has_value() && **unique == "1" && columns.ok() &&
        columns->has_value() && std::to_string(eq_terms) == **columns) {
      return 1;
    }
  }
  return std::min(kRowsPerEqLookup, std::max(1.0, TableRows(table)));
}

absl::StatusOr<CostEstimate> SqliteConnection::EstimateCost(const Statement& stmt,
                                                            const std::vector<BoundArg>& args) {
  if (broken()) {
    return absl::UnavailableError(
        absl::StrCat("sqlite source '", source_, "': connection is broken"));
  }
  const std::string sql = "EXPLAIN QUERY PLAN " + stmt.text;
  // EXPLAIN compiles the statement, and some statements act while compiled
  // (a PRAGMA that sets a flag): the node's access applies. The estimator's
  // own queries below only read.
  AccessScope scope(this, Access::kRead);
  sqlite3_stmt* s = nullptr;
  denied_.clear();
  in_prepare_ = true;
  int rc;
  {
    AccessScope node(this, stmt.is_write ? Access::kWrite : Access::kRead);
    rc = sqlite3_prepare_v2(db_, sql.c_str(), static_cast<int>(sql.size()), &s, nullptr);
  }
  in_prepare_ = false;
  if (rc != SQLITE_OK) {
    sqlite3_finalize(s);
    return Error(rc, "cost estimate", stmt.text);
  }
  for (size_t i = 0; i < args.size() && i < static_cast<size_t>(sqlite3_bind_parameter_count(s));
       ++i) {
    if (!args[i].is_array) (void)Bind(s, static_cast<int>(i + 1), args[i].value);
  }
  std::vector<Loop> loops;
  bool sort = false;
  while ((rc = sqlite3_step(s)) == SQLITE_ROW) {
    const int parent = sqlite3_column_int(s, 1);
    const unsigned char* d = sqlite3_column_text(s, 3);
    std::string detail = d != nullptr ? reinterpret_cast<const char*>(d) : "";
    if (detail.rfind("USE TEMP B-TREE", 0) == 0) sort = true;
    if (auto loop = ParseLoop(detail, parent)) loops.push_back(*loop);
  }
  sqlite3_finalize(s);
  if (rc != SQLITE_DONE) return Error(rc, "cost estimate", stmt.text);

  CostEstimate est;
  est.origin = "sqlite planner";
  bool any_search = false, any_scan = false, used_stats = false;
  double outer = 1, scanned = 0, lookups = 0;
  bool first_top = true;
  for (const Loop& loop : loops) {
    const std::string table = ResolveTable(loop.name, stmt.text);
    const double table_rows = TableRows(table);
    double rows;
    if (!loop.search) {
      any_scan = true;
      rows = table_rows;
      scanned += (loop.parent == 0 ? outer : 1) * table_rows;
    } else {
      if (loop.automatic) {
        any_scan = true;
        scanned += table_rows;  // the transient index reads the whole table
      } else {
        any_search = true;
      }
      if (loop.rowid && !loop.range) {
        rows = 1;
      } else if (loop.eq_terms > 0) {
        rows = RowsPerLookup(table, loop.index, loop.eq_terms, &used_stats);
      } else {
        rows = std::max(1.0, table_rows / 4);  // a range: SQLite's own 1/4 guess
      }
      double probes = loop.parent == 0 ? outer : 1;
      if (loop.parent == 0 && first_top && stmt.batch_items > 0) probes *= stmt.batch_items;
      lookups += probes;
      if (loop.parent == 0 && first_top && stmt.batch_items > 0) rows *= stmt.batch_items;
    }
    if (loop.parent == 0) {
      outer *= rows;
      first_top = false;
    }
  }
  est.rows = loops.empty() ? 1 : outer;
  est.uses_index = any_search && !any_scan;
  est.startup_cost =
      kStartupMs + scanned * kScanRowMs + lookups * kLookupMs + (sort ? est.rows * kSortRowMs : 0);
  est.per_row_cost = kResultRowMs;
  if (used_stats) est.origin = "sqlite planner (sqlite_stat1)";
  return est;
}

}  // namespace qg::sqlite
