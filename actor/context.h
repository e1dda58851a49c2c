// Token-exact model inputs for multi-turn episodes (shared by the actor, the SFT warm start and evaluation):
// ChatML segments — the system prompt, the user turn (an observation), a SKILL_SLOT at the end of the first user
// message where the teacher's skill text goes, and the generation prompt. With a history window of k turns
// (k = 0: full history) a turn's input holds the last k observations and the answers between them; generated
// tokens are reused as sampled, never re-tokenized.
#ifndef SKILLSD_ACTOR_CONTEXT_H_
#define SKILLSD_ACTOR_CONTEXT_H_

#include <cstdint>
#include <string>
#include <vector>

#include "model/chat.h"
#include "skillsd/v1/common.pb.h"

namespace skillsd::actor {

// One past turn: what the env showed and what the model answered (its tokens, <|im_end|> included).
struct Turn {
  std::string observation;
  std::vector<int32_t> answer_tokens;
};

// Builds the input for the next answer: [system, (user, assistant)* for the window, user(observation)] then the
// generation prompt. The first user message of the window ends with a SKILL_SLOT segment that holds
// `skill_tokens` (empty for the student). Returns PROMPT / SKILL_SLOT / GENERATED / OBSERVATION segments.
std::vector<skillsd::v1::TokenSegment> BuildContext(const model::ChatTemplate& chat, const std::string& system_prompt,
                                                    const std::vector<Turn>& history, const std::string& observation,
                                                    int history_turns, const std::vector<int32_t>& skill_tokens);

// All token ids of `segments`, in order.
std::vector<int32_t> Flatten(const std::vector<skillsd::v1::TokenSegment>& segments);

}  // namespace skillsd::actor

#endif  // SKILLSD_ACTOR_CONTEXT_H_
