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
#include "model/pretokenizer.h"

namespace skillsd::model {
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
