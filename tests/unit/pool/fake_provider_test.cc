// Tests of the fake provider itself: the engine's unit tests rely on its
// language, batching contract and instrumentation.
#include "support/fake_provider.h"

#include <catch2/catch.hpp>
#include <string>
#include <thread>
#include <vector>

namespace qg {
namespace {

using qg::testing::FakeProvider;

struct Collect : RowSink {
  absl::Status OnColumns(const std::vector<ColumnInfo>& c) override {
    ++column_calls;
    for (const auto& ci : c) columns.push_back(ci.name);
    return absl::OkStatus();
  }
  absl::Status OnRow(std::vector<Value>& row) override {
    rows.push_back(row);
    return absl::OkStatus();
  }
  int column_calls = 0;
  std::vector<std::string> columns;
  std::vector<std::vector<Value>> rows;
};

std::unique_ptr<Connection> Open(FakeProvider& fake) {
  auto c = fake.Connect(ConnectRequest{});
  REQUIRE(c.ok());
  return std::move(*c);
}

// Binds args by name from `params` (kParam) and `items` (kKeyItem).
std::vector<BoundArg> Bind(const Statement& s, const ParamList& params,
                           const std::vector<ParamList>& items = {}) {
  std::vector<BoundArg> out;
  for (const BatchArg& a : s.args) {
    const ParamList& from = a.kind == BatchArg::Kind::kKeyItem ? items.at(a.item) : params;
    BoundArg b;
    for (const auto& [k, v] : from) {
      if (k == a.name) b.value = v;
    }
    out.push_back(b);
  }
  return out;
}

absl::Status Run(FakeProvider& fake, Connection& c, std::string_view q, const ParamList& params,
                 Collect* sink, ExecStats* stats = nullptr) {
  CompileRequest req;
  req.query_string = q;
  auto s = fake.Compile(req);
  if (!s.ok()) return s.status();
  ExecStats local;
  return c.Execute(*s, Bind(*s, params), sink, stats != nullptr ? stats : &local);
}

FakeProvider WithUsers() {
  FakeProvider fake;
  fake.AddTable("users", {"id", "city"},
                {{Value::Int(1), Value::String("Paris")},
                 {Value::Int(2), Value::String("Rome")},
                 {Value::Int(3), Value::String("Paris")},
                 {Value::Null(), Value::String("Oslo")}});
  return fake;
}

TEST_CASE("fake: table, where, echo, range, write", "[fake]") {
  FakeProvider fake;
  fake.AddTable("users", {"id", "city"},
                {{Value::Int(1), Value::String("Paris")},
                 {Value::Int(2), Value::String("Rome")},
                 {Value::Int(3), Value::String("Paris")},
                 {Value::Null(), Value::String("Oslo")}});
  auto c = Open(fake);
  Collect all;
  REQUIRE(Run(fake, *c, "table users", {}, &all).ok());
  CHECK(all.columns == std::vector<std::string>{"id", "city"});
  CHECK(all.rows.size() == 4);

  Collect paris;
  REQUIRE(
      Run(fake, *c, "table users where city = :c", {{"c", Value::String("Paris")}}, &paris).ok());
  CHECK(paris.rows.size() == 2);

  Collect two;  // key equality: 2.0 finds 2
  REQUIRE(Run(fake, *c, "table users where id = :id and city = :c",
              {{"id", Value::Double(2.0)}, {"c", Value::String("Rome")}}, &two)
              .ok());
  REQUIRE(two.rows.size() == 1);
  CHECK(two.rows[0][1] == Value::String("Rome"));

  Collect none;  // null matches nothing
  REQUIRE(Run(fake, *c, "table users where id = :id", {{"id", Value::Null()}}, &none).ok());
  CHECK(none.rows.empty());
  CHECK(none.column_calls == 1);

  Collect echo;
  REQUIRE(
      Run(fake, *c, "echo :a :b", {{"a", Value::Int(7)}, {"b", Value::String("x")}}, &echo).ok());
  CHECK(echo.columns == std::vector<std::string>{"a", "b"});
  REQUIRE(echo.rows.size() == 1);
  CHECK(echo.rows[0] == std::vector<Value>{Value::Int(7), Value::String("x")});

  Collect range;
  REQUIRE(Run(fake, *c, "range 3", {}, &range).ok());
  CHECK(range.columns == std::vector<std::string>{"i"});
  CHECK(range.rows.size() == 3);
  CHECK(range.rows[2][0] == Value::Int(2));

  Collect write;
  ExecStats stats;
  REQUIRE(Run(fake, *c, "write", {}, &write, &stats).ok());
  CHECK(stats.rows_affected == 1);
  CHECK(stats.round_trips == 1);
  CHECK(write.rows.empty());

  CHECK(fake.executions() == 7);
  auto log = fake.exec_log();
  REQUIRE(log.size() == 7);
  CHECK(log[1].text == "table users where city = :c");
  CHECK(log[1].args == 1);
  CHECK(log[1].end_ns >= log[1].start_ns);
  CHECK(log[1].connection_id == 1);
  CHECK(fake.max_concurrent_executions() == 1);
}

TEST_CASE("fake: parse errors, unknown tables and placeholders", "[fake]") {
  FakeProvider fake = WithUsers();
  auto c = Open(fake);
  for (const char* bad :
       {"", "@sleep=x table t", "@fail=nope write", "@what write", "select 1", "table",
        "table t where", "table t where a = b", "table t where a = :a or b = :b", "range",
        "range -1", "echo a", "write now"}) {
    CompileRequest req;
    req.query_string = bad;
    INFO(bad);
    CHECK(fake.Compile(req).status().code() == absl::StatusCode::kInvalidArgument);
  }
  Collect sink;
  CHECK(Run(fake, *c, "table nope", {}, &sink).code() == absl::StatusCode::kNotFound);
  CHECK(Run(fake, *c, "table users where nope = :x", {{"x", Value::Int(1)}}, &sink).code() ==
        absl::StatusCode::kInvalidArgument);

  auto names = fake.Placeholders("@fail_when=z:1 table users where id = :id and city = :c");
  REQUIRE(names.ok());
  CHECK(*names == std::vector<std::string>{"id", "c", "z"});
  auto echo = fake.Placeholders("echo :a :b :a");
  REQUIRE(echo.ok());
  CHECK(*echo == std::vector<std::string>{"a", "b"});
}

TEST_CASE("fake: failures, fail_when and broken", "[fake]") {
  FakeProvider fake = WithUsers();
  auto c = Open(fake);
  Collect sink;
  struct Case {
    const char* q;
    absl::StatusCode code;
  };
  for (const Case& k : {Case{"@fail=unavailable write", absl::StatusCode::kUnavailable},
                        Case{"@fail=aborted write", absl::StatusCode::kAborted},
                        Case{"@fail=invalid write", absl::StatusCode::kInvalidArgument},
                        Case{"@fail=internal write", absl::StatusCode::kInternal},
                        Case{"@fail=deadline write", absl::StatusCode::kDeadlineExceeded},
                        Case{"@fail=exhausted write", absl::StatusCode::kResourceExhausted}}) {
    absl::Status st = Run(fake, *c, k.q, {}, &sink);
    CHECK(st.code() == k.code);
    CHECK(std::string(st.message()) == "fake failure");
  }
  CHECK_FALSE(c->broken());
  CHECK(Run(fake, *c, "@fail_when=id:2 echo :id", {{"id", Value::Int(1)}}, &sink).ok());
  CHECK(Run(fake, *c, "@fail_when=id:2 echo :id", {{"id", Value::Int(2)}}, &sink).code() ==
        absl::StatusCode::kInternal);
  CHECK_FALSE(c->broken());
  CHECK(Run(fake, *c, "@broken @fail_when=id:2 echo :id", {{"id", Value::Int(1)}}, &sink).ok());
  CHECK_FALSE(c->broken());
  CHECK_FALSE(
      Run(fake, *c, "@broken @fail_when=id:2 echo :id", {{"id", Value::Int(2)}}, &sink).ok());
  CHECK(c->broken());
}

TEST_CASE("fake: batched compile returns rows with key columns last", "[fake]") {
  FakeProvider fake = WithUsers();
  auto c = Open(fake);
  CompileRequest req;
  req.query_string = "table users where city = :c and id = :id";
  req.key_params = {"id"};
  req.batch_items = 3;
  auto s = fake.Compile(req);
  REQUIRE(s.ok());
  CHECK(s->key_columns == 1);
  CHECK(s->batch_items == 3);
  REQUIRE(s->args.size() == 4);
  CHECK(s->args[0].kind == BatchArg::Kind::kParam);
  CHECK(s->args[0].name == "c");
  for (size_t i = 0; i < 3; ++i) {
    CHECK(s->args[1 + i].kind == BatchArg::Kind::kKeyItem);
    CHECK(s->args[1 + i].name == "id");
    CHECK(s->args[1 + i].item == i);
  }
  Collect sink;
  ExecStats stats;
  // Items 1, 3, 3 (a duplicate, as a padded chunk would have): each row once.
  auto args = Bind(*s, {{"c", Value::String("Paris")}},
                   {{{"id", Value::Int(1)}}, {{"id", Value::Int(3)}}, {{"id", Value::Int(3)}}});
  REQUIRE(c->Execute(*s, args, &sink, &stats).ok());
  CHECK(sink.columns == std::vector<std::string>{"id", "city", "__qg_k0"});
  REQUIRE(sink.rows.size() == 2);
  CHECK(sink.rows[0].back() == Value::Int(1));
  CHECK(sink.rows[1].back() == Value::Int(3));

  SECTION("two key parameters") {
    req.key_params = {"c", "id"};
    req.batch_items = 2;
    auto s2 = fake.Compile(req);
    REQUIRE(s2.ok());
    CHECK(s2->key_columns == 2);
    Collect out;
    auto a2 = Bind(*s2, {},
                   {{{"c", Value::String("Paris")}, {"id", Value::Int(3)}},
                    {{"c", Value::String("Paris")}, {"id", Value::Int(2)}}});
    REQUIRE(c->Execute(*s2, a2, &out, &stats).ok());
    REQUIRE(out.rows.size() == 1);
    CHECK(out.rows[0] == std::vector<Value>{Value::Int(3), Value::String("Paris"),
                                            Value::String("Paris"), Value::Int(3)});
  }
  SECTION("what cannot be batched") {
    CompileRequest bad = req;
    bad.query_string = "echo :id";
    CHECK(fake.Compile(bad).status().code() == absl::StatusCode::kFailedPrecondition);
    bad.query_string = "table users";
    CHECK(fake.Compile(bad).status().code() == absl::StatusCode::kFailedPrecondition);
    bad.query_string = "table users where id = :id";
    bad.form = BatchForm::kAnyArray;
    CHECK(fake.Compile(bad).status().code() == absl::StatusCode::kFailedPrecondition);
    bad.form = BatchForm::kInList;
    bad.key_params = {"other"};
    CHECK(fake.Compile(bad).status().code() == absl::StatusCode::kFailedPrecondition);
    bad.key_params = {"id"};
    bad.batch_items = 1001;
    CHECK(fake.Compile(bad).status().code() == absl::StatusCode::kFailedPrecondition);
  }
}

TEST_CASE("fake: @sleep wakes early on Cancel, which holds until Reset", "[fake]") {
  FakeProvider fake;
  auto c = Open(fake);
  absl::Status result;
  std::thread runner([&] {
    Collect sink;
    result = Run(fake, *c, "@sleep=60000 write", {}, &sink);
  });
  // Cancel until the execution has started and been woken (bounded).
  for (int i = 0; i < 20000 && fake.executions() == 0; ++i) {
    std::this_thread::sleep_for(std::chrono::milliseconds(1));
  }
  c->Cancel();
  runner.join();
  CHECK(result.code() == absl::StatusCode::kCancelled);
  CHECK(fake.cancels() == 1);
  Collect sink;
  CHECK(Run(fake, *c, "write", {}, &sink).code() == absl::StatusCode::kCancelled);
  REQUIRE(c->Reset().ok());
  CHECK(fake.resets() == 1);
  CHECK(Run(fake, *c, "write", {}, &sink).ok());
}

TEST_CASE("fake: transactions, pings, connect knobs and capabilities", "[fake]") {
  FakeProvider fake("mem");
  CHECK(fake.name() == "mem");
  Capabilities caps = fake.capabilities();
  CHECK(caps.batch_in_list);
  CHECK_FALSE(caps.batch_any_array);
  CHECK(caps.max_placeholders == 1000);
  CHECK(caps.transactions);
  CHECK(caps.savepoints);
  CHECK_FALSE(caps.two_phase);
  CHECK(caps.cancel);

  const ConnectRequest req{.source_name = "db",
                           .connect = "",
                           .user = "app",
                           .password = "pw",
                           .connect_timeout = absl::Seconds(10),
                           .statement_timeout = absl::ZeroDuration(),
                           .options = {}};
  fake.FailNextConnects(2);
  CHECK(fake.Connect(req).status().code() == absl::StatusCode::kUnavailable);
  CHECK(fake.Connect(req).status().code() == absl::StatusCode::kUnavailable);
  auto c = fake.Connect(req);
  REQUIRE(c.ok());
  CHECK(fake.connect_attempts() == 3);
  CHECK(fake.connects() == 1);
  CHECK(fake.last_connect().user == "app");
  CHECK(fake.live_connections() == 1);

  Connection& conn = **c;
  REQUIRE(conn.Begin(TxOptions{}).ok());
  REQUIRE(conn.Savepoint("s1").ok());
  REQUIRE(conn.RollbackToSavepoint("s1").ok());
  REQUIRE(conn.ReleaseSavepoint("s1").ok());
  REQUIRE(conn.Commit().ok());
  REQUIRE(conn.Begin(TxOptions{}).ok());
  REQUIRE(conn.Rollback().ok());
  REQUIRE(conn.Begin(TxOptions{}).ok());
  REQUIRE(conn.Reset().ok());
  fake.FailCommit(true);
  REQUIRE(conn.Begin(TxOptions{}).ok());
  CHECK(conn.Commit().code() == absl::StatusCode::kAborted);
  CHECK(conn.PrepareTransaction("g").code() == absl::StatusCode::kUnimplemented);
  CHECK(fake.tx_log() ==
        std::vector<std::string>{"begin", "savepoint s1", "rollback to savepoint s1",
                                 "release savepoint s1", "commit", "begin", "rollback", "begin",
                                 "reset rollback", "begin", "commit failed"});
  CHECK(fake.tx_events()[0].connection_id == 1);
  CHECK(conn.session_id() == "1");

  CHECK(conn.Ping("").ok());
  fake.SetPingFails(true);
  CHECK(conn.Ping("").code() == absl::StatusCode::kUnavailable);
  CHECK(conn.broken());
  CHECK(fake.pings() == 2);
  c->reset();
  CHECK(fake.live_connections() == 0);
  CHECK(fake.max_live_connections() == 1);
}

}  // namespace
}  // namespace qg
