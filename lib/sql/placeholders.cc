// Placeholder tokenizing and rewriting (qg/placeholders.h, docs/design.md §4-5).
#include "qg/placeholders.h"

#include <algorithm>
#include <map>
#include <optional>
#include <string>
#include <utility>

#include "absl/container/flat_hash_map.h"
#include "absl/container/flat_hash_set.h"
#include "absl/strings/ascii.h"
#include "absl/strings/str_cat.h"
#include "sql/aggregate_batch.h"
#include "sql/sql_lexer.h"

namespace qg {

std::vector<std::string> ParsedSql::Names() const {
  std::vector<std::string> names;
  absl::flat_hash_set<std::string> seen;
  for (const Placeholder& p : placeholders) {
    if (seen.insert(p.name).second) names.push_back(p.name);
  }
  return names;
}

absl::StatusOr<ParsedSql> ParseSql(std::string_view sql) {
  auto tokens = sql::Lex(sql);
  if (!tokens.ok()) return tokens.status();
  ParsedSql parsed;
  parsed.text = std::string(sql);
  for (const sql::Token& t : *tokens) {
    if (t.kind != sql::TokenKind::kPlaceholder) continue;
    parsed.placeholders.push_back(
        Placeholder{std::string(sql.substr(t.begin + 1, t.end - t.begin - 1)), t.begin, t.end});
  }
  return parsed;
}

namespace {

// Hands out native placeholders in text order.
class Numberer {
 public:
  explicit Numberer(PlaceholderStyle style) : style_(style) {}

  // A placeholder for a named (non-key) parameter: with kDollar the same
  // name always gets the same number. Returns the text and whether it is new.
  std::pair<std::string, bool> Named(const std::string& name) {
    if (style_ == PlaceholderStyle::kQuestion) return {"?", true};
    auto [it, inserted] = numbers_.emplace(name, next_);
    if (inserted) ++next_;
    return {absl::StrCat("$", it->second), inserted};
  }
  // A placeholder that is always a new argument.
  std::string Fresh() {
    if (style_ == PlaceholderStyle::kQuestion) return "?";
    return absl::StrCat("$", next_++);
  }

 private:
  PlaceholderStyle style_;
  size_t next_ = 1;
  absl::flat_hash_map<std::string, size_t> numbers_;
};

// Appends a native placeholder. A `$n` right after `$` or an identifier
// character would fuse with it (`$$1` opens a dollar-quoted string, `x$1` is
// one identifier in PostgreSQL): a space keeps it a placeholder.
void AppendNative(std::string* out, std::string_view native) {
  if (!out->empty() && native.front() == '$') {
    const unsigned char before = static_cast<unsigned char>(out->back());
    if (before == '$' || before == '_' || before >= 0x80 || absl::ascii_isalnum(before))
      *out += ' ';
  }
  out->append(native);
}

}  // namespace

NativeSql RewritePlaceholders(const ParsedSql& sql, PlaceholderStyle style) {
  NativeSql out;
  Numberer numberer(style);
  size_t pos = 0;
  for (const Placeholder& p : sql.placeholders) {
    out.text.append(sql.text, pos, p.begin - pos);
    auto [text, is_new] = numberer.Named(p.name);
    AppendNative(&out.text, text);
    if (is_new) out.arg_names.push_back(p.name);
    pos = p.end;
  }
  out.text.append(sql.text, pos, std::string::npos);
  return out;
}

// ---------------------------------------------------------------------------
// Batched rewriting.

namespace {

using sql::Token;
using sql::TokenKind;

struct Sig {
  Token tok;
  int depth;  // parenthesis/bracket depth the token sits at
};

absl::Status Refuse(std::string_view reason) {
  return absl::FailedPreconditionError(absl::StrCat("cannot batch: ", sql::Av(reason)));
}

bool IsAggregate(std::string_view w) {
  static const char* const kAggregates[] = {"count",
                                            "sum",
                                            "avg",
                                            "min",
                                            "max",
                                            "total",
                                            "group_concat",
                                            "string_agg",
                                            "array_agg",
                                            "json_agg",
                                            "jsonb_agg",
                                            "json_object_agg",
                                            "jsonb_object_agg",
                                            "json_group_array",
                                            "json_group_object",
                                            "bool_and",
                                            "bool_or",
                                            "every",
                                            "bit_and",
                                            "bit_or",
                                            "bit_xor",
                                            "stddev",
                                            "stddev_pop",
                                            "stddev_samp",
                                            "variance",
                                            "var_pop",
                                            "var_samp",
                                            "json_arrayagg",
                                            "json_objectagg",
                                            "listagg",
                                            "xmlagg",
                                            "percentile_cont",
                                            "percentile_disc",
                                            "mode",
                                            "corr",
                                            "covar_pop",
                                            "covar_samp",
                                            "regr_count",
                                            "std"};
  for (const char* a : kAggregates) {
    if (sql::EqualsNoCase(w, a)) return true;
  }
  return false;
}

class BatchRewriter {
 public:
  // `grouped`: the statement is a dependent aggregate (sql/aggregate_batch.h):
  // top-level aggregates and GROUP BY are allowed and the key columns are
  // added to the GROUP BY list.
  BatchRewriter(const ParsedSql& sql, const std::vector<std::string>& keys, size_t items,
                PlaceholderStyle style, BatchForm form, bool grouped = false)
      : sql_(sql), keys_(keys), items_(items), style_(style), form_(form), grouped_(grouped) {}

  absl::StatusOr<BatchedSql> Run() {
    if (keys_.empty()) return absl::InvalidArgumentError("batched rewrite needs key parameters");
    if (form_ == BatchForm::kInList && items_ == 0) {
      return absl::InvalidArgumentError("batched rewrite needs at least one item");
    }
    absl::flat_hash_set<std::string> distinct(keys_.begin(), keys_.end());
    if (distinct.size() != keys_.size()) {
      return absl::InvalidArgumentError("batched rewrite: a key parameter is listed twice");
    }
    if (form_ == BatchForm::kAnyArray && keys_.size() > 1) {
      return Refuse("= ANY(array) takes one key parameter; several keys need the IN-list form");
    }
    auto tokens = sql::Lex(sql_.text);
    if (!tokens.ok()) return tokens.status();
    int depth = 0;
    for (const Token& t : *tokens) {
      if (!sql::IsSignificant(t)) continue;
      std::string_view text = Text(t);
      if (t.kind == TokenKind::kPunct && (text == ")" || text == "]"))
        depth = std::max(0, depth - 1);
      sig_.push_back(Sig{t, depth});
      if (t.kind == TokenKind::kPunct && (text == "(" || text == "[")) ++depth;
    }
    while (!sig_.empty() && Text(sig_.back().tok) == ";") sig_.pop_back();
    for (const Sig& s : sig_) {
      if (s.tok.kind == TokenKind::kPunct && Text(s.tok) == ";") {
        return Refuse("the query holds several statements");
      }
    }
    if (auto st = FindClauses(); !st.ok()) return st;
    if (auto st = SplitWhere(); !st.ok()) return st;
    std::vector<KeyUse> uses;
    for (const std::string& key : keys_) {
      auto use = FindKey(key);
      if (!use.ok()) return use.status();
      uses.push_back(*use);
    }
    return Emit(uses);
  }

 private:
  struct KeyUse {
    std::string name;
    size_t conj_first;  // sig index range of the `col = :p` conjunct
    size_t conj_last;
    size_t col_first;  // sig index range of the column reference
    size_t col_last;
    size_t ph;  // sig index of the placeholder
  };

  std::string_view Text(const Token& t) const {
    return std::string_view(sql_.text).substr(t.begin, t.end - t.begin);
  }
  bool IsWord(size_t i, std::string_view w) const {
    return i < sig_.size() && sig_[i].tok.kind == TokenKind::kWord &&
           sql::EqualsNoCase(Text(sig_[i].tok), w);
  }
  bool IsPunct(size_t i, std::string_view p) const {
    return i < sig_.size() && sig_[i].tok.kind == TokenKind::kPunct && Text(sig_[i].tok) == p;
  }

  absl::Status FindClauses() {
    size_t i = 0;
    if (IsWord(0, "WITH")) {
      while (i < sig_.size() && !(sig_[i].depth == 0 && IsWord(i, "SELECT"))) ++i;
    }
    if (!IsWord(i, "SELECT")) return Refuse("not a single SELECT statement");
    select_ = i;
    if (IsWord(i + 1, "DISTINCT") && IsWord(i + 2, "ON")) return Refuse("SELECT DISTINCT ON");
    for (i = select_ + 1; i < sig_.size(); ++i) {
      if (sig_[i].depth != 0) continue;
      const Token& t = sig_[i].tok;
      if (t.kind != TokenKind::kWord) continue;
      std::string word = absl::AsciiStrToUpper(sql::Av(Text(t)));
      if (word == "FROM") {
        // `a IS [NOT] DISTINCT FROM b` is an operator, not the FROM clause.
        bool is_operator =
            i >= 2 && IsWord(i - 1, "DISTINCT") && (IsWord(i - 2, "IS") || IsWord(i - 2, "NOT"));
        if (!is_operator && from_ == kNone) from_ = i;
      } else if (word == "WHERE") {
        if (where_ == kNone) where_ = i;
      } else if (word == "GROUP") {
        if (!grouped_ || !IsWord(i + 1, "BY") || group_ != kNone) {
          return Refuse("GROUP BY at the top level");
        }
        group_ = i;
        if (where_ != kNone && where_end_ == kNone) where_end_ = i;
      } else if (word == "HAVING" || word == "LIMIT" || word == "OFFSET" || word == "FETCH" ||
                 word == "UNION" || word == "INTERSECT" || word == "EXCEPT" || word == "WINDOW" ||
                 word == "OVER") {
        return Refuse(absl::StrCat(word, " at the top level"));
      } else if (word == "ORDER" || word == "FOR" || word == "LOCK") {
        if (where_ != kNone && where_end_ == kNone) where_end_ = i;
        if (group_ != kNone && group_end_ == kNone) group_end_ = i;
      } else if (!grouped_ && IsPunct(i + 1, "(") && IsAggregate(Text(t))) {
        return Refuse(absl::StrCat("aggregate ", sql::Av(Text(t)), "( at the top level"));
      }
    }
    if (from_ != kNone && !grouped_) {
      // An aggregate or window nested in a select-list expression
      // (`coalesce(sum(x), 0)`) computes over the whole batch, not per key.
      // A parenthesized subquery is its own query and is left alone.
      std::vector<int> subquery_depths;
      for (size_t i = select_ + 1; i < from_; ++i) {
        while (!subquery_depths.empty() && sig_[i].depth < subquery_depths.back()) {
          subquery_depths.pop_back();
        }
        if (IsPunct(i, "(") && (IsWord(i + 1, "SELECT") || IsWord(i + 1, "WITH"))) {
          subquery_depths.push_back(sig_[i].depth + 1);
        }
        if (!subquery_depths.empty() || sig_[i].tok.kind != TokenKind::kWord) continue;
        if (IsWord(i, "OVER")) return Refuse("window (OVER) in the select list");
        if (IsPunct(i + 1, "(") && IsAggregate(Text(sig_[i].tok))) {
          return Refuse(
              absl::StrCat("aggregate ", sql::Av(Text(sig_[i].tok)), "( in the select list"));
        }
      }
    }
    if (group_ != kNone && group_end_ == kNone) group_end_ = sig_.size();
    if (group_ != kNone && (where_ == kNone || where_ > group_)) {
      return Refuse("no WHERE clause before GROUP BY");
    }
    if (group_ != kNone && group_end_ <= group_ + 2) return Refuse("an empty GROUP BY list");
    if (from_ == kNone) return Refuse("no FROM clause at the top level");
    if (from_ == select_ + 1) return Refuse("empty select list");
    if (where_ == kNone) return Refuse("no WHERE clause at the top level");
    if (where_ < from_) return Refuse("WHERE before FROM");
    if (where_end_ == kNone) where_end_ = sig_.size();
    return absl::OkStatus();
  }

  // Splits WHERE into its depth-0 AND-ed conjuncts (the AND of a BETWEEN
  // does not split).
  absl::Status SplitWhere() {
    size_t start = where_ + 1;
    bool between = false;
    for (size_t i = where_ + 1; i < where_end_; ++i) {
      if (sig_[i].depth != 0) continue;
      if (IsWord(i, "OR")) return Refuse("OR at the top level of WHERE");
      if (IsWord(i, "BETWEEN")) between = true;
      if (IsWord(i, "AND")) {
        if (between) {
          between = false;
          continue;
        }
        conjuncts_.push_back({start, i});
        start = i + 1;
      }
    }
    conjuncts_.push_back({start, where_end_});
    return absl::OkStatus();
  }

  bool IsColumnPart(size_t i) const {
    const Token& t = sig_[i].tok;
    if (t.kind == TokenKind::kQuotedIdent) return true;
    if (t.kind != TokenKind::kWord) return false;
    std::string_view w = Text(t);
    if (absl::ascii_isdigit(static_cast<unsigned char>(w[0]))) return false;
    for (const char* kw : {"NULL", "TRUE", "FALSE", "NOT", "CASE", "EXISTS", "ANY", "ALL", "SOME",
                           "CURRENT_DATE", "CURRENT_TIME", "CURRENT_TIMESTAMP"}) {
      if (sql::EqualsNoCase(w, kw)) return false;
    }
    return true;
  }
  // True if sig_[first..last] is a column reference: name(.name)*.
  bool IsColumnRef(size_t first, size_t last) const {
    if (first > last || (last - first) % 2 != 0 || last - first > 6) return false;
    for (size_t i = first; i <= last; ++i) {
      if ((i - first) % 2 == 0 ? !IsColumnPart(i) : !IsPunct(i, ".")) return false;
    }
    return true;
  }

  absl::StatusOr<KeyUse> FindKey(const std::string& key) {
    std::optional<size_t> begin;
    for (const Placeholder& p : sql_.placeholders) {
      if (p.name != key) continue;
      if (begin) return Refuse(absl::StrCat("key parameter :", key, " is used twice"));
      begin = p.begin;
    }
    if (!begin) return Refuse(absl::StrCat("key parameter :", key, " does not appear"));
    size_t ph = 0;
    while (ph < sig_.size() && sig_[ph].tok.begin != *begin) ++ph;
    if (ph == sig_.size()) return Refuse(absl::StrCat("key parameter :", key, " not found"));
    if (sig_[ph].depth != 0) {
      return Refuse(absl::StrCat("parameter :", key, " is used inside parentheses"));
    }
    if (ph <= where_ || ph >= where_end_) {
      return Refuse(absl::StrCat("parameter :", key, " is not in the WHERE clause"));
    }
    auto conj = std::find_if(conjuncts_.begin(), conjuncts_.end(),
                             [&](const auto& c) { return ph >= c.first && ph < c.second; });
    const size_t first = conj->first;
    const size_t last = conj->second - 1;  // conj->second > ph >= first
    KeyUse use{key, first, last, 0, 0, ph};
    std::string not_equal = absl::StrCat("parameter :", key, " comparison is not '='");
    std::string shape =
        absl::StrCat("parameter :", key, " is not compared as `<column> = :", key, "`");
    size_t op;
    if (ph == last && ph >= first + 2) {  // <column> = :p
      op = ph - 1;
      use.col_first = first;
      use.col_last = op - 1;
    } else if (ph == first && last >= ph + 2) {  // :p = <column>
      op = ph + 1;
      use.col_first = op + 1;
      use.col_last = last;
    } else {
      return Refuse(shape);
    }
    if (sig_[op].tok.kind != TokenKind::kOperator) return Refuse(shape);
    if (Text(sig_[op].tok) != "=" && Text(sig_[op].tok) != "==") return Refuse(not_equal);
    if (!IsColumnRef(use.col_first, use.col_last)) {
      return Refuse(absl::StrCat("parameter :", key, " is not compared with a plain column"));
    }
    return use;
  }

  // The 0-based select-list index of an item that is exactly the key's
  // column reference (optionally aliased), or -1. Conservative: a `*` item
  // before it (an unknown number of columns) or any doubt gives -1, and the
  // key column is added as __qg_k0.
  int SelectListPosition(const KeyUse& use) const {
    size_t first = select_ + 1;
    if (IsWord(first, "DISTINCT") || IsWord(first, "ALL")) ++first;  // DISTINCT ON is refused
    int index = 0;
    for (size_t j = first; j <= from_; ++j) {
      if (j != from_ && !(sig_[j].depth == 0 && IsPunct(j, ","))) continue;
      if (j == first) return -1;  // empty item
      size_t last = j - 1;
      if (Text(sig_[last].tok) == "*") return -1;
      if (last >= first + 2 && IsWord(last - 1, "AS")) {
        last -= 2;
      } else if (last >= first + 1 && IsColumnPart(last) && IsColumnPart(last - 1)) {
        last -= 1;  // a bare alias
      }
      if (SameTokens(first, last, use.col_first, use.col_last)) return index;
      ++index;
      first = j + 1;
    }
    return -1;
  }

  // Whether sig_[a1..a2] and sig_[b1..b2] spell the same column reference
  // (unquoted words compared ignoring case, as SQL folds them).
  bool SameTokens(size_t a1, size_t a2, size_t b1, size_t b2) const {
    if (a2 < a1 || a2 - a1 != b2 - b1) return false;
    for (size_t k = 0; k <= a2 - a1; ++k) {
      const Token& x = sig_[a1 + k].tok;
      const Token& y = sig_[b1 + k].tok;
      if (x.kind != y.kind) return false;
      if (x.kind == TokenKind::kWord ? !sql::EqualsNoCase(Text(x), Text(y)) : Text(x) != Text(y)) {
        return false;
      }
    }
    return true;
  }

  std::string SigText(size_t first, size_t last) const {
    return sql_.text.substr(sig_[first].tok.begin, sig_[last].tok.end - sig_[first].tok.begin);
  }

  absl::StatusOr<BatchedSql> Emit(const std::vector<KeyUse>& uses) {
    // Edits in text order: [begin, end) replaced by a generator.
    struct Edit {
      size_t begin, end;
      int kind;  // 0: key columns insertion, 1: batched comparison, 2: removal, 3: GROUP BY keys
    };
    std::vector<Edit> edits;
    const int key_position = uses.size() == 1 && !grouped_ ? SelectListPosition(uses[0]) : -1;
    if (key_position < 0) {
      size_t after_select_list = sig_[from_ - 1].tok.end;
      edits.push_back({after_select_list, after_select_list, 0});
    }
    if (grouped_) {  // the key columns join (or start) the GROUP BY list
      const size_t at = sig_[(group_ != kNone ? group_end_ : where_end_) - 1].tok.end;
      edits.push_back({at, at, 3});
    }
    size_t first_use = 0;
    for (size_t k = 1; k < uses.size(); ++k) {
      if (uses[k].conj_first < uses[first_use].conj_first) first_use = k;
    }
    for (size_t k = 0; k < uses.size(); ++k) {
      const KeyUse& u = uses[k];
      if (k == first_use) {
        edits.push_back({sig_[u.conj_first].tok.begin, sig_[u.conj_last].tok.end, 1});
      } else {
        // Not the first key conjunct, so a depth-0 AND precedes it: drop both,
        // with the space before the AND.
        edits.push_back({sig_[u.conj_first - 2].tok.end, sig_[u.conj_last].tok.end, 2});
      }
    }
    std::sort(edits.begin(), edits.end(), [](const Edit& a, const Edit& b) {
      return a.begin < b.begin || (a.begin == b.begin && a.kind < b.kind);
    });

    BatchedSql out;
    out.key_columns = uses.size();
    out.key_position = key_position;
    Numberer numberer(style_);
    auto placeholders = sql_.placeholders.begin();
    size_t pos = 0;
    // Copies text up to `until`, rewriting ordinary placeholders on the way.
    auto copy_until = [&](size_t until) {
      while (placeholders != sql_.placeholders.end() && placeholders->begin < until) {
        if (placeholders->begin < pos) {  // inside a removed or replaced span
          ++placeholders;
          continue;
        }
        out.text.append(sql_.text, pos, placeholders->begin - pos);
        auto [text, is_new] = numberer.Named(placeholders->name);
        AppendNative(&out.text, text);
        if (is_new) out.args.push_back(BatchArg{BatchArg::Kind::kParam, placeholders->name, 0});
        pos = placeholders->end;
        ++placeholders;
      }
      out.text.append(sql_.text, pos, until - pos);
      pos = until;
    };
    for (const Edit& e : edits) {
      copy_until(e.begin);
      if (e.kind == 0) {
        for (size_t k = 0; k < uses.size(); ++k) {
          absl::StrAppend(&out.text, ", ", SigText(uses[k].col_first, uses[k].col_last),
                          " AS __qg_k", k);
        }
      } else if (e.kind == 1) {
        EmitComparison(uses, numberer, &out);
      } else if (e.kind == 3) {
        out.text += group_ != kNone ? ", " : " GROUP BY ";
        for (size_t k = 0; k < uses.size(); ++k) {
          if (k > 0) out.text += ", ";
          out.text += SigText(uses[k].col_first, uses[k].col_last);
        }
      }
      pos = e.end;
      while (placeholders != sql_.placeholders.end() && placeholders->begin < pos) ++placeholders;
    }
    copy_until(sql_.text.size());
    return out;
  }

  void EmitComparison(const std::vector<KeyUse>& uses, Numberer& numberer, BatchedSql* out) {
    std::string& text = out->text;
    if (form_ == BatchForm::kFetchAll) {
      // Every key conjunct becomes a null test (`col = NULL` matches no
      // row, so rows with a null key are not fetched at all).
      for (size_t k = 0; k < uses.size(); ++k) {
        absl::StrAppend(&text, k > 0 ? " AND " : "", SigText(uses[k].col_first, uses[k].col_last),
                        " IS NOT NULL");
      }
      return;
    }
    if (form_ == BatchForm::kAnyArray) {
      const KeyUse& u = uses[0];
      absl::StrAppend(&text, SigText(u.col_first, u.col_last), " = ANY(", numberer.Fresh(), ")");
      out->args.push_back(BatchArg{BatchArg::Kind::kKeyArray, u.name, 0});
      return;
    }
    if (uses.size() == 1) {
      const KeyUse& u = uses[0];
      absl::StrAppend(&text, SigText(u.col_first, u.col_last), " IN (");
      for (size_t i = 0; i < items_; ++i) {
        if (i > 0) text += ", ";
        text += numberer.Fresh();
        out->args.push_back(BatchArg{BatchArg::Kind::kKeyItem, u.name, i});
      }
      text += ")";
      return;
    }
    text += "(";
    for (size_t k = 0; k < uses.size(); ++k) {
      if (k > 0) text += ", ";
      text += SigText(uses[k].col_first, uses[k].col_last);
    }
    text += ") IN (VALUES ";
    for (size_t i = 0; i < items_; ++i) {
      text += i > 0 ? ", (" : "(";
      for (size_t k = 0; k < uses.size(); ++k) {
        if (k > 0) text += ", ";
        text += numberer.Fresh();
        out->args.push_back(BatchArg{BatchArg::Kind::kKeyItem, uses[k].name, i});
      }
      text += ")";
    }
    text += ")";
  }

  static constexpr size_t kNone = static_cast<size_t>(-1);

  const ParsedSql& sql_;
  const std::vector<std::string>& keys_;
  size_t items_;
  PlaceholderStyle style_;
  BatchForm form_;
  bool grouped_;
  std::vector<Sig> sig_;
  size_t select_ = kNone;
  size_t from_ = kNone;
  size_t where_ = kNone;
  size_t where_end_ = kNone;
  size_t group_ = kNone;
  size_t group_end_ = kNone;
  std::vector<std::pair<size_t, size_t>> conjuncts_;  // [first, end) sig indexes
};

}  // namespace

absl::StatusOr<BatchedSql> RewriteInsertBatched(const ParsedSql& sql,
                                                const std::vector<std::string>& key_params,
                                                size_t items, PlaceholderStyle style) {
  auto refuse = [](std::string_view why) {
    return absl::FailedPreconditionError(absl::StrCat("cannot batch this write: ", sql::Av(why)));
  };
  if (items == 0) return absl::InvalidArgumentError("batched rewrite needs at least one item");
  auto tokens = sql::Lex(sql.text);
  if (!tokens.ok()) return tokens.status();
  struct Sig {
    Token tok;
    int depth;
  };
  std::vector<Sig> sig;
  int depth = 0;
  auto text_of = [&](const Token& t) {
    return std::string_view(sql.text).substr(t.begin, t.end - t.begin);
  };
  for (const Token& t : *tokens) {
    if (!sql::IsSignificant(t)) continue;
    std::string_view s = text_of(t);
    if (t.kind == TokenKind::kPunct && (s == ")" || s == "]")) depth = std::max(0, depth - 1);
    sig.push_back(Sig{t, depth});
    if (t.kind == TokenKind::kPunct && (s == "(" || s == "[")) ++depth;
  }
  while (!sig.empty() && text_of(sig.back().tok) == ";") sig.pop_back();
  auto is_word = [&](size_t i, std::string_view w) {
    return i < sig.size() && sig[i].tok.kind == TokenKind::kWord &&
           sql::EqualsNoCase(text_of(sig[i].tok), w);
  };
  if (!is_word(0, "INSERT")) return refuse("not an INSERT … VALUES (…) statement");
  size_t values = sig.size();
  for (size_t i = 1; i < sig.size(); ++i) {
    if (sig[i].depth == 0 && is_word(i, "VALUES")) {
      values = i;
      break;
    }
    if (sig[i].depth == 0 && (is_word(i, "SELECT") || is_word(i, "WITH"))) {
      return refuse("INSERT … SELECT");
    }
  }
  if (values + 1 >= sig.size() || text_of(sig[values + 1].tok) != "(") {
    return refuse("no VALUES (…) tuple");
  }
  const size_t open = values + 1;
  size_t close = open + 1;
  while (close < sig.size() && !(sig[close].depth == 0 && text_of(sig[close].tok) == ")")) ++close;
  if (close >= sig.size()) return refuse("an unterminated VALUES tuple");
  if (close + 1 != sig.size()) {
    return refuse(absl::StrCat("\"", sql::Av(text_of(sig[close + 1].tok)),
                               "\" after the VALUES tuple (several rows, RETURNING or an "
                               "upsert clause run once per binding)"));
  }
  const size_t tuple_begin = sig[open].tok.begin;
  const size_t tuple_end = sig[close].tok.end;
  for (const Placeholder& p : sql.placeholders) {
    if (p.begin < tuple_begin || p.end > tuple_end) {
      return refuse(absl::StrCat("placeholder :", p.name, " outside the VALUES tuple"));
    }
  }
  for (const std::string& k : key_params) {
    bool used = false;
    for (const Placeholder& p : sql.placeholders) used = used || p.name == k;
    if (!used) return refuse(absl::StrCat("key parameter :", k, " is not in the VALUES tuple"));
  }
  BatchedSql out;
  out.text = sql.text.substr(0, tuple_begin);
  Numberer numberer(style);
  for (size_t item = 0; item < items; ++item) {
    if (item > 0) out.text += ", ";
    size_t pos = tuple_begin;
    for (const Placeholder& p : sql.placeholders) {
      out.text.append(sql.text, pos, p.begin - pos);
      AppendNative(&out.text, numberer.Fresh());
      const bool key = std::find(key_params.begin(), key_params.end(), p.name) != key_params.end();
      out.args.push_back(BatchArg{key ? BatchArg::Kind::kKeyItem : BatchArg::Kind::kParam, p.name,
                                  key ? item : 0});
      pos = p.end;
    }
    out.text.append(sql.text, pos, tuple_end - pos);
  }
  return out;
}

absl::StatusOr<BatchedSql> RewriteBatched(const ParsedSql& sql,
                                          const std::vector<std::string>& key_params, size_t items,
                                          PlaceholderStyle style, BatchForm form) {
  return BatchRewriter(sql, key_params, items, style, form).Run();
}

namespace sql {

absl::StatusOr<BatchedSql> RewriteBatchedGrouped(const ParsedSql& sql,
                                                 const std::vector<std::string>& key_params,
                                                 size_t items, PlaceholderStyle style,
                                                 BatchForm form) {
  return BatchRewriter(sql, key_params, items, style, form, /*grouped=*/true).Run();
}

}  // namespace sql

}  // namespace qg
