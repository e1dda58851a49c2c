#include "core/token_sequence.h"

#include "absl/strings/str_cat.h"

namespace skillsd {

absl::Status ValidateTokenSequence(const skillsd::v1::TokenSequence& sequence, int64_t vocab_size,
                                   absl::string_view where) {
  bool generated = false;
  for (int g = 0; g < sequence.segments_size(); ++g) {
    const skillsd::v1::TokenSegment& segment = sequence.segments(g);
    auto bad = [&](absl::string_view why) {
      return absl::InvalidArgumentError(absl::StrCat(where, ".segments[", g, "]: ", why));
    };
    const skillsd::v1::SegmentRole role = segment.role();
    if (role == skillsd::v1::SEGMENT_ROLE_UNSPECIFIED || !skillsd::v1::SegmentRole_IsValid(role)) {
      return bad("role unspecified");
    }
    for (int32_t id : segment.token_ids()) {
      if (id < 0 || id >= vocab_size) {
        return bad(absl::StrCat("token id ", id, " outside the vocabulary [0, ", vocab_size, ")"));
      }
    }
    if (role == skillsd::v1::SEGMENT_ROLE_GENERATED) {
      generated = true;
      continue;
    }
    if (segment.behaviour_logprobs_size() || segment.loss_mask_size() || segment.teacher_logprobs_size()) {
      return bad("only GENERATED segments carry log-probs and masks");
    }
    if (role == skillsd::v1::SEGMENT_ROLE_SKILL_SLOT && segment.token_ids_size() != 0) {
      return bad("SKILL_SLOT segments hold no tokens");
    }
  }
  if (!generated) return absl::InvalidArgumentError(absl::StrCat(where, ": no GENERATED segment"));
  if (sequence.segments(0).role() == skillsd::v1::SEGMENT_ROLE_GENERATED) {
    return absl::InvalidArgumentError(absl::StrCat(where, ": must start with a prompt"));
  }
  return absl::OkStatus();
}

}  // namespace skillsd
