#include "actor/context.h"

#include <algorithm>

namespace skillsd::actor {
namespace {

void Append(std::vector<skillsd::v1::TokenSegment>* out, skillsd::v1::SegmentRole role,
            const std::vector<int32_t>& tokens) {
  if (tokens.empty() && role != skillsd::v1::SEGMENT_ROLE_SKILL_SLOT) return;
  // Merge with the previous segment of the same role (prompt pieces), except around skill slots.
  if (!out->empty() && out->back().role() == role && role == skillsd::v1::SEGMENT_ROLE_PROMPT) {
    for (int32_t t : tokens) out->back().add_token_ids(t);
    return;
  }
  skillsd::v1::TokenSegment segment;
  segment.set_role(role);
  for (int32_t t : tokens) segment.add_token_ids(t);
  out->push_back(std::move(segment));
}

}  // namespace

std::vector<skillsd::v1::TokenSegment> BuildContext(const model::ChatTemplate& chat, const std::string& system_prompt,
                                                    const std::vector<Turn>& history, const std::string& observation,
                                                    int history_turns, const std::vector<int32_t>& skill_tokens) {
  using skillsd::v1::SEGMENT_ROLE_OBSERVATION;
  using skillsd::v1::SEGMENT_ROLE_PROMPT;
  using skillsd::v1::SEGMENT_ROLE_SKILL_SLOT;
  std::vector<skillsd::v1::TokenSegment> out;
  Append(&out, SEGMENT_ROLE_PROMPT, chat.Message("system", system_prompt));
  // The window: the last (history_turns - 1) past turns, then the current observation.
  const size_t keep =
      history_turns <= 0 ? history.size() : std::min(history.size(), static_cast<size_t>(history_turns - 1));
  bool first_user = true;
  auto user = [&](const std::string& text) {
    Append(&out, SEGMENT_ROLE_PROMPT, chat.Header("user"));
    Append(&out, first_user ? SEGMENT_ROLE_PROMPT : SEGMENT_ROLE_OBSERVATION, chat.Content(text));
    if (first_user) Append(&out, SEGMENT_ROLE_SKILL_SLOT, skill_tokens);
    Append(&out, SEGMENT_ROLE_PROMPT, chat.Footer());
    first_user = false;
  };
  for (size_t i = history.size() - keep; i < history.size(); ++i) {
    user(history[i].observation);
    Append(&out, SEGMENT_ROLE_PROMPT, chat.GenerationPrompt());
    // Earlier answers are context here (each turn of a windowed trajectory is its own sequence; only the answer
    // to this input carries loss).
    Append(&out, SEGMENT_ROLE_PROMPT, history[i].answer_tokens);
    Append(&out, SEGMENT_ROLE_PROMPT, {chat.Footer().back()});  // the newline after <|im_end|>
  }
  user(observation);
  Append(&out, SEGMENT_ROLE_PROMPT, chat.GenerationPrompt());
  return out;
}

std::vector<int32_t> Flatten(const std::vector<skillsd::v1::TokenSegment>& segments) {
  std::vector<int32_t> out;
  for (const auto& s : segments) out.insert(out.end(), s.token_ids().begin(), s.token_ids().end());
  return out;
}

}  // namespace skillsd::actor
