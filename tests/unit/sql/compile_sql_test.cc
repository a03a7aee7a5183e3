#include <catch2/catch.hpp>
#include <memory>
#include <string>

#include "qg/provider.h"

namespace qg {
namespace {

TEST_CASE("CompileSql plain statement", "[sql]") {
  CompileRequest req;
  req.query_string = "SELECT * FROM t WHERE a = :a AND b = :b AND c = :a";
  req.input_parameters = {"a", "b"};
  auto q = CompileSql(req, PlaceholderStyle::kQuestion);
  REQUIRE(q.ok());
  CHECK(q->text == "SELECT * FROM t WHERE a = ? AND b = ? AND c = ?");
  REQUIRE(q->args.size() == 3);
  CHECK(q->args[2].kind == BatchArg::Kind::kParam);
  CHECK(q->args[2].name == "a");
  CHECK(q->batch_items == 0);
  CHECK(q->key_columns == 0);
  CHECK_FALSE(q->is_write);

  auto d = CompileSql(req, PlaceholderStyle::kDollar);
  REQUIRE(d.ok());
  CHECK(d->text == "SELECT * FROM t WHERE a = $1 AND b = $2 AND c = $1");
  CHECK(d->args.size() == 2);

  req.mode = NodeMode::kWrite;
  req.query_string = "DELETE FROM t WHERE a = :a";
  auto w = CompileSql(req, PlaceholderStyle::kQuestion);
  REQUIRE(w.ok());
  CHECK(w->is_write);
}

TEST_CASE("CompileSql checks declared parameters and native placeholders", "[sql]") {
  CompileRequest req;
  req.query_string = "SELECT * FROM t WHERE a = :a AND b = :nope";
  req.input_parameters = {"a"};
  auto q = CompileSql(req, PlaceholderStyle::kQuestion);
  REQUIRE_FALSE(q.ok());
  CHECK(q.status().code() == absl::StatusCode::kInvalidArgument);
  CHECK_THAT(std::string(q.status().message()), Catch::Contains(":nope at byte 37"));

  req.query_string = "SELECT * FROM t WHERE a = ?";
  CHECK(CompileSql(req, PlaceholderStyle::kQuestion).status().code() ==
        absl::StatusCode::kInvalidArgument);
  req.query_string = "SELECT * FROM t WHERE a = $1";
  CHECK(CompileSql(req, PlaceholderStyle::kDollar).status().code() ==
        absl::StatusCode::kInvalidArgument);
  req.query_string = "SELECT 'unterminated";
  CHECK(CompileSql(req, PlaceholderStyle::kDollar).status().code() ==
        absl::StatusCode::kInvalidArgument);
}

TEST_CASE("CompileSql batched statement", "[sql]") {
  CompileRequest req;
  req.query_string = "SELECT id, total FROM orders WHERE user_id = :uid AND total > :min";
  req.input_parameters = {"uid", "min"};
  req.key_params = {"uid"};
  req.batch_items = 3;
  auto q = CompileSql(req, PlaceholderStyle::kQuestion);
  REQUIRE(q.ok());
  CHECK(
      q->text ==
      "SELECT id, total, user_id AS __qg_k0 FROM orders WHERE user_id IN (?, ?, ?) AND total > ?");
  CHECK(q->batch_items == 3);
  CHECK(q->key_columns == 1);
  REQUIRE(q->args.size() == 4);
  CHECK(q->args[1].kind == BatchArg::Kind::kKeyItem);
  CHECK(q->args[1].item == 1);
  CHECK(q->args[3].kind == BatchArg::Kind::kParam);

  req.form = BatchForm::kAnyArray;
  auto a = CompileSql(req, PlaceholderStyle::kDollar);
  REQUIRE(a.ok());
  CHECK(a->text ==
        "SELECT id, total, user_id AS __qg_k0 FROM orders WHERE user_id = ANY($1) AND total > $2");

  // A dependent aggregate is grouped by its key (sql/aggregate_batch.h).
  req.query_string = "SELECT count(*) FROM orders WHERE user_id = :uid";
  auto grouped = CompileSql(req, PlaceholderStyle::kDollar);
  REQUIRE(grouped.ok());
  CHECK(grouped->key_grouped);
  CHECK(grouped->text ==
        "SELECT count(*), user_id AS __qg_k0 FROM orders WHERE user_id = ANY($1) GROUP BY user_id");
  req.query_string = "SELECT coalesce(sum(total), 0) FROM orders WHERE user_id = :uid";
  auto refused = CompileSql(req, PlaceholderStyle::kDollar);
  CHECK(refused.status().code() == absl::StatusCode::kFailedPrecondition);
  CHECK_THAT(std::string(refused.status().message()),
             Catch::Contains("cannot batch as a grouped aggregate"));
  req.query_string = "SELECT count(*) FROM orders WHERE user_id = :uid";

  req.key_params = {"other"};
  CHECK(CompileSql(req, PlaceholderStyle::kDollar).status().code() ==
        absl::StatusCode::kInvalidArgument);
}

class NullProvider : public Provider {
 public:
  std::string_view name() const override { return "null"; }
  Capabilities capabilities() const override { return {}; }
  absl::StatusOr<std::unique_ptr<Connection>> Connect(const ConnectRequest&) override {
    return absl::UnimplementedError("no");
  }
  absl::StatusOr<Statement> Compile(const CompileRequest& r) const override {
    return CompileSql(r, PlaceholderStyle::kQuestion);
  }
};

class NullConnection : public Connection {
 public:
  absl::Status Execute(const Statement&, const std::vector<BoundArg>&, RowSink*,
                       ExecStats*) override {
    return absl::OkStatus();
  }
  void Cancel() override {}
  absl::Status Ping(std::string_view) override { return absl::OkStatus(); }
  absl::Status Reset() override { return absl::OkStatus(); }
  bool broken() const override { return false; }
};

TEST_CASE("Provider and Connection defaults", "[sql]") {
  NullProvider p;
  auto names = p.Placeholders("SELECT :b, ':x', :a, :b");
  REQUIRE(names.ok());
  CHECK(*names == std::vector<std::string>{"b", "a"});
  CHECK(p.Placeholders("SELECT 'x").status().code() == absl::StatusCode::kInvalidArgument);

  NullConnection c;
  CHECK(c.Begin(TxOptions{}).code() == absl::StatusCode::kUnimplemented);
  CHECK(c.Savepoint("s").code() == absl::StatusCode::kUnimplemented);
  auto st = c.PrepareTransaction("g");
  CHECK(st.code() == absl::StatusCode::kUnimplemented);
  CHECK_THAT(std::string(st.message()), Catch::Contains("two-phase commit"));
  CHECK(c.CommitPrepared("g").code() == absl::StatusCode::kUnimplemented);
  CHECK(c.RollbackPrepared("g").code() == absl::StatusCode::kUnimplemented);
  CHECK(c.ListPrepared("").status().code() == absl::StatusCode::kUnimplemented);
  CHECK(c.session_id().empty());
}

}  // namespace
}  // namespace qg
