// The built-in SQLite provider (sqlite_provider.h).
#include "providers/sqlite/sqlite_provider.h"

#include <memory>
#include <string>
#include <utility>

#include "absl/strings/str_cat.h"
#include "providers/sqlite/sqlite_connection.h"

namespace qg {
namespace {

// SQLITE_MAX_VARIABLE_NUMBER's default since SQLite 3.32.
constexpr size_t kMaxPlaceholders = 32766;

class SqliteProvider : public Provider {
 public:
  std::string_view name() const override { return "sqlite"; }

  Capabilities capabilities() const override {
    Capabilities c;
    c.placeholder_style = PlaceholderStyle::kQuestion;
    c.max_placeholders = kMaxPlaceholders;
    c.batch_in_list = true;
    c.writes = true;
    c.transactions = true;
    c.parallel_writes = false;  // one writer per database file
    c.savepoints = true;
    c.two_phase = false;
    c.cancel = true;
    c.cost_estimates = true;
    return c;
  }

  std::vector<std::string> option_keys() const override {
    return {"busy_timeout", "journal_mode", "read_only",    "create",      "foreign_keys",
            "cache_size",   "mmap_size",    "allow_attach", "allow_pragma"};
  }

  absl::StatusOr<std::unique_ptr<Connection>> Connect(const ConnectRequest& request) override {
    auto conn = sqlite::SqliteConnection::Open(request);
    if (!conn.ok()) return conn.status();
    return std::unique_ptr<Connection>(std::move(*conn));
  }

  absl::StatusOr<Statement> Compile(const CompileRequest& request) const override {
    if (!request.key_params.empty() && request.form == BatchForm::kAnyArray) {
      return absl::FailedPreconditionError(
          "cannot batch: sqlite has no array parameters (use the IN-list form)");
    }
    auto stmt = CompileSql(request, PlaceholderStyle::kQuestion);
    if (!stmt.ok()) return stmt.status();
    if (stmt->args.size() > kMaxPlaceholders) {
      auto code = request.key_params.empty() ? absl::StatusCode::kInvalidArgument
                                             : absl::StatusCode::kFailedPrecondition;
      return absl::Status(code, absl::StrCat("the statement needs ", stmt->args.size(),
                                             " placeholders; sqlite allows ", kMaxPlaceholders));
    }
    return stmt;
  }

 private:
};

}  // namespace

std::shared_ptr<Provider> NewSqliteProvider() { return std::make_shared<SqliteProvider>(); }

}  // namespace qg
