// Byte-level BPE tokenizers from a Hugging Face tokenizer.json (the GPT-2 / Qwen2 / Qwen3 family): NFC
// normalizer, the Qwen2 pre-tokenizer split pattern, byte-level mapping, BPE merges by rank, added and special
// tokens matched in the raw text. Encoding is checked for exact token-id equality against an independent
// implementation (@lenml/tokenizers) on the real Qwen3 tokenizer (see model/tokenizer_parity.sh).
// No LibTorch. Thread-safe after construction.
#ifndef SKILLSD_MODEL_TOKENIZER_H_
#define SKILLSD_MODEL_TOKENIZER_H_

#include <cstdint>
#include <memory>
#include <string>
#include <vector>

#include "absl/container/flat_hash_map.h"
#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"

namespace skillsd::model {

class Tokenizer {
 public:
  // Parses tokenizer.json text. INVALID_ARGUMENT for anything other than a byte-level BPE model with the
  // supported normalizer (NFC or none) and pre-tokenizer (the Qwen2 split pattern and/or ByteLevel), or for
  // merges naming tokens not in the vocabulary.
  static absl::StatusOr<std::unique_ptr<Tokenizer>> FromJson(absl::string_view json_text);
  static absl::StatusOr<std::unique_ptr<Tokenizer>> FromFile(const std::string& path);

  // Trains a byte-level BPE tokenizer with Qwen3's normalizer and pre-tokenizer on `corpus`: the 256 byte
  // tokens, then the most frequent adjacent pairs merged until `vocab_size` tokens (or no pair occurs twice),
  // then `special_tokens`. Deterministic (ties go to the smaller pair of ids). Returns tokenizer.json text that
  // FromJson and Hugging Face tokenizers both read. No merge is learned across a character of `isolated` (its
  // own bytes still merge): the tiny Sokoban model gets one token per grid cell, so columns line up.
  static std::string TrainBpeJson(const std::vector<std::string>& corpus, int vocab_size,
                                  const std::vector<std::string>& special_tokens, const std::string& isolated = "");

  // Token ids of `text` (any bytes; invalid UTF-8 bytes are tokenized as their bytes). Added and special tokens
  // written in the text become their ids.
  std::vector<int32_t> Encode(absl::string_view text) const;
  // Token ids of `text` with added/special tokens treated as plain text (for user content that must not
  // inject control tokens).
  std::vector<int32_t> EncodeOrdinary(absl::string_view text) const;
  // The bytes of `ids` (added tokens as their content). Out-of-range ids are skipped.
  std::string Decode(const std::vector<int32_t>& ids) const;

  // The id of a vocabulary or added token, or -1.
  int32_t TokenId(absl::string_view token) const;
  int64_t vocab_size() const { return static_cast<int64_t>(id_to_token_.size()); }

 private:
  Tokenizer() = default;
  void EncodeSection(absl::string_view text, std::vector<int32_t>* out) const;
  void EncodeWord(absl::string_view word_bytes, std::vector<int32_t>* out) const;

  struct Merge {
    int32_t rank;
    int32_t merged;
  };
  bool nfc_ = false;
  bool split_pattern_ = false;
  bool ignore_merges_ = false;
  absl::flat_hash_map<std::string, int32_t> vocab_;  // byte-level token text -> id
  absl::flat_hash_map<uint64_t, Merge> merges_;      // (left id << 32 | right id) -> rank, merged id
  std::vector<std::string> id_to_token_;             // id -> byte-level text (added tokens: content)
  std::vector<bool> is_added_;
  int32_t byte_to_id_[256] = {};
  uint8_t unicode_to_byte_[324] = {};                   // byte-level code point -> byte
  std::vector<std::pair<std::string, int32_t>> added_;  // added tokens, longest first
  bool added_first_byte_[256] = {};                     // bytes that start some added token
};

}  // namespace skillsd::model

#endif  // SKILLSD_MODEL_TOKENIZER_H_
