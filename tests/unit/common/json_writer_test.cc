#include "common/json_writer.h"

#include <simdjson.h>

#include <catch2/catch.hpp>
#include <cmath>
#include <limits>

#include "qg/value.h"

namespace qg {
namespace {

TEST_CASE("JsonWriter compact", "[json]") {
  JsonWriter w;
  w.BeginObject()
      .Key("a")
      .Int(-1)
      .Key("b")
      .BeginArray()
      .Bool(true)
      .Null()
      .Double(2.5)
      .Double(3)
      .Uint(18446744073709551615ULL)
      .EndArray()
      .Key("c")
      .BeginObject()
      .EndObject()
      .Key("d")
      .BeginArray()
      .EndArray()
      .Key("r")
      .Raw("  {\"x\": [1]} \n")
      .EndObject();
  CHECK(w.buffer() ==
        R"({"a":-1,"b":[true,null,2.5,3.0,18446744073709551615],"c":{},"d":[],"r":{"x": [1]}})");
  CHECK(w.depth() == 0);
  std::string taken = w.Take();
  CHECK(w.buffer().empty());
  CHECK_FALSE(taken.empty());
}

TEST_CASE("JsonWriter pretty", "[json]") {
  JsonWriter w(JsonWriter::Options{.pretty = true});
  w.BeginObject().Key("a").BeginArray().Int(1).Int(2).EndArray().Key("e").BeginObject().EndObject();
  w.EndObject();
  CHECK(w.buffer() == "{\n  \"a\": [\n    1,\n    2\n  ],\n  \"e\": {}\n}");
}

TEST_CASE("JsonWriter external buffer, drained midway, and NDJSON", "[json]") {
  std::string buf;
  JsonWriter w(&buf);
  w.BeginArray().Int(1);
  std::string first = buf;
  buf.clear();  // drained by a caller
  w.Int(2).EndArray().Newline();
  w.BeginObject().Key("k").String("v").EndObject().Newline();
  CHECK(first + buf == "[1,2]\n{\"k\":\"v\"}\n");
}

TEST_CASE("JSON string escaping", "[json]") {
  CHECK(JsonQuote("plain") == "\"plain\"");
  CHECK(JsonQuote("q\"b\\s/") == R"("q\"b\\s/")");
  CHECK(JsonQuote("\n\r\t\b\f") == R"("\n\r\t\b\f")");
  CHECK(JsonQuote(std::string("\x01\x1f\0", 3)) == R"("\u0001\u001f\u0000")");
  CHECK(JsonQuote("caf\xc3\xa9 \xe2\x82\xac \xf0\x9f\x98\x80") ==
        "\"caf\xc3\xa9 \xe2\x82\xac \xf0\x9f\x98\x80\"");
  // Invalid UTF-8 becomes U+FFFD, one per maximal invalid subpart.
  CHECK(JsonQuote("a\xff"
                  "b") ==
        "\"a\xef\xbf\xbd"
        "b\"");
  CHECK(JsonQuote("\xe2\x82") == "\"\xef\xbf\xbd\"");                              // truncated
  CHECK(JsonQuote("\xc0\xaf") == "\"\xef\xbf\xbd\xef\xbf\xbd\"");                  // overlong
  CHECK(JsonQuote("\xed\xa0\x80") == "\"\xef\xbf\xbd\xef\xbf\xbd\xef\xbf\xbd\"");  // surrogate
  CHECK(JsonQuote("\xf4\x90\x80\x80").find("\xef\xbf\xbd") != std::string::npos);  // > U+10FFFF
  CHECK(IsValidUtf8("caf\xc3\xa9"));
  CHECK_FALSE(IsValidUtf8("\x80"));
  CHECK(SanitizeUtf8("ok\x80") == "ok\xef\xbf\xbd");
  // Everything parses back.
  simdjson::dom::parser p;
  std::string all;
  for (int c = 0; c < 256; ++c) all += static_cast<char>(c);
  std::string quoted = JsonQuote(all);
  simdjson::padded_string ps(quoted);
  std::string_view back;
  REQUIRE(p.parse(ps).get_string().get(back) == simdjson::SUCCESS);
  CHECK(back.substr(0, 128) == all.substr(0, 128));
}

TEST_CASE("Values as JSON", "[json]") {
  JsonWriter w;
  w.BeginArray()
      .Val(Value())
      .Val(Value::Bool(false))
      .Val(Value::Int(5))
      .Val(Value::Double(0.1))
      .Val(Value::Double(std::numeric_limits<double>::infinity()))
      .Val(Value::Double(std::nan("")))
      .Val(Value::Decimal("9.50"))
      .Val(Value::String("s"))
      .Val(Value::Bytes(std::string("\0\xff", 2)))
      .Val(Value::Timestamp("2024-05-01T10:00:00+02:00"))
      .Val(Value::Json(R"({"a": [1, 2]})"))
      .Val(Value::Json("{not json"))
      .Val(Value::Json("123456789012345678901234567890"))
      .EndArray();
  CHECK(
      w.buffer() ==
      R"([null,false,5,0.1,null,null,"9.50","s","AP8=","2024-05-01T10:00:00+02:00",{"a": [1, 2]},"{not json",123456789012345678901234567890])");
}

TEST_CASE("CheckJson", "[json]") {
  CHECK(IsValidJson(" {\"a\": [1, -2.5e+3, true, false, null, \"x\\u00e9\"]} "));
  CHECK(IsValidJson("0"));
  CHECK(IsValidJson("\"\""));
  CHECK_FALSE(IsValidJson(""));
  CHECK_FALSE(IsValidJson("[1,]"));
  CHECK_FALSE(IsValidJson("{\"a\" 1}"));
  CHECK_FALSE(IsValidJson("01"));
  CHECK_FALSE(IsValidJson("1."));
  CHECK_FALSE(IsValidJson("[1] x"));
  CHECK_FALSE(IsValidJson("\"\\x\""));
  CHECK_FALSE(IsValidJson("\"a\nb\""));
  CHECK_FALSE(IsValidJson("\"\xff\""));
  CHECK_FALSE(IsValidJson("NaN"));
  CHECK_FALSE(IsValidJson(std::string(600, '[') + std::string(600, ']')));
  CHECK(IsValidJson(std::string(100, '[') + std::string(100, ']')));
  JsonCheck c = CheckJson(R"({"a": {"b~": [0, tru]}})");
  CHECK_FALSE(c.ok);
  CHECK(c.pointer == "/a/b~0/1");
  CHECK(c.offset == 17);
  CHECK(JsonPointerEscape("a/b~c") == "a~1b~0c");
}

TEST_CASE("Base64", "[json]") {
  CHECK(Base64Encode("") == "");
  CHECK(Base64Encode("f") == "Zg==");
  CHECK(Base64Encode("fo") == "Zm8=");
  CHECK(Base64Encode("foo") == "Zm9v");
  CHECK(Base64Encode("foobar") == "Zm9vYmFy");
  std::string all;
  for (int c = 0; c < 256; ++c) all += static_cast<char>(c);
  std::string back;
  REQUIRE(Base64Decode(Base64Encode(all), &back));
  CHECK(back == all);
  REQUIRE(Base64Decode("Zm8", &back));
  CHECK(back == "fo");
  CHECK_FALSE(Base64Decode("Z", &back));
  CHECK_FALSE(Base64Decode("Zm9v!", &back));
}

}  // namespace
}  // namespace qg
