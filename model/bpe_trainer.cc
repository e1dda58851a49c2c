// Tokenizer::TrainBpeJson: a byte-level BPE learned from a corpus (the tiny default model's tokenizer).
#include <algorithm>
#include <string>
#include <utility>
#include <vector>

#include "absl/container/flat_hash_map.h"
#include "absl/strings/str_cat.h"
#include "core/json.h"
#include "core/utf8.h"
#include "model/pretokenizer.h"
#include "model/tokenizer.h"

namespace skillsd::model {

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

}  // namespace skillsd::model
