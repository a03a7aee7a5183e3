// libFuzzer target for the JSON catalog loader (qg::Catalog::FromJson): any
// text loads or fails with kInvalidArgument starting "catalog: " — never a
// crash, a hang or a sanitizer report; a loaded catalog's ToJson() loads back
// to the same JSON.
#include <cstddef>
#include <cstdint>
#include <cstdlib>
#include <string>
#include <string_view>

#include "qg/catalog.h"

namespace {

void Check(bool ok) {
  if (!ok) std::abort();
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  const std::string_view json(reinterpret_cast<const char*>(data), size);
  auto catalog = qg::Catalog::FromJson(json);
  if (!catalog.ok()) {
    Check(catalog.status().code() == absl::StatusCode::kInvalidArgument);
    Check(std::string(catalog.status().message()).rfind("catalog: ", 0) == 0);
    return 0;
  }
  const std::string text = catalog->ToJson();
  auto again = qg::Catalog::FromJson(text);
  Check(again.ok());
  Check(again->ToJson() == text);
  Check(again->sources().size() == catalog->sources().size());
  Check(again->mappings().size() == catalog->mappings().size());
  for (const qg::SourceConfig& s : catalog->sources()) {
    const qg::SourceConfig* back = again->FindSource(s.name);
    Check(back != nullptr);
    Check(back->provider == s.provider && back->connect == s.connect && back->user == s.user &&
          back->provider_options == s.provider_options);
    Check(back->password.kind() == s.password.kind());
  }
  return 0;
}
