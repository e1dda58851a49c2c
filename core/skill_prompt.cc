#include "core/skill_prompt.h"

#include <algorithm>

#include "absl/strings/str_join.h"
#include "absl/strings/str_split.h"

namespace skillsd {

std::string WorkflowText(const std::vector<std::string>& moves) { return absl::StrJoin(moves, ", "); }

std::vector<std::string> WorkflowMoves(const skillsd::v1::SkillContent& skill) {
  return absl::StrSplit(skill.golden_workflow(), ", ", absl::SkipEmpty());
}

namespace {

bool Follows(const std::vector<std::string>& workflow, const std::vector<std::string>& moves_so_far) {
  if (moves_so_far.size() > workflow.size()) return false;
  return std::equal(moves_so_far.begin(), moves_so_far.end(), workflow.begin());
}

}  // namespace

std::optional<std::string> WorkflowNextMove(const skillsd::v1::SkillContent& skill,
                                            const std::vector<std::string>& moves_so_far) {
  const std::vector<std::string> workflow = WorkflowMoves(skill);
  if (moves_so_far.size() >= workflow.size() || !Follows(workflow, moves_so_far)) return std::nullopt;
  return workflow[moves_so_far.size()];
}

bool WorkflowApplies(const skillsd::v1::SkillContent& skill, const std::vector<std::string>& moves_so_far) {
  return WorkflowNextMove(skill, moves_so_far).has_value();
}

skillsd::v1::SkillContent SkillForTurn(const skillsd::v1::SkillContent& skill,
                                       const std::vector<std::string>& moves_so_far, WorkflowView view) {
  skillsd::v1::SkillContent out = skill;
  if (view == WorkflowView::kFull || moves_so_far.empty()) return out;
  const std::vector<std::string> workflow = WorkflowMoves(skill);
  if (Follows(workflow, moves_so_far)) {
    const std::vector<std::string> rest(workflow.begin() + static_cast<long>(moves_so_far.size()), workflow.end());
    out.set_golden_workflow(rest.empty() ? "done" : WorkflowText(rest));
  } else {
    out.set_golden_workflow("from the start: " + skill.golden_workflow());
  }
  return out;
}

std::string RenderSkill(const std::string& skill_template, const skillsd::v1::SkillContent& skill) {
  std::string text = skill_template;
  const std::pair<const char*, const std::string*> fields[] = {{"{success_analysis}", &skill.success_analysis()},
                                                               {"{mistake_analysis}", &skill.mistake_analysis()},
                                                               {"{golden_workflow}", &skill.golden_workflow()}};
  for (const auto& [key, value] : fields) {
    for (size_t at = text.find(key); at != std::string::npos; at = text.find(key, at + value->size())) {
      text.replace(at, std::string(key).size(), *value);
    }
  }
  return "\n\n" + text;
}

}  // namespace skillsd
