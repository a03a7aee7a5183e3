#include "seed_data.h"

#include <algorithm>
#include <cstdio>

#include "absl/strings/str_cat.h"

namespace qg::testing {

std::vector<std::vector<Value>> SeedUserRows() {
  static const char* const kCities[] = {"Paris", "Berlin", "Lyon", "Tokyo", "Oslo"};
  std::vector<std::vector<Value>> rows;
  rows.reserve(kSeedUsers);
  for (int g = 1; g <= kSeedUsers; ++g) {
    std::string name = "user " + std::to_string(g);
    if (g % 97 == 0) name += " Zoë's 🚀";
    rows.push_back({Value::Int(g), Value::String(std::move(name)), Value::String(kCities[g % 5])});
  }
  return rows;
}

std::vector<std::vector<Value>> SeedOrderRows() {
  std::vector<std::vector<Value>> rows;
  rows.reserve(kSeedOrders);
  for (int o = 1; o <= kSeedOrders; ++o) {
    // round((o % 1000) / 7 + 1, 2), exactly (half up).
    const int hundredths = (o % 1000) * 100;
    const int cents = 100 + hundredths / 7 + (2 * (hundredths % 7) >= 7 ? 1 : 0);
    char amount[32];
    std::snprintf(amount, sizeof amount, "%d.%02d", cents / 100, cents % 100);
    rows.push_back({Value::Int(o), Value::Int(1 + (static_cast<int64_t>(o) * 7919) % 2500),
                    Value::Decimal(amount)});
  }
  return rows;
}

void InsertRows(const ExecFn& exec, const std::string& table,
                const std::vector<std::string>& columns,
                const std::vector<std::vector<Value>>& rows, size_t per_statement) {
  std::string head = "INSERT INTO " + table + " (";
  for (size_t c = 0; c < columns.size(); ++c) head += (c ? ", " : "") + columns[c];
  head += ") VALUES ";
  for (size_t begin = 0; begin < rows.size(); begin += per_statement) {
    const size_t end = std::min(rows.size(), begin + per_statement);
    std::string sql = head;
    ParamList params;
    for (size_t r = begin; r < end; ++r) {
      sql += r == begin ? "(" : ", (";
      for (size_t c = 0; c < columns.size(); ++c) {
        std::string name = absl::StrCat("p", r - begin, "_", c);
        sql += c ? ", :" : ":";
        sql += name;
        params.emplace_back(std::move(name), rows[r][c]);
      }
      sql += ")";
    }
    exec(sql, params);
  }
}

}  // namespace qg::testing
