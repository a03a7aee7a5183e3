// lib/common/strings.h and qg/duration.h: the helpers every module shares.
#include "common/strings.h"

#include <catch2/catch.hpp>

#include "qg/duration.h"

namespace qg {
namespace {

TEST_CASE("IsJsonNumber follows RFC 8259", "[strings]") {
  for (const char* ok : {"0", "-0", "7", "-12", "1.5", "0.25", "1e9", "1E+9", "2.5e-3", "-0.0e0"}) {
    INFO(ok);
    CHECK(IsJsonNumber(ok));
  }
  for (const char* bad : {"", "-", "01", "+1", "1.", ".5", "1e", "1e+", "NaN", "Infinity", "0x10",
                          "1 ", " 1", "1.2.3", "--1"}) {
    INFO(bad);
    CHECK_FALSE(IsJsonNumber(bad));
  }
}

TEST_CASE("QuoteIdent doubles the quote character it wraps with", "[strings]") {
  CHECK(QuoteIdent("orders") == "\"orders\"");
  CHECK(QuoteIdent("a\"b") == "\"a\"\"b\"");
  CHECK(QuoteIdent("sp1", '`') == "`sp1`");
  CHECK(QuoteIdent("a`b\"c", '`') == "`a``b\"c`");
  CHECK(QuoteIdent("") == "\"\"");
}

TEST_CASE("Lower lower-cases ASCII only", "[strings]") {
  CHECK(Lower("Content-TYPE") == "content-type");
  CHECK(Lower("ÉCOLE") == "École");  // bytes >= 0x80 untouched
}

TEST_CASE("ParseDuration is the one duration syntax", "[strings]") {
  CHECK(*ParseDuration("5s") == absl::Seconds(5));
  CHECK(*ParseDuration("250ms") == absl::Milliseconds(250));
  CHECK(*ParseDuration(" 2m ") == absl::Minutes(2));
  CHECK(*ParseDuration("1.5") == absl::Milliseconds(1500));
  for (const char* bad : {"", "-1s", "5 parsecs", "1..2s", "1h30m", "99999999999999999999h"}) {
    INFO(bad);
    absl::StatusOr<absl::Duration> d = ParseDuration(bad);
    REQUIRE_FALSE(d.ok());
    CHECK(d.status().code() == absl::StatusCode::kInvalidArgument);
    CHECK(d.status().message().find("invalid duration") != std::string_view::npos);
  }
}

}  // namespace
}  // namespace qg
