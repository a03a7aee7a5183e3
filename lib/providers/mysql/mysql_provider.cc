// The built-in mysql provider (mysql_provider.h).
#include "providers/mysql/mysql_provider.h"

#include <memory>
#include <string>
#include <utility>
#include <vector>

#include "absl/strings/str_cat.h"
#include "common/status_macros.h"
#include "providers/mysql/mysql_connection.h"

namespace qg {
namespace {

// The protocol's 16-bit parameter count.
constexpr size_t kMaxPlaceholders = 65535;

class MysqlProvider final : public Provider {
 public:
  std::string_view name() const override { return "mysql"; }

  Capabilities capabilities() const override {
    Capabilities c;
    c.placeholder_style = PlaceholderStyle::kQuestion;
    c.max_placeholders = kMaxPlaceholders;
    c.batch_in_list = true;
    c.batch_any_array = false;
    c.large_batches = true;
    c.writes = true;
    c.transactions = true;
    c.savepoints = true;
    // XA needs its id at Begin: TxOptions::xa_gid.
    c.two_phase = true;
    c.cancel = true;
    c.cost_estimates = true;
    c.pushdown_filters = true;
    c.pushdown_projection = true;
    c.pushdown_limit = true;
    return c;
  }

  std::vector<std::string> option_keys() const override {
    return {"ssl_mode", "charset", "read_timeout", "write_timeout"};
  }

  absl::StatusOr<std::unique_ptr<Connection>> Connect(const ConnectRequest& request) override {
    QG_ASSIGN_OR_RETURN(mysql::Endpoint endpoint, mysql::ParseEndpoint(request));
    QG_ASSIGN_OR_RETURN(std::unique_ptr<mysql::MysqlConnection> c,
                        mysql::MysqlConnection::Open(std::move(endpoint)));
    return std::unique_ptr<Connection>(std::move(c));
  }

  absl::StatusOr<Statement> Compile(const CompileRequest& request) const override {
    if (!request.key_params.empty() && request.form == BatchForm::kAnyArray) {
      return absl::FailedPreconditionError(
          "cannot batch: mysql has no array parameters (use the IN-list form)");
    }
    QG_RETURN_IF_ERROR(mysql::CheckNoTransactionControl(request.query_string));
    QG_ASSIGN_OR_RETURN(Statement stmt, CompileSql(request, PlaceholderStyle::kQuestion));
    if (stmt.args.size() > kMaxPlaceholders) {
      auto code = request.key_params.empty() ? absl::StatusCode::kInvalidArgument
                                             : absl::StatusCode::kFailedPrecondition;
      return absl::Status(code, absl::StrCat("the statement needs ", stmt.args.size(),
                                             " placeholders; mysql allows ", kMaxPlaceholders));
    }
    return stmt;
  }

 private:
};

}  // namespace

std::unique_ptr<Provider> NewMysqlProvider() { return std::make_unique<MysqlProvider>(); }

}  // namespace qg
