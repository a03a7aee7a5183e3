// qg/duration.h — the one duration syntax of qgraph: catalog and provider
// options ("connect_timeout=5s"), the server's config file and flags.
//
// Thread-safety: a pure function.
#ifndef QG_DURATION_H_
#define QG_DURATION_H_

#include <string_view>

#include "absl/status/statusor.h"
#include "absl/time/time.h"
#include "qg/export.h"

namespace qg {

// "5s", "250ms", "10us", "2m", "1h", "1.5s", or a bare number of seconds;
// surrounding blanks allowed. Negative, unknown units, overflow: an
// InvalidArgument error that quotes the text (clipped) and the syntax.
QG_EXPORT absl::StatusOr<absl::Duration> ParseDuration(std::string_view text);

}  // namespace qg

#endif  // QG_DURATION_H_
