// The deterministic data of the seed graph's tables, shared by the
// PostgreSQL and MariaDB engine tests so both servers hold the very same
// rows: users (2000: id, name, city; every 97th name has a quote and
// non-ASCII text) and orders (20000: order_id, user_id, amount as an exact
// decimal; user ids reach past the users, so some orders have no user).
// Rows go in with multi-row INSERTs of bound parameters, never literals.
#ifndef QG_TESTS_INTEGRATION_SEED_DATA_H_
#define QG_TESTS_INTEGRATION_SEED_DATA_H_

#include <functional>
#include <string>
#include <vector>

#include "qg/value.h"

namespace qg::testing {

inline constexpr int kSeedUsers = 2000;
inline constexpr int kSeedOrders = 20000;

// (id, name, city) for id 1..kSeedUsers.
std::vector<std::vector<Value>> SeedUserRows();
// (order_id, user_id, amount) for order_id 1..kSeedOrders.
std::vector<std::vector<Value>> SeedOrderRows();

// Runs one statement with :name placeholders and bound values (REQUIREs
// success), e.g. [&](auto& sql, auto& params) { PgExec(*conn, sql, params); }.
using ExecFn = std::function<void(const std::string& sql, const ParamList& params)>;

// Inserts `rows` into `table` (columns `columns`), `per_statement` rows per
// INSERT, every value a bound parameter.
void InsertRows(const ExecFn& exec, const std::string& table,
                const std::vector<std::string>& columns,
                const std::vector<std::vector<Value>>& rows, size_t per_statement = 500);

}  // namespace qg::testing

#endif  // QG_TESTS_INTEGRATION_SEED_DATA_H_
