// A complete custom provider in C++: an in-memory key/value store the host
// fills itself, registered on one engine (there is no global registry) and
// joined with a SQLite source in one graph.
//
// The provider's query language is a single line:
//   <table>                          every row of the table
//   <table> WHERE <column> = :param  rows whose column equals the bound value
// Values are always bound (the :param placeholder), never spliced.
//
// Run from the repository root after scripts/make-example-data.sh:
//   build/bin/custom_provider [examples/data/users.sqlite] [City]
// It prints the nested result: every user of the city with its city's facts
// from the key/value store.
#include <atomic>
#include <cstdio>
#include <map>
#include <memory>
#include <sstream>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "qg/engine.h"
#include "qg/output.h"
#include "qg/provider.h"
#include "qg/result.h"
#include "qg/value.h"

namespace {

// A table: column names and rows of values.
struct KvTable {
  std::vector<std::string> columns;
  std::vector<std::vector<qg::Value>> rows;
};
using KvStore = std::map<std::string, KvTable, std::less<>>;

// The compiled form of a query, kept in Statement::data.
struct KvQuery {
  std::string table;
  int filter_column = -1;  // -1: no WHERE
};

class KvConnection : public qg::Connection {
 public:
  explicit KvConnection(std::shared_ptr<const KvStore> store) : store_(std::move(store)) {}

  absl::Status Execute(const qg::Statement& stmt, const std::vector<qg::BoundArg>& args,
                       qg::RowSink* sink, qg::ExecStats* stats) override {
    if (cancelled_.load()) return absl::CancelledError("kv: cancelled");
    const auto* query = static_cast<const KvQuery*>(stmt.data.get());
    auto it = store_->find(query->table);
    if (it == store_->end()) return absl::NotFoundError("kv: no table \"" + query->table + "\"");
    const KvTable& table = it->second;
    if (stats != nullptr) stats->round_trips += 1;
    if (sink == nullptr) return absl::OkStatus();

    std::vector<qg::ColumnInfo> columns;
    for (const std::string& name : table.columns)
      columns.push_back({name, qg::ValueType::kNull, ""});
    absl::Status s = sink->OnColumns(columns);
    if (!s.ok()) return s;
    qg::ValueKeyEqual equal;  // 1 (int) matches 1.0 and "1" as decimal, like the engine's joins
    for (const std::vector<qg::Value>& row : table.rows) {
      if (cancelled_.load()) return absl::CancelledError("kv: cancelled");
      if (query->filter_column >= 0) {
        const qg::Value& key = args.at(0).value;
        const qg::Value& cell = row[query->filter_column];
        bool match = equal(cell, key) ||
                     (key.is_text() && cell.is_text() && key.as_text() == cell.as_text());
        if (!match) continue;
      }
      std::vector<qg::Value> copy = row;
      s = sink->OnRow(copy);
      if (!s.ok()) return s;
    }
    return absl::OkStatus();
  }

  void Cancel() override { cancelled_.store(true); }
  absl::Status Ping(std::string_view) override { return absl::OkStatus(); }
  absl::Status Reset() override {
    cancelled_.store(false);
    return absl::OkStatus();
  }
  bool broken() const override { return false; }

 private:
  std::shared_ptr<const KvStore> store_;
  std::atomic<bool> cancelled_{false};
};

class KvProvider : public qg::Provider {
 public:
  explicit KvProvider(std::shared_ptr<const KvStore> store) : store_(std::move(store)) {}

  std::string_view name() const override { return "kv"; }

  qg::Capabilities capabilities() const override {
    qg::Capabilities caps;
    caps.max_placeholders = 1;  // one bound value per query; no batched form
    caps.cancel = true;
    return caps;
  }

  absl::StatusOr<std::unique_ptr<qg::Connection>> Connect(
      const qg::ConnectRequest& request) override {
    return std::unique_ptr<qg::Connection>(std::make_unique<KvConnection>(store_));
  }

  absl::StatusOr<qg::Statement> Compile(const qg::CompileRequest& request) const override {
    if (request.batch_items > 0) {
      return absl::FailedPreconditionError("kv: no batched form; one lookup per binding");
    }
    if (request.mode == qg::NodeMode::kWrite) {
      return absl::InvalidArgumentError("kv: the store is read-only");
    }
    std::istringstream in{std::string(request.query_string)};
    std::string table, where, column, eq, param;
    in >> table >> where >> column >> eq >> param;
    std::string rest;
    in >> rest;
    auto query = std::make_shared<KvQuery>();
    query->table = table;
    qg::Statement stmt;
    stmt.text = std::string(request.query_string);
    if (!where.empty()) {
      if (where != "WHERE" || eq != "=" || param.size() < 2 || param[0] != ':' || !rest.empty()) {
        return absl::InvalidArgumentError(
            "kv: expected \"<table>\" or \"<table> WHERE <column> = :param\"");
      }
      auto t = store_->find(table);
      if (t == store_->end()) return absl::NotFoundError("kv: no table \"" + table + "\"");
      for (size_t i = 0; i < t->second.columns.size(); ++i) {
        if (t->second.columns[i] == column) query->filter_column = static_cast<int>(i);
      }
      if (query->filter_column < 0) {
        return absl::InvalidArgumentError("kv: table \"" + table + "\" has no column \"" + column +
                                          "\"");
      }
      qg::BatchArg arg;
      arg.kind = qg::BatchArg::Kind::kParam;
      arg.name = param.substr(1);
      stmt.args.push_back(arg);
    }
    stmt.data = query;
    return stmt;
  }

 private:
  std::shared_ptr<const KvStore> store_;
};

// Facts about cities, held by the host.
std::shared_ptr<const KvStore> MakeStore() {
  auto store = std::make_shared<KvStore>();
  KvTable& cities = (*store)["cities"];
  cities.columns = {"name", "country", "population"};
  cities.rows = {
      {qg::Value::String("Paris"), qg::Value::String("France"), qg::Value::Int(2102650)},
      {qg::Value::String("Lyon"), qg::Value::String("France"), qg::Value::Int(522250)},
      {qg::Value::String("Berlin"), qg::Value::String("Germany"), qg::Value::Int(3755251)},
  };
  return store;
}

const char kGraph[] = R"({
  "nodes": [
    {"node_id": "user_data", "database_id": "db_users",
     "query_string": "SELECT id, name, city FROM users WHERE city = :city ORDER BY id",
     "input_parameters": ["city"], "output_fields": ["id", "name", "city"]},
    {"node_id": "city_facts", "database_id": "facts",
     "query_string": "cities WHERE name = :name",
     "input_parameters": ["name"], "output_fields": ["name", "country", "population"]}
  ],
  "edges": [
    {"source_node": "user_data", "target_node": "city_facts",
     "input_mapping": {"user_data.city": "city_facts.name"}}
  ]
})";

int Fail(const absl::Status& s) {
  std::fprintf(stderr, "custom_provider: %s\n", s.ToString().c_str());
  return 1;
}

}  // namespace

int main(int argc, char** argv) {
  std::string users_db = argc > 1 ? argv[1] : "examples/data/users.sqlite";
  std::string city = argc > 2 ? argv[2] : "Paris";

  auto engine = qg::Engine::Create();
  if (!engine.ok()) return Fail(engine.status());
  absl::Status s = (*engine)->RegisterProvider(std::make_shared<KvProvider>(MakeStore()));
  if (!s.ok()) return Fail(s);

  qg::SourceConfig users;
  users.name = "db_users";
  users.provider = "sqlite";
  users.connect = users_db;
  if (s = (*engine)->AddSource(users); !s.ok()) return Fail(s);
  qg::SourceConfig facts;
  facts.name = "facts";
  facts.provider = "kv";
  if (s = (*engine)->AddSource(facts); !s.ok()) return Fail(s);

  qg::ExecuteOptions opts;
  opts.params = {{"city", qg::Value::String(city)}};
  auto result = (*engine)->ExecuteJson(kGraph, opts);
  if (!result.ok()) return Fail(result.status());

  qg::OutputOptions out;
  out.shape = qg::Shape::kNested;
  out.pretty = true;
  s = qg::WriteResult(*result, out, [](std::string_view chunk) {
    std::fwrite(chunk.data(), 1, chunk.size(), stdout);
    return absl::OkStatus();
  });
  std::fputc('\n', stdout);
  if (!s.ok()) return Fail(s);
  return 0;
}
