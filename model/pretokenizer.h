// The pieces of byte-level BPE that the tokenizer (model/tokenizer.cc) and the BPE trainer
// (model/bpe_trainer.cc) share: Qwen2/Qwen3's pre-tokenizer split, NFC normalisation, and GPT-2's byte map.
#ifndef SKILLSD_MODEL_PRETOKENIZER_H_
#define SKILLSD_MODEL_PRETOKENIZER_H_

#include <unicode/umachine.h>

#include <cstddef>
#include <vector>

#include "absl/strings/string_view.h"

namespace skillsd::model {

// The split pattern of the Qwen2/Qwen3 tokenizers, implemented by hand in MatchPreToken.
inline constexpr absl::string_view kQwen2Pattern =
    "(?i:'s|'t|'re|'ve|'m|'ll|'d)|[^\\r\\n\\p{L}\\p{N}]?\\p{L}+|\\p{N}| ?[^\\s\\p{L}\\p{N}]+[\\r\\n]*|\\s*[\\r\\n]+|"
    "\\s+(?!\\S)|\\s+";

// End (exclusive) of the pre-token starting at `i`: the first alternative of kQwen2Pattern that matches there,
// with the regex's greedy/backtracking semantics worked out per alternative.
size_t MatchPreToken(const std::vector<UChar32>& s, size_t i);

// GPT-2's byte -> printable code point map.
std::vector<UChar32> ByteToCodePoint();

// The code points of UTF-8 `text`, NFC-normalised when `nfc` (invalid bytes become U+FFFD).
std::vector<UChar32> NormalizedCodePoints(absl::string_view text, bool nfc);

}  // namespace skillsd::model

#endif  // SKILLSD_MODEL_PRETOKENIZER_H_
