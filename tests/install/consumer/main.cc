// Consumer of an installed qgraph: opens an engine, runs a two-node graph on
// an in-memory SQLite source and checks the rows. Exit 0 when all is right.
// (Each pooled ":memory:" connection is its own empty database, so the
// queries use no tables.)
#include <cstdio>
#include <string>

#include "qg/engine.h"
#include "qg/output.h"
#include "qg/result.h"

int main() {
  auto engine = qg::Engine::Create();
  if (!engine.ok()) {
    std::fprintf(stderr, "consumer: %s\n", engine.status().ToString().c_str());
    return 1;
  }
  absl::Status s = (*engine)->LoadCatalogJson(
      R"({"sources": [{"name": "mem", "provider": "sqlite", "connect": ":memory:"}]})");
  if (!s.ok()) {
    std::fprintf(stderr, "consumer: %s\n", s.ToString().c_str());
    return 1;
  }
  const char* graph = R"({
    "nodes": [
      {"node_id": "one", "database_id": "mem", "query_string": "SELECT 1 AS x",
       "input_parameters": [], "output_fields": ["x"]},
      {"node_id": "ids", "database_id": "mem",
       "query_string": "SELECT 1 AS id UNION ALL SELECT 2 UNION ALL SELECT 3",
       "input_parameters": [], "output_fields": ["id"]},
      {"node_id": "tens", "database_id": "mem",
       "query_string": "SELECT k, k * 10 AS v FROM (SELECT 1 AS k UNION ALL SELECT 2 UNION ALL SELECT 3 UNION ALL SELECT 4) WHERE k = :id",
       "input_parameters": ["id"], "output_fields": ["k", "v"]}
    ],
    "edges": [{"source_node": "ids", "target_node": "tens", "input_mapping": {"ids.id": "tens.id"}}]
  })";
  auto result = (*engine)->ExecuteJson(graph);
  if (!result.ok()) {
    std::fprintf(stderr, "consumer: %s\n", result.status().ToString().c_str());
    return 1;
  }
  const qg::NodeResult* one = result->FindNode("one");
  const qg::NodeResult* tens = result->FindNode("tens");
  if (one == nullptr || one->num_rows != 1 || one->columns.size() != 1 ||
      one->columns[0].values[0] != qg::Value::Int(1)) {
    std::fprintf(stderr, "consumer: node \"one\" is wrong\n");
    return 1;
  }
  int64_t sum = 0;
  for (const qg::Value& v : tens->columns[tens->FindColumn("v")].values) sum += v.as_int();
  if (tens->num_rows != 3 || sum != 60) {
    std::fprintf(stderr, "consumer: node \"tens\" has %zu rows, sum %lld\n", tens->num_rows,
                 static_cast<long long>(sum));
    return 1;
  }
  qg::OutputOptions out;
  out.shape = qg::Shape::kJoined;
  auto text = qg::ResultToString(*result, out);
  if (!text.ok()) {
    std::fprintf(stderr, "consumer: %s\n", text.status().ToString().c_str());
    return 1;
  }
  std::printf("%s%sconsumer: ok\n", text->c_str(),
              text->empty() || text->back() != '\n' ? "\n" : "");
  return 0;
}
