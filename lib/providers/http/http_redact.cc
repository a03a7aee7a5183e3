#include "providers/http/http_redact.h"

#include <algorithm>
#include <cstdint>

#include "common/json_writer.h"

namespace qg::http {
namespace {

int HexVal(char c) {
  if (c >= '0' && c <= '9') return c - '0';
  if (c >= 'a' && c <= 'f') return c - 'a' + 10;
  if (c >= 'A' && c <= 'F') return c - 'A' + 10;
  return -1;
}

bool Hex4(std::string_view t, size_t p, uint32_t* out) {
  if (p + 4 > t.size()) return false;
  uint32_t v = 0;
  for (size_t k = 0; k < 4; ++k) {
    const int h = HexVal(t[p + k]);
    if (h < 0) return false;
    v = v * 16 + static_cast<uint32_t>(h);
  }
  *out = v;
  return true;
}

void AppendUtf8(uint32_t cp, std::string* out) {
  if (cp < 0x80) {
    out->push_back(static_cast<char>(cp));
  } else if (cp < 0x800) {
    out->push_back(static_cast<char>(0xc0 | (cp >> 6)));
    out->push_back(static_cast<char>(0x80 | (cp & 0x3f)));
  } else if (cp < 0x10000) {
    out->push_back(static_cast<char>(0xe0 | (cp >> 12)));
    out->push_back(static_cast<char>(0x80 | ((cp >> 6) & 0x3f)));
    out->push_back(static_cast<char>(0x80 | (cp & 0x3f)));
  } else {
    out->push_back(static_cast<char>(0xf0 | (cp >> 18)));
    out->push_back(static_cast<char>(0x80 | ((cp >> 12) & 0x3f)));
    out->push_back(static_cast<char>(0x80 | ((cp >> 6) & 0x3f)));
    out->push_back(static_cast<char>(0x80 | (cp & 0x3f)));
  }
}

// One way to read the text at a position: the bytes it stands for and how
// many text bytes it takes.
struct Unit {
  std::string bytes;
  size_t len;
};

// Every reading of the text at `p`: the byte itself, '+' as a space, %XX,
// and the JSON escapes.
void UnitsAt(std::string_view t, size_t p, std::vector<Unit>* out) {
  out->clear();
  const char c = t[p];
  out->push_back(Unit{std::string(1, c), 1});
  if (c == '+') out->push_back(Unit{" ", 1});
  if (c == '%' && p + 2 < t.size() && HexVal(t[p + 1]) >= 0 && HexVal(t[p + 2]) >= 0) {
    out->push_back(
        Unit{std::string(1, static_cast<char>(HexVal(t[p + 1]) * 16 + HexVal(t[p + 2]))), 3});
  }
  if (c == '\\' && p + 1 < t.size()) {
    const char e = t[p + 1];
    static const char kFrom[] = "\"\\/bfnrt";
    static const char kTo[] = "\"\\/\b\f\n\r\t";
    for (size_t k = 0; kFrom[k] != '\0'; ++k) {
      if (e == kFrom[k]) out->push_back(Unit{std::string(1, kTo[k]), 2});
    }
    uint32_t cp = 0;
    if (e == 'u' && Hex4(t, p + 2, &cp)) {
      size_t len = 6;
      uint32_t lo = 0;
      if (cp >= 0xd800 && cp < 0xdc00 && p + 7 < t.size() && t[p + 6] == '\\' && t[p + 7] == 'u' &&
          Hex4(t, p + 8, &lo) && lo >= 0xdc00 && lo < 0xe000) {
        cp = 0x10000 + ((cp - 0xd800) << 10) + (lo - 0xdc00);
        len = 12;
      }
      std::string b;
      AppendUtf8(cp, &b);
      out->push_back(Unit{std::move(b), len});
    }
  }
}

// How many bytes of `t` from `start` spell `secret` in any mix of the
// readings above (the longest such run), or 0.
size_t MatchAt(std::string_view t, size_t start, const std::string& secret) {
  const char c = t[start];
  if (c != secret[0] && c != '%' && c != '\\' && c != '+') return 0;
  const size_t n = secret.size();
  // reach[k]: text positions after reading the first k bytes of the secret.
  std::vector<std::vector<size_t>> reach(n + 1);
  reach[0].push_back(start);
  std::vector<Unit> units;
  for (size_t k = 0; k < n; ++k) {
    std::vector<size_t>& here = reach[k];
    std::sort(here.begin(), here.end());
    here.erase(std::unique(here.begin(), here.end()), here.end());
    for (size_t p : here) {
      if (p >= t.size()) continue;
      UnitsAt(t, p, &units);
      for (const Unit& u : units) {
        if (k + u.bytes.size() <= n && secret.compare(k, u.bytes.size(), u.bytes) == 0) {
          reach[k + u.bytes.size()].push_back(p + u.len);
        }
      }
    }
  }
  if (reach[n].empty()) return 0;
  return *std::max_element(reach[n].begin(), reach[n].end()) - start;
}

std::string UrlSafe(std::string s) {
  for (char& c : s) {
    if (c == '+') c = '-';
    if (c == '/') c = '_';
  }
  return s;
}

}  // namespace

void SecretRedactor::Add(std::string_view secret) {
  if (secret.empty()) return;
  const std::string b64 = Base64Encode(secret);
  std::string unpadded = b64;
  while (!unpadded.empty() && unpadded.back() == '=') unpadded.pop_back();
  for (std::string form : {std::string(secret), b64, unpadded, UrlSafe(b64), UrlSafe(unpadded)}) {
    if (std::find(forms_.begin(), forms_.end(), form) == forms_.end()) {
      forms_.push_back(std::move(form));
    }
  }
  std::stable_sort(forms_.begin(), forms_.end(),
                   [](const std::string& a, const std::string& b) { return a.size() > b.size(); });
}

std::string SecretRedactor::RedactPrefix(std::string_view text, size_t max_out,
                                         bool* truncated) const {
  std::string out;
  size_t i = 0;
  while (i < text.size() && out.size() < max_out) {
    size_t len = 0;
    for (const std::string& f : forms_) {
      len = MatchAt(text, i, f);
      if (len > 0) break;
    }
    if (len > 0) {
      out += "***";
      i += len;
    } else {
      out.push_back(text[i]);
      ++i;
    }
  }
  if (truncated != nullptr) *truncated = i < text.size();
  return out;
}

std::string SecretRedactor::Redact(std::string_view text) const {
  if (forms_.empty()) return std::string(text);
  return RedactPrefix(text, std::string::npos, nullptr);
}

absl::Status SecretRedactor::Redact(const absl::Status& status) const {
  if (status.ok() || forms_.empty()) return status;
  const absl::string_view m = status.message();
  return absl::Status(status.code(), Redact(std::string_view(m.data(), m.size())));
}

}  // namespace qg::http
