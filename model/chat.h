// ChatML as Qwen uses it — "<|im_start|>{role}\n{content}<|im_end|>\n" — built as token segments, so a
// multi-turn context is a concatenation of segments and generated tokens are never re-tokenized. Content is
// encoded as ordinary text: control tokens written inside content stay text and cannot open or close a turn.
// Thread-safe (immutable).
#ifndef SKILLSD_MODEL_CHAT_H_
#define SKILLSD_MODEL_CHAT_H_

#include <cstdint>
#include <vector>

#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"
#include "model/tokenizer.h"

namespace skillsd::model {

class ChatTemplate {
 public:
  // Needs <|im_start|> and <|im_end|> in the tokenizer (NOT_FOUND otherwise). `tokenizer` must outlive this.
  static absl::StatusOr<ChatTemplate> Create(const Tokenizer* tokenizer);

  // "<|im_start|>{role}\n"
  std::vector<int32_t> Header(absl::string_view role) const;
  // The content of a message, as ordinary text.
  std::vector<int32_t> Content(absl::string_view text) const { return tokenizer_->EncodeOrdinary(text); }
  // "<|im_end|>\n"
  std::vector<int32_t> Footer() const { return {im_end_, newline_}; }
  // Header + Content + Footer.
  std::vector<int32_t> Message(absl::string_view role, absl::string_view content) const;
  // "<|im_start|>assistant\n": what the model continues from.
  std::vector<int32_t> GenerationPrompt() const { return Header("assistant"); }
  // The token that ends an assistant turn (the stop token for sampling).
  int32_t end_of_turn() const { return im_end_; }

 private:
  ChatTemplate(const Tokenizer* tokenizer, int32_t im_start, int32_t im_end, int32_t newline)
      : tokenizer_(tokenizer), im_start_(im_start), im_end_(im_end), newline_(newline) {}
  const Tokenizer* tokenizer_;
  int32_t im_start_, im_end_, newline_;
};

}  // namespace skillsd::model

#endif  // SKILLSD_MODEL_CHAT_H_
