// Out-of-line defaults of qg/provider.h and the SQL compile helper.
#include "qg/provider.h"

#include <algorithm>
#include <string>
#include <utility>

#include "absl/container/flat_hash_set.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "sql/aggregate_batch.h"
#include "sql/sql_lexer.h"

namespace qg {
namespace {

absl::Status NoTransactions(std::string_view what) {
  return absl::UnimplementedError(absl::StrCat("this source does not support ", sql::Av(what)));
}
constexpr std::string_view kTwoPhase = "two-phase commit";

}  // namespace

absl::Status Connection::Begin(const TxOptions&) { return NoTransactions("transactions"); }
absl::Status Connection::Commit() { return NoTransactions("transactions"); }
absl::Status Connection::Rollback() { return NoTransactions("transactions"); }
absl::Status Connection::Savepoint(std::string_view) { return NoTransactions("savepoints"); }
absl::Status Connection::RollbackToSavepoint(std::string_view) {
  return NoTransactions("savepoints");
}
absl::Status Connection::ReleaseSavepoint(std::string_view) { return NoTransactions("savepoints"); }
absl::Status Connection::PrepareTransaction(std::string_view) { return NoTransactions(kTwoPhase); }
absl::Status Connection::CommitPrepared(std::string_view) { return NoTransactions(kTwoPhase); }
absl::Status Connection::RollbackPrepared(std::string_view) { return NoTransactions(kTwoPhase); }
absl::StatusOr<CostEstimate> Connection::EstimateCost(const Statement&,
                                                     const std::vector<BoundArg>&) {
  return absl::UnimplementedError("this connection does not estimate costs");
}
absl::StatusOr<std::vector<std::string>> Connection::ListPrepared(std::string_view) {
  return NoTransactions(kTwoPhase);
}

absl::StatusOr<std::vector<std::string>> Provider::Placeholders(
    std::string_view query_string) const {
  auto parsed = ParseSql(query_string);
  if (!parsed.ok()) return parsed.status();
  return parsed->Names();
}

namespace {

// A native placeholder written by hand would shift every argument after it.
absl::Status CheckNoNativePlaceholders(std::string_view text, PlaceholderStyle style) {
  auto tokens = sql::Lex(text);
  if (!tokens.ok()) return tokens.status();
  for (const sql::Token& t : *tokens) {
    std::string_view s = text.substr(t.begin, t.end - t.begin);
    bool native = (style == PlaceholderStyle::kDollar && t.kind == sql::TokenKind::kPositional) ||
                  (style == PlaceholderStyle::kQuestion && t.kind == sql::TokenKind::kOperator &&
                   s.find('?') != std::string_view::npos);
    if (native) {
      return absl::InvalidArgumentError(absl::StrCat(
          "native placeholder '", sql::Av(s), "' at byte ", t.begin, "; use :name placeholders"));
    }
  }
  return absl::OkStatus();
}

}  // namespace

absl::StatusOr<Statement> CompileSql(const CompileRequest& request, PlaceholderStyle style) {
  auto parsed = ParseSql(request.query_string);
  if (!parsed.ok()) return parsed.status();
  if (auto st = CheckNoNativePlaceholders(request.query_string, style); !st.ok()) return st;
  const auto& declared = request.input_parameters;
  const absl::flat_hash_set<std::string_view> declared_set(declared.begin(), declared.end());
  auto is_declared = [&](const std::string& name) { return declared_set.contains(name); };
  for (const Placeholder& p : parsed->placeholders) {
    if (!is_declared(p.name)) {
      return absl::InvalidArgumentError(
          absl::StrCat("placeholder :", p.name, " at byte ", p.begin,
                       " is not a declared input parameter (declared: ",
                       declared.empty() ? "none" : absl::StrJoin(declared, ", "), ")"));
    }
  }
  Statement stmt;
  stmt.is_write = request.mode == NodeMode::kWrite;
  if (request.key_params.empty()) {
    NativeSql native = RewritePlaceholders(*parsed, style);
    stmt.text = std::move(native.text);
    for (std::string& name : native.arg_names) {
      stmt.args.push_back(BatchArg{BatchArg::Kind::kParam, std::move(name), 0});
    }
    return stmt;
  }
  for (const std::string& key : request.key_params) {
    if (!is_declared(key)) {
      return absl::InvalidArgumentError(
          absl::StrCat("key parameter :", key, " is not a declared input parameter"));
    }
  }
  if (request.batch_items == 0) {
    return absl::InvalidArgumentError("batched compile needs batch_items > 0");
  }
  if (stmt.is_write && request.form != BatchForm::kInList) {
    return absl::FailedPreconditionError("cannot batch this write: rows go in as VALUES tuples");
  }
  auto batched =
      stmt.is_write
          ? RewriteInsertBatched(*parsed, request.key_params, request.batch_items, style)
          : RewriteBatched(*parsed, request.key_params, request.batch_items, style, request.form);
  if (!batched.ok() && !stmt.is_write && request.form != BatchForm::kFetchAll &&
      batched.status().code() == absl::StatusCode::kFailedPrecondition) {
    // A dependent aggregate: one statement grouped by the keys (a lookup
    // form: fetching the whole relation once is for plain lookups).
    auto agg = sql::RewriteAggregateBatched(*parsed, request.key_params, request.batch_items, style,
                                            request.form);
    if (agg.ok()) {
      batched = std::move(agg->batched);
      stmt.key_grouped = true;
      stmt.empty_row = std::move(agg->empty_row);
    } else if (agg.status().message().find("not an aggregate query") == std::string_view::npos) {
      return absl::FailedPreconditionError(
          absl::StrCat(batched.status().message(), "; ", agg.status().message()));
    }
  }
  if (!batched.ok()) return batched.status();
  stmt.text = std::move(batched->text);
  stmt.args = std::move(batched->args);
  stmt.key_columns = batched->key_columns;
  stmt.key_position = batched->key_position;
  stmt.batch_items = request.batch_items;
  return stmt;
}

}  // namespace qg
