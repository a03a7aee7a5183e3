// Internal: the http provider's secret redactor. A source's secrets (the
// password, the basic-auth pair, credential query values of the base URL,
// credential headers) are replaced by "***" in every message the provider
// writes, in every form a remote API may echo them: raw, base64 (standard and
// URL-safe, with or without padding), percent-encoded (either hex case, '+'
// for a space) and JSON-escaped (\uXXXX, \" and friends), and any mix of the
// escapes within one occurrence. Pure; no I/O.
//
// Thread-safety: const methods may be called from any thread.
#ifndef QG_LIB_PROVIDERS_HTTP_HTTP_REDACT_H_
#define QG_LIB_PROVIDERS_HTTP_HTTP_REDACT_H_

#include <cstddef>
#include <string>
#include <string_view>
#include <vector>

#include "absl/status/status.h"

namespace qg::http {

class SecretRedactor {
 public:
  // Adds `secret` (ignored when empty) and its base64 forms.
  void Add(std::string_view secret);
  bool empty() const { return forms_.empty(); }

  // `text` with every occurrence of a secret, in any form, replaced by "***".
  std::string Redact(std::string_view text) const;

  // The redacted text, cut once `max_out` bytes are written; matches look
  // ahead into the whole of `text`, so a secret is never cut in half by the
  // limit. *truncated tells whether anything was left out.
  std::string RedactPrefix(std::string_view text, size_t max_out, bool* truncated) const;

  // The status with its message redacted (the code kept).
  absl::Status Redact(const absl::Status& status) const;

 private:
  std::vector<std::string> forms_;  // longest first
};

}  // namespace qg::http

#endif  // QG_LIB_PROVIDERS_HTTP_HTTP_REDACT_H_
