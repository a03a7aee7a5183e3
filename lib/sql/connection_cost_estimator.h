// Internal: the CostEstimator of a SQL provider whose connections estimate
// themselves (EXPLAIN on the session): it checks that the connection is the
// provider's own type and calls its Estimate(stmt, args). Used by the
// postgres and mysql providers.
#ifndef QG_LIB_SQL_CONNECTION_COST_ESTIMATOR_H_
#define QG_LIB_SQL_CONNECTION_COST_ESTIMATOR_H_

#include <string>
#include <utility>
#include <vector>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/strings/str_cat.h"
#include "qg/cost.h"
#include "qg/provider.h"

namespace qg {

// `Conn` has: absl::StatusOr<CostEstimate> Estimate(const Statement&,
// const std::vector<BoundArg>&).
template <typename Conn>
class ConnectionCostEstimator final : public CostEstimator {
 public:
  explicit ConnectionCostEstimator(std::string provider) : provider_(std::move(provider)) {}

  absl::StatusOr<CostEstimate> Estimate(Connection& conn, const Statement& stmt,
                                        const std::vector<BoundArg>& args) override {
    auto* own = dynamic_cast<Conn*>(&conn);
    if (own == nullptr) {
      return absl::InvalidArgumentError(
          absl::StrCat(provider_, " cost estimator: not a ", provider_, " connection"));
    }
    return own->Estimate(stmt, args);
  }

 private:
  std::string provider_;
};

}  // namespace qg

#endif  // QG_LIB_SQL_CONNECTION_COST_ESTIMATOR_H_
