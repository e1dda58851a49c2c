#include "tools/warm_start.h"

#include <set>

#include "absl/strings/str_split.h"
#include "core/skill_prompt.h"
#include "env_workers/env_config.h"
#include "env_workers/sokoban_env.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"

namespace skillsd {
namespace {

// With kVaried, a demonstration that shows a skill follows that skill's own plan: on every turn on the workflow the
// answer is the workflow's next moves, and the plans are optimal solutions that are not always the solver's.
TEST(DemonstrationsTest, VariedSkillDemosAnswerWithTheWorkflowsNextMoves) {
  ExperimentConfig config;
  config.env.train_levels = 12;
  config.teacher.skill_template = "[{golden_workflow}]";
  auto levels = BuildLevelSet(config.env);
  ASSERT_TRUE(levels.ok()) << levels.status();
  auto tok = model::Tokenizer::FromJson(
      model::Tokenizer::TrainBpeJson(SokobanCorpus(config), 400, {"<|endoftext|>", "<|im_start|>", "<|im_end|>"}));
  ASSERT_TRUE(tok.ok());
  auto chat = model::ChatTemplate::Create(tok->get());
  ASSERT_TRUE(chat.ok());
  std::set<std::string> solver_plans;
  for (const sokoban::Level& level : (*levels)->levels(Split::kTrain)) {
    std::vector<std::string> names;
    for (sokoban::Action a : level.optimal_actions) names.emplace_back(sokoban::ActionName(a));
    solver_plans.insert(WorkflowText(names));
  }
  const std::vector<learner::TrainingSequence> demos =
      Demonstrations(config, **tok, *chat, *levels, /*detours=*/1, /*skill_fraction=*/0.5, SkillDemos::kVaried);
  int followed = 0, own_plans = 0;
  for (const learner::TrainingSequence& demo : demos) {
    std::vector<int32_t> prompt, answer;
    for (size_t i = 0; i < demo.tokens.size(); ++i) {
      if (demo.loss_mask[i]) {
        if (demo.tokens[i] != chat->end_of_turn()) answer.push_back(demo.tokens[i]);
      } else {
        prompt.push_back(demo.tokens[i]);
      }
    }
    const std::string text = (*tok)->Decode(prompt);
    const size_t open = text.rfind('['), close = text.rfind(']');
    if (open == std::string::npos || close < open) continue;  // no skill
    const std::string workflow = text.substr(open + 1, close - open - 1);
    if (workflow == "done" || workflow.rfind("from the start", 0) == 0) continue;
    if (solver_plans.count(workflow) == 0 && text.find("Moves left: 40") != std::string::npos) ++own_plans;
    const std::vector<std::string> next = absl::StrSplit(workflow, ", ");
    const sokoban::ParsedAnswer parsed = sokoban::ParseAnswer((*tok)->Decode(answer), 3);
    ASSERT_FALSE(parsed.items.empty());
    for (size_t k = 0; k < parsed.items.size(); ++k) {
      ASSERT_LT(k, next.size());
      EXPECT_EQ(sokoban::ActionName(parsed.items[k].action), next[k]) << text;
    }
    ++followed;
  }
  EXPECT_GT(followed, 10);
  EXPECT_GT(own_plans, 0);  // some skills' plans break ties otherwise than the solver
}

}  // namespace
}  // namespace skillsd
