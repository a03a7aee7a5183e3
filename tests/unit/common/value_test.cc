#include "qg/value.h"

#include <catch2/catch.hpp>
#include <cmath>
#include <limits>
#include <unordered_set>

namespace qg {
namespace {

bool KeyEq(const Value& a, const Value& b) {
  bool eq = ValueKeyEqual{}(a, b);
  REQUIRE(eq == ValueKeyEqual{}(b, a));  // symmetric
  if (eq) REQUIRE(ValueKeyHash{}(a) == ValueKeyHash{}(b));
  return eq;
}

TEST_CASE("Value constructors and accessors", "[value]") {
  CHECK(Value().is_null());
  CHECK(Value::Null().type() == ValueType::kNull);
  CHECK(Value::Bool(true).as_bool());
  CHECK(Value::Int(-5).as_int() == -5);
  CHECK(Value::Double(2.5).as_double() == 2.5);
  CHECK(Value::Decimal("9.50").as_text() == "9.50");
  CHECK(Value::Bytes(std::string("a\0b", 3)).as_text().size() == 3);
  CHECK(Value::Json("[1]").is_text());
  CHECK_FALSE(Value::Int(1).is_text());
  CHECK(ValueTypeName(ValueType::kTimestamp) == "timestamp");
  CHECK(ValueTypeName(ValueType::kInt64) == "int64");
}

TEST_CASE("Value exact equality", "[value]") {
  CHECK(Value::Int(1) == Value::Int(1));
  CHECK(Value::Int(1) != Value::Double(1.0));
  CHECK(Value::String("a") != Value::Bytes("a"));
  CHECK(Value() == Value());
  double nan = std::numeric_limits<double>::quiet_NaN();
  CHECK(Value::Double(nan) != Value::Double(nan));
}

TEST_CASE("Value text forms", "[value]") {
  CHECK(Value().DebugString() == "NULL");
  CHECK(Value::Int(42).DebugString() == "42");
  CHECK(Value::String("it's").DebugString() == "'it''s'");
  CHECK(Value::Bytes("\x01\xff").DebugString() == "x'01ff'");
  CHECK(Value().ToText().empty());
  CHECK(Value::Bool(false).ToText() == "false");
  CHECK(Value::Double(0.1).ToText() == "0.1");
  CHECK(Value::Double(1.0).ToText() == "1.0");
  CHECK(Value::Double(1e23).ToText() == "1e+23");
  CHECK(Value::Double(-2.5).ToText() == "-2.5");
  CHECK(Value::Int(std::numeric_limits<int64_t>::min()).ToText() == "-9223372036854775808");
  CHECK(Value::Decimal("12.5000000000").ToText() == "12.5000000000");
  // Shortest round trip.
  double d = 0.30000000000000004;
  CHECK(std::stod(Value::Double(d).ToText()) == d);
}

TEST_CASE("Key equality across numeric types", "[value]") {
  CHECK(KeyEq(Value::Int(7), Value::Double(7.0)));
  CHECK(KeyEq(Value::Int(7), Value::Decimal("7")));
  CHECK(KeyEq(Value::Int(7), Value::Decimal("7.000")));
  CHECK(KeyEq(Value::Int(7), Value::Decimal("+0007")));
  CHECK(KeyEq(Value::Int(700), Value::Decimal("7e2")));
  CHECK(KeyEq(Value::Int(-3), Value::Decimal("-3.0")));
  CHECK(KeyEq(Value::Int(0), Value::Decimal("-0.00")));
  CHECK(KeyEq(Value::Int(0), Value::Double(-0.0)));
  CHECK(KeyEq(Value::Double(1.5), Value::Decimal("1.50")));
  CHECK(KeyEq(Value::Double(1.5), Value::Decimal("15e-1")));
  CHECK(KeyEq(Value::Decimal("0.25"), Value::Decimal(".250")));
  CHECK_FALSE(KeyEq(Value::Double(0.1), Value::Decimal("0.1")));  // not exactly 0.1
  CHECK(KeyEq(Value::Double(0.1),
              Value::Decimal("0.1000000000000000055511151231257827021181583404541015625")));
  CHECK_FALSE(KeyEq(Value::Int(7), Value::Double(7.5)));
  CHECK_FALSE(KeyEq(Value::Int(7), Value::Decimal("7.0001")));
  // int64 extremes and beyond.
  CHECK(KeyEq(Value::Int(std::numeric_limits<int64_t>::max()),
              Value::Decimal("9223372036854775807")));
  CHECK(KeyEq(Value::Int(std::numeric_limits<int64_t>::min()),
              Value::Decimal("-9223372036854775808")));
  CHECK(KeyEq(Value::Int(std::numeric_limits<int64_t>::min()),
              Value::Double(-9223372036854775808.0)));
  Value big = Value::Decimal("18446744073709551615");
  CHECK_FALSE(KeyEq(big, Value::Int(-1)));
  CHECK_FALSE(KeyEq(big, Value::Int(std::numeric_limits<int64_t>::max())));
  CHECK(KeyEq(big, Value::Decimal("18446744073709551615.0")));
  CHECK_FALSE(KeyEq(big, Value::Double(18446744073709551615.0)));  // the double is 2^64
  CHECK(KeyEq(Value::Decimal("18446744073709551616"), Value::Double(18446744073709551615.0)));
  CHECK(KeyEq(Value::Decimal("99999999999999991611392"), Value::Double(1e23)));
  CHECK_FALSE(KeyEq(Value::Decimal("100000000000000000000000"), Value::Double(1e23)));
  // Non-finite.
  double inf = std::numeric_limits<double>::infinity();
  CHECK(KeyEq(Value::Double(inf), Value::Decimal("Infinity")));
  CHECK(KeyEq(Value::Double(-inf), Value::Decimal("-Infinity")));
  CHECK(KeyEq(Value::Double(std::nan("")), Value::Decimal("NaN")));
  // Decimals that are not numbers compare as text.
  CHECK(KeyEq(Value::Decimal("abc"), Value::Decimal("abc")));
  CHECK_FALSE(KeyEq(Value::Decimal("abc"), Value::Decimal("abd")));
  CHECK_FALSE(KeyEq(Value::Decimal("1e999999"), Value::Decimal("1e999998")));
}

TEST_CASE("Key equality for other classes", "[value]") {
  CHECK_FALSE(KeyEq(Value(), Value()));
  CHECK_FALSE(KeyEq(Value(), Value::Int(0)));
  CHECK(KeyEq(Value::Bool(true), Value::Bool(true)));
  CHECK_FALSE(KeyEq(Value::Bool(true), Value::Int(1)));
  CHECK(KeyEq(Value::String("a"), Value::String("a")));
  CHECK(KeyEq(Value::String("a"), Value::Bytes("a")));
  CHECK(KeyEq(Value::String("2024-05-01"), Value::Timestamp("2024-05-01")));
  CHECK_FALSE(KeyEq(Value::String("1"), Value::Int(1)));
  CHECK_FALSE(KeyEq(Value::String("1"), Value::Decimal("1")));
  CHECK_FALSE(KeyEq(Value::Json("1"), Value::Int(1)));
  CHECK(KeyEq(Value::Json("[1]"), Value::Json("[1]")));
  CHECK_FALSE(KeyEq(Value::Json("\"a\""), Value::String("a")));
}

TEST_CASE("Row keys in a hash set", "[value]") {
  std::unordered_set<std::vector<Value>, ValueRowKeyHash, ValueRowKeyEqual> set;
  set.insert({Value::Int(1), Value::String("x")});
  set.insert({Value::Double(1.0), Value::String("x")});
  set.insert({Value::Decimal("1.0"), Value::Bytes("x")});
  CHECK(set.size() == 1);
  set.insert({Value::Int(2), Value::String("x")});
  CHECK(set.size() == 2);
  CHECK(set.count({Value::Decimal("2"), Value::String("x")}) == 1);
  CHECK(set.count({Value::Int(2)}) == 0);
  CHECK_FALSE(ValueRowKeyEqual{}({Value::Int(1)}, {Value::Int(1), Value::Int(2)}));
}

TEST_CASE("ParseParamsJson", "[value]") {
  auto p = ParseParamsJson(
      R"({"city": "Paris", "n": 3, "x": 1.5, "ok": true, "none": null, "big": 18446744073709551615,
          "huge": -99999999999999999999999, "arr": [1, {"a": 2}], "obj": {"k": "v"}, "neg": -7,
          "esc": "a\"b\u00e9"})");
  REQUIRE(p.ok());
  const ParamList& l = *p;
  REQUIRE(l.size() == 11);
  CHECK(l[0].first == "city");
  CHECK(l[0].second == Value::String("Paris"));
  CHECK(l[1].second == Value::Int(3));
  CHECK(l[2].second == Value::Double(1.5));
  CHECK(l[3].second == Value::Bool(true));
  CHECK(l[4].second.is_null());
  CHECK(l[5].second == Value::Decimal("18446744073709551615"));
  CHECK(l[6].second == Value::Decimal("-99999999999999999999999"));
  CHECK(l[7].second == Value::Json(R"([1, {"a": 2}])"));
  CHECK(l[8].second == Value::Json(R"({"k": "v"})"));
  CHECK(l[9].second == Value::Int(-7));
  CHECK(l[10].second == Value::String("a\"b\xc3\xa9"));

  auto empty = ParseParamsJson("  {}  ");
  REQUIRE(empty.ok());
  CHECK(empty->empty());
  auto minint = ParseParamsJson(R"({"m": -9223372036854775808, "e": 1e3})");
  REQUIRE(minint.ok());
  CHECK((*minint)[0].second == Value::Int(std::numeric_limits<int64_t>::min()));
  CHECK((*minint)[1].second == Value::Double(1000.0));
}

TEST_CASE("ParseParamsJson errors", "[value]") {
  auto arr = ParseParamsJson("[1, 2]");
  REQUIRE_FALSE(arr.ok());
  CHECK(arr.status().code() == absl::StatusCode::kInvalidArgument);
  CHECK(arr.status().message().find("object") != absl::string_view::npos);

  auto bad = ParseParamsJson(R"({"a": 1, "b/c": [1, }")");
  REQUIRE_FALSE(bad.ok());
  CHECK(bad.status().message().find("/b~1c/1") != absl::string_view::npos);

  auto dup = ParseParamsJson(R"({"a": 1, "a": 2})");
  REQUIRE_FALSE(dup.ok());
  CHECK(dup.status().message().find("/a") != absl::string_view::npos);
  CHECK(dup.status().message().find("duplicate") != absl::string_view::npos);

  auto range = ParseParamsJson(R"({"x": 1e400})");
  REQUIRE_FALSE(range.ok());
  CHECK(range.status().message().find("/x") != absl::string_view::npos);

  CHECK_FALSE(ParseParamsJson("").ok());
  CHECK_FALSE(ParseParamsJson("{} {}").ok());
  CHECK_FALSE(ParseParamsJson("{\"a\": \"\xff\"}").ok());  // invalid UTF-8
  CHECK_FALSE(ParseParamsJson("{\"a\": 01}").ok());
  CHECK_FALSE(ParseParamsJson("\"str\"").ok());
}

}  // namespace
}  // namespace qg
