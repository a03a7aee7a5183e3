#include "providers/postgres/postgres_provider.h"

#include <cctype>
#include <memory>
#include <string>
#include <utility>
#include <vector>

#include "providers/postgres/pg_status.h"
#include "providers/postgres/postgres_connection.h"

namespace qg {
namespace {

// The statement's first word (upper case) and the one after it, past blanks,
// '(' and comments (block comments nest in PostgreSQL).
std::pair<std::string, std::string> FirstWords(std::string_view sql) {
  size_t i = 0;
  auto skip = [&] {
    while (i < sql.size()) {
      if (std::isspace(static_cast<unsigned char>(sql[i])) || sql[i] == '(') {
        ++i;
      } else if (sql.substr(i, 2) == "--") {
        size_t end = sql.find('\n', i);
        i = end == std::string_view::npos ? sql.size() : end + 1;
      } else if (sql.substr(i, 2) == "/*") {
        int depth = 0;
        while (i < sql.size()) {
          if (sql.substr(i, 2) == "/*") {
            ++depth;
            i += 2;
          } else if (sql.substr(i, 2) == "*/") {
            i += 2;
            if (--depth == 0) break;
          } else {
            ++i;
          }
        }
      } else {
        return;
      }
    }
  };
  auto word = [&] {
    std::string w;
    while (i < sql.size() && std::isalpha(static_cast<unsigned char>(sql[i]))) {
      w += static_cast<char>(std::toupper(static_cast<unsigned char>(sql[i++])));
    }
    return w;
  };
  skip();
  std::string first = word();
  skip();
  return {first, word()};
}

// A node's statement may not begin, end or split the transaction the engine
// runs it in (PostgreSQL runs COMMIT through the extended protocol too: in a
// common transaction it would commit the graph's earlier writes).
absl::Status CheckNoTransactionControl(std::string_view sql) {
  auto [first, second] = FirstWords(sql);
  if (first == "BEGIN" || first == "START" || first == "COMMIT" || first == "END" ||
      first == "ROLLBACK" || first == "ABORT" || first == "SAVEPOINT" || first == "RELEASE" ||
      (first == "PREPARE" && second == "TRANSACTION")) {
    return absl::InvalidArgumentError(
        Cat("postgres: a node's statement may not control the transaction (", first,
            "): the engine begins, commits and rolls back transactions"));
  }
  return absl::OkStatus();
}

class PostgresProvider final : public Provider {
 public:
  std::string_view name() const override { return "postgres"; }

  Capabilities capabilities() const override {
    Capabilities c;
    c.placeholder_style = PlaceholderStyle::kDollar;
    c.max_placeholders = 65535;  // the protocol's Int16 parameter count
    c.batch_in_list = true;
    c.batch_any_array = true;
    c.max_batch_items = 0;
    c.large_batches = true;  // a bitmap scan of the whole key set (bench_postgres)
    c.writes = true;
    c.transactions = true;
    c.savepoints = true;
    c.two_phase = true;
    c.cancel = true;
    c.cost_estimates = true;
    c.pushdown_filters = true;
    c.pushdown_projection = true;
    c.pushdown_limit = true;
    c.pushdown_join = false;
    return c;
  }

  std::vector<std::string> option_keys() const override {
    return {"sslmode", "application_name", "search_path"};
  }

  absl::StatusOr<std::unique_ptr<Connection>> Connect(const ConnectRequest& request) override {
    QG_ASSIGN_OR_RETURN(std::unique_ptr<pg::PostgresConnection> c,
                        pg::PostgresConnection::Open(request));
    return std::unique_ptr<Connection>(std::move(c));
  }

  absl::StatusOr<Statement> Compile(const CompileRequest& request) const override {
    QG_RETURN_IF_ERROR(CheckNoTransactionControl(request.query_string));
    return CompileSql(request, PlaceholderStyle::kDollar);
  }

 private:
};

}  // namespace

std::unique_ptr<Provider> NewPostgresProvider() { return std::make_unique<PostgresProvider>(); }

}  // namespace qg
