// Dependent aggregates as one grouped statement (sql/aggregate_batch.h,
// docs/design.md §11).
#include "sql/aggregate_batch.h"

#include <algorithm>
#include <string>
#include <string_view>
#include <utility>

#include "absl/strings/ascii.h"
#include "absl/strings/str_cat.h"
#include "common/status_macros.h"
#include "sql/sql_lexer.h"

namespace qg::sql {
namespace {

absl::Status Refuse(std::string_view reason) {
  return absl::FailedPreconditionError(
      absl::StrCat("cannot batch as a grouped aggregate: ", Av(reason)));
}

constexpr std::string_view kNotAggregate = "not an aggregate query";

struct Sig {
  Token tok;
  int depth;
};

class Analyzer {
 public:
  explicit Analyzer(const std::string& text) : text_(text) {}

  absl::StatusOr<std::vector<Value>> Run() {
    auto tokens = Lex(text_);
    if (!tokens.ok()) return tokens.status();
    int depth = 0;
    for (const Token& t : *tokens) {
      if (!IsSignificant(t)) continue;
      std::string_view s = Text(t);
      if (t.kind == TokenKind::kPunct && (s == ")" || s == "]")) depth = std::max(0, depth - 1);
      sig_.push_back(Sig{t, depth});
      if (t.kind == TokenKind::kPunct && (s == "(" || s == "[")) ++depth;
    }
    while (!sig_.empty() && Text(sig_.back().tok) == ";") sig_.pop_back();
    if (!IsWord(0, "SELECT")) return Refuse(kNotAggregate);
    size_t from = kNone;
    bool any_aggregate = false;
    for (size_t i = 1; i < sig_.size(); ++i) {
      if (sig_[i].tok.kind != TokenKind::kWord) continue;
      if (from == kNone && IsPunct(i + 1, "(") && IsAggregateName(Text(sig_[i].tok))) {
        any_aggregate = true;  // at any depth: `coalesce(sum(x), 0)` is refused with its reason
      }
      if (sig_[i].depth != 0) continue;
      const std::string word = absl::AsciiStrToUpper(Av(Text(sig_[i].tok)));
      if (word == "FROM" && from == kNone &&
          !(i >= 2 && IsWord(i - 1, "DISTINCT") && (IsWord(i - 2, "IS") || IsWord(i - 2, "NOT")))) {
        from = i;
      } else if (word == "GROUP" && IsWord(i + 1, "BY") && group_ == kNone) {
        group_ = i;
      } else if (group_ != kNone && group_end_ == kNone &&
                 (word == "ORDER" || word == "HAVING" || word == "LIMIT" || word == "OFFSET" ||
                  word == "FETCH" || word == "WINDOW" || word == "UNION" || word == "INTERSECT" ||
                  word == "EXCEPT" || word == "FOR")) {
        group_end_ = i;
      }
    }
    if (!any_aggregate && group_ == kNone) return Refuse(kNotAggregate);
    if (group_ != kNone && group_end_ == kNone) group_end_ = sig_.size();
    if (from == kNone) return Refuse("no FROM clause at the top level");
    if (IsWord(1, "DISTINCT") || IsWord(1, "ALL")) return Refuse("SELECT DISTINCT / ALL");
    // The select list, item by item.
    std::vector<Value> empty_row;
    size_t first = 1;
    for (size_t j = 1; j <= from; ++j) {
      if (j != from && !(sig_[j].depth == 0 && IsPunct(j, ","))) continue;
      if (j == first) return Refuse("an empty select-list item");
      QG_RETURN_IF_ERROR(Item(first, j - 1, &empty_row));
      first = j + 1;
    }
    if (group_ != kNone) empty_row.clear();  // a key with no rows has no groups
    return empty_row;
  }

 private:
  static constexpr size_t kNone = static_cast<size_t>(-1);

  std::string_view Text(const Token& t) const {
    return std::string_view(text_).substr(t.begin, t.end - t.begin);
  }
  bool IsWord(size_t i, std::string_view w) const {
    return i < sig_.size() && sig_[i].tok.kind == TokenKind::kWord &&
           EqualsNoCase(Text(sig_[i].tok), w);
  }
  bool IsPunct(size_t i, std::string_view p) const {
    return i < sig_.size() && sig_[i].tok.kind == TokenKind::kPunct && Text(sig_[i].tok) == p;
  }
  bool IsName(size_t i) const {
    if (i >= sig_.size()) return false;
    const Token& t = sig_[i].tok;
    if (t.kind == TokenKind::kQuotedIdent) return true;
    if (t.kind != TokenKind::kWord) return false;
    std::string_view w = Text(t);
    return !absl::ascii_isdigit(static_cast<unsigned char>(w[0]));
  }
  static bool IsAggregateName(std::string_view w) {
    for (const char* a : {"count", "sum", "min", "max", "avg"}) {
      if (EqualsNoCase(w, a)) return true;
    }
    return false;
  }

  // One select-list item sig_[first..last]: `agg(...) [[AS] alias]`, or,
  // with GROUP BY, a grouped column `[[AS] alias]`.
  absl::Status Item(size_t first, size_t last, std::vector<Value>* empty_row) {
    const std::string shown(
        text_.substr(sig_[first].tok.begin, sig_[last].tok.end - sig_[first].tok.begin));
    // Drop an alias.
    if (last >= first + 2 && IsWord(last - 1, "AS") && IsName(last)) {
      last -= 2;
    } else if (last >= first + 1 && IsName(last) && (IsPunct(last - 1, ")") || IsName(last - 1))) {
      last -= 1;
    }
    if (sig_[first].tok.kind == TokenKind::kWord && IsPunct(first + 1, "(") && IsPunct(last, ")") &&
        sig_[last].depth == sig_[first].depth) {
      // A call spanning the whole item? Its "(" must close at `last`.
      size_t close = first + 2;
      while (close < last && sig_[close].depth > sig_[first].depth) ++close;
      if (close == last && IsAggregateName(Text(sig_[first].tok))) {
        for (size_t k = first + 2; k < last; ++k) {
          const bool nested_call = IsPunct(k + 1, "(") && sig_[k].tok.kind == TokenKind::kWord &&
                                   IsAggregateName(Text(sig_[k].tok));
          if (IsWord(k, "SELECT") || IsWord(k, "OVER") || nested_call) {
            return Refuse(absl::StrCat("select-list item `", shown,
                                       "` holds a subquery, window or nested aggregate"));
          }
        }
        empty_row->push_back(EqualsNoCase(Text(sig_[first].tok), "count") ? Value::Int(0)
                                                                          : Value::Null());
        return absl::OkStatus();
      }
    }
    if (group_ != kNone && IsColumnRef(first, last) && InGroupBy(first, last)) {
      empty_row->push_back(Value::Null());  // unused: GROUP BY queries fill nothing
      return absl::OkStatus();
    }
    return Refuse(absl::StrCat("select-list item `", shown, "` is not count/sum/min/max/avg(...)",
                               group_ != kNone ? " or a GROUP BY column" : ""));
  }

  bool IsColumnRef(size_t first, size_t last) const {
    if (first > last || (last - first) % 2 != 0 || last - first > 6) return false;
    for (size_t i = first; i <= last; ++i) {
      if ((i - first) % 2 == 0 ? !IsName(i) : !IsPunct(i, ".")) return false;
    }
    return true;
  }

  bool SameTokens(size_t a1, size_t a2, size_t b1, size_t b2) const {
    if (a2 - a1 != b2 - b1) return false;
    for (size_t k = 0; k <= a2 - a1; ++k) {
      const Token& x = sig_[a1 + k].tok;
      const Token& y = sig_[b1 + k].tok;
      if (x.kind != y.kind) return false;
      if (x.kind == TokenKind::kWord ? !EqualsNoCase(Text(x), Text(y)) : Text(x) != Text(y)) {
        return false;
      }
    }
    return true;
  }

  bool InGroupBy(size_t first, size_t last) const {
    size_t begin = group_ + 2;
    for (size_t j = begin; j <= group_end_; ++j) {
      if (j != group_end_ && !(sig_[j].depth == 0 && IsPunct(j, ","))) continue;
      if (j > begin && SameTokens(begin, j - 1, first, last)) return true;
      begin = j + 1;
    }
    return false;
  }

  const std::string& text_;
  std::vector<Sig> sig_;
  size_t group_ = kNone;
  size_t group_end_ = kNone;
};

}  // namespace

absl::StatusOr<AggregateBatch> RewriteAggregateBatched(const ParsedSql& sql,
                                                       const std::vector<std::string>& key_params,
                                                       size_t items, PlaceholderStyle style,
                                                       BatchForm form) {
  Analyzer analyzer(sql.text);
  auto empty_row = analyzer.Run();
  if (!empty_row.ok()) return empty_row.status();
  auto batched = RewriteBatchedGrouped(sql, key_params, items, style, form);
  if (!batched.ok()) return batched.status();
  AggregateBatch out;
  out.batched = std::move(*batched);
  out.empty_row = std::move(*empty_row);
  return out;
}

}  // namespace qg::sql
