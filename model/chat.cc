#include "model/chat.h"

namespace skillsd::model {

absl::StatusOr<ChatTemplate> ChatTemplate::Create(const Tokenizer* tokenizer) {
  const int32_t im_start = tokenizer->TokenId("<|im_start|>");
  const int32_t im_end = tokenizer->TokenId("<|im_end|>");
  const std::vector<int32_t> newline = tokenizer->EncodeOrdinary("\n");
  if (im_start < 0 || im_end < 0) {
    return absl::NotFoundError("the tokenizer has no <|im_start|> / <|im_end|> tokens (needed for ChatML)");
  }
  if (newline.size() != 1) return absl::FailedPreconditionError("the tokenizer does not encode \"\\n\" as one token");
  return ChatTemplate(tokenizer, im_start, im_end, newline[0]);
}

std::vector<int32_t> ChatTemplate::Header(absl::string_view role) const {
  std::vector<int32_t> out = {im_start_};
  const std::vector<int32_t> rest = tokenizer_->EncodeOrdinary(std::string(role) + "\n");
  out.insert(out.end(), rest.begin(), rest.end());
  return out;
}

std::vector<int32_t> ChatTemplate::Message(absl::string_view role, absl::string_view content) const {
  std::vector<int32_t> out = Header(role);
  const std::vector<int32_t> body = Content(content);
  out.insert(out.end(), body.begin(), body.end());
  out.push_back(im_end_);
  out.push_back(newline_);
  return out;
}

}  // namespace skillsd::model
