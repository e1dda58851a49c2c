#include "core/skill_prompt.h"

#include "gmock/gmock.h"
#include "gtest/gtest.h"

namespace skillsd {
namespace {

skillsd::v1::SkillContent Workflow(const std::string& moves) {
  skillsd::v1::SkillContent skill;
  skill.set_golden_workflow(moves);
  return skill;
}

TEST(SkillPromptTest, WorkflowAppliesWhileTheMovesFollowItAndMovesAreLeft) {
  const skillsd::v1::SkillContent skill = Workflow("Up, Left, Left");
  EXPECT_EQ(WorkflowNextMove(skill, {}), "Up");
  EXPECT_EQ(WorkflowNextMove(skill, {"Up", "Left"}), "Left");
  EXPECT_FALSE(WorkflowNextMove(skill, {"Up", "Left", "Left"}).has_value());  // done
  EXPECT_FALSE(WorkflowNextMove(skill, {"Down"}).has_value());                // left it
  EXPECT_FALSE(WorkflowNextMove(skill, {"Up", "Left", "Left", "Up"}).has_value());
  EXPECT_TRUE(WorkflowApplies(skill, {"Up"}));
  EXPECT_FALSE(WorkflowApplies(Workflow(""), {}));
}

TEST(SkillPromptTest, TheRemainingViewShowsWhatIsLeftOrTheWholeWorkflowMarked) {
  const skillsd::v1::SkillContent skill = Workflow("Up, Left, Left");
  EXPECT_EQ(SkillForTurn(skill, {}, WorkflowView::kRemaining).golden_workflow(), "Up, Left, Left");
  EXPECT_EQ(SkillForTurn(skill, {"Up"}, WorkflowView::kRemaining).golden_workflow(), "Left, Left");
  EXPECT_EQ(SkillForTurn(skill, {"Up", "Left", "Left"}, WorkflowView::kRemaining).golden_workflow(), "done");
  EXPECT_EQ(SkillForTurn(skill, {"Down"}, WorkflowView::kRemaining).golden_workflow(),
            "from the start: Up, Left, Left");
  EXPECT_EQ(SkillForTurn(skill, {"Down"}, WorkflowView::kFull).golden_workflow(), "Up, Left, Left");
  EXPECT_EQ(RenderSkill("Do {golden_workflow}.", skill), "\n\nDo Up, Left, Left.");
}

}  // namespace
}  // namespace skillsd
