// How a skill becomes prompt text (SPEC §4): the template's {success_analysis}, {mistake_analysis} and
// {golden_workflow} filled in, placed in the SKILL_SLOT at the end of the first user message of a turn's input.
//
// The workflow view. A skill's golden workflow is the move sequence of a whole episode, but with a one-grid
// window a turn shows only the current grid, so neither the teacher nor the student can tell how far along the
// workflow the episode is. With WorkflowView::kRemaining the workflow shown at a turn is what is left of it when
// the moves made so far follow it (the moves so far are known to whoever played the episode), and the whole
// workflow, marked as such, once the episode has left it. That keeps the teacher's log-probs informative (see
// docs/skills.md for the measurement).
#ifndef SKILLSD_CORE_SKILL_PROMPT_H_
#define SKILLSD_CORE_SKILL_PROMPT_H_

#include <optional>
#include <string>
#include <vector>

#include "core/config_enums.h"
#include "skillsd/v1/common.pb.h"

namespace skillsd {

// The workflow of `moves` ("Up", ...) as skill text: "Up, Up, Left".
std::string WorkflowText(const std::vector<std::string>& moves);
// The moves of the skill's golden workflow, in order (the inverse of WorkflowText).
std::vector<std::string> WorkflowMoves(const skillsd::v1::SkillContent& skill);

// True when `moves_so_far` follow the skill's golden workflow and it has moves left: the workflow still says
// what to do next.
bool WorkflowApplies(const skillsd::v1::SkillContent& skill, const std::vector<std::string>& moves_so_far);
// The move the workflow says to make next, when it applies.
std::optional<std::string> WorkflowNextMove(const skillsd::v1::SkillContent& skill,
                                            const std::vector<std::string>& moves_so_far);

// `skill` as shown at a turn after `moves_so_far` (the moves that changed the board, in order).
skillsd::v1::SkillContent SkillForTurn(const skillsd::v1::SkillContent& skill,
                                       const std::vector<std::string>& moves_so_far, WorkflowView view);

// The text that goes into the SKILL_SLOT: two newlines, then the template with the three fields filled in.
std::string RenderSkill(const std::string& skill_template, const skillsd::v1::SkillContent& skill);

}  // namespace skillsd

#endif  // SKILLSD_CORE_SKILL_PROMPT_H_
