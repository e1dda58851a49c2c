// The structure every model input obeys (proto/skillsd/v1/common.proto), checked in one place for the learner
// (submitted groups) and the teacher (score requests).
#ifndef SKILLSD_CORE_TOKEN_SEQUENCE_H_
#define SKILLSD_CORE_TOKEN_SEQUENCE_H_

#include <cstdint>

#include "absl/status/status.h"
#include "absl/strings/string_view.h"
#include "skillsd/v1/common.pb.h"

namespace skillsd {

// OK when every segment has a known role, every token id lies in [0, vocab_size), SKILL_SLOT segments hold no
// tokens, only GENERATED segments carry log-probs or a loss mask, there is a GENERATED segment, and the first
// segment is not one (the model needs a context). Otherwise INVALID_ARGUMENT naming "<where>.segments[g]" or
// "<where>". The sizes of a GENERATED segment's log-probs and mask are the caller's to check (they differ before
// and after teacher scoring).
absl::Status ValidateTokenSequence(const skillsd::v1::TokenSequence& sequence, int64_t vocab_size,
                                   absl::string_view where);

}  // namespace skillsd

#endif  // SKILLSD_CORE_TOKEN_SEQUENCE_H_
