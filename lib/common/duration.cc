// qg/duration.h's ParseDuration: the one duration syntax of catalog
// options, provider options, the server's config and flags.
#include "qg/duration.h"

#include <cmath>
#include <cstdint>

#include "absl/strings/ascii.h"
#include "absl/strings/numbers.h"
#include "common/strings.h"

namespace qg {

absl::StatusOr<absl::Duration> ParseDuration(std::string_view text) {
  const std::string_view t = TrimSpace(text);
  auto bad = [&](std::string_view why) {
    return absl::InvalidArgumentError(Cat("invalid duration '", Clip(t), "': ", why,
                                          " (want e.g. 5s, 250ms, 2m, 1h, or seconds)"));
  };
  if (t.empty()) return bad("empty");
  if (t[0] == '-') return bad("negative");
  size_t n = 0;
  int dots = 0;
  while (n < t.size() && (absl::ascii_isdigit(t[n]) || t[n] == '.')) {
    if (t[n] == '.') ++dots;
    ++n;
  }
  const std::string_view number = t.substr(0, n);
  const std::string_view unit = t.substr(n);
  if (number.empty() || dots > 1 || number == ".") return bad("not a number");
  absl::Duration scale;
  if (unit.empty() || unit == "s") {
    scale = absl::Seconds(1);
  } else if (unit == "ms") {
    scale = absl::Milliseconds(1);
  } else if (unit == "us") {
    scale = absl::Microseconds(1);
  } else if (unit == "ns") {
    scale = absl::Nanoseconds(1);
  } else if (unit == "m") {
    scale = absl::Minutes(1);
  } else if (unit == "h") {
    scale = absl::Hours(1);
  } else {
    return bad("unknown unit");
  }
  absl::Duration d;
  if (dots == 0) {
    int64_t i = 0;
    if (!absl::SimpleAtoi(Av(number), &i)) return bad("out of range");
    d = scale * i;
  } else {
    double f = 0;
    if (!absl::SimpleAtod(Av(number), &f) || !std::isfinite(f)) return bad("not a number");
    d = scale * f;
  }
  if (d == absl::InfiniteDuration() || d < absl::ZeroDuration()) return bad("out of range");
  return d;
}

}  // namespace qg
