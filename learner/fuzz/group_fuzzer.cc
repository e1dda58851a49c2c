// libFuzzer target: the learner's validation of a submitted group (SubmitGroup's request body) and the training
// sequences it turns an accepted group into. Whatever arrives, validation answers OK or INVALID_ARGUMENT, and an
// accepted group becomes sequences whose tokens, masks and log-probs have one entry per token, with ids inside
// the vocabulary and finite advantages and weights — the trainer never sees a malformed sequence.
#include <cmath>
#include <cstddef>
#include <cstdint>
#include <cstdlib>

#include "learner/groups.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  if (size < 1) return 0;
  skillsd::v1::Group group;
  if (!group.ParseFromArray(data + 1, static_cast<int>(size - 1))) return 0;
  skillsd::learner::GroupRequirements req;
  req.vocab_size = 512;
  req.current_version = 3;
  req.needs_teacher = data[0] & 1;
  req.max_trajectories = 16;
  req.max_tokens = 1 << 14;
  const absl::Status status = skillsd::learner::ValidateGroup(group, req);
  if (!status.ok()) {
    if (status.code() != absl::StatusCode::kInvalidArgument) std::abort();
    return 0;
  }
  skillsd::learner::AdvantageOptions options;
  options.balance_trajectories = data[0] & 2;
  for (const auto& s : skillsd::learner::ToTrainingSequences(group, options)) {
    const size_t n = s.tokens.size();
    if (s.loss_mask.size() != n || s.old_logprobs.size() != n) std::abort();
    if (!s.teacher_logprobs.empty() && s.teacher_logprobs.size() != n) std::abort();
    for (int32_t id : s.tokens) {
      if (id < 0 || id >= req.vocab_size) std::abort();
    }
    if (!std::isfinite(s.advantage) || !std::isfinite(s.weight) || s.weight < 0) std::abort();
  }
  return 0;
}
