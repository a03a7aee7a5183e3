// qg/catalog_statement.h — the Firebird RFC's catalog statements (§1–3).
//
// A statement text is parsed by our own small lexer and parser into one of
// the structs below; errors are kInvalidArgument and start with the
// line:column of the offending token ("1:27: expected PROVIDER, found
// 'PROVDER'"). The forms (keywords are case-insensitive):
//
//   CREATE | ALTER EXTERNAL DATA SOURCE <id> PROVIDER <id> CONNECT '<str>'
//     [AS USER '<str>' [<password>] | AS CURRENT_USER] [OPTIONS '<k=v;k=v>']
//   DROP EXTERNAL DATA SOURCE <id>
//   CREATE | ALTER EXTERNAL USER ON <id> AS '<user>' [<password>] | AS CURRENT_USER
//     FOR <id> | CURRENT_USER | ALL
//   DROP EXTERNAL USER ON <id> FOR <id> | CURRENT_USER | ALL
//   EXECUTE STATEMENT '<sql>' [(<name> := <value>, …)]
//     ON EXTERNAL [DATA SOURCE] <id>
//     [WITHIN AUTONOMOUS | COMMON [2PC] TRANSACTION]
//
//   <password> := PASSWORD '<literal>' | PASSWORD ENV '<name>' | PASSWORD FILE '<path>'
//
// Lexical rules:
//  - Identifiers follow SQL: an unquoted identifier ([A-Za-z_][A-Za-z0-9_$]*)
//    folds to lower case (db_Users → db_users); a "quoted" identifier keeps
//    its case exactly ("" is a literal "). Catalog names are then compared
//    exactly, so a source declared in JSON as "Orders" is reached from a
//    statement as "Orders" (quoted). The user name after AS USER / AS is a
//    string literal and kept as written. The reserved words CURRENT_USER and
//    ALL are not valid quoted local user names (they would read back from a
//    JSON catalog as the keywords).
//  - Parameter names in EXECUTE STATEMENT's list are not folded: they name
//    the :placeholders of the SQL text, which is passed through verbatim.
//  - String literals are '…' with '' for a quote. Values in the parameter
//    list: strings (kString), integers (kInt64; beyond int64 kDecimal),
//    numbers with a fraction or exponent (kDecimal, exact text), NULL, TRUE,
//    FALSE; a leading '-' negates a number.
//  - Comments: -- to end of line, /* … */.
//  - ALTER gives the whole new definition (as CREATE does); it does not merge.
//  - OPTIONS 'k=v;…' goes through ApplySourceOptions (qg/catalog.h): engine
//    keys (pool_max, connect_timeout=5s, idle_timeout=250ms, …) are checked
//    here; other keys go to SourceConfig::provider_options and are checked
//    against the provider's option keys when the source reaches an engine.
//
// Secrets: no error ever quotes a string literal (one may be a password), nor
// the token found after PASSWORD. Summary() prints no password either.
//
// Thread-safety: free functions over values; safe from any thread.
//
//   auto stmts = qg::ParseStatements("DROP EXTERNAL DATA SOURCE a; DROP EXTERNAL DATA SOURCE b");
//   if (!stmts.ok()) return stmts.status();
//   for (const auto& s : *stmts) QG_RETURN_IF_ERROR(qg::ApplyStatement(s.statement, &catalog));
#ifndef QG_CATALOG_STATEMENT_H_
#define QG_CATALOG_STATEMENT_H_

#include <string>
#include <string_view>
#include <variant>
#include <vector>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "qg/catalog.h"
#include "qg/export.h"
#include "qg/graph.h"
#include "qg/value.h"

namespace qg {

// CREATE | ALTER EXTERNAL DATA SOURCE.
struct CreateSourceStatement {
  SourceConfig source;
  bool alter = false;
};

// DROP EXTERNAL DATA SOURCE.
struct DropSourceStatement {
  std::string name;
};

// CREATE | ALTER EXTERNAL USER.
struct SetMappingStatement {
  UserMapping mapping;
  bool alter = false;
};

// DROP EXTERNAL USER.
struct DropMappingStatement {
  std::string source;
  UserMapping::Scope scope = UserMapping::Scope::kAll;
  std::string local_user;  // for kUser
};

// EXECUTE STATEMENT '…' ON EXTERNAL DATA SOURCE: run by the engine as a
// one-node graph (Engine::ExecuteStatement), not by ApplyStatement.
struct PassThroughStatement {
  std::string sql;
  ParamList params;
  std::string source;
  TransactionMode transaction = TransactionMode::kAutonomous;
};

using CatalogStatement =
    std::variant<CreateSourceStatement, DropSourceStatement, SetMappingStatement,
                 DropMappingStatement, PassThroughStatement>;

// One statement and where it starts in the text (1-based).
struct ParsedStatement {
  CatalogStatement statement;
  int line = 1;
  int column = 1;
};

// Parses exactly one statement (an optional trailing ';').
QG_EXPORT absl::StatusOr<CatalogStatement> ParseStatement(std::string_view text);

// Parses statements separated by ';'. Empty statements (";;", a text of
// only comments) are skipped.
QG_EXPORT absl::StatusOr<std::vector<ParsedStatement>> ParseStatements(std::string_view text);

// True for the forms ApplyStatement handles (all but EXECUTE STATEMENT).
QG_EXPORT bool IsCatalogChange(const CatalogStatement& statement);

// Applies a DDL statement to `catalog`:
//  CREATE of an existing source or mapping: kAlreadyExists;
//  ALTER / DROP of a missing one: kNotFound naming it;
//  a mapping ON a missing source: kNotFound naming the source;
//  EXECUTE STATEMENT: kInvalidArgument (the engine runs it).
// On error the catalog is unchanged.
QG_EXPORT absl::Status ApplyStatement(const CatalogStatement& statement, Catalog* catalog);

// A one-line description safe for logs and CLI output, never a password:
// "CREATE EXTERNAL DATA SOURCE db_users", "DROP EXTERNAL USER ON db FOR ALL",
// "EXECUTE STATEMENT ON EXTERNAL DATA SOURCE db".
QG_EXPORT std::string Summary(const CatalogStatement& statement);

}  // namespace qg

#endif  // QG_CATALOG_STATEMENT_H_
