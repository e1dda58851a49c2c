#include "model/tokenizer.h"

#include <unicode/normalizer2.h>
#include <unicode/uchar.h>
#include <unicode/unistr.h>

#include <algorithm>
#include <climits>

#include "absl/strings/str_cat.h"
#include "core/file_util.h"
#include "core/json.h"
#include "core/status.h"
#include "core/utf8.h"

namespace skillsd::model {
namespace {

// The split pattern of the Qwen2/Qwen3 tokenizers, implemented by hand in PreTokenize below.
constexpr absl::string_view kQwen2Pattern =
    "(?i:'s|'t|'re|'ve|'m|'ll|'d)|[^\\r\\n\\p{L}\\p{N}]?\\p{L}+|\\p{N}| ?[^\\s\\p{L}\\p{N}]+[\\r\\n]*|\\s*[\\r\\n]+|"
    "\\s+(?!\\S)|\\s+";

bool IsLetter(UChar32 c) { return (U_MASK(u_charType(c)) & U_GC_L_MASK) != 0; }
bool IsNumber(UChar32 c) { return (U_MASK(u_charType(c)) & U_GC_N_MASK) != 0; }
// \s as ECMAScript defines it (the reference implementation's regex engine): line terminators, tab, vertical
// tab, form feed, U+FEFF and the space separators (Zs). (Rust/Oniguruma's \s differ only in U+0085 and U+FEFF.)
bool IsSpace(UChar32 c) {
  return (c >= 0x09 && c <= 0x0D) || c == 0xFEFF || c == 0x2028 || c == 0x2029 || u_charType(c) == U_SPACE_SEPARATOR;
}
bool IsNewline(UChar32 c) { return c == '\r' || c == '\n'; }
UChar32 AsciiLower(UChar32 c) { return (c >= 'A' && c <= 'Z') ? c + 32 : c; }

// End (exclusive) of the pre-token starting at `i`: the first alternative of kQwen2Pattern that matches there,
// with the regex's greedy/backtracking semantics worked out per alternative.
size_t MatchPreToken(const std::vector<UChar32>& s, size_t i) {
  const size_t n = s.size();
  const UChar32 c = s[i];
  // (?i:'s|'t|'re|'ve|'m|'ll|'d)
  if (c == '\'' && i + 1 < n) {
    const UChar32 a = AsciiLower(s[i + 1]);
    if (a == 's' || a == 't' || a == 'm' || a == 'd') return i + 2;
    if (i + 2 < n) {
      const UChar32 b = AsciiLower(s[i + 2]);
      if ((a == 'r' && b == 'e') || (a == 'v' && b == 'e') || (a == 'l' && b == 'l')) return i + 3;
    }
  }
  // [^\r\n\p{L}\p{N}]?\p{L}+
  if (!IsLetter(c) && !IsNumber(c) && !IsNewline(c) && i + 1 < n && IsLetter(s[i + 1])) {
    size_t j = i + 1;
    while (j < n && IsLetter(s[j])) ++j;
    return j;
  }
  if (IsLetter(c)) {
    size_t j = i;
    while (j < n && IsLetter(s[j])) ++j;
    return j;
  }
  // \p{N}
  if (IsNumber(c)) return i + 1;
  // ' ?[^\s\p{L}\p{N}]+[\r\n]*'
  auto other = [](UChar32 x) { return !IsSpace(x) && !IsLetter(x) && !IsNumber(x); };
  size_t j = i;
  if (c == ' ' && i + 1 < n && other(s[i + 1])) j = i + 1;
  if (other(s[j])) {
    while (j < n && other(s[j])) ++j;
    while (j < n && IsNewline(s[j])) ++j;
    return j;
  }
  // Whitespace: \s*[\r\n]+ | \s+(?!\S) | \s+
  size_t k = i;
  while (k < n && IsSpace(s[k])) ++k;
  if (k > i) {
    for (size_t p = k; p > i; --p) {
      if (IsNewline(s[p - 1])) return p;  // the run up to its last newline
    }
    if (k == n) return k;
    if (k - i >= 2) return k - 1;  // leave the last space to prefix the next word
    return k;
  }
  return i + 1;  // unreachable: every code point is a letter, a number, a space or "other"
}

// GPT-2's byte -> printable code point map.
std::vector<UChar32> ByteToCodePoint() {
  std::vector<UChar32> map(256);
  int extra = 0;
  for (int b = 0; b < 256; ++b) {
    const bool printable = (b >= 33 && b <= 126) || (b >= 161 && b <= 172) || (b >= 174 && b <= 255);
    map[b] = printable ? b : 256 + extra++;
  }
  return map;
}

// NFC-normalised code points of UTF-8 `text` (invalid bytes become U+FFFD).
std::vector<UChar32> NormalizedCodePoints(absl::string_view text, bool nfc) {
  icu::UnicodeString u = icu::UnicodeString::fromUTF8(icu::StringPiece(text.data(), static_cast<int32_t>(text.size())));
  if (nfc) {
    UErrorCode status = U_ZERO_ERROR;
    const icu::Normalizer2* normalizer = icu::Normalizer2::getNFCInstance(status);
    if (U_SUCCESS(status)) {
      icu::UnicodeString normalized = normalizer->normalize(u, status);
      if (U_SUCCESS(status)) u = normalized;
    }
  }
  std::vector<UChar32> cps;
  cps.reserve(static_cast<size_t>(u.length()));
  for (int32_t i = 0; i < u.length(); i = u.moveIndex32(i, 1)) cps.push_back(u.char32At(i));
  return cps;
}

}  // namespace

std::string Tokenizer::TrainBpeJson(const std::vector<std::string>& corpus, int vocab_size,
                                    const std::vector<std::string>& special_tokens, const std::string& isolated) {
  const std::vector<UChar32> isolated_cps = NormalizedCodePoints(isolated, /*nfc=*/true);
  auto is_isolated = [&](UChar32 cp) {
    return std::find(isolated_cps.begin(), isolated_cps.end(), cp) != isolated_cps.end();
  };
  const std::vector<UChar32> byte_cp = ByteToCodePoint();
  std::vector<std::string> token_text(256);
  for (int b = 0; b < 256; ++b) AppendUtf8(byte_cp[b], &token_text[b]);
  // Word (pre-token bytes) frequencies.
  absl::flat_hash_map<std::string, int64_t> counts;
  for (const std::string& text : corpus) {
    const std::vector<UChar32> cps = NormalizedCodePoints(text, /*nfc=*/true);
    for (size_t i = 0; i < cps.size();) {
      const size_t end = MatchPreToken(cps, i);
      std::string word;
      for (size_t k = i; k < end; ++k) {
        if (is_isolated(cps[k])) {  // a word of its own
          if (!word.empty()) ++counts[word];
          word.clear();
          AppendUtf8(cps[k], &word);
          ++counts[word];
          word.clear();
        } else {
          AppendUtf8(cps[k], &word);
        }
      }
      if (!word.empty()) ++counts[word];
      i = end;
    }
  }
  std::vector<std::pair<std::string, int64_t>> sorted_words(counts.begin(), counts.end());
  std::sort(sorted_words.begin(), sorted_words.end());
  std::vector<std::vector<int32_t>> words;
  std::vector<int64_t> freq;
  for (const auto& [word, count] : sorted_words) {
    words.emplace_back(word.begin(), word.end());
    for (int32_t& b : words.back()) b &= 0xFF;
    freq.push_back(count);
  }
  std::vector<std::pair<int32_t, int32_t>> merges;
  while (static_cast<int>(token_text.size()) < vocab_size) {
    absl::flat_hash_map<uint64_t, int64_t> pairs;
    for (size_t w = 0; w < words.size(); ++w) {
      for (size_t i = 0; i + 1 < words[w].size(); ++i) {
        pairs[(static_cast<uint64_t>(words[w][i]) << 32) | static_cast<uint32_t>(words[w][i + 1])] += freq[w];
      }
    }
    uint64_t best = 0;
    int64_t best_count = 1;
    for (const auto& [pair, count] : pairs) {
      if (count > best_count || (count == best_count && count > 1 && pair < best)) {
        best = pair;
        best_count = count;
      }
    }
    if (best_count < 2) break;
    const int32_t left = static_cast<int32_t>(best >> 32), right = static_cast<int32_t>(best & 0xFFFFFFFF);
    const int32_t merged = static_cast<int32_t>(token_text.size());
    token_text.push_back(token_text[left] + token_text[right]);
    merges.emplace_back(left, right);
    for (auto& word : words) {
      std::vector<int32_t> next;
      next.reserve(word.size());
      for (size_t i = 0; i < word.size(); ++i) {
        if (i + 1 < word.size() && word[i] == left && word[i + 1] == right) {
          next.push_back(merged);
          ++i;
        } else {
          next.push_back(word[i]);
        }
      }
      word = std::move(next);
    }
  }
  std::string vocab, merge_list, added;
  for (size_t id = 0; id < token_text.size(); ++id) {
    absl::StrAppend(&vocab, id ? ", " : "", JsonQuote(token_text[id]), ": ", id);
  }
  for (size_t m = 0; m < merges.size(); ++m) {
    absl::StrAppend(&merge_list, m ? ", " : "", "[", JsonQuote(token_text[merges[m].first]), ", ",
                    JsonQuote(token_text[merges[m].second]), "]");
  }
  for (size_t s = 0; s < special_tokens.size(); ++s) {
    absl::StrAppend(&added, s ? ", " : "", "{\"id\": ", token_text.size() + s,
                    ", \"content\": ", JsonQuote(special_tokens[s]),
                    ", \"single_word\": false, \"lstrip\": false, \"rstrip\": false, \"normalized\": false, "
                    "\"special\": true}");
  }
  return absl::StrCat(
      "{\"version\": \"1.0\", \"truncation\": null, \"padding\": null, \"added_tokens\": [", added,
      "], \"normalizer\": {\"type\": \"NFC\"}, \"pre_tokenizer\": {\"type\": \"Sequence\", \"pretokenizers\": "
      "[{\"type\": \"Split\", \"pattern\": {\"Regex\": ",
      JsonQuote(kQwen2Pattern),
      "}, \"behavior\": \"Isolated\", \"invert\": false}, {\"type\": \"ByteLevel\", \"add_prefix_space\": false, "
      "\"trim_offsets\": false, \"use_regex\": false}]}, \"post_processor\": {\"type\": \"ByteLevel\", "
      "\"add_prefix_space\": false, \"trim_offsets\": false, \"use_regex\": false}, \"decoder\": {\"type\": "
      "\"ByteLevel\", \"add_prefix_space\": false, \"trim_offsets\": false, \"use_regex\": false}, \"model\": "
      "{\"type\": \"BPE\", \"dropout\": null, \"unk_token\": null, \"continuing_subword_prefix\": \"\", "
      "\"end_of_word_suffix\": \"\", \"fuse_unk\": false, \"byte_fallback\": false, \"ignore_merges\": false, "
      "\"vocab\": {",
      vocab, "}, \"merges\": [", merge_list, "]}}\n");
}

absl::StatusOr<std::unique_ptr<Tokenizer>> Tokenizer::FromFile(const std::string& path) {
  ASSIGN_OR_RETURN(std::string text, ReadFile(path));
  absl::StatusOr<std::unique_ptr<Tokenizer>> tokenizer = FromJson(text);
  if (!tokenizer.ok()) return Annotate(tokenizer.status(), path);
  return tokenizer;
}

absl::StatusOr<std::unique_ptr<Tokenizer>> Tokenizer::FromJson(absl::string_view json_text) {
  auto bad = [](absl::string_view why) { return absl::InvalidArgumentError(absl::StrCat("tokenizer.json: ", why)); };
  ASSIGN_OR_RETURN(JsonValue root, ParseJson(json_text));
  if (!root.is_object()) return bad("not a JSON object");
  auto tok = std::unique_ptr<Tokenizer>(new Tokenizer());

  if (const JsonValue* norm = root.Find("normalizer"); norm != nullptr && !norm->is_null()) {
    const JsonValue* type = norm->Find("type");
    if (type == nullptr || !type->is_string() || type->string() != "NFC") {
      return bad("unsupported normalizer (only NFC or none)");
    }
    tok->nfc_ = true;
  }
  const JsonValue* pre = root.Find("pre_tokenizer");
  if (pre == nullptr || !pre->is_object()) return bad("missing pre_tokenizer");
  std::vector<const JsonValue*> steps;
  if (const JsonValue* type = pre->Find("type"); type != nullptr && type->is_string() && type->string() == "Sequence") {
    const JsonValue* list = pre->Find("pretokenizers");
    if (list == nullptr || !list->is_array()) return bad("pre_tokenizer.pretokenizers missing");
    for (const JsonValue& step : list->array()) steps.push_back(&step);
  } else {
    steps.push_back(pre);
  }
  bool byte_level = false;
  for (const JsonValue* step : steps) {
    const JsonValue* type = step->Find("type");
    const std::string name = type != nullptr && type->is_string() ? type->string() : "";
    if (name == "Split") {
      const JsonValue* pattern = step->Find("pattern");
      const JsonValue* regex = pattern != nullptr ? pattern->Find("Regex") : nullptr;
      const JsonValue* behavior = step->Find("behavior");
      const JsonValue* invert = step->Find("invert");
      if (regex == nullptr || !regex->is_string() || regex->string() != kQwen2Pattern || behavior == nullptr ||
          !behavior->is_string() || behavior->string() != "Isolated" || (invert != nullptr && invert->bool_value())) {
        return bad("unsupported Split pre-tokenizer (only the Qwen2 pattern, Isolated)");
      }
      tok->split_pattern_ = true;
    } else if (name == "ByteLevel") {
      const JsonValue* prefix = step->Find("add_prefix_space");
      const JsonValue* use_regex = step->Find("use_regex");
      if ((prefix != nullptr && prefix->bool_value()) || use_regex == nullptr || use_regex->bool_value()) {
        return bad("unsupported ByteLevel pre-tokenizer (needs add_prefix_space false, use_regex false)");
      }
      byte_level = true;
    } else {
      return bad(absl::StrCat("unsupported pre-tokenizer '", name, "'"));
    }
  }
  if (!byte_level) return bad("not a byte-level tokenizer");

  const JsonValue* model = root.Find("model");
  if (model == nullptr || !model->is_object()) return bad("missing model");
  if (const JsonValue* t = model->Find("type"); t == nullptr || !t->is_string() || t->string() != "BPE") {
    return bad("model.type must be BPE");
  }
  if (const JsonValue* f = model->Find("byte_fallback"); f != nullptr && f->bool_value()) {
    return bad("byte_fallback is not supported");
  }
  for (const char* field : {"continuing_subword_prefix", "end_of_word_suffix"}) {
    if (const JsonValue* v = model->Find(field); v != nullptr && v->is_string() && !v->string().empty()) {
      return bad(absl::StrCat("model.", field, " is not supported"));
    }
  }
  if (const JsonValue* v = model->Find("ignore_merges"); v != nullptr && v->is_bool())
    tok->ignore_merges_ = v->bool_value();
  const JsonValue* vocab = model->Find("vocab");
  if (vocab == nullptr || !vocab->is_object()) return bad("model.vocab missing");
  int64_t max_id = -1;
  for (const auto& [token, id] : vocab->object()) {
    if (!id.is_integer() || id.integer() < 0 || id.integer() > INT32_MAX / 2) return bad("vocab ids must be integers");
    max_id = std::max(max_id, id.integer());
  }
  const JsonValue* added = root.Find("added_tokens");
  if (added != nullptr && added->is_array()) {
    for (const JsonValue& a : added->array()) {
      const JsonValue* id = a.Find("id");
      const JsonValue* content = a.Find("content");
      if (id == nullptr || !id->is_integer() || id->integer() < 0 || id->integer() > INT32_MAX / 2 ||
          content == nullptr || !content->is_string() || content->string().empty()) {
        return bad("added_tokens entries need an id and a content");
      }
      max_id = std::max(max_id, id->integer());
    }
  }
  tok->id_to_token_.assign(static_cast<size_t>(max_id + 1), "");
  tok->is_added_.assign(static_cast<size_t>(max_id + 1), false);
  for (const auto& [token, id] : vocab->object()) {
    tok->vocab_[token] = static_cast<int32_t>(id.integer());
    tok->id_to_token_[id.integer()] = token;
  }
  if (added != nullptr && added->is_array()) {
    for (const JsonValue& a : added->array()) {
      const int32_t id = static_cast<int32_t>(a.Find("id")->integer());
      tok->id_to_token_[id] = a.Find("content")->string();
      tok->is_added_[id] = true;
      tok->added_.emplace_back(a.Find("content")->string(), id);
    }
  }
  std::sort(tok->added_.begin(), tok->added_.end(),
            [](const auto& a, const auto& b) { return a.first.size() > b.first.size(); });
  for (const auto& [content, id] : tok->added_) tok->added_first_byte_[static_cast<unsigned char>(content[0])] = true;

  const std::vector<UChar32> byte_cp = ByteToCodePoint();
  for (int b = 0; b < 256; ++b) {
    const UChar32 cp = byte_cp[b];
    tok->unicode_to_byte_[cp] = static_cast<uint8_t>(b);
    std::string s;
    AppendUtf8(cp, &s);
    auto it = tok->vocab_.find(s);
    if (it == tok->vocab_.end()) return bad(absl::StrCat("the vocabulary lacks the token of byte ", b));
    tok->byte_to_id_[b] = it->second;
  }

  const JsonValue* merges = model->Find("merges");
  if (merges == nullptr || !merges->is_array()) return bad("model.merges missing");
  int32_t rank = 0;
  for (const JsonValue& m : merges->array()) {
    std::string left, right;
    if (m.is_string()) {
      const size_t space = m.string().find(' ');
      if (space == std::string::npos) return bad(absl::StrCat("merge ", rank, " is not 'a b'"));
      left = m.string().substr(0, space);
      right = m.string().substr(space + 1);
    } else if (m.is_array() && m.array().size() == 2 && m.array()[0].is_string() && m.array()[1].is_string()) {
      left = m.array()[0].string();
      right = m.array()[1].string();
    } else {
      return bad(absl::StrCat("merge ", rank, " is malformed"));
    }
    auto l = tok->vocab_.find(left), r = tok->vocab_.find(right), merged = tok->vocab_.find(left + right);
    if (l == tok->vocab_.end() || r == tok->vocab_.end() || merged == tok->vocab_.end()) {
      return bad(absl::StrCat("merge ", rank, " ('", left, "', '", right, "') names tokens not in the vocabulary"));
    }
    const uint64_t key = (static_cast<uint64_t>(l->second) << 32) | static_cast<uint32_t>(r->second);
    tok->merges_.try_emplace(key, Merge{rank, merged->second});
    ++rank;
  }
  return tok;
}

int32_t Tokenizer::TokenId(absl::string_view token) const {
  for (const auto& [content, id] : added_) {
    if (content == token) return id;
  }
  auto it = vocab_.find(token);
  return it == vocab_.end() ? -1 : it->second;
}

void Tokenizer::EncodeWord(absl::string_view bytes, std::vector<int32_t>* out) const {
  std::vector<int32_t> symbols;
  symbols.reserve(bytes.size());
  for (unsigned char b : bytes) symbols.push_back(byte_to_id_[b]);
  if (ignore_merges_ && symbols.size() > 1) {
    std::string word;
    for (unsigned char b : bytes) word += id_to_token_[byte_to_id_[b]];
    if (auto it = vocab_.find(word); it != vocab_.end()) {
      out->push_back(it->second);
      return;
    }
  }
  while (symbols.size() > 1) {
    int32_t best_rank = INT32_MAX, best_merged = -1;
    size_t best = 0;
    for (size_t i = 0; i + 1 < symbols.size(); ++i) {
      auto it = merges_.find((static_cast<uint64_t>(symbols[i]) << 32) | static_cast<uint32_t>(symbols[i + 1]));
      if (it != merges_.end() && it->second.rank < best_rank) {
        best_rank = it->second.rank;
        best_merged = it->second.merged;
        best = i;
      }
    }
    if (best_merged < 0) break;
    symbols[best] = best_merged;
    symbols.erase(symbols.begin() + static_cast<std::ptrdiff_t>(best) + 1);
  }
  out->insert(out->end(), symbols.begin(), symbols.end());
}

void Tokenizer::EncodeSection(absl::string_view text, std::vector<int32_t>* out) const {
  if (text.empty()) return;
  // Invalid UTF-8 becomes U+FFFD (maximal subparts), as in any UTF-8 decoder.
  const std::vector<UChar32> cps = NormalizedCodePoints(text, nfc_);
  std::string word;
  for (size_t i = 0; i < cps.size();) {
    const size_t end = split_pattern_ ? MatchPreToken(cps, i) : cps.size();
    word.clear();
    for (size_t k = i; k < end; ++k) AppendUtf8(cps[k], &word);
    EncodeWord(word, out);
    i = end;
  }
}

std::vector<int32_t> Tokenizer::EncodeOrdinary(absl::string_view text) const {
  std::vector<int32_t> out;
  EncodeSection(text, &out);
  return out;
}

std::vector<int32_t> Tokenizer::Encode(absl::string_view text) const {
  std::vector<int32_t> out;
  size_t start = 0;
  for (size_t i = 0; i < text.size(); ++i) {
    if (!added_first_byte_[static_cast<unsigned char>(text[i])]) continue;
    for (const auto& [content, id] : added_) {  // longest first, so the leftmost match is also the longest
      if (text.substr(i, content.size()) == content) {
        EncodeSection(text.substr(start, i - start), &out);
        out.push_back(id);
        start = i + content.size();
        i = start - 1;
        break;
      }
    }
  }
  EncodeSection(text.substr(start), &out);
  return out;
}

std::string Tokenizer::Decode(const std::vector<int32_t>& ids) const {
  std::string out;
  for (int32_t id : ids) {
    if (id < 0 || id >= static_cast<int32_t>(id_to_token_.size())) continue;
    const std::string& token = id_to_token_[id];
    if (is_added_[id]) {
      out += token;
      continue;
    }
    // Each code point of a byte-level token stands for one byte.
    icu::UnicodeString u =
        icu::UnicodeString::fromUTF8(icu::StringPiece(token.data(), static_cast<int32_t>(token.size())));
    for (int32_t i = 0; i < u.length(); i = u.moveIndex32(i, 1)) {
      const UChar32 cp = u.char32At(i);
      if (cp >= 0 && cp < 324) out.push_back(static_cast<char>(unicode_to_byte_[cp]));
    }
  }
  return out;
}

}  // namespace skillsd::model
