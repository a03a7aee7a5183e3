#include "providers/postgres/postgres_provider.h"

#include <memory>
#include <string>
#include <vector>

#include "providers/postgres/pg_status.h"
#include "providers/postgres/postgres_connection.h"
#include "sql/connection_cost_estimator.h"

namespace qg {
namespace {

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
    return CompileSql(request, PlaceholderStyle::kDollar);
  }

  CostEstimator* cost_estimator() override { return &estimator_; }

 private:
  ConnectionCostEstimator<pg::PostgresConnection> estimator_{"postgres"};
};

}  // namespace

std::unique_ptr<Provider> NewPostgresProvider() { return std::make_unique<PostgresProvider>(); }

}  // namespace qg
