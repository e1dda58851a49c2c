// libFuzzer target: tokenizer.json loading and byte-level BPE encoding. The first byte picks the input's use:
// even = the rest is a tokenizer.json (loading answers with a tokenizer or a status, never crashes); odd = the
// rest is text for a fixed tokenizer trained on Sokoban-like text: ids are inside the vocabulary, ASCII text
// decodes back exactly, and any text's ids decode to a text that encodes to the same ids (the tokenizer
// normalises first — NFC, invalid UTF-8 replaced — so decoding gives the normalised text).
#include <algorithm>
#include <cstddef>
#include <cstdint>
#include <cstdlib>
#include <memory>
#include <string>

#include "model/tokenizer.h"

namespace {

const skillsd::model::Tokenizer& Fixed() {
  static const skillsd::model::Tokenizer* tokenizer = [] {
    const std::string json = skillsd::model::Tokenizer::TrainBpeJson(
        {"<answer>Up || Left</answer>", "######\n#_P_O#\n#_X__#\n######", "Moves left: 40. Boxes on targets: 0/2.",
         "Here is a skill summary from a similar past task", "日本語 テキスト émoji 🙂"},
        300, {"<|endoftext|>", "<|im_start|>", "<|im_end|>"}, "#_OXPS<>");
    return skillsd::model::Tokenizer::FromJson(json).value().release();
  }();
  return *tokenizer;
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  if (size == 0) return 0;
  const std::string rest(reinterpret_cast<const char*>(data) + 1, size - 1);
  if (data[0] % 2 == 0) {
    auto tokenizer = skillsd::model::Tokenizer::FromJson(rest);
    if (tokenizer.ok()) (void)(*tokenizer)->Encode("<|im_start|>user\nUp Down<|im_end|>");
    return 0;
  }
  const skillsd::model::Tokenizer& tokenizer = Fixed();
  const std::vector<int32_t> ids = tokenizer.EncodeOrdinary(rest);
  for (int32_t id : ids) {
    if (id < 0 || id >= tokenizer.vocab_size()) std::abort();
  }
  const std::string decoded = tokenizer.Decode(ids);
  const bool ascii = std::all_of(rest.begin(), rest.end(), [](char c) { return static_cast<unsigned char>(c) < 0x80; });
  if (ascii && decoded != rest) std::abort();
  if (tokenizer.EncodeOrdinary(decoded) != ids) std::abort();
  (void)tokenizer.Encode(rest);  // special tokens recognised: must not crash either
  return 0;
}
