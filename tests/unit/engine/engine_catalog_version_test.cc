// Engine::catalog_version(): bumped by every catalog change, never by a
// refused one or by running graphs (docs/design.md §11).
#include <catch2/catch.hpp>
#include <string>

#include "engine_test_util.h"
#include "qg/engine.h"

namespace qg::enginetest {
namespace {

TEST_CASE("catalog_version is bumped by every catalog change", "[engine][catalog][plan]") {
  TempDir dir;
  SqlExec(dir.File("a.sqlite"), "CREATE TABLE t(x TEXT); INSERT INTO t VALUES ('a');");
  SqlExec(dir.File("b.sqlite"), "CREATE TABLE t(x TEXT); INSERT INTO t VALUES ('b');");
  auto created = Engine::Create();
  REQUIRE(created.ok());
  Engine& engine = **created;
  uint64_t v = engine.catalog_version();
  auto run = [&engine](const std::string& text) {
    auto r = engine.ExecuteStatements(text);
    INFO(r.status().message());
    REQUIRE(r.ok());
  };
  run("CREATE EXTERNAL DATA SOURCE s PROVIDER sqlite CONNECT '" + dir.File("a.sqlite") + "'");
  CHECK(engine.catalog_version() > v);
  v = engine.catalog_version();

  // Running a graph does not change the catalog.
  run("EXECUTE STATEMENT 'SELECT x FROM t' ON EXTERNAL DATA SOURCE s");
  CHECK(engine.catalog_version() == v);

  run("ALTER EXTERNAL DATA SOURCE s PROVIDER sqlite CONNECT '" + dir.File("b.sqlite") + "'");
  CHECK(engine.catalog_version() > v);
  v = engine.catalog_version();

  // A refused change leaves the version alone.
  CHECK_FALSE(engine
                  .ExecuteStatements(
                      "CREATE EXTERNAL DATA SOURCE b PROVIDER sqlite CONNECT '' OPTIONS 'bad=1'")
                  .ok());
  CHECK(engine.catalog_version() == v);

  SourceConfig c;
  c.name = "c";
  c.provider = "sqlite";
  c.connect = dir.File("a.sqlite");
  REQUIRE(engine.AddSource(c).ok());
  CHECK(engine.catalog_version() > v);
  v = engine.catalog_version();

  REQUIRE(engine
              .LoadCatalogJson(R"({"sources": [{"name": "d", "provider": "sqlite", "connect": ")" +
                               dir.File("b.sqlite") + R"("}]})")
              .ok());
  CHECK(engine.catalog_version() > v);
  v = engine.catalog_version();

  run("DROP EXTERNAL DATA SOURCE s");
  CHECK(engine.catalog_version() > v);
}

}  // namespace
}  // namespace qg::enginetest
